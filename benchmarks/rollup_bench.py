#!/usr/bin/env python3
"""Roll-up query times on a large database, and the size of a vendor's HTML report.

Usage: python benchmarks/rollup_bench.py BIG.db [--repeat 3] [--vendor northwind] [--contract FILE]

BIG.db: made by benchmarks/make_big_db.py (10,000 calls by default; vendor `northwind` has 50 agents).
Prints the median wall and CPU time of each step: reading the calls (`Store.stored_calls`, all and filtered by
vendor, team and agent), the roll-ups on them (rollup.summarise by vendor, team and agent, weekly,
most_missed, contract.evaluate), and building the vendor's report; then the HTML report's size.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa_analyser.contract import evaluate, load_contract  # noqa: E402
from qa_analyser.report import build_group_report  # noqa: E402
from qa_analyser.report_html import group_report_html  # noqa: E402
from qa_analyser.rollup import most_missed, summarise, weekly  # noqa: E402
from qa_analyser.store import Store  # noqa: E402


def timed(repeat: int, fn):
    """Median wall and CPU seconds (CPU time is less disturbed by other processes on a shared machine)."""
    wall, cpu, value = [], [], None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        value = fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return (statistics.median(wall), statistics.median(cpu)), value


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--vendor", default="northwind")
    ap.add_argument("--contract", type=Path, default=ROOT / "fixtures" / "contracts" / "energy-2026.yaml")
    args = ap.parse_args()
    store = Store.open(args.db)
    rows: list[tuple[str, tuple[float, float], str]] = []

    def step(name: str, fn, describe=lambda v: ""):
        seconds, value = timed(args.repeat, fn)
        rows.append((name, seconds, describe(value)))
        return value

    calls = step("stored_calls() (all)", lambda: list(store.stored_calls()), lambda v: f"{len(v)} calls")
    vendor = step(f"stored_calls(vendor={args.vendor})", lambda: list(store.stored_calls(vendor=args.vendor)),
                  lambda v: f"{len(v)} calls")
    team = vendor[0].team
    step(f"stored_calls(team={team})", lambda: list(store.stored_calls(team=team)), lambda v: f"{len(v)} calls")
    agent = vendor[0].agent_id
    step(f"stored_calls(agent={agent})", lambda: list(store.stored_calls(agent=agent)), lambda v: f"{len(v)} calls")
    for by in ("vendor", "team", "agent"):
        step(f"summarise(all, by={by})", lambda by=by: summarise(calls, by=by), lambda v: f"{len(v)} groups")
    step("weekly(all)", lambda: weekly(calls), lambda v: f"{len(v)} weeks")
    step("most_missed(all)", lambda: most_missed(calls), lambda v: f"{len(v)} items")
    contract = load_contract(args.contract)
    step("contract.evaluate(all)", lambda: evaluate(calls, contract),
         lambda v: f"{len(v)} rows, {sum(r.breached for r in v)} breaches")
    report = step(f"build_group_report(vendor {args.vendor})",
                  lambda: build_group_report("vendor", args.vendor, vendor, since="2026-08-31", contract=contract),
                  lambda v: f"{len(v.agents)} agents, {len(v.teams)} teams")
    page = step("group_report_html", lambda: group_report_html(report), lambda v: f"{len(v.encode()):,} bytes")
    store.close()

    print(f"{args.db}: median of {args.repeat}, wall and CPU time")
    for name, (wall, cpu), what in rows:
        print(f"  {name:<40} {wall * 1000:9.1f} ms wall {cpu * 1000:9.1f} ms CPU   {what}")
    print(f"HTML report of vendor {args.vendor} ({len(report.agents)} agents, {report.figures.calls} calls): "
          f"{len(page.encode()):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
