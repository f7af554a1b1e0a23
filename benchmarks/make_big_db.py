#!/usr/bin/env python3
"""Build a large results database for measurements (roll-up query times, report sizes, web page loads).

Usage: python benchmarks/make_big_db.py OUT.db [--calls 10000] [--from fixtures.db] [--seed 7]

The calls reuse the stored transcripts, recordings and scripts of a seed database (default: made once
with `qa run fixtures/calls --scripts scripts_library` into ~/.cache/qa-analyser/bench-fixtures.db, which
runs the speech model for about a minute), under new call ids, spread over 3 vendors, 10 teams,
200 agents (one vendor with 50) and 26 weeks. Nothing is re-matched: each new call copies a seed
call's verdicts and redraws their statuses with a seeded RNG, from the agent's skill, the item's
difficulty and a training effect (agents of the team `northwind-bpo-2` improve from the 14th week),
then is scored with the project's own scorer. About 2% of the calls get a reviewer's override.
The calls point at the seed's recordings, so a page can play their audio.

Prints what it wrote and how long it took (seconds, not minutes, for 10,000 calls).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa_analyser.datatypes import ItemResult, Override, wording_dict  # noqa: E402
from qa_analyser.score import apply_overrides, score_call  # noqa: E402
from qa_analyser.scripts import load_scripts  # noqa: E402
from qa_analyser.store import Store  # noqa: E402

START = datetime(2026, 6, 1, tzinfo=timezone.utc)  # a Monday
WEEKS = 26
TRAINING_WEEK = 13  # from this week on, the trained team's agents improve
TRAINED_TEAM = "northwind-bpo-2"
# vendor: (teams, agents)
VENDORS = {"northwind": (3, 50), "eastgate": (4, 80), "southbay": (3, 70)}
FIRST_NAMES = ["Sarah", "Emma", "Laura", "Tom", "Ravi", "Aisha", "Jon", "Mei", "Olu", "Ines", "Pavel", "Zoe"]


def seed_database(path: Path) -> Path:
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"making the seed database {path} (qa run fixtures/calls; about a minute)...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "qa_analyser", "--quiet", "run", str(ROOT / "fixtures" / "calls"), "--scripts",
                    str(ROOT / "scripts_library"), "--db", str(path)], check=True, cwd=ROOT)
    return path


def agents(rng: random.Random) -> list[dict]:
    out = []
    for vendor, (teams, count) in VENDORS.items():
        for i in range(count):
            team = f"{vendor}-bpo-{i % teams + 1}"
            out.append({"agent_id": f"{vendor[:2]}-{i + 1:03d}", "agent_name": f"{rng.choice(FIRST_NAMES)} {i + 1}",
                        "team": team, "vendor": vendor, "skill": rng.betavariate(8, 2)})
    return out


def redraw(r: ItemResult, skill: float, difficulty: float, pool: list[tuple], rng: random.Random) -> ItemResult:
    """A new status for a copied verdict; the evidence of a said item comes from a seed call where it was said."""
    if r.kind == "prohibited":
        violated = rng.random() < 0.04 * (1.5 - skill)
        if violated and pool:
            start, end, quote = rng.choice(pool)
            return replace(r, status="violated", start_s=start, end_s=end, evidence=quote)
        return replace(r, status="met", start_s=None, end_s=None, evidence="")
    if r.kind == "conditional" and rng.random() < 0.6:
        return replace(r, status="not_applicable", start_s=None, end_s=None, evidence="")
    p = skill * difficulty
    x = rng.random()
    status = "met" if x < p else "partial" if x < p + (1 - p) * 0.4 else "missed"
    if status == "missed" or not pool:
        return replace(r, status="missed", start_s=None, end_s=None, evidence="", wording=None)
    start, end, quote = rng.choice(pool)
    return replace(r, status=status, start_s=start, end_s=end, evidence=quote, confidence=round(rng.uniform(0.55, 0.99), 3))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--calls", type=int, default=10_000)
    ap.add_argument("--from", dest="seed_db", type=Path, default=None,
                    help="seed database made by `qa run fixtures/calls` (default: made once in the cache)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--override-share", type=float, default=0.02)
    args = ap.parse_args()
    started = time.perf_counter()
    seed_path = args.seed_db or seed_database(Path.home() / ".cache" / "qa-analyser" / "bench-fixtures.db")
    if args.out.exists():
        args.out.unlink()
    # the seed's recordings, transcripts, scripts and calls (the backup API: a WAL's content too)
    args.out.touch(mode=0o600)
    with sqlite3.connect(seed_path) as src, sqlite3.connect(args.out) as dst:
        src.backup(dst)
    rng = random.Random(args.seed)
    store = Store.open(args.out)
    seeds = list(store.stored_calls())
    if not seeds:
        print(f"{seed_path}: no scored calls to copy", file=sys.stderr)
        return 2
    scripts = {s.content_hash: s for s in load_scripts(ROOT / "scripts_library").scripts.values()}
    pass_marks = {h: s.pass_mark for h, s in scripts.items()}
    pools: dict[tuple[str, str], list[tuple]] = {}
    for c in seeds:
        for r in c.automatic:
            if r.status in ("met", "partial", "violated") and r.evidence:
                pools.setdefault((c.script_id, r.item_id), []).append((r.start_s, r.end_s, r.evidence))
    difficulty = {(c.script_id, r.item_id): rng.uniform(0.8, 1.0) for c in seeds for r in c.automatic}
    people = agents(rng)
    rows = store.db.execute("SELECT call_id, file, path, recording_sha256, transcript_id, channels, duration_s,"
                            " script_id FROM calls").fetchall()
    by_id = {r[0]: r for r in rows}

    calls, scores, items, overrides = [], [], [], []
    next_score = int(store.db.execute("SELECT COALESCE(MAX(id), 0) FROM scores").fetchone()[0]) + 1
    next_override = 1
    stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for n in range(args.calls):
        seed = rng.choice(seeds)
        person = rng.choice(people)
        week = rng.randrange(WEEKS)
        when = START + timedelta(weeks=week, days=rng.randrange(5), hours=8 + rng.randrange(10),
                                 minutes=rng.randrange(60), seconds=rng.randrange(60))
        skill = person["skill"]
        if person["team"] == TRAINED_TEAM and week >= TRAINING_WEEK:
            skill = min(1.0, skill + 0.1)
        automatic = [redraw(r, skill, difficulty[(seed.script_id, r.item_id)],
                            pools.get((seed.script_id, r.item_id), []), rng) for r in seed.automatic]
        call_id = f"big-{n + 1:06d}"
        applied: dict[int, Override] = {}
        if rng.random() < args.override_share:
            target = rng.choice([r for r in automatic if r.status != "not_applicable"])
            choices = ("met", "violated") if target.kind == "prohibited" else ("met", "partial", "missed")
            o = Override(call_id=call_id, item_id=target.item_id, automatic=target.status,
                         status=rng.choice([s for s in choices if s != target.status]),
                         reason="generated for measurements", reviewer="bench", at=stamp, id=next_override,
                         kind=target.kind)
            next_override += 1
            overrides.append((o.id, call_id, o.item_id, o.kind, o.automatic, o.status, o.reason, o.reviewer, stamp,
                              next_score))
            _, applied = apply_overrides(automatic, [o])
        effective, _ = apply_overrides(automatic, applied.values())
        score = score_call(effective, pass_mark=pass_marks.get(seed.script_hash))
        src = by_id[seed.call_id]
        day = when.strftime("%Y-%m-%d")
        metadata = {"vendor": person["vendor"], **{k: v for k, v in seed.info.metadata if k != "vendor"}}
        calls.append((call_id, f"{day}/{call_id}{Path(src[1]).suffix}", src[2], src[3], src[4], person["agent_id"],
                      person["agent_name"], person["team"], src[7], when.isoformat().replace("+00:00", "Z"), src[5],
                      json.dumps(metadata), src[6], seed.run_id, stamp, stamp))
        scores.append((next_score, call_id, seed.script_id, seed.script_version, seed.script_hash, score.score,
                       int(score.passed), score.earned, score.possible, json.dumps(list(score.critical_failures)),
                       seed.model_id, seed.fingerprint, json.dumps(seed.matcher_options),
                       json.dumps(seed.transcription_options), seed.run_id, stamp,
                       json.dumps([o.id for o in applied.values()])))
        for position, (auto, eff) in enumerate(zip(automatic, effective)):
            o = applied.get(position)
            items.append((next_score, position, call_id, eff.item_id, eff.section, eff.kind, eff.status,
                          json.dumps(list(eff.flags)), eff.confidence, eff.start_s, eff.end_s, eff.evidence,
                          eff.speaker, eff.detail, eff.weight, int(eff.critical),
                          None if eff.wording is None else json.dumps(wording_dict(eff.wording)),
                          auto.status if o else None, o.id if o else None))
        next_score += 1

    with store._transaction("write the generated calls"):
        store.db.conn.executemany(
            "INSERT INTO calls (call_id, file, path, recording_sha256, transcript_id, agent_id, agent_name, team,"
            " script_id, started_at, channels, metadata, duration_s, run_id, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", calls)
        store.db.conn.executemany(
            "INSERT INTO scores (id, call_id, current, script_id, script_version, script_hash, score, passed, earned,"
            " possible, critical_failures, model_id, matcher_version, matcher_options, transcription_options,"
            " run_id, scored_at, overrides) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", scores)
        store.db.conn.executemany(
            "INSERT INTO item_results (score_id, position, call_id, item_id, section, kind, status, flags,"
            " confidence, start_s, end_s, evidence, speaker, detail, weight, critical, wording, automatic_status,"
            " override_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", items)
        store.db.conn.executemany(
            "INSERT INTO overrides (id, call_id, item_id, kind, automatic, status, reason, reviewer, created_at,"
            " score_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", overrides)
    store.db.execute("ANALYZE")
    store.close()
    wall = time.perf_counter() - started
    print(f"{args.out}: {len(calls)} generated calls (+{len(seeds)} seed calls), {len(people)} agents, "
          f"{sum(t for t, _ in VENDORS.values())} teams, {len(VENDORS)} vendors, {WEEKS} weeks, "
          f"{len(items)} verdicts, {len(overrides)} overrides; {wall:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
