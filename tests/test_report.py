import csv
import dataclasses
import io
import json

import pytest

from qa_analyser.errors import ReportError
from qa_analyser.report import agent_report_json, agent_report_text, build_agent_report, export_csv, export_json


from qa_analyser.datatypes import WordingDiff

from stored import result as item
from stored import stored


def call(cid, agent, team, score, passed, items, started="2026-11-02T09:00:00Z"):
    c = stored(cid, agent, team, items, started=started, score=score, passed=passed)
    return dataclasses.replace(c, script_id="s", script_version="1")


def replace_info(c, **changes):
    return dataclasses.replace(c, info=dataclasses.replace(c.info, **changes))


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
    assert json.loads(export_json(CALLS)) == [c.as_dict() for c in CALLS]
    assert json.loads(export_json(CALLS))[0]["items"][0]["override"] is None


def test_export_csv_has_one_row_per_call_item():
    rows = list(csv.DictReader(io.StringIO(export_csv(CALLS))))
    assert len(rows) == 9
    first = rows[0]
    assert first["call_id"] == "c1" and first["item_id"] == "notice" and first["status"] == "missed"
    assert first["passed"] == "false" and first["start_s"] == ""
    assert rows[3]["flags"] == "late"
    assert first["started_at"] == "2026-11-02T09:00:00Z"


def test_export_csv_has_the_call_item_and_manifest_columns():
    c = replace_info(CALLS[0], agent_name="Tom", metadata=(("queue", "billing"), ("score", "7")))
    calls = [dataclasses.replace(c, results=(dataclasses.replace(c.results[0], detail="not found", weight=20.0,
                                                                 critical=True),))]
    text = export_csv(calls)
    header = text.splitlines()[0].split(",")
    assert header[:18] == ["call_id", "file", "agent_id", "team", "script_id", "script_version", "duration_s",
                           "score", "passed", "item_id", "section", "kind", "status", "flags", "confidence",
                           "start_s", "end_s", "evidence"]  # the old columns keep their places
    assert header[18:] == ["agent_name", "started_at", "detail", "weight", "critical", "automatic_status",
                           "overridden_by", "overridden_at", "override_reason", "queue", "manifest_score"]
    (row,) = csv.DictReader(io.StringIO(text))
    assert (row["agent_name"], row["detail"], row["weight"], row["critical"]) == ("Tom", "not found", "20.0", "true")
    assert (row["queue"], row["manifest_score"], row["score"]) == ("billing", "7", "50.0")


def test_export_csv_neutralises_formulas():
    evil = "=cmd|' -C calc'!A0.mp3"
    c = replace_info(CALLS[0], file=evil, agent_id="+a1", team="-t", agent_name="@Tom", metadata=(("note", "\t=1+1"),))
    calls = [dataclasses.replace(c, results=(dataclasses.replace(c.results[0], evidence="=HYPERLINK(\"x\")"),))]
    (row,) = csv.DictReader(io.StringIO(export_csv(calls)))
    assert row["file"] == "'" + evil and row["agent_id"] == "'+a1" and row["team"] == "'-t"
    assert row["agent_name"] == "'@Tom" and row["note"] == "'\t=1+1" and row["evidence"] == "'=HYPERLINK(\"x\")"
    negative = [dataclasses.replace(CALLS[0], score=dataclasses.replace(CALLS[0].score, score=-1.5),
                                    results=(dataclasses.replace(CALLS[0].results[0], start_s=-0.5),))]
    (row,) = csv.DictReader(io.StringIO(export_csv(negative)))
    assert row["score"] == "-1.5" and row["start_s"] == "-0.5"  # numbers are data, not formulas


def test_agent_report_compares_with_the_rest_of_the_team_and_ranks_gaps():
    rep = build_agent_report("a1", CALLS[:2], CALLS)
    assert rep.calls == 2 and rep.mean_score == 65.0 and rep.pass_rate == 0.5
    assert rep.team_calls == 1 and rep.team == "t1"  # the agent's own calls are not the team's
    assert rep.team_mean_score == 100.0
    assert rep.most_missed == ("notice", "threat")
    gaps = {g.item_id: g for g in rep.items}
    notice = gaps["notice"]
    assert notice.agent.compliance == pytest.approx(0.25)
    assert notice.team.compliance == pytest.approx(1.0)
    assert [e.call_id for e in notice.examples] == ["c1", "c2"]
    assert notice.model_answer.call_id == "c3"  # the team's met call: what good sounds like
    assert gaps["threat"].examples[0].quote == "we will take you to court"


def test_agent_report_text_and_json():
    rep = build_agent_report("a1", CALLS[:2], CALLS)
    text = agent_report_text(rep)
    assert "Agent a1 (team t1)" in text
    assert "notice" in text and "c2 at 00:05.0: partial: \"this call is recorded\"" in text
    assert "what good sounds like (c3 at 00:04.0)" in text
    # prohibited rules in words: "not said" / "violated", never "met"
    assert "  threat                   prohibited      50%   100%  1 not said/1 violated\n" in text
    assert 'c1 at 00:40.0: violated: "we will take you to court"' in text
    data = json.loads(agent_report_json(rep))
    assert data["agent_id"] == "a1" and data["most_missed"] == ["notice", "threat"]
    assert data["items"][0]["agent"]["compliance"] == 0.25
    assert data["items"][2]["agent"]["met"] == 1  # JSON keeps met/violated


def test_agent_report_warns_when_it_rests_on_few_calls():
    rep = build_agent_report("a1", CALLS[:2], CALLS, min_calls=3)
    assert "WARNING: only 2 scored call(s) (fewer than 3)" in agent_report_text(rep)
    assert json.loads(agent_report_json(rep))["warnings"][0].startswith("only 2 scored call(s)")
    assert build_agent_report("a1", CALLS[:2], CALLS, min_calls=2).warnings == ()
    alone = build_agent_report("a1", CALLS[:2], CALLS[:2], min_calls=1)
    assert alone.team_calls == 0 and alone.warnings == ("no other agent of the team has scored calls: "
                                                        "nothing to compare with",)


def test_agent_without_calls_is_an_error():
    with pytest.raises(ReportError, match="no scored calls for agent 'nobody'"):
        build_agent_report("nobody", [], CALLS)


def test_agent_with_no_gaps_says_so():
    rep = build_agent_report("a2", CALLS[2:], CALLS)
    assert rep.most_missed == ()
    assert "No gaps" in agent_report_text(rep)


# --------------------------------------------------------------------------- verbatim wording in the agent report

from qa_analyser.calibrate import AutoVerdict, HumanLabel, HumanLabels, calibrate  # noqa: E402
from qa_analyser.datatypes import Segment, Transcript, TranscriptionOptions  # noqa: E402
from qa_analyser.report import (  # noqa: E402
    CallReport,
    calibration_json,
    calibration_text,
    call_report_json,
    call_report_text,
    wording_summary,
)

APPROVED = "this call is recorded for quality and training purposes"


def wording(fidelity, dropped=(), substituted=(), added=(), uncertain=()):
    return WordingDiff(fidelity=fidelity, approved=APPROVED, dropped=tuple(dropped),
                       substituted=tuple(tuple(p) for p in substituted), added=tuple(added),
                       uncertain=tuple(tuple(p) for p in uncertain))


def verbatim_calls():
    def notice(status, fid, **kw):
        return item("notice", status, evidence="this call is recorded", start=4.0, wording=wording(fid, **kw))

    return [
        call("v1", "a1", "t1", 75.0, True, [notice("partial", 0.7, dropped=["training"],
                                                    substituted=[("purposes", "reasons")])]),
        call("v2", "a1", "t1", 75.0, True, [notice("partial", 0.8, dropped=["training"])],
             started="2026-11-03T09:00:00Z"),
        call("v3", "a2", "t1", 100.0, True, [notice("met", 1.0)]),
    ]


def test_agent_report_shows_verbatim_fidelity_against_the_team_and_what_was_changed():
    calls = verbatim_calls()
    rep = build_agent_report("a1", calls[:2], calls)
    (gap,) = rep.items
    f = gap.fidelity
    assert (f.agent_mean, f.agent_calls, f.team_mean, f.team_calls) == (0.75, 2, 1.0, 1)
    assert f.often_dropped == (("training", 2),) and f.often_substituted == (("purposes", "reasons", 1),)
    text = agent_report_text(rep)
    assert ("  notice                   agent 75% (2 calls)   team 100% (1 calls)   often: drops \"training\" (2x); "
            "says \"reasons\" for \"purposes\" (1x)") in text
    assert ('    v1 at 00:04.0: partial: "this call is recorded"\n'
            '      wording 70% of the approved words; dropped "training"; substituted "purposes" -> "reasons"\n'
            ) in text
    data = json.loads(agent_report_json(rep))
    assert data["items"][0]["fidelity"]["agent_mean"] == 0.75
    assert data["items"][0]["examples"][0]["wording"]["dropped"] == ["training"]


def test_items_without_wording_have_no_fidelity_section():
    rep = build_agent_report("a1", CALLS[:2], CALLS)
    assert all(g.fidelity is None for g in rep.items)
    assert "Verbatim wording" not in agent_report_text(rep)


def test_wording_summary():
    assert wording_summary(wording(1.0)) == "wording 100% of the approved words; exact"
    assert wording_summary(wording(0.5, added=["today"])) == 'wording 50% of the approved words; added "today"'
    poorly = wording(1.0, uncertain=[("fee", "v")])
    assert wording_summary(poorly) == 'wording 100% of the approved words; heard poorly, not counted "fee" -> "v"'


# --------------------------------------------------------------------------- a reviewer's view of one call


def reviewed_call():
    c = call("c1", "a1", "t1", 50.0, False, [
        item("notice", "partial", evidence="this call is recorded", start=4.0, flags=["late"], critical=True,
             detail="verbatim item: wording not exact",
             wording=wording(0.7, dropped=["training"], substituted=[("purposes", "reasons")])),
        dataclasses.replace(item("threat", "violated", kind="prohibited", evidence="we will take you to court",
                                 start=40.0), speaker=None)])
    c = replace_info(c, agent_name="Tom", channels="agent-left", metadata=(("queue", "billing"),))
    c = dataclasses.replace(c, score=dataclasses.replace(c.score, earned=10.0, possible=20.0,
                                                         critical_failures=("threat",)),
                            fingerprint="fuzzy-1", model_id="tiny.en", scored_at="2026-11-23T02:00:00Z")
    segs = (Segment(text=" I want to complain.", start=2.0, end=3.5, speaker="customer", channel=1),
            Segment(text=" This call is recorded.", start=4.0, end=6.0, speaker="agent", channel=0))
    t = Transcript(segments=segs[::-1], duration_s=60.0, channels="agent-left", options=TranscriptionOptions())
    return CallReport(call=c, transcript=t)


def test_call_report_text():
    text = call_report_text(reviewed_call())
    assert text == (
        "Call c1 (c1.mp3)\n"
        "  agent: a1 (Tom)   team: t1   started: 2026-11-02T09:00:00Z\n"
        "  duration: 01:00.0   channels: agent-left   metadata: queue=billing\n"
        "  script: s v1   matcher: fuzzy-1   model: tiny.en   scored: 2026-11-23T02:00:00Z\n"
        "  score: 50.0 (10 of 20 points)   FAILED (critical: threat)\n"
        "\n"
        "Items (2):\n"
        "  notice                 required, critical    partial        confidence 0.90  at 00:04.0-00:06.0  flags: late\n"
        "      quote (agent): \"this call is recorded\"\n"
        "      detail: verbatim item: wording not exact\n"
        f"      approved: \"{APPROVED}\"\n"
        "      wording 70% of the approved words; dropped \"training\"; substituted \"purposes\" -> \"reasons\"\n"
        "  threat                 prohibited            violated       confidence 0.90  at 00:40.0-00:42.0\n"
        "      quote: \"we will take you to court\"\n"
        "\n"
        "Transcript (2 segments):\n"
        "  00:02.0-00:03.5  customer  I want to complain.\n"
        "  00:04.0-00:06.0  agent     This call is recorded.\n"
    )


def test_call_report_json_and_a_call_without_transcript():
    data = json.loads(call_report_json(reviewed_call()))
    assert data["call"]["items"][0]["wording"]["substituted"] == [["purposes", "reasons"]]
    assert data["transcript"][0] == {"speaker": "customer", "channel": 1, "start_s": 2.0, "end_s": 3.5,
                                     "text": "I want to complain."}
    bare = CallReport(call=call("c2", "a1", None, 100.0, True, []), transcript=None)
    assert "Transcript (0 segments):\n  (no speech)\n" in call_report_text(bare)
    assert "  score: 100.0 (0 of 0 points)   passed\n" in call_report_text(bare)


# --------------------------------------------------------------------------- calibration


def test_calibration_renderers():
    verdicts = [AutoVerdict("c1", "greeting", "required", "met", 0.82, 0.8, 0.6),
                AutoVerdict("c2", "greeting", "required", "met", 0.95, 0.8, 0.6),
                AutoVerdict("c1", "rude", "prohibited", "met", 0.3, 0.8, 0.6)]
    labs = HumanLabels("h.csv", (HumanLabel("c1", "greeting", "partial", 2), HumanLabel("c2", "greeting", "met", 3),
                                 HumanLabel("c1", "rude", "met", 4), HumanLabel("c9", "greeting", "met", 5)))
    cal = calibrate(labs, verdicts)
    text = calibration_text(cal)
    assert text.startswith(
        "Calibration against h.csv: 4 human rows, 3 matched a stored verdict, 1 did not\n"
        "  exact status:  agreement 66.7% (2/3)   Cohen's kappa 0.500\n"
        "  said/not said: agreement 100.0% (3/3)   Cohen's kappa 1.000\n")
    assert "  greeting                 required         2   50.0%  100.0%\n" in text
    assert ("  current        0.8      0.6    50.0%   100.0%\n"
            "  suggested    0.885      0.6   100.0%   100.0%\n"
            "  to try it: qa rescore --db DB --scripts DIR --met-threshold 0.885 --partial-threshold 0.6\n") in text
    assert "  NOT RELIABLE: too few rows for a reliable suggestion: 1 human 'met'" in text
    assert "  line 5: c9 greeting (met): no stored call with this id\n" in text
    data = json.loads(calibration_json(cal))
    assert data["exact"] == {"n": 3, "agreed": 2, "accuracy": 0.667, "kappa": 0.5}
    assert data["confusion"]["prohibited"]["counts"] == [[1, 0], [0, 0]]
    assert data["thresholds"]["suggestion"] is True and data["thresholds"]["reliable"] is False
    assert data["thresholds"]["suggested"]["met_threshold"] == 0.885
    assert data["thresholds"]["apply_with"].endswith("--met-threshold 0.885 --partial-threshold 0.6")
    assert data["unmatched"] == [{"line": 5, "call_id": "c9", "item_id": "greeting", "status": "met",
                                  "reason": "no stored call with this id"}]
