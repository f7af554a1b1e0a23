"""Decode recordings to 16 kHz float32 per channel, validate them, and find speech by energy.

PyAV is used directly (no faster_whisper import here). Channels are kept separate: on a stereo call
each party has its own channel and the transcriber labels them agent / customer.

What a recording may be (anything else is an `AudioError` naming the file and the problem, so
the run stores a failure and goes on):

* a sample rate from `MIN_SAMPLE_RATE` to `MAX_SAMPLE_RATE` (4-192 kHz) and 1 to `MAX_CHANNELS`
  channels, as its header declares them;
* at most `MAX_DURATION_S` (4 hours) long. Decoding stops there, so a file whose header lies
  cannot make the decoder fill memory: a decoded call holds at most 4 h × 16,000 samples × 4 bytes
  per channel (0.9 GB per channel), written in place as it is decoded;
* complete: a WAV or FLAC shorter than its header declares, or an Ogg file whose last page is cut
  or does not end the stream, is truncated.

`speech_regions` is an energy gate for one channel. It exists because Silero VAD (faster-whisper's
built-in filter) drops much of the speech on band-limited, per-channel telephone recordings; see
docs/asr.md and benchmarks/speech_kept.py for the measurements.
"""

from __future__ import annotations

import logging
import math
import os
import stat
import struct
from dataclasses import dataclass

import numpy as np

from .errors import AudioError
from .paths import display_path

__all__ = [
    "MAX_CHANNELS",
    "MAX_DURATION_S",
    "MAX_SAMPLE_RATE",
    "MIN_DURATION_S",
    "MIN_SAMPLE_RATE",
    "SAMPLE_RATE",
    "AudioData",
    "decode_audio",
    "speech_regions",
]

log = logging.getLogger("qa_analyser")

SAMPLE_RATE = 16000
MIN_DURATION_S = 0.5
MAX_DURATION_S = 4 * 3600  # the longest call accepted
MIN_SAMPLE_RATE = 4000
MAX_SAMPLE_RATE = 192000
MAX_CHANNELS = 8  # more are mixed down to stereo by ffmpeg; a header declaring thousands is corrupt
# A decoded stream this much shorter than its container declares is treated as truncated.
_TRUNCATION_TOLERANCE = 0.8
_MAX_BAD_PACKETS = 10
_MARGIN = 10 * SAMPLE_RATE  # samples allowed past a declared duration before the arrays grow
_HEAD_BYTES = 65536


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
        # one output array, summed in place: no (channels x samples) stack, no float64 copy
        out = self.channels[0].astype(np.float32, copy=True)
        for channel in self.channels[1:]:
            out += channel
        out *= np.float32(1.0 / len(self.channels))
        return out


def decode_audio(path: str | os.PathLike[str]) -> AudioData:
    """Decode a recording (wav, flac, mp3, ogg, opus, m4a; 4-192 kHz; mono or stereo) to 16 kHz.

    MP3 encoder delay and padding are honoured the way ffmpeg (and faster_whisper.decode_audio) do,
    so time 0 is the first real sample. Raises AudioError naming the file for an empty, truncated,
    corrupt or non-audio file, for a sample rate, channel count or length out of bounds (see the
    module docstring) and for audio shorter than MIN_DURATION_S.
    """
    import av  # heavy: imported where needed

    name = os.fspath(path)
    shown = display_path(name)  # a name that is not UTF-8 is still named, as \xNN
    try:
        info = os.stat(name)
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block the reader forever
            raise AudioError(f"{shown}: not a regular file (a folder, pipe, socket or device)")
        size = info.st_size
        with open(name, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError as exc:
        raise AudioError(f"{shown}: cannot read the file ({exc.strerror or exc})") from None
    if size == 0:
        raise AudioError(f"{shown}: the file is empty (0 bytes)")
    wav_tag = _check_wav_header(shown, head, size)
    if head.startswith(b"OggS"):
        _check_ogg_end(name, shown, size)

    try:
        container = av.open(name, mode="r", metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise AudioError(f"{shown}: not a readable audio file ({_reason(exc)})") from None
    except (OSError, ValueError, UnicodeError) as exc:
        raise AudioError(f"{shown}: cannot open the file ({exc})") from None

    try:
        with container:
            if not container.streams.audio:
                raise AudioError(f"{shown}: the file has no audio stream")
            stream = container.streams.audio[0]
            codec = stream.codec_context
            if codec is None:
                encoding = f" (WAV format tag 0x{wav_tag:04X})" if wav_tag is not None else ""
                raise AudioError(f"{shown}: unsupported or unknown audio encoding{encoding}")
            source_channels = _check_stream(shown, codec)
            declared_s = _declared_duration(container, stream)
            if declared_s is not None and declared_s > MAX_DURATION_S:
                raise AudioError(
                    f"{shown}: the file declares {_hours(declared_s)} of audio; the longest call "
                    f"accepted is {_hours(MAX_DURATION_S)}"
                )
            channels, bad = _decode_stream(container, stream, source_channels, shown, declared_s)
    except AudioError:
        raise
    except av.FFmpegError as exc:
        raise AudioError(f"{shown}: corrupt or truncated audio ({_reason(exc)})") from None
    except MemoryError:
        raise AudioError(
            f"{shown}: not enough memory to decode the file (each call needs up to "
            f"{4 * SAMPLE_RATE * MAX_DURATION_S / 2**30:.1f} GiB per channel)"
        ) from None
    except (OSError, ValueError, RuntimeError) as exc:
        raise AudioError(f"{shown}: cannot decode the audio ({exc})") from None

    n = len(channels[0])
    duration_s = n / SAMPLE_RATE
    if n == 0:
        if bad:
            raise AudioError(f"{shown}: corrupt audio: no frame could be decoded ({bad} bad packets)")
        raise AudioError(f"{shown}: the file contains no audio samples (zero length)")
    if bad > _MAX_BAD_PACKETS:
        raise AudioError(f"{shown}: corrupt audio: {bad} packets could not be decoded")
    if declared_s is not None and declared_s > 1.0 and duration_s < _TRUNCATION_TOLERANCE * declared_s:
        raise AudioError(
            f"{shown}: truncated audio: decoded {duration_s:.2f} s of the {declared_s:.2f} s "
            "the file declares"
        )
    if duration_s < MIN_DURATION_S:
        raise AudioError(
            f"{shown}: audio too short ({duration_s:.2f} s; at least {MIN_DURATION_S} s needed)"
        )
    if bad:
        log.warning("%s: skipped %d undecodable packet(s)", shown, bad)
    return AudioData(
        channels=channels,
        sample_rate=SAMPLE_RATE,
        duration_s=duration_s,
        source_channels=source_channels,
        path=name,
    )


def _check_stream(shown: str, codec) -> int:
    """The stream's channel count, after checking its sample rate and channels are in bounds."""
    rate = int(codec.sample_rate or 0)
    if rate == 0:
        raise AudioError(f"{shown}: the audio stream declares no sample rate")
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise AudioError(
            f"{shown}: unsupported sample rate {rate:,} Hz (accepted: {MIN_SAMPLE_RATE:,} to "
            f"{MAX_SAMPLE_RATE:,} Hz)"
        )
    channels = int(codec.channels or 0)
    if channels > MAX_CHANNELS:
        raise AudioError(f"{shown}: the audio declares {channels:,} channels (at most {MAX_CHANNELS} accepted)")
    return channels or 1  # 0: not known before decoding; the decoded frames say


def _decode_stream(container, stream, source_channels: int, shown: str,
                   declared_s: float | None = None) -> tuple[tuple[np.ndarray, ...], int]:
    """Decode and resample every frame to 16 kHz float32; returns (one array per channel, bad packets).

    Frames are written straight into one preallocated array per channel, sized from the declared
    duration (with a margin) or else for MAX_DURATION_S: pages never written are never resident, so
    memory follows what was decoded, with no list of pieces to join at the end (that join, and the
    allocator keeping freed pieces, doubled the peak). A file longer than it declared grows its
    arrays; past MAX_DURATION_S decoding stops with an AudioError.
    """
    import av

    layout = "mono" if source_channels == 1 else "stereo"  # >2 channels: ffmpeg's stereo downmix
    out_channels = 1 if layout == "mono" else 2
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=SAMPLE_RATE)
    limit = MAX_DURATION_S * SAMPLE_RATE
    capacity = limit if declared_s is None else min(limit, int(declared_s * 1.05 * SAMPLE_RATE) + _MARGIN)
    buffers = [np.empty(capacity, dtype=np.float32) for _ in range(out_channels)]
    total = 0
    bad = 0

    def consume(frames) -> None:
        nonlocal total, buffers
        for f in frames:
            arr = f.to_ndarray()
            if arr.ndim == 1:
                arr = arr.reshape(out_channels, -1)
            if arr.shape[0] != out_channels:  # cannot happen while every frame matches the first
                raise AudioError(f"{shown}: corrupt audio: the number of channels changes within the stream")
            m = arr.shape[1]
            if total + m > limit:
                raise AudioError(
                    f"{shown}: longer than the longest call accepted ({_hours(MAX_DURATION_S)}); "
                    "decoding stopped there"
                )
            if total + m > len(buffers[0]):  # longer than declared: grow (rare; copies once)
                size = min(limit, max(2 * len(buffers[0]), total + m))
                grown = []
                for old in buffers:
                    new = np.empty(size, dtype=np.float32)
                    new[:total] = old[:total]
                    grown.append(new)
                buffers = grown
            for i in range(out_channels):
                buffers[i][total : total + m] = arr[i]
            total += m

    first = None  # (rate, channels, sample format) of the first frame: every frame must match it
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.InvalidDataError:
            bad += 1
            if bad > _MAX_BAD_PACKETS:
                break
            continue
        for frame in frames:
            shape = (frame.sample_rate, frame.layout.nb_channels, frame.format.name)
            first = first or shape
            if shape != first:  # a corrupt frame header (an MP3 frame turned mono): skip it as bad
                bad += 1
                continue
            consume(resampler.resample(frame))
        if bad > _MAX_BAD_PACKETS:
            break
    consume(resampler.resample(None))  # flush
    del resampler
    return tuple(b[:total] for b in buffers), bad


def _declared_duration(container, stream) -> float | None:
    """Duration the container or stream header declares, if any (used to spot truncation)."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # av.time_base
    return None


def _hours(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 60:.3g} min" if seconds >= 60 else f"{seconds:.3g} s"


def _check_wav_header(shown: str, head: bytes, size: int) -> int | None:
    """Check a WAV file's own header before ffmpeg reads it; returns its format tag (None: not WAV).

    ffmpeg answers a header declaring 0 or 65,535 channels with "Invalid argument" and sizes a WAV
    by the file rather than by its header, so the header is read here to name the problem.
    """
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
        return None
    endian = "<" if head[:4] == b"RIFF" else ">"
    tag = None
    pos = 12
    while pos + 8 <= len(head):
        chunk = head[pos : pos + 4]
        (length,) = struct.unpack(endian + "I", head[pos + 4 : pos + 8])
        if chunk == b"fmt " and pos + 8 + 16 <= len(head):
            tag, channels, rate, _byte_rate, _align, bits = struct.unpack(endian + "HHIIHH", head[pos + 8 : pos + 24])
            if tag == 0xFFFE and length >= 40 and pos + 8 + 26 <= len(head):  # WAVE_FORMAT_EXTENSIBLE
                (tag,) = struct.unpack(endian + "H", head[pos + 32 : pos + 34])
            if channels == 0:
                raise AudioError(f"{shown}: the WAV header declares 0 channels")
            if channels > MAX_CHANNELS:
                raise AudioError(
                    f"{shown}: the WAV header declares {channels:,} channels (at most {MAX_CHANNELS} accepted)"
                )
            if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
                raise AudioError(
                    f"{shown}: the WAV header declares a sample rate of {rate:,} Hz (accepted: "
                    f"{MIN_SAMPLE_RATE:,} to {MAX_SAMPLE_RATE:,} Hz)"
                )
            if bits == 0 and tag in (1, 3):  # compressed encodings may leave it 0; PCM cannot
                raise AudioError(f"{shown}: the WAV header declares 0 bits per sample")
        elif chunk == b"data":
            available = size - (pos + 8)
            # 0 and 0xFFFFFFFF mean "unknown length" (streamed writers); trust the file then.
            if 0 < length < 0xFFFFFFFF and available < _TRUNCATION_TOLERANCE * length:
                raise AudioError(
                    f"{shown}: truncated audio: the WAV header declares {length} bytes of samples, "
                    f"the file holds {max(0, available)}"
                )
            return tag
        pos += 8 + length + (length & 1)
    return tag


def _check_ogg_end(name: str, shown: str, size: int) -> None:
    """An Ogg file must end with a whole page that carries the end-of-stream flag.

    A cut Ogg file decodes without an error to the pages it still has, and its duration comes from
    the last granule position, so the decoded length cannot reveal the cut the way it does for WAV,
    FLAC and MP3. Pages are walked from the first page header found in the file's tail.
    """
    tail_start = max(0, size - 2 * 65536)  # an Ogg page is at most 65,307 bytes
    try:
        with open(name, "rb") as fh:
            fh.seek(tail_start)
            tail = fh.read()
    except OSError as exc:
        raise AudioError(f"{shown}: cannot read the file ({exc.strerror or exc})") from None
    start = tail.find(b"OggS")
    while start != -1:
        pos, last_flags = start, None
        while pos + 27 <= len(tail) and tail[pos : pos + 4] == b"OggS" and tail[pos + 4] == 0:
            last_flags = tail[pos + 5]
            segments = tail[pos + 27 : pos + 27 + tail[pos + 26]]
            if len(segments) < tail[pos + 26]:
                pos = len(tail) + 1  # the segment table itself is cut
                break
            pos += 27 + len(segments) + sum(segments)
        if last_flags is not None and pos >= len(tail):  # a chain of pages that reaches the end
            if pos > len(tail):
                raise AudioError(f"{shown}: truncated audio: the file ends inside an Ogg page")
            if not last_flags & 0x04:
                raise AudioError(
                    f"{shown}: truncated audio: the last Ogg page does not end the stream "
                    "(end-of-stream flag missing)"
                )
            return
        start = tail.find(b"OggS", start + 1)  # "OggS" inside packet data: try the next one


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
    energy = _frame_energy(x, frame, hop, n_frames)
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


def _frame_energy(x: np.ndarray, frame: int, hop: int, n_frames: int) -> np.ndarray:
    """Mean square of each frame, in O(n) time and O(n / step) memory.

    Frames start every `hop` samples and span `frame`; both are multiples of step = gcd(frame,
    hop). The squares are summed per step-long block, a slice at a time in float64, and a frame's
    energy is the difference of the blocks' cumulative sum. A cumulative sum over every sample
    would need 8 bytes per sample (0.9 GB for two hours at 16 kHz) and its temporaries twice that.
    """
    step = math.gcd(frame, hop)
    n_blocks = (len(x) // step)
    sums = np.empty(n_blocks + 1, dtype=np.float64)
    sums[0] = 0.0
    rows = max(1, (1 << 20) // step)  # about a million samples per slice
    for first in range(0, n_blocks, rows):
        last = min(n_blocks, first + rows)
        part = x[first * step : last * step].astype(np.float64).reshape(last - first, step)
        sums[first + 1 : last + 1] = np.einsum("ij,ij->i", part, part)
    np.cumsum(sums, out=sums)
    starts = np.arange(n_frames, dtype=np.int64) * (hop // step)
    return (sums[starts + frame // step] - sums[starts]) / frame
