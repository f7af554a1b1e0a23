"""Calibration against human reviewers: CSV parsing, agreement, kappa, confusion, threshold sweep."""

from __future__ import annotations

import pytest

from qa_analyser.calibrate import (
    AutoVerdict,
    HumanLabel,
    HumanLabels,
    RowProblem,
    calibrate,
    cohen_kappa,
    read_human_csv,
    suggest_thresholds,
    labels_from_overrides,
    verdicts_from_calls,
)
from qa_analyser.datatypes import Override, WordingDiff
from qa_analyser.errors import ConfigError

from stored import result, stored



from qa_analyser.match import resolved_options  # noqa: E402

DEFAULTS = resolved_options()

def auto(call_id, item_id, status, confidence, *, kind="required", met=0.8, partial=0.6, verbatim=False):
    return AutoVerdict(call_id=call_id, item_id=item_id, kind=kind, status=status, confidence=confidence,
                       met_threshold=met, partial_threshold=partial, verbatim=verbatim)


def human(call_id, item_id, status, line=2, prohibited=None):
    return HumanLabel(call_id=call_id, item_id=item_id, status=status, line=line, prohibited=prohibited)


def labels(*rows: HumanLabel) -> HumanLabels:
    return HumanLabels(source="h.csv", labels=tuple(rows))


# --------------------------------------------------------------------------- the CSV


def test_read_human_csv_keeps_good_rows_and_names_bad_ones():
    text = (
        "\ufeffCall_ID, item_id ,Status,reviewer,notes\n"
        "c1,greeting,met,ann,clear\n"
        "\n"
        "c1,notice,Partial,,\n"
        "c1,prohibited:rude,violated,bob,\n"
        "c2,greeting,mett,ann,\n"
        "c2,,missed,ann,\n"
        "c2,notice,missed,ann,x,extra\n"
        "c3,greeting,missed\n"
    )
    parsed = read_human_csv(text, source="reviews.csv")
    assert parsed.labels == (
        HumanLabel("c1", "greeting", "met", line=2, reviewer="ann", notes="clear"),
        HumanLabel("c1", "notice", "partial", line=4),
        HumanLabel("c1", "rude", "violated", line=5, reviewer="bob", prohibited=True),
        HumanLabel("c3", "greeting", "missed", line=9),
    )
    assert [str(p) for p in parsed.problems] == [
        "reviews.csv:6: unknown status 'mett' (expected one of met, partial, missed, not_applicable, violated)",
        "reviews.csv:7: empty item_id",
        "reviews.csv:8: 6 fields, the header has 5",
    ]


def test_read_human_csv_without_the_columns_is_a_config_error():
    with pytest.raises(ConfigError, match=r"^h\.csv:1: missing column\(s\) status \(header has: call_id, item_id\)"):
        read_human_csv("call_id,item_id\nc1,greeting\n", source="h.csv")
    with pytest.raises(ConfigError, match=r"^h\.csv: empty file"):
        read_human_csv("\n\n", source="h.csv")


def test_verdicts_from_calls_are_the_machines_with_the_thresholds_each_call_was_scored_with():
    notice = result("notice", "partial", confidence=0.8, wording=WordingDiff(fidelity=0.8, approved="x"))
    overridden = Override(call_id="c1", item_id="notice", automatic="partial", status="met", reason="r",
                          reviewer="Ana", at="t", id=1, kind="required")
    calls = [
        stored("c1", "a", "t", [notice, result("rude", "met", kind="prohibited", confidence=0.3)],
               matcher_options={"met_threshold": 0.9, "partial_threshold": 0.5}, fingerprint="fuzzy-1",
               overrides=(overridden,)),
        stored("7", "a", "t", [result("greeting", "met", confidence=1)], fingerprint="fuzzy-1"),
    ]
    assert calls[0].results[0].status == "met"  # the reviewer's; calibration takes the machine's
    assert verdicts_from_calls(calls) == [
        auto("c1", "notice", "partial", 0.8, met=0.9, partial=0.5, verbatim=True),
        auto("c1", "rude", "met", 0.3, kind="prohibited", met=0.9, partial=0.5),
        auto("7", "greeting", "met", 1.0, met=DEFAULTS.met_threshold, partial=DEFAULTS.partial_threshold),
    ]  # the combiner's thresholds when the call does not say


def test_overrides_as_human_labels():
    o = Override(call_id="c1", item_id="rude", automatic="met", status="violated", reason="said it", reviewer="Ana",
                 at="t", id=3, kind="prohibited")
    labels = labels_from_overrides([o])
    assert labels.labels == (HumanLabel(call_id="c1", item_id="rude", status="violated", line=3, reviewer="Ana",
                                        notes="said it", prohibited=True),)
    assert labels.source == "reviewers' overrides" and labels.problems == ()


# --------------------------------------------------------------------------- agreement


def test_cohen_kappa():
    pairs = [("y", "y")] * 20 + [("y", "n")] * 5 + [("n", "y")] * 10 + [("n", "n")] * 15
    assert cohen_kappa(pairs) == pytest.approx(0.4)  # observed 0.7, chance 0.5
    assert cohen_kappa([("a", "a")] * 4) is None  # one class only: chance agreement is total
    assert cohen_kappa([("a", "b"), ("b", "a")]) == pytest.approx(-1.0)
    assert cohen_kappa([]) is None


def test_calibrate_pairs_counts_and_lists_what_did_not_match():
    verdicts = [
        auto("c1", "greeting", "met", 0.95), auto("c1", "notice", "missed", 0.9),
        auto("c1", "offer", "not_applicable", 0.9, kind="conditional"),
        auto("c1", "rude", "violated", 0.97, kind="prohibited"),
        auto("c2", "greeting", "partial", 0.7), auto("c2", "notice", "met", 0.85),
        auto("c2", "rude", "met", 0.4, kind="prohibited"),
        auto("c2", "dup", "met", 0.9), auto("c2", "dup", "met", 0.8, kind="prohibited"),
    ]
    rows = labels(
        human("c1", "greeting", "met", 2), human("c1", "notice", "missed", 3),
        human("c1", "offer", "not_applicable", 4), human("c1", "rude", "violated", 5),
        human("c2", "greeting", "met", 6), human("c2", "notice", "missed", 7), human("c2", "rude", "met", 8),
        human("c9", "greeting", "met", 9), human("c1", "closing", "met", 10), human("c1", "greeting", "violated", 11),
        human("c2", "dup", "met", 12), human("c2", "dup", "violated", 13, prohibited=True),
        human("c2", "greeting", "met", 14, prohibited=True),
    )
    cal = calibrate(rows, verdicts)
    assert (cal.labels, cal.matched) == (13, 8)
    assert [(u.line, u.reason) for u in cal.unmatched] == [
        (9, "no stored call with this id"),
        (10, "call has no item 'closing'"),
        (11, "'violated' is not a status of a required item (expected met, partial, missed, not_applicable)"),
        (12, "'dup' is both an item and a prohibited rule; write prohibited:dup for the rule"),
        (14, "call has no prohibited rule 'greeting'"),
    ]
    assert (cal.exact.n, cal.exact.agreed) == (8, 5)  # c2 greeting, c2 notice and c2 dup (rule) disagree
    assert (cal.said.n, cal.said.agreed) == (8, 6)  # a partial counts as said
    by_item = {(i.item_id, i.kind): i for i in cal.per_item}
    assert (by_item["greeting", "required"].exact.agreed, by_item["greeting", "required"].said.agreed) == (1, 2)
    assert by_item["rude", "prohibited"].exact.accuracy == 1.0
    items, prohibited = cal.confusion
    assert items.group == "items" and items.labels == ("met", "partial", "missed", "not_applicable")
    assert items.counts == ((1, 1, 0, 0), (0, 0, 0, 0), (1, 0, 1, 0), (0, 0, 0, 1))  # rows human, columns auto
    assert prohibited.labels == ("met", "violated") and prohibited.counts == ((1, 0), (1, 1))


def test_kappa_keeps_a_prohibited_met_apart_from_an_item_met():
    verdicts = [auto("c1", "greeting", "met", 0.9), auto("c1", "rude", "met", 0.2, kind="prohibited")]
    cal = calibrate(labels(human("c1", "greeting", "met"), human("c1", "rude", "met")), verdicts)
    assert cal.exact.kappa == pytest.approx(1.0)  # two categories, both agreed: not "one class"


def test_malformed_rows_travel_with_the_result():
    problem = RowProblem("h.csv", 3, "empty status")
    cal = calibrate(HumanLabels("h.csv", (), (problem,)), [])
    assert cal.problems == (problem,) and cal.matched == 0 and cal.exact.accuracy is None
    assert cal.thresholds is None


# --------------------------------------------------------------------------- threshold sweep


def sweep_case():
    """Reviewers call 0.82 partial (met cut too low) and 0.62 missed (partial cut too low)."""
    verdicts, rows = [], []
    cases = [("met", 0.95, "met")] * 3 + [("met", 0.82, "partial")] * 2 + [("partial", 0.70, "partial")] * 2 + \
            [("partial", 0.62, "missed")] * 2 + [("missed", 0.70, "missed")]
    for n, (status, confidence, verdict) in enumerate(cases):
        verdicts.append(auto(f"c{n}", "greeting", status, confidence))
        rows.append(human(f"c{n}", "greeting", verdict, line=n + 2))
    return verdicts, rows


def test_sweep_finds_the_cuts_the_reviewers_imply():
    verdicts, rows = sweep_case()
    t = calibrate(labels(*rows), verdicts).thresholds
    assert (t.rows, t.held) == (10, 0)
    assert (t.current.met_threshold, t.current.partial_threshold, t.current.exact, t.current.said) == (0.8, 0.6, 6, 8)
    # midway between the observed similarities that the reviewers separate
    assert (t.suggested.met_threshold, t.suggested.partial_threshold) == (0.885, 0.66)
    assert (t.suggested.exact, t.suggested.said, t.suggested.exact_accuracy) == (10, 10, 1.0)
    assert t.changes and not t.reliable
    assert t.notes[0] == ("too few rows for a reliable suggestion: 3 human 'met', 4 human 'partial', 3 human "
                          "'missed' (fewer than 30 per class); treat it as a hint and label more calls")
    assert calibrate(labels(*rows), verdicts, min_per_class=3).thresholds.reliable


def test_sweep_current_agreement_is_the_stored_agreement_and_a_perfect_current_is_kept():
    verdicts = [auto("a", "x", "met", 0.9), auto("b", "x", "partial", 0.7), auto("c", "x", "missed", 0.8)]
    rows = [human("a", "x", "met"), human("b", "x", "partial"), human("c", "x", "missed")]
    t = calibrate(labels(*rows), verdicts).thresholds
    assert t.current.exact == 3 and not t.changes  # ties go to the thresholds in use


def test_sweep_holds_rule_decided_verdicts_and_verbatim_met():
    verdicts = [
        auto("a", "greeting", "partial", 0.9),  # at/above the met cut yet partial: the agent's name was not heard
        auto("b", "notice", "met", 0.97, verbatim=True),  # verbatim: met by the verbatim threshold
        auto("c", "notice", "partial", 0.85, verbatim=True),
        auto("d", "greeting", "met", 0.95),
        auto("e", "greeting", "met", 0.9, met=0.85, partial=0.5),
        auto("f", "rude", "met", 0.1, kind="prohibited"),  # never swept
        auto("g", "offer", "not_applicable", 0.9, kind="conditional"),
    ]
    rows = [human("a", "greeting", "met"), human("b", "notice", "met"), human("c", "notice", "met"),
            human("d", "greeting", "met"), human("e", "greeting", "met"), human("f", "rude", "met"),
            human("g", "offer", "not_applicable")]
    t = calibrate(labels(*rows), verdicts).thresholds
    assert (t.rows, t.held) == (5, 1)
    assert t.suggested.exact == 3  # the held partial and the verbatim partial cannot become met by these cuts
    assert any("kept as stored" in n for n in t.notes)
    assert any("--verbatim-threshold" in n for n in t.notes)
    assert any("2 different threshold pairs" in n for n in t.notes) and t.mixed_current
    assert (t.current.met_threshold, t.current.partial_threshold) == (0.8, 0.6)


def test_nothing_to_sweep():
    verdicts = [auto("f", "rude", "violated", 0.9, kind="prohibited")]
    assert suggest_thresholds([(human("f", "rude", "violated"), verdicts[0])]) is None


def test_learned_verdicts_sweep_only_the_said_cut():
    """Verdicts of the meaning matcher keep their met/partial boundary; the met threshold is not moved."""
    calls = [stored(f"c{i}", "a", "t", [result("x", status, confidence=conf)], fingerprint="meaning-1+abc",
                    matcher_options={"met_threshold": 0.3, "partial_threshold": 0.5})
             for i, (status, conf) in enumerate([("met", 0.9), ("partial", 0.8), ("missed", 0.6), ("met", 0.7)])]
    autos = verdicts_from_calls(calls)
    assert all(a.verbatim for a in autos)
    humans = [human(f"c{i}", "x", s) for i, s in enumerate(["met", "partial", "partial", "missed"])]
    suggestion = suggest_thresholds(list(zip(humans, autos)), min_per_class=1)
    assert suggestion.suggested.met_threshold == 0.3
    assert any("only the said cut" in n for n in suggestion.notes)
