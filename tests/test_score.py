import pytest

from qa_analyser.datatypes import ItemResult, Override
from qa_analyser.score import PARTIAL_CREDIT, apply_overrides, score_call


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


def test_overrides_replace_the_status_and_keep_the_evidence():
    results = [r("a", "met"), r("notice", "missed", critical=True), r("x", "met", kind="prohibited")]
    o = Override(call_id="c", item_id="notice", automatic="missed", status="partial", reason="half", reviewer="Ana",
                 at="2026-11-02T00:00:00Z", id=4, kind="required")
    gone = Override(call_id="c", item_id="left", automatic="met", status="missed", reason="-", reviewer="Ana",
                    at="2026-11-02T00:00:00Z", id=5, kind="required")
    wrong_kind = Override(call_id="c", item_id="x", automatic="met", status="violated", reason="-", reviewer="A",
                          at="2026-11-02T00:00:00Z", id=6, kind="required")
    effective, applied = apply_overrides(results, [o, gone, wrong_kind])
    assert [e.status for e in effective] == ["met", "partial", "met"] and applied == {1: o}
    assert effective[1].confidence == results[1].confidence and effective[1].critical
    assert score_call(effective).passed and not score_call(results).passed


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
