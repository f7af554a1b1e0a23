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

Batched decoding (TranscriptionOptions.batch_size ≥ 2, or 0 = auto on CUDA): the clips of both
channels' compact streams go to faster-whisper's BatchedInferencePipeline together, `batch_size` at a
time; on CUDA the auto size comes from free GPU memory (`choose_batch_size`). Energy speech detection
only (silero and none decode sequentially).
"""

from __future__ import annotations

import logging
import os
import re
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .audio import SAMPLE_RATE, AudioData, speech_regions
from .datatypes import CHANNEL_LAYOUTS, MAX_CLIP_S, Segment, Speaker, Transcript, TranscriptionOptions, Word
from .errors import AudioError, ConfigError, ModelError, TranscriptionError
from .models import resolve_model

__all__ = ["Transcriber", "SPEECH_DETECTIONS", "GAP_S", "REDECODE_PAD_S", "batch_clips", "choose_batch_size",
           "gpu_free_memory", "splice", "whisper_language"]

log = logging.getLogger("qa_analyser")

SPEECH_DETECTIONS = ("energy", "silero", "none")
GAP_S = 0.3  # silence put between kept regions in the compact stream
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

    def shifted(self, offset_s: float) -> _TimeMap:
        """The same map for the stream placed `offset_s` later (streams joined one after another)."""
        return _TimeMap([replace(s, compact_start=s.compact_start + offset_s) for s in self.spans])

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


# Batch sizing on CUDA: per clip in flight, about twice the model's weights plus the encoder's
# activations for one 30 s window; a share of the free memory is left to other processes and to
# CTranslate2's allocator. An estimate, not yet checked on a GPU (docs/asr.md).
_BATCH_MEMORY_SHARE = 0.6
_BATCH_ITEM_OVERHEAD = 64 << 20
MAX_BATCH_SIZE = 64


def choose_batch_size(free_bytes: int | None, model_bytes: int, *, default: int = 8) -> int:
    """How many clips to decode at once on a GPU with `free_bytes` free (None: unknown → `default`)."""
    if free_bytes is None:
        return default
    per_item = 2 * model_bytes + _BATCH_ITEM_OVERHEAD
    return max(1, min(MAX_BATCH_SIZE, int(free_bytes * _BATCH_MEMORY_SHARE) // per_item))


def gpu_free_memory(device_index: int = 0) -> int | None:
    """Free memory of a CUDA device in bytes, from nvidia-smi; None when it cannot be asked."""
    import subprocess

    try:
        out = subprocess.run(["nvidia-smi", f"--id={device_index}", "--query-gpu=memory.free",
                              "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=10)
        return int(out.stdout.strip().splitlines()[0]) << 20 if out.returncode == 0 else None
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return None


BATCH_CLIP_MAX_S = MAX_CLIP_S  # the batched pipeline decodes each clip as one 30 s window: longer ones lose their end


def batch_clips(stream: np.ndarray, clips: list[tuple[float, float]], sample_rate: int = SAMPLE_RATE,
                max_s: float = BATCH_CLIP_MAX_S, search_s: float = 8.0) -> list[tuple[float, float]]:
    """`clips` with every clip longer than `max_s` cut into pieces that are not, each cut at the
    quietest 0.1 s of the last `search_s` seconds before the limit (a pause between words, if any).
    Sequential decoding seeks through a long clip by itself; the batched pipeline does not."""
    frame = int(0.1 * sample_rate)
    out: list[tuple[float, float]] = []
    for start, end in clips:
        while end - start > max_s:
            lo, hi = int((start + max_s - search_s) * sample_rate), int((start + max_s) * sample_rate)
            window = stream[lo:hi]
            n = len(window) // frame
            if n == 0:
                cut = start + max_s
            else:
                energy = (window[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
                cut = (lo + int(np.argmin(energy)) * frame + frame // 2) / sample_rate
            out.append((start, cut))
            start = cut
        out.append((start, end))
    return out


def whisper_language(code: str | None) -> str | None:
    """A script's or user's language code as Whisper's ("es-MX" → "es", "EN" → "en"; None stays None)."""
    if code is None or not code.strip():
        return None
    return code.strip().lower().replace("_", "-").split("-")[0]


def _english_only_name(model: str) -> bool:
    return Path(model).name.lower().endswith(".en")


class Transcriber:
    """Transcribes recordings with one faster-whisper model, loaded on first use and then reused.

    `recheck_model`: the model `redecode` uses (default: the same one); a larger model there costs
    time only on the few windows that are re-checked.
    """

    def __init__(
        self,
        options: TranscriptionOptions = TranscriptionOptions(),
        *,
        cache_dir: Path | str | None = None,
        cpu_threads: int = 0,
        allow_download: bool = False,
        recheck_model: str | None = None,
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
        if not 0 <= options.batch_size <= MAX_BATCH_SIZE:
            raise ConfigError(f"batch_size must be 0 (auto) to {MAX_BATCH_SIZE}, not {options.batch_size}")
        self.options = options
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.cpu_threads = cpu_threads
        self.allow_download = allow_download
        self.recheck_model = recheck_model if recheck_model and recheck_model != options.model else None
        self._check_language(options.model, options.language)
        if self.recheck_model:
            self._check_language(self.recheck_model, options.language)
        self._model: Any = None
        self._batched: Any = None
        self.batch_size = options.batch_size  # resolved by load(): the size actually used
        self._recheck: Any = None
        self.model_id = ""
        self.recheck_model_id = ""
        self.device = ""
        self.compute_type = ""
        self.english_only = False
        self._model_path = ""

    # ------------------------------------------------------------------ model

    def load(self) -> None:
        """Resolve and load the model now (otherwise it happens on the first transcription)."""
        if self._model is not None:
            return
        self._model, self.model_id, self.device, self.compute_type = self._load_model(self.options.model, workers=2)
        self.english_only = not self._model.model.is_multilingual
        self.batch_size = self._resolve_batch_size()

    def _resolve_batch_size(self) -> int:
        """The batch size used: the option, or auto (sequential on CPU, sized from free memory on CUDA)."""
        if self.options.batch_size:
            size = self.options.batch_size
        elif self.device == "cuda":
            weights = Path(self._model_path) / "model.bin"  # a hub name has no local file: size unknown
            model_bytes = weights.stat().st_size if weights.is_file() else 0
            size = choose_batch_size(gpu_free_memory(), model_bytes)
        else:
            size = 1
        if size > 1 and self.options.speech_detection != "energy":
            log.info("batched decoding needs energy speech detection; decoding %s sequentially",
                     self.options.speech_detection)
            size = 1
        if size > 1:
            log.info("decoding clips in batches of %d on %s", size, self.device)
        return size

    def _load_model(self, name: str, *, workers: int) -> tuple[Any, str, str, str]:
        import ctranslate2

        resolved = resolve_model(name, cache_dir=self.cache_dir, allow_download=self.allow_download)
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
            model = WhisperModel(
                resolved.path,
                device=device,
                compute_type=compute_type,
                cpu_threads=threads,
                num_workers=workers,  # 2: one per channel of a stereo call, transcribed concurrently
                local_files_only=not hub,
                download_root=str(self.cache_dir / "hub") if (hub and self.cache_dir) else None,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(f"cannot load model {resolved.name!r} from {resolved.path} on {device}/{compute_type}: {exc}") from exc
        except Exception as exc:  # hub download errors and the like
            raise ModelError(f"cannot load model {resolved.name!r} ({type(exc).__name__}: {exc})") from exc
        log.info("loaded model %s on %s/%s in %.1f s", resolved.model_id, device, compute_type,
                 time.perf_counter() - started)
        if workers == 2:
            self._model_path = resolved.path
        if not model.model.is_multilingual:
            self._check_language(name, self.options.language, english_only=True)
        return model, resolved.model_id, device, compute_type

    def _recheck_model(self) -> Any:
        self.load()
        if self.recheck_model is None:
            return self._model
        if self._recheck is None:
            self._recheck, self.recheck_model_id, _, _ = self._load_model(self.recheck_model, workers=1)
        return self._recheck

    @staticmethod
    def _check_language(model: str, language: str | None, *, english_only: bool | None = None) -> None:
        """ConfigError when an English-only model is asked for another language, or the code is unknown."""
        lang = whisper_language(language)
        if lang is None:
            return
        if english_only is None:
            english_only = _english_only_name(model)
        if english_only and lang != "en":
            raise ConfigError(
                f"model {model!r} is English-only and cannot transcribe language {language!r}; "
                "use a multilingual model (--model base) for non-English calls"
            )
        from faster_whisper.tokenizer import _LANGUAGE_CODES

        if lang not in _LANGUAGE_CODES:
            raise ConfigError(f"language {language!r} is not one Whisper knows (two-letter codes such as en, es, fr)")

    def _language(self, override: str | None) -> str | None:
        """The language passed to Whisper: the argument, else the options', else en for English-only models."""
        requested = override if override is not None else self.options.language
        if requested is not None:
            self._check_language(self.options.model, requested, english_only=self.english_only)
        lang = whisper_language(requested)
        return lang or ("en" if self.english_only else None)

    # ------------------------------------------------------------------ transcription

    def transcribe(self, audio: AudioData, layout: str, *, hotwords: str | None = None,
                   language: str | None = None) -> Transcript:
        """Transcribe a decoded recording. `layout`: agent-left | agent-right | mono.

        Stereo layouts transcribe each channel on its own and label it agent / customer; mono (or a
        one-channel file) gives one stream with speaker "unknown". A stereo file with layout mono is
        downmixed; a mono file with a stereo layout raises AudioError (the caller decides).
        `hotwords` biases the recogniser toward a script's words (see vocabulary.script_vocabulary);
        `language` overrides TranscriptionOptions.language for this call (e.g. the script's).
        """
        self._check_layout(audio, layout)
        self.load()
        whisper_lang = self._language(language)
        hotwords = hotwords.strip() if hotwords and hotwords.strip() else None

        if layout == "mono":
            streams: list[tuple[np.ndarray, Speaker, int | None]] = [(audio.mono(), "unknown", None)]
        else:
            agent = 0 if layout == "agent-left" else 1
            streams = [(audio.channels[0], "agent" if agent == 0 else "customer", 0),
                       (audio.channels[1], "agent" if agent == 1 else "customer", 1)]

        segments: list[Segment] = []
        speech_s = 0.0
        detected = ""
        started = time.perf_counter()

        def run(stream: tuple[np.ndarray, Speaker, int | None]) -> tuple[list[Segment], float, str]:
            samples, speaker, channel = stream
            try:
                return self._transcribe_stream(samples, speaker, channel, language=whisper_lang, hotwords=hotwords)
            except (RuntimeError, ValueError, MemoryError) as exc:
                where = "" if channel is None else f" on channel {channel}"
                raise TranscriptionError(f"{audio.path}: the recogniser failed{where}: {exc}") from exc

        if self.batch_size > 1:
            results = self._transcribe_batched(streams, language=whisper_lang, hotwords=hotwords, path=audio.path)
        elif len(streams) > 1:
            # The two channels in parallel: CTranslate2 scales poorly past one thread for small
            # models, two concurrent decodes (num_workers=2) use both cores (benchmarks/speech_kept.py).
            with ThreadPoolExecutor(max_workers=len(streams), thread_name_prefix="qa-asr") as pool:
                results = list(pool.map(run, streams))
        else:
            results = [run(streams[0])]
        for found, seen_s, lang in results:
            segments += found
            speech_s += seen_s
            if not detected and lang:
                detected = lang
        segments.sort(key=lambda s: (s.start, s.end))
        log.debug("%s: %.1f s audio, %.1f s speech transcribed in %.1f s", audio.path, audio.duration_s,
                  speech_s, time.perf_counter() - started)
        return Transcript(
            segments=tuple(segments),
            duration_s=audio.duration_s,
            channels=layout,  # type: ignore[arg-type]
            options=self._recorded_options(language, hotwords),
            language=whisper_lang or detected or "en",
            model_id=self.model_id,
            compute_type=self.compute_type,
            device=self.device,
            speech_s=round(speech_s, 3),
        )

    def _recorded_options(self, language: str | None, hotwords: str | None) -> TranscriptionOptions:
        """The options that made this transcript: per-call language and hotwords, and the batch size used."""
        changes: dict[str, Any] = {"batch_size": self.batch_size, "hotwords": hotwords}
        if language is not None and language != self.options.language:
            changes["language"] = language
        return replace(self.options, **changes)

    def _transcribe_batched(self, streams: list[tuple[np.ndarray, Speaker, int | None]], *, language: str | None,
                            hotwords: str | None, path: str) -> list[tuple[list[Segment], float, str]]:
        """Every channel's compact stream, joined one after the other, decoded clip by clip in batches."""
        from faster_whisper import BatchedInferencePipeline

        if self._batched is None:
            self._batched = BatchedInferencePipeline(self._model)
        pieces: list[np.ndarray] = []
        clips: list[dict[str, float]] = []
        owners: list[tuple[float, Speaker, int | None, _TimeMap, float]] = []  # (end in joined stream, ...)
        offset = 0.0
        for samples, speaker, channel in streams:
            regions = speech_regions(samples)
            if not regions:
                continue
            stream, time_map = compact_stream(samples, regions)
            bounds = time_map.clips(self.options.clip_s)
            clips += [{"start": a + offset, "end": b + offset}
                      for a, b in batch_clips(stream, list(zip(bounds[::2], bounds[1::2])))]
            time_map = time_map.shifted(offset)
            pieces.append(stream)
            offset += len(stream) / SAMPLE_RATE
            owners.append((offset, speaker, channel, time_map, sum(e - s for s, e in regions)))
        found: list[list[Segment]] = [[] for _ in owners]
        detected = ""
        if clips:
            try:
                raw, info = self._batched.transcribe(
                    np.concatenate(pieces), language=language, beam_size=self.options.beam_size,
                    temperature=0.0, compression_ratio_threshold=_MAX_COMPRESSION_RATIO,
                    log_prob_threshold=_MIN_AVG_LOGPROB, no_speech_threshold=0.6, condition_on_previous_text=False,
                    initial_prompt=self.options.initial_prompt, hotwords=hotwords, word_timestamps=True,
                    clip_timestamps=clips, batch_size=self.batch_size, vad_filter=False)
                ends = [end for end, *_ in owners]
                for seg in raw:  # a lazy generator: decoding happens here
                    i = min(int(np.searchsorted(ends, seg.start, side="right")), len(owners) - 1)
                    _, speaker, channel, time_map, _ = owners[i]
                    if _keep_segment(seg):
                        found[i] += _to_segment(seg, speaker, channel, time_map)
                detected = getattr(info, "language", "") or ""
            except (RuntimeError, ValueError, MemoryError) as exc:
                raise TranscriptionError(f"{path}: the recogniser failed (batched, {self.batch_size} clips at "
                                         f"a time): {exc}") from exc
        return [(segs, seen_s, detected) for segs, (_, _, _, _, seen_s) in zip(found, owners)]

    @staticmethod
    def _check_layout(audio: AudioData, layout: str) -> None:
        if layout not in CHANNEL_LAYOUTS:
            raise ConfigError(f"{audio.path}: unknown channel layout {layout!r} (choose {', '.join(CHANNEL_LAYOUTS)})")
        if layout != "mono" and not audio.is_stereo:
            raise AudioError(f"{audio.path}: layout {layout} needs a stereo recording, but the file has one channel")

    def _decode(self, model: Any, stream: np.ndarray, *, language: str | None, hotwords: str | None,
                beam_size: int, vad_filter: bool = False, clips: list[float] | str = "0") -> tuple[Any, Any]:
        return model.transcribe(
            stream,
            language=language,
            beam_size=beam_size,
            best_of=max(1, beam_size),
            temperature=(0.0, 0.2, 0.4, 0.6),
            compression_ratio_threshold=_MAX_COMPRESSION_RATIO,
            log_prob_threshold=_MIN_AVG_LOGPROB,
            no_speech_threshold=0.6,
            condition_on_previous_text=False,
            initial_prompt=self.options.initial_prompt,
            hotwords=hotwords,
            word_timestamps=True,
            vad_filter=vad_filter,
            clip_timestamps=clips,
            hallucination_silence_threshold=None,
        )

    def _transcribe_stream(self, samples: np.ndarray, speaker: Speaker, channel: int | None, *,
                           language: str | None, hotwords: str | None) -> tuple[list[Segment], float, str]:
        detection = self.options.speech_detection
        time_map: _TimeMap | None = None
        vad_filter = False
        clips: list[float] | str = "0"
        if detection == "energy":
            regions = speech_regions(samples)
            if not regions:
                return [], 0.0, ""
            stream, time_map = compact_stream(samples, regions)
            clips = time_map.clips(self.options.clip_s)
            seen_s = sum(e - s for s, e in regions)
        elif detection == "silero":
            stream, vad_filter = samples, True
            seen_s = len(samples) / SAMPLE_RATE  # refined below from faster-whisper's info
        else:
            stream = samples
            seen_s = len(samples) / SAMPLE_RATE

        raw, info = self._decode(self._model, stream, language=language, hotwords=hotwords,
                                 beam_size=self.options.beam_size, vad_filter=vad_filter, clips=clips)
        out = self._kept_segments(raw, speaker, channel, time_map)
        if detection == "silero":
            seen_s = float(getattr(info, "duration_after_vad", seen_s) or 0.0)
        return out, seen_s, getattr(info, "language", "") or ""

    @staticmethod
    def _kept_segments(raw: Any, speaker: Speaker, channel: int | None, time_map: _TimeMap | None,
                       offset: float = 0.0) -> list[Segment]:
        out: list[Segment] = []
        for seg in raw:  # a lazy generator: decoding happens here
            if not _keep_segment(seg):
                log.debug("dropped segment %.2f-%.2f %r (logprob %.2f, no_speech %.2f, cr %.2f)",
                          seg.start, seg.end, seg.text, seg.avg_logprob, seg.no_speech_prob, seg.compression_ratio)
                continue
            out += _to_segment(seg, speaker, channel, time_map, offset)
        return out

    # ------------------------------------------------------------------ re-check

    def redecode(self, audio: AudioData, layout: str, start_s: float, end_s: float, *, speaker: str,
                 hotwords: str | None = None, beam_size: int = 5, language: str | None = None) -> list[Segment]:
        """Decode [start_s, end_s] of one speaker's channel again, with beam search.

        The window is padded by REDECODE_PAD_S each side (a word cut at the edge is heard whole),
        gated like the first pass (energy: the channel's speech regions inside it, joined with short
        gaps; otherwise the raw window) and decoded by `recheck_model` (default: the transcription
        model). Give a window with some margin: Whisper's word times jitter by a few tenths. The
        segments and words come back on the recording's timeline; words whose middle lies outside
        [start_s, end_s] are dropped, so `splice(transcript, segments, start_s, end_s, speaker)`
        replaces exactly that window. On a stereo layout `speaker` (agent | customer) picks the
        channel; on mono the downmix is decoded and its words are labelled `speaker` — pass the
        label the transcript uses ("unknown" unless the mono call was diarized).
        """
        self._check_layout(audio, layout)
        if beam_size < 1:
            raise ConfigError(f"beam_size must be at least 1, not {beam_size}")
        if not end_s > start_s:
            raise ConfigError(f"{audio.path}: empty re-check window {start_s:.2f}-{end_s:.2f} s")
        if layout == "mono":
            if speaker not in ("unknown", "agent", "customer", "any"):
                raise ConfigError(f"unknown speaker {speaker!r}")
            # The downmix; words are labelled as asked (a diarized mono transcript has agent/customer).
            samples, label, channel = audio.mono(), ("unknown" if speaker == "any" else speaker), None
        else:
            if speaker not in ("agent", "customer"):
                raise ConfigError(f"{audio.path}: speaker {speaker!r} on a stereo call (choose agent or customer)")
            agent = 0 if layout == "agent-left" else 1
            channel = agent if speaker == "agent" else 1 - agent
            samples, label = audio.channels[channel], speaker
        model = self._recheck_model()
        whisper_lang = self._language(language)
        if self.recheck_model:
            self._check_language(self.recheck_model, whisper_lang,
                                 english_only=not model.model.is_multilingual)
            whisper_lang = whisper_lang or ("en" if not model.model.is_multilingual else None)
        lo, hi = max(0.0, start_s - REDECODE_PAD_S), min(len(samples) / SAMPLE_RATE, end_s + REDECODE_PAD_S)
        hotwords = hotwords.strip() if hotwords and hotwords.strip() else None
        time_map: _TimeMap | None = None
        offset = 0.0
        if self.options.speech_detection == "energy":
            # The same gating as the first pass (regions found on the whole channel, so the noise
            # floor is the recording's), cut to the window: Whisper sees the same kind of stream,
            # and leading silence is not stretched into the first word.
            regions = [(max(a, lo), min(b, hi)) for a, b in speech_regions(samples) if b > lo and a < hi]
            regions = [(a, b) for a, b in regions if b - a >= 0.05]
            if not regions:
                return []
            window, time_map = compact_stream(samples, regions)
        else:
            a, b = int(lo * SAMPLE_RATE), int(np.ceil(hi * SAMPLE_RATE))
            if b - a < int(0.1 * SAMPLE_RATE):
                return []
            window, offset = np.ascontiguousarray(samples[a:b], dtype=np.float32), a / SAMPLE_RATE
        try:
            raw, _ = self._decode(model, window, language=whisper_lang, hotwords=hotwords, beam_size=beam_size)
            found = self._kept_segments(raw, label, channel, time_map, offset=offset)  # type: ignore[arg-type]
        except (RuntimeError, ValueError, MemoryError) as exc:
            raise TranscriptionError(f"{audio.path}: the recogniser failed re-checking "
                                     f"{start_s:.2f}-{end_s:.2f} s: {exc}") from exc
        return _clip_segments(found, start_s, end_s)


def _inside(word: Word, start_s: float, end_s: float) -> bool:
    mid = (word.start + word.end) / 2
    return start_s <= mid <= end_s


def _rebuilt(segment: Segment, words: list[Word]) -> Segment:
    return replace(segment, words=tuple(words), text=" ".join(w.text for w in words),
                   start=words[0].start, end=words[-1].end)


def _clip_segments(segments: list[Segment], start_s: float, end_s: float) -> list[Segment]:
    """Only the words whose middle lies in [start_s, end_s]; segments left without words are dropped."""
    out: list[Segment] = []
    for seg in segments:
        if not seg.words:
            if start_s <= (seg.start + seg.end) / 2 <= end_s:
                out.append(seg)
            continue
        kept = [w for w in seg.words if _inside(w, start_s, end_s)]
        if kept:
            out.append(seg if len(kept) == len(seg.words) else _rebuilt(seg, kept))
    return out


def splice(transcript: Transcript, segments: list[Segment], start_s: float, end_s: float,
           speaker: str) -> Transcript:
    """`transcript` with `speaker`'s words in [start_s, end_s] replaced by those of `segments`.

    Pure. A word belongs to the window when its middle lies in it (the rule `redecode` clips by);
    a segment that straddles the window keeps its words outside it, split in two if words remain on
    both sides; new words outside the window are ignored. Other speakers are untouched.
    """
    kept: list[Segment] = []
    for seg in transcript.segments:
        if seg.speaker != speaker:
            kept.append(seg)
            continue
        if not seg.words:
            if not start_s <= (seg.start + seg.end) / 2 <= end_s:
                kept.append(seg)
            continue
        before = [w for w in seg.words if (w.start + w.end) / 2 < start_s]
        after = [w for w in seg.words if (w.start + w.end) / 2 > end_s]
        if len(before) + len(after) == len(seg.words):
            kept.append(seg)
            continue
        kept += [_rebuilt(seg, part) for part in (before, after) if part]
    new = [replace(s, speaker=speaker, words=tuple(replace(w, speaker=speaker) for w in s.words))  # type: ignore[arg-type]
           for s in _clip_segments(list(segments), start_s, end_s)]
    merged = sorted([*kept, *new], key=lambda s: (s.start, s.end))
    return replace(transcript, segments=tuple(merged))


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


def _to_segment(seg: Any, speaker: Speaker, channel: int | None, time_map: _TimeMap | None,
                offset: float = 0.0) -> list[Segment]:
    """One faster-whisper segment as Segments on the recording's timeline.

    On a compact stream a segment can run over several kept regions; it is split where its words
    jump across a gap of more than SPLIT_GAP_S, so each segment's times cover only its own speech.
    """

    def span_of(start: float, end: float) -> tuple[float, float]:
        a, b = time_map.interval(start, end) if time_map else (start, end)
        a, b = float(a) + offset, float(b) + offset
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
