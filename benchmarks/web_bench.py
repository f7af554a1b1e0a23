"""Page load times of `qa serve` on a large database (default: 10,000 generated calls).

    python benchmarks/web_bench.py [--db big.db] [--calls 10000] [--repeat 7]

Without an existing --db it first makes one with benchmarks/make_big_db.py. Then it starts
`qa serve` on loopback and requests each page once ("first") and then `--repeat` times, printing the
first request's wall time, the median wall time of the repeats (client side, over loopback) and the
median of the app's own time (its `Server-Timing: app;dur=` header), in milliseconds.

The roll-up pages (agent, team, vendor, vendors, contract) read every scored call once per database
version and keep them in memory (docs/web.md): the first of them after the server starts, or after a
commit, pays for that read ("first" of the agent page below); the others filter and group in memory.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("qa_browser", ROOT / "tools" / "browser.py")
qa_browser = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(qa_browser)


def pick(db: Path) -> dict[str, str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        def one(sql: str) -> str:
            return conn.execute(sql).fetchone()[0]

        return {
            "call": one("SELECT call_id FROM calls ORDER BY call_id LIMIT 1"),
            "agent": one("SELECT agent_id FROM calls GROUP BY agent_id ORDER BY COUNT(*) DESC, agent_id LIMIT 1"),
            "team": one("SELECT team FROM calls WHERE team IS NOT NULL GROUP BY team ORDER BY COUNT(*) DESC LIMIT 1"),
            "vendor": one("SELECT json_extract(metadata, '$.vendor') v FROM calls WHERE v IS NOT NULL GROUP BY v"
                          " ORDER BY COUNT(*) DESC, v LIMIT 1"),
            "item": one("SELECT item_id FROM item_results WHERE status = 'missed' GROUP BY item_id"
                        " ORDER BY COUNT(*) DESC LIMIT 1"),
            "calls": str(one("SELECT COUNT(*) FROM calls")),
        }
    finally:
        conn.close()


def timed(url: str) -> tuple[float, float, int]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        body = response.read()
        server = response.headers.get("server-timing", "")
    wall = (time.perf_counter() - start) * 1000
    found = re.search(r"dur=([\d.]+)", server)
    return wall, float(found.group(1)) if found else float("nan"), len(body)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=Path("/tmp/qa-web-bench.db"))
    ap.add_argument("--calls", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    if not args.db.exists():
        print(f"making {args.db} with {args.calls} calls (benchmarks/make_big_db.py) ...", flush=True)
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_big_db.py"), str(args.db),
                        "--calls", str(args.calls)], check=True)
    ids = pick(args.db)
    pages = {
        "list, first page": "/calls",
        "list, filtered (vendor, failed, item missed, by score)": "/calls?" + urlencode(
            {"vendor": ids["vendor"], "passed": "no", "item": ids["item"], "item_status": "missed", "sort": "score",
             "dir": "asc"}),
        "list, flag filter, page 3": "/calls?" + urlencode({"flag": "low_confidence", "page": 3}),
        "call page": "/call?" + urlencode({"id": ids["call"]}),
        "agent page": "/agent?" + urlencode({"id": ids["agent"]}),
        "team page": "/team?" + urlencode({"id": ids["team"]}),
        "vendor page": "/vendor?" + urlencode({"id": ids["vendor"]}),
        "vendors overview": "/vendors",
    }
    print(f"{args.db}: {ids['calls']} calls; first request, then the median of {args.repeat} more")
    print(f"{'page':<56} {'first ms':>9} {'wall ms':>9} {'app ms':>9} {'KiB':>7}")
    with qa_browser.qa_serve(args.db) as base:
        for name, path in pages.items():
            first = timed(base + path)
            runs = [timed(base + path) for _ in range(args.repeat)]
            print(f"{name:<56} {first[0]:9.1f} {statistics.median(r[0] for r in runs):9.1f} "
                  f"{statistics.median(r[1] for r in runs):9.1f} {runs[0][2] / 1024:7.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
