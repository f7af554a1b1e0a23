"""Flags on verdicts: out_of_order, and low_confidence where a verdict rests on poor audio.

low_confidence separates "not heard" from "not said": a met or partial verdict whose evidence words
were heard poorly, or a missed item where the speech in which it was expected was heard poorly or
holds a long stretch without any recognised word. (The matcher also sets it when the agent's name
was not heard.) Linear in the call's words and the script's items.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from ..datatypes import Item, ItemResult, Transcript, Word
from .speech import Speech

__all__ = ["flag_low_confidence", "flag_order", "poorly_heard"]

_LOW_PROB_MEAN = 0.5  # mean word probability of the evidence (or of the expected region) below this
_LOW_PROB_WORD = 0.3  # a word below this is "poorly heard" ...
_LOW_PROB_SHARE = 0.4  # ... and this share of such words in the evidence / region flags it
_GAP_S = 12.0  # a stretch this long without any recognised word where a missed item was expected
_FOUND = ("met", "partial")


def poorly_heard(words: Sequence[Word]) -> str | None:
    """Why these words were heard poorly (mean or share of low word probabilities), else None."""
    if not words:
        return None
    probs = np.array([w.probability for w in words], dtype=np.float32)
    mean, low = float(probs.mean()), float((probs < _LOW_PROB_WORD).mean())
    if mean < _LOW_PROB_MEAN or low >= _LOW_PROB_SHARE:
        return (f"low recogniser confidence (mean word probability {mean:.2f}, {low:.0%} of words below "
                f"{_LOW_PROB_WORD})")
    return None


class _Timeline:
    """Word start times for range queries in O(log n)."""

    def __init__(self, words: Sequence[Word]) -> None:
        self.words = sorted(words, key=lambda w: w.start)
        self.starts = [w.start for w in self.words]

    def between(self, t0: float, t1: float) -> Sequence[Word]:
        return self.words[bisect.bisect_left(self.starts, t0) : bisect.bisect_left(self.starts, t1)]


def _region_quality(everyone: _Timeline, speaker: _Timeline, t0: float, t1: float) -> str | None:
    if t1 - t0 <= 0:
        return None
    mine = speaker.between(t0, t1)
    if len(mine) >= 3:
        why = poorly_heard(mine)
        if why:
            return why
    times = [t0] + [x for w in everyone.between(t0, t1) for x in (w.start, w.end)] + [t1]
    gap = max((b - a for a, b in zip(times[::2], times[1::2])), default=0.0)
    if gap >= _GAP_S:
        return f"{gap:.0f} s without recognised speech where it was expected"
    return None


def flag_low_confidence(items: Sequence[Item], results: dict[str, ItemResult], transcript: Transcript,
                        speech_of: Callable[[str], Speech]) -> None:
    """Add low_confidence where a verdict rests on poor audio (in place).

    A missed item's expected region runs from the end of the nearest found item before it (script
    order) to the start of the nearest found item after it, and ends at `within_seconds` when it has one.
    """
    everyone = _Timeline(transcript.words())
    timelines: dict[int, _Timeline] = {}
    order = list(items)
    # nearest found item before / after each position, in one pass each way
    before: list[float] = []
    last = 0.0
    for item in order:
        before.append(last)
        res = results[item.id]
        if res.status in _FOUND and res.end_s is not None:
            last = max(last, res.end_s)
    after: list[float] = [transcript.duration_s] * len(order)
    nxt = transcript.duration_s
    for n in range(len(order) - 1, -1, -1):
        after[n] = nxt
        res = results[order[n].id]
        if res.status in _FOUND and res.start_s is not None:
            nxt = min(nxt, res.start_s)
    for n, item in enumerate(order):
        res = results[item.id]
        speech = speech_of(item.speaker)
        line = timelines.setdefault(id(speech), _Timeline(speech.words))
        why = None
        if res.status in _FOUND and res.start_s is not None and res.end_s is not None:
            why = poorly_heard([w for w in line.between(res.start_s, res.end_s + 1e-6) if w.end <= res.end_s + 1e-6])
        elif res.status == "missed":
            t0 = before[n]
            t1 = after[n] if after[n] >= t0 else transcript.duration_s
            if item.within_seconds is not None:
                t1 = min(t1, item.within_seconds)
            why = _region_quality(everyone, line, t0, t1)
        if why and "low_confidence" not in res.flags:
            results[item.id] = replace(res, flags=(*res.flags, "low_confidence"),
                                       detail=f"{res.detail}; low_confidence: {why}".lstrip("; "))


def flag_order(items: Sequence[Item], results: dict[str, ItemResult]) -> None:
    """Add out_of_order when an item's match starts before the match of its `after` item (in place)."""
    for item in items:
        res = results[item.id]
        other = results.get(item.after) if item.after else None
        if other is None or res.status not in _FOUND or other.status not in _FOUND:
            continue
        if res.start_s is not None and other.start_s is not None and res.start_s < other.start_s:
            detail = f"{res.detail}; before {item.after!r} ({res.start_s:.1f}s < {other.start_s:.1f}s)".lstrip("; ")
            results[item.id] = replace(res, flags=(*res.flags, "out_of_order"), detail=detail)
