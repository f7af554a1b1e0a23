"""End to end with the real tiny.en model: `qa run` over the bundled fixtures, verdicts checked
against what the dialogues were written to produce (fixtures/calls/expected.json).

Slow (the model runs on every fixture call: about 15-30 s on 2 cores); still part of CI.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa_analyser.cli import app
from qa_analyser.roles import assign_mono_roles
from qa_analyser.scripts import load_script
from qa_analyser.store import Store

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CALLS = ROOT / "fixtures" / "calls"
runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


def qa(*args):
    return runner.invoke(app, [str(a) for a in args])


def key(item: dict) -> str:
    return ("prohibited:" if item["kind"] == "prohibited" else "") + item["item_id"]


@pytest.fixture(scope="module")
def run_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("e2e") / "qa.db"
    result = qa("run", CALLS, "--scripts", ROOT / "scripts_library", "--db", db)
    return db, result


@pytest.fixture(scope="module")
def exported(run_db):
    db, _ = run_db
    return {c["call_id"]: c for c in json.loads(qa("export", "--db", db, "--format", "json").stdout)}


@pytest.fixture(scope="module")
def expected():
    return {c["call_id"]: c for c in json.loads((CALLS / "expected.json").read_text())}


def test_run_processes_every_call_and_skips_the_rest(run_db):
    _, result = run_db
    assert result.exit_code == 0, result.output
    assert "6 transcribed" in result.output
    assert "skipped (not recordings)" in result.output


def test_pass_fail_of_every_call_is_as_written(exported, expected):
    assert set(exported) == set(expected)
    for call_id, exp in expected.items():
        assert exported[call_id]["passed"] is exp["passed"], call_id


def test_prohibited_phrases_and_negated_mentions(exported, expected):
    for call_id, exp in expected.items():
        got = {key(i): i for i in exported[call_id]["items"]}
        for k, lab in exp["items"].items():
            if k.startswith("prohibited:"):
                assert got[k]["status"] == lab["expected"], (call_id, k, got[k])
    # "I can't guarantee that your bill will go down" (inbound-03) is not a violation
    assert {key(i): i for i in exported["inbound-03"]["items"]}["prohibited:guarantee"]["status"] == "met"


def test_flags_and_conditionals(exported):
    items = {cid: {key(i): i for i in c["items"]} for cid, c in exported.items()}
    assert "late" in items["inbound-04"]["greeting"]["flags"]
    assert "out_of_order" in items["inbound-03"]["id_check"]["flags"]
    assert "late" not in items["inbound-01"]["greeting"]["flags"]
    assert items["inbound-01"]["retention_offer"]["status"] == "not_applicable"
    assert items["inbound-04"]["retention_offer"]["status"] == "met"
    assert items["inbound-02"]["recording_notice"]["status"] == "missed"
    assert items["inbound-04"]["recording_notice"]["status"] == "missed"  # only the customer mentioned it
    assert items["inbound-01"]["recording_notice"]["status"] == "met"


def test_most_verdicts_agree_and_evidence_points_at_the_utterance(exported, expected):
    agree = total = 0
    for call_id, exp in expected.items():
        got = {key(i): i for i in exported[call_id]["items"]}
        for k, lab in exp["items"].items():
            total += 1
            agree += got[k]["status"] == lab["expected"]
            said = got[k]["status"] == "violated" if k.startswith("prohibited:") else got[k]["status"] in ("met", "partial")
            if said and lab.get("start_s") is not None:
                g = got[k]
                assert g["evidence"], (call_id, k)
                # the quote overlaps the utterance written for it (ASR word times are approximate, and a
                # window may take in a few words of the clause before)
                assert g["start_s"] <= lab["end_s"] + 1.0 and g["end_s"] >= lab["start_s"] - 1.0, (call_id, k, g, lab)
                assert 0.0 <= g["confidence"] <= 1.0
    # 45 of 52 on the reference machine; the misses are ASR slips (names, "debt" heard as "net")
    assert agree / total >= 0.8, f"{agree}/{total}"


def test_mono_call_is_separated_by_diarization(run_db, exported):
    # inbound-03 is one mixed channel: the diarizer must split it and the script must name the sides.
    # Unseparated, every verdict would say "speaker not separated" and rest on speaker "unknown".
    said = [i for i in exported["inbound-03"]["items"] if i["status"] in ("met", "partial") and i["kind"] != "prohibited"]
    assert len(said) >= 4
    for item in said:
        assert "speakers separated by diarization; agent = cluster" in item["detail"], item
        assert "not separated" not in item["detail"] and "not attributed" not in item["detail"], item
        assert item["speaker"] == "agent", item

    db, _ = run_db
    transcript = Store.open(db).call_transcript("inbound-03")
    assert transcript.channels == "mono"
    named, note = assign_mono_roles(transcript, load_script(ROOT / "scripts_library" / "energy-inbound.yaml"))
    assert "speakers separated by diarization" in note, note
    assert {w.speaker for s in named.segments for w in s.words} == {"agent", "customer"}
    # each recognised segment is given to the side that spoke it in the dialogue as written
    timeline = json.loads((CALLS / "inbound-03.timeline.json").read_text())
    right = 0
    for segment in named.segments:
        middle = (segment.start + segment.end) / 2
        written = min(timeline, key=lambda u: max(u["start_s"] - middle, middle - u["end_s"], 0.0))
        right += segment.speaker == written["speaker"]
    assert right >= 0.8 * len(named.segments), [(s.speaker, s.text) for s in named.segments]


def test_second_run_transcribes_nothing(run_db):
    db, _ = run_db
    result = qa("run", CALLS, "--scripts", ROOT / "scripts_library", "--db", db)
    assert result.exit_code == 0
    assert "6 unchanged" in result.output and "Transcribed" not in result.output


def test_agent_report_from_real_calls(run_db):
    db, _ = run_db
    result = qa("report", "agent", "agent-102", "--db", db)
    assert result.exit_code == 0
    assert "recording_notice" in result.stdout and "Items missed most" in result.stdout


def test_html_agent_report_with_coaching_clips(run_db, tmp_path):
    import stat
    import wave
    from urllib.parse import unquote

    from qa_analyser.clips import clip_window

    db, _ = run_db
    out = tmp_path / "report-agent-102.html"
    result = qa("report", "agent", "agent-102", "--db", db, "--format", "html", "--out", out)
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    hrefs = re.findall(r'<audio controls preload="none" src="([^"]+)"></audio>', page)
    assert hrefs and all(h.startswith("report-agent-102_clips/") for h in hrefs)
    calls = {c.call_id: c for c in Store.open(db).stored_calls(agent="agent-102")}
    # agent-102 never gave the recording notice: its clips are where it was expected, from the script's order
    first = hrefs[0]
    assert re.match(r"report-agent-102_clips/01-recording_notice-inbound-0[24]\.wav$", first)
    call_id = first.rsplit("-", 2)[-2] + "-" + first.rsplit("-", 1)[-1][:-4]
    kind, start, end = clip_window(calls[call_id], "recording_notice")
    assert kind == "expected" and f"where it was expected, " in page
    for href in hrefs:
        clip = out.parent / unquote(href)
        assert stat.S_IMODE(clip.stat().st_mode) == 0o600
        with wave.open(str(clip)) as w:
            assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getnframes() > 16000
    with wave.open(str(out.parent / unquote(first))) as w:
        assert abs(w.getnframes() / 16000 - (end - start)) < 0.01
    assert "<script" not in page and page.count("<svg") >= 2
    no_clips = qa("report", "agent", "agent-102", "--db", db, "--format", "html", "--out", tmp_path / "b.html",
                  "--clips", "0")
    assert no_clips.exit_code == 0 and "<audio" not in (tmp_path / "b.html").read_text()


def test_team_and_vendor_reports_and_the_contract(run_db, exported):
    db, _ = run_db
    team = json.loads(qa("report", "team", "northwind-bpo", "--db", db, "--format", "json").stdout)
    mine = [c for c in exported.values() if c["team"] == "northwind-bpo"]
    assert team["figures"]["calls"] == len(mine) == 4
    assert team["figures"]["mean_score"] == round(sum(c["score"] for c in mine) / 4, 1)
    assert {a["group"] for a in team["agents"]} == {"agent-101", "agent-102"}
    vendor = qa("report", "vendor", "eastgate", "--db", db, "--contract",
                ROOT / "fixtures" / "contracts" / "energy-2026.yaml")
    assert vendor.exit_code == 0, vendor.output
    assert vendor.stdout.startswith("Vendor eastgate: 2 scored call(s), 1 team(s), 1 agent(s)\n")
    assert "Contract Energy customer service 2026:" in vendor.stdout
    check = qa("contract", "check", ROOT / "fixtures" / "contracts" / "energy-2026.yaml", "--db", db)
    breaches = [line for line in check.stdout.splitlines() if line.endswith("BREACH")]
    assert check.exit_code == (1 if breaches else 0)
    assert qa("report", "vendor", "nobody", "--db", db).exit_code == 2


def test_an_override_survives_a_rescore_of_the_real_calls(run_db, tmp_path):
    import sqlite3

    db = tmp_path / "copy.db"
    with sqlite3.connect(run_db[0]) as src, sqlite3.connect(db) as dst:
        src.backup(dst)  # the WAL's content too
    before = {c["call_id"]: c for c in json.loads(qa("export", "--db", db).stdout)}
    item = next(i for i in before["inbound-02"]["items"] if i["item_id"] == "recording_notice")
    assert item["status"] == "missed"
    result = qa("override", "inbound-02", "recording_notice", "met", "--db", db, "--reason", "said at 00:05",
                "--reviewer", "QA lead")
    assert result.exit_code == 0, result.output
    rescored = qa("rescore", "--db", db, "--scripts", ROOT / "scripts_library")
    assert rescored.exit_code == 0, rescored.output
    after = {c["call_id"]: c for c in json.loads(qa("export", "--db", db).stdout)}
    notice = next(i for i in after["inbound-02"]["items"] if i["item_id"] == "recording_notice")
    assert notice["status"] == "met" and notice["override"]["from"] == "missed"
    assert "recording_notice" not in after["inbound-02"]["critical_failures"]
    assert qa("overrides", "--db", db, "--conflicts").stdout == "No conflicts.\n"


def test_make_big_db_copies_the_fixture_calls_and_the_roll_ups_run_on_it(run_db, tmp_path):
    import subprocess
    import sys

    big = tmp_path / "big.db"
    made = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_big_db.py"), str(big), "--calls", "2000",
                           "--from", str(run_db[0])], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert made.returncode == 0, made.stderr
    store = Store.open(big)
    calls = list(store.stored_calls())
    assert len(calls) == 2006 and len({c.vendor for c in calls}) == 3
    assert len({c.agent_id for c in calls}) == 203  # 200 made up (seeded) and the 3 of the fixtures
    assert len({c.agent_id for c in calls if c.vendor == "northwind"}) == 52  # 50, and the 2 fixture agents
    assert len({c.team for c in calls if c.call_id.startswith("big-")}) == 10
    generated = [c for c in calls if c.call_id.startswith("big-")]
    assert {c.info.path for c in generated} <= {c.info.path for c in calls if not c.call_id.startswith("big-")}
    assert len({c.score.score for c in generated}) > 10  # statuses redrawn, each call scored
    assert store.export_calls(call_id=generated[0].call_id)[0]["items"]
    bench = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "rollup_bench.py"), str(big), "--repeat", "1"],
                           capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert bench.returncode == 0, bench.stderr
    assert "HTML report of vendor northwind" in bench.stdout


def test_bad_inputs_are_reported_and_the_rest_is_processed(tmp_path):
    db = tmp_path / "bad.db"
    result = qa("run", ROOT / "fixtures" / "bad", "--scripts", ROOT / "fixtures" / "bad_scripts", "--db", db)
    assert result.exit_code == 1, result.output
    out = result.output
    for name in ("empty.wav", "truncated.mp3", "not-audio.mp3", "bad-channels.mp3", "missing.wav",
                 "broken-syntax.yaml", "no-text.yaml", "unknown-after.yaml"):
        # the failing file is the line's subject: "  FAILED empty.wav: …", "  FAILED <folder>/broken-syntax.yaml:8: …"
        assert re.search(rf"^  FAILED (\S*/)?{re.escape(name)}:", out, re.MULTILINE), (name, out)
    assert "broken-syntax.yaml:" in out  # file:line
    store = Store.open(db)
    calls = {c["call_id"]: c for c in store.export_calls()}
    assert set(calls) == {"short-ok", "bad-silence", "bad-hold-music"}
    short = {i["item_id"]: i for i in calls["short-ok"]["items"]}
    assert short["greeting"]["status"] in ("met", "partial")  # the name is often misheard ("Cara")
    assert short["farewell"]["status"] == "met"
    # silence and hold music produce no text at all
    for call_id in ("bad-silence", "bad-hold-music"):
        transcript = store.call_transcript(call_id)
        assert transcript is not None and transcript.segments == (), transcript.text
        assert calls[call_id]["passed"] is False
    stored_failures = {f["file"] for f in store.failures()}
    assert {"empty.wav", "truncated.mp3", "not-audio.mp3", "bad-channels.mp3", "missing.wav"} <= stored_failures


def test_recheck_with_a_larger_model_recovers_a_misheard_line(tmp_path):
    # tiny.en hears the agent's name "Sarah" as "Aaron" (greeting partial); re-decoding that
    # stretch with base and beam search hears it right, and the re-decoding is kept.
    drop = tmp_path / "calls"
    drop.mkdir()
    (drop / "inbound-01.wav").write_bytes((CALLS / "inbound-01.wav").read_bytes())
    lines = (CALLS / "manifest.csv").read_text().splitlines()
    (drop / "manifest.csv").write_text("\n".join([lines[0]] + [ln for ln in lines if ln.startswith("inbound-01")]) + "\n")
    db = tmp_path / "rc.db"
    result = qa("run", drop, "--scripts", ROOT / "scripts_library", "--db", db, "--recheck-model", "base")
    assert result.exit_code == 0, result.output
    (call,) = json.loads(qa("export", "--db", db).stdout)
    expected = json.loads((CALLS / "expected.json").read_text())[0]
    got = {key(i): i["status"] for i in call["items"]}
    assert got == {k: v["expected"] for k, v in expected["items"].items()}
