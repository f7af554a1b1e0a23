"""The agent, team and vendor report as one self-contained HTML file: inline CSS, inline SVG charts (weekly
trend, per-item compliance with interval bars), no script and nothing fetched at view time (a
Content-Security-Policy says so), coaching clips referenced by relative path with <audio> elements.

Pure: a `GroupReport` (report.py) and `Clip`s in, text out. Every text that comes from a recording, a
script, a manifest or a file name goes through `esc` (a caller can say anything; a file name can hold
markup).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from .report import Clip, GroupReport, status_label
from .rollup import Figures, GroupSummary, ItemRate, WeekPoint

__all__ = ["group_report_html"]

CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; media-src 'self' file: data: blob:; "
       "base-uri 'none'; form-action 'none'")

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2433;margin:0;background:#f6f7f9}
main{max-width:1040px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d8dce3;padding-bottom:4px}
.sub{color:#5b6475;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border:1px solid #d8dce3;border-radius:6px;padding:10px 14px;min-width:150px}
.card b{display:block;font-size:20px}.card span{color:#5b6475;font-size:12px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d8dce3}
th,td{padding:5px 8px;border-bottom:1px solid #eceef2;text-align:left;vertical-align:top}
th{background:#eef0f4;font-weight:600;font-size:12px}
td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.unranked td{color:#7a8293}
.warn{background:#fff4d6;border:1px solid #e9c46a;border-radius:6px;padding:8px 12px;margin:8px 0}
.breach{color:#b42318;font-weight:600}.ok{color:#18794e}
.quote{font-style:italic}
.tag{display:inline-block;font-size:11px;padding:0 6px;border-radius:8px;background:#eef0f4;margin-left:4px}
.tag.crit{background:#fde2e1;color:#b42318}
svg text{font:11px system-ui,sans-serif;fill:#3b4252}
audio{height:28px;vertical-align:middle}
footer{color:#7a8293;font-size:12px;margin-top:32px}
"""

BLUE, RED, GREY = "#2563eb", "#dc2626", "#9aa3b2"


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _pct(x: float | None, digits: int = 0) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def _ci(x: tuple[float, float] | None) -> str:
    return "" if x is None else f"{100 * x[0]:.0f}–{100 * x[1]:.0f}%"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:g}"


def _ts(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    m, s = divmod(float(seconds), 60)
    return f"{int(m):02d}:{s:04.1f}"


# --------------------------------------------------------------------------- charts (inline SVG)


def trend_svg(weeks: Sequence[WeekPoint], *, marker: str | None = None, width: int = 960, height: int = 240) -> str:
    """Compliance per week with its Wilson interval (whiskers), and critical-item compliance (dashed)."""
    if not weeks:
        return "<p>No dated calls.</p>"
    left, right, top, bottom = 44, 12, 12, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(weeks)

    def x(i: int) -> float:
        return left + (plot_w * (i + 0.5) / n)

    def y(v: float) -> float:
        return top + plot_h * (1 - v)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-labelledby="trend-title"><title id="trend-title">Weekly compliance with 95% intervals</title>']
    for v in (0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e5e7eb"/>'
                     f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{int(v * 100)}%</text>')
    step = max(1, n // 8)
    for i, w in enumerate(weeks):
        if i % step == 0:
            parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle">{esc(w.week[5:])}</text>')
    if marker is not None:
        at = [i for i, w in enumerate(weeks) if w.week <= marker]
        mx = x(at[-1]) + plot_w / n / 2 if at else left
        parts.append(f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{top}" y2="{top + plot_h}" stroke="#6b7280" '
                     f'stroke-dasharray="4 3"/><text x="{mx + 4:.1f}" y="{top + 10}">{esc(marker)}</text>')
    points, critical = [], []
    for i, w in enumerate(weeks):
        f = w.figures
        if f.compliance is not None:
            lo, hi = f.compliance_interval
            parts.append(f'<line x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{y(lo):.1f}" y2="{y(hi):.1f}" stroke="{BLUE}" '
                         f'stroke-opacity="0.45" stroke-width="3"/>')
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(f.compliance):.1f}" r="3" fill="{BLUE}"><title>'
                         f'{esc(w.week)}: {f.calls} calls, compliance {_pct(f.compliance, 1)} ({_ci(f.compliance_interval)}),'
                         f' mean score {_num(f.mean_score)}</title></circle>')
            points.append(f"{x(i):.1f},{y(f.compliance):.1f}")
        if f.critical_compliance is not None:
            critical.append(f"{x(i):.1f},{y(f.critical_compliance):.1f}")
    if len(points) > 1:
        parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{BLUE}" stroke-width="1.5"/>')
    if len(critical) > 1:
        parts.append(f'<polyline points="{" ".join(critical)}" fill="none" stroke="{RED}" stroke-width="1.5" '
                     f'stroke-dasharray="5 3"/>')
    legend_y = height - 8
    parts.append(f'<circle cx="{left + 6}" cy="{legend_y - 4}" r="3" fill="{BLUE}"/>'
                 f'<text x="{left + 14}" y="{legend_y}">compliance (bar: 95% interval)</text>'
                 f'<line x1="{left + 230}" x2="{left + 250}" y1="{legend_y - 4}" y2="{legend_y - 4}" stroke="{RED}" '
                 f'stroke-dasharray="5 3"/><text x="{left + 256}" y="{legend_y}">critical items</text></svg>')
    return "".join(parts)


def items_svg(items: Sequence[ItemRate], *, width: int = 960) -> str:
    """One bar per item: compliance, with its Wilson interval as a whisker."""
    rows = [r for r in items if r.applicable]
    if not rows:
        return "<p>No applicable items.</p>"
    label_w, right, row_h, top = 220, 60, 22, 8
    plot_w = width - label_w - right
    height = top + row_h * len(rows) + 24
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-labelledby="items-title"><title id="items-title">Compliance per item with 95% intervals</title>']
    for v in (0, 0.5, 1.0):
        gx = label_w + plot_w * v
        parts.append(f'<line x1="{gx:.1f}" x2="{gx:.1f}" y1="{top}" y2="{height - 20}" stroke="#e5e7eb"/>'
                     f'<text x="{gx:.1f}" y="{height - 6}" text-anchor="middle">{int(v * 100)}%</text>')
    for i, r in enumerate(rows):
        cy = top + row_h * i + row_h / 2
        c = r.compliance or 0.0
        lo, hi = r.interval
        colour = RED if r.critical else BLUE
        parts.append(f'<text x="{label_w - 8}" y="{cy + 4:.1f}" text-anchor="end">{esc(r.item_id)}</text>'
                     f'<rect x="{label_w}" y="{cy - 7:.1f}" width="{plot_w * c:.1f}" height="14" fill="{colour}" '
                     f'fill-opacity="0.75"><title>{esc(r.item_id)}: {_pct(r.compliance, 1)} of {r.applicable} calls '
                     f'({_ci(r.interval)})</title></rect>'
                     f'<line x1="{label_w + plot_w * lo:.1f}" x2="{label_w + plot_w * hi:.1f}" y1="{cy:.1f}" '
                     f'y2="{cy:.1f}" stroke="#111827" stroke-width="1.5"/>'
                     f'<text x="{label_w + plot_w + 6}" y="{cy + 4:.1f}">{_pct(r.compliance)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def interval_bar(value: float | None, interval: tuple[float, float] | None, *, muted: bool = False) -> str:
    """A 120-pixel bar with its interval, for table rows."""
    if value is None or interval is None:
        return ""
    colour = GREY if muted else BLUE
    lo, hi = interval
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="12" viewBox="0 0 120 12" aria-hidden="true">'
            f'<rect x="0" y="3" width="{120 * value:.1f}" height="6" fill="{colour}" fill-opacity="0.6"/>'
            f'<line x1="{120 * lo:.1f}" x2="{120 * hi:.1f}" y1="6" y2="6" stroke="#111827"/></svg>')


# --------------------------------------------------------------------------- sections


def _cards(f: Figures) -> str:
    def card(value: str, label: str) -> str:
        return f'<div class="card"><b>{value}</b><span>{label}</span></div>'

    return ('<div class="cards">' + card(str(f.calls), "scored calls") + card(_num(f.mean_score), "mean score")
            + card(_pct(f.pass_rate), f"passed ({_ci(f.pass_interval)})")
            + card(_pct(f.compliance, 1), f"compliance ({_ci(f.compliance_interval)})")
            + card(_pct(f.critical_compliance, 1), f"critical items ({_ci(f.critical_interval)})")
            + (card(str(f.overridden), "verdicts overridden by reviewers") if f.overridden else "") + "</div>")


def _groups_table(title: str, groups: Sequence[GroupSummary], min_calls: int) -> str:
    rows = []
    for g in groups:
        name = esc(g.group) + (f" <small>({esc(g.label)})</small>" if g.label else "")
        rank = str(g.rank) if g.ranked else "–"
        note = "" if g.ranked else f'<span class="tag">fewer than {min_calls} calls: not ranked</span>'
        rows.append(f'<tr class="{"ranked" if g.ranked else "unranked"}"><td class="n">{rank}</td><td>{name}{note}</td>'
                    f'<td class="n">{g.calls}</td><td class="n">{_num(g.mean_score)}</td>'
                    f'<td class="n">{_pct(g.pass_rate)}</td><td class="n">{_pct(g.compliance, 1)}</td>'
                    f'<td>{interval_bar(g.compliance, g.compliance_interval, muted=not g.ranked)} '
                    f'{_ci(g.compliance_interval)}</td></tr>')
    return (f"<h2>{esc(title)}</h2><p class=\"sub\">Ranked by compliance; a {esc(title[:-1].lower())} with fewer than "
            f"{min_calls} scored calls is shown but not ranked.</p><table><thead><tr><th>rank</th><th>id</th>"
            "<th>calls</th><th>mean score</th><th>passed</th><th>compliance</th><th>95% interval</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _items_table(items: Sequence[ItemRate]) -> str:
    rows = []
    for r in items:
        counts = (f"{r.met} not said / {r.violated} violated" if r.kind == "prohibited"
                  else f"{r.met} / {r.partial} / {r.missed} / {r.not_applicable}")
        crit = '<span class="tag crit">critical</span>' if r.critical else ""
        rows.append(f"<tr><td>{esc(r.item_id)}{crit}</td><td>{esc(r.kind)}</td><td class=\"n\">{r.applicable}</td>"
                    f"<td class=\"n\">{_pct(r.compliance, 1)}</td><td>{_ci(r.interval)}</td><td>{counts}</td>"
                    f"<td class=\"n\">{r.overridden or ''}</td></tr>")
    return ("<table><thead><tr><th>item</th><th>kind</th><th>calls</th><th>compliance</th><th>95% interval</th>"
            "<th>met / partial / missed / n.a.</th><th>overridden</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _missed_section(report: GroupReport, clips: Sequence[Clip]) -> str:
    if not report.missed:
        return "<h2>Items missed most</h2><p>No gaps: every applicable item was met and nothing prohibited was said.</p>"
    by_example = {(c.item_id, c.call_id): c for c in clips}
    out = ["<h2>Items missed most</h2>"]
    for m in report.missed:
        crit = '<span class="tag crit">critical</span>' if m.critical else ""
        out.append(f"<h3>{esc(m.item_id)} <small>({esc(m.kind)})</small>{crit}</h3><p>{m.misses} of {m.applicable} "
                   f"calls ({_pct(m.rate)}, 95% interval {_ci(m.interval)}). Latest examples:</p><ul>")
        for ex in m.examples:
            quote = f'<span class="quote">“{esc(ex.quote)}”</span>' if ex.quote else "nothing close was said"
            by = ' <span class="tag">reviewer\'s verdict</span>' if ex.overridden else ""
            clip = by_example.get((m.item_id, ex.call_id))
            audio = ""
            if clip is not None:
                what = "the evidence" if clip.kind == "evidence" else "where it was expected"
                audio = (f'<br><audio controls preload="none" src="{esc(clip.href)}"></audio> '
                         f'<small>{what}, {_ts(clip.start_s)}–{_ts(clip.end_s)}</small>')
            out.append(f"<li><b>{esc(ex.call_id)}</b> ({esc(ex.agent_id)}, {esc(ex.started_at or 'no date')}) at "
                       f"{_ts(ex.start_s)}: {esc(status_label(m.kind, ex.status))}{by}: {quote}{audio}</li>")
        out.append("</ul>")
    return "".join(out)


def _before_after_section(report: GroupReport) -> str:
    ba = report.before_after
    if ba is None:
        return ""
    rows = [f"<tr><td>{label}</td><td class=\"n\">{f.calls}</td><td class=\"n\">{_num(f.mean_score)}</td>"
            f"<td class=\"n\">{_pct(f.pass_rate)}</td><td class=\"n\">{_pct(f.compliance, 1)}</td>"
            f"<td>{_ci(f.compliance_interval)}</td></tr>"
            for label, f in ((f"before {esc(ba.date)}", ba.before), (f"on or after {esc(ba.date)}", ba.after))]
    items = []
    for c in ba.items:
        b = None if c.before is None else c.before.compliance
        a = None if c.after is None else c.after.compliance
        change = "" if c.change is None else f"{100 * c.change:+.0f} points"
        sig = '<span class="tag">intervals do not overlap</span>' if c.significant else ""
        items.append(f"<tr><td>{esc(c.item_id)}</td><td class=\"n\">{_pct(b)}</td><td class=\"n\">{_pct(a)}</td>"
                     f"<td class=\"n\">{change}</td><td>{sig}</td></tr>")
    return (f"<h2>Before and after {esc(ba.date)}</h2><table><thead><tr><th></th><th>calls</th><th>mean score</th>"
            f"<th>passed</th><th>compliance</th><th>95% interval</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
            "<p></p><table><thead><tr><th>item</th><th>before</th><th>after</th><th>change</th><th></th></tr></thead>"
            f"<tbody>{''.join(items)}</tbody></table>")


def _sla_section(report: GroupReport) -> str:
    if report.contract is None:
        return ""
    breaches = report.breaches
    rows = []
    for r in report.sla:
        fmt = (lambda x: f"{x:.1f}") if r.metric == "mean_score" else (lambda x: f"{100 * x:.1f}%")
        if r.breached:
            state = '<span class="breach">breach</span>'
        elif not r.judged:
            state = "not judged (too few calls)" if r.actual is not None else "nothing to measure"
        else:
            state = '<span class="ok">met</span>'
        rows.append(f"<tr><td>{esc(r.vendor)}</td><td>{esc(r.week)}</td><td>{esc(r.metric)}</td>"
                    f"<td class=\"n\">≥ {fmt(r.target)}</td><td class=\"n\">{'–' if r.actual is None else fmt(r.actual)}"
                    f"</td><td class=\"n\">{r.calls}</td><td>{state}</td></tr>")
    return (f"<h2>Contract: {esc(report.contract)}</h2><p>{len(breaches)} breach(es) of the service levels, week by "
            "week.</p><table><thead><tr><th>vendor</th><th>week of</th><th>metric</th><th>target</th><th>actual</th>"
            f"<th>calls</th><th></th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def group_report_html(report: GroupReport, *, clips: Sequence[Clip] = (), generated: str = "",
                      notes: Sequence[str] = ()) -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    r = report
    title = f"{r.kind.capitalize()} {r.group}" + (f" ({r.label})" if r.label else "")
    parent = f"{'team' if r.kind == 'agent' else 'vendor'} {r.parent}" if r.parent else ""
    body = [f"<h1>{esc(title)}</h1>",
            f'<p class="sub">{esc(parent)}{" · " if parent else ""}{r.figures.calls} scored call(s)'
            + (f" · {len(r.teams)} team(s)" if r.teams else "") + (f" · {len(r.agents)} agent(s)" if r.agents else "")
            + "</p>", _cards(r.figures)]
    body += [f'<div class="warn">{esc(w)}</div>' for w in (*r.warnings, *notes)]
    if r.figures.overridden:
        body.append(f"<p>{r.figures.overridden} verdict(s) were overridden by reviewers; every figure uses the "
                    "reviewers' verdicts.</p>")
    body += ["<h2>Weekly trend</h2>", trend_svg(r.weeks, marker=None if r.before_after is None else r.before_after.date)]
    body += ["<h2>Compliance per item</h2>", items_svg(r.figures.items), _items_table(r.figures.items)]
    if r.teams:
        body.append(_groups_table("Teams", r.teams, r.min_calls))
    if r.agents:
        body.append(_groups_table("Agents", r.agents, r.min_calls))
    if r.gaps is not None and r.gaps.team_calls:
        g = r.gaps
        body.append(f"<h2>Against the rest of the team</h2><p>The rest of team {esc(g.team)}: {g.team_calls} calls, "
                    f"mean score {_num(g.team_mean_score)}, passed {_pct(g.team_pass_rate)}.</p>")
        body.append("<table><thead><tr><th>item</th><th>agent</th><th>rest of team</th></tr></thead><tbody>"
                    + "".join(f"<tr><td>{esc(i.item_id)}</td><td class=\"n\">{_pct(i.agent.compliance)}</td>"
                              f"<td class=\"n\">{_pct(i.team.compliance if i.team else None)}</td></tr>"
                              for i in g.items) + "</tbody></table>")
    body.append(_missed_section(r, clips))
    body.append(_before_after_section(r))
    body.append(_sla_section(r))
    body.append(f"<footer>qa-analyser report{(' · generated ' + esc(generated)) if generated else ''}. "
                "Intervals are Wilson 95% score intervals; partial counts half.</footer>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)} – qa-analyser</title><style>{CSS}</style></head><body><main>"
            + "".join(body) + "</main></body></html>\n")
