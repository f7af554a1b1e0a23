"""Normalisation: one canonical form for numbers, contractions, fillers and stock phrases."""

from __future__ import annotations

import pytest

from qa_analyser.normalize import normalize_text, normalize_words, number_to_words, stem


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("10%", "ten percent"),
        ("10 per cent", "ten percent"),
        ("£40", "forty pounds"),
        ("$1", "one dollar"),
        ("2", "two"),
        ("14th", "fourteenth"),
        ("1st", "first"),
        ("22nd", "twenty second"),
        ("in 2026", "in twenty twenty six"),
        ("£180", "one hundred and eighty pounds"),
        ("10:30", "ten thirty"),
        ("45217", "four five two one seven"),
        ("I'm", "i am"),
        ("can't", "can not"),
        ("cannot", "can not"),
        ("won't", "will not"),
        ("we'll", "we will"),
        ("it's", "it is"),
        ("you're", "you are"),
        ("Um, hello... uh there", "hello there"),
        ("re-bill", "re bill"),
        ("realize", "realise"),
        ("color", "colour"),
        ("Thanks!", "thank you"),
        ("Have a lovely day.", "have a good day"),
        ("enjoy the rest of your day", "have a good day"),
        ("Just so you know,", "please be aware"),
        ("Goodbye", "bye"),
    ],
)
def test_both_forms_normalise_alike(a: str, b: str) -> None:
    assert normalize_text(a) == normalize_text(b)


def test_canonical_forms() -> None:
    assert normalize_text("Hello, I'm Tom!") == "hello i am tom"
    assert normalize_text("£3.50") == "three pounds and fifty pence"
    assert normalize_text("Brightwater's tariff") == "brightwater tariff"
    assert number_to_words(2005) == ["two", "thousand", "and", "five"]
    assert number_to_words(0) == ["zero"]


def test_numbers_differ_when_values_differ() -> None:
    assert normalize_text("10%") != normalize_text("twenty percent")
    assert normalize_text("£40") != normalize_text("forty dollars")


def test_tokens_keep_their_source_word() -> None:
    toks = normalize_words(["Um,", "I'm", "£40", "short."])
    assert [t.text for t in toks] == ["i", "am", "forty", "pounds", "short"]
    assert [t.source for t in toks] == [1, 1, 2, 2, 3]


def test_clause_boundaries_follow_punctuation_and_turns() -> None:
    toks = normalize_words(["No,", "calm", "down", "please"], boundaries=[3])
    assert [t.clause_start for t in toks] == [True, True, False, True]


def test_phrase_rewrite_keeps_sources() -> None:
    toks = normalize_words(["enjoy", "the", "rest", "of", "your", "day"])
    assert [t.text for t in toks] == ["have", "a", "good", "day"]
    assert toks[0].source == 0 and toks[-1].source in range(6)


def test_stem() -> None:
    assert {stem(w) for w in ("calling", "called", "calls", "call")} == {"call"}
    assert stem("recorded") == stem("recording") == "record"
    assert stem("purposes") == "purpose"
    assert stem("address") == "address"
    assert stem("this") == "this"


def test_empty_and_punctuation_only() -> None:
    assert normalize_words([]) == []
    assert normalize_words(["...", "—", "um"]) == []


@pytest.mark.parametrize(
    ("lang", "a", "b"),
    [
        ("es", "Son 40€ y el 10%", "son cuarenta euros y el diez por ciento"),
        ("es", "¿Hay algo más?", "hay algo mas"),
        ("es", "en 2026, 1.500 € o 3,50", "en dos mil veintiseis mil quinientos euros o tres coma cincuenta"),
        ("es", "eh, veintiún", "veintiun"),
        ("fr", "L'appel est enregistré", "le appel est enregistre"),
        ("fr", "J'ai 71 ans et 80 euros", "je ai soixante et onze ans et quatre vingts euros"),
        ("fr", "euh aujourd'hui 10 %", "aujourdhui dix pour cent"),
        ("fr", "qu'il", "que il"),
    ],
)
def test_spanish_and_french(lang: str, a: str, b: str) -> None:
    assert normalize_text(a, lang) == b


def test_english_is_unchanged_by_language_support() -> None:
    assert normalize_text("I'm 10 % sure") == "i am ten percent sure"
