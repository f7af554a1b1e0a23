"""Scoring: item verdicts → a call's 0-100 score and pass/fail; roll-ups per agent, team, vendor.

The rule (also in README):

* every required or conditional item contributes its weight to the *possible* points, except
  ``not_applicable`` items, which are left out of the denominator;
* ``met`` earns the full weight, ``partial`` earns ``PARTIAL_CREDIT`` (half) of it, ``missed`` nothing;
  a ``late`` or ``out_of_order`` flag does not change the points (it is reported, not scored);
* every prohibited rule contributes its weight too: earned when not said (``met``), lost when
  ``violated``;
* score = 100 × earned / possible (100 when nothing weighted is applicable: a conditional
  item that did not apply takes nothing away). A script whose weights are all 0 is refused when
  it is loaded (scripts.py), so it cannot score every call 100;
* ``passed`` is false when any critical item is ``missed`` or any critical prohibited rule is
  ``violated`` (docs/interfaces.md), whatever the score, and when the score is below the script's
  optional ``pass_mark`` (0-100; ``below_pass_mark`` says so).

Pure: dataclasses in, dataclasses out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .datatypes import CallScore, ItemResult

PARTIAL_CREDIT = 0.5
SCORING_VERSION = "weighted-1"


def item_points(result: ItemResult) -> tuple[float, float]:
    """(earned, possible) points of one verdict."""
    if result.status == "not_applicable":
        return 0.0, 0.0
    weight = float(result.weight)
    if result.kind == "prohibited":
        return (0.0 if result.status == "violated" else weight), weight
    if result.status == "met":
        return weight, weight
    if result.status == "partial":
        return weight * PARTIAL_CREDIT, weight
    return 0.0, weight


def is_critical_failure(result: ItemResult) -> bool:
    if not result.critical:
        return False
    if result.kind == "prohibited":
        return result.status == "violated"
    return result.status == "missed"


def score_call(results: Sequence[ItemResult], *, pass_mark: float | None = None) -> CallScore:
    """Weighted score and pass/fail of one call from its item verdicts (`pass_mark`: the script's)."""
    earned = possible = 0.0
    for r in results:
        e, p = item_points(r)
        earned += e
        possible += p
    critical = tuple(r.item_id for r in results if is_critical_failure(r))
    score = 100.0 if possible == 0 else round(100.0 * earned / possible, 1)
    below = pass_mark is not None and score < pass_mark
    return CallScore(score=score, passed=not critical and not below, earned=earned, possible=possible,
                     critical_failures=critical, below_pass_mark=below)


# --------------------------------------------------------------------------- roll-ups


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

    @property
    def compliance(self) -> float | None:
        """Share of applicable calls that complied (met; partial counts half; prohibited: not violated)."""
        if not self.applicable:
            return None
        if self.kind == "prohibited":
            return (self.applicable - self.violated) / self.applicable
        return (self.met + PARTIAL_CREDIT * self.partial) / self.applicable


@dataclass(frozen=True)
class GroupSummary:
    """Scores of one agent, team or vendor."""

    group: str
    calls: int
    mean_score: float | None
    pass_rate: float | None
    items: tuple[ItemRate, ...] = field(default=())


def item_rates(calls: Iterable[Mapping]) -> list[ItemRate]:
    """Per-item counts over exported calls (docs/interfaces.md dicts), in first-seen item order."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for call in calls:
        for it in call.get("items", []):
            c = counts.setdefault((it["item_id"], it["kind"]), dict.fromkeys(
                ("met", "partial", "missed", "violated", "not_applicable"), 0))
            c[it["status"]] = c.get(it["status"], 0) + 1
    return [
        ItemRate(item_id=i, kind=k, applicable=sum(v for s, v in c.items() if s != "not_applicable"), **c)
        for (i, k), c in counts.items()
    ]


def roll_up(calls: Iterable[Mapping], *, by: str) -> list[GroupSummary]:
    """Group exported calls by a key (``agent_id``, ``team``, ``vendor``, ...) and summarise each group."""
    groups: dict[str, list[Mapping]] = {}
    for call in calls:
        groups.setdefault(str(call.get(by) or "unknown"), []).append(call)
    out = []
    for name in sorted(groups):
        members = groups[name]
        scores = [float(c["score"]) for c in members if c.get("score") is not None]
        passed = [bool(c["passed"]) for c in members if c.get("passed") is not None]
        out.append(GroupSummary(
            group=name,
            calls=len(members),
            mean_score=round(sum(scores) / len(scores), 1) if scores else None,
            pass_rate=round(sum(passed) / len(passed), 3) if passed else None,
            items=tuple(item_rates(members)),
        ))
    return out
