"""Calibration against human reviewers: how often the automatic verdicts agree with people, and which
met/partial thresholds would agree more.

Pure: human labels and stored verdicts (dataclasses) in, a `Calibration` (dataclasses) out. The CLI
(`qa calibrate`) reads the reviewers' CSV and the database; report.py renders the result.

The threshold sweep uses only what is stored with each verdict: its status, its confidence and the
thresholds it was scored with. For a said verdict (met, partial) the matcher's confidence is the
similarity that was compared with the thresholds; for a missed one it is 1 - that similarity. So the
similarity of every verdict is known, and re-thresholding can be simulated without the transcripts.
Verdicts that the stored thresholds alone do not explain (a met capped at partial because the agent's
name was not heard, a missed item whose words another item claimed) are held as they are; verbatim
items keep their met/partial boundary (the verbatim threshold) and follow only the partial cut.
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .datatypes import MatchOptions, Override, StoredCall
from .errors import ConfigError

__all__ = [
    "MIN_PER_CLASS",
    "Agreement",
    "AutoVerdict",
    "Calibration",
    "Confusion",
    "HumanLabel",
    "HumanLabels",
    "ItemAgreement",
    "RowProblem",
    "ThresholdPoint",
    "ThresholdSuggestion",
    "Unmatched",
    "calibrate",
    "labels_from_overrides",
    "read_human_csv",
    "verdicts_from_calls",
]

MIN_PER_CLASS = 30  # fewer human rows than this in a class: the suggestion is a hint, not a measurement
STATUSES = ("met", "partial", "missed", "not_applicable", "violated")
ITEM_STATUSES = ("met", "partial", "missed", "not_applicable")
PROHIBITED_STATUSES = ("met", "violated")
REQUIRED_COLUMNS = ("call_id", "item_id", "status")
_SWEPT = ("met", "partial", "missed")
_PROHIBITED_PREFIX = "prohibited:"


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class HumanLabel:
    """One reviewer's verdict on one item of one call (a row of the CSV)."""

    call_id: str
    item_id: str
    status: str
    line: int = 0  # line in the CSV file
    reviewer: str | None = None
    notes: str = ""
    prohibited: bool | None = None  # True: written "prohibited:<id>"; None: kind not said


@dataclass(frozen=True)
class RowProblem:
    """A CSV row that could not be used: the rest of the file still is."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


@dataclass(frozen=True)
class HumanLabels:
    source: str
    labels: tuple[HumanLabel, ...]
    problems: tuple[RowProblem, ...] = ()


@dataclass(frozen=True)
class AutoVerdict:
    """A stored automatic verdict, with the thresholds it was scored with."""

    call_id: str
    item_id: str
    kind: str
    status: str
    confidence: float
    met_threshold: float
    partial_threshold: float
    verbatim: bool = False


def read_human_csv(text: str, *, source: str) -> HumanLabels:
    """Parse reviewers' labels: columns call_id, item_id, status (+ optional reviewer, notes).

    A file without the required columns is a `ConfigError`; a bad row becomes a `RowProblem` (file
    and line) and the other rows are still used. ``item_id`` may be written ``prohibited:<id>``.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    while header is not None and not any(cell.strip() for cell in header):
        header = next(reader, None)
    if header is None:
        raise ConfigError(f"{source}: empty file; expected a header with columns {', '.join(REQUIRED_COLUMNS)}")
    names = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise ConfigError(f"{source}:{reader.line_num}: missing column(s) {', '.join(missing)} "
                          f"(header has: {', '.join(n for n in names if n) or 'nothing'})")
    col = {name: names.index(name) for name in (*REQUIRED_COLUMNS, "reviewer", "notes") if name in names}
    labels, problems = [], []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(names):
            problems.append(RowProblem(source, line, f"{len(row)} fields, the header has {len(names)}"))
            continue
        cells = {name: (row[i].strip() if i < len(row) else "") for name, i in col.items()}
        empty = [c for c in REQUIRED_COLUMNS if not cells[c]]
        if empty:
            problems.append(RowProblem(source, line, f"empty {', '.join(empty)}"))
            continue
        status = cells["status"].lower()
        if status not in STATUSES:
            problems.append(RowProblem(source, line, f"unknown status {cells['status']!r} "
                                                     f"(expected one of {', '.join(STATUSES)})"))
            continue
        item_id, prohibited = cells["item_id"], None
        if item_id.lower().startswith(_PROHIBITED_PREFIX):
            item_id, prohibited = item_id[len(_PROHIBITED_PREFIX):].strip(), True
        labels.append(HumanLabel(call_id=cells["call_id"], item_id=item_id, status=status, line=line,
                                 reviewer=cells.get("reviewer") or None, notes=cells.get("notes", ""),
                                 prohibited=prohibited))
    return HumanLabels(source=source, labels=tuple(labels), problems=tuple(problems))


def verdicts_from_calls(calls: Iterable[StoredCall]) -> list[AutoVerdict]:
    """The machine's stored verdicts (`StoredCall.automatic`: reviewers' overrides are not the
    machine's), with the thresholds each call was scored with."""
    from .match import resolved_options

    defaults = resolved_options(MatchOptions())
    out = []
    for call in calls:
        options = call.matcher_options or {}
        met = float(options.get("met_threshold") if options.get("met_threshold") is not None
                    else defaults.met_threshold)
        partial = float(options.get("partial_threshold") if options.get("partial_threshold") is not None
                        else defaults.partial_threshold)
        # the meaning matcher decides met vs partial with its own model, not by the stored confidence
        # (which is P(said)): only its said/missed cut can be re-simulated, as for verbatim items
        learned = str(call.fingerprint or "").startswith("meaning")
        for r in call.automatic:
            verbatim = learned or r.wording is not None or "verbatim" in (r.detail or "")
            out.append(AutoVerdict(call_id=call.call_id, item_id=r.item_id, kind=r.kind, status=r.status,
                                   confidence=float(r.confidence or 0.0), met_threshold=met,
                                   partial_threshold=partial, verbatim=verbatim))
    return out


def labels_from_overrides(overrides: Iterable[Override], *, source: str = "reviewers' overrides") -> HumanLabels:
    """The reviewers' overrides as human labels (each item's latest override, `Store.overrides()`)."""
    return HumanLabels(source=source, labels=tuple(
        HumanLabel(call_id=o.call_id, item_id=o.item_id, status=o.status, line=o.id or 0, reviewer=o.reviewer,
                   notes=o.reason, prohibited=None if o.kind is None else o.kind == "prohibited")
        for o in overrides))


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Agreement:
    n: int
    agreed: int
    kappa: float | None  # Cohen's kappa; None when chance agreement is total (one class only)

    @property
    def accuracy(self) -> float | None:
        return self.agreed / self.n if self.n else None


@dataclass(frozen=True)
class ItemAgreement:
    item_id: str
    kind: str
    exact: Agreement
    said: Agreement


@dataclass(frozen=True)
class Confusion:
    """Rows: the human status; columns: the automatic status."""

    group: str  # "items" (required and conditional) or "prohibited"
    labels: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Unmatched:
    line: int
    call_id: str
    item_id: str
    status: str
    reason: str


@dataclass(frozen=True)
class ThresholdPoint:
    met_threshold: float
    partial_threshold: float
    exact: int  # rows whose simulated status equals the human's
    said: int  # rows whose simulated said / not said equals the human's
    rows: int

    @property
    def exact_accuracy(self) -> float | None:
        return self.exact / self.rows if self.rows else None

    @property
    def said_accuracy(self) -> float | None:
        return self.said / self.rows if self.rows else None


@dataclass(frozen=True)
class ThresholdSuggestion:
    """Met/partial cut-offs that agree best with the reviewers on required and conditional items."""

    rows: int  # rows swept: human and automatic status both met, partial or missed
    per_class: tuple[tuple[str, int], ...]  # human met / partial / missed counts
    held: int  # rows kept as stored (decided by a rule other than the two thresholds)
    current: ThresholdPoint
    suggested: ThresholdPoint
    reliable: bool
    notes: tuple[str, ...] = ()
    mixed_current: bool = False  # the calls were scored with different thresholds

    @property
    def changes(self) -> bool:
        return (self.suggested.met_threshold, self.suggested.partial_threshold) != (
            self.current.met_threshold, self.current.partial_threshold)


@dataclass(frozen=True)
class Calibration:
    source: str
    labels: int  # usable human rows read
    matched: int  # of them, paired with a stored verdict
    exact: Agreement
    said: Agreement
    per_item: tuple[ItemAgreement, ...]
    confusion: tuple[Confusion, ...]
    unmatched: tuple[Unmatched, ...] = ()
    problems: tuple[RowProblem, ...] = ()
    thresholds: ThresholdSuggestion | None = None
    min_per_class: int = MIN_PER_CLASS
    notes: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------- calibration


def said(kind: str, status: str) -> bool:
    """Did the agent say it? met/partial for script items, violated for prohibited rules."""
    return status == "violated" if kind == "prohibited" else status in ("met", "partial")


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Cohen's kappa of (human, automatic) label pairs; None when chance agreement is 1."""
    n = len(pairs)
    if not n:
        return None
    observed = sum(a == b for a, b in pairs) / n
    human, auto = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    chance = sum(human[k] * auto[k] for k in human) / (n * n)
    if chance >= 1.0:
        return None
    return (observed - chance) / (1.0 - chance)


def _agreement(pairs: Sequence[tuple[str, str]]) -> Agreement:
    kappa = cohen_kappa(pairs)
    return Agreement(n=len(pairs), agreed=sum(a == b for a, b in pairs),
                     kappa=None if kappa is None else round(kappa, 3))


def calibrate(human: HumanLabels, verdicts: Iterable[AutoVerdict], *,
              min_per_class: int = MIN_PER_CLASS) -> Calibration:
    """Agreement of the stored verdicts with the reviewers, and threshold suggestions."""
    by_key: dict[tuple[str, str], list[AutoVerdict]] = {}
    calls: set[str] = set()
    for v in verdicts:
        by_key.setdefault((v.call_id, v.item_id), []).append(v)
        calls.add(v.call_id)

    pairs: list[tuple[HumanLabel, AutoVerdict]] = []
    unmatched: list[Unmatched] = []
    for lab in human.labels:
        def miss(reason: str, lab: HumanLabel = lab) -> None:
            unmatched.append(Unmatched(lab.line, lab.call_id, lab.item_id, lab.status, reason))

        if lab.call_id not in calls:
            miss("no stored call with this id")
            continue
        found = by_key.get((lab.call_id, lab.item_id), [])
        if lab.prohibited is not None:
            found = [v for v in found if (v.kind == "prohibited") == lab.prohibited]
        if not found:
            miss(f"call has no {'prohibited rule' if lab.prohibited else 'item'} {lab.item_id!r}")
            continue
        if len(found) > 1:
            miss(f"{lab.item_id!r} is both an item and a prohibited rule; write prohibited:{lab.item_id} "
                 "for the rule")
            continue
        auto = found[0]
        allowed = PROHIBITED_STATUSES if auto.kind == "prohibited" else ITEM_STATUSES
        if lab.status not in allowed:
            miss(f"{lab.status!r} is not a status of a {auto.kind} "
                 f"{'rule' if auto.kind == 'prohibited' else 'item'} (expected {', '.join(allowed)})")
            continue
        pairs.append((lab, auto))

    def category(kind: str, status: str) -> str:
        return f"prohibited {status}" if kind == "prohibited" else status

    exact = _agreement([(category(a.kind, h.status), category(a.kind, a.status)) for h, a in pairs])
    said_all = _agreement([(str(said(a.kind, h.status)), str(said(a.kind, a.status))) for h, a in pairs])

    per_item: dict[tuple[str, str], list[tuple[HumanLabel, AutoVerdict]]] = {}
    for h, a in pairs:
        per_item.setdefault((a.item_id, a.kind), []).append((h, a))
    items = tuple(
        ItemAgreement(item_id=item_id, kind=kind,
                      exact=_agreement([(h.status, a.status) for h, a in rows]),
                      said=_agreement([(str(said(kind, h.status)), str(said(kind, a.status))) for h, a in rows]))
        for (item_id, kind), rows in per_item.items()
    )

    confusion = []
    for group, labels, keep in (("items", ITEM_STATUSES, lambda k: k != "prohibited"),
                                ("prohibited", PROHIBITED_STATUSES, lambda k: k == "prohibited")):
        rows = [(h.status, a.status) for h, a in pairs if keep(a.kind)]
        if rows:
            counts = Counter(rows)
            confusion.append(Confusion(group=group, labels=labels,
                                       counts=tuple(tuple(counts[(r, c)] for c in labels) for r in labels)))

    return Calibration(
        source=human.source, labels=len(human.labels), matched=len(pairs), exact=exact, said=said_all,
        per_item=items, confusion=tuple(confusion), unmatched=tuple(unmatched), problems=human.problems,
        thresholds=suggest_thresholds(pairs, min_per_class=min_per_class), min_per_class=min_per_class,
    )


# --------------------------------------------------------------------------- threshold sweep


@dataclass(frozen=True)
class _Row:
    similarity: float
    human: str
    stored: str
    kind: str  # "free": both thresholds apply; "verbatim": only the partial cut; "held": kept as stored


def _similarity(v: AutoVerdict) -> float:
    return round(v.confidence if v.status in ("met", "partial") else 1.0 - v.confidence, 4)


def _status_at(s: float, met: float, partial: float) -> str:
    return "met" if s >= met else "partial" if s >= partial else "missed"


def _simulate(row: _Row, met: float, partial: float) -> str:
    if row.kind == "held":
        return row.stored
    if row.kind == "verbatim":
        if row.similarity < partial:
            return "missed"
        return "met" if row.stored == "met" else "partial"
    return _status_at(row.similarity, met, partial)


def _point(rows: Sequence[_Row], met: float, partial: float) -> ThresholdPoint:
    sims = [_simulate(r, met, partial) for r in rows]
    return ThresholdPoint(
        met_threshold=met, partial_threshold=partial, rows=len(rows),
        exact=sum(s == r.human for s, r in zip(sims, rows)),
        said=sum((s != "missed") == (r.human != "missed") for s, r in zip(sims, rows)),
    )


def _cuts(values: Iterable[float], *keep: float) -> list[float]:
    """Candidate thresholds: midway between neighbouring observed similarities, 0, 1 and `keep`."""
    distinct = sorted(set(values))
    cuts = {0.0, 1.0, *keep}
    cuts.update(round((a + b) / 2, 4) for a, b in zip(distinct, distinct[1:]))
    if distinct and distinct[-1] < 1.0:
        cuts.add(round((distinct[-1] + 1.0) / 2, 4))
    return sorted(c for c in cuts if 0.0 <= c <= 1.0)


def suggest_thresholds(pairs: Sequence[tuple[HumanLabel, AutoVerdict]], *,
                       min_per_class: int = MIN_PER_CLASS) -> ThresholdSuggestion | None:
    """Sweep the met and partial thresholds over the observed similarities; keep the pair that agrees
    with the reviewers' exact status most often (ties: more said/not-said agreement, then the pair
    nearest the current one)."""
    swept = [(h, a) for h, a in pairs
             if a.kind != "prohibited" and a.status in _SWEPT and h.status in _SWEPT]
    if not swept:
        return None
    current_pairs = Counter((a.met_threshold, a.partial_threshold) for _, a in swept)
    cur_met, cur_partial = current_pairs.most_common(1)[0][0]
    rows = []
    for h, a in swept:
        s = _similarity(a)
        if a.verbatim:
            kind = "verbatim"
        elif _status_at(s, a.met_threshold, a.partial_threshold) != a.status:
            kind = "held"
        else:
            kind = "free"
        rows.append(_Row(similarity=s, human=h.status, stored=a.status, kind=kind))

    # For a fixed partial cut the agreement of the "free" rows at or above it is a prefix sum over
    # their similarities, so each met cut costs one bisect.
    free = sorted((r for r in rows if r.kind == "free"), key=lambda r: r.similarity)
    sims = [r.similarity for r in free]
    cum = {s: [0] for s in _SWEPT}
    for r in free:
        for s in _SWEPT:
            cum[s].append(cum[s][-1] + (r.human == s))
    fixed = [r for r in rows if r.kind != "free"]
    cuts = _cuts((r.similarity for r in rows), cur_met, cur_partial)

    best: tuple | None = None
    for partial in cuts:
        lo = bisect_left(sims, partial)
        base = cum["missed"][lo]  # free rows below the partial cut: missed
        base += sum(_simulate(r, 1.0, partial) == r.human for r in fixed if r.kind == "held")
        verbatim = [r for r in fixed if r.kind == "verbatim"]
        base += sum(_simulate(r, 1.0, partial) == r.human for r in verbatim)
        said_ok = sum((_simulate(r, 1.0, partial) != "missed") == (r.human != "missed") for r in rows)
        # without free rows (every verdict of the meaning matcher) the met cut moves nothing: it is
        # a different model's threshold, so it stays where it is and is not tied to the said cut
        for met in cuts if free else [cur_met]:
            if free and met < partial:
                continue
            hi = bisect_left(sims, met)
            exact = base + (cum["partial"][hi] - cum["partial"][lo]) + (cum["met"][len(free)] - cum["met"][hi])
            distance = abs(met - cur_met) + abs(partial - cur_partial)
            key = (exact, said_ok, -distance)
            if best is None or key > best[0]:
                best = (key, met, partial)
    assert best is not None
    current = _point(rows, cur_met, cur_partial)
    suggested = _point(rows, best[1], best[2])

    per_class = tuple((s, sum(r.human == s for r in rows)) for s in _SWEPT)
    small = [f"{n} human '{s}'" for s, n in per_class if n < min_per_class]
    notes = []
    if small:
        notes.append(f"too few rows for a reliable suggestion: {', '.join(small)} (fewer than {min_per_class} "
                     "per class); treat it as a hint and label more calls")
    held = sum(r.kind == "held" for r in rows)
    if held:
        notes.append(f"{held} verdict(s) decided by another rule (name not heard, words claimed by another "
                     "item, bare farewell) are kept as stored")
    if not free:
        notes.append("met vs partial is the matcher's met model's decision: only the said cut "
                     "(--partial-threshold) is swept")
    elif any(r.kind == "verbatim" for r in rows):
        notes.append("verbatim items follow only the partial cut; their met needs --verbatim-threshold")
    if len(current_pairs) > 1:
        notes.append(f"the calls were scored with {len(current_pairs)} different threshold pairs; "
                     f"'current' is the most common one")
    return ThresholdSuggestion(rows=len(rows), per_class=per_class, held=held, current=current,
                               suggested=suggested, reliable=not small, notes=tuple(notes),
                               mixed_current=len(current_pairs) > 1)
