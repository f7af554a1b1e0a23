"""Fuzzy word alignment of a script wording with speech: the wording-fidelity signal.

Each wording (variables filled, {agent_name} expanded per candidate name) is compared with every
window of roughly its length (``fuzz.ratio`` on stems, so an ASR slip such as "bank" → "thank" costs a
little, not a word), plus an order-free keyword-coverage signal. Used for role assignment
(roles.py), for the fuzzy features of candidate units and for evidence spans.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from ..normalize import normalize_words
from .speech import NEGATORS_BY_LANGUAGE, STOPWORDS, STOPWORDS_BY_LANGUAGE, Speech

log = logging.getLogger("qa_analyser")

# Variable values and the agent's name matter more for coverage than ordinary words.
_VARIABLE_WEIGHT = 2.0
NAME_SLOT = "qaagentnameslot"  # survives normalisation as one token
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_COVERAGE_MIN_CONTENT = 3  # shorter wordings have too few words for an order-free match
_COVERAGE_SLACK = 3  # region = wording length + this many tokens
_KEY_SIMILARITY = 80  # two stems of 5+ letters count as the same word (an ASR slip) at this fuzz.ratio
_CONTENT_GUARD = 0.5  # alignment windows with a smaller share of the content words are scaled down


@dataclass(frozen=True)
class Wording:
    index: int  # 0 = the item's text, 1.. = alternatives
    keys: tuple[str, ...]
    content: tuple[tuple[str, float], ...]  # (stem, weight) for keyword coverage
    name_keys: tuple[str, ...] = ()  # the agent name's stems when the wording has {agent_name}
    slot_dropped_at_end: bool = False  # {agent_name} ended the wording and no name was put in
    texts: tuple[str, ...] = ()  # the normalised words (what a verbatim diff compares and what is embedded)
    question: bool = False  # the wording asks a question (ends with "?")
    negated: bool = False  # the wording itself holds a negator


@dataclass(frozen=True)
class Match:
    """A scored window of speech: tokens [start, end) of a Speech."""

    score: float  # the fuzzy alignment or keyword-coverage score (0-1)
    start: int
    end: int
    method: str  # "alignment" | "coverage"
    wording: int = 0
    texts: tuple[str, ...] = ()  # the wording's normalised words, as compared


def _substitute(text: str, variables: dict[str, str], language: str = "en") -> tuple[str, set[str]]:
    """Fill {placeholders}; {agent_name} becomes a slot token. Returns text and variable words."""
    var_words: set[str] = set()

    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "agent_name":
            return f" {NAME_SLOT} "
        if name in variables:
            value = variables[name]
            var_words.update(t.key for t in normalize_words(value.split(), language=language))
            return value
        log.warning("script placeholder {%s} has no value; ignored", name)
        return " "

    return _PLACEHOLDER.sub(fill, text), var_words


def wordings(texts: Sequence[str], variables: dict[str, str], names: Sequence[tuple[str, ...]],
              language: str = "en") -> list[Wording]:
    """Normalised wordings; a {agent_name} slot is expanded once per candidate name (or dropped)."""
    out: list[Wording] = []
    stopwords = STOPWORDS_BY_LANGUAGE.get(language, STOPWORDS)
    negators = NEGATORS_BY_LANGUAGE.get(language, NEGATORS_BY_LANGUAGE["en"])
    for index, text in enumerate(texts):
        filled, var_words = _substitute(text, variables, language)
        toks = normalize_words(filled.split(), language=language)
        keys = [t.key for t in toks]
        options = names if NAME_SLOT in keys else [()]
        for name in options:
            expanded: list[str] = []
            words: list[str] = []
            for tok in toks:
                expanded.extend(name if tok.key == NAME_SLOT else [tok.key])
                words.extend(name if tok.key == NAME_SLOT else [tok.text])
            if not expanded:
                continue
            content: dict[str, float] = {}
            for k in expanded:
                if k in name or k in var_words:
                    content[k] = _VARIABLE_WEIGHT
                elif k not in stopwords:
                    content.setdefault(k, 1.0)
            dropped_at_end = not name and bool(keys) and keys[-1] == NAME_SLOT
            out.append(Wording(index, tuple(expanded), tuple(content.items()), tuple(name), dropped_at_end,
                                tuple(words), text.rstrip().endswith("?"),
                                any(k in negators for k in expanded)))
    return out


def _length_range(m: int) -> range:
    # truncations down to half the wording still count (partial), a few inserted words too
    return range(max(1, m // 2), m + max(2, m // 3) + 1)


_SOUND_RULES = (("ph", "f"), ("th", "t"), ("ck", "k"), ("gh", "g"), ("wh", "w"), ("kn", "n"), ("h", ""))


def _sound_key(word: str) -> str:
    """A rough phonetic key: digraphs spoken as one sound folded, silent h dropped, doubles collapsed."""
    key = word[0] + "".join(word[1:]) if word else word
    for a, b in _SOUND_RULES:
        key = key[0] + key[1:].replace(a, b) if key else key
    return re.sub(r"(.)\1+", r"\1", key)


def sounds_like(a: str, b: str) -> bool:
    """Two names heard alike: the same first letter and at most one sound off ("ben" / "beth"), two for
    names longer than five letters."""
    if a == b:
        return True
    if min(len(a), len(b)) < 2 or a[0] != b[0]:
        return False
    return Levenshtein.distance(_sound_key(a), _sound_key(b)) <= (1 if max(len(a), len(b)) <= 5 else 2)


def presence(speech: Speech, keys: Sequence[str], *, by_sound: Sequence[str] = ()) -> np.ndarray:
    """Boolean matrix [len(keys), n_tokens]: the token is that word (exactly, or a close ASR slip);
    keys in `by_sound` (the agent's name) also count when the token sounds like them."""
    speech_keys = speech.keys
    if not speech_keys or not keys:
        return np.zeros((len(keys), len(speech_keys)), dtype=bool)
    uniq = sorted(set(speech_keys))
    sim = process.cdist(list(keys), uniq, scorer=fuzz.ratio, dtype=np.float32, workers=1)
    long_enough = np.array([len(k) >= 5 for k in keys])[:, None] & np.array([len(u) >= 5 for u in uniq])[None, :]
    same = np.array([[k == u or (k in by_sound and sounds_like(k, u)) for u in uniq] for k in keys])
    same |= (sim >= _KEY_SIMILARITY) & long_enough
    col = {u: i for i, u in enumerate(uniq)}
    return same[:, [col[k] for k in speech_keys]]


def content_presence(speech: Speech, wording: Wording) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative presence [n_content, n_tokens + 1], content weights and presence of a wording's words."""
    keys = [k for k, _ in wording.content]
    weights = np.array([w for _, w in wording.content], dtype=np.float32)
    present = presence(speech, keys, by_sound=wording.name_keys)
    csum = np.concatenate([np.zeros((len(keys), 1), dtype=np.int32), np.cumsum(present, axis=1)], axis=1)
    return csum, weights, present


def content_share(csum: np.ndarray, weights: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Weighted share of content words heard in each [start, end) (csum: cumulative presence)."""
    if not len(weights):
        return np.ones(len(starts), dtype=np.float32)
    heard = (csum[:, ends] - csum[:, starts]) > 0
    return weights @ heard / weights.sum()


def _alignment_matches(speech: Speech, wording: Wording, floor: float, csum: np.ndarray,
                       weights: np.ndarray) -> list[Match]:
    """Every window whose score against the wording is at least `floor` (0-1), plus the best one.

    Score = fuzz.ratio of the joined stems, scaled down when the window holds less than half of the
    wording's content words (weighted): sharing "help you with" is not saying "anything else".
    """
    query = " ".join(wording.keys)
    n = len(speech.tokens)
    found: list[Match] = []
    best: Match | None = None
    for length in _length_range(len(wording.keys)):
        if length > n:
            break
        scores = process.cdist([query], speech.windows(length), scorer=fuzz.ratio, dtype=np.float32, workers=1)[0]
        scores /= 100.0
        starts = np.arange(len(scores))
        # a wording is said within one turn: windows running into the next turn do not count
        scores[starts + length > speech.turn_end[: len(scores)]] = 0.0
        share = content_share(csum, weights, starts, starts + length)
        scores = np.where(share < _CONTENT_GUARD, scores * (_CONTENT_GUARD + share), scores)
        top = int(np.argmax(scores))
        if best is None or scores[top] > best.score:
            best = Match(float(scores[top]), top, top + length, "alignment", wording.index)
        for s in np.flatnonzero(scores >= floor):
            found.append(Match(float(scores[s]), int(s), int(s) + length, "alignment", wording.index))
    if best is not None and not found:
        found.append(best)
    if wording.slot_dropped_at_end:
        # the name was not known: show the word said in its place in the evidence
        found = [Match(m.score, m.start, min(m.end + 1, int(speech.turn_end[m.start])), m.method, m.wording)
                 for m in found]
    return found


def _coverage_matches(speech: Speech, wording: Wording, floor: float, present: np.ndarray, csum: np.ndarray,
                      weights: np.ndarray) -> list[Match]:
    """Regions where the weighted share of the wording's content words heard is at least `floor`."""
    if len(wording.content) < _COVERAGE_MIN_CONTENT or not speech.tokens:
        return []
    n = present.shape[1]
    region = len(wording.keys) + _COVERAGE_SLACK
    starts = np.arange(n)
    ends = np.minimum(starts + region, speech.turn_end)  # a region stays within one turn
    cover = content_share(csum, weights, starts, ends)
    own = set(wording.keys)
    out: list[Match] = []
    for s in np.flatnonzero(cover >= floor):
        cols = np.flatnonzero(present[:, s : ends[s]].any(axis=0))
        # trim the region to the words that matched, then take back the wording's function words
        # around them ("is there" ... "you with"), so the span is what was said for this item
        a, b = int(s + cols[0]), int(s + cols[-1] + 1)
        while a > speech.turn_start[s] and b - a < region and speech.tokens[a - 1].key in own:
            a -= 1
        while b < speech.turn_end[s] and b - a < region and speech.tokens[b].key in own:
            b += 1
        out.append(Match(float(cover[s]), a, b, "coverage", wording.index))
    return out


def best_match(speech: Speech, texts: Sequence[str], *, variables: dict[str, str] | None = None,
               names: Sequence[tuple[str, ...]] = ((),), floor: float = 1.0, coverage: bool = True) -> list[Match]:
    """Candidate matches of any of `texts` in `speech`, best first (always includes the best one)."""
    found: list[Match] = []
    if not speech.tokens:
        return found
    for wording in wordings(texts, variables or {}, names, speech.language):
        csum, weights, present = content_presence(speech, wording)
        here = _alignment_matches(speech, wording, floor, csum, weights)
        if coverage:
            here += _coverage_matches(speech, wording, floor, present, csum, weights)
        found.extend(replace(m, texts=wording.texts) for m in here)
    # ties: the earlier, then the longer window (more of what was said)
    found.sort(key=lambda m: (-m.score, m.start, -(m.end - m.start)))
    return found

