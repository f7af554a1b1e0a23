#!/usr/bin/env python3
"""Whole-pipeline benchmark: decode → transcribe → match → score → store, on a folder of calls.

Usage:
    python benchmarks/pipeline_bench.py [DROP_DIR] [--scripts DIR] [--model tiny.en] [--device cpu]
                                        [--cpu-threads N] [--db PATH] [--limit N]

Defaults to ../shared/eval/hvb/calls with its script. Prints audio-seconds processed per
wall-second (whole pipeline, model load included and excluded) and peak resident memory. A fresh
temporary database is used unless --db is given, so every call is transcribed.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa_analyser.datatypes import TranscriptionOptions  # noqa: E402
from qa_analyser.pipeline import RunOptions, start_run  # noqa: E402
from qa_analyser.store import Store  # noqa: E402
from qa_analyser.transcribe import Transcriber  # noqa: E402
from throughput_bench import pick  # noqa: E402  (benchmarks/: the first N recordings with their manifest rows)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("drop_dir", nargs="?", default=str(ROOT.parent / "shared/eval/hvb/calls"))
    ap.add_argument("--scripts", default=None, help="scripts folder (default: ../scripts beside DROP_DIR)")
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--compute-type", default="auto")
    ap.add_argument("--beam-size", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=0, help="0 = auto (sequential on CPU)")
    ap.add_argument("--speech-detection", default="energy")
    ap.add_argument("--cpu-threads", type=int, default=0)
    ap.add_argument("--db", default=None)
    ap.add_argument("--limit", type=int, default=0, help="only the first N recordings (copied to a temp folder)")
    args = ap.parse_args()

    drop = Path(args.drop_dir)
    scripts = Path(args.scripts) if args.scripts else drop.parent / "scripts"
    tmp = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    try:
        if args.limit:
            drop = pick(drop, args.limit, tmp)
        db = Path(args.db) if args.db else tmp / "bench.db"
        topts = TranscriptionOptions(model=args.model, device=args.device, compute_type=args.compute_type,
                                     beam_size=args.beam_size, speech_detection=args.speech_detection,
                                     batch_size=args.batch_size)
        options = RunOptions(transcription=topts, cpu_threads=args.cpu_threads)
        t0 = time.perf_counter()
        transcriber = Transcriber(topts, cpu_threads=args.cpu_threads)
        transcriber.load()
        load_s = time.perf_counter() - t0
        store = Store.open(db)
        t1 = time.perf_counter()
        run = start_run(drop, scripts, store, options, transcriber=transcriber)
        for outcome in run:
            if outcome.status == "failed":
                print(f"failed: {outcome.file}: {outcome.reason}", file=sys.stderr)
        work_s = time.perf_counter() - t1
        s = run.summary
        total_s = load_s + work_s
        print(f"drop folder:        {args.drop_dir}")
        print(f"model/device:       {args.model} on {transcriber.device} ({transcriber.compute_type}), "
              f"beam {args.beam_size}, batch {transcriber.batch_size}, speech detection {args.speech_detection}, "
              f"cpu_threads {args.cpu_threads or 'all'}")
        print(f"calls:              {sum(v for k, v in s.counts.items() if k != 'failed')} ok, {s.failed} failed")
        print(f"audio:              {s.audio_s:.1f} s ({s.audio_s / 60:.1f} min)")
        print(f"model load:         {load_s:.1f} s")
        print(f"pipeline wall:      {work_s:.1f} s")
        print(f"speed (pipeline):   {s.audio_s / work_s:.1f}x real time")
        print(f"speed (with load):  {s.audio_s / total_s:.1f}x real time")
        print(f"peak RSS:           {peak_rss_mb():.0f} MB")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
