"""Geometry of the pages' inline SVG charts (pure): the templates only draw what this computes, so
no script and no outside resource is needed to show a chart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Chart", "Series", "trend_chart"]


@dataclass(frozen=True)
class Series:
    name: str
    points: str  # "x,y x,y ..." for <polyline>; weeks without a value are skipped
    dots: tuple[tuple[float, float, str], ...]  # (x, y, value shown on hover)


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    bottom: int
    series: tuple[Series, ...]
    x_labels: tuple[tuple[float, str], ...]
    y_ticks: tuple[tuple[float, str], ...]


def trend_chart(labels: Sequence[str], series: dict[str, Sequence[float | None]], *, width: int = 640,
                height: int = 200, top_value: float = 100.0) -> Chart:
    """A line per series over the labels (weeks), values from 0 to `top_value`."""
    left, right, top, bottom = 36, 10, 10, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(1, len(labels) - 1)

    def x(i: int) -> float:
        return round(left + (i * step if len(labels) > 1 else plot_w / 2), 1)

    def y(v: float) -> float:
        return round(top + plot_h * (1 - max(0.0, min(v, top_value)) / top_value), 1)

    out = []
    for name, values in series.items():
        dots = tuple((x(i), y(v), f"{labels[i]}: {v:.1f}") for i, v in enumerate(values) if v is not None)
        out.append(Series(name=name, points=" ".join(f"{dx},{dy}" for dx, dy, _ in dots), dots=dots))
    every = max(1, len(labels) // 8)  # at most about eight week labels
    return Chart(
        width=width, height=height, left=left, bottom=height - bottom, series=tuple(out),
        x_labels=tuple((x(i), label) for i, label in enumerate(labels) if i % every == 0),
        y_ticks=tuple((y(v), f"{v:g}") for v in (0, top_value / 2, top_value)),
    )
