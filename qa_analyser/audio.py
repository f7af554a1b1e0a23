"""Decode recordings to 16 kHz float32 per channel, validate them, and find speech by energy.

PyAV is used directly (no faster_whisper import here). Channels are kept separate: on a stereo call
each party has its own channel and the transcriber labels them agent / customer.

`speech_regions` is an energy gate for one channel. It exists because Silero VAD (faster-whisper's
built-in filter) drops much of the speech on band-limited, per-channel telephone recordings; see
docs/asr.md and benchmarks/speech_kept.py for the measurements.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from .errors import AudioError

__all__ = ["SAMPLE_RATE", "MIN_DURATION_S", "AudioData", "decode_audio", "speech_regions"]

log = logging.getLogger("qa_analyser")

SAMPLE_RATE = 16000
MIN_DURATION_S = 0.5
# A decoded stream this much shorter than its container declares is treated as truncated.
_TRUNCATION_TOLERANCE = 0.8
_MAX_BAD_PACKETS = 10


@dataclass(frozen=True)
class AudioData:
    """A decoded recording: one float32 array per channel, all at `sample_rate`."""

    channels: tuple[np.ndarray, ...]
    sample_rate: int = SAMPLE_RATE
    duration_s: float = 0.0
    source_channels: int = 1  # how many channels the file had
    path: str = ""

    @property
    def is_stereo(self) -> bool:
        return len(self.channels) >= 2

    def mono(self) -> np.ndarray:
        """The channels mixed down to one (the mean, so a loud party is not clipped)."""
        if len(self.channels) == 1:
            return self.channels[0]
        return np.mean(np.stack(self.channels), axis=0).astype(np.float32)


def decode_audio(path: str | os.PathLike[str]) -> AudioData:
    """Decode a recording (wav, flac, mp3, ogg, opus, m4a; any rate; mono or stereo) to 16 kHz.

    MP3 encoder delay and padding are honoured the way ffmpeg (and faster_whisper.decode_audio) do,
    so time 0 is the first real sample. Raises AudioError naming the file for an empty, truncated,
    corrupt or non-audio file and for audio shorter than MIN_DURATION_S.
    """
    import av  # heavy: imported where needed

    name = os.fspath(path)
    try:
        size = os.path.getsize(name)
    except OSError as exc:
        raise AudioError(f"{name}: cannot read the file ({exc.strerror or exc})") from exc
    if size == 0:
        raise AudioError(f"{name}: the file is empty (0 bytes)")

    try:
        container = av.open(name, mode="r", metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise AudioError(f"{name}: not a readable audio file ({_reason(exc)})") from exc
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise AudioError(f"{name}: cannot open the file ({exc})") from exc

    try:
        with container:
            if not container.streams.audio:
                raise AudioError(f"{name}: the file has no audio stream")
            stream = container.streams.audio[0]
            source_channels = int(stream.codec_context.channels or 0) or 1
            declared_s = _declared_duration(container, stream)
            if container.format.name == "wav":
                _check_wav_data_size(name, size)
            samples, bad = _decode_stream(container, stream, source_channels, name)
    except AudioError:
        raise
    except av.FFmpegError as exc:
        raise AudioError(f"{name}: corrupt or truncated audio ({_reason(exc)})") from exc
    except (OSError, ValueError, RuntimeError, MemoryError) as exc:
        raise AudioError(f"{name}: cannot decode the audio ({exc})") from exc

    n = samples.shape[1] if samples.size else 0
    duration_s = n / SAMPLE_RATE
    if n == 0:
        if bad:
            raise AudioError(f"{name}: corrupt audio: no frame could be decoded ({bad} bad packets)")
        raise AudioError(f"{name}: the file contains no audio samples (zero length)")
    if bad > _MAX_BAD_PACKETS:
        raise AudioError(f"{name}: corrupt audio: {bad} packets could not be decoded")
    if declared_s is not None and declared_s > 1.0 and duration_s < _TRUNCATION_TOLERANCE * declared_s:
        raise AudioError(
            f"{name}: truncated audio: decoded {duration_s:.2f} s of the {declared_s:.2f} s "
            "the file declares"
        )
    if duration_s < MIN_DURATION_S:
        raise AudioError(
            f"{name}: audio too short ({duration_s:.2f} s; at least {MIN_DURATION_S} s needed)"
        )
    if bad:
        log.warning("%s: skipped %d undecodable packet(s)", name, bad)

    channels = tuple(np.ascontiguousarray(samples[i], dtype=np.float32) for i in range(samples.shape[0]))
    return AudioData(
        channels=channels,
        sample_rate=SAMPLE_RATE,
        duration_s=duration_s,
        source_channels=source_channels,
        path=name,
    )


def _decode_stream(container, stream, source_channels: int, name: str) -> tuple[np.ndarray, int]:
    """Decode and resample every frame; returns (channels x samples float32, bad packet count)."""
    import av

    layout = "mono" if source_channels == 1 else "stereo"  # >2 channels: ffmpeg's stereo downmix
    out_channels = 1 if layout == "mono" else 2
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    bad = 0

    def consume(frames) -> None:
        for f in frames:
            arr = f.to_ndarray()
            if arr.ndim == 1:
                arr = arr.reshape(out_channels, -1)
            chunks.append(arr.astype(np.float32, copy=False))

    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.InvalidDataError:
            bad += 1
            if bad > _MAX_BAD_PACKETS:
                break
            continue
        for frame in frames:
            consume(resampler.resample(frame))
    consume(resampler.resample(None))  # flush
    del resampler
    if not chunks:
        return np.zeros((out_channels, 0), dtype=np.float32), bad
    return np.concatenate(chunks, axis=1), bad


def _declared_duration(container, stream) -> float | None:
    """Duration the container or stream header declares, if any (used to spot truncation)."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # av.time_base
    return None


def _check_wav_data_size(name: str, size: int) -> None:
    """ffmpeg sizes a WAV by the file, not by its header; compare the two to spot a cut file."""
    import struct

    try:
        with open(name, "rb") as fh:
            head = fh.read(65536)
    except OSError:
        return
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
        return
    pos = 12
    while pos + 8 <= len(head):
        chunk, length = head[pos : pos + 4], struct.unpack("<I", head[pos + 4 : pos + 8])[0]
        if chunk == b"data":
            available = size - (pos + 8)
            # 0 and 0xFFFFFFFF mean "unknown length" (streamed writers); trust the file then.
            if 0 < length < 0xFFFFFFFF and available < _TRUNCATION_TOLERANCE * length:
                raise AudioError(
                    f"{name}: truncated audio: the WAV header declares {length} bytes of samples, "
                    f"the file holds {max(0, available)}"
                )
            return
        pos += 8 + length + (length & 1)


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(": '")[0]


# --------------------------------------------------------------------------- speech by energy


def speech_regions(
    samples: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    *,
    frame_s: float = 0.02,
    hop_s: float = 0.01,
    threshold_db: float | None = None,
    min_margin_db: float = 6.0,
    max_margin_db: float = 12.0,
    absolute_floor_db: float = -65.0,
    pad_before_s: float = 0.25,
    pad_after_s: float = 0.4,
    min_speech_s: float = 0.08,
    merge_gap_s: float = 0.5,
) -> list[tuple[float, float]]:
    """Stretches of one channel loud enough above its noise floor to hold speech, in seconds.

    Frame RMS (dBFS) is compared with a threshold set between the recording's noise floor (10th
    percentile of frame levels) and its speech level (95th percentile): `min_margin_db` to
    `max_margin_db` above the floor, never below `absolute_floor_db`. Active runs shorter than
    `min_speech_s` are dropped (clicks), the rest padded (`pad_before_s`, `pad_after_s`, so soft
    onsets and trailing consonants stay) and merged when closer than `merge_gap_s`. Tuned to keep
    all speech: quiet noise is cheap for the recogniser, a lost word is not.
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError("speech_regions takes one channel (a 1-D array)")
    duration = len(x) / sample_rate
    frame = max(1, int(round(frame_s * sample_rate)))
    hop = max(1, int(round(hop_s * sample_rate)))
    if len(x) < frame:
        return []

    n_frames = 1 + (len(x) - frame) // hop
    # Frame energy from a cumulative sum: O(n), no (frames x frame) matrix.
    csum = np.concatenate(([0.0], np.cumsum(x.astype(np.float64) ** 2)))
    starts = np.arange(n_frames) * hop
    energy = (csum[starts + frame] - csum[starts]) / frame
    level = 10.0 * np.log10(np.maximum(energy, 1e-12))  # dBFS; digital silence = -120

    if threshold_db is None:
        audible = level[level > -100.0]  # ignore digital zeros when estimating the floor
        if audible.size == 0:
            return []
        floor = float(np.percentile(audible, 10))
        peak = float(np.percentile(audible, 95))
        margin = float(np.clip(0.3 * (peak - floor), min_margin_db, max_margin_db))
        threshold_db = max(floor + margin, absolute_floor_db)
        if peak < threshold_db:
            return []
    active = level > threshold_db

    # Runs of active frames → (start_frame, end_frame_exclusive).
    edges = np.diff(np.concatenate(([0], active.astype(np.int8), [0])))
    run_starts = np.flatnonzero(edges == 1)
    run_ends = np.flatnonzero(edges == -1)

    regions: list[tuple[float, float]] = []
    for a, b in zip(run_starts, run_ends):
        start = a * hop / sample_rate
        end = ((b - 1) * hop + frame) / sample_rate
        if end - start < min_speech_s:
            continue
        start = max(0.0, start - pad_before_s)
        end = min(duration, end + pad_after_s)
        if regions and start - regions[-1][1] < merge_gap_s:
            regions[-1] = (regions[-1][0], max(regions[-1][1], end))
        else:
            regions.append((start, end))
    return [(round(float(a), 3), round(float(b), 3)) for a, b in regions]
