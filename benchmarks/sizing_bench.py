#!/usr/bin/env python3
"""Sizing: `qa run` throughput and peak memory against the number of calls and the model.

Usage:
    python benchmarks/sizing_bench.py [DROP_DIR] [--calls 1 10 100 1000] [--model tiny.en ...]
                                      [--scripts DIR]

For each model and each number of calls N, a drop folder of N new calls is made from DROP_DIR's
recordings (default ../shared/eval/hvb/calls, else fixtures/calls), taken in turn: each copy is
decoded and written as a 16-bit WAV under a new file name and call id (its manifest row copied),
with one sample changed by one step, so that no two copies have the same content hash (identical
recordings are transcribed once and reused, which would measure nothing). Then `qa run` as a
library (start_run over a fresh database, as benchmarks/throughput_bench.py does) processes the
folder, in a fresh process per row, so that each row's peak resident memory is its own. The model is
loaded and one other call processed before the clock starts (the matcher's models load on the first
call); the model's load time is printed apart.

Prints, per row: calls, audio minutes, wall seconds, audio seconds per wall second, calls per
minute, peak RSS, and the load average at the start (the figures move on a machine shared with
other work).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_bench import peak_rss_mb  # noqa: E402  (benchmarks/)
from throughput_bench import AUDIO, run_pipeline  # noqa: E402


def write_wav(path: Path, channels: tuple[np.ndarray, ...], sample_rate: int, nudge: int) -> None:
    """16-bit PCM, one sample of the first channel changed by one step (at `nudge`)."""
    pcm = np.stack([np.clip(np.round(c * 32767), -32768, 32767).astype(np.int16) for c in channels], axis=1)
    i = nudge % len(pcm)
    pcm[i, 0] = pcm[i, 0] + 1 if pcm[i, 0] < 32767 else pcm[i, 0] - 1
    with wave.open(str(path), "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())


def make_calls(source: Path, count: int, out: Path) -> Path:
    """A drop folder of `count` distinct calls made from `source`'s recordings (see the docstring)."""
    from qa_analyser.audio import decode_audio

    files = sorted(p for p in source.iterdir() if p.suffix.lower() in AUDIO)
    rows: dict[str, dict] = {}
    fields: list[str] = []
    manifest = source / "manifest.csv"
    if manifest.exists():
        with manifest.open(newline="") as f:
            reader = csv.DictReader(f)
            fields = list(reader.fieldnames or [])
            rows = {r["file"]: r for r in reader}
        files = [p for p in files if p.name in rows]
    out.mkdir(parents=True)
    decoded: dict[Path, object] = {}
    written = []
    for n in range(count):
        src = files[n % len(files)]
        if src not in decoded:
            decoded[src] = decode_audio(src)
        audio = decoded[src]
        name = f"{src.stem}-copy{n:05d}.wav"
        write_wav(out / name, audio.channels, audio.sample_rate, nudge=n // len(files))
        if rows:
            row = dict(rows[src.name], file=name)
            if "call_id" in row:
                row["call_id"] = f"{row['call_id']}-copy{n:05d}"
            written.append(row)
    if rows:
        with (out / "manifest.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(written)
    return out


def one_row(drop: Path, scripts: Path, model: str, count: int) -> dict:
    """Make the calls, load the model, run the pipeline (this process); the row's figures."""
    from qa_analyser.datatypes import TranscriptionOptions
    from qa_analyser.transcribe import Transcriber

    tmp = Path(tempfile.mkdtemp(prefix="qa-sizing-"))
    calls = make_calls(drop, count, tmp / "calls")
    load = os.getloadavg()[0]
    topts = TranscriptionOptions(model=model)
    started = time.perf_counter()
    transcriber = Transcriber(topts)
    transcriber.load()
    load_s = time.perf_counter() - started
    # untimed: the first call loads the matcher's models (sentence encoder, parser)
    run_pipeline(make_calls(drop, 1, tmp / "warm"), scripts, topts, transcriber, tmp / "warm.db")
    audio_s, wall, _ = run_pipeline(calls, scripts, topts, transcriber, tmp / "sizing.db")
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    return {"model": model, "calls": count, "audio_s": audio_s, "wall_s": wall, "load_s": load_s,
            "peak_rss_mb": peak_rss_mb(), "loadavg": load}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = ROOT.parent / "shared/eval/hvb/calls"
    ap.add_argument("drop_dir", nargs="?", default=str(default if default.exists() else ROOT / "fixtures/calls"))
    ap.add_argument("--scripts", default=None,
                    help="scripts folder (default: ../scripts beside DROP_DIR, else scripts_library)")
    ap.add_argument("--calls", type=int, nargs="+", default=[1, 10, 100])
    ap.add_argument("--model", nargs="+", default=["tiny.en"])
    ap.add_argument("--row", nargs=2, metavar=("MODEL", "CALLS"), help=argparse.SUPPRESS)  # one row, JSON out
    args = ap.parse_args()

    drop = Path(args.drop_dir)
    scripts = Path(args.scripts) if args.scripts else (
        drop.parent / "scripts" if (drop.parent / "scripts").is_dir() else ROOT / "scripts_library")
    if args.row:
        print(json.dumps(one_row(drop, scripts, args.row[0], int(args.row[1]))))
        return 0
    print(f"calls made from {drop}, scripts {scripts}, {os.cpu_count()} cores")
    print(f"{'model':<8} {'calls':>6} {'audio min':>9} {'wall s':>8} {'audio s/s':>9} {'calls/min':>9} "
          f"{'peak RSS MB':>11} {'model load s':>12} {'load avg':>8}")
    for model in args.model:
        for count in args.calls:
            done = subprocess.run([sys.executable, __file__, str(drop), "--scripts", str(scripts),
                                   "--row", model, str(count)], capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{model} {count}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
                return 1
            r = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"{model:<8} {count:>6} {r['audio_s'] / 60:>9.1f} {r['wall_s']:>8.1f} "
                  f"{r['audio_s'] / r['wall_s']:>9.1f} {count / r['wall_s'] * 60:>9.1f} {r['peak_rss_mb']:>11.0f} "
                  f"{r['load_s']:>12.1f} {r['loadavg']:>8.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
