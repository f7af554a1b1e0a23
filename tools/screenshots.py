"""Screenshots of qa serve's main pages with headless Chromium, for the README (docs/screenshots/).

    python tools/screenshots.py --db qa.db [--contract contract.yaml] [--pages list,call,agent,vendor,contract]
        [--call ID] [--agent ID] [--vendor ID] [--out docs/screenshots]

Starts `qa serve` on a free loopback port, opens each page and saves the visible part as PNG
(`list.png`, `call.png`, `agent.png`, `vendor.png`, `contract.png`). Without --call/--agent/--vendor
it picks the first call of the list with a missed item, the agent with most calls and the vendor
with most calls.
"""

from __future__ import annotations

import argparse
import importlib.util
import sqlite3
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("qa_browser", ROOT / "tools" / "browser.py")
qa_browser = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(qa_browser)

PAGES = ("list", "call", "agent", "vendor", "contract")


def _pick(db: Path, sql: str) -> str | None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute(sql).fetchone()
    finally:
        conn.close()
    return None if row is None else row[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--contract", type=Path)
    ap.add_argument("--pages", default="list,call,agent,vendor,contract")
    ap.add_argument("--call")
    ap.add_argument("--agent")
    ap.add_argument("--vendor")
    ap.add_argument("--split", help="a date for the agent page's before/after table (YYYY-MM-DD)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--height", type=int, default=900)
    args = ap.parse_args(argv)
    pages = [p for p in args.pages.split(",") if p]
    unknown = set(pages) - set(PAGES)
    if unknown:
        ap.error(f"unknown page(s) {', '.join(sorted(unknown))} (pages: {', '.join(PAGES)})")
    if "contract" in pages and not args.contract:
        pages.remove("contract")
    call = args.call or _pick(args.db, "SELECT r.call_id FROM item_results r JOIN scores s ON s.id = r.score_id"
                                       " AND s.current = 1 WHERE r.status = 'missed' ORDER BY r.call_id LIMIT 1")
    agent = args.agent or _pick(args.db, "SELECT agent_id FROM calls GROUP BY agent_id ORDER BY COUNT(*) DESC,"
                                         " agent_id LIMIT 1")
    vendor = args.vendor or _pick(args.db, "SELECT json_extract(metadata, '$.vendor') v FROM calls WHERE v IS NOT"
                                           " NULL GROUP BY v ORDER BY COUNT(*) DESC, v LIMIT 1")
    agent_query = {"id": agent, **({"split": args.split} if args.split else {})}
    paths = {"list": "/calls", "call": "/call?" + urlencode({"id": call or ""}),
             "agent": "/agent?" + urlencode(agent_query), "vendor": "/vendor?" + urlencode({"id": vendor or ""}),
             "contract": "/contract"}
    args.out.mkdir(parents=True, exist_ok=True)
    extra = ["--contract", str(args.contract)] if args.contract else []
    with qa_browser.qa_serve(args.db, *extra) as base:
        driver = qa_browser.chromium(args.width, args.height)
        try:
            for page in pages:
                driver.get(base + paths[page])
                time.sleep(0.5)  # let the player load its metadata
                target = args.out / f"{page}.png"
                target.write_bytes(driver.get_screenshot_as_png())
                print(f"{target} ({target.stat().st_size // 1024} KiB) <- {paths[page]}")
        finally:
            driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
