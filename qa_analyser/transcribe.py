"""Speech to text with faster-whisper: AudioData → Transcript, speakers assigned by channel.

The only module that imports faster_whisper (lazily, inside methods). A `Transcriber` loads the
model once, on first use, and is reused for every call of a run.

Speech detection (TranscriptionOptions.speech_detection):
    energy  audio.speech_regions per channel; the kept regions are joined, with short silent gaps,
            into one compact stream that is transcribed in one go, and timestamps are mapped back
            to the recording's timeline (default: keeps all speech, see docs/asr.md)
    silero  faster-whisper's built-in Silero VAD (drops speech on per-channel telephone audio)
    none    the whole channel

Hallucination guards: condition_on_previous_text off, faster-whisper's no-speech / log-prob /
compression-ratio thresholds, then segments that are improbable, repetitive, or only sound-effect
annotations are dropped (see `_keep_segment`), so silence and hold music yield no text.

Language: `TranscriptionOptions.language` (or the `language` argument of `transcribe`) is passed to
Whisper; an English-only model (`*.en`) asked for another language is a ConfigError.

Script biasing: `transcribe(..., hotwords=...)` passes faster-whisper's `hotwords` (put before every
30 s window, unlike `initial_prompt`, which only reaches the first window when
condition_on_previous_text is off); `vocabulary.script_vocabulary(script)` builds them.

Re-check: `redecode` decodes one window of one speaker again with beam search (optionally with a
larger `recheck_model`); `splice` replaces that speaker's words in the window with the new ones.
"""

from __future__ import annotations

import logging
import os
import re
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from .audio import SAMPLE_RATE, AudioData, speech_regions
from .datatypes import CHANNEL_LAYOUTS, Segment, Speaker, Transcript, TranscriptionOptions, Word
from .errors import AudioError, ConfigError, ModelError, TranscriptionError
from .models import resolve_model

__all__ = ["Transcriber", "SPEECH_DETECTIONS", "GAP_S", "REDECODE_PAD_S", "splice", "whisper_language"]

log = logging.getLogger("qa_analyser")

SPEECH_DETECTIONS = ("energy", "silero", "none")
GAP_S = 0.3  # silence put between kept regions in the compact stream
# The compact stream is decoded in clips of whole regions, each at most this long: a region that
# straddled Whisper's 30 s window was seen cut in two and often dropped (measured on fixtures).
CLIP_MAX_S = 20.0
SPLIT_GAP_S = 1.0  # a segment whose words are further apart than this (recording time) is split
REDECODE_PAD_S = 0.5  # audio added either side of a re-check window (words are kept only inside it)

# Segment-level guards, applied after faster-whisper's own thresholds.
_MIN_AVG_LOGPROB = -1.0
_MAX_COMPRESSION_RATIO = 2.4
_MIN_MEAN_WORD_PROB = 0.35
_MAX_NO_SPEECH_PROB = 0.8  # dropped above this whatever the log-probability (hold music)
_ANNOTATION = re.compile(r"^[\s\W]*[\[(♪*].*[\])♪*][\s\W]*$|^[\s♪♫\W]*$")
_WORDISH = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class _Span:
    """A kept region: where it sits in the compact stream and in the recording (seconds)."""

    compact_start: float
    original_start: float
    length: float


class _TimeMap:
    """Maps times in a compact stream (kept regions joined with gaps) back to the recording."""

    def __init__(self, spans: list[_Span]):
        self.spans = spans
        self._starts = np.array([s.compact_start for s in spans]) if spans else np.zeros(0)

    def clips(self, max_s: float) -> list[float]:
        """clip_timestamps for faster-whisper: whole regions packed into clips of at most max_s."""
        bounds: list[float] = []
        start = end = None
        for span in self.spans:
            a, b = span.compact_start, span.compact_start + span.length
            if start is None:
                start, end = a, b
            elif b - start <= max_s:
                end = b
            else:
                bounds += [start, end]
                start, end = a, b
        if start is not None:
            bounds += [start, end]
        return bounds

    def __call__(self, t: float, *, is_end: bool = False) -> float:
        if not self.spans:
            return t
        i = int(np.searchsorted(self._starts, t, side="right")) - 1
        if i < 0:
            return self.spans[0].original_start
        span = self.spans[i]
        offset = t - span.compact_start
        if offset <= span.length:
            return span.original_start + offset
        # In the gap after span i: an end belongs to span i, a start to the next span.
        if is_end or i + 1 >= len(self.spans):
            return span.original_start + span.length
        return self.spans[i + 1].original_start

    def interval(self, start: float, end: float) -> tuple[float, float]:
        """Map a word's (start, end); a word never stretches across a gap into the next region."""
        if not self.spans:
            return start, end
        a = self(start)
        b = self(end, is_end=True)
        i = int(np.searchsorted(self._starts, start, side="right")) - 1
        if i >= 0 and start - self.spans[i].compact_start > self.spans[i].length:
            i += 1  # the start was in the gap: the word belongs to the next region
        i = min(max(i, 0), len(self.spans) - 1)
        region_end = self.spans[i].original_start + self.spans[i].length
        return a, max(a, min(b, region_end))


def compact_stream(samples: np.ndarray, regions: list[tuple[float, float]],
                   sample_rate: int = SAMPLE_RATE, gap_s: float = GAP_S) -> tuple[np.ndarray, _TimeMap]:
    """Join `regions` of `samples` with `gap_s` of silence; returns the stream and its time map."""
    gap = np.zeros(int(round(gap_s * sample_rate)), dtype=np.float32)
    pieces: list[np.ndarray] = [gap]
    spans: list[_Span] = []
    position = len(gap)
    for start, end in regions:
        a, b = int(round(start * sample_rate)), int(round(end * sample_rate))
        piece = samples[a:b]
        if piece.size == 0:
            continue
        spans.append(_Span(position / sample_rate, a / sample_rate, piece.size / sample_rate))
        pieces += [piece, gap]
        position += piece.size + gap.size
    return np.concatenate(pieces).astype(np.float32, copy=False), _TimeMap(spans)


class Transcriber:
    """Transcribes recordings with one faster-whisper model, loaded on first use and then reused."""

    def __init__(
        self,
        options: TranscriptionOptions = TranscriptionOptions(),
        *,
        cache_dir: Path | str | None = None,
        cpu_threads: int = 0,
        allow_download: bool = False,
    ):
        if options.speech_detection not in SPEECH_DETECTIONS:
            raise ConfigError(
                f"unknown speech_detection {options.speech_detection!r} "
                f"(choose one of {', '.join(SPEECH_DETECTIONS)})"
            )
        if options.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"unknown device {options.device!r} (choose auto, cpu or cuda)")
        if options.beam_size < 1:
            raise ConfigError(f"beam_size must be at least 1, not {options.beam_size}")
        self.options = options
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.cpu_threads = cpu_threads
        self.allow_download = allow_download
        self._model: Any = None
        self.model_id = ""
        self.device = ""
        self.compute_type = ""
        self.english_only = False

    # ------------------------------------------------------------------ model

    def load(self) -> None:
        """Resolve and load the model now (otherwise it happens on the first transcription)."""
        if self._model is not None:
            return
        import ctranslate2

        resolved = resolve_model(self.options.model, cache_dir=self.cache_dir, allow_download=self.allow_download)
        cuda_devices = ctranslate2.get_cuda_device_count()
        device = self.options.device
        if device == "auto":
            device = "cuda" if cuda_devices > 0 else "cpu"
        if device == "cuda" and cuda_devices == 0:
            raise ModelError(
                "device 'cuda' was requested but CTranslate2 finds no CUDA device "
                "(no GPU, or no CUDA 12 / cuDNN 9 libraries); use device 'cpu' or 'auto'"
            )
        compute_type = self.options.compute_type
        if compute_type == "auto":
            compute_type = "float16" if device == "cuda" else "int8"
        supported = ctranslate2.get_supported_compute_types(device)
        if compute_type != "default" and compute_type not in supported:
            raise ModelError(
                f"compute type {compute_type!r} is not supported on {device} "
                f"(supported: {', '.join(sorted(supported))})"
            )
        threads = self.cpu_threads or min(os.cpu_count() or 1, 8)

        from faster_whisper import WhisperModel

        hub = resolved.model_id.startswith("hub:")
        started = time.perf_counter()
        try:
            self._model = WhisperModel(
                resolved.path,
                device=device,
                compute_type=compute_type,
                cpu_threads=threads,
                num_workers=2,  # one per channel of a stereo call, transcribed concurrently
                local_files_only=not hub,
                download_root=str(self.cache_dir / "hub") if (hub and self.cache_dir) else None,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(f"cannot load model {resolved.name!r} from {resolved.path} on {device}/{compute_type}: {exc}") from exc
        except Exception as exc:  # hub download errors and the like
            raise ModelError(f"cannot load model {resolved.name!r} ({type(exc).__name__}: {exc})") from exc
        log.info("loaded model %s on %s/%s in %.1f s", resolved.model_id, device, compute_type,
                 time.perf_counter() - started)
        self.model_id = resolved.model_id
        self.device = device
        self.compute_type = compute_type
        self.english_only = not self._model.model.is_multilingual

    # ------------------------------------------------------------------ transcription

    def transcribe(self, audio: AudioData, layout: str) -> Transcript:
        """Transcribe a decoded recording. `layout`: agent-left | agent-right | mono.

        Stereo layouts transcribe each channel on its own and label it agent / customer; mono (or a
        one-channel file) gives one stream with speaker "unknown". A stereo file with layout mono is
        downmixed; a mono file with a stereo layout raises AudioError (the caller decides).
        """
        if layout not in CHANNEL_LAYOUTS:
            raise ConfigError(f"{audio.path}: unknown channel layout {layout!r} (choose {', '.join(CHANNEL_LAYOUTS)})")
        if layout != "mono" and not audio.is_stereo:
            raise AudioError(f"{audio.path}: layout {layout} needs a stereo recording, but the file has one channel")
        self.load()

        if layout == "mono":
            streams: list[tuple[np.ndarray, Speaker, int | None]] = [(audio.mono(), "unknown", None)]
        else:
            agent = 0 if layout == "agent-left" else 1
            streams = [(audio.channels[0], "agent" if agent == 0 else "customer", 0),
                       (audio.channels[1], "agent" if agent == 1 else "customer", 1)]

        segments: list[Segment] = []
        speech_s = 0.0
        language = self.options.language or ("en" if self.english_only else "")
        started = time.perf_counter()

        def run(stream: tuple[np.ndarray, Speaker, int | None]) -> tuple[list[Segment], float, str]:
            samples, speaker, channel = stream
            try:
                return self._transcribe_stream(samples, speaker, channel)
            except (RuntimeError, ValueError, MemoryError) as exc:
                where = "" if channel is None else f" on channel {channel}"
                raise TranscriptionError(f"{audio.path}: the recogniser failed{where}: {exc}") from exc

        if len(streams) > 1:
            # The two channels in parallel: CTranslate2 scales poorly past one thread for small
            # models, two concurrent decodes (num_workers=2) use both cores (benchmarks/speech_kept.py).
            with ThreadPoolExecutor(max_workers=len(streams), thread_name_prefix="qa-asr") as pool:
                results = list(pool.map(run, streams))
        else:
            results = [run(streams[0])]
        for found, seen_s, lang in results:
            segments += found
            speech_s += seen_s
            if not language and lang:
                language = lang
        segments.sort(key=lambda s: (s.start, s.end))
        log.debug("%s: %.1f s audio, %.1f s speech transcribed in %.1f s", audio.path, audio.duration_s,
                  speech_s, time.perf_counter() - started)
        return Transcript(
            segments=tuple(segments),
            duration_s=audio.duration_s,
            channels=layout,  # type: ignore[arg-type]
            options=self.options,
            language=language or "en",
            model_id=self.model_id,
            compute_type=self.compute_type,
            device=self.device,
            speech_s=round(speech_s, 3),
        )

    def _transcribe_stream(self, samples: np.ndarray, speaker: Speaker,
                           channel: int | None) -> tuple[list[Segment], float, str]:
        detection = self.options.speech_detection
        time_map: _TimeMap | None = None
        vad_filter = False
        clips: list[float] | str = "0"
        if detection == "energy":
            regions = speech_regions(samples)
            if not regions:
                return [], 0.0, ""
            stream, time_map = compact_stream(samples, regions)
            clips = time_map.clips(CLIP_MAX_S)
            seen_s = sum(e - s for s, e in regions)
        elif detection == "silero":
            stream, vad_filter = samples, True
            seen_s = len(samples) / SAMPLE_RATE  # refined below from faster-whisper's info
        else:
            stream = samples
            seen_s = len(samples) / SAMPLE_RATE

        raw, info = self._model.transcribe(
            stream,
            language=self.options.language or ("en" if self.english_only else None),
            beam_size=self.options.beam_size,
            best_of=max(1, self.options.beam_size),
            temperature=(0.0, 0.2, 0.4, 0.6),
            compression_ratio_threshold=_MAX_COMPRESSION_RATIO,
            log_prob_threshold=_MIN_AVG_LOGPROB,
            no_speech_threshold=0.6,
            condition_on_previous_text=False,
            initial_prompt=self.options.initial_prompt,
            word_timestamps=True,
            vad_filter=vad_filter,
            clip_timestamps=clips,
            hallucination_silence_threshold=None,
        )
        out: list[Segment] = []
        for seg in raw:  # a lazy generator: decoding happens here
            if not _keep_segment(seg):
                log.debug("dropped segment %.2f-%.2f %r (logprob %.2f, no_speech %.2f, cr %.2f)",
                          seg.start, seg.end, seg.text, seg.avg_logprob, seg.no_speech_prob, seg.compression_ratio)
                continue
            out += _to_segment(seg, speaker, channel, time_map)
        if detection == "silero":
            seen_s = float(getattr(info, "duration_after_vad", seen_s) or 0.0)
        return out, seen_s, getattr(info, "language", "") or ""


def _keep_segment(seg: Any) -> bool:
    """False for what Whisper makes up on silence, noise or music."""
    text = seg.text.strip()
    if not text or _ANNOTATION.match(text) or not _WORDISH.search(text):
        return False
    if seg.avg_logprob < _MIN_AVG_LOGPROB:
        return False
    if seg.no_speech_prob > _MAX_NO_SPEECH_PROB:
        return False
    if seg.compression_ratio > _MAX_COMPRESSION_RATIO or _repetitive(text):
        return False
    words = seg.words or []
    if words:
        mean_p = sum(w.probability for w in words) / len(words)
        if mean_p < _MIN_MEAN_WORD_PROB:
            return False
    return True


def _repetitive(text: str) -> bool:
    """The same word or short phrase looping (a classic hallucination)."""
    tokens = [t.lower() for t in _WORDISH.findall(text)]
    if len(tokens) < 8:
        return False
    ratio = len(text.encode()) / max(1, len(zlib.compress(text.encode())))
    distinct = len(set(tokens)) / len(tokens)
    return distinct < 0.25 or ratio > _MAX_COMPRESSION_RATIO


def _to_segment(seg: Any, speaker: Speaker, channel: int | None, time_map: _TimeMap | None) -> list[Segment]:
    """One faster-whisper segment as Segments on the recording's timeline.

    On a compact stream a segment can run over several kept regions; it is split where its words
    jump across a gap of more than SPLIT_GAP_S, so each segment's times cover only its own speech.
    """

    def span_of(start: float, end: float) -> tuple[float, float]:
        a, b = time_map.interval(start, end) if time_map else (start, end)
        return round(a, 3), round(max(a, b), 3)

    common = dict(speaker=speaker, avg_logprob=round(float(seg.avg_logprob), 4),
                  no_speech_prob=round(float(seg.no_speech_prob), 4), channel=channel)
    if not seg.words:
        start, end = span_of(seg.start, seg.end)
        return [Segment(text=seg.text.strip(), start=start, end=end, **common)]

    groups: list[list[tuple[str, Word]]] = []
    for w in seg.words:
        text = w.word.strip()
        if not text:
            continue
        start, end = span_of(w.start, w.end)
        word = Word(text=text, start=start, end=end,
                    probability=round(float(w.probability), 4), speaker=speaker)
        if not groups or (time_map is not None and start - groups[-1][-1][1].end > SPLIT_GAP_S):
            groups.append([])
        groups[-1].append((w.word, word))
    return [
        Segment(text="".join(raw for raw, _ in g).strip(), start=g[0][1].start, end=g[-1][1].end,
                words=tuple(word for _, word in g), **common)
        for g in groups
    ]
