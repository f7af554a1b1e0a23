"""Redaction: a transcript and its verdicts with card data and personal data replaced (pure).

`find_spans` detects values in a `Transcript` (per speaker, with every speaker's words as context);
`redact_transcript` replaces the words of each span by a placeholder that keeps their times:
``[card number]`` in each word, ``[card number, 12.4–18.9 s]`` in the segment text; a hashed kind
shows ``[email 3fa9c2d1e0]`` (a salted HMAC, the same value giving the same token in one database).
`redact_results` removes the same values from every verdict's evidence, detail and wording diff.

Card data (card number, security code, expiry date) is always masked; every other kind follows
the `Policy` (mask by default).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from ..datatypes import ItemResult, Script, Transcript, Word, WordingDiff
from ..errors import ConfigError
from .detect import CARD_KINDS, KINDS, find_in_words

__all__ = ["ACTIONS", "DETECTOR_VERSION", "Policy", "Span", "allowed_numbers", "find_spans", "placeholder",
           "redact_results", "redact_text", "redact_transcript", "script_numbers"]

# Bump when detection changes what it finds: stored with every redacted transcript and `qa redact` run.
DETECTOR_VERSION = "privacy-1"
ACTIONS = ("mask", "hash", "keep")
_PLACEHOLDER = re.compile(r"^\[[a-zA-Z ]+(?: [0-9a-f]{10})?(?:, [0-9.]+–[0-9.]+ s)?\]$")


@dataclass(frozen=True)
class Policy:
    """What happens to each kind of personal data: mask | hash | keep. Card kinds are always masked."""

    actions: tuple[tuple[str, str], ...] = ()  # (kind, action) overrides; every other kind: `default`
    default: str = "mask"

    def action(self, kind: str) -> str:
        if kind in CARD_KINDS:
            return "mask"
        return dict(self.actions).get(kind, self.default)

    def as_dict(self) -> dict[str, str]:
        return {k: self.action(k) for k in KINDS}

    @classmethod
    def parse(cls, settings: Iterable[str]) -> Policy:
        """From ``KIND=ACTION`` settings (``personal=hash`` sets every kind that is not card data);
        ConfigError naming a bad one."""
        default = "mask"
        actions: dict[str, str] = {}
        for setting in settings:
            kind, sep, action = setting.partition("=")
            kind, action = kind.strip().replace("-", "_"), action.strip()
            if not sep or action not in ACTIONS:
                raise ConfigError(f"--redact {setting!r}: expected KIND=ACTION with ACTION one of {', '.join(ACTIONS)}")
            if kind in ("personal", "all"):
                default = action
                continue
            if kind not in KINDS:
                raise ConfigError(f"--redact {setting!r}: unknown kind {kind!r}; kinds: personal, {', '.join(KINDS)}")
            if kind in CARD_KINDS and action != "mask":
                raise ConfigError(f"--redact {setting!r}: card data ({kind}) is always masked")
            actions[kind] = action
        return cls(actions=tuple(sorted(actions.items())), default=default)


@dataclass(frozen=True)
class Span:
    """A detected value in a transcript: its kind, its words (segment index, word index) and times."""

    kind: str
    speaker: str
    words: tuple[tuple[int, int], ...]
    start_s: float
    end_s: float
    value: str = field(repr=False)  # the value itself: kept in memory only, never stored or logged
    tokens: tuple[str, ...] = field(default=(), repr=False)  # lower-case forms of the words, for quotes


def _spoken(text: str) -> str:
    return text.strip().lower().strip(".,;:!?\"'()")


def script_numbers(script: Script) -> set[str]:
    """Digit strings the script itself says (a company phone number, a price): never personal data."""
    texts = [w for item in script.items for w in (*item.wordings, *item.when_customer_says)]
    texts += [p for rule in script.prohibited for p in rule.phrases]
    texts += [v for _, v in script.variables]
    return allowed_numbers(" ".join(texts))


def allowed_numbers(text: str) -> set[str]:
    """Every number in `text` as the digit string the detector would read."""
    from ..normalize import normalize_text
    from ..match.numbers import number_runs

    out = {re.sub(r"\D", "", m) for m in re.findall(r"\+?\d[\d\- ]*\d", text)}
    words = normalize_text(text).split()
    out |= {r.digits for r in number_runs(words)}
    return {d for d in out if len(d) >= 3}


def find_spans(transcript: Transcript, *, allowed: Iterable[str] = ()) -> list[Span]:
    """Every value of every kind in the transcript, speaker by speaker, in time order."""
    located: list[tuple[tuple[int, int], Word]] = []
    for si, seg in enumerate(transcript.segments):
        if seg.words:
            located.extend(((si, wi), w) for wi, w in enumerate(seg.words))
        else:  # a segment without word timings: its text words, spread over its time
            parts = seg.text.split()
            step = (seg.end - seg.start) / max(1, len(parts))
            located.extend(((si, -1 - k), Word(p, seg.start + k * step, seg.start + (k + 1) * step, 0.0, seg.speaker))
                           for k, p in enumerate(parts))
    located.sort(key=lambda x: (x[1].start, x[1].end))
    all_words = [w.text for _, w in located]
    all_times = [(w.start, w.end) for _, w in located]
    allowed = set(allowed)
    spans: list[Span] = []
    for mine in _turns(located):
        found = find_in_words([w.text for _, w in mine], [(w.start, w.end) for _, w in mine],
                              context_words=all_words, context_times=all_times, allowed=allowed)
        for f in found:
            part = mine[f.first:f.last + 1]
            spans.append(Span(f.kind, part[0][1].speaker, tuple(k for k, _ in part), part[0][1].start,
                              part[-1][1].end, f.value, tuple(_spoken(w.text) for _, w in part)))
    spans.sort(key=lambda s: s.start_s)
    return spans


def find_spans_in_text(text: str, *, allowed: Iterable[str] = ()) -> list[Span]:
    """Values in a free text (a failure message, a log line): its words read as one speaker's."""
    words = text.split()
    times = [(0.4 * k, 0.4 * k + 0.35) for k in range(len(words))]
    return [Span(f.kind, "unknown", tuple((0, k) for k in range(f.first, f.last + 1)), times[f.first][0],
                 times[f.last][1], f.value, tuple(_spoken(w) for w in words[f.first:f.last + 1]))
            for f in find_in_words(words, times, allowed=allowed)]


def _turns(located: list[tuple[tuple[int, int], Word]], *, backchannel: int = 2):
    """Each speaker's words cut into turns: a value never runs across the other side's reply, but a
    short backchannel ("mm-hmm", "yep, go on") does not cut a card number in two."""
    turns: list[list[tuple[tuple[int, int], Word]]] = []
    for speaker in dict.fromkeys(w.speaker for _, w in located):
        current: list[tuple[tuple[int, int], Word]] = []
        others = 0
        for key, w in located:
            if w.speaker != speaker:
                others += 1
                continue
            if others > backchannel and current:
                turns.append(current)
                current = []
            others = 0
            current.append((key, w))
        if current:
            turns.append(current)
    return turns


def placeholder(span: Span, action: str, salt: bytes, *, with_times: bool) -> str:
    """What a redacted value shows: [card number], [email 3fa9c2d1e0], optionally with its times."""
    label = KINDS[span.kind]
    if action == "hash":
        digest = hmac.new(salt, f"{span.kind}:{span.value}".encode(), hashlib.sha256).hexdigest()[:10]
        label = f"{label} {digest}"
    if with_times:
        return f"[{label}, {span.start_s:.1f}–{span.end_s:.1f} s]"
    return f"[{label}]"


def redact_transcript(transcript: Transcript, spans: Sequence[Span], policy: Policy, salt: bytes) -> Transcript:
    """The transcript with every span's words replaced by its placeholder (times kept)."""
    by_segment: dict[int, dict[int, tuple[Span, bool]]] = {}
    for span in spans:
        if policy.action(span.kind) == "keep":
            continue
        for n, (si, wi) in enumerate(span.words):
            by_segment.setdefault(si, {})[wi] = (span, n == 0)
    if not by_segment:
        return transcript
    segments = list(transcript.segments)
    for si, marks in by_segment.items():
        seg = segments[si]
        if seg.words:
            words = tuple(replace(w, text=" " + placeholder(marks[wi][0], policy.action(marks[wi][0].kind), salt,
                                                              with_times=False))
                          if wi in marks else w for wi, w in enumerate(seg.words))
            pieces = [(w.text.strip(), marks.get(wi)) for wi, w in enumerate(seg.words)]
        else:
            words = ()
            pieces = [(p, marks.get(-1 - k)) for k, p in enumerate(seg.text.split())]
        text: list[str] = []
        for raw, mark in pieces:
            if mark is None:
                text.append(raw)
            elif mark[1] or not text or not text[-1].startswith("["):  # a span's first word shows the placeholder
                text.append(placeholder(mark[0], policy.action(mark[0].kind), salt, with_times=True))
        segments[si] = replace(seg, words=words, text=" " + " ".join(text))
    return replace(transcript, segments=tuple(segments))


def redact_text(text: str, spans: Sequence[Span], policy: Policy, salt: bytes, *, with_times: bool = True) -> str:
    """`text` (a quote, a verdict's detail, a message) with the spans' values replaced by their
    placeholders. Quotes are normalised ("4556" reads "four thousand five hundred and fifty six"), so a
    value is looked for three ways: as a run of its words (heard or normalised), as a run of digits
    that is part of its digits, and by running the detector on the text itself."""
    spans = [sp for sp in spans if policy.action(sp.kind) != "keep"]
    if not text or not spans:
        return text
    from ..normalize import normalize_text
    from .detect import _digit_runs, _tokens

    matches = list(re.finditer(r"\S+", text))
    toks = [_spoken(m.group(0)) for m in matches]
    owner: list[Span | None] = [None] * len(toks)
    # 1. runs of a span's own words
    for span in spans:
        for form in {tuple(t for t in span.tokens if t), tuple(normalize_text(" ".join(span.tokens)).split())}:
            if len(form) < 2 and not (form and len(form[0]) >= 3):
                continue
            for i in range(len(toks)):
                for start in range(len(form)):
                    k = 0
                    while i + k < len(toks) and start + k < len(form) and toks[i + k] == form[start + k]:
                        k += 1
                    if k >= 2 or (k == 1 and len(form) == 1):
                        for j in range(i, i + k):
                            owner[j] = owner[j] or span
    # 2. runs of digits that belong to a span's digits
    numeric = [sp for sp in spans if sp.value.isdigit()]
    if numeric:
        sub = _tokens([m.group(0) for m in matches])
        for run in _digit_runs(sub):
            a, b = sub[run.first_tok].word, sub[run.last_tok].word
            at_edge = a == 0 or b == len(toks) - 1
            for sp in numeric:
                if run.digits in sp.value and (len(run.digits) >= 3 or at_edge and len(run.digits) >= 2):
                    for j in range(a, b + 1):
                        owner[j] = owner[j] or sp
                    break
    # 3. the detector on the text itself (a card number passes its checksum without any context)
    for f in find_spans_in_text(text):
        like = next((sp for sp in spans if sp.kind == f.kind), None) or Span(f.kind, "unknown", (), 0.0, 0.0, f.value)
        for _, j in f.words:
            owner[j] = owner[j] or like
    if not any(owner):
        return text
    out: list[str] = []
    pos = 0
    for j, m in enumerate(matches):
        if owner[j] is None:
            continue
        out.append(text[pos:m.start()])
        if not (j > 0 and owner[j - 1] is owner[j]):
            out.append(placeholder(owner[j], policy.action(owner[j].kind), salt, with_times=with_times and bool(owner[j].words)))
        elif out and out[-1] == " ":
            out.pop()
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


def _overlapping(spans: Sequence[Span], start: float | None, end: float | None) -> list[Span]:
    if start is None or end is None:
        return list(spans)
    return [s for s in spans if s.start_s <= end + 1.0 and s.end_s >= start - 1.0]


def redact_results(results: Sequence[ItemResult], spans: Sequence[Span], policy: Policy,
                   salt: bytes) -> list[ItemResult]:
    """Every verdict with the spans' values removed from its evidence, detail and wording diff."""
    if not spans:
        return list(results)
    out = []
    for r in results:
        near = _overlapping(spans, r.start_s, r.end_s)
        evidence = redact_text(r.evidence, near, policy, salt)
        detail = redact_text(r.detail, spans, policy, salt)
        wording = r.wording
        if wording is not None:
            def fix(s: str) -> str:
                red = redact_text(s, near, policy, salt)
                if red == s and any(s.lower() in sp.tokens for sp in near if policy.action(sp.kind) != "keep"):
                    return "[redacted]"  # one word of a value, alone in the diff
                return red

            wording = WordingDiff(
                fidelity=wording.fidelity, approved=wording.approved,
                dropped=wording.dropped,
                substituted=tuple((a, fix(b)) for a, b in wording.substituted),
                added=tuple(fix(a) for a in wording.added),
                uncertain=tuple((a, fix(b)) for a, b in wording.uncertain))
        out.append(replace(r, evidence=evidence, detail=detail, wording=wording))
    return out


def counts(spans: Sequence[Span], policy: Policy) -> dict[str, int]:
    """How many values of each kind were redacted (not kept): stored as provenance."""
    out: dict[str, int] = {}
    for s in spans:
        if policy.action(s.kind) != "keep":
            out[s.kind] = out.get(s.kind, 0) + 1
    return out


def is_placeholder(text: str) -> bool:
    return bool(_PLACEHOLDER.match(text.strip()))


def card_spans_in_redacted(transcript: Transcript) -> list[tuple[str, float, float, str]]:
    """(kind, start, end, speaker) of card data already masked in a stored transcript."""
    labels = {f"[{KINDS[k]}]": k for k in CARD_KINDS}
    out: list[tuple[str, float, float, str]] = []
    for seg in transcript.segments:
        for w in seg.words:
            kind = labels.get(w.text.strip())
            if kind is None:
                continue
            if out and out[-1][0] == kind and out[-1][3] == w.speaker and w.start - out[-1][2] < 3.0:
                out[-1] = (kind, out[-1][1], w.end, w.speaker)
            else:
                out.append((kind, w.start, w.end, w.speaker))
    return out

