#!/usr/bin/env python3
"""`qa rescore` in bulk: calls per second on a large database, in three situations.

Usage:
    python benchmarks/rescore_bench.py BIG.db [--workers 0] [--script energy-inbound] [--force-first]
                                              [--steps all,unchanged,script]

BIG.db: made by benchmarks/make_big_db.py (10,000 calls by default). It is copied first, so the file
itself is not changed. Three rescores are timed (start-up and model loading included, the process's
own start excluded):

1. **all calls re-matched**: with --force-first, or when the copy's scores were made by another
   matcher than this checkout's (a seed database made before a matcher change), every call is
   matched again, in `--workers` processes; otherwise every call is skipped, as in 2;
2. **nothing changed**: the same rescore again: every call is unchanged and skipped;
3. **one script changed**: `--script`'s file gets a new comment line (a new content hash), so its
   calls are re-matched and the others skipped.

Prints calls per second for each, how many calls each re-matched, and this process's CPU time
(with `--workers 1` all the matching happens here, so CPU ms per re-matched call, a figure that a
loaded machine changes far less than the wall time). `--steps` runs some of them
only (a re-match of 10,000 calls takes many minutes on 2 cores: time it on a smaller database).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa_analyser.pipeline import start_rescore  # noqa: E402
from qa_analyser.store import Store  # noqa: E402


def timed_rescore(db: Path, scripts: Path, *, workers: int, force: bool = False) -> tuple[int, dict, float, float]:
    store = Store.open(db)
    started, cpu = time.perf_counter(), time.process_time()
    job = start_rescore(store, scripts, workers=workers, force=force)
    for _ in job:
        pass
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    store.close()
    return job.summary.total, job.summary.counts, wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("db")
    ap.add_argument("--scripts", default=str(ROOT / "scripts_library"))
    ap.add_argument("--workers", type=int, default=0, help="0 = auto (one per core)")
    ap.add_argument("--script", default="energy-inbound", help="the script changed for the third rescore")
    ap.add_argument("--force-first", action="store_true", help="force the first rescore (re-match every call)")
    ap.add_argument("--steps", default="all,unchanged,script",
                    help="which rescores to time, in this order: all (the first), unchanged, script")
    args = ap.parse_args()
    wanted = {"all": "all calls re-matched", "unchanged": "nothing changed", "script": "one script changed"}
    chosen = [wanted[k.strip()] for k in args.steps.split(",") if k.strip()]

    tmp = Path(tempfile.mkdtemp(prefix="qa-rescore-bench-"))
    try:
        db = tmp / "big.db"
        source = Store.open(args.db)  # a consistent copy, WAL included
        source.db.conn.execute("VACUUM INTO ?", [str(db)])
        source.close()
        scripts = tmp / "scripts"
        shutil.copytree(args.scripts, scripts)
        target = next(p for p in scripts.glob("*.y*ml") if f"id: {args.script}" in p.read_text())

        steps = [("all calls re-matched", dict(force=args.force_first)), ("nothing changed", {}),
                 ("one script changed", {})]
        for label, kw in steps:
            if label not in chosen:
                continue
            if label == "one script changed":
                target.write_text(target.read_text() + "\n# changed for rescore_bench\n")
            total, counts, wall, cpu = timed_rescore(db, scripts, workers=args.workers, **kw)
            rescored = counts.get("rescored", 0)
            per_call = f", {cpu / rescored * 1000:.0f} ms CPU per re-matched call" if args.workers == 1 and rescored else ""
            print(f"{label:<22} {total:6d} calls in {wall:7.1f} s: {total / wall:8.1f} calls/s "
                  f"(re-matched {rescored}, unchanged {counts.get('unchanged', 0)}, "
                  f"failed {counts.get('failed', 0)}; this process's CPU {cpu:.1f} s{per_call})")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
