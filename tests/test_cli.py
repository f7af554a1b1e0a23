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
    for command in ("run", "export", "report", "rescore", "failures", "search", "calibrate"):
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


# --------------------------------------------------------------------------- report call, calibrate


def test_report_call_shows_verdicts_and_transcript(setup, fake):
    drop, scripts, db = setup
    qa("run", drop, "--scripts", scripts, "--db", db)
    result = qa("report", "call", "c-bad", "--db", db)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("Call c-bad (bad.wav)\n  agent: a1 (Tom)   team: t1   started: 2026-11-02T10:00:00Z\n")
    assert "  score: 0.0 (0 of 35 points)   FAILED (critical: notice)\n" in out
    assert "  notice                 required, critical    missed         confidence " in out
    assert "      detail: not found (best similarity " in out
    assert '      quote (agent): "calm down please"\n' in out
    assert "Transcript (2 segments):\n  00:00.5-00:01.5  agent     Hello, Tom here.\n" in out
    data = json.loads(qa("report", "call", "c-good", "--db", db, "--format", "json").stdout)
    assert data["call"]["call_id"] == "c-good" and data["call"]["score"] == 100.0
    assert [i["item_id"] for i in data["call"]["items"]] == ["greeting", "notice", "rude"]
    assert all("wording" in i for i in data["call"]["items"])
    assert data["transcript"][0]["speaker"] == "agent" and data["transcript"][0]["start_s"] == 0.5


def test_report_call_unknown_call_is_exit_2(setup, fake):
    drop, scripts, db = setup
    qa("run", drop, "--scripts", scripts, "--db", db)
    result = qa("report", "call", "nope", "--db", db)
    assert result.exit_code == 2 and f"Error: no call 'nope' in {db}" in result.output
    assert "reviewer's view" in qa("report", "call", "--help").output


def write_reviews(path: Path, rows: str) -> Path:
    path.write_text("call_id,item_id,status,reviewer,notes\n" + rows)
    return path


def test_calibrate_reports_agreement(setup, fake, tmp_path):
    drop, scripts, db = setup
    qa("run", drop, "--scripts", scripts, "--db", db)
    reviews = write_reviews(tmp_path / "reviews.csv", (
        "c-good,greeting,met,ann,\n"
        "c-good,notice,partial,ann,said it too fast\n"
        "c-good,rude,met,ann,\n"
        "c-bad,greeting,missed,ann,\n"
        "c-bad,notice,missed,ann,\n"
        "c-bad,prohibited:rude,violated,ann,\n"
        "c-gone,greeting,met,ann,\n"))
    result = qa("calibrate", reviews, "--db", db)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(f"Calibration against {reviews}: 7 human rows, 6 matched a stored verdict, 1 did not\n"
                          "  exact status:  agreement 83.3% (5/6)")
    assert "  said/not said: agreement 100.0% (6/6)" in out
    assert "Confusion, prohibited (rows: human, columns: automatic):" in out
    assert "  NOT RELIABLE: too few rows for a reliable suggestion" in out
    assert "  line 8: c-gone greeting (met): no stored call with this id\n" in out
    data = json.loads(qa("calibrate", reviews, "--db", db, "--format", "json").stdout)
    assert data["exact"]["agreed"] == 5 and data["matched"] == 6
    from qa_analyser.datatypes import MatchOptions

    assert data["thresholds"]["current"]["met_threshold"] == MatchOptions().met_threshold
    assert data["thresholds"]["suggestion"] is True


def test_calibrate_malformed_rows_are_named_and_the_rest_used(setup, fake, tmp_path):
    drop, scripts, db = setup
    qa("run", drop, "--scripts", scripts, "--db", db)
    reviews = write_reviews(tmp_path / "reviews.csv", "c-good,greeting,met,,\nc-bad,greeting,mised,,\n")
    result = qa("calibrate", reviews, "--db", db)
    assert result.exit_code == 1
    assert f"Error: {reviews}:3: unknown status 'mised' (expected one of" in result.stderr
    assert "1 human rows, 1 matched a stored verdict, 1 malformed" in result.stdout


def test_calibrate_usage_errors_are_exit_2(setup, fake, tmp_path):
    drop, scripts, db = setup
    missing = qa("calibrate", tmp_path / "none.csv", "--db", db)
    assert missing.exit_code == 2 and f"Error: no CSV file at {tmp_path / 'none.csv'}" in missing.output
    reviews = write_reviews(tmp_path / "reviews.csv", "c-good,greeting,met,,\n")
    no_db = qa("calibrate", reviews, "--db", tmp_path / "none.db")
    assert no_db.exit_code == 2 and "no database" in no_db.output
    qa("run", drop, "--scripts", scripts, "--db", db)
    (tmp_path / "bad.csv").write_text("call,item,verdict\nc-good,greeting,met\n")
    bad = qa("calibrate", tmp_path / "bad.csv", "--db", db)
    assert bad.exit_code == 2 and "bad.csv:1: missing column(s) call_id, item_id, status" in bad.output
    assert "human reviewers" in qa("calibrate", "--help").output
