import pytest

from qa_analyser.datatypes import ItemResult
from qa_analyser.score import PARTIAL_CREDIT, item_rates, roll_up, score_call


def r(item_id, status, *, kind="required", weight=10, critical=False):
    return ItemResult(item_id=item_id, section=None if kind == "prohibited" else "s", kind=kind, status=status,
                      confidence=0.9, weight=weight, critical=critical)


def test_all_met_scores_100_and_passes():
    s = score_call([r("a", "met"), r("b", "met", weight=5), r("p", "met", kind="prohibited")])
    assert s.score == 100.0 and s.passed and s.possible == 25


def test_partial_earns_half_and_missed_nothing():
    s = score_call([r("a", "met"), r("b", "partial"), r("c", "missed")])
    assert s.earned == 10 + 10 * PARTIAL_CREDIT
    assert s.possible == 30
    assert s.score == pytest.approx(50.0)


def test_not_applicable_is_left_out_of_the_denominator():
    s = score_call([r("a", "met"), r("cond", "not_applicable", kind="conditional", weight=40)])
    assert s.possible == 10 and s.score == 100.0


def test_violation_loses_the_rule_weight():
    s = score_call([r("a", "met", weight=30), r("threat", "violated", kind="prohibited", weight=10)])
    assert s.score == 75.0 and s.passed


def test_critical_miss_fails_even_with_high_score():
    s = score_call([r("a", "met", weight=100), r("notice", "missed", weight=1, critical=True)])
    assert not s.passed and s.critical_failures == ("notice",) and s.score > 95


def test_critical_partial_does_not_fail_but_critical_violation_does():
    assert score_call([r("notice", "partial", critical=True)]).passed
    s = score_call([r("a", "met"), r("threat", "violated", kind="prohibited", critical=True)])
    assert not s.passed and s.critical_failures == ("threat",)


def test_nothing_applicable_scores_100():
    assert score_call([r("cond", "not_applicable", kind="conditional")]).score == 100.0


def call(cid, agent, team, score, passed, statuses):
    return {"call_id": cid, "agent_id": agent, "team": team, "score": score, "passed": passed,
            "items": [{"item_id": i, "kind": k, "status": s} for i, k, s in statuses]}


def test_roll_up_groups_and_rates():
    calls = [
        call("1", "a1", "t", 80.0, True, [("greet", "required", "met"), ("x", "prohibited", "met")]),
        call("2", "a1", "t", 40.0, False, [("greet", "required", "partial"), ("x", "prohibited", "violated")]),
        call("3", "a2", "t", 100.0, True, [("greet", "required", "met"), ("x", "prohibited", "met")]),
    ]
    by_agent = {g.group: g for g in roll_up(calls, by="agent_id")}
    assert by_agent["a1"].calls == 2 and by_agent["a1"].mean_score == 60.0 and by_agent["a1"].pass_rate == 0.5
    rates = {i.item_id: i for i in by_agent["a1"].items}
    assert rates["greet"].compliance == pytest.approx((1 + PARTIAL_CREDIT) / 2)
    assert rates["x"].compliance == 0.5
    team = roll_up(calls, by="team")
    assert len(team) == 1 and team[0].calls == 3


def test_item_rates_exclude_not_applicable_from_applicable():
    rates = item_rates([call("1", "a", "t", 1, True, [("c", "conditional", "not_applicable")]),
                        call("2", "a", "t", 1, True, [("c", "conditional", "met")])])
    assert rates[0].applicable == 1 and rates[0].not_applicable == 1 and rates[0].compliance == 1.0


def test_pass_mark_fails_a_call_scoring_below_it():
    results = [r("a", "met", weight=58), r("b", "missed", weight=42)]
    assert score_call(results).passed  # no pass mark: only critical items decide
    s = score_call(results, pass_mark=70)
    assert s.score == 58.0 and not s.passed and s.below_pass_mark and s.critical_failures == ()
    at_mark = score_call(results, pass_mark=58)
    assert at_mark.passed and not at_mark.below_pass_mark  # "below" is strict


def test_pass_mark_and_critical_failures_both_count():
    s = score_call([r("a", "met", weight=90), r("notice", "missed", weight=10, critical=True)], pass_mark=50)
    assert s.score == 90.0 and not s.passed and not s.below_pass_mark and s.critical_failures == ("notice",)
