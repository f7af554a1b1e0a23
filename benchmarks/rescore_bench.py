#!/usr/bin/env python3
"""`qa rescore` in bulk: calls per second on a large database, in three situations.

Usage:
    python benchmarks/rescore_bench.py BIG.db [--workers 0] [--script energy-inbound]

BIG.db: made by benchmarks/make_big_db.py (10,000 calls by default). It is copied first, so the file
itself is not changed. Three rescores are timed (start-up and model loading included, the process's
own start excluded):

1. **all calls re-matched**: the copy's scores were made by the seed database's matcher (or are
   forced with --force-first), so every call is matched again, in `--workers` processes;
2. **nothing changed**: the same rescore again: every call is unchanged and skipped;
3. **one script changed**: `--script`'s file gets a new comment line (a new content hash), so its
   calls are re-matched and the others skipped.

Prints calls per second for each, and how many calls each re-matched.
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


def timed_rescore(db: Path, scripts: Path, *, workers: int, force: bool = False) -> tuple[int, dict, float]:
    store = Store.open(db)
    started = time.perf_counter()
    job = start_rescore(store, scripts, workers=workers, force=force)
    for _ in job:
        pass
    wall = time.perf_counter() - started
    store.close()
    return job.summary.total, job.summary.counts, wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("db")
    ap.add_argument("--scripts", default=str(ROOT / "scripts_library"))
    ap.add_argument("--workers", type=int, default=0, help="0 = auto (one per core)")
    ap.add_argument("--script", default="energy-inbound", help="the script changed for the third rescore")
    ap.add_argument("--force-first", action="store_true", help="force the first rescore (re-match every call)")
    args = ap.parse_args()

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
            if label == "one script changed":
                target.write_text(target.read_text() + "\n# changed for rescore_bench\n")
            total, counts, wall = timed_rescore(db, scripts, workers=args.workers, **kw)
            print(f"{label:<22} {total:6d} calls in {wall:7.1f} s: {total / wall:8.1f} calls/s "
                  f"(re-matched {counts.get('rescored', 0)}, unchanged {counts.get('unchanged', 0)}, "
                  f"failed {counts.get('failed', 0)})")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
