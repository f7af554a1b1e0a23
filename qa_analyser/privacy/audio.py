"""A copy of a recording with the redacted stretches bleeped (`qa run --redact-audio DIR`).

The decoded audio (16 kHz, every channel) is written as 16-bit PCM WAV with each redacted word's
time range (padded) replaced by a quiet 1 kHz tone on every channel, so neither side's microphone
leaks the value. The ranges come from the placeholders in the redacted transcript, so a stored
transcript gives the same ranges as a fresh one. Files are created owner-only (0600).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import wave
from pathlib import Path

import numpy as np

from ..datatypes import Transcript
from ..errors import QAError
from .redact import is_placeholder

__all__ = ["bleeped", "redacted_ranges", "redacted_audio_file", "redacted_wav_bytes", "write_redacted_audio"]

PAD_S = 0.15  # recogniser word times are approximate: cover a little either side
_TONE_HZ = 1000.0
_TONE_LEVEL = 0.1


def redacted_ranges(transcript: Transcript, *, pad_s: float = PAD_S) -> list[tuple[float, float]]:
    """Merged (start, end) seconds of every redacted word."""
    spans = sorted((max(0.0, w.start - pad_s), w.end + pad_s) for seg in transcript.segments for w in seg.words
                   if is_placeholder(w.text))
    merged: list[tuple[float, float]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def redacted_audio_file(folder: str | os.PathLike[str], call_id: str) -> Path:
    """Where a call's redacted copy goes: a file name made safe from the call id, unique per call id."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", call_id).strip("._")[:80] or "call"
    digest = hashlib.sha256(call_id.encode()).hexdigest()[:8]
    return Path(folder) / f"{safe}-{digest}.redacted.wav"


def bleeped(channels, rate: int, ranges: list[tuple[float, float]]) -> list[np.ndarray]:
    """Copies of `channels` (float arrays at `rate`) with every range replaced by the bleep."""
    out = [np.array(c, dtype=np.float32, copy=True) for c in channels]
    for a, b in ranges:
        i, j = int(a * rate), min(int(b * rate), len(out[0]))
        if j <= i:
            continue
        tone = (_TONE_LEVEL * np.sin(2 * np.pi * _TONE_HZ * np.arange(j - i) / rate)).astype(np.float32)
        for c in out:
            c[i:j] = tone
    return out


def redacted_wav_bytes(audio, ranges: list[tuple[float, float]]) -> bytes:
    """`audio` (audio.AudioData) with `ranges` bleeped, as the bytes of a 16-bit PCM WAV file."""
    channels = bleeped(audio.channels, audio.sample_rate, ranges)
    pcm = (np.clip(np.stack(channels, axis=1), -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(len(channels))
        w.setsampwidth(2)
        w.setframerate(audio.sample_rate)
        w.writeframes(pcm.tobytes())
    return buffer.getvalue()


def write_redacted_audio(audio, ranges: list[tuple[float, float]], out: str | os.PathLike[str]) -> Path:
    """Write `audio` (audio.AudioData) with `ranges` bleeped, as a 0600 WAV file (replaced atomically)."""
    out = Path(out)
    try:
        out.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise QAError(f"cannot create the redacted audio folder {out.parent}: {e.strerror or e}") from e
    data = redacted_wav_bytes(audio, ranges)
    tmp = out.with_name(out.name + ".part")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise QAError(f"cannot write the redacted audio {out}: {e.strerror or e}") from e
    return out
