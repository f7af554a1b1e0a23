import csv
import io
import json

import pytest

from qa_analyser.errors import ReportError
from qa_analyser.report import agent_report_json, agent_report_text, build_agent_report, export_csv, export_json


def item(item_id, status, *, kind="required", evidence="", start=None, flags=()):
    return {"item_id": item_id, "section": None if kind == "prohibited" else "opening", "kind": kind,
            "status": status, "flags": list(flags), "confidence": 0.9, "start_s": start,
            "end_s": None if start is None else start + 2, "evidence": evidence}


def call(cid, agent, team, score, passed, items, started="2026-11-02T09:00:00Z"):
    return {"call_id": cid, "file": f"{cid}.mp3", "agent_id": agent, "team": team, "script_id": "s",
            "script_version": "1", "duration_s": 60.0, "score": score, "passed": passed, "started_at": started,
            "items": items}


CALLS = [
    call("c1", "a1", "t1", 50.0, False, [
        item("notice", "missed"), item("greeting", "met", evidence="thank you for calling", start=0.5),
        item("threat", "violated", kind="prohibited", evidence="we will take you to court", start=40.0)]),
    call("c2", "a1", "t1", 80.0, True, [
        item("notice", "partial", evidence="this call is recorded", start=5.0, flags=["late"]),
        item("greeting", "met", evidence="thank you for calling", start=0.7),
        item("threat", "met", kind="prohibited")]),
    call("c3", "a2", "t1", 100.0, True, [
        item("notice", "met", evidence="this call is recorded for quality and training", start=4.0),
        item("greeting", "met", evidence="thanks for calling", start=0.2),
        item("threat", "met", kind="prohibited")]),
]


def test_export_json_round_trips():
    assert json.loads(export_json(CALLS)) == CALLS


def test_export_csv_has_one_row_per_call_item():
    rows = list(csv.DictReader(io.StringIO(export_csv(CALLS))))
    assert len(rows) == 9
    first = rows[0]
    assert first["call_id"] == "c1" and first["item_id"] == "notice" and first["status"] == "missed"
    assert first["passed"] == "false" and first["start_s"] == ""
    assert rows[3]["flags"] == "late"


def test_agent_report_compares_with_team_and_ranks_gaps():
    rep = build_agent_report("a1", CALLS[:2], CALLS)
    assert rep.calls == 2 and rep.mean_score == 65.0 and rep.pass_rate == 0.5
    assert rep.team_calls == 3 and rep.team == "t1"
    assert rep.most_missed == ("notice", "threat")
    gaps = {g.item_id: g for g in rep.items}
    notice = gaps["notice"]
    assert notice.agent.compliance == pytest.approx(0.25)
    assert notice.team.compliance == pytest.approx(0.5)
    assert [e.call_id for e in notice.examples] == ["c1", "c2"]
    assert notice.model_answer.call_id == "c3"  # the team's met call: what good sounds like
    assert gaps["threat"].examples[0].quote == "we will take you to court"


def test_agent_report_text_and_json():
    rep = build_agent_report("a1", CALLS[:2], CALLS)
    text = agent_report_text(rep)
    assert "Agent a1 (team t1)" in text
    assert "notice" in text and "c2 at 00:05.0: partial: \"this call is recorded\"" in text
    assert "what good sounds like (c3 at 00:04.0)" in text
    data = json.loads(agent_report_json(rep))
    assert data["agent_id"] == "a1" and data["most_missed"] == ["notice", "threat"]
    assert data["items"][0]["agent"]["compliance"] == 0.25


def test_agent_without_calls_is_an_error():
    with pytest.raises(ReportError, match="no scored calls for agent 'nobody'"):
        build_agent_report("nobody", [], CALLS)


def test_agent_with_no_gaps_says_so():
    rep = build_agent_report("a2", CALLS[2:], CALLS)
    assert rep.most_missed == ()
    assert "No gaps" in agent_report_text(rep)
