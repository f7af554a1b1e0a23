"""Scoring: item verdicts → a call's 0-100 score and pass/fail; reviewers' overrides applied.

Roll-ups over many calls are in rollup.py.

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

import dataclasses
from collections.abc import Iterable, Sequence

from .datatypes import CallScore, ItemResult, Override

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


# --------------------------------------------------------------------------- reviewers' overrides


def apply_overrides(results: Sequence[ItemResult], overrides: Iterable[Override]
                    ) -> tuple[tuple[ItemResult, ...], dict[int, Override]]:
    """The effective verdicts: each overridden verdict takes the reviewer's status (its evidence is
    kept); also which override was applied at which position. Overrides of items the results do not
    have are left out."""
    by_item = {(o.item_id, o.kind): o for o in overrides}
    out, applied = [], {}
    for position, r in enumerate(results):
        o = by_item.get((r.item_id, r.kind)) or by_item.get((r.item_id, None))
        if o is None:
            out.append(r)
            continue
        out.append(dataclasses.replace(r, status=o.status))
        applied[position] = o
    return tuple(out), applied
