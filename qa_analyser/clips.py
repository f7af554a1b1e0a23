"""Coaching clips: for the items an agent misses most, the stretch of each example call where the item
was said (its evidence) or, for a missed item, where it was expected, cut from the recording and written
as WAV files beside the HTML report (owner-only), for the report's <audio> elements.

Where a missed item was expected is estimated from the script's order: after the last item before it
that was heard, and before the first item after it that was heard (the stored verdicts are in script
order, with their times).
"""

from __future__ import annotations

import logging
import os
import re
import urllib.parse
import wave
from collections.abc import Mapping, Sequence
from pathlib import Path

from .datatypes import StoredCall
from .errors import AudioError
from .report import Clip, GroupReport

__all__ = ["clip_window", "example_calls", "write_clips"]

log = logging.getLogger("qa_analyser")

PAD_S = 1.0  # around the evidence
EXPECTED_S = 15.0  # the longest stretch played for a missed item
MIN_S = 3.0
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def clip_window(call: StoredCall, item_id: str, *, pad: float = PAD_S,
                longest: float = EXPECTED_S) -> tuple[str, float, float] | None:
    """("evidence" | "expected", start, end) in seconds for one item of a call; None when the item is
    not in the call or nothing can be estimated."""
    results = list(call.results)
    index = next((i for i, r in enumerate(results) if r.item_id == item_id and r.kind != "prohibited"), None)
    if index is None:
        index = next((i for i, r in enumerate(results) if r.item_id == item_id), None)
    if index is None:
        return None
    duration = call.duration_s
    r = results[index]
    if r.start_s is not None and r.end_s is not None:
        end = r.end_s + pad if duration is None else min(duration, r.end_s + pad)
        return "evidence", round(max(0.0, r.start_s - pad), 2), round(end, 2)
    heard = [(i, x) for i, x in enumerate(results) if x.kind != "prohibited" and x.start_s is not None
             and x.end_s is not None]
    before = [x.end_s for i, x in heard if i < index]
    after = [x.start_s for i, x in heard if i > index]
    start = max(before) if before else 0.0
    end = min(after) if after else start + longest
    if duration is not None:
        end = min(end, duration)
    if end - start > longest:
        end = start + longest
    if end - start < MIN_S:
        start, end = max(0.0, start - (MIN_S - (end - start)) / 2), start + MIN_S
        if duration is not None:
            end = min(end, duration)
    if end <= start:
        return None
    return "expected", round(start, 2), round(end, 2)


def _write_wav(path: Path, samples, sample_rate: int) -> None:
    import numpy as np

    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f, wave.open(f, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    os.chmod(path, 0o600)  # an existing file keeps its mode otherwise


def write_clips(report: GroupReport, calls: Mapping[str, StoredCall], html_path: Path, *,
                items: int = 3) -> tuple[list[Clip], list[str]]:
    """Cut a clip for every example call of the report's first `items` most-missed items into the
    folder `<html stem>_clips` beside `html_path`; return the clips and a note for each that could not
    be cut (recording missing or unreadable). Each recording is decoded once."""
    from .audio import decode_audio

    folder = html_path.parent / f"{html_path.stem}_clips"
    clips: list[Clip] = []
    notes: list[str] = []
    decoded: dict[str, object] = {}
    for m in report.missed[:items]:
        for ex in m.examples:
            call = calls.get(ex.call_id)
            window = None if call is None else clip_window(call, m.item_id)
            if call is None or window is None:
                continue
            path = call.info.path
            if path not in decoded:
                try:
                    decoded[path] = decode_audio(path)
                except (AudioError, OSError) as e:
                    decoded[path] = None
                    notes.append(f"no clip from call {ex.call_id}: its recording {call.info.file} cannot be read ({e})")
                    log.warning("clips: call %s: %s", ex.call_id, e)
            audio = decoded[path]
            if audio is None:
                continue
            kind, start, end = window
            samples = audio.mono()[int(start * audio.sample_rate):int(end * audio.sample_rate)]
            if not len(samples):
                continue
            folder.mkdir(mode=0o700, exist_ok=True)
            name = f"{len(clips) + 1:02d}-{_UNSAFE.sub('_', m.item_id)}-{_UNSAFE.sub('_', ex.call_id)}.wav"
            _write_wav(folder / name, samples, audio.sample_rate)
            clips.append(Clip(item_id=m.item_id, call_id=ex.call_id, kind=kind, start_s=start, end_s=end,
                              href=urllib.parse.quote(f"{folder.name}/{name}")))
    return clips, notes


def example_calls(report: GroupReport, calls: Sequence[StoredCall]) -> dict[str, StoredCall]:
    """The report's example calls by id (for write_clips)."""
    wanted = {ex.call_id for m in report.missed for ex in m.examples}
    return {c.call_id: c for c in calls if c.call_id in wanted}
