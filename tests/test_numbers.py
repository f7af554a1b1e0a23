"""Spoken numbers as values (qa_analyser/match/numbers.py)."""

from __future__ import annotations

import pytest

from qa_analyser.match.numbers import number_runs, value_tokens
from qa_analyser.normalize import normalize_text


@pytest.mark.parametrize(
    ("said", "script"),
    [
        ("a hundred and twenty-nine ninety-nine", "£129.99"),
        ("twenty-nine ninety-nine", "£29.99"),
        ("one eight hundred, five five five, oh one four seven", "1-800-555-0147"),
        ("thirty five pounds", "£35"),
        ("thirty five", "£35"),
        ("the fourteenth", "the 14th"),
        ("one thousand two hundred and five", "1205"),
    ],
)
def test_spoken_forms_read_as_the_scripts_value(said: str, script: str) -> None:
    assert value_tokens(normalize_text(said).split()) == value_tokens(normalize_text(script).split())


def test_runs_keep_their_word_spans_and_other_words() -> None:
    words = normalize_text("your payment is due 25 days after the 14th").split()
    runs = number_runs(words)
    assert [r.digits for r in runs] == ["25", "14"]
    assert [words[r.start : r.end] for r in runs] == [["twenty", "five"], ["fourteenth"]]
    assert value_tokens(words) == ["your", "payment", "is", "due", "#25", "days", "after", "the", "#14"]


def test_different_amounts_differ() -> None:
    assert value_tokens("a hundred and nineteen ninety nine".split()) != value_tokens(
        normalize_text("£129.99").split())
