#!/usr/bin/env python3
"""Peak memory and time of the pipeline on hostile input, per category (tools/make_hostile.py).

Usage:
    python benchmarks/hostile_bench.py [--hours 2] [--keep DIR]

Each category runs in a fresh process (library pipeline, stand-in recogniser, a new database), so
its peak resident memory (getrusage ru_maxrss) is its own; "baseline" is the same run over an
empty folder (imports, database). Then a silent stereo WAV of --hours hours (8 kHz, 16-bit) runs:
"long-pipeline" through the pipeline, "long-decode" through decode_audio and the energy speech gate
on each channel (what the recogniser does before the model). Prints one line per category: inputs,
failures stored, failures stored as "internal", wall seconds, peak MB; and the totals.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _hostile():
    spec = importlib.util.spec_from_file_location("make_hostile", ROOT / "tools" / "make_hostile.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_hostile"] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module



def child(kind: str, drop: str, scripts: str, db: str) -> None:
    """Run one measurement in this process and print it as JSON."""
    started = time.perf_counter()
    if kind == "decode":
        from qa_analyser.audio import decode_audio, speech_regions

        audio = decode_audio(drop)
        regions = [len(speech_regions(channel)) for channel in audio.channels]
        out = {"inputs": 1, "failed": 0, "internal": 0, "audio_s": audio.duration_s, "regions": regions}
    else:
        from qa_analyser.errors import QAError
        from qa_analyser.pipeline import RunOptions, run_drop_folder
        from qa_analyser.store import Store

        store = Store.open(db)
        try:
            summary = run_drop_folder(drop, scripts, store, RunOptions(default_script="demo"),
                                      transcriber=_hostile().ScriptedRecogniser())
        except QAError as e:  # a whole manifest refused: the run does not start
            out = {"inputs": 1, "failed": 1, "internal": 0, "refused": str(e)[:120]}
        else:
            rows = store.failures(run_id=summary.run_id)
            out = {"inputs": len(summary.outcomes) + len(summary.skipped), "failed": len(rows),
                   "internal": sum(r["stage"] == "internal" for r in rows), "counts": summary.counts}
    out["wall_s"] = round(time.perf_counter() - started, 2)
    out["peak_mb"] = round(_peak_mb(), 1)
    print(json.dumps(out))


def measure(kind: str, drop: Path, scripts: Path, db: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", kind, str(drop), str(scripts), str(db)],
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def silent_wav(path: Path, hours: float) -> None:
    block = bytes(8000 * 60 * 2 * 2)  # one minute of stereo 16-bit silence at 8 kHz
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        for _ in range(int(hours * 60)):
            w.writeframes(block)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:6])
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=2.0, help="length of the silent call (0: skip it)")
    ap.add_argument("--keep", default=None, help="build the corpus here and keep it")
    args = ap.parse_args()

    root = Path(args.keep or tempfile.mkdtemp(prefix="hostile-bench-"))
    corpus = _hostile().make_corpus(root)
    empty = root / "empty"
    empty.mkdir(exist_ok=True)
    demo_only = root / "demo-only"
    demo_only.mkdir(exist_ok=True)
    (demo_only / "demo.yaml").write_text(_hostile().GOOD_SCRIPT)

    runs: list[tuple[str, str, Path, Path]] = [("baseline", "run", empty, demo_only)]
    for folder in ("good", "wav-header", "truncated", "junk", "names", "links"):
        runs.append((folder, "run", corpus.drop / folder, demo_only))
    manifest_drop = root / "manifest-rows"
    manifest_drop.mkdir(exist_ok=True)
    if not (manifest_drop / "manifest").exists():  # a copy: a link to a folder outside is not followed
        shutil.copytree(corpus.drop / "manifest", manifest_drop / "manifest")
        shutil.copy(corpus.drop / "manifest.csv", manifest_drop / "manifest.csv")
    runs.append(("manifest-rows", "run", manifest_drop, demo_only))
    for folder, _fragment in corpus.unusable_manifests:
        runs.append((f"manifest-whole/{folder.name}", "run", folder, demo_only))
    runs.append(("scripts", "run", empty, corpus.scripts))
    if args.hours > 0:
        long_drop = root / "long"
        long_drop.mkdir(exist_ok=True)
        silent_wav(long_drop / "silent.wav", args.hours)
        runs.append(("long-pipeline", "run", long_drop, demo_only))
        runs.append(("long-decode", "decode", long_drop / "silent.wav", demo_only))

    print(f"corpus: {corpus.total} inputs in {root}; by category: {json.dumps(corpus.counts())}")
    print(f"{'category':<30} {'inputs':>6} {'failed':>6} {'internal':>8} {'wall s':>7} {'peak MB':>8}")
    for name, kind, drop, scripts in runs:
        db = root / f"{name.replace('/', '-')}.db"
        if db.exists():
            db.unlink()
        result = measure(kind, drop, scripts, db)
        if "error" in result:
            print(f"{name:<30} ERROR {result['error']}")
            continue
        print(f"{name:<30} {result['inputs']:>6} {result['failed']:>6} {result['internal']:>8} "
              f"{result['wall_s']:>7} {result['peak_mb']:>8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
