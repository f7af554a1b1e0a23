"""Match a call's transcript against a script: pure, (Transcript, Script) → list[ItemResult].

One module per concern (docs/matching.md has the method and the measured figures):

- ``speech``: the words of one speaker, normalised, and the candidate units (clauses and runs of
  neighbouring clauses of a turn);
- ``align``: fuzzy word alignment (wording fidelity, roles, evidence);
- ``numbers``: spoken numbers as values;
- ``features``: the signals of every (line, unit) pair — meaning (sentence embeddings), content
  coverage, part coverage, fuzzy fidelity, foreign content, length, question, numbers;
- ``combiner``: logistic models learned from labelled calls turn the signals into decisions;
- ``negation``: negation and condition scope from the dependency parse;
- ``diff``: the word-level diff of verbatim items;
- ``flags``: late, out_of_order, low_confidence;
- ``policy``: who is the agent (roles), recovery of diarization errors.

``analyse_call`` computes the evidence (the costly part: embeddings, parses); ``decide`` turns it
into verdicts with a combiner (cheap, so that a combiner can be fitted and validated on stored
evidence); ``match_call`` does both. Models are keyword-only strategies: ``encoder`` (texts →
L2-normalised vectors), ``encode_lines`` (the same, cached for script lines), ``parser`` (words →
dependency parse) and ``combiner``.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from rapidfuzz import fuzz

from .. import embed
from ..datatypes import Item, ItemResult, MatchOptions, ProhibitedRule, Script, Transcript, WordingDiff
from ..normalize import normalize_words
from .align import Match, best_match, sounds_like, wordings
from .combiner import Combiner, LogisticModel, load_combiner
from .diff import describe_diff, verbatim_diff, wording_diff
from .features import COL, Encoder, LineSignals, _UnitTable, line_signals
from .flags import flag_low_confidence, flag_order
from .negation import (Parser, line_negation_count, negated_after, negated_before, negators_in_words, quoted,
                       spacy_parser)
from .speech import MONO_DETAIL, NEGATORS_BY_LANGUAGE, Speech, prepare_speech

__all__ = [
    "MATCHER_VERSION",
    "MONO_DETAIL",
    "CallEvidence",
    "Match",
    "Speech",
    "analyse_call",
    "best_match",
    "decide",
    "match_call",
    "prepare_speech",
    "resolved_options",
    "wording_diff",
]

log = logging.getLogger("qa_analyser")

# The method's name; the recorded fingerprint (fingerprint.py) is what tells results apart.
MATCHER_VERSION = "meaning-1"

_CLAIM_OVERLAP = 0.5  # a unit may share at most this share of its words with a better item's claim
_CLAIM_FLOOR_LOGIT = -3.0  # units below these log-odds (p 0.05) never claim
_NEGATION_CHECK = 0.45  # units whose meaning or wording is this close get their negation read
_PHRASE_MIN_CONTENT = 2  # a unit needs this many content words to say a trigger or prohibited phrase
TOO_SHORT = "too short to say it"
_NAME_HEARD = 0.5  # a script name whose best alignment with the unit is below this was not said
_POSITION_SLACK = 0.0  # share of the call an item may stray from its place in the script without cost
_APPROVED_P = 0.9  # an approved line said this surely sets its words aside from prohibited lines
_LITERAL = 0.95  # wording fidelity at which a prohibited phrase counts as said word for word
_ALIGNED = 0.6  # wording fidelity above which a line's own words (not its whole clause) are its evidence

ASKED = "asked as a question where the line states it"
APPROVED = "the agent's approved line"
_MODALS = frozenset({"can", "could", "would", "will", "may", "shall", "do", "please"})
_PERSONS = frozenset({"you", "i", "we"})


@dataclass
class ItemEvidence:
    item: Item
    speaker: str | None  # the speech the item is judged on
    signals: LineSignals | None
    negated: dict[int, str] = field(default_factory=dict)  # unit → negator, where the polarity is flipped
    triggers: list[tuple[str, LineSignals]] = field(default_factory=list)  # conditional items
    trigger_negated: dict[tuple[int, int], str] = field(default_factory=dict)  # (phrase, unit) → negator


@dataclass
class RuleEvidence:
    rule: ProhibitedRule
    speaker: str | None
    phrases: list[tuple[str, LineSignals]]
    excluded: dict[tuple[int, int], str] = field(default_factory=dict)  # (phrase, unit) → why it does not count


@dataclass
class CallEvidence:
    """Everything `decide` needs: the speeches, and the signals of every line against every unit."""

    transcript: Transcript
    script: Script
    mono: bool
    language: str
    agent_name: str | None
    known_name: tuple[str, ...]
    semantic: bool
    speeches: dict[str | None, Speech]
    items: list[ItemEvidence]
    rules: list[RuleEvidence]


def _language(script: Script) -> str:
    return (script.language or "en").lower().split("-")[0]


class _Negation:
    """Negation of a unit relative to a line, with parses cached per turn (and per line, across calls)."""

    def __init__(self, parser: Parser | None, language: str) -> None:
        self.parser = parser if language == "en" else None
        self.units: dict[tuple[int, int, int], tuple] = {}

    def flipped(self, speech: Speech, unit: tuple[int, int], line_text: str, line_keys: Sequence[str],
                fuzzy: float, *, both_ways: bool = False, line_polarity: bool = True) -> str | None:
        """The negator when the unit says the opposite of the line (one of them negated), else None.
        Without `line_polarity` the line counts as affirmative (a set of phrases of mixed polarity)."""
        a, b = unit
        region = _aligned_region(speech, a, b, line_keys) if fuzzy >= 0.8 else (a, b)
        if self.parser is not None:
            # one parse per turn, shared by every unit and line within it: the unit is read in context
            ts, te = int(speech.turn_start[a]), int(speech.turn_end[a])
            key = (id(speech), ts, te)
            if key not in self.units:
                sources = sorted({speech.tokens[i].source for i in range(ts, te)})
                self.units[key] = (self.parser([speech.words[s].text for s in sources]),
                                   {s: n for n, s in enumerate(sources)})
            parse, pos = self.units[key]
            words = sorted({pos[speech.tokens[i].source] for i in range(*region)})
            found = negators_in_words(parse, words)  # type: ignore[arg-type]
        else:
            negators = NEGATORS_BY_LANGUAGE.get(speech.language, NEGATORS_BY_LANGUAGE["en"])
            line_words = {t.text for t in normalize_words(line_text.split(), language=speech.language)}
            negator = (negated_before(speech, region[0])
                       or next((t.text for t in speech.tokens[region[0]:region[1]]
                                if t.text in negators and t.text not in line_words), None)
                       or negated_after(speech, region[1], int(speech.turn_end[a])))
            found = [negator] if negator else []
        # An inserted negation flips the meaning. A script line that holds a negation of its own ("we
        # will never ask for your PIN") is judged on its words, since most of its units hold only part
        # of it; a short phrase (a trigger, a prohibited line) is checked both ways: "it is working"
        # does not say "not working since".
        line_negations = line_negation_count(self.parser, line_text) if self.parser is not None and line_polarity else 0
        if found and not line_negations and not _slip(speech, a, b, line_text, found[0]):
            return found[0]
        if both_ways and line_negations and len(found) % 2 != line_negations % 2:
            return "+".join(found) if found else "the line's negation was not said"
        return None


def _request(speech: Speech, a: int) -> bool:
    """A question that asks the listener to do something ("could you confirm ...", "may I have ...")
    states the line as much as an imperative does; "is this call recorded?" asks about it instead."""
    head = [t.text for t in speech.tokens[a : a + 3]]
    return any(w in _MODALS and nxt in _PERSONS for w, nxt in zip(head, head[1:]))


def _slip(speech: Speech, a: int, b: int, line_text: str, negator: str) -> bool:
    """The negator stands word for word in place of one of the line's words: a recognition slip
    ("non-refundable" heard as "not refundable"), not an inserted negation."""
    said = [t.text for t in speech.tokens[a:b]]
    line = [t.text for t in normalize_words(line_text.split(), language=speech.language)]
    sm = difflib.SequenceMatcher(None, line, said, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "replace" and i2 - i1 == j2 - j1 and any(w == negator or w in NEGATORS_BY_LANGUAGE.get(
                speech.language, ()) for w in said[j1:j2]):
            return True
    return False


def _aligned_region(speech: Speech, a: int, b: int, keys: Sequence[str]) -> tuple[int, int]:
    """The window of tokens [a, b) closest in wording to `keys` (for the scope of a negation)."""
    query = " ".join(keys)
    n = len(keys)
    best, region = -1.0, (a, b)
    for length in range(max(1, n - 2), n + 3):
        for s in range(a, max(a, b - length) + 1):
            e = min(b, s + length)
            score = fuzz.ratio(query, " ".join(speech.keys[s:e]))
            if score > best:
                best, region = score, (s, e)
    return region


def analyse_call(transcript: Transcript, script: Script, *, agent_name: str | None = None,
                 encoder: Encoder | None = embed.encode, encode_lines: Encoder | None = embed.encode_cached,
                 parser: Parser | None | str = "default") -> CallEvidence:
    """The evidence of a call: every script line's signals against the units of the speech it is
    judged on, and the negation of the units close enough to matter."""
    mono = not transcript.has_speakers
    language = _language(script)
    if parser == "default":
        parser = spacy_parser() if language == "en" else None
    speeches: dict[str | None, Speech] = {}
    tables: dict[str | None, _UnitTable] = {}

    def key_of(speaker: str) -> str | None:
        return None if mono or speaker == "any" else speaker

    def table_of(speaker: str) -> _UnitTable:
        key = key_of(speaker)
        if key not in tables:
            speeches[key] = prepare_speech(transcript, key, language)
            tables[key] = _UnitTable(speeches[key])
        return tables[key]

    # which speeches are needed, then all their units embedded in one batch
    needed = {key_of(i.speaker) for i in script.items} | {key_of(r.speaker) for r in script.prohibited}
    if any(i.when_customer_says for i in script.items):
        needed.add(key_of("customer"))
    for key in sorted(needed, key=str):
        table_of("any" if key is None else key)
    vectors: dict[str | None, np.ndarray | None] = {}
    semantic = encoder is not None and encode_lines is not None
    if semantic:
        order = list(tables)
        texts = [t for k in order for t in tables[k].texts]
        got = encoder(texts) if texts else np.zeros((0, 512), dtype=np.float32)  # type: ignore[misc]
        if got is None:
            semantic = False
        else:
            first = 0
            for k in order:
                n = len(tables[k].texts)
                vectors[k] = got[first : first + n]
                first += n
    variables = script.variable_map
    known_name = tuple(t.key for t in normalize_words(agent_name.split(), language=language)) if agent_name else ()
    script_words = {t.key for v in variables.values() for t in normalize_words(v.split(), language=language)}
    script_words |= set(known_name)
    negation = _Negation(parser, language)  # type: ignore[arg-type]
    # each line's wordings (variables filled, the agent's name put in), built once per call
    prepared: dict[tuple[str, ...], list] = {}

    def wordings_of(texts: Sequence[str]) -> list:
        key = tuple(texts)
        if key not in prepared:
            prepared[key] = wordings(texts, variables, [known_name], language)
        return prepared[key]

    if semantic:
        # every script line embedded in one batch (then cached): one encoder call, not one per line
        groups = [i.wordings for i in script.items] + [(p,) for i in script.items for p in i.when_customer_says]
        groups += [(p,) for r in script.prohibited for p in r.phrases]
        encode_lines([" ".join(w.texts) for g in groups for w in wordings_of(g)])  # type: ignore[misc]

    def signals(speaker: str, texts: Sequence[str]) -> LineSignals | None:
        table = table_of(speaker)
        return line_signals(table, texts, wordings_of(texts), variables=variables,
                            unit_vectors=vectors.get(key_of(speaker)) if semantic else None,
                            encode_lines=encode_lines if semantic else None, script_words=script_words)

    def flips(speaker: str, sig: LineSignals | None, line_text_of, *, phrase: bool = False,
              mixed: bool = False) -> dict[int, str]:
        """Units that say the opposite of the line; for a phrase, also units too short to say anything."""
        out: dict[int, str] = {}
        if sig is None:
            return out
        speech = speeches[key_of(speaker)]
        if phrase:
            for u, ck in enumerate(tables[key_of(speaker)].content_keys):
                if len(ck) < _PHRASE_MIN_CONTENT:
                    out[u] = TOO_SHORT
        close = np.flatnonzero(np.maximum(sig.values[:, COL["cos"]], sig.values[:, COL["fuzzy"]]) >= _NEGATION_CHECK)
        for u in close:
            if int(u) in out:
                continue
            w = sig.wordings[int(sig.wording[u])]
            why = negation.flipped(speech, sig.units[u], line_text_of(w), w.keys, float(sig.values[u, COL["fuzzy"]]),
                                   both_ways=phrase and not mixed, line_polarity=not mixed)
            if why:
                out[int(u)] = why
        return out

    items: list[ItemEvidence] = []
    duration = max(transcript.duration_s, max((w.end for s in transcript.segments for w in s.words), default=0.0), 1e-3)
    for index, item in enumerate(script.items):
        sig = signals(item.speaker, item.wordings)
        if sig is not None:
            speech = speeches[key_of(item.speaker)]
            where = np.array([speech.words[speech.tokens[a].source].start for a, _ in sig.units]) / duration
            # the item's share of the script, with slack on either side: only a unit far from where
            # the script puts the item counts against it (a one-item script puts it anywhere)
            centre, reach = (index + 0.5) / len(script.items), 0.5 / len(script.items) + _POSITION_SLACK
            sig.values[:, COL["position"]] = np.maximum(0.0, np.abs(where - centre) - reach)
        ev = ItemEvidence(item, key_of(item.speaker), sig)
        ev.negated = flips(item.speaker, sig, lambda w: " ".join(w.texts))
        if sig is not None and key_of(item.speaker) is None and mono:
            # unattributed speech: a question about a stated line is most likely the customer asking
            speech = speeches[key_of(item.speaker)]
            for u, (a, b) in enumerate(sig.units):
                w = sig.wordings[int(sig.wording[u])]
                if u not in ev.negated and speech.question[b - 1] and not w.question and not _request(speech, a):
                    ev.negated[u] = ASKED
        # each trigger phrase, and all of them as one text: together they say what the condition is
        # about better than any short phrase alone ("my wallet went missing" / "card was stolen, that
        # wasn't me, I don't recognise that")
        lines = list(item.when_customer_says)
        if len(lines) > 1:
            lines.append(". ".join(p.rstrip(".") for p in lines))
        for n, phrase in enumerate(lines):
            tsig = signals("customer", (phrase,))
            if tsig is not None:
                k = len(ev.triggers)
                ev.triggers.append((phrase, tsig))
                # the phrases together have no polarity of their own: there a negated unit is set
                # aside ("I'm not complaining"), and one without a negation is not
                joined = n == len(item.when_customer_says)
                ev.trigger_negated.update({(k, u): why for u, why in flips(
                    "customer", tsig, lambda w, p=phrase: p, phrase=True, mixed=joined).items()})
        items.append(ev)
    rules: list[RuleEvidence] = []
    for rule in script.prohibited:
        rev = RuleEvidence(rule, key_of(rule.speaker), [])
        speech = speeches[key_of(rule.speaker)]
        for phrase in rule.phrases:
            psig = signals(rule.speaker, (phrase,))
            if psig is None:
                continue
            k = len(rev.phrases)
            rev.phrases.append((phrase, psig))
            for u, why in flips(rule.speaker, psig, lambda w, p=phrase: p, phrase=True).items():
                rev.excluded[(k, u)] = why if why == TOO_SHORT else f"negated mention ({why!r})"
            phrase_asks = psig.wordings[0].question
            for u, (a, b) in enumerate(psig.units):
                if (k, u) in rev.excluded or not any(speech.question[a:b]):
                    continue
                start = _aligned_region(speech, a, b, psig.wordings[0].keys)[0]
                if not speech.question[start]:
                    continue
                if quoted(speech, start, a):
                    rev.excluded[(k, u)] = "quoted in a question"
                elif not phrase_asks and not _request(speech, a):
                    # "will my bill go down?" asks; it promises nothing ("can you tell me your PIN?" does ask for it)
                    rev.excluded[(k, u)] = ASKED
        rules.append(rev)
    return CallEvidence(transcript, script, mono, language, agent_name, known_name, semantic, speeches, items, rules)


# --------------------------------------------------------------------------- decisions


def _threshold(model: LogisticModel, override: float | None) -> float:
    return model.threshold if override is None else override


def _best_line(signals: list[tuple[str, LineSignals]], excluded: dict[tuple[int, int], str],
               model: LogisticModel, answered: float = 0.0) -> tuple[float, int, int] | None:
    """(probability, phrase, unit) of the best unit not excluded, over all phrases."""
    best = None
    for k, (_phrase, sig) in enumerate(signals):
        values = sig.values
        if answered:
            values = values.copy()
            values[:, COL["answered"]] = answered
        p = model.probability(values)
        for u in np.argsort(-p):
            if (k, int(u)) in excluded:
                continue
            if best is None or p[u] > best[0]:
                best = (float(p[u]), k, int(u))
            break
    return best


def answered_p(ie: ItemEvidence, rank: LogisticModel, said: LogisticModel) -> float:
    """How surely the item's own line was said: the said probability of its best-ranked unit."""
    if ie.signals is None or not len(ie.signals.units):
        return 0.0
    p = rank.probability(ie.signals.values)
    for u in ie.negated:
        p[u] = -1.0
    u = int(np.argmax(p))
    return 0.0 if p[u] < 0 else float(said.probability(ie.signals.values[u])[0])


def _take_unknown_name(speech: Speech, end: int, keys: Sequence[str]) -> int:
    """The evidence's end moved past the name said after it ("... my name is Oluwaseun") when the
    manifest does not name the agent: the words that lead to the name slot, then one word."""
    tail = set(keys[-3:])
    turn_end = int(speech.turn_end[end - 1]) if end > 0 else end
    last = None
    for i in range(end, min(turn_end, end + 5)):
        if speech.tokens[i].key in tail:
            last = i
    return min(turn_end, last + 2) if last is not None else end


def _trim(speech: Speech, a: int, b: int, keys: Sequence[str], *, keep_end: bool = False) -> tuple[int, int]:
    """The unit without leading/trailing words the line does not have (evidence = the matched words);
    `keep_end` keeps the end (an unknown agent name said there)."""
    own = set(keys)
    s, e = a, b
    while s < e - 1 and speech.tokens[s].key not in own:
        s += 1
    while not keep_end and e - 1 > s and speech.tokens[e - 1].key not in own:
        e -= 1
    if s >= e or not any(speech.tokens[i].key in own for i in range(s, e)):
        return a, b
    return s, e


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def _borderline(p: float, threshold: float, what: str, margin: float) -> str | None:
    """Why a decision is borderline (its probability within `margin` log-odds of its threshold), else None."""
    if abs(_logit(p) - _logit(threshold)) < margin:
        return f"borderline decision ({what}: p {p:.2f}, threshold {threshold:.2f})"
    return None


def resolved_options(options: MatchOptions = MatchOptions(), combiner: Combiner | None = None) -> MatchOptions:
    """The options with every threshold left to the combiner filled in: what a verdict was decided with."""
    combiner = combiner or load_combiner()
    names = {"met_threshold": "met", "partial_threshold": "said", "trigger_threshold": "trigger",
             "prohibited_threshold": "prohibited"}
    return replace(options, **{k: combiner.model(m).threshold for k, m in names.items() if getattr(options, k) is None})


def decide(ev: CallEvidence, *, combiner: Combiner | None = None,
           options: MatchOptions = MatchOptions()) -> list[ItemResult]:
    """Verdicts from the evidence: one ItemResult per script item (script order), then per prohibited rule."""
    combiner = combiner or load_combiner()
    out, approved = _decide_items(ev, combiner, options)
    rule_m = combiner.model("prohibited", semantic=ev.semantic)
    rule_t = _threshold(rule_m, options.prohibited_threshold)
    out.extend(_judge_rule(with_approved(rev, ev, approved), ev, rule_m, rule_t, options) for rev in ev.rules)
    return out


def with_approved(rev: RuleEvidence, ev: CallEvidence, approved: dict[int, float]) -> RuleEvidence:
    """A prohibited rule's evidence with the units that are mostly an approved line the agent surely
    said set aside: an approved line is not also a prohibited one that shares its topic ("take a look
    at the router for me" is the check, not "you'll have to buy a new router"). `approved`: word id →
    the said probability of the line that claimed it; only lines said with at least _APPROVED_P count,
    so a violation that merely resembles a line is not excused by it."""
    if not approved:
        return rev
    speech = ev.speeches[rev.speaker]
    excluded = dict(rev.excluded)
    for k, (_phrase, sig) in enumerate(rev.phrases):
        for u, (a, b) in enumerate(sig.units):
            ids = speech.span(a, b)[3]
            inside = [i for i in ids if approved.get(i, 0.0) >= _APPROVED_P]
            if (k, u) not in excluded and len(inside) > _CLAIM_OVERLAP * len(ids):
                excluded[(k, u)] = APPROVED
    return replace(rev, excluded=excluded)


def _decide_items(ev: CallEvidence, combiner: Combiner,
                  options: MatchOptions) -> tuple[list[ItemResult], dict[int, float]]:
    """The script items' verdicts, and the words of the approved lines found said (word id → the
    line's said probability)."""
    rank_m = combiner.model("rank", semantic=ev.semantic)
    said_m = combiner.model("said", semantic=ev.semantic)
    met_m = combiner.model("met", semantic=ev.semantic)
    trig_m = combiner.model("trigger", semantic=ev.semantic)
    said_t = _threshold(said_m, options.partial_threshold)
    met_t = _threshold(met_m, options.met_threshold)
    trig_t = _threshold(trig_m, options.trigger_threshold)

    notes: dict[str, list[str]] = {ie.item.id: [MONO_DETAIL] if ev.mono else [] for ie in ev.items}
    doubts: dict[str, list[str]] = {ie.item.id: [] for ie in ev.items}
    applicable: dict[str, bool] = {}
    for ie in ev.items:
        if not ie.item.when_customer_says:
            applicable[ie.item.id] = True
            continue
        best = _best_line(ie.triggers, ie.trigger_negated, trig_m, answered_p(ie, rank_m, said_m))
        customer = ev.speeches.get(None if ev.mono else "customer")
        doubt = _borderline(best[0] if best else 0.0, trig_t, "trigger", options.borderline_logit)
        if doubt:
            doubts[ie.item.id].append(doubt)
        if best is not None and best[0] >= trig_t and customer is not None:
            p, k, u = best
            t0, t1, quote, _ = customer.span(*ie.triggers[k][1].units[u])
            notes[ie.item.id].append(f"triggered by customer at {t0:.1f}s: {quote!r} (p {p:.2f})")
            applicable[ie.item.id] = True
        else:
            p = best[0] if best else 0.0
            neg = [why for why in ie.trigger_negated.values() if why != TOO_SHORT]
            notes[ie.item.id].append(
                f"not triggered: customer did not say {' / '.join(ie.item.when_customer_says)!r} (best p {p:.2f})"
                + (f"; negated mention ({neg[0]!r})" if neg else ""))
            applicable[ie.item.id] = False

    # unit probabilities; items claim units, best first, so one stretch does not satisfy two items
    probs: dict[str, np.ndarray] = {}
    pairs: list[tuple[float, int, int]] = []
    for n, ie in enumerate(ev.items):
        if ie.signals is None or not applicable[ie.item.id]:
            continue
        # units are ranked by the unit-level model; whether the item was said is decided on its best
        # unit by the item-level model
        z = rank_m.log_odds(ie.signals.values)
        excluded = np.zeros(len(z), dtype=bool)
        excluded[list(ie.negated)] = True
        said_p = said_m.probability(ie.signals.values)
        said_p[excluded] = 0.0
        probs[ie.item.id] = said_p
        keep = np.flatnonzero(~excluded & (z >= _CLAIM_FLOOR_LOGIT))
        pairs.extend((float(z[u]), n, int(u)) for u in keep)
    pairs.sort(key=lambda t: (-t[0], t[1], t[2]))
    claimed: set[int] = set()
    chosen: dict[str, tuple[float, int]] = {}
    spans: dict[str, tuple[int, int]] = {}
    blocked: dict[str, float] = {}
    for p, n, u in pairs:
        ie = ev.items[n]
        if ie.item.id in chosen:
            continue
        speech = ev.speeches[ie.speaker]
        sig = ie.signals
        a, b = sig.units[u]  # type: ignore[union-attr]
        # a line said word for word inside a longer clause claims only its own words, so the lines
        # said with it ("hello this is X bank my name is Y how can I help") stay free for their items
        w = sig.wordings[int(sig.wording[u])]  # type: ignore[union-attr]
        if sig.values[u, COL["fuzzy"]] >= _ALIGNED and b - a > len(w.keys) + 2:  # type: ignore[union-attr]
            a, b = _aligned_region(speech, a, b, w.keys)
        ids = speech.span(a, b)[3]
        if sum(1 for i in ids if i in claimed) > _CLAIM_OVERLAP * len(ids):
            blocked.setdefault(ie.item.id, float(probs[ie.item.id][u]))
            continue
        q = float(probs[ie.item.id][u])
        chosen[ie.item.id] = (q, u)
        spans[ie.item.id] = (a, b)
        if q >= said_t:
            claimed.update(ids)

    results: dict[str, ItemResult] = {}
    for ie in ev.items:
        item = ie.item
        base = dict(item_id=item.id, section=item.section, kind=item.kind, weight=item.weight,
                    critical=item.critical)
        note = notes[item.id]
        unknown = "unknown" if ev.mono else None
        if not applicable[item.id]:
            flags = ("low_confidence",) if doubts[item.id] else ()
            note.extend(f"low_confidence: {d}" for d in doubts[item.id])
            results[item.id] = ItemResult(status="not_applicable", confidence=1.0, flags=flags,
                                          detail="; ".join(note), speaker=unknown, **base)
            continue
        got = chosen.get(item.id)
        if got is None or got[0] < said_t or ie.signals is None:
            best = got[0] if got else 0.0
            negs = list(ie.negated.values())
            if negs:
                note.append(f"negated ({negs[0]!r})" if negs[0] != ASKED else ASKED)
            if item.id in blocked and blocked[item.id] >= said_t:
                note.append(f"its best match (p {blocked[item.id]:.2f}) is another item's evidence")
            note.append(f"not found (best p {best:.2f})")
            if not ev.semantic:
                note.append("fuzzy matching only (no embedding model)")
            doubt = _borderline(best, said_t, "said", options.borderline_logit)
            if doubt:
                doubts[item.id].append(doubt)
            note.extend(f"low_confidence: {d}" for d in doubts[item.id])
            results[item.id] = ItemResult(status="missed", confidence=round(1 - best, 3), detail="; ".join(note),
                                          flags=("low_confidence",) if doubts[item.id] else (), speaker=unknown,
                                          **base)
            continue
        p, u = got
        sig = ie.signals
        speech = ev.speeches[ie.speaker]
        wording = sig.wordings[int(sig.wording[u])]
        unknown_name = not ev.known_name and "{agent_name}" in item.wordings[wording.index]
        a, b = _trim(speech, *spans[item.id], wording.keys, keep_end=unknown_name)
        if unknown_name:
            b = _take_unknown_name(speech, b, wording.keys)
        values = sig.values[u]
        flags: list[str] = []
        doubts[item.id].append(_borderline(p, said_t, "said", options.borderline_logit) or "")
        diff: WordingDiff | None = None
        if item.verbatim:
            diff = verbatim_diff(speech, a, b, wording)
            status = "met" if diff.fidelity >= options.verbatim_threshold else "partial"
            note.append(describe_diff(diff))
            if status == "partial":
                note.append("verbatim item: wording not exact")
        else:
            p_met = float(met_m.probability(values)[0])
            status = "met" if p_met >= met_t else "partial"
            note.append(f"all of the line said: p {p_met:.2f}")
            doubts[item.id].append(_borderline(p_met, met_t, "all of it said", options.borderline_logit) or "")
            if status == "met" and values[COL["names"]] < _NAME_HEARD:
                # the script's names are key content: a line that names another company is partial
                status = "partial"
                note.append("key content missing: the script's name (e.g. the company) was not said")
        which = "text" if wording.index == 0 else f"alternative {wording.index}"
        note.insert(1 if ev.mono else 0, f"said: p {p:.2f} (meaning {values[COL['cos']]:.2f}, content "
                                         f"{values[COL['cov']]:.2f}, wording {values[COL['fuzzy']]:.2f}) "
                                         f"with the {which}")
        for d in filter(None, doubts[item.id]):
            flags.append("low_confidence")
            note.append(f"low_confidence: {d}")
        if ev.known_name and "{agent_name}" in item.wordings[wording.index]:
            lo, hi = max(0, a - 2), min(len(speech.tokens), b + 2)
            heard = [t.key for t in speech.tokens[lo:hi]]
            if not all(any(sounds_like(n, h) for h in heard) for n in ev.known_name):
                flags.append("low_confidence")
                note.append(f"low_confidence: agent name {ev.agent_name!r} not heard")
        start_s, end_s, quote, _ = speech.span(a, b)
        if item.within_seconds is not None and start_s > item.within_seconds + options.late_grace_s:
            flags.append("late")
            note.append(f"started at {start_s:.1f}s, allowed {item.within_seconds:g}s")
        speaker = "unknown" if ev.mono else speech.words[speech.tokens[a].source].speaker
        if not ev.semantic:
            note.append("fuzzy matching only (no embedding model)")
        results[item.id] = ItemResult(status=status, confidence=round(p, 3), flags=tuple(dict.fromkeys(flags)),
                                      start_s=start_s,
                                      end_s=end_s, evidence=quote, speaker=speaker, detail="; ".join(note),
                                      wording=diff, **base)
    items = [ie.item for ie in ev.items]
    flag_order(items, results)
    flag_low_confidence(items, results, ev.transcript, lambda speaker: ev.speeches[
        None if ev.mono or speaker == "any" else speaker])
    out = [results[i.id] for i in items]
    approved: dict[int, float] = {}
    for ie in ev.items:
        if results[ie.item.id].status in ("met", "partial") and ie.item.id in spans and ie.signals is not None:
            p = chosen[ie.item.id][0]
            for w in ev.speeches[ie.speaker].span(*spans[ie.item.id])[3]:
                approved[w] = max(approved.get(w, 0.0), p)
    return out, approved


def _judge_rule(rev: RuleEvidence, ev: CallEvidence, model: LogisticModel, threshold: float,
                options: MatchOptions) -> ItemResult:
    rule = rev.rule
    base = dict(item_id=rule.id, section=None, kind="prohibited", weight=rule.weight, critical=rule.critical)
    notes: list[str] = [MONO_DETAIL] if ev.mono else []
    # the set-aside mentions a reviewer would want to know of: those that resemble the phrase
    notes.extend(list(dict.fromkeys(f"{why}: {ev.speeches[rev.speaker].span(*rev.phrases[k][1].units[u])[2]!r}"
                                    for (k, u), why in rev.excluded.items()
                                    if why not in (TOO_SHORT, ASKED, APPROVED)
                                    and model.probability(rev.phrases[k][1].values[u])[0] >= threshold / 2))[:3])
    best = _best_line(rev.phrases, rev.excluded, model)
    # a prohibited phrase said word for word (all its words, in order) is said, whatever the model
    for k, (_phrase, sig) in enumerate(rev.phrases):
        literal = np.flatnonzero((sig.values[:, COL["fuzzy"]] >= _LITERAL) & (sig.values[:, COL["cov"]] >= 1.0))
        for u in literal:
            if (k, int(u)) not in rev.excluded and (best is None or best[0] < threshold):
                best = (max(threshold, float(model.probability(sig.values[u])[0])), k, int(u))
    doubt = _borderline(best[0] if best else 0.0, threshold, "said", options.borderline_logit)
    flags = ("low_confidence",) if doubt else ()
    if doubt:
        notes.append(f"low_confidence: {doubt}")
    if best is None or best[0] < threshold:
        p = best[0] if best else 0.0
        return ItemResult(status="met", confidence=round(1 - p, 3), detail="; ".join(notes), flags=flags,
                          speaker="unknown" if ev.mono else None, **base)
    p, k, u = best
    speech = ev.speeches[rev.speaker]
    phrase, sig = rev.phrases[k]
    start_s, end_s, quote, _ = speech.span(*sig.units[u])
    v = sig.values[u]
    notes.append(f"phrase {phrase!r}: p {p:.2f} (meaning {v[COL['cos']]:.2f}, wording {v[COL['fuzzy']]:.2f})")
    speaker = "unknown" if ev.mono else speech.words[speech.tokens[sig.units[u][0]].source].speaker
    return ItemResult(status="violated", confidence=round(p, 3), start_s=start_s, end_s=end_s, evidence=quote,
                      speaker=speaker, detail="; ".join(notes), flags=flags, **base)


def match_call(transcript: Transcript, script: Script, *, agent_name: str | None = None,
               options: MatchOptions = MatchOptions(), combiner: Combiner | None = None,
               encoder: Encoder | None = embed.encode, encode_lines: Encoder | None = embed.encode_cached,
               parser: Parser | None | str = "default") -> list[ItemResult]:
    """One ItemResult per script item (script order), then one per prohibited rule."""
    ev = analyse_call(transcript, script, agent_name=agent_name, encoder=encoder, encode_lines=encode_lines,
                      parser=parser)
    return decide(ev, combiner=combiner, options=options)
