"""Verification: the signals of every (script line, candidate unit) pair of a call.

A candidate unit is a clause, or a run of neighbouring clauses of one turn (speech.py). For each line
(an item's wordings, a trigger phrase, a prohibited phrase) and each unit of the speech it is judged
on, this module computes:

- ``cos``: meaning, the cosine similarity of the sentence embeddings (the primary signal of "said");
- ``cov``: the weighted share of the line's content words heard in the unit (ASR slips tolerated,
  the agent's name matched by sound);
- ``part_cov``: the smallest such share over the line's parts (split at punctuation and "and"): a
  truncated line misses a part, a paraphrase keeps something of each;
- ``fuzzy``: wording fidelity, ``fuzz.partial_ratio`` of the stemmed texts scaled by the share of the
  line's length the unit could hold;
- ``foreign``: the share of the unit's content words the line does not have (it says something else);
- ``length``: log of the unit's content words over the line's;
- ``question``: the unit asks where the line states;
- ``numbers``: the share of the line's numbers heard as values (numbers.py);
- ``names``: how well the line's names (variable values such as the company) were heard in the unit:
  for the worst-heard name, its best partial alignment with the unit's words (so "mark profarmsy" still
  sounds like "Larkspur Pharmacy", while "Northwind Gas" does not sound like "Brightwater Energy");
- ``position`` (script items, filled in by the analysis): how far the unit's place in the call (0-1) lies
  outside the item's stretch of the script (its share of the script's items),
  since scripts run in call order: the greeting opens, the farewell closes;
- ``answered`` (triggers only, filled in by the decision): how surely the agent then said the
  conditional item's line, since an agent's response corroborates what the customer said.

The combiner (combiner.py) turns them into probabilities; nothing here decides.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from ..normalize import normalize_text, normalize_words
from .align import Wording, content_share, presence
from .numbers import number_runs
from .speech import STOPWORDS, STOPWORDS_BY_LANGUAGE, Speech

__all__ = ["FEATURES", "LineSignals", "Encoder", "line_signals", "split_parts"]

# the order of the columns of LineSignals.values
FEATURES = ("cos", "cov", "part_cov", "fuzzy", "foreign", "length", "question", "numbers", "answered", "names",
            "position")
COL = {name: i for i, name in enumerate(FEATURES)}

Encoder = Callable[[Sequence[str]], "np.ndarray | None"]

_PART_SPLIT = re.compile(r"[,;:]|\s-\s|\band\b|\bthen\b|\bplus\b")
_PART_MIN_WORDS = 2  # a part needs this many content words, else it joins its neighbour


@dataclass
class LineSignals:
    """Signals of one line against every unit of one speech."""

    units: list[tuple[int, int]]  # token spans of the speech
    values: np.ndarray  # [n_units, len(FEATURES)], for the wording closest in meaning per unit
    wording: np.ndarray  # [n_units]: index into `wordings` of that wording
    wordings: list[Wording]


def split_parts(text: str) -> list[str]:
    """The parts of a line whose meaning a reader would miss if dropped: split at , ; : and "and"/"then"."""
    pieces = [p.strip() for p in _PART_SPLIT.split(text) if p and p.strip()]
    parts: list[str] = []
    for p in pieces:
        if parts and len([w for w in p.split() if w.lower() not in STOPWORDS]) < _PART_MIN_WORDS:
            parts[-1] = f"{parts[-1]} {p}"
        else:
            parts.append(p)
    if len(parts) > 1 and len([w for w in parts[0].split() if w.lower() not in STOPWORDS]) < _PART_MIN_WORDS:
        parts[1] = f"{parts[0]} {parts[1]}"
        parts.pop(0)
    return parts or [text]


class _UnitTable:
    """Per-speech data shared by every line: unit spans, their content words and number values."""

    def __init__(self, speech: Speech) -> None:
        self.speech = speech
        self.units = speech.units()
        self.starts = np.array([a for a, _ in self.units], dtype=np.int64)
        self.ends = np.array([b for _, b in self.units], dtype=np.int64)
        stop = STOPWORDS_BY_LANGUAGE.get(speech.language, STOPWORDS)
        keys = speech.keys
        self.content_keys = [[k for k in keys[a:b] if k not in stop] for a, b in self.units]
        self.keys_text = [" ".join(keys[a:b]) for a, b in self.units]
        self.key_chars = np.array([len(t) for t in self.keys_text], dtype=np.float32)
        texts = [t.text for t in speech.tokens]
        self.numbers = [{r.digits for r in number_runs(texts[a:b])} for a, b in self.units]
        self.question = np.array([speech.question[b - 1] for _, b in self.units], dtype=bool)
        self.texts = [speech.text(a, b) for a, b in self.units]


def _share(present: np.ndarray, weights: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    csum = np.concatenate([np.zeros((present.shape[0], 1), dtype=np.int32), np.cumsum(present, axis=1)], axis=1)
    return content_share(csum, weights, starts, ends)


def line_signals(table: _UnitTable, texts: Sequence[str], ws: list[Wording], *, variables: dict[str, str],
                 unit_vectors: np.ndarray | None, encode_lines: Encoder | None,
                 script_words: set[str]) -> LineSignals | None:
    """Signals of a line (its raw `texts` and their prepared wordings `ws`, align.wordings) against
    every unit of `table`'s speech."""
    speech = table.speech
    if not ws or not table.units:
        return None
    n_units, n_w = len(table.units), len(ws)
    values = np.zeros((n_w, n_units, len(FEATURES)), dtype=np.float32)
    stop = STOPWORDS_BY_LANGUAGE.get(speech.language, STOPWORDS)
    for j, w in enumerate(ws):
        keys = [k for k, _ in w.content]
        weights = np.array([wt for _, wt in w.content], dtype=np.float32)
        present = presence(speech, keys, by_sound=w.name_keys)
        values[j, :, COL["cov"]] = _share(present, weights, table.starts, table.ends) if keys else 1.0
        # parts: the smallest share of any part's content words
        part_cov = np.ones(n_units, dtype=np.float32)
        for part in split_parts(texts[w.index]):
            pkeys = {t.key for t in normalize_words(part.split(), language=speech.language)} - stop
            idx = [i for i, k in enumerate(keys) if k in pkeys]
            if idx:
                part_cov = np.minimum(part_cov, _share(present[idx], weights[idx], table.starts, table.ends))
        values[j, :, COL["part_cov"]] = part_cov
        # wording fidelity: the best partial alignment, scaled by how much of the line the unit could
        # hold (a two-word unit inside a long line aligns perfectly but says little of it)
        query = " ".join(w.keys)
        aligned = process.cdist([query], table.keys_text, scorer=fuzz.partial_ratio, dtype=np.float32,
                                workers=1)[0] / 100.0
        room = np.minimum(1.0, table.key_chars / max(1, len(query)))
        values[j, :, COL["fuzzy"]] = aligned * room
        own = set(w.keys) | script_words
        n_line = len(keys)
        for u, ck in enumerate(table.content_keys):
            values[j, u, COL["foreign"]] = sum(1 for k in ck if k not in own) / len(ck) if ck else 0.0
            values[j, u, COL["length"]] = np.log((len(ck) + 1) / (n_line + 1))
        line_names = [v for name, v in variables.items() if any(
            f"{{{name}}}" in t for t in texts[w.index : w.index + 1])]
        if line_names:
            heard = np.ones(n_units, dtype=np.float32)
            for value in line_names:
                said = normalize_text(value, speech.language)
                heard = np.minimum(heard, process.cdist([said], table.texts, scorer=fuzz.partial_ratio,
                                                        dtype=np.float32, workers=1)[0] / 100.0)
            values[j, :, COL["names"]] = heard
        else:
            values[j, :, COL["names"]] = 1.0
        line_numbers = {r.digits for r in number_runs(list(w.texts))}
        if line_numbers:
            values[j, :, COL["numbers"]] = [
                sum(1 for d in line_numbers if any(d in said for said in got)) / len(line_numbers)
                for got in table.numbers]
        else:
            values[j, :, COL["numbers"]] = 1.0
        values[j, :, COL["question"]] = table.question & (not w.question)
    if unit_vectors is not None and encode_lines is not None:
        wv = encode_lines([" ".join(w.texts) for w in ws])
        if wv is not None:
            values[:, :, COL["cos"]] = (unit_vectors @ wv.T).T
    # per unit, the wording closest in meaning (or in wording, without embeddings)
    rank = values[:, :, COL["cos"]] if unit_vectors is not None else values[:, :, COL["fuzzy"]]
    best = np.argmax(rank, axis=0)
    return LineSignals(table.units, values[best, np.arange(n_units)], best, ws)
