"""Roll-ups over StoredCalls: Wilson intervals, groups with the minimum-calls guard, weeks, before/after,
most missed; and the contract's SLA evaluation."""

from __future__ import annotations

from datetime import date

import pytest

from qa_analyser.contract import Contract, evaluate, load_contract
from qa_analyser.datatypes import Override
from qa_analyser.errors import ConfigError
from qa_analyser.rollup import before_after, figures, most_missed, summarise, weekly, wilson

from stored import result, stored


def test_wilson_interval():
    assert wilson(0, 0) == (0.0, 1.0)
    assert wilson(8, 10) == (0.4902, 0.9433)
    assert wilson(10, 10) == (0.7225, 1.0)
    assert wilson(0, 10) == (0.0, 0.2775)
    low, high = wilson(95, 100)
    assert low < 0.95 < high and high - low < wilson(19, 20)[1] - wilson(19, 20)[0]  # more calls, narrower


def calls():
    greet_ok = result("greeting", "met", evidence="thank you for calling", start=1.0)
    return [
        stored("c1", "a1", "t1", [greet_ok, result("notice", "missed", critical=True), result("rude", "met", kind="prohibited")],
               started="2026-11-02T09:00:00Z", vendor="northwind", agent_name="Tom"),
        stored("c2", "a1", "t1", [greet_ok, result("notice", "partial", critical=True, evidence="this call is", start=4.0),
                                  result("rude", "violated", kind="prohibited", evidence="calm down", start=9.0)],
               started="2026-11-04T09:00:00Z", vendor="northwind", agent_name="Tom"),
        stored("c3", "a2", "t1", [greet_ok, result("notice", "met", critical=True), result("rude", "met", kind="prohibited")],
               started="2026-11-10T09:00:00Z", vendor="northwind"),
        stored("c4", "a3", "t2", [result("greeting", "missed"), result("notice", "met", critical=True),
                                  result("rude", "met", kind="prohibited")],
               started="2026-11-11T09:00:00Z", vendor="eastgate"),
    ]


def test_figures_pool_every_applicable_verdict():
    f = figures(calls()[:2])
    assert f.calls == 2 and f.mean_score == 58.4  # 66.7 (2 of 3) and 50.0 (1.5 of 3)
    # c1: greeting 1, notice 0, rude 1; c2: greeting 1, notice 0.5, rude 0 -> 3.5 of 6
    assert f.compliance == round(3.5 / 6, 4) and f.compliance_interval == wilson(3.5, 6)
    assert f.critical_compliance == 0.25 and f.pass_rate == 0.5 and f.pass_interval == wilson(1, 2)
    (greeting, notice, rude) = f.items
    assert (notice.item_id, notice.applicable, notice.missed, notice.partial, notice.critical) == ("notice", 2, 1, 1, True)
    assert notice.compliance == 0.25 and notice.interval == wilson(0.5, 2)
    assert (rude.kind, rude.violated, rude.compliance) == ("prohibited", 1, 0.5)


def test_summarise_ranks_only_groups_with_enough_calls():
    groups = summarise(calls(), by="agent", min_calls=2)
    assert [(g.group, g.ranked, g.rank, g.calls) for g in groups] == [
        ("a1", True, 1, 2), ("a2", False, None, 1), ("a3", False, None, 1)]
    assert groups[0].parent == "t1" and groups[0].label == "Tom" and groups[0].min_calls == 2
    teams = summarise(calls(), by="team", min_calls=1)
    # t1: 6.5 of 9 verdicts complied; t2: 2 of 3
    assert [(g.group, g.rank, g.parent) for g in teams] == [("t1", 1, "northwind"), ("t2", 2, "eastgate")]
    vendors = summarise(calls(), by="vendor", min_calls=1)
    assert [(g.group, g.calls) for g in vendors] == [("northwind", 3), ("eastgate", 1)]
    with pytest.raises(ValueError):
        summarise(calls(), by="site")


def test_overridden_verdicts_count_as_the_reviewers():
    o = Override(call_id="c1", item_id="notice", automatic="missed", status="met", reason="heard it", reviewer="Ana",
                 at="t", id=1, kind="required")
    c1 = stored("c1", "a1", "t1", [result("notice", "missed", critical=True)], overrides=(o,))
    f = figures([c1])
    assert f.critical_compliance == 1.0 and f.overridden == 1 and f.items[0].overridden == 1


def test_weekly_points_by_iso_week():
    points = weekly(calls() + [stored("c5", "a1", "t1", [result("greeting", "met")], started=None)])
    assert [(p.week, p.figures.calls) for p in points] == [("2026-11-02", 2), ("2026-11-09", 2)]
    assert points[1].figures.critical_compliance == 1.0


def test_before_and_after_a_training_date():
    ba = before_after(calls(), "2026-11-09")
    assert (ba.date, ba.before.calls, ba.after.calls, ba.undated) == ("2026-11-09", 2, 2, 0)
    notice = next(i for i in ba.items if i.item_id == "notice")
    assert notice.change == 0.75 and not notice.significant  # 2 calls each side: intervals overlap
    assert before_after(calls(), date(2026, 11, 1)).before.calls == 0


def test_most_missed_with_the_latest_examples():
    missed = most_missed(calls(), limit=2, examples=1)
    assert [(m.item_id, m.misses, m.applicable) for m in missed] == [("notice", 2, 4), ("greeting", 1, 4)]
    (example,) = missed[0].examples
    assert (example.call_id, example.status, example.start_s, example.quote) == ("c2", "partial", 4.0, "this call is")
    assert missed[0].rate == 0.5 and missed[0].interval == wilson(2, 4) and missed[0].critical


# --------------------------------------------------------------------------- the contract


CONTRACT = """\
name: Energy 2026
min_calls: 2
targets:
  critical_compliance: 0.95
  mean_score: 85
vendors:
  eastgate:
    mean_score: 60
"""


def test_contract_breaches_per_vendor_and_week(tmp_path):
    path = tmp_path / "contract.yaml"
    path.write_text(CONTRACT)
    contract = load_contract(path)
    assert contract.targets_for("eastgate") == {"critical_compliance": 0.95, "mean_score": 60.0}
    rows = [(r.vendor, r.week, r.metric, r.target, r.actual, r.calls, r.judged, r.breached)
            for r in evaluate(calls(), contract)]
    assert rows == [
        ("eastgate", "2026-11-09", "critical_compliance", 0.95, 1.0, 1, False, False),  # 1 call < min_calls
        ("eastgate", "2026-11-09", "mean_score", 60.0, 66.7, 1, False, False),
        ("northwind", "2026-11-02", "critical_compliance", 0.95, 0.25, 2, True, True),
        ("northwind", "2026-11-02", "mean_score", 85.0, 58.4, 2, True, True),
        ("northwind", "2026-11-09", "critical_compliance", 0.95, 1.0, 1, False, False),
        ("northwind", "2026-11-09", "mean_score", 85.0, 100.0, 1, False, False),
    ]
    assert evaluate(calls(), Contract(targets=(("pass_rate", 0.5),)))[-1].breached is False  # week of c3: passed


@pytest.mark.parametrize("text, message", [
    ("targets: {mean_scor: 85}\n", "contract.yaml: targets.mean_scor: unknown metric (expected one of "
                                   "mean_score, pass_rate, compliance, critical_compliance)"),
    ("targets: {mean_score: 850}\n", "contract.yaml: targets.mean_score: 850 is not a mean call score between 0 and 100"),
    ("targets: {pass_rate: 95}\n", "contract.yaml: targets.pass_rate: 95 is not a share of calls passed between 0 and 1"),
    ("name: x\n", "contract.yaml: no 'targets' (e.g. targets: {critical_compliance: 0.95, mean_score: 85})"),
    ("targets: {mean_score: 85}\nsla: 1\n", "contract.yaml: unknown key(s) sla (expected name, min_calls, targets, vendors)"),
    ("targets: {mean_score: 85}\nvendors: {x: {pass_rate: -1}}\n",
     "contract.yaml: vendors.x.pass_rate: -1 is not a share of calls passed between 0 and 1"),
    ("targets: [\n", "contract.yaml:2: YAML syntax error"),
])
def test_bad_contract_files_name_the_file_and_key(tmp_path, text, message):
    path = tmp_path / "contract.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_contract(path)
    assert str(e.value).replace(str(tmp_path) + "/", "").startswith(message)
