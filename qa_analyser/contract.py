"""The outsourcing contract's service levels: targets per vendor in a YAML file, judged week by week.

File format (docs/reports.md):

    name: Energy customer service 2026      # optional, shown in reports
    min_calls: 20                            # optional (default 1): a week with fewer calls is not judged
    targets:                                 # every vendor; each one is "at least"
      critical_compliance: 0.95              # share of critical items and rules complied with (0-1)
      mean_score: 85                         # mean call score (0-100)
    vendors:                                 # optional: a vendor's own targets replace those keys
      eastgate:
        mean_score: 80

Metrics: `mean_score` (0-100), `pass_rate`, `compliance`, `critical_compliance` (0-1), as
rollup.Figures computes them from the effective verdicts (reviewers' overrides applied).

`load_contract` reads and checks the file (`ConfigError` naming the file and the key);
`evaluate` is pure: `StoredCall`s and a `Contract` in, one `SlaResult` per vendor, week and metric out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from .datatypes import StoredCall
from .errors import ConfigError
from .rollup import Figures, weekly

__all__ = ["METRICS", "Contract", "SlaResult", "evaluate", "load_contract"]

METRICS: dict[str, tuple[float, float, str]] = {  # name: (lowest, highest, in words)
    "mean_score": (0.0, 100.0, "mean call score"),
    "pass_rate": (0.0, 1.0, "share of calls passed"),
    "compliance": (0.0, 1.0, "share of applicable items complied with"),
    "critical_compliance": (0.0, 1.0, "share of critical items and rules complied with"),
}
_KEYS = ("name", "min_calls", "targets", "vendors")


@dataclass(frozen=True)
class Contract:
    targets: tuple[tuple[str, float], ...]  # (metric, at least), for every vendor
    vendors: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = ()  # a vendor's own targets
    name: str = ""
    min_calls: int = 1
    path: str = ""

    def targets_for(self, vendor: str) -> dict[str, float]:
        out = dict(self.targets)
        out.update(dict(self.vendors).get(vendor, ()))
        return out


@dataclass(frozen=True)
class SlaResult:
    vendor: str
    week: str  # Monday of the ISO week, YYYY-MM-DD
    metric: str
    target: float  # at least
    actual: float | None  # None: nothing to measure (no critical item in the week's calls)
    calls: int
    judged: bool  # enough calls (contract min_calls) and something to measure

    @property
    def breached(self) -> bool:
        return self.judged and self.actual is not None and self.actual < self.target


def _targets(value: object, where: str) -> tuple[tuple[str, float], ...]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected metric: value pairs (metrics: {', '.join(METRICS)})")
    out = []
    for metric, target in value.items():
        if metric not in METRICS:
            raise ConfigError(f"{where}.{metric}: unknown metric (expected one of {', '.join(METRICS)})")
        low, high, words = METRICS[metric]
        if isinstance(target, bool) or not isinstance(target, (int, float)) or not low <= target <= high:
            raise ConfigError(f"{where}.{metric}: {target!r} is not a {words} between {low:g} and {high:g}")
        out.append((str(metric), float(target)))
    return tuple(out)


def load_contract(path: str | Path) -> Contract:
    """Read and check a contract file; `ConfigError` naming the file and the key that is wrong."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read contract file {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: YAML syntax error: {getattr(e, 'problem', None) or e}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping with 'targets' (see docs/reports.md)")
    unknown = [k for k in data if k not in _KEYS]
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(map(str, unknown))} (expected {', '.join(_KEYS)})")
    if "targets" not in data:
        raise ConfigError(f"{path}: no 'targets' (e.g. targets: {{critical_compliance: 0.95, mean_score: 85}})")
    targets = _targets(data["targets"], f"{path}: targets")
    vendors = data.get("vendors") or {}
    if not isinstance(vendors, Mapping):
        raise ConfigError(f"{path}: vendors: expected vendor: {{metric: value}} pairs")
    min_calls = data.get("min_calls", 1)
    if isinstance(min_calls, bool) or not isinstance(min_calls, int) or min_calls < 1:
        raise ConfigError(f"{path}: min_calls: {min_calls!r} is not a whole number of calls of at least 1")
    return Contract(
        targets=targets,
        vendors=tuple((str(v), _targets(t, f"{path}: vendors.{v}")) for v, t in vendors.items()),
        name=str(data.get("name") or ""), min_calls=min_calls, path=str(path),
    )


def _actual(f: Figures, metric: str) -> float | None:
    return getattr(f, metric)


def evaluate(calls: Iterable[StoredCall], contract: Contract) -> list[SlaResult]:
    """Every vendor's figures per ISO week against its targets, by vendor, week, then metric in the
    contract's order. Calls without a vendor or a start time are left out."""
    by_vendor: dict[str, list[StoredCall]] = {}
    for call in calls:
        if call.vendor:
            by_vendor.setdefault(call.vendor, []).append(call)
    out = []
    for vendor in sorted(by_vendor):
        targets = contract.targets_for(vendor)
        for point in weekly(by_vendor[vendor]):
            f = point.figures
            for metric, target in targets.items():
                actual = _actual(f, metric)
                out.append(SlaResult(vendor=vendor, week=point.week, metric=metric, target=target, actual=actual,
                                     calls=f.calls, judged=f.calls >= contract.min_calls and actual is not None))
    return out
