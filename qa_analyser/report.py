"""Pure renderers: exports (JSON, CSV), the trainer's per-agent gap report, run summaries.

Inputs are exported calls (contract §4 dicts, as ``Store.export_calls`` returns them) and
dataclasses; outputs are text. Nothing here touches the database or prints.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

from .errors import ReportError
from .score import ItemRate, item_rates, roll_up

GAP_STATUSES = ("missed", "partial", "violated")
CSV_CALL_COLUMNS = ("call_id", "file", "agent_id", "team", "script_id", "script_version", "duration_s", "score", "passed")
CSV_ITEM_COLUMNS = ("item_id", "section", "kind", "status", "flags", "confidence", "start_s", "end_s", "evidence")


# --------------------------------------------------------------------------- exports


def export_json(calls: Sequence[Mapping]) -> str:
    return json.dumps(list(calls), indent=2, ensure_ascii=False) + "\n"


def export_csv(calls: Sequence[Mapping]) -> str:
    """One row per call and item (the call's columns repeated), flags joined with ';'."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_CALL_COLUMNS + CSV_ITEM_COLUMNS)
    for call in calls:
        head = [call.get(c) for c in CSV_CALL_COLUMNS]
        for it in call.get("items", []):
            row = [it.get(c) for c in CSV_ITEM_COLUMNS]
            row[CSV_ITEM_COLUMNS.index("flags")] = ";".join(it.get("flags") or [])
            w.writerow(_csv_cells(head + row))
    return buf.getvalue()


def _csv_cells(values: list) -> list:
    return ["" if v is None else ("true" if v is True else "false" if v is False else v) for v in values]


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


@dataclass(frozen=True)
class ItemGap:
    """One script item: the agent's compliance against the team's, with examples."""

    item_id: str
    kind: str
    agent: ItemRate
    team: ItemRate | None
    examples: tuple[Example, ...] = ()  # the agent's calls where it went wrong
    model_answer: Example | None = None  # a call of the team where it was met: what good sounds like

    @property
    def gap_count(self) -> int:
        a = self.agent
        return a.missed + a.violated + a.partial


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

    def as_dict(self) -> dict:
        d = asdict(self)
        for gap, item in zip(d["items"], self.items):
            gap["agent"]["compliance"] = _round(item.agent.compliance)
            if item.team is not None:
                gap["team"]["compliance"] = _round(item.team.compliance)
        return d


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def _example(call: Mapping, item: Mapping) -> Example:
    return Example(call_id=str(call["call_id"]), file=call.get("file"), started_at=call.get("started_at"),
                   status=item["status"], start_s=item.get("start_s"), end_s=item.get("end_s"),
                   quote=item.get("evidence") or "", detail=item.get("detail") or "")


def build_agent_report(agent_id: str, agent_calls: Sequence[Mapping], team_calls: Sequence[Mapping],
                       *, examples_per_item: int = 3) -> AgentReport:
    """A trainer's gap report from the agent's exported calls and their team's (which include the agent's)."""
    if not agent_calls:
        raise ReportError(f"no scored calls for agent {agent_id!r} in the database")
    teams = sorted({str(c.get("team")) for c in agent_calls if c.get("team")})
    team = teams[0] if len(teams) == 1 else (", ".join(teams) if teams else None)
    mine = roll_up(agent_calls, by="agent_id")[0]
    theirs = roll_up(team_calls, by="team")[0] if team_calls else None
    team_rates = {(r.item_id, r.kind): r for r in item_rates(team_calls)}

    gaps = []
    for rate in item_rates(agent_calls):
        bad, good = [], None
        for call in sorted(agent_calls, key=lambda c: str(c.get("started_at") or c["call_id"])):
            for it in call.get("items", []):
                if it["item_id"] == rate.item_id and it["kind"] == rate.kind and it["status"] in GAP_STATUSES:
                    bad.append(_example(call, it))
        if rate.kind != "prohibited":
            for call in team_calls:
                hit = next((it for it in call.get("items", []) if it["item_id"] == rate.item_id
                            and it["status"] == "met" and it.get("evidence")), None)
                if hit is not None:
                    good = _example(call, hit)
                    break
        gaps.append(ItemGap(item_id=rate.item_id, kind=rate.kind, agent=rate,
                            team=team_rates.get((rate.item_id, rate.kind)),
                            examples=tuple(bad[:examples_per_item]), model_answer=good))
    ranked = sorted((g for g in gaps if g.gap_count), key=lambda g: (-g.gap_count, g.item_id))
    return AgentReport(
        agent_id=agent_id, team=team, calls=mine.calls, mean_score=mine.mean_score, pass_rate=mine.pass_rate,
        team_calls=theirs.calls if theirs else 0, team_mean_score=theirs.mean_score if theirs else None,
        team_pass_rate=theirs.pass_rate if theirs else None, items=tuple(gaps),
        most_missed=tuple(g.item_id for g in ranked),
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
        f"  team: {r.team_calls} calls, mean score {r.team_mean_score}, pass rate {_pct(r.team_pass_rate).strip()}",
        "",
        "Compliance per item (agent vs team; partial counts half):",
        f"  {'item':<24} {'kind':<12} {'agent':>6} {'team':>6}  met/partial/missed/violated/n.a.",
    ]
    for g in r.items:
        a = g.agent
        lines.append(f"  {g.item_id:<24} {g.kind:<12} {_pct(a.compliance):>6} "
                     f"{_pct(g.team.compliance if g.team else None):>6}  "
                     f"{a.met}/{a.partial}/{a.missed}/{a.violated}/{a.not_applicable}")
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
            lines.append(f"    {ex.call_id} at {_ts(ex.start_s)}: {ex.status}: {quote}")
        if g.model_answer is not None:
            m = g.model_answer
            lines.append(f"    what good sounds like ({m.call_id} at {_ts(m.start_s)}): \"{m.quote}\"")
    return "\n".join(lines) + "\n"


def agent_report_json(report: AgentReport) -> str:
    return json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n"
