"""The combiner: logistic models over the signals (features.py) that replace hand-set thresholds.

Four models, each a logistic regression over a few named features (standardised), with a decision
threshold:

- ``said``: does this unit say this item's line? (unit level; an item is said when its best claimed
  unit reaches the threshold);
- ``met``: given that the item was said, was all of it said (met) or only part (partial)?
- ``trigger``: did the customer say a conditional item's trigger (best non-negated customer unit)?
- ``prohibited``: did the agent say a prohibited line (best non-negated, non-quoted unit)?

The coefficients live in ``combiner.json`` beside this file, written by
``benchmarks/train_combiner.py`` from labelled calls and validated there leave-one-script-out; the
file records what it was trained on. Without the embedding model, the ``*_nosem`` variants (the same
models without ``cos``) are used.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from .features import COL

__all__ = ["Combiner", "LogisticModel", "load_combiner"]

_FILE = "combiner.json"


@dataclass(frozen=True)
class LogisticModel:
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float = 0.5

    def columns(self) -> list[int]:
        return [COL[f] for f in self.features]

    def log_odds(self, values: np.ndarray) -> np.ndarray:
        """The model's log-odds for rows of feature values (all FEATURES columns, [n, len(FEATURES)]);
        unlike probabilities they do not saturate, so they also rank near-certain candidates."""
        x = np.asarray(values, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        z = (x[:, self.columns()] - np.array(self.mean)) / np.array(self.scale)
        return z @ np.array(self.coef) + self.intercept

    def probability(self, values: np.ndarray) -> np.ndarray:
        """P(positive) for rows of feature values (all FEATURES columns, [n, len(FEATURES)])."""
        return 1.0 / (1.0 + np.exp(-self.log_odds(values)))

    def as_dict(self) -> dict:
        return {"features": list(self.features), "mean": list(self.mean), "scale": list(self.scale),
                "coef": list(self.coef), "intercept": self.intercept, "threshold": self.threshold}

    @classmethod
    def from_dict(cls, d: dict) -> LogisticModel:
        return cls(tuple(d["features"]), tuple(d["mean"]), tuple(d["scale"]), tuple(d["coef"]),
                   float(d["intercept"]), float(d.get("threshold", 0.5)))


@dataclass(frozen=True)
class Combiner:
    models: dict[str, LogisticModel]
    trained_on: str = ""  # what the coefficients were fitted on (for the record)

    def model(self, name: str, *, semantic: bool = True) -> LogisticModel:
        if not semantic and f"{name}_nosem" in self.models:
            return self.models[f"{name}_nosem"]
        return self.models[name]

    def as_dict(self) -> dict:
        return {"trained_on": self.trained_on, "models": {k: m.as_dict() for k, m in sorted(self.models.items())}}

    def checksum(self) -> str:
        """sha256 of the coefficients (part of the matcher's fingerprint)."""
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()

    @classmethod
    def from_dict(cls, d: dict) -> Combiner:
        return cls({k: LogisticModel.from_dict(v) for k, v in d["models"].items()}, d.get("trained_on", ""))


_DEFAULT: Combiner | None = None


def load_combiner(path: str | Path | None = None) -> Combiner:
    """The shipped coefficients (cached), or those in `path`."""
    global _DEFAULT
    if path is not None:
        return Combiner.from_dict(json.loads(Path(path).read_text()))
    if _DEFAULT is None:
        text = resources.files(__package__).joinpath(_FILE).read_text()
        _DEFAULT = Combiner.from_dict(json.loads(text))
    return _DEFAULT
