"""Roll-ups over stored calls: compliance per item and overall with Wilson intervals, by agent, team or
vendor; weekly trends; before and after a date (a training session); the items missed most.

Pure: `StoredCall`s in (their effective verdicts, reviewers' overrides applied), dataclasses out.

Compliance of a verdict: a required or conditional item complies when `met` (a `partial` counts half),
a prohibited rule when it was not said; `not_applicable` verdicts are left out. A group's overall
compliance pools every applicable verdict of its calls; its interval is Wilson's score interval on
that share (the verdicts of one call are not independent, so read it as a guide, not an exact 95%).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from .datatypes import ItemResult, StoredCall
from .score import PARTIAL_CREDIT

__all__ = [
    "BeforeAfter",
    "Figures",
    "GroupSummary",
    "ItemChange",
    "ItemRate",
    "MissedExample",
    "MissedItem",
    "WeekPoint",
    "before_after",
    "call_date",
    "figures",
    "item_rates",
    "most_missed",
    "summarise",
    "week_of",
    "weekly",
    "wilson",
]

GAP_STATUSES = ("missed", "partial", "violated")
GROUPINGS = ("agent", "team", "vendor")


def wilson(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion successes/n (z = 1.96: about 95%); (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    p = min(max(successes / n, 0.0), 1.0)
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, round(centre - half, 4)), min(1.0, round(centre + half, 4))


def _complied(result: ItemResult) -> float | None:
    """1, 0.5 or 0 for an applicable verdict; None for not_applicable."""
    if result.status == "not_applicable":
        return None
    if result.kind == "prohibited":
        return 0.0 if result.status == "violated" else 1.0
    return {"met": 1.0, "partial": PARTIAL_CREDIT}.get(result.status, 0.0)


@dataclass(frozen=True)
class ItemRate:
    """How often one item was complied with across a group of calls."""

    item_id: str
    kind: str
    applicable: int  # calls where the item applied (not not_applicable)
    met: int
    partial: int
    missed: int
    violated: int
    not_applicable: int
    critical: bool = False
    overridden: int = 0  # verdicts of these calls a reviewer changed

    @property
    def complied(self) -> float:
        if self.kind == "prohibited":
            return float(self.applicable - self.violated)
        return self.met + PARTIAL_CREDIT * self.partial

    @property
    def compliance(self) -> float | None:
        """Share of applicable calls that complied (met; partial counts half; prohibited: not violated)."""
        return self.complied / self.applicable if self.applicable else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.complied, self.applicable) if self.applicable else None

    @property
    def gaps(self) -> int:
        """Calls where it went wrong: missed, partial or violated."""
        return self.missed + self.partial + self.violated


def item_rates(calls: Iterable[StoredCall]) -> list[ItemRate]:
    """Per-item counts over calls' effective verdicts, in first-seen item order."""
    counts: dict[tuple[str, str], Counter] = {}
    critical: dict[tuple[str, str], bool] = {}
    for call in calls:
        overridden = {(o.item_id, o.kind) for o in call.overrides}
        for r in call.results:
            key = (r.item_id, r.kind)
            c = counts.setdefault(key, Counter())
            c[r.status] += 1
            c["overridden"] += (r.item_id, r.kind) in overridden or (r.item_id, None) in overridden
            critical[key] = critical.get(key, False) or r.critical
    return [
        ItemRate(item_id=i, kind=k, applicable=sum(v for s, v in c.items() if s not in ("not_applicable", "overridden")),
                 met=c["met"], partial=c["partial"], missed=c["missed"], violated=c["violated"],
                 not_applicable=c["not_applicable"], critical=critical[(i, k)], overridden=c["overridden"])
        for (i, k), c in counts.items()
    ]


@dataclass(frozen=True)
class Figures:
    """Scores and compliance of a set of calls."""

    calls: int
    mean_score: float | None
    pass_rate: float | None
    pass_interval: tuple[float, float] | None
    compliance: float | None  # pooled over every applicable verdict
    compliance_interval: tuple[float, float] | None
    critical_compliance: float | None  # the same over critical items and rules only
    critical_interval: tuple[float, float] | None
    items: tuple[ItemRate, ...] = ()
    overridden: int = 0  # verdicts changed by reviewers


def _share(parts: Iterable[float]) -> tuple[float | None, tuple[float, float] | None, int]:
    values = list(parts)
    if not values:
        return None, None, 0
    s = sum(values)
    return round(s / len(values), 4), wilson(s, len(values)), len(values)


def figures(calls: Sequence[StoredCall]) -> Figures:
    """The figures of a set of calls (any grouping)."""
    scores = [c.score.score for c in calls]
    passed = sum(c.score.passed for c in calls)
    every = [(v, r.critical) for c in calls for r in c.results if (v := _complied(r)) is not None]
    compliance, interval, _ = _share(v for v, _ in every)
    critical, critical_interval, _ = _share(v for v, crit in every if crit)
    return Figures(
        calls=len(calls),
        mean_score=round(sum(scores) / len(scores), 1) if scores else None,
        pass_rate=round(passed / len(calls), 4) if calls else None,
        pass_interval=wilson(passed, len(calls)) if calls else None,
        compliance=compliance, compliance_interval=interval,
        critical_compliance=critical, critical_interval=critical_interval,
        items=tuple(item_rates(calls)),
        overridden=sum(len(c.overrides) for c in calls),
    )


# --------------------------------------------------------------------------- groups


@dataclass(frozen=True)
class GroupSummary:
    """One agent, team or vendor. `ranked` is false under the minimum number of calls: its figures
    are shown but it takes no place in the ranking (`rank` None)."""

    group: str
    by: str  # agent | team | vendor
    figures: Figures
    ranked: bool
    rank: int | None = None
    min_calls: int = 10
    parent: str | None = None  # an agent's team, a team's vendor (the most common among its calls)
    label: str | None = None  # an agent's name

    @property
    def calls(self) -> int:
        return self.figures.calls

    @property
    def mean_score(self) -> float | None:
        return self.figures.mean_score

    @property
    def pass_rate(self) -> float | None:
        return self.figures.pass_rate

    @property
    def compliance(self) -> float | None:
        return self.figures.compliance

    @property
    def compliance_interval(self) -> tuple[float, float] | None:
        return self.figures.compliance_interval

    @property
    def items(self) -> tuple[ItemRate, ...]:
        return self.figures.items


def group_key(by: str) -> Callable[[StoredCall], str]:
    if by not in GROUPINGS:
        raise ValueError(f"group by one of {', '.join(GROUPINGS)}, not {by!r}")
    attr = {"agent": "agent_id", "team": "team", "vendor": "vendor"}[by]
    return lambda c: str(getattr(c, attr) or "unknown")


def _most_common(values: Iterable[str | None]) -> str | None:
    counted = Counter(v for v in values if v)
    return min(counted, key=lambda v: (-counted[v], v)) if counted else None


def summarise(calls: Iterable[StoredCall], *, by: str, min_calls: int = 10) -> list[GroupSummary]:
    """Each group's figures, ranked by overall compliance (then mean score) among the groups with at
    least `min_calls` calls; the ranked groups come first, in rank order, then the others by id."""
    key = group_key(by)
    groups: dict[str, list[StoredCall]] = {}
    for call in calls:
        groups.setdefault(key(call), []).append(call)
    parent_of = {"agent": lambda c: c.team, "team": lambda c: c.vendor, "vendor": lambda c: None}[by]
    out = []
    for name, members in groups.items():
        out.append(GroupSummary(
            group=name, by=by, figures=figures(members), ranked=len(members) >= min_calls, min_calls=min_calls,
            parent=_most_common(parent_of(c) for c in members),
            label=_most_common(c.info.agent_name for c in members) if by == "agent" else None,
        ))
    ranked = sorted((g for g in out if g.ranked),
                    key=lambda g: (-(g.compliance or 0.0), -(g.mean_score or 0.0), g.group))
    others = sorted((g for g in out if not g.ranked), key=lambda g: g.group)
    return [GroupSummary(**{**g.__dict__, "rank": i}) for i, g in enumerate(ranked, 1)] + others


# --------------------------------------------------------------------------- time


def call_date(call: StoredCall) -> date | None:
    """The UTC date a call started (None: no or unreadable start time)."""
    if not call.started_at:
        return None
    try:
        return datetime.fromisoformat(call.started_at.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def week_of(day: date) -> date:
    """The Monday of the ISO week of a date."""
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class WeekPoint:
    week: str  # the Monday of the ISO week, YYYY-MM-DD
    figures: Figures


def weekly(calls: Iterable[StoredCall]) -> list[WeekPoint]:
    """Figures per ISO week (by each call's start date), oldest first; calls without a start time are
    left out. Weeks without calls are not listed."""
    weeks: dict[date, list[StoredCall]] = {}
    for call in calls:
        day = call_date(call)
        if day is not None:
            weeks.setdefault(week_of(day), []).append(call)
    return [WeekPoint(week=w.isoformat(), figures=figures(weeks[w])) for w in sorted(weeks)]


@dataclass(frozen=True)
class ItemChange:
    item_id: str
    kind: str
    before: ItemRate | None
    after: ItemRate | None

    @property
    def change(self) -> float | None:
        """After minus before compliance (None when either side has no applicable call)."""
        a = self.after.compliance if self.after else None
        b = self.before.compliance if self.before else None
        return None if a is None or b is None else round(a - b, 4)

    @property
    def significant(self) -> bool:
        """The two Wilson intervals do not overlap (a conservative test)."""
        if not (self.before and self.after and self.before.applicable and self.after.applicable):
            return False
        (bl, bh), (al, ah) = self.before.interval, self.after.interval
        return al > bh or ah < bl


@dataclass(frozen=True)
class BeforeAfter:
    """Calls before a date against calls on or after it (e.g. a training session)."""

    date: str
    before: Figures
    after: Figures
    items: tuple[ItemChange, ...] = field(default=())
    undated: int = 0  # calls without a start time, left out


def before_after(calls: Iterable[StoredCall], on: date | str) -> BeforeAfter:
    """Split calls at a date: started before it, and on or after it."""
    day = on if isinstance(on, date) else date.fromisoformat(str(on)[:10])
    before, after, undated = [], [], 0
    for call in calls:
        d = call_date(call)
        if d is None:
            undated += 1
        elif d < day:
            before.append(call)
        else:
            after.append(call)
    fb, fa = figures(before), figures(after)
    b_rates = {(r.item_id, r.kind): r for r in fb.items}
    a_rates = {(r.item_id, r.kind): r for r in fa.items}
    keys = list(dict.fromkeys([*b_rates, *a_rates]))
    return BeforeAfter(date=day.isoformat(), before=fb, after=fa, undated=undated,
                       items=tuple(ItemChange(i, k, b_rates.get((i, k)), a_rates.get((i, k))) for i, k in keys))


# --------------------------------------------------------------------------- most missed


@dataclass(frozen=True)
class MissedExample:
    """A call where the item went wrong: where, and what was said (the evidence, if any)."""

    call_id: str
    agent_id: str
    started_at: str | None
    status: str
    start_s: float | None
    end_s: float | None
    quote: str
    overridden: bool = False  # the status is a reviewer's


@dataclass(frozen=True)
class MissedItem:
    item_id: str
    kind: str
    section: str | None
    critical: bool
    misses: int  # calls where it was missed, partial or violated
    applicable: int

    examples: tuple[MissedExample, ...] = ()

    @property
    def rate(self) -> float | None:
        return self.misses / self.applicable if self.applicable else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.misses, self.applicable) if self.applicable else None


def most_missed(calls: Iterable[StoredCall], *, limit: int = 5, examples: int = 3) -> list[MissedItem]:
    """The items that went wrong in the most calls (then the highest share, then id), each with up to
    `examples` of those calls, the latest first."""
    rows: dict[tuple[str, str], list[tuple[StoredCall, ItemResult]]] = {}
    applicable: Counter = Counter()
    meta: dict[tuple[str, str], ItemResult] = {}
    for call in calls:
        for r in call.results:
            key = (r.item_id, r.kind)
            meta.setdefault(key, r)
            if r.status != "not_applicable":
                applicable[key] += 1
            if r.status in GAP_STATUSES:
                rows.setdefault(key, []).append((call, r))
    ranked = sorted(rows, key=lambda k: (-len(rows[k]), -len(rows[k]) / applicable[k], k[0], k[1]))[:limit]
    out = []
    for key in ranked:
        hits = sorted(rows[key], key=lambda cr: (cr[0].started_at or "", cr[0].call_id), reverse=True)
        m = meta[key]
        out.append(MissedItem(
            item_id=key[0], kind=key[1], section=m.section, critical=m.critical, misses=len(rows[key]),
            applicable=applicable[key],
            examples=tuple(MissedExample(call_id=c.call_id, agent_id=c.agent_id, started_at=c.started_at,
                                         status=r.status, start_s=r.start_s, end_s=r.end_s, quote=r.evidence,
                                         overridden=c.override_of(r) is not None)
                           for c, r in hits[:examples]),
        ))
    return out
