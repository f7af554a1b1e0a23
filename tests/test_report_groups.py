"""Agent, team and vendor reports (text, JSON, self-contained HTML), clip windows; pure, on StoredCalls."""

from __future__ import annotations

import json
import re

import pytest

from qa_analyser.clips import clip_window
from qa_analyser.contract import Contract
from qa_analyser.datatypes import Override
from qa_analyser.errors import ReportError
from qa_analyser.report import Clip, build_group_report, group_report_json, group_report_text
from qa_analyser.report_html import group_report_html

from stored import result, stored

EVIL_NAME = "<b>Tom</b><script>alert(1)</script>"
EVIL_QUOTE = 'calm down <img src=x onerror=alert(1)> & "go"'


def calls():
    def c(cid, agent, team, vendor, started, notice, rude="met", name=None):
        return stored(cid, agent, team, [
            result("greeting", "met", evidence="thank you for calling", start=1.0),
            result("notice", notice, critical=True, evidence="" if notice == "missed" else "this call is recorded",
                   start=None if notice == "missed" else 5.0),
            result("rude", rude, kind="prohibited", evidence=EVIL_QUOTE if rude == "violated" else "",
                   start=30.0 if rude == "violated" else None)],
            started=started, vendor=vendor, agent_name=name)
    return [
        c("c1", "a1", "t1", "northwind", "2026-11-02T09:00:00Z", "missed", name=EVIL_NAME),
        c("c2", "a1", "t1", "northwind", "2026-11-03T09:00:00Z", "met", rude="violated", name=EVIL_NAME),
        c("c3", "a1", "t1", "northwind", "2026-11-10T09:00:00Z", "met", name=EVIL_NAME),
        c("c4", "a2", "t1", "northwind", "2026-11-11T09:00:00Z", "met"),
        c("c5", "a3", "t2", "northwind", "2026-11-12T09:00:00Z", "missed"),
    ]


def test_vendor_report_text_ranks_with_the_minimum_calls_guard():
    rep = build_group_report("vendor", "northwind", calls(), min_calls=3, since="2026-11-09",
                             contract=Contract(targets=(("mean_score", 85.0),), name="SLA"))
    text = group_report_text(rep)
    assert text.startswith("Vendor northwind: 5 scored call(s), 2 team(s), 3 agent(s)\n"
                           "  mean score 80.0   pass rate 60% [23-88%]   compliance 80% [55-93%]   "
                           "critical 60% [23-88%]\n")
    assert ("Teams (ranked by compliance; fewer than 3 calls: shown, not ranked):\n"
            "  rank  id                       calls   mean  pass  compliance [95% interval]\n"
            "     1  t1                           4   83.3   75%  83% [55-95%]\n"
            "     -  t2                           1   66.7    0%  67% [21-94%]  (too few calls to rank)\n") in text
    assert f"     1  a1 ({EVIL_NAME})     3   77.8   67%  78% [45-94%]\n" in text  # text is text: no escaping
    assert "     -  a2                           1  100.0  100%  100% [44-100%]  (too few calls to rank)\n" in text
    assert ("Weekly trend (ISO weeks, by start date):\n"
            "  week of     calls   mean  pass  compliance [95% interval]  critical\n"
            "  2026-11-02      2   66.7   50%    67% [30-90%]         50%\n"
            "  2026-11-09      3   88.9   67%    89% [56-98%]         67%\n") in text
    assert "  notice                     50% ->   67%  +17 points\n" in text
    assert "- notice (required, critical): 2 of 5 calls [12-77%]\n    c5 (a3, 2026-11-12T09:00:00Z) at --:--: missed" in text
    assert ("Contract SLA: 1 breach(es) in 2 vendor-week(s)\n"
            "  vendor           week        metric                target  actual calls\n"
            "  northwind        2026-11-02  mean_score              85.0    66.7     2  BREACH\n"
            "  northwind        2026-11-09  mean_score              85.0    88.9     3  ok\n") in text


def test_team_report_json_has_intervals_and_the_guard():
    data = json.loads(group_report_json(build_group_report("team", "t1", calls()[:4], min_calls=10)))
    assert (data["kind"], data["group"], data["parent"], data["min_calls"]) == ("team", "t1", "northwind", 10)
    assert data["figures"]["calls"] == 4 and data["figures"]["compliance_interval"] == [0.552, 0.953]  # 10 of 12
    assert data["teams"] == [] and [a["group"] for a in data["agents"]] == ["a1", "a2"]
    assert [(a["ranked"], a["rank"]) for a in data["agents"]] == [(False, None), (False, None)]
    assert data["warnings"][0].startswith("only 4 scored call(s) (fewer than 10)")
    notice = next(i for i in data["figures"]["items"] if i["item_id"] == "notice")
    assert (notice["compliance"], notice["interval"], notice["critical"]) == (0.75, [0.3006, 0.9544], True)
    assert [w["week"] for w in data["weeks"]] == ["2026-11-02", "2026-11-09"]
    assert data["sla"] == [] and data["contract"] is None and data["before_after"] is None


def test_a_group_without_calls_is_an_error():
    with pytest.raises(ReportError, match="no scored calls for team 'x'"):
        build_group_report("team", "x", [])


def html_of(**kw):
    rep = build_group_report("agent", "a1", [c for c in calls() if c.agent_id == "a1"], peers=calls(), min_calls=10,
                             since="2026-11-09", **kw)
    clip = Clip(item_id="notice", call_id="c1", kind="expected", start_s=3.0, end_s=9.5,
                href="report_clips/01-notice-c1.wav")
    return group_report_html(rep, clips=[clip], generated="2026-11-20T00:00:00Z")


def test_html_report_is_self_contained_and_escapes_everything():
    page = html_of()
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") >= 2
    assert "<script" not in page and "<link" not in page and "@import" not in page and "url(" not in page
    assert re.findall(r'(?:src|href)="([^"]+)"', page) == ["report_clips/01-notice-c1.wav"]  # only the clip
    assert {u for u in re.findall(r"https?://[^\"' ]+", page)} == {"http://www.w3.org/2000/svg"}  # a namespace
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert EVIL_NAME not in page and "&lt;b&gt;Tom&lt;/b&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in page and "calm down &lt;img src=x onerror=alert(1)&gt; &amp; &quot;go&quot;" in page
    assert "only 3 scored call(s) (fewer than 10)" in page  # the minimum-calls guard, visible
    assert '<audio controls preload="none" src="report_clips/01-notice-c1.wav"></audio>' in page
    assert "where it was expected, 00:03.0–00:09.5" in page
    assert "Before and after 2026-11-09" in page and "Against the rest of the team" in page


def test_html_escapes_markup_in_file_names_item_ids_and_contract_names():
    rep = build_group_report("vendor", "north<i>wind", calls(), contract=Contract(targets=(("mean_score", 85.0),),
                                                                                  name="<u>SLA</u>"))
    page = group_report_html(rep, notes=["no clip from call x: its recording <b>.wav cannot be read"])
    assert "<i>" not in page and "north&lt;i&gt;wind" in page
    assert "<u>" not in page and "Contract: &lt;u&gt;SLA&lt;/u&gt;" in page
    assert "recording &lt;b&gt;.wav" in page and '<span class="breach">breach</span>' in page


def test_overridden_examples_say_so():
    o = Override(call_id="c9", item_id="notice", automatic="met", status="missed", reason="not said", reviewer="Ana",
                 at="t", id=1, kind="required")
    c9 = stored("c9", "a1", "t1", [result("notice", "met", critical=True)], overrides=(o,), vendor="northwind")
    rep = build_group_report("team", "t1", [c9])
    assert "c9 (a1, 2026-11-02T09:00:00Z) at --:--: missed (reviewer's verdict)" in group_report_text(rep)
    assert "1 verdict(s) overridden by reviewers" in group_report_text(rep)
    assert "missed <span class=\"tag\">reviewer's verdict</span>" in group_report_html(rep)


# --------------------------------------------------------------------------- clip windows


def test_clip_window_is_the_evidence_or_where_the_item_was_expected():
    call = stored("c", "a", "t", [
        result("greeting", "met", evidence="hi", start=2.0),  # 2.0-4.0
        result("notice", "missed"),
        result("id", "missed"),
        result("offer", "partial", evidence="offer", start=40.0),  # 40.0-42.0
        result("bye", "missed"),
        result("rude", "violated", kind="prohibited", evidence="calm down", start=20.0)])
    assert clip_window(call, "greeting") == ("evidence", 1.0, 5.0)
    assert clip_window(call, "notice") == ("expected", 4.0, 19.0)  # after greeting, at most 15 s
    assert clip_window(call, "rude") == ("evidence", 19.0, 23.0)
    assert clip_window(call, "bye") == ("expected", 42.0, 57.0)  # nothing heard after: 15 s from the last
    assert clip_window(call, "absent") is None
    short = stored("s", "a", "t", [result("greeting", "missed"), result("notice", "met", evidence="x", start=0.5)])
    assert clip_window(short, "greeting") == ("expected", 0.0, 3.0)  # at least 3 s


def test_a_recording_that_is_gone_gets_no_clip_and_a_note(tmp_path):
    from qa_analyser.clips import example_calls, write_clips

    mine = [c for c in calls() if c.agent_id == "a1"]
    rep = build_group_report("agent", "a1", mine, peers=calls())
    made, notes = write_clips(rep, example_calls(rep, mine), tmp_path / "r.html")
    assert made == [] and not (tmp_path / "r_clips").exists()
    assert notes and notes[0].startswith("no clip from call c1: its recording c1.mp3 cannot be read (")
    assert len(notes) == len({ex.call_id for m in rep.missed[:3] for ex in m.examples})  # one per recording
