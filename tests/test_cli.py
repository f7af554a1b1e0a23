"""CLI tests: exit codes, messages, exports and reports, with the stand-in recogniser of test_pipeline."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import qa_analyser.transcribe
from qa_analyser.cli import app

from test_pipeline import FakeTranscriber, setup  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


@pytest.fixture
def fake(monkeypatch):
    instance = FakeTranscriber()
    monkeypatch.setattr(qa_analyser.transcribe, "Transcriber", lambda *a, **k: instance)
    return instance


def qa(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_help_lists_the_commands():
    result = qa("--help")
    assert result.exit_code == 0
    for command in ("run", "export", "report", "rescore", "failures", "search"):
        assert command in result.output
    assert "--speech-detection" in qa("run", "--help").output
    assert "gap report" in qa("report", "agent", "--help").output


def test_run_export_report_round_trip(setup, fake):
    drop, scripts, db = setup
    result = qa("run", drop, "--scripts", scripts, "--db", db)
    assert result.exit_code == 0, result.output
    assert "2 transcribed" in result.output and "1 skipped" in result.output
    assert "c-bad" in result.output and "FAILED (critical: notice)" in result.output

    again = qa("run", drop, "--scripts", scripts, "--db", db)
    assert again.exit_code == 0 and "2 unchanged" in again.output and len(fake.calls) == 2

    exported = json.loads(qa("export", "--db", db, "--format", "json").stdout)
    assert [c["call_id"] for c in exported] == ["c-bad", "c-good"] or {c["call_id"] for c in exported} == {"c-bad", "c-good"}
    first = exported[0]
    for key in ("call_id", "file", "agent_id", "team", "script_id", "script_version", "duration_s", "score",
                "passed", "items"):
        assert key in first
    for key in ("item_id", "section", "kind", "status", "flags", "confidence", "start_s", "end_s", "evidence"):
        assert key in first["items"][0]

    rows = list(csv.DictReader(io.StringIO(qa("export", "--db", db, "--format", "csv").stdout)))
    assert len(rows) == 6 and {r["call_id"] for r in rows} == {"c-good", "c-bad"}

    report = qa("report", "agent", "a1", "--db", db)
    assert report.exit_code == 0
    assert "Agent a1 (team t1)" in report.stdout and "notice" in report.stdout
    data = json.loads(qa("report", "agent", "a1", "--db", db, "--format", "json").stdout)
    assert data["calls"] == 2 and "notice" in data["most_missed"]


def test_failures_give_exit_1_and_are_listed(setup, fake):
    drop, scripts, db = setup
    (drop / "empty.wav").write_bytes(b"")
    result = qa("run", drop, "--scripts", scripts, "--db", db)
    assert result.exit_code == 1
    assert "FAILED empty.wav" in result.output
    listed = qa("failures", "--db", db)
    assert "empty.wav" in listed.output


def test_configuration_errors_give_exit_2(setup, fake, tmp_path):
    drop, scripts, db = setup
    missing = qa("run", drop, "--scripts", tmp_path / "nope", "--db", db)
    assert missing.exit_code == 2
    no_db = qa("export", "--db", tmp_path / "none.db")
    assert no_db.exit_code == 2 and "no database" in no_db.output
    bad_threshold = qa("run", drop, "--scripts", scripts, "--db", db, "--met-threshold", "1.5")
    assert bad_threshold.exit_code == 2 and "between 0 and 1" in bad_threshold.output
    not_a_db = tmp_path / "text.db"
    not_a_db.write_text("hello, I am not a database" * 100)
    broken = qa("export", "--db", not_a_db)
    assert broken.exit_code == 2 and "text.db" in broken.output


def test_unknown_agent_report_is_exit_2(setup, fake):
    drop, scripts, db = setup
    qa("run", drop, "--scripts", scripts, "--db", db)
    result = qa("report", "agent", "nobody", "--db", db)
    assert result.exit_code == 2 and "nobody" in result.output


def test_rescore_command(setup, fake):
    drop, scripts, db = setup
    qa("run", drop, "--scripts", scripts, "--db", db)
    (scripts / "demo.yaml").write_text((scripts / "demo.yaml").read_text().replace('version: "1"', 'version: "9"'))
    result = qa("rescore", "--db", db, "--scripts", scripts)
    assert result.exit_code == 0, result.output
    assert "2 rescored" in result.output and len(fake.calls) == 2
    assert {c["script_version"] for c in json.loads(qa("export", "--db", db).stdout)} == {"9"}


def test_search_finds_transcript_text(setup, fake):
    drop, scripts, db = setup
    qa("run", drop, "--scripts", scripts, "--db", db)
    result = qa("search", "recorded", "--db", db)
    assert result.exit_code == 0 and "c-good" in result.output


def test_second_run_on_a_locked_database_stops_with_a_message(setup, fake):
    drop, scripts, db = setup
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys,time; sys.path.insert(0, %r)\n"
         "from qa_analyser.store import Store\n"
         "s = Store.open(%r)\n"
         "with s.lock():\n    print('locked', flush=True); time.sleep(30)" % (str(ROOT), str(db))],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = qa("run", drop, "--scripts", scripts, "--db", db)
        assert result.exit_code == 2
        assert "another" in result.output and "qa run" in result.output
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    assert qa("run", drop, "--scripts", scripts, "--db", db).exit_code == 0
