#!/usr/bin/env python3
"""`qa run` against a plain faster-whisper loop over the same recordings, in one process launch.

Usage:
    python benchmarks/throughput_bench.py [DROP_DIR] [--limit N] [--model tiny.en] [--device cpu]
                                          [--batch-size N ...] [--clip-seconds S ...] [--repeat N]
                                          [--order plain-first|pipeline-first]

The plain loop is what a user would write: decode each file with faster-whisper's own decoder, then
transcribe both channels (agent and customer) one after the other with beam 1, word timestamps on,
default voice-activity settings off, the model loaded once. The pipeline is `qa run` as a library
(start_run over a fresh database): decode, speech detection, recognition, diarization of mono
calls, matching, scoring and storage. Each configuration is timed over the same files; model
loading is excluded from both, and one untimed call first loads the matcher's models. Prints audio seconds per wall second for each and the ratio, and a
per-stage profile of the pipeline (decode, speech detection + recognition, diarization, matching,
storage) from timers wrapped around the pipeline's own functions. `--repeat N` runs everything N
times, the order reversed every other time, and reports totals: on a shared machine the speed of
one pass moves by 20 % and more.

Defaults to ../shared/eval/hvb/calls (stereo) with its scripts. On a machine shared with other
work the absolute figures move; the ratio is measured in the same run, so it moves less.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa_analyser import pipeline  # noqa: E402
from qa_analyser.datatypes import DEFAULT_CLIP_S, TranscriptionOptions  # noqa: E402
from qa_analyser.pipeline import RunOptions, start_run  # noqa: E402
from qa_analyser.store import Store  # noqa: E402
from qa_analyser.transcribe import Transcriber  # noqa: E402

AUDIO = {".mp3", ".wav", ".flac", ".ogg", ".opus", ".m4a"}


def pick(drop: Path, limit: int, tmp: Path) -> Path:
    """A copy of the first `limit` recordings of `drop` (with their manifest rows)."""
    files = sorted(p for p in drop.iterdir() if p.suffix.lower() in AUDIO)
    if limit:
        files = files[:limit]
    sub = tmp / "calls"
    sub.mkdir()
    for p in files:
        shutil.copy(p, sub / p.name)
    manifest = drop / "manifest.csv"
    if manifest.exists():
        lines = manifest.read_text().splitlines()
        keep = {p.name for p in files}
        (sub / "manifest.csv").write_text(
            "\n".join([lines[0]] + [ln for ln in lines[1:] if ln.split(",", 1)[0] in keep]) + "\n")
    return sub


def plain_loop(files: list[Path], model) -> tuple[float, float]:
    """(audio seconds, wall seconds) of the loop a user would write with faster-whisper alone."""
    from faster_whisper.audio import decode_audio

    audio_s = 0.0
    started = time.perf_counter()
    for path in files:
        channels = decode_audio(str(path), split_stereo=True)
        channels = channels if isinstance(channels, tuple) else (channels,)
        audio_s += len(channels[0]) / 16000
        for samples in channels:
            segments, _ = model.transcribe(samples, beam_size=1, word_timestamps=True, language="en",
                                           condition_on_previous_text=False)
            for _ in segments:  # decoding happens while iterating
                pass
    return audio_s, time.perf_counter() - started


@contextmanager
def stage_timers():
    """Wrap the pipeline's stage functions with wall-clock timers; yields the totals."""
    from qa_analyser import audio, diarize, store

    totals: dict[str, float] = defaultdict(float)
    patched = []

    def timed(owner, name: str, label: str):
        original = getattr(owner, name)

        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                totals[label] += time.perf_counter() - t

        setattr(owner, name, wrapper)
        patched.append((owner, name, original))

    timed(audio, "decode_audio", "decode")
    timed(Transcriber, "transcribe", "speech detection + recognition")
    timed(diarize, "speaker_turns", "diarization")
    timed(pipeline, "match_with_roles", "matching")
    timed(store.Store, "save_call", "storage")
    try:
        yield totals
    finally:
        for owner, name, original in reversed(patched):
            setattr(owner, name, original)


def run_pipeline(drop: Path, scripts: Path, topts: TranscriptionOptions, transcriber, db: Path):
    with stage_timers() as totals:
        store = Store.open(db)
        started = time.perf_counter()
        run = start_run(drop, scripts, store, RunOptions(transcription=topts), transcriber=transcriber)
        for outcome in run:
            if outcome.status == "failed":
                print(f"failed: {outcome.file}: {outcome.reason}", file=sys.stderr)
        wall = time.perf_counter() - started
        store.close()
    return run.summary.audio_s, wall, dict(totals)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("drop_dir", nargs="?", default=str(ROOT.parent / "shared/eval/hvb/calls"))
    ap.add_argument("--scripts", default=None, help="scripts folder (default: ../scripts beside DROP_DIR)")
    ap.add_argument("--limit", type=int, default=12)
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, nargs="+", default=[0],
                    help="pipeline batch sizes to time (0 = auto: sequential on CPU)")
    ap.add_argument("--clip-seconds", type=float, nargs="+", default=[DEFAULT_CLIP_S],
                    help="longest clips of packed speech to time (qa run --clip-seconds)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run everything this many times, the order reversed every other time; figures are totals")
    ap.add_argument("--order", choices=("plain-first", "pipeline-first"), default="plain-first")
    args = ap.parse_args()

    source = Path(args.drop_dir)
    scripts = Path(args.scripts) if args.scripts else source.parent / "scripts"
    tmp = Path(tempfile.mkdtemp(prefix="qa-throughput-"))
    try:
        drop = pick(source, args.limit, tmp)
        files = sorted(p for p in drop.iterdir() if p.suffix.lower() in AUDIO)
        base = TranscriptionOptions(model=args.model, device=args.device)
        transcriber = Transcriber(base)
        transcriber.load()
        plain_model = transcriber._model  # the same loaded model, so loading is not in either figure

        results: dict[str, list] = {}  # name → [audio s, wall s, stage totals]

        def record(name: str, audio_s: float, wall: float, stages: dict) -> None:
            got = results.setdefault(name, [0.0, 0.0, defaultdict(float)])
            got[0] += audio_s
            got[1] += wall
            for label, seconds in stages.items():
                got[2][label] += seconds
        # warm-up, untimed: the first call loads the sentence encoder and the parser, the first decode
        # allocates the model's buffers
        warm = tmp / "warm"
        warm.mkdir()
        shutil.copy(files[0], warm / files[0].name)
        run_pipeline(warm, scripts, base, transcriber, tmp / "warm.db")
        plain_loop(files[:1], plain_model)

        def plain():
            audio_s, wall = plain_loop(files, plain_model)
            record("plain faster-whisper loop", audio_s, wall, {})

        def ours():
            for size, clip_s in [(size, clip_s) for size in args.batch_size for clip_s in args.clip_seconds]:
                topts = TranscriptionOptions(model=args.model, device=args.device, batch_size=size, clip_s=clip_s)
                tr = Transcriber(topts)
                tr._model, tr.model_id, tr.device, tr.compute_type = (plain_model, transcriber.model_id,
                                                                      transcriber.device, transcriber.compute_type)
                tr._model_path = transcriber._model_path
                tr.english_only = transcriber.english_only
                tr.batch_size = tr._resolve_batch_size()
                db = tmp / f"bench-{size}-{clip_s:g}-{time.monotonic_ns()}.db"
                audio_s, wall, stages = run_pipeline(drop, scripts, topts, tr, db)
                record(f"qa pipeline (batch {tr.batch_size}, clips {clip_s:g} s)", audio_s, wall, stages)

        for n in range(args.repeat):
            first_plain = (args.order == "plain-first") == (n % 2 == 0)
            for step in ((plain, ours) if first_plain else (ours, plain)):
                step()

        print(f"{len(files)} recordings from {source}, model {args.model} on {transcriber.device} "
              f"({transcriber.compute_type})")
        print(f"{args.repeat} repetition(s); figures are totals over them")
        plain_speed = next(a / w for name, (a, w, _) in results.items() if name.startswith("plain"))
        for name, (audio_s, wall, stages) in results.items():
            speed = audio_s / wall
            ratio = "" if name.startswith("plain") else f"  ratio {speed / plain_speed:.2f}"
            print(f"{name:<32} {audio_s:7.1f} s audio in {wall:6.1f} s: {speed:5.1f}x real time{ratio}")
            for label, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
                print(f"    {label:<32} {seconds:6.1f} s ({seconds / wall:.0%})")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
