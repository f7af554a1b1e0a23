"""Builders for tests: a small script stored for real, and `StoredCall`s made without a database."""

from __future__ import annotations

from qa_analyser.datatypes import CallInfo, CallScore, ItemResult, Override, StoredCall, WordingDiff
from qa_analyser.score import apply_overrides, score_call
from qa_analyser.scripts import script_from_source

SCRIPT_YAML = """\
id: demo
version: "2"
name: Demo
variables:
  company: Acme Power
sections:
  - id: opening
    items:
      - id: greeting
        text: "Thank you for calling {company}."
        weight: 10
      - id: notice
        text: "This call is recorded for quality and training purposes."
        weight: 20
        critical: true
  - id: resolution
    items:
      - id: offer
        text: "I can offer you a loyalty discount."
        weight: 10
        when_customer_says: ["cancel my account"]
prohibited:
  - id: rude
    phrases: ["calm down"]
    weight: 5
"""


def demo_script():
    return script_from_source(SCRIPT_YAML, path="demo.yaml")


def result(item_id: str, status: str, *, kind: str = "required", evidence: str = "", start: float | None = None,
           critical: bool = False, weight: float = 1.0, confidence: float = 0.9, flags: tuple = (),
           wording: WordingDiff | None = None, section: str | None = "opening", detail: str = "") -> ItemResult:
    return ItemResult(item_id=item_id, section=None if kind == "prohibited" else section, kind=kind, status=status,
                      confidence=confidence, flags=tuple(flags), start_s=start,
                      end_s=None if start is None else start + 2, evidence=evidence,
                      speaker="agent" if evidence else None, detail=detail, weight=weight, critical=critical,
                      wording=wording)


def stored(call_id: str, agent: str, team: str | None, results: list[ItemResult], *,
           started: str | None = "2026-11-02T09:00:00Z", vendor: str | None = None, score: float | None = None,
           passed: bool | None = None, overrides: tuple[Override, ...] = (), agent_name: str | None = None,
           matcher_options: dict | None = None, fingerprint: str = "meaning-1+abc") -> StoredCall:
    """A stored call as `Store.stored_calls` returns it; the score is computed unless given."""
    effective, _ = apply_overrides(results, overrides)
    s = score_call(effective)
    if score is not None or passed is not None:
        s = CallScore(score=s.score if score is None else score, passed=s.passed if passed is None else passed,
                      earned=s.earned, possible=s.possible, critical_failures=s.critical_failures)
    metadata = (("vendor", vendor),) if vendor else ()
    info = CallInfo(path=f"/drop/{call_id}.mp3", file=f"{call_id}.mp3", call_id=call_id, agent_id=agent,
                    agent_name=agent_name, team=team, script_id="demo", started_at=started, channels="agent-left",
                    metadata=metadata)
    return StoredCall(info=info, score=s, results=effective, automatic=tuple(results), overrides=tuple(overrides),
                      script_id="demo", script_version="2", scored_at="2026-11-10T00:00:00.000Z",
                      fingerprint=fingerprint, duration_s=60.0, matcher_options=matcher_options or {})
