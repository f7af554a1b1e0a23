"""Reviewers' overrides: stored beside the machine's verdict, re-scored, exported, kept through rescores,
conflicts listed; `qa override`, `qa overrides`, `qa calibrate --from-overrides`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from qa_analyser.cli import app
from qa_analyser.datatypes import CallInfo
from qa_analyser.errors import OverrideError
from qa_analyser.score import score_call
from qa_analyser.store import Store

from stored import demo_script, result
from test_store import SHA, make_transcript

runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


def machine(notice: str = "missed", offer: str = "not_applicable") -> list:
    return [result("greeting", "met", evidence="thank you for calling acme power", start=0.5, weight=10),
            result("notice", notice, critical=True, weight=20),
            result("offer", offer, kind="conditional", section="resolution", weight=10),
            result("rude", "met", kind="prohibited", weight=5)]


def save(store: Store, call_id: str = "c1", *, results=None, vendor: str = "northwind",
         started: str = "2026-11-02T09:00:00Z", agent: str = "a1") -> None:
    script = demo_script()
    results = machine() if results is None else results
    store.save_call(
        run_id=1, call=CallInfo(path=f"/drop/{call_id}.wav", file=f"{call_id}.wav", call_id=call_id,
                                agent_id=agent, agent_name="Tom", team="t1", script_id="demo", started_at=started,
                                channels="agent-left", metadata=(("vendor", vendor),)),
        recording_sha256=SHA, size=10, source_channels=2, transcript=make_transcript(), transcript_id=None,
        script=script, results=results, score=score_call(results, pass_mark=script.pass_mark),
        matcher_version="meaning-1+abc", matcher_options={"partial_threshold": 0.5})


def rescore(store: Store, results, call_id: str = "c1"):
    script = demo_script()
    return store.save_rescore(run_id=2, call_id=call_id, script=script, results=results,
                              score=score_call(results), matcher_version="meaning-1+def", matcher_options={})


@pytest.fixture
def store():
    s = Store.memory()
    save(s)
    yield s
    s.close()


def test_an_override_rescores_the_call_and_keeps_the_machines_verdict(store):
    before = store.stored_call("c1")
    assert (before.score.score, before.score.passed, before.score.critical_failures) == (42.9, False, ("notice",))
    o = store.override("c1", "notice", "met", reason="said at 01:10, the recogniser missed it", reviewer="Ana")
    assert (o.call_id, o.item_id, o.kind, o.automatic, o.status, o.reviewer, o.id) == \
        ("c1", "notice", "required", "missed", "met", "Ana", 1)
    after = store.stored_call("c1")
    assert (after.score.score, after.score.passed, after.score.critical_failures) == (100.0, True, ())
    assert [r.status for r in after.results] == ["met", "met", "not_applicable", "met"]
    assert [r.status for r in after.automatic] == ["met", "missed", "not_applicable", "met"]
    assert after.overrides == (o,)
    assert after.fingerprint == "meaning-1+abc" and after.matcher_options == {"partial_threshold": 0.5}
    # provenance: a new score row that records the override; the machine's row stays as history
    new, old = store.score_history("c1")
    assert (new["current"], new["overrides"], new["score"]) == (True, [1], 100.0)
    assert (old["current"], old["overrides"], old["score"]) == (False, [], 42.9)
    exported = store.export_calls()[0]
    notice = exported["items"][1]
    assert notice["status"] == "met"
    assert notice["override"] == {"id": 1, "from": "missed", "to": "met", "reviewer": "Ana", "at": o.at,
                                  "reason": "said at 01:10, the recogniser missed it"}
    assert exported["items"][0]["override"] is None and exported["overrides"] == [1]


def test_a_later_override_supersedes_the_earlier_one_which_stays_in_the_history(store):
    first = store.override("c1", "notice", "met", reason="heard it", reviewer="Ana")
    second = store.override("c1", "notice", "partial", reason="only half of it", reviewer="Ben")
    assert second.automatic == "missed"  # still the machine's verdict, not the first reviewer's
    assert store.overrides() == [second]
    trail = store.overrides("c1", include_superseded=True)
    assert [(o.id, o.status, o.superseded_by) for o in trail] == [(first.id, "met", second.id), (second.id, "partial", None)]
    assert store.stored_call("c1").results[1].status == "partial"
    assert len(store.score_history("c1")) == 3


@pytest.mark.parametrize("args, message", [
    (("nope", "notice", "met"), "no call 'nope' in :memory:"),
    (("c1", "closing", "met"), "call 'c1', item 'closing': the call's script demo v2 has no such item "
                               "(it has: greeting, notice, offer, prohibited:rude)"),
    (("c1", "notice", "violated"), "call 'c1', item 'notice': 'violated' is not a status of a required item "
                                   "(expected met, partial, missed)"),
    (("c1", "notice", "not_applicable"), "call 'c1', item 'notice': 'not_applicable' is not a status of a "
                                         "required item (expected met, partial, missed)"),
    (("c1", "rude", "missed"), "call 'c1', item 'rude': 'missed' is not a status of a prohibited rule "
                               "(expected met, violated)"),
])
def test_bad_overrides_are_refused_with_the_call_and_item_named(store, args, message):
    with pytest.raises(OverrideError) as e:
        store.override(*args, reason="r", reviewer="Ana")
    assert str(e.value) == message
    assert store.overrides(include_superseded=True) == [] and len(store.score_history("c1")) == 1


def test_an_override_needs_a_reason_and_a_reviewer(store):
    with pytest.raises(OverrideError, match=r"^call 'c1', item 'notice': give the reason for the override$"):
        store.override("c1", "notice", "met", reason="  ", reviewer="Ana")
    with pytest.raises(OverrideError, match=r"^call 'c1', item 'notice': give the reviewer's name$"):
        store.override("c1", "notice", "met", reason="heard it", reviewer="")


def test_conditional_and_prohibited_overrides(store):
    store.override("c1", "offer", "missed", reason="the customer asked to cancel", reviewer="Ana")
    o = store.override("c1", "prohibited:rude", "violated", reason="said calm down at 02:00", reviewer="Ana")
    assert (o.kind, o.item_id, o.automatic) == ("prohibited", "rude", "met")
    call = store.stored_call("c1")
    assert [r.status for r in call.results] == ["met", "missed", "missed", "violated"]
    assert call.score.score == round(100 * 10 / 45, 1)


def test_overrides_survive_a_rescore_and_conflicts_are_listed(store):
    o = store.override("c1", "notice", "met", reason="heard it", reviewer="Ana")
    # the machine says the same as before: the override is applied again, no conflict
    stored_score = rescore(store, machine())
    assert stored_score.score == 100.0 and store.stored_call("c1").results[1].status == "met"
    assert store.override_conflicts() == []
    # the machine now says partial under the override: still applied, and listed for review
    rescore(store, machine(notice="partial"))
    call = store.stored_call("c1")
    assert call.results[1].status == "met" and call.automatic[1].status == "partial"
    assert call.score.score == 100.0 and call.fingerprint == "meaning-1+def"
    (conflict,) = store.override_conflicts()
    assert (conflict.override.id, conflict.override.automatic, conflict.automatic_now) == (o.id, "missed", "partial")
    # overriding again records the machine's new verdict: the conflict is resolved
    store.override("c1", "notice", "met", reason="checked again after the rescore", reviewer="Ana")
    assert store.override_conflicts() == []


def test_an_override_of_an_item_that_left_the_script_is_a_conflict(store):
    store.override("c1", "offer", "missed", reason="the customer asked to cancel", reviewer="Ana")
    rescore(store, machine()[:2] + machine()[3:])
    (conflict,) = store.override_conflicts()
    assert conflict.automatic_now is None and store.stored_call("c1").overrides == ()


def test_stored_calls_filter_by_vendor_agent_and_date(store):
    save(store, "c2", vendor="eastgate", started="2026-11-09T10:00:00Z", agent="a2")
    assert [c.call_id for c in store.stored_calls()] == ["c1", "c2"]
    assert [c.call_id for c in store.stored_calls(vendor="eastgate")] == ["c2"]
    assert [c.vendor for c in store.stored_calls(agent="a1")] == ["northwind"]
    assert [c.call_id for c in store.stored_calls(since="2026-11-03")] == ["c2"]
    assert [c.call_id for c in store.stored_calls(until="2026-11-03")] == ["c1"]
    assert [c.call_id for c in store.stored_calls(script="demo", team="t1")] == ["c1", "c2"]
    assert store.stored_call("nope") is None


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "qa.db"
    with Store.open(path) as s:
        save(s)
        save(s, "c2", agent="a2")
    return path


def qa(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_qa_override_and_qa_overrides(db):
    result = qa("override", "c1", "notice", "met", "--db", db, "--reason", "heard it at 01:10", "--reviewer", "Ana")
    assert result.exit_code == 0, result.output
    assert result.stdout == ("Override #1: call c1, required notice: missed -> met (by Ana)\n"
                             "Call c1 re-scored: 100.0 passed\n")
    listed = qa("overrides", "--db", db)
    assert listed.exit_code == 0
    at = Store.open(db).overrides()[0].at
    assert listed.stdout == f"#1     {at}  c1  notice: missed -> met  by Ana: heard it at 01:10\n"
    assert qa("overrides", "--db", db, "--conflicts").stdout == "No conflicts.\n"
    exported = json.loads(qa("export", "--db", db).stdout)
    assert exported[0]["items"][1]["override"]["reviewer"] == "Ana" and exported[0]["score"] == 100.0
    report = qa("report", "call", "c1", "--db", db).stdout
    assert f"      OVERRIDDEN: missed -> met by Ana at {at}: heard it at 01:10\n" in report
    assert "  1 verdict(s) overridden by reviewers (marked OVERRIDDEN below)\n" in report
    qa("override", "c1", "greeting", "partial", "--db", db, "--reason", "no company name", "--reviewer", "Ben")
    history = qa("report", "call", "c1", "--db", db).stdout.split("Earlier verdicts (2, newest first):\n")[1]
    assert history.split("\n")[0].endswith("score 100.0  passed  overrides #1")  # the row the override made
    agent = qa("report", "agent", "a1", "--db", db).stdout
    assert "2 verdict(s) of these calls were overridden by reviewers" in agent


def test_qa_override_errors_exit_2_and_store_nothing(db):
    result = qa("override", "c1", "notice", "bogus", "--db", db, "--reason", "x", "--reviewer", "Ana")
    assert result.exit_code == 2
    assert result.stderr == ("Error: call 'c1', item 'notice': 'bogus' is not a status of a required item "
                             "(expected met, partial, missed)\n")
    assert qa("override", "c9", "notice", "met", "--db", db, "--reason", "x", "--reviewer", "A").exit_code == 2
    missing = qa("override", "c1", "notice", "met", "--db", db, "--reviewer", "Ana")
    assert missing.exit_code == 2 and "--reason" in missing.stderr
    assert qa("overrides", "--db", db).stdout == "No overrides.\n"


def test_calibrate_from_overrides(db):
    assert qa("calibrate", "--from-overrides", "--db", db).exit_code == 2  # none yet
    qa("override", "c1", "notice", "met", "--db", db, "--reason", "heard it", "--reviewer", "Ana")
    qa("override", "c2", "greeting", "met", "--db", db, "--reason", "confirmed", "--reviewer", "Ana")
    result = qa("calibrate", "--from-overrides", "--db", db, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["human_rows"] == 2 and data["matched"] == 2
    assert (data["exact"]["n"], data["exact"]["agreed"]) == (2, 1)  # greeting agreed, notice did not
    assert {i["item_id"]: i["exact"]["agreed"] for i in data["per_item"]} == {"notice": 0, "greeting": 1}
    assert data["thresholds"]["rows"] == 2
    text = qa("calibrate", "--from-overrides", "--db", db)
    assert text.stdout.startswith(f"Calibration against the reviewers' overrides in {db}: 2 human rows, 2 matched")
    both = qa("calibrate", "x.csv", "--from-overrides", "--db", db)
    assert both.exit_code == 2 and "one of the two" in both.stderr


def test_a_run_that_matches_the_call_again_keeps_the_override(store):
    store.override("c1", "notice", "met", reason="heard it", reviewer="Ana")
    save(store)  # `qa run` re-matching the call (a new matcher fingerprint, a changed recording)
    call = store.stored_call("c1")
    assert call.results[1].status == "met" and call.automatic[1].status == "missed" and call.score.passed
    assert store.score_history("c1")[0]["overrides"] == [1]
