"""CLI tests: exit codes, messages, exports and reports, with the stand-in recogniser of test_pipeline."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import qa_analyser.transcribe
from qa_analyser.cli import app

from test_pipeline import SCRIPT, FakeTranscriber, setup, write_wav  # noqa: F401  (fixture)

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
    for command in ("run", "export", "report", "rescore", "failures", "runs", "scripts", "search", "calibrate",
                    "override", "overrides", "contract"):
        assert command in result.output
    for kind in ("agent", "team", "vendor", "call"):
        assert kind in qa("report", "--help").output
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
    assert [c["call_id"] for c in exported] == ["c-good", "c-bad"]  # by started_at
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
    assert bad_threshold.exit_code == 2 and "Invalid value for '--met-threshold'" in bad_threshold.output
    fresh = tmp_path / "clip.db"
    bad_clip = qa("run", drop, "--scripts", scripts, "--db", fresh, "--clip-seconds", "40")
    assert bad_clip.exit_code == 2 and "clip seconds must be between 5 and 28" in bad_clip.output
    assert not fresh.exists()  # checked before anything is written
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
        assert result.exit_code == 75  # EX_TEMPFAIL: busy, try again later; not a configuration error
        assert "another" in result.output and "qa run" in result.output
        busy_rescore = qa("rescore", "--db", db, "--scripts", scripts)
        assert busy_rescore.exit_code == 75
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
    # "Hello, Tom here." gives the name but not the company: at most partial (the greeting is a close call)
    assert re.search(r"\n  score: [\d.]+ \(\d+ of 35 points\)   FAILED \(critical: notice\)\n", out), out
    assert re.search(r"\n  greeting               required              (partial|missed) ", out), out
    assert "  notice                 required, critical    missed         confidence " in out
    assert "      detail: not found (best p " in out
    assert '      quote (agent): "Calm down please."\n' in out
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
        "c-bad,greeting,partial,ann,\n"
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

    from qa_analyser.match import resolved_options

    assert data["thresholds"]["current"]["met_threshold"] == resolved_options(MatchOptions()).met_threshold
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


# --------------------------------------------------------------------------- configuration before work


def test_a_model_that_cannot_load_is_exit_2_and_stores_nothing(setup, tmp_path):
    drop, scripts, db = setup  # no stand-in recogniser: the real model loader is asked
    result = qa("run", drop, "--scripts", scripts, "--db", db, "--model", "nope")
    assert result.exit_code == 2, result.output
    assert "Error: model: model 'nope' is not available offline" in result.stderr
    assert not db.exists()  # nothing stored, not even an empty database
    folder = qa("run", drop, "--scripts", scripts, "--db", db, "--model", str(tmp_path))
    assert folder.exit_code == 2 and f"{tmp_path}: not a CTranslate2 model directory" in folder.stderr
    compute = qa("run", drop, "--scripts", scripts, "--db", db, "--device", "cpu", "--compute-type", "int3")
    assert compute.exit_code == 2 and "compute type 'int3' is not supported on cpu" in compute.stderr
    english = qa("run", drop, "--scripts", scripts, "--db", db, "--language", "es")
    assert english.exit_code == 2 and "model 'tiny.en' is English-only" in english.stderr
    spanish_scripts = ROOT / "fixtures" / "scripts_es"
    spanish = qa("run", drop, "--scripts", spanish_scripts, "--db", db)
    assert spanish.exit_code == 2
    assert ("model 'tiny.en' is English-only, but these scripts are in another language: "
            f"{spanish_scripts / 'atencion-cliente.yaml'} (language es)") in spanish.stderr
    assert not db.exists()


def test_scripts_and_default_script_are_checked_before_work(setup, fake, tmp_path):
    drop, scripts, db = setup
    empty = tmp_path / "no-scripts"
    empty.mkdir()
    none = qa("run", drop, "--scripts", empty, "--db", db)
    assert none.exit_code == 2 and f"Error: no script in {empty}" in none.stderr
    (empty / "broken.yaml").write_text("id: broken\nversion: 1\nsections: [\n")
    broken = qa("run", drop, "--scripts", empty, "--db", db)
    assert broken.exit_code == 2 and f"no valid script in {empty}: {empty / 'broken.yaml'}:" in broken.stderr
    default = qa("run", drop, "--scripts", scripts, "--db", db, "--default-script", "dmeo")
    assert default.exit_code == 2
    assert "the default script 'dmeo' is not in" in default.stderr and "did you mean 'demo'" in default.stderr
    out_of_range = qa("run", drop, "--scripts", scripts, "--db", db, "--met-threshold", "1.5")
    assert out_of_range.exit_code == 2 and "--met-threshold" in out_of_range.stderr
    assert fake.calls == [] and not db.exists()
    assert "small" not in qa("run", "--help").output  # offered and then refused: not offered


# --------------------------------------------------------------------------- exit codes and output for a scheduler


def test_an_old_failure_on_an_unchanged_file_does_not_fail_later_runs(setup, fake):
    drop, scripts, db = setup
    (drop / "empty.wav").write_bytes(b"")
    first = qa("run", drop, "--scripts", scripts, "--db", db)
    assert first.exit_code == 1 and "1 failed" in first.stdout
    assert "Failures: 1 new, 0 reported before" in first.stdout
    second = qa("run", drop, "--scripts", scripts, "--db", db)
    assert second.exit_code == 0, second.output
    assert "FAILED empty.wav: " in second.stdout and "(reported before)" in second.stdout
    assert "Failures: 0 new, 1 reported before" in second.stdout
    listed = qa("failures", "--db", db).stdout
    (line,) = listed.splitlines()
    failure_id = line.split()[0].lstrip("#")
    assert f"run 1  decode     empty.wav: " in line

    (drop / "empty.wav").write_bytes(b"RIFF")  # changed, still broken: new
    assert qa("run", drop, "--scripts", scripts, "--db", db).exit_code == 1
    (new_line,) = qa("failures", "--db", db).stdout.splitlines()
    assert new_line.split()[0] != f"#{failure_id}"

    acked = qa("failures", "ack", "--all", "--db", db)
    assert acked.exit_code == 0 and "1 failure(s) acknowledged." in acked.stdout
    assert qa("failures", "--db", db).stdout == "No failures.\n"
    assert qa("run", drop, "--scripts", scripts, "--db", db).exit_code == 0  # acknowledged: quiet
    assert "[acknowledged]" in qa("failures", "--db", db, "--all").stdout

    ack_id = new_line.split()[0].lstrip("#")
    unknown = qa("failures", "retry", ack_id, "--db", db)  # it is acknowledged, not open
    assert unknown.exit_code == 2 and f"no open failure with id {ack_id}" in unknown.stderr
    assert qa("failures", "retry", "--db", db).exit_code == 2  # neither ids nor --all
    (drop / "empty.wav").write_bytes(b"")
    assert qa("run", drop, "--scripts", scripts, "--db", db).exit_code == 1
    (open_line,) = qa("failures", "--db", db).stdout.splitlines()
    retried = qa("failures", "retry", open_line.split()[0].lstrip("#"), "--db", db)
    assert retried.exit_code == 0 and "Retrying" in retried.stdout
    assert qa("run", drop, "--scripts", scripts, "--db", db).exit_code == 1  # retried: reported afresh
    (drop / "empty.wav").unlink()
    write_wav(drop / "empty.wav", seed=7)
    assert qa("run", drop, "--scripts", scripts, "--db", db).exit_code == 0  # it works now
    assert qa("failures", "--db", db).stdout == "No failures.\n"


def test_summary_json_and_runs(setup, fake, tmp_path):
    drop, scripts, db = setup
    (drop / "empty.wav").write_bytes(b"")
    summary_path = tmp_path / "summary.json"
    result = qa("run", drop, "--scripts", scripts, "--db", db, "--summary-json", summary_path)
    assert result.exit_code == 1
    summary = json.loads(summary_path.read_text())
    assert summary["run_id"] == 1 and summary["status"] == "finished_with_failures"
    assert summary["counts"] == {"total": 3, "processed": 2, "transcribed": 2, "reused": 0, "rescored": 0,
                                 "unchanged": 0, "failed": 1, "failed_new": 1, "failed_still_open": 0,
                                 "script_errors": 0, "skipped": 1}
    assert summary["audio_s"] > 0 and summary["wall_s"] > 0 and summary["throughput"] > 0
    (failure,) = summary["failures"]
    assert failure["file"] == "empty.wav" and failure["stage"] == "decode" and failure["new"] is True
    assert "empty.wav" in failure["reason"]

    again = qa("run", drop, "--scripts", scripts, "--db", db, "--json")
    assert again.exit_code == 0
    data = json.loads(again.stdout)  # only the summary on stdout; per-call lines went to stderr
    assert data["run_id"] == 2 and data["counts"]["unchanged"] == 2 and data["counts"]["failed_still_open"] == 1
    assert "c-good" in again.stderr

    runs = qa("runs", "--db", db)
    lines = runs.stdout.splitlines()
    assert runs.exit_code == 0 and len(lines) == 2
    assert lines[0].split()[:3] == ["1", "run", "finished_with_failures"]
    assert lines[1].split()[:3] == ["2", "run", "finished_with_failures"]
    rows = json.loads(qa("runs", "--db", db, "--json", "--limit", "1").stdout)
    assert [r["id"] for r in rows] == [2] and rows[0]["counts"]["unchanged"] == 2


SLOW_RUN = """
import sys, time
sys.path.insert(0, {tests!r})
import qa_analyser.transcribe
from test_pipeline import FakeTranscriber

class Slow(FakeTranscriber):
    def transcribe(self, audio, layout, **kw):
        if audio.path.endswith("good.wav"):
            time.sleep(60)  # the signal arrives while this call is being transcribed
        return super().transcribe(audio, layout, **kw)

qa_analyser.transcribe.Transcriber = lambda *a, **k: Slow()
from qa_analyser.cli import main
sys.argv = ["qa", "run", {drop!r}, "--scripts", {scripts!r}, "--db", {db!r}, "--summary-json", {summary!r}]
main()
"""


@pytest.mark.parametrize("signum, code", [(15, 143), (2, 130)])
def test_sigterm_and_ctrl_c_store_the_run_as_interrupted(setup, tmp_path, signum, code):
    import signal as signals

    from qa_analyser.store import Store

    drop, scripts, db = setup
    summary = tmp_path / "summary.json"
    script = SLOW_RUN.format(tests=str(ROOT / "tests"), drop=str(drop), scripts=str(scripts), db=str(db),
                             summary=str(summary))
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()  # printed as the call finished, without a terminal
        assert "c-bad" in first and "transcribed" in first
        proc.send_signal(signals.Signals(signum))
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, err
    assert "Interrupted: run 1 stored as interrupted after 1 of 2 item(s)" in err and "Traceback" not in err
    store = Store.open(db)
    assert [r["status"] for r in store.runs()] == ["interrupted"]
    assert [c["call_id"] for c in store.export_calls()] == ["c-bad"]
    assert json.loads(summary.read_text())["status"] == "interrupted"


# --------------------------------------------------------------------------- rescore, history, scripts check


def test_calls_scored_with_the_default_script_rescore_and_keep_history(setup, fake):
    drop, scripts, db = setup
    (drop / "manifest.csv").unlink()  # no manifest: no script ids
    (scripts / "other.yaml").write_text(SCRIPT.replace("id: demo", "id: other"))
    assert qa("run", drop, "--scripts", scripts, "--db", db, "--default-script", "demo").exit_code == 0
    (scripts / "demo.yaml").write_text(SCRIPT.replace('version: "1"', 'version: "2"').replace(
        'phrases: ["calm down"]', 'phrases: ["calm down", "tom here"]'))
    result = qa("rescore", "--db", db, "--scripts", scripts)  # no --default-script: the one used is kept
    assert result.exit_code == 0, result.output
    assert "2 rescored" in result.stdout
    exported = {c["call_id"]: c for c in json.loads(qa("export", "--db", db).stdout)}
    assert {c["script_id"] for c in exported.values()} == {"demo"}
    assert {c["script_version"] for c in exported.values()} == {"2"}

    report = qa("report", "call", "bad", "--db", db).stdout
    assert "Earlier verdicts (1, newest first):" in report
    assert "script demo v1  score 0.0  FAILED" in report
    data = json.loads(qa("report", "call", "bad", "--db", db, "--format", "json").stdout)
    (earlier,) = data["history"]
    assert earlier["script_version"] == "1" and earlier["current"] is False
    assert {i["item_id"]: i["status"] for i in earlier["items"]}["rude"] == "violated"
    # prohibited rules read as words for people, met/violated in JSON
    good = qa("report", "call", "good", "--db", db).stdout
    assert "  rude                   prohibited            not said       confidence" in good
    assert {i["item_id"]: i["status"] for i in json.loads(qa("report", "call", "good", "--db", db,
                                                             "--format", "json").stdout)["call"]["items"]}["rude"] == "met"


def test_scripts_check_reports_every_error_with_file_and_line(setup, tmp_path):
    drop, scripts, db = setup
    ok = qa("scripts", "check", scripts)
    assert ok.exit_code == 0 and ok.stdout == "1 script(s) valid: demo.\n"
    (scripts / "broken.yaml").write_text("id: broken\nversion: 1\nsections:\n  - id: x\n    items: [\n")
    (scripts / "dup.yaml").write_text(SCRIPT)
    bad = qa("scripts", "check", scripts)
    assert bad.exit_code == 1
    lines = bad.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith(str(scripts)) for line in lines)
    assert any(f"{scripts / 'broken.yaml'}:" in line for line in lines)
    assert "duplicate script id 'demo'" in bad.stdout
    assert "2 error(s) in 2 file(s)." in bad.stderr
    assert not db.exists()  # no database needed


def test_export_csv_neutralises_a_formula_file_name(setup, fake):
    drop, scripts, db = setup
    evil = "=cmd|' -C calc'!A0"
    shutil.copy(drop / "good.wav", drop / f"{evil}.wav")
    assert qa("run", drop, "--scripts", scripts, "--db", db).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(qa("export", "--db", db, "--format", "csv").stdout)))
    assert {r["file"] for r in rows} == {"good.wav", "bad.wav", f"'{evil}.wav"}
    assert {r["agent_name"] for r in rows if r["call_id"] == "c-good"} == {"Tom"}


def test_agent_report_compares_with_the_rest_of_the_team_and_warns_on_few_calls(setup, fake):
    drop, scripts, db = setup
    (drop / "manifest.csv").write_text(
        "file,call_id,agent_id,agent_name,team,script_id,started_at,channels\n"
        "good.wav,c-good,a2,Ann,t1,demo,2026-11-02T09:00:00Z,agent-left\n"
        "bad.wav,c-bad,a1,Tom,t1,demo,2026-11-02T10:00:00Z,agent-left\n")
    qa("run", drop, "--scripts", scripts, "--db", db)
    data = json.loads(qa("report", "agent", "a1", "--db", db, "--format", "json").stdout)
    ann = {c["call_id"]: c["score"] for c in json.loads(qa("export", "--db", db).stdout)}["c-good"]
    assert data["team_calls"] == 1 and data["team_mean_score"] == ann  # Ann's call, not Tom's own
    text = qa("report", "agent", "a1", "--db", db, "--min-calls", "2").stdout
    assert "WARNING: only 1 scored call(s) (fewer than 2)" in text
    assert f"rest of the team: 1 calls, mean score {ann}" in text
    assert "WARNING" not in qa("report", "agent", "a1", "--db", db, "--min-calls", "1").stdout


def test_search_help_says_plain_words(setup, fake):
    assert "Plain words" in qa("search", "--help").output


def test_a_broken_script_among_valid_ones_is_reported_once_and_not_counted_as_a_call(setup, fake):
    drop, scripts, db = setup
    (scripts / "broken.yaml").write_text("id: broken\nversion: 1\nsections:\n  - id: x\n    items: [\n")
    result = qa("run", drop, "--scripts", scripts, "--db", db)
    assert result.exit_code == 1
    assert result.stdout.count("broken.yaml") == 1  # the FAILED line, once
    assert "2 call(s): 2 transcribed, 1 skipped (not recordings); 1 script file(s) failed to load." in result.stdout
    again = qa("run", drop, "--scripts", scripts, "--db", db)
    assert again.exit_code == 0 and "Failures: 0 new, 1 reported before" in again.stdout


def test_team_and_vendor_reports_and_their_errors(setup, fake, tmp_path):
    drop, scripts, db = setup
    qa("run", drop, "--scripts", scripts, "--db", db)
    team = qa("report", "team", "t1", "--db", db)
    assert team.exit_code == 0 and team.stdout.startswith("Team t1: 2 scored call(s), 1 agent(s)\n")
    assert "     -  a1 (Tom)                     2   57.1   50%" in team.stdout  # under --min-calls: not ranked
    assert json.loads(qa("report", "team", "t1", "--db", db, "--format", "json").stdout)["figures"]["calls"] == 2
    unknown = qa("report", "vendor", "acme", "--db", db)
    assert unknown.exit_code == 2 and unknown.stderr == f"Error: no vendor 'acme' in {db}\n"
    bad_date = qa("report", "team", "t1", "--db", db, "--since-training", "last week")
    assert bad_date.exit_code == 2 and bad_date.stderr == "Error: --since-training: 'last week' is not a date (YYYY-MM-DD)\n"
    nowhere = qa("report", "team", "t1", "--db", db, "--format", "html", "--out", tmp_path / "no" / "r.html")
    assert nowhere.exit_code == 2 and "folder" in nowhere.stderr
    out = tmp_path / "team.html"
    written = qa("report", "team", "t1", "--db", db, "--format", "html", "--out", out)
    assert written.exit_code == 0 and written.stderr.startswith(f"Wrote {out} (")
    assert out.read_text().startswith("<!DOCTYPE html>") and (out.stat().st_mode & 0o777) == 0o600
    bad_contract = tmp_path / "c.yaml"
    bad_contract.write_text("targets: {mean_score: 120}\n")
    refused = qa("contract", "check", bad_contract, "--db", db)
    assert refused.exit_code == 2
    assert refused.stderr == f"Error: {bad_contract}: targets.mean_score: 120 is not a mean call score between 0 and 100\n"


def test_rescore_reapplies_overrides_and_lists_the_conflicts_it_made(setup, fake):
    drop, scripts, db = setup
    qa("run", drop, "--scripts", scripts, "--db", db)
    assert qa("override", "c-bad", "notice", "met", "--db", db, "--reason", "heard it", "--reviewer", "Ana").exit_code == 0
    again = qa("rescore", "--db", db, "--scripts", scripts)
    assert again.exit_code == 0 and "override(s) now differ" not in again.stdout
    bad = {c["call_id"]: c for c in json.loads(qa("export", "--db", db).stdout)}["c-bad"]
    assert [i["status"] for i in bad["items"] if i["item_id"] == "notice"] == ["met"]
    # the script loses the overridden item: the override no longer applies and is listed for review
    (scripts / "demo.yaml").write_text(SCRIPT.replace(
        '      - id: notice\n        text: "This call is recorded for quality and training purposes."\n'
        '        weight: 20\n        critical: true\n', ""))
    changed = qa("rescore", "--db", db, "--scripts", scripts)
    assert changed.exit_code == 0, changed.output
    assert (f"1 reviewer override(s) now differ from what the machine overrode (its verdict changed): "
            f"`qa overrides --conflicts --db {db}` lists them.\n") in changed.stdout
    listed = qa("overrides", "--db", db, "--conflicts")
    assert listed.stdout.startswith("#1     c-bad  notice: overridden to met by Ana when the machine said missed; "
                                    "the item is no longer in the call's script (scored ")
    data = json.loads(qa("overrides", "--db", db, "--conflicts", "--json").stdout)
    assert data[0]["automatic_now"] is None and data[0]["override"]["reviewer"] == "Ana"


def test_a_forced_run_shows_the_score_with_the_overrides(setup, fake):
    drop, scripts, db = setup
    qa("run", drop, "--scripts", scripts, "--db", db)
    qa("override", "c-bad", "notice", "met", "--db", db, "--reason", "heard it", "--reviewer", "Ana")
    qa("override", "c-bad", "rude", "met", "--db", db, "--reason", "it was the customer", "--reviewer", "Ana")
    forced = qa("run", drop, "--scripts", scripts, "--db", db, "--force")
    assert forced.exit_code == 0, forced.output
    line = next(x for x in forced.stdout.splitlines() if "c-bad" in x)
    assert line.endswith("passed") and "critical" not in line
