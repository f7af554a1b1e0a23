"""Pure renderers: exports (JSON, CSV), the trainer's per-agent gap report, a reviewer's per-call view,
calibration against human reviewers.

Inputs are dataclasses (`StoredCall`s as ``Store.stored_calls`` returns them, reports); outputs are text.
The export dicts of docs/interfaces.md are made only here, at the JSON/CSV edge (`StoredCall.as_dict`).
Nothing here touches the database or prints.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

from .calibrate import Calibration
from .contract import Contract, SlaResult, evaluate
from .datatypes import ItemResult, StoredCall, Transcript, WordingDiff, wording_dict
from .errors import ReportError
from .rollup import (
    BeforeAfter,
    Figures,
    GroupSummary,
    ItemRate,
    MissedItem,
    WeekPoint,
    before_after,
    figures,
    item_rates,
    most_missed,
    summarise,
    weekly,
)

GAP_STATUSES = ("missed", "partial", "violated")
CSV_CALL_COLUMNS = ("call_id", "file", "agent_id", "team", "script_id", "script_version", "duration_s", "score", "passed")
CSV_ITEM_COLUMNS = ("item_id", "section", "kind", "status", "flags", "confidence", "start_s", "end_s", "evidence")
# Added later, so appended: the columns above keep their positions.
CSV_MORE_CALL_COLUMNS = ("agent_name", "started_at")
CSV_MORE_ITEM_COLUMNS = ("detail", "weight", "critical")
# a reviewer's override of the verdict (empty when the machine's verdict stands): the machine's status,
# who changed it, when, why
CSV_OVERRIDE_COLUMNS = ("automatic_status", "overridden_by", "overridden_at", "override_reason")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# --------------------------------------------------------------------------- exports


def export_json(calls: Sequence[StoredCall]) -> str:
    return json.dumps([c.as_dict() for c in calls], indent=2, ensure_ascii=False) + "\n"


def export_csv(calls: Sequence[StoredCall]) -> str:
    """One row per call and item (the call's columns repeated), flags joined with ';', then the
    manifest's extra columns (metadata; named "manifest_<name>" where a name is taken).

    A text cell that a spreadsheet would run as a formula (starting with = + - @, tab or carriage
    return) is prefixed with an apostrophe (OWASP CSV injection); numbers are left as they are.
    """
    calls = [c.as_dict() for c in calls]
    fixed = CSV_CALL_COLUMNS + CSV_ITEM_COLUMNS + CSV_MORE_CALL_COLUMNS + CSV_MORE_ITEM_COLUMNS + CSV_OVERRIDE_COLUMNS
    extra = sorted({str(k) for call in calls for k in (call.get("metadata") or {})})
    header = list(fixed) + [f"manifest_{k}" if k in fixed else k for k in extra]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(_csv_cells(header))
    for call in calls:
        head = [call.get(c) for c in CSV_CALL_COLUMNS]
        more = [call.get(c) for c in CSV_MORE_CALL_COLUMNS]
        meta = call.get("metadata") or {}
        tail = [meta.get(k) for k in extra]
        for it in call.get("items", []):
            row = [it.get(c) for c in CSV_ITEM_COLUMNS]
            row[CSV_ITEM_COLUMNS.index("flags")] = ";".join(it.get("flags") or [])
            o = it.get("override") or {}
            changed = [o.get("from"), o.get("reviewer"), o.get("at"), o.get("reason")]
            w.writerow(_csv_cells(head + row + more + [it.get(c) for c in CSV_MORE_ITEM_COLUMNS] + changed + tail))
    return buf.getvalue()


def _csv_cells(values: list) -> list:
    return [_csv_cell(v) for v in values]


def _csv_cell(v):
    if v is None:
        return ""
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, str) and v.startswith(_FORMULA_STARTS):
        return "'" + v
    return v


def status_label(kind: str, status: str) -> str:
    """A verdict in words for people: a prohibited rule is "not said" or "violated" (exports keep met/violated)."""
    if kind == "prohibited":
        return {"met": "not said"}.get(status, status)
    return status


# --------------------------------------------------------------------------- agent gap report


@dataclass(frozen=True)
class Example:
    call_id: str
    file: str | None
    started_at: str | None
    status: str
    start_s: float | None
    end_s: float | None
    quote: str
    detail: str = ""
    wording: WordingDiff | None = None  # verbatim items: the wording diff
    overridden_from: str | None = None  # the machine's status, where a reviewer changed it


@dataclass(frozen=True)
class WordingFidelity:
    """Verbatim item: mean word fidelity of the agent against the team's, and what the agent changes most."""

    agent_mean: float | None
    agent_calls: int
    team_mean: float | None
    team_calls: int
    often_dropped: tuple[tuple[str, int], ...] = ()  # (word, calls)
    often_substituted: tuple[tuple[str, str, int], ...] = ()  # (approved, said, calls)


@dataclass(frozen=True)
class ItemGap:
    """One script item: the agent's compliance against the team's, with examples."""

    item_id: str
    kind: str
    agent: ItemRate
    team: ItemRate | None
    examples: tuple[Example, ...] = ()  # the agent's calls where it went wrong
    model_answer: Example | None = None  # a call of the team where it was met: what good sounds like
    fidelity: WordingFidelity | None = None  # verbatim items: how close to the approved wording

    @property
    def gap_count(self) -> int:
        return self.agent.gaps


@dataclass(frozen=True)
class AgentReport:
    agent_id: str
    team: str | None
    calls: int
    mean_score: float | None
    pass_rate: float | None
    team_calls: int
    team_mean_score: float | None
    team_pass_rate: float | None
    items: tuple[ItemGap, ...]
    most_missed: tuple[str, ...] = field(default=())
    warnings: tuple[str, ...] = ()  # e.g. too few calls for the figures to mean much
    overridden: int = 0  # verdicts of the agent's calls changed by reviewers

    def as_dict(self) -> dict:
        d = asdict(self)
        for gap, item in zip(d["items"], self.items):
            gap["agent"]["compliance"] = _round(item.agent.compliance)
            if item.team is not None:
                gap["team"]["compliance"] = _round(item.team.compliance)
            for ex, example in zip(gap["examples"], item.examples):
                ex["wording"] = None if example.wording is None else wording_dict(example.wording)
            if item.model_answer is not None and item.model_answer.wording is not None:
                gap["model_answer"]["wording"] = wording_dict(item.model_answer.wording)
        return d


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def _example(call: StoredCall, item: ItemResult) -> Example:
    o = call.override_of(item)
    return Example(call_id=call.call_id, file=call.info.file, started_at=call.started_at, status=item.status,
                   start_s=item.start_s, end_s=item.end_s, quote=item.evidence or "", detail=item.detail or "",
                   wording=item.wording, overridden_from=None if o is None else o.automatic)


def _wordings(calls: Sequence[StoredCall], item_id: str) -> list[WordingDiff]:
    return [r.wording for c in calls for r in c.results
            if r.item_id == item_id and r.kind != "prohibited" and r.wording is not None]


def _fidelity(agent_calls: Sequence[StoredCall], team_calls: Sequence[StoredCall],
              item_id: str) -> WordingFidelity | None:
    mine, theirs = _wordings(agent_calls, item_id), _wordings(team_calls, item_id)
    if not mine and not theirs:
        return None

    def mean(ws: list[WordingDiff]) -> float | None:
        return round(sum(w.fidelity for w in ws) / len(ws), 3) if ws else None

    dropped = Counter(word for w in mine for word in dict.fromkeys(w.dropped))
    swapped = Counter(pair for w in mine for pair in dict.fromkeys(w.substituted))
    return WordingFidelity(
        agent_mean=mean(mine), agent_calls=len(mine), team_mean=mean(theirs), team_calls=len(theirs),
        often_dropped=tuple(sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0]))[:3]),
        often_substituted=tuple((a, b, n) for (a, b), n in sorted(swapped.items(), key=lambda kv: (-kv[1], kv[0]))[:3]),
    )


def build_agent_report(agent_id: str, agent_calls: Sequence[StoredCall], team_calls: Sequence[StoredCall],
                       *, examples_per_item: int = 3, min_calls: int = 10) -> AgentReport:
    """A trainer's gap report from the agent's stored calls and their team's (effective verdicts:
    reviewers' overrides applied).

    The team figures leave the agent's own calls out (they are dropped from `team_calls` here), so
    the agent is compared with the rest of the team. A warning is added when the agent has fewer
    than `min_calls` scored calls, or the rest of the team has none.
    """
    if not agent_calls:
        raise ReportError(f"no scored calls for agent {agent_id!r} in the database")
    team_calls = [c for c in team_calls if c.agent_id != agent_id]
    warnings = []
    if len(agent_calls) < min_calls:
        warnings.append(f"only {len(agent_calls)} scored call(s) (fewer than {min_calls}): "
                        "the rates below can change a lot with a few more calls")
    if not team_calls:
        warnings.append("no other agent of the team has scored calls: nothing to compare with")
    teams = sorted({c.team for c in agent_calls if c.team})
    team = teams[0] if len(teams) == 1 else (", ".join(teams) if teams else None)
    mine = figures(agent_calls)
    theirs = figures(team_calls) if team_calls else None
    team_rates = {(r.item_id, r.kind): r for r in item_rates(team_calls)}
    by_time = sorted(agent_calls, key=lambda c: str(c.started_at or c.call_id))

    gaps = []
    for rate in item_rates(agent_calls):
        bad = [_example(call, r) for call in by_time for r in call.results
               if r.item_id == rate.item_id and r.kind == rate.kind and r.status in GAP_STATUSES]
        good = None
        if rate.kind != "prohibited":
            good = next((_example(call, r) for call in team_calls for r in call.results
                         if r.item_id == rate.item_id and r.status == "met" and r.evidence), None)
        gaps.append(ItemGap(item_id=rate.item_id, kind=rate.kind, agent=rate,
                            team=team_rates.get((rate.item_id, rate.kind)),
                            examples=tuple(bad[:examples_per_item]), model_answer=good,
                            fidelity=None if rate.kind == "prohibited"
                            else _fidelity(agent_calls, team_calls, rate.item_id)))
    ranked = sorted((g for g in gaps if g.gap_count), key=lambda g: (-g.gap_count, g.item_id))
    return AgentReport(
        agent_id=agent_id, team=team, calls=mine.calls, mean_score=mine.mean_score,
        pass_rate=None if mine.pass_rate is None else round(mine.pass_rate, 3),
        team_calls=theirs.calls if theirs else 0, team_mean_score=theirs.mean_score if theirs else None,
        team_pass_rate=None if theirs is None or theirs.pass_rate is None else round(theirs.pass_rate, 3),
        items=tuple(gaps), most_missed=tuple(g.item_id for g in ranked), warnings=tuple(warnings),
        overridden=mine.overridden,
    )


def _pct(x: float | None) -> str:
    return "  n/a" if x is None else f"{100 * x:4.0f}%"


def _ts(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    m, s = divmod(float(seconds), 60)
    return f"{int(m):02d}:{s:04.1f}"


def agent_report_text(report: AgentReport) -> str:
    r = report
    lines = [
        f"Agent {r.agent_id}" + (f" (team {r.team})" if r.team else ""),
        f"  calls scored: {r.calls}   mean score: {r.mean_score}   pass rate: {_pct(r.pass_rate).strip()}",
        f"  rest of the team: {r.team_calls} calls, mean score {r.team_mean_score}, "
        f"pass rate {_pct(r.team_pass_rate).strip()}",
    ]
    if r.overridden:
        lines.append(f"  {r.overridden} verdict(s) of these calls were overridden by reviewers; the figures use "
                     "the reviewers' verdicts")
    lines += [f"  WARNING: {w}" for w in r.warnings]
    lines += [
        "",
        "Compliance per item (agent vs rest of team; partial counts half):",
        f"  {'item':<24} {'kind':<12} {'agent':>6} {'team':>6}  met/partial/missed/n.a. (prohibited: not said/violated)",
    ]
    for g in r.items:
        a = g.agent
        counts = (f"{a.met} not said/{a.violated} violated" if g.kind == "prohibited"
                  else f"{a.met}/{a.partial}/{a.missed}/{a.not_applicable}")
        lines.append(f"  {g.item_id:<24} {g.kind:<12} {_pct(a.compliance):>6} "
                     f"{_pct(g.team.compliance if g.team else None):>6}  {counts}")
    verbatim = [g for g in r.items if g.fidelity is not None]
    if verbatim:
        lines += ["", "Verbatim wording (mean word fidelity, agent vs team):"]
        for g in verbatim:
            f = g.fidelity
            line = (f"  {g.item_id:<24} agent {_pct(f.agent_mean).strip()} ({f.agent_calls} calls)   "
                    f"team {_pct(f.team_mean).strip()} ({f.team_calls} calls)")
            changes = [f'drops "{w}" ({n}x)' for w, n in f.often_dropped]
            changes += [f'says "{b}" for "{a}" ({n}x)' for a, b, n in f.often_substituted]
            lines.append(line + (f"   often: {'; '.join(changes)}" if changes else ""))
    lines.append("")
    if not r.most_missed:
        lines.append("No gaps: every applicable item was met and nothing prohibited was said.")
        return "\n".join(lines) + "\n"
    lines.append("Items missed most (with example calls):")
    by_id = {g.item_id: g for g in r.items}
    for item_id in r.most_missed:
        g = by_id[item_id]
        lines.append(f"- {item_id} ({g.kind}): {g.gap_count} of {g.agent.applicable} applicable calls")
        for ex in g.examples:
            quote = f'"{ex.quote}"' if ex.quote else "(nothing close was said)"
            by = "" if ex.overridden_from is None else \
                f" (reviewer's verdict; the machine said {status_label(g.kind, ex.overridden_from)})"
            lines.append(f"    {ex.call_id} at {_ts(ex.start_s)}: {status_label(g.kind, ex.status)}{by}: {quote}")
            if ex.wording:
                lines.append(f"      {wording_summary(ex.wording)}")
        if g.model_answer is not None:
            m = g.model_answer
            lines.append(f"    what good sounds like ({m.call_id} at {_ts(m.start_s)}): \"{m.quote}\"")
    return "\n".join(lines) + "\n"


def agent_report_json(report: AgentReport) -> str:
    return json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n"


def wording_summary(wording: WordingDiff) -> str:
    """One line: fidelity and what was dropped, substituted and added against the approved wording."""
    parts = [f"wording {_pct(wording.fidelity).strip()} of the approved words"]
    if wording.dropped:
        parts.append("dropped " + ", ".join(f'"{w}"' for w in wording.dropped))
    if wording.substituted:
        parts.append("substituted " + ", ".join(f'"{a}" -> "{b}"' for a, b in wording.substituted))
    if wording.added:
        parts.append("added " + ", ".join(f'"{w}"' for w in wording.added))
    if wording.uncertain:
        parts.append("heard poorly, not counted " + ", ".join(f'"{a}" -> "{b}"' for a, b in wording.uncertain))
    if len(parts) == 1:
        parts.append("exact")
    return "; ".join(parts)


# --------------------------------------------------------------------------- a reviewer's view of one call


@dataclass(frozen=True)
class CallReport:
    """One stored call as a reviewer sees it: metadata, score, every verdict (with reviewers'
    overrides), the transcript, earlier scorings."""

    call: StoredCall
    transcript: Transcript | None
    history: tuple[Mapping, ...] = ()  # earlier scorings, newest first (Store.score_history rows)

    def as_dict(self) -> dict:
        segments = [] if self.transcript is None else [
            {"speaker": s.speaker, "channel": s.channel, "start_s": s.start, "end_s": s.end, "text": s.text.strip()}
            for s in sorted(self.transcript.segments, key=lambda s: (s.start, s.end))
        ]
        return {"call": self.call.as_dict(), "transcript": segments, "history": [dict(h) for h in self.history]}


def call_report_text(report: CallReport) -> str:
    c = report.call
    i = c.info
    meta = dict(i.metadata)
    agent = str(i.agent_id) + (f" ({i.agent_name})" if i.agent_name else "")
    verdict = "passed" if c.score.passed else "FAILED"
    if c.score.critical_failures:
        verdict += f" (critical: {', '.join(c.score.critical_failures)})"
    lines = [
        f"Call {c.call_id} ({i.file})",
        f"  agent: {agent}   team: {i.team or '-'}   started: {i.started_at or '-'}",
        f"  duration: {_ts(c.duration_s)}   channels: {i.channels or '-'}"
        + (f"   metadata: {', '.join(f'{k}={v}' for k, v in meta.items())}" if meta else ""),
        f"  script: {c.script_id} v{c.script_version}   matcher: {c.fingerprint or '-'}"
        f"   model: {c.model_id or '-'}   scored: {c.scored_at or '-'}",
        f"  score: {c.score.score} ({_num(c.score.earned)} of {_num(c.score.possible)} points)   {verdict}",
    ]
    if c.overrides:
        lines.append(f"  {len(c.overrides)} verdict(s) overridden by reviewers (marked OVERRIDDEN below)")
    lines += ["", f"Items ({len(c.results)}):"]
    for r in c.results:
        where = "" if r.start_s is None else f"  at {_ts(r.start_s)}-{_ts(r.end_s)}"
        flags = f"  flags: {', '.join(r.flags)}" if r.flags else ""
        kind = r.kind + (", critical" if r.critical else "")
        lines.append(f"  {r.item_id:<22} {kind:<21} {status_label(r.kind, r.status):<14} "
                     f"confidence {float(r.confidence or 0):.2f}{where}{flags}")
        o = c.override_of(r)
        if o is not None:
            lines.append(f"      OVERRIDDEN: {status_label(r.kind, o.automatic)} -> {status_label(r.kind, o.status)}"
                         f" by {o.reviewer} at {o.at}: {o.reason}")
        if r.evidence:
            who = f" ({r.speaker})" if r.speaker else ""
            lines.append(f'      quote{who}: "{r.evidence}"')
        if r.detail:
            lines.append(f"      detail: {r.detail}")
        if r.wording is not None:
            lines.append(f'      approved: "{r.wording.approved}"')
            lines.append(f"      {wording_summary(r.wording)}")
    if report.history:
        current = {r.item_id: r.status for r in c.results}
        lines += ["", f"Earlier verdicts ({len(report.history)}, newest first):"]
        for h in report.history:
            by = f"  overrides {', '.join(f'#{n}' for n in h['overrides'])}" if h.get("overrides") else ""
            lines.append(f"  {h.get('scored_at')}  run {h.get('run_id')}  script {h.get('script_id')} "
                         f"v{h.get('script_version')}  score {h.get('score')}  "
                         f"{'passed' if h.get('passed') else 'FAILED'}{by}")
            changed = [f"{it['item_id']} {status_label(it['kind'], it['status'])}"
                       f" (now {status_label(it['kind'], current[it['item_id']])})"
                       for it in h.get("items", []) if it["item_id"] in current
                       and current[it["item_id"]] != it["status"]]
            if changed:
                lines.append(f"      then: {', '.join(changed)}")
    segments = report.as_dict()["transcript"]
    lines += ["", f"Transcript ({len(segments)} segments):"]
    for seg in segments:
        lines.append(f"  {_ts(seg['start_s'])}-{_ts(seg['end_s'])}  {seg['speaker']:<8}  {seg['text']}")
    if not segments:
        lines.append("  (no speech)")
    return "\n".join(lines) + "\n"


def call_report_json(report: CallReport) -> str:
    return json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{float(x):g}"


# --------------------------------------------------------------------------- agent, team and vendor reports

GROUP_KINDS = ("agent", "team", "vendor")


@dataclass(frozen=True)
class Clip:
    """A coaching clip: a stretch of one call's audio for one of the items missed most, written beside an
    HTML report (clips.py) and played from it."""

    item_id: str
    call_id: str
    kind: str  # "evidence": what was said; "expected": where the item should have been said
    start_s: float
    end_s: float
    href: str  # path relative to the HTML file


@dataclass(frozen=True)
class GroupReport:
    """One agent, team or vendor for trainers and the client: figures with intervals, the groups
    below it (vendor: teams and agents; team: agents) with the minimum-calls guard, weekly trend,
    before/after a date, the items missed most, and (vendors) the contract's service levels."""

    kind: str  # agent | team | vendor
    group: str
    figures: Figures
    min_calls: int
    label: str | None = None  # an agent's name
    parent: str | None = None  # an agent's team, a team's vendor
    teams: tuple[GroupSummary, ...] = ()  # vendor: its teams
    agents: tuple[GroupSummary, ...] = ()  # vendor, team: its agents
    weeks: tuple[WeekPoint, ...] = ()
    missed: tuple[MissedItem, ...] = ()
    before_after: BeforeAfter | None = None
    sla: tuple[SlaResult, ...] = ()
    contract: str | None = None  # the contract's name or file, when SLAs were evaluated
    gaps: AgentReport | None = None  # agent: compared with the rest of the team
    warnings: tuple[str, ...] = ()

    @property
    def breaches(self) -> tuple[SlaResult, ...]:
        return tuple(r for r in self.sla if r.breached)

    def as_dict(self) -> dict:
        return {
            "kind": self.kind, "group": self.group, "label": self.label, "parent": self.parent,
            "min_calls": self.min_calls, "figures": _figures_dict(self.figures),
            "teams": [_summary_dict(g) for g in self.teams], "agents": [_summary_dict(g) for g in self.agents],
            "weeks": [{"week": w.week, **_figures_dict(w.figures, items=False)} for w in self.weeks],
            "most_missed": [_missed_dict(m) for m in self.missed],
            "before_after": None if self.before_after is None else _before_after_dict(self.before_after),
            "contract": self.contract,
            "sla": [{**asdict(r), "breached": r.breached} for r in self.sla],
            "gaps": None if self.gaps is None else self.gaps.as_dict(),
            "warnings": list(self.warnings),
        }


def _interval(x: tuple[float, float] | None) -> list[float] | None:
    return None if x is None else [x[0], x[1]]


def _rate_dict(r: ItemRate) -> dict:
    return {**asdict(r), "compliance": _round(r.compliance), "interval": _interval(r.interval)}


def _figures_dict(f: Figures, *, items: bool = True) -> dict:
    d = {"calls": f.calls, "mean_score": f.mean_score, "pass_rate": f.pass_rate,
         "pass_interval": _interval(f.pass_interval), "compliance": f.compliance,
         "compliance_interval": _interval(f.compliance_interval), "critical_compliance": f.critical_compliance,
         "critical_interval": _interval(f.critical_interval), "overridden": f.overridden}
    if items:
        d["items"] = [_rate_dict(r) for r in f.items]
    return d


def _summary_dict(g: GroupSummary) -> dict:
    return {"group": g.group, "by": g.by, "label": g.label, "parent": g.parent, "ranked": g.ranked, "rank": g.rank,
            **_figures_dict(g.figures, items=False)}


def _missed_dict(m: MissedItem) -> dict:
    return {**asdict(m), "rate": _round(m.rate), "interval": _interval(m.interval)}


def _before_after_dict(ba: BeforeAfter) -> dict:
    return {"date": ba.date, "undated": ba.undated, "before": _figures_dict(ba.before, items=False),
            "after": _figures_dict(ba.after, items=False),
            "items": [{"item_id": c.item_id, "kind": c.kind,
                       "before": None if c.before is None else _round(c.before.compliance),
                       "after": None if c.after is None else _round(c.after.compliance),
                       "change": c.change, "significant": c.significant} for c in ba.items]}


def build_group_report(kind: str, group: str, calls: Sequence[StoredCall], *,
                       peers: Sequence[StoredCall] = (), min_calls: int = 10, examples: int = 3,
                       missed: int = 5, since: str | None = None, contract: Contract | None = None) -> GroupReport:
    """The report of one agent, team or vendor from its stored calls.

    `peers`: for an agent, its team's calls (the gap comparison with the rest of the team); `since`: a
    date (YYYY-MM-DD, e.g. a training session) to compare the calls before and after; `contract`: the
    service levels to judge per week (vendors).
    """
    if kind not in GROUP_KINDS:
        raise ReportError(f"report kind must be one of {', '.join(GROUP_KINDS)}, not {kind!r}")
    if not calls:
        raise ReportError(f"no scored calls for {kind} {group!r} in the database")
    f = figures(calls)
    warnings = []
    if len(calls) < min_calls:
        warnings.append(f"only {len(calls)} scored call(s) (fewer than {min_calls}): the figures can change a lot "
                        "with a few more calls, and this " + kind + " is not ranked")
    undated = sum(c.started_at is None for c in calls)
    if undated:
        warnings.append(f"{undated} call(s) without a start time are left out of the weekly trend")
    teams = tuple(summarise(calls, by="team", min_calls=min_calls)) if kind == "vendor" else ()
    agents = tuple(summarise(calls, by="agent", min_calls=min_calls)) if kind != "agent" else ()
    summary = summarise(calls, by=kind, min_calls=min_calls)[0]
    gaps = None
    if kind == "agent":
        gaps = build_agent_report(group, calls, peers, examples_per_item=examples, min_calls=min_calls)
    sla: tuple[SlaResult, ...] = ()
    if contract is not None:
        sla = tuple(evaluate(calls, contract))
    return GroupReport(
        kind=kind, group=group, figures=f, min_calls=min_calls, label=summary.label, parent=summary.parent,
        teams=teams, agents=agents, weeks=tuple(weekly(calls)),
        missed=tuple(most_missed(calls, limit=missed, examples=examples)),
        before_after=None if since is None else before_after(calls, since),
        sla=sla, contract=None if contract is None else (contract.name or contract.path or "(unnamed)"), gaps=gaps,
        warnings=tuple(warnings),
    )


def _ci(x: tuple[float, float] | None) -> str:
    return "" if x is None else f"[{100 * x[0]:.0f}-{100 * x[1]:.0f}%]"


def _figures_line(f: Figures) -> str:
    return (f"mean score {f.mean_score}   pass rate {_pct(f.pass_rate).strip()} {_ci(f.pass_interval)}   "
            f"compliance {_pct(f.compliance).strip()} {_ci(f.compliance_interval)}   "
            f"critical {_pct(f.critical_compliance).strip()} {_ci(f.critical_interval)}")


def _groups_text(title: str, groups: Sequence[GroupSummary], min_calls: int) -> list[str]:
    lines = ["", f"{title} (ranked by compliance; fewer than {min_calls} calls: shown, not ranked):",
             f"  {'rank':>4}  {'id':<24} {'calls':>5} {'mean':>6} {'pass':>5}  compliance [95% interval]"]
    for g in groups:
        name = g.group + (f" ({g.label})" if g.label else "")
        mean = "-" if g.mean_score is None else f"{g.mean_score:.1f}"
        lines.append(f"  {g.rank if g.ranked else '-':>4}  {name:<24} {g.calls:>5} {mean:>6} "
                     f"{_pct(g.pass_rate):>5}  {_pct(g.compliance).strip()} {_ci(g.compliance_interval)}"
                     + ("" if g.ranked else "  (too few calls to rank)"))
    return lines


def sla_text(rows: Sequence[SlaResult], contract: str | None) -> list[str]:
    breaches = [r for r in rows if r.breached]
    lines = ["", f"Contract {contract}: {len(breaches)} breach(es) in {len({(r.vendor, r.week) for r in rows})} "
                 "vendor-week(s)",
             f"  {'vendor':<16} {'week':<11} {'metric':<20} {'target':>7} {'actual':>7} {'calls':>5}"]
    for r in rows:
        actual = "-" if r.actual is None else _sla_value(r.metric, r.actual)
        state = "BREACH" if r.breached else ("ok" if r.judged else "not judged (too few calls)" if r.actual is not None
                                            else "nothing to measure")
        lines.append(f"  {r.vendor:<16} {r.week:<11} {r.metric:<20} {_sla_value(r.metric, r.target):>7} "
                     f"{actual:>7} {r.calls:>5}  {state}")
    return lines


def _sla_value(metric: str, x: float) -> str:
    return f"{x:.1f}" if metric == "mean_score" else f"{100 * x:.1f}%"


def weeks_text(weeks: Sequence[WeekPoint]) -> list[str]:
    if not weeks:
        return []
    lines = ["", "Weekly trend (ISO weeks, by start date):",
             f"  {'week of':<11} {'calls':>5} {'mean':>6} {'pass':>5}  compliance [95% interval]  critical"]
    for w in weeks:
        f = w.figures
        lines.append(f"  {w.week:<11} {f.calls:>5} {_num(f.mean_score):>6} {_pct(f.pass_rate):>5}  "
                     f"{_pct(f.compliance):>5} {_ci(f.compliance_interval):<14} {_pct(f.critical_compliance)}")
    return lines


def before_after_text(ba: BeforeAfter) -> list[str]:
    lines = ["", f"Before and after {ba.date}:",
             f"  before: {ba.before.calls} call(s)   {_figures_line(ba.before)}",
             f"  after:  {ba.after.calls} call(s)   {_figures_line(ba.after)}"]
    for c in ba.items:
        b = None if c.before is None else c.before.compliance
        a = None if c.after is None else c.after.compliance
        change = "" if c.change is None else f"{100 * c.change:+.0f} points" + (
            " (intervals do not overlap)" if c.significant else "")
        lines.append(f"  {c.item_id:<24} {_pct(b):>5} -> {_pct(a):>5}  {change}")
    return lines


def agent_group_text(report: GroupReport) -> str:
    """`qa report agent` in text: the gap report against the rest of the team, then the weekly trend and
    (with a date) before and after."""
    assert report.gaps is not None
    extra = weeks_text(report.weeks)
    if report.before_after is not None:
        extra += before_after_text(report.before_after)
    return agent_report_text(report.gaps) + ("\n".join(extra) + "\n" if extra else "")


def agent_group_json(report: GroupReport) -> str:
    """`qa report agent` in JSON: the gap report's keys, plus figures with intervals, weeks, before/after."""
    assert report.gaps is not None
    d = report.as_dict()
    out = {**report.gaps.as_dict(), "figures": d["figures"], "weeks": d["weeks"], "before_after": d["before_after"],
           "missed": d["most_missed"]}
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


def group_report_text(report: GroupReport) -> str:
    r = report
    name = f"{r.kind.capitalize()} {r.group}" + (f" ({r.label})" if r.label else "")
    name += f", {'team' if r.kind == 'agent' else 'vendor'} {r.parent}" if r.parent else ""
    lines = [f"{name}: {r.figures.calls} scored call(s)"
             + (f", {len(r.teams)} team(s)" if r.teams else "") + (f", {len(r.agents)} agent(s)" if r.agents else ""),
             f"  {_figures_line(r.figures)}"]
    if r.figures.overridden:
        lines.append(f"  {r.figures.overridden} verdict(s) overridden by reviewers; the figures use the reviewers' "
                     "verdicts")
    lines += [f"  WARNING: {w}" for w in r.warnings]
    if r.teams:
        lines += _groups_text("Teams", r.teams, r.min_calls)
    if r.agents:
        lines += _groups_text("Agents", r.agents, r.min_calls)
    lines += ["", "Compliance per item (partial counts half; prohibited: not said):",
              f"  {'item':<24} {'kind':<12} {'calls':>5}  compliance [95% interval]  met/partial/missed/n.a."]
    for it in r.figures.items:
        counts = (f"{it.met} not said/{it.violated} violated" if it.kind == "prohibited"
                  else f"{it.met}/{it.partial}/{it.missed}/{it.not_applicable}")
        lines.append(f"  {it.item_id:<24} {it.kind:<12} {it.applicable:>5}  {_pct(it.compliance):>5} "
                     f"{_ci(it.interval):<14} {counts}")
    lines += weeks_text(r.weeks)
    if r.before_after is not None:
        lines += before_after_text(r.before_after)
    if r.missed:
        lines += ["", "Items missed most (missed, partial or violated; latest examples):"]
        for m in r.missed:
            lines.append(f"- {m.item_id} ({m.kind}{', critical' if m.critical else ''}): {m.misses} of "
                         f"{m.applicable} calls {_ci(m.interval)}")
            for ex in m.examples:
                quote = f'"{ex.quote}"' if ex.quote else "(nothing close was said)"
                by = " (reviewer's verdict)" if ex.overridden else ""
                lines.append(f"    {ex.call_id} ({ex.agent_id}, {ex.started_at or 'no date'}) at {_ts(ex.start_s)}: "
                             f"{status_label(m.kind, ex.status)}{by}: {quote}")
    if r.contract is not None:
        lines += sla_text(r.sla, r.contract)
    return "\n".join(lines) + "\n"


def group_report_json(report: GroupReport) -> str:
    return json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- calibration


def _acc(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _kappa(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _cut(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".") if x not in (0.0, 1.0) else f"{x:.1f}"


def calibration_text(cal: Calibration) -> str:
    lines = [f"Calibration against {cal.source}: {cal.labels} human rows, {cal.matched} matched a stored verdict"
             + (f", {len(cal.unmatched)} did not" if cal.unmatched else "")
             + (f", {len(cal.problems)} malformed" if cal.problems else "")]
    lines += [
        f"  exact status:  agreement {_acc(cal.exact.accuracy)} ({cal.exact.agreed}/{cal.exact.n})"
        f"   Cohen's kappa {_kappa(cal.exact.kappa)}",
        f"  said/not said: agreement {_acc(cal.said.accuracy)} ({cal.said.agreed}/{cal.said.n})"
        f"   Cohen's kappa {_kappa(cal.said.kappa)}",
        "",
    ]
    if cal.per_item:
        lines.append(f"  {'item':<24} {'kind':<12} {'rows':>5} {'exact':>7} {'said':>7}")
        for it in cal.per_item:
            lines.append(f"  {it.item_id:<24} {it.kind:<12} {it.exact.n:>5} {_acc(it.exact.accuracy):>7} "
                         f"{_acc(it.said.accuracy):>7}")
        lines.append("")
    for m in cal.confusion:
        lines.append(f"Confusion, {m.group} (rows: human, columns: automatic):")
        width = max(len(x) for x in m.labels) + 2
        lines.append(" " * (width + 2) + "".join(f"{x:>{width}}" for x in m.labels))
        for label, row in zip(m.labels, m.counts):
            lines.append(f"  {label:<{width}}" + "".join(f"{n:>{width}}" for n in row))
        lines.append("")
    t = cal.thresholds
    if t is None:
        lines.append("Thresholds: no rows to sweep (needs required/conditional items that both the human and the "
                     "matcher call met, partial or missed).")
    else:
        per_class = ", ".join(f"{n} {s}" for s, n in t.per_class)
        lines += [
            f"Thresholds (a suggestion; swept over the stored confidences of {t.rows} required/conditional "
            f"rows: {per_class}):",
            f"  {'':<10} {'met':>7} {'partial':>8} {'exact':>8} {'said':>8}",
        ]
        for name, p in (("current", t.current), ("suggested", t.suggested)):
            lines.append(f"  {name:<10} {_cut(p.met_threshold):>7} {_cut(p.partial_threshold):>8} "
                         f"{_acc(p.exact_accuracy):>8} {_acc(p.said_accuracy):>8}")
        if t.changes:
            lines.append(f"  to try it: qa rescore --db DB --scripts DIR --met-threshold "
                         f"{_cut(t.suggested.met_threshold)} --partial-threshold {_cut(t.suggested.partial_threshold)}")
        else:
            lines.append("  the current thresholds already agree best with these reviewers")
        lines.append("  (agreement at the suggestion is measured on the rows it was chosen from, so it is optimistic;"
                     " check it on other calls)")
        if not t.reliable:
            lines.append("  NOT RELIABLE: " + t.notes[0])
        lines += [f"  note: {n}" for n in t.notes[(0 if t.reliable else 1):]]
    if cal.unmatched:
        lines += ["", f"Rows without a stored verdict ({len(cal.unmatched)}):"]
        for u in cal.unmatched[:50]:
            lines.append(f"  line {u.line}: {u.call_id} {u.item_id} ({u.status}): {u.reason}")
        if len(cal.unmatched) > 50:
            lines.append(f"  ... and {len(cal.unmatched) - 50} more (see --format json)")
    return "\n".join(lines) + "\n"


def calibration_dict(cal: Calibration) -> dict:
    def agreement(a) -> dict:
        return {"n": a.n, "agreed": a.agreed, "accuracy": _round(a.accuracy), "kappa": a.kappa}

    def point(p) -> dict:
        return {"met_threshold": p.met_threshold, "partial_threshold": p.partial_threshold, "rows": p.rows,
                "exact_agreed": p.exact, "exact_accuracy": _round(p.exact_accuracy),
                "said_agreed": p.said, "said_accuracy": _round(p.said_accuracy)}

    t = cal.thresholds
    return {
        "source": cal.source,
        "human_rows": cal.labels,
        "matched": cal.matched,
        "exact": agreement(cal.exact),
        "said": agreement(cal.said),
        "per_item": [{"item_id": i.item_id, "kind": i.kind, "exact": agreement(i.exact), "said": agreement(i.said)}
                     for i in cal.per_item],
        "confusion": {m.group: {"labels": list(m.labels), "rows": "human", "columns": "automatic",
                                "counts": [list(r) for r in m.counts]} for m in cal.confusion},
        "thresholds": None if t is None else {
            "suggestion": True, "rows": t.rows, "per_class": dict(t.per_class), "held": t.held,
            "current": point(t.current), "suggested": point(t.suggested), "reliable": t.reliable,
            "min_per_class": cal.min_per_class, "notes": list(t.notes),
            "apply_with": None if not t.changes else
            f"qa rescore --db DB --scripts DIR --met-threshold {_cut(t.suggested.met_threshold)} "
            f"--partial-threshold {_cut(t.suggested.partial_threshold)}",
        },
        "unmatched": [asdict(u) for u in cal.unmatched],
        "problems": [str(p) for p in cal.problems],
    }


def calibration_json(cal: Calibration) -> str:
    return json.dumps(calibration_dict(cal), indent=2, ensure_ascii=False) + "\n"
