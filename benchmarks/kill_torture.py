#!/usr/bin/env python3
"""kill -9 torture: `qa run` killed at random points, the database checked after every kill.

Usage:
    python benchmarks/kill_torture.py [--cycles 50] [--seed 7] [--max-delay S] [--recogniser stand-in|real]
                                      [--keep DIR]

One drop folder (generated stereo WAVs, two real recordings from fixtures/calls, an empty WAV and a
junk "mp3" that must fail) and one database live for the whole torture. Each cycle first changes the
folder so that the run has work (four new recordings, one existing recording rewritten with new
content), then starts `qa run DROP --scripts SCRIPTS --db DB --default-script demo` as a real
process and sends it SIGKILL after a random delay (seeded): up to --max-delay, by default 1.2
times an uninterrupted cycle (imports included; at least 1.5 times a run with nothing to do), and
for three kills in four no earlier than 0.8 times a run with nothing to do, so that most land
while calls are stored and some during start-up (with the real model, whose loading takes most of
a run, most land before the run is recorded).
The default recogniser is a stand-in (tests/test_pipeline.py's FakeTranscriber, injected as
tests/test_cli.py's SLOW_RUN does, sleeping 50-250 ms per call) so that a cycle takes seconds;
decoding, diarization of the mono recording, matching, scoring and storage are the real ones.
`--recogniser real` runs `python -m qa_analyser run` with the bundled model (slow: a few cycles).

After each kill:
    corrupt      PRAGMA integrity_check is not "ok", or the database cannot be opened
    duplicated   a recording stored under two call ids, a call with other than one current score,
                 a score whose item results are missing, or a call without its transcript
    lost         a call stored by an earlier cycle is gone
    stale        a run left "running" by an earlier kill that a later run (which got the lock, so
                 ran the ledger's clean-up) did not turn into "interrupted"
    locked       the lock file is still held once the killed process is gone, or a run exits 75
After a last uninterrupted run, every recording must be stored exactly once with its current content
(lost otherwise), every bad file must have exactly one open failure, no run may be left "running",
and that run must exit 0 or 1 without a traceback.

Prints one line per cycle (delay, where the kill landed, calls stored) and a summary; exit status 1
if any of lost, duplicated, corrupt, stale or locked is not 0.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_pipeline import SCRIPT, write_wav  # noqa: E402

STAND_IN_RUN = """
import random, sys, time
sys.path.insert(0, {tests!r})
import qa_analyser.transcribe
from test_pipeline import FakeTranscriber

class Slow(FakeTranscriber):
    def transcribe(self, audio, layout, **kw):
        time.sleep(random.uniform(0.05, 0.25))  # a recogniser's time per call: room for the kill
        return super().transcribe(audio, layout, **kw)

qa_analyser.transcribe.Transcriber = lambda *a, **k: Slow()
from qa_analyser.cli import main
sys.argv = ["qa", *{args!r}]
main()
"""

REAL_RECORDINGS = ("inbound-03.mp3", "collections-02.mp3")  # mono (diarized) and stereo, ~100 KB each
BAD_FILES = {"bad/empty.wav": b"", "bad/junk.mp3": b"this is not an mp3 file\n" * 40}
STORED_STATUSES = {"finished", "finished_with_failures", "interrupted", "failed"}


@dataclass
class Tally:
    cycles: int = 0
    before_run: int = 0  # killed before its run was recorded (imports, configuration, migration, lock)
    mid_run: int = 0  # killed while its run was "running"
    after_run: int = 0  # the run had finished (or exited) before the kill
    lost: int = 0
    duplicated: int = 0
    corrupt: int = 0
    stale: int = 0
    locked: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, kind: str, text: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        self.problems.append(f"{kind}: {text}")
        print(f"  !! {kind}: {text}", flush=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def qa_command(args: list[str], recogniser: str) -> list[str]:
    if recogniser == "real":
        return [sys.executable, "-m", "qa_analyser", *args]
    return [sys.executable, "-c", STAND_IN_RUN.format(tests=str(ROOT / "tests"), args=args)]


def recordings(drop: Path) -> dict[str, str]:
    """Relative path → sha256 of every recording the run should store."""
    return {p.relative_to(drop).as_posix(): sha256(p) for p in sorted(drop.rglob("*"))
            if p.is_file() and not p.relative_to(drop).as_posix().startswith("bad/")}


def lock_is_free(db: Path) -> bool:
    lock_path = Path(f"{db}.lock")
    if not lock_path.exists():
        return True
    fd = os.open(lock_path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


class Snapshot:
    """What the database holds, read with plain sqlite3 (not through the library under test)."""

    def __init__(self, db: Path) -> None:
        self.error = None
        self.integrity = "ok"
        self.calls: dict[str, tuple[str, str]] = {}  # call_id → (file, recording sha256)
        self.runs: dict[int, str] = {}
        self.duplicates: list[str] = []
        self.open_failures: dict[str, int] = {}
        if not db.exists():
            return
        try:
            conn = sqlite3.connect(db, timeout=10)
        except sqlite3.Error as e:
            self.error = f"cannot open: {e}"
            return
        try:
            self.integrity = "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"calls", "scores", "item_results", "runs", "failures"} <= tables:
                return  # killed before the schema was created (or while it was): nothing stored yet
            if "current" not in {r[1] for r in conn.execute("PRAGMA table_info(scores)")}:
                return  # killed between migrations: the next run finishes them
            self.calls = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT call_id, file, recording_sha256 FROM calls")}
            self.runs = dict(conn.execute("SELECT id, status FROM runs"))
            self.open_failures = dict(conn.execute(
                "SELECT file, count(*) FROM failures WHERE resolved_at IS NULL GROUP BY file"))
            for file, n in conn.execute("SELECT file, count(*) FROM calls GROUP BY file HAVING count(*) > 1"):
                self.duplicates.append(f"{file} stored as {n} calls")
            for call_id, n in conn.execute(
                    "SELECT c.call_id, (SELECT count(*) FROM scores s WHERE s.call_id = c.call_id AND s.current = 1)"
                    " FROM calls c"):
                if n != 1:
                    self.duplicates.append(f"call {call_id} has {n} current scores")
            for score_id, call_id in conn.execute(
                    "SELECT s.id, s.call_id FROM scores s WHERE NOT EXISTS"
                    " (SELECT 1 FROM item_results r WHERE r.score_id = s.id)"):
                self.duplicates.append(f"score {score_id} of call {call_id} has no item results")
            for call_id, in conn.execute(  # (a transcript may have no segments: noise holds no speech)
                    "SELECT c.call_id FROM calls c WHERE NOT EXISTS"
                    " (SELECT 1 FROM transcripts t WHERE t.id = c.transcript_id)"):
                self.duplicates.append(f"call {call_id} has no stored transcript")
        except sqlite3.DatabaseError as e:
            self.error = str(e)
        finally:
            conn.close()

    @property
    def running(self) -> set[int]:
        return {run_id for run_id, status in self.runs.items() if status == "running"}


def change_folder(drop: Path, cycle: int, rng: random.Random) -> None:
    """New work for the next run: four new recordings and one existing one rewritten."""
    for k in range(4):
        write_wav(drop / "gen" / f"c{cycle:03d}-{k}.wav", seconds=rng.uniform(0.5, 2.0), seed=1000 * cycle + k)
    existing = sorted((drop / "gen").glob("*.wav"))
    victim = rng.choice(existing)
    write_wav(victim, seconds=rng.uniform(0.5, 2.0), seed=rng.randrange(10**9))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-delay", type=float, default=None,
                        help="longest wait before the kill, seconds (default: 1.2 x an uninterrupted run)")
    parser.add_argument("--recogniser", choices=("stand-in", "real"), default="stand-in")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    root = args.keep or Path(tempfile.mkdtemp(prefix="kill-torture-"))
    root.mkdir(parents=True, exist_ok=True)
    drop, scripts, db = root / "drop", root / "scripts", root / "qa.db"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    run_args = ["run", str(drop), "--scripts", str(scripts), "--db", str(db), "--default-script", "demo"]
    command = qa_command(run_args, args.recogniser)

    for folder in (drop / "gen", drop / "real", drop / "bad", scripts):
        folder.mkdir(parents=True, exist_ok=True)
    (scripts / "demo.yaml").write_text(SCRIPT)
    for i in range(6):
        write_wav(drop / "gen" / f"seed-{i}.wav", seconds=1.0, seed=i)
    for name in REAL_RECORDINGS:
        shutil.copy(ROOT / "fixtures" / "calls" / name, drop / "real" / name)
    for rel, data in BAD_FILES.items():
        (drop / rel).write_bytes(data)

    max_delay, idle = args.max_delay, 0.0
    if max_delay is None:  # time an uninterrupted cycle (after a first full run) on a copy of the folder
        probe = root / "probe"
        shutil.copytree(drop, probe / "drop")
        shutil.copytree(scripts, probe / "scripts")
        probe_command = qa_command(["run", str(probe / "drop"), "--scripts", str(probe / "scripts"),
                                    "--db", str(probe / "qa.db"), "--default-script", "demo"], args.recogniser)

        def timed() -> float:
            t = time.perf_counter()
            subprocess.run(probe_command, cwd=ROOT, env=env, capture_output=True)
            return time.perf_counter() - t

        timed()
        change_folder(probe / "drop", 0, random.Random(args.seed))
        cycle = timed()
        idle = timed()  # nothing left to do: start-up, configuration, scan, finish
        # the real model's start-up can outweigh a cycle's work: leave room after it all the same
        max_delay = max(1.2 * cycle, 1.5 * idle)
        shutil.rmtree(probe)
    print(f"kill -9 torture: {args.cycles} cycles, seed {args.seed}, recogniser {args.recogniser}, "
          f"kill after 0-{max_delay:.2f} s "
          f"(a run with nothing to do takes {idle:.2f} s), in {root}", flush=True)

    tally = Tally()
    started = time.perf_counter()
    before = Snapshot(db)
    for cycle in range(1, args.cycles + 1):
        change_folder(drop, cycle, rng)
        # a quarter of the kills anywhere (start-up and migration included), the rest once a run with
        # nothing to do would have got going, so that most land while calls are being stored
        low = 0.0 if rng.random() < 0.25 else min(0.8 * idle, max_delay)
        delay = rng.uniform(low, max_delay)
        with open(root / "last.out", "wb") as out, open(root / "last.err", "wb") as err:
            proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err)
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()  # reaped: a zombie would still look alive to the ledger
        tally.cycles += 1
        if proc.returncode == 75:
            tally.problem("locked", f"cycle {cycle}: the run was refused, the database was locked")
        if not lock_is_free(db):
            tally.problem("locked", f"cycle {cycle}: the lock is still held after the process is gone")

        after = Snapshot(db)
        new_runs = sorted(set(after.runs) - set(before.runs))
        if proc.returncode != -signal.SIGKILL:
            where = f"exited {proc.returncode} first"
            tally.after_run += 1
            if proc.returncode not in (0, 1) or b"Traceback" in (root / "last.err").read_bytes():
                tally.problem("corrupt", f"cycle {cycle}: the run exited {proc.returncode}: "
                                         f"{(root / 'last.err').read_text(errors='replace')[-400:]}")
        elif new_runs and after.runs[new_runs[-1]] == "running":
            where = f"mid-run (run {new_runs[-1]})"
            tally.mid_run += 1
        elif new_runs:
            where = f"after run {new_runs[-1]} was stored as {after.runs[new_runs[-1]]}"
            tally.after_run += 1
        else:
            where = "before the run started"
            tally.before_run += 1
        stored = len(set(after.calls) - set(before.calls))
        print(f"cycle {cycle:3d}: killed after {delay:5.2f} s, {where}; {stored} new call(s), "
              f"{len(after.calls)} stored", flush=True)

        if after.error or after.integrity != "ok":
            tally.problem("corrupt", f"cycle {cycle}: {after.error or after.integrity}")
        for text in after.duplicates:
            tally.problem("duplicated", f"cycle {cycle}: {text}")
        for call_id in sorted(set(before.calls) - set(after.calls)):
            tally.problem("lost", f"cycle {cycle}: call {call_id} ({before.calls[call_id][0]}) is gone")
        if new_runs:  # a run that got the lock marks every dead "running" run as interrupted first
            for run_id in sorted(before.running):
                if after.runs.get(run_id) != "interrupted":
                    tally.problem("stale", f"cycle {cycle}: run {run_id} is {after.runs.get(run_id)!r}, "
                                           f"not 'interrupted', after run {new_runs[0]} started")
        for run_id, status in after.runs.items():
            if status not in STORED_STATUSES | {"running"}:
                tally.problem("corrupt", f"cycle {cycle}: run {run_id} has status {status!r}")
        before = after

    final = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    last = Snapshot(db)
    if final.returncode not in (0, 1) or "Traceback" in final.stderr:
        tally.problem("corrupt", f"final run exited {final.returncode}: {final.stderr[-400:]}")
    if last.error or last.integrity != "ok":
        tally.problem("corrupt", f"final: {last.error or last.integrity}")
    for text in last.duplicates:
        tally.problem("duplicated", f"final: {text}")
    by_file: dict[str, list[tuple[str, str]]] = {}
    for call_id, (file, sha) in last.calls.items():
        by_file.setdefault(file, []).append((call_id, sha))
    for rel, sha in recordings(drop).items():
        stored = by_file.get(rel, [])
        if not stored:
            tally.problem("lost", f"final: {rel} is not stored")
        elif len(stored) > 1:
            tally.problem("duplicated", f"final: {rel} is stored as {len(stored)} calls")
        elif stored[0][1] != sha:
            tally.problem("lost", f"final: {rel} is stored with old content (sha {stored[0][1][:12]})")
    for rel in BAD_FILES:
        if last.open_failures.get(rel) != 1:
            tally.problem("duplicated" if last.open_failures.get(rel) else "lost",
                          f"final: {rel} has {last.open_failures.get(rel, 0)} open failures, not 1")
    if last.running:
        tally.problem("stale", f"final: runs {sorted(last.running)} are still 'running'")
    if not lock_is_free(db):
        tally.problem("locked", "final: the lock is still held")

    print()
    print(f"cycles {tally.cycles}   kills before the run started {tally.before_run}   mid-run {tally.mid_run}   "
          f"after the run ended {tally.after_run}")
    print(f"recordings {len(recordings(drop))}, calls stored {len(last.calls)}, final run exit "
          f"{final.returncode}; runs {len(last.runs)} ({sum(s == 'interrupted' for s in last.runs.values())} "
          "interrupted)")
    print(f"lost {tally.lost}   duplicated {tally.duplicated}   corrupt {tally.corrupt}   stale {tally.stale}   "
          f"locked {tally.locked}   wall {wall:.1f} s")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if tally.problems else 0


if __name__ == "__main__":
    sys.exit(main())
