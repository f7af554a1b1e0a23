"""Reads for the web app (`qa serve`): the paged, filtered, sorted calls list, done in SQL.

Every filter is a bound parameter and every sort column comes from a fixed table, so nothing a
user types is put into the SQL text. Vendor is the manifest's `vendor` column (kept in
`calls.metadata`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..errors import ReportError

__all__ = ["CallFilter", "CallListPage", "CallRow", "FilterChoices", "SORT_COLUMNS", "WebReadsMixin"]

VENDOR_SQL = "json_extract(c.metadata, '$.vendor')"

# sort key -> SQL expression (fixed: the user chooses a key, never SQL)
SORT_COLUMNS: dict[str, str] = {
    "started_at": "c.started_at",
    "call_id": "c.call_id",
    "agent": "c.agent_id",
    "team": "c.team",
    "vendor": VENDOR_SQL,
    "script": "s.script_id",
    "score": "s.score",
    "passed": "s.passed",
    "duration": "c.duration_s",
}


@dataclass(frozen=True)
class CallFilter:
    """What the calls list shows: every field None/empty means "any"."""

    agent: str | None = None
    team: str | None = None
    vendor: str | None = None
    script: str | None = None
    since: str | None = None  # ISO date (inclusive), compared with started_at
    until: str | None = None  # ISO date (inclusive: the whole day)
    passed: bool | None = None
    item: str | None = None  # with item_status: calls whose verdict on this item has that status
    item_status: str | None = None
    flag: str | None = None  # calls with at least one verdict carrying this flag


@dataclass(frozen=True)
class CallRow:
    call_id: str
    file: str
    agent_id: str
    agent_name: str | None
    team: str | None
    vendor: str | None
    script_id: str
    started_at: str | None
    duration_s: float | None
    score: float
    passed: bool


@dataclass(frozen=True)
class CallListPage:
    rows: tuple[CallRow, ...]
    total: int  # calls matching the filter, all pages
    page: int  # 1-based
    per_page: int
    sort: str
    descending: bool

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class FilterChoices:
    """The values the list's filter menus offer."""

    agents: tuple[tuple[str, str | None], ...] = ()  # (agent_id, agent_name)
    teams: tuple[str, ...] = ()
    vendors: tuple[str, ...] = ()
    scripts: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    statuses: tuple[str, ...] = field(default=("met", "partial", "missed", "not_applicable", "violated"))


def _where(f: CallFilter) -> tuple[str, list]:
    clauses, params = ["1"], []
    for value, sql in ((f.agent, "c.agent_id = ?"), (f.team, "c.team = ?"), (f.vendor, f"{VENDOR_SQL} = ?"),
                       (f.script, "s.script_id = ?"), (f.since, "c.started_at >= ?"),
                       (f.until, "c.started_at < date(?, '+1 day')")):
        if value:
            clauses.append(sql)
            params.append(value)
    if f.passed is not None:
        clauses.append("s.passed = ?")
        params.append(1 if f.passed else 0)
    if f.item or f.item_status:
        sub, sub_params = [], []
        if f.item:
            sub.append("r.item_id = ?")
            sub_params.append(f.item)
        if f.item_status:
            sub.append("r.status = ?")
            sub_params.append(f.item_status)
        clauses.append(f"EXISTS (SELECT 1 FROM item_results r WHERE r.score_id = s.id AND {' AND '.join(sub)})")
        params.extend(sub_params)
    if f.flag:
        # instr() on the JSON text first (cheap), then the exact element
        clauses.append("EXISTS (SELECT 1 FROM item_results r WHERE r.score_id = s.id AND instr(r.flags, ?) > 0"
                       " AND EXISTS (SELECT 1 FROM json_each(r.flags) j WHERE j.value = ?))")
        params.extend([json.dumps(f.flag), f.flag])
    return " AND ".join(clauses), params


class WebReadsMixin:
    """Reads for the web app (part of `Store`)."""

    def call_list(self, flt: CallFilter = CallFilter(), *, sort: str = "started_at", descending: bool = True,
                  page: int = 1, per_page: int = 50) -> CallListPage:
        """One page of scored calls (current scores) matching `flt`, sorted by `sort` (a `SORT_COLUMNS`
        key), ties broken by call_id. An unknown sort key is a `ReportError`."""
        if sort not in SORT_COLUMNS:
            raise ReportError(f"cannot sort calls by {sort!r} (one of: {', '.join(SORT_COLUMNS)})")
        page, per_page = max(1, page), max(1, min(per_page, 500))
        where, params = _where(flt)
        base = "FROM calls c JOIN scores s ON s.call_id = c.call_id AND s.current = 1 WHERE " + where
        total = int(self.db.execute(f"SELECT COUNT(*) {base}", params).fetchone()[0])
        direction = "DESC" if descending else "ASC"
        expr = SORT_COLUMNS[sort]
        rows = self.db.execute(
            "SELECT c.call_id, c.file, c.agent_id, c.agent_name, c.team, "
            f"{VENDOR_SQL}, s.script_id, c.started_at, c.duration_s, s.score, s.passed {base}"
            f" ORDER BY {expr} IS NULL, {expr} {direction}, c.call_id {direction} LIMIT ? OFFSET ?",
            [*params, per_page, (page - 1) * per_page],
        ).fetchall()
        return CallListPage(
            rows=tuple(CallRow(call_id=r[0], file=r[1], agent_id=r[2], agent_name=r[3], team=r[4], vendor=r[5],
                               script_id=r[6], started_at=r[7], duration_s=r[8], score=r[9], passed=bool(r[10]))
                       for r in rows),
            total=total, page=page, per_page=per_page, sort=sort, descending=descending)

    def filter_choices(self) -> FilterChoices:
        """Every agent, team, vendor, script, item id and flag present in the current scores."""
        q = self.db.execute
        flags: set[str] = set()
        for (text,) in q("SELECT DISTINCT flags FROM item_results WHERE flags != '[]'"):
            flags.update(json.loads(text))
        return FilterChoices(
            agents=tuple((r[0], r[1]) for r in q(
                "SELECT agent_id, MAX(agent_name) FROM calls GROUP BY agent_id ORDER BY agent_id")),
            teams=tuple(r[0] for r in q("SELECT DISTINCT team FROM calls WHERE team IS NOT NULL ORDER BY team")),
            vendors=tuple(r[0] for r in q(
                f"SELECT DISTINCT {VENDOR_SQL} v FROM calls c WHERE v IS NOT NULL ORDER BY v")),
            scripts=tuple(r[0] for r in q("SELECT DISTINCT script_id FROM scores WHERE current = 1 ORDER BY 1")),
            items=tuple(r[0] for r in q("SELECT DISTINCT item_id FROM item_results ORDER BY 1")),
            flags=tuple(sorted(flags)),
        )

    def call_media(self, call_id: str) -> tuple[str, str] | None:
        """(stored path of the recording, file as in the drop folder) of a call; None: no such call."""
        row = self.db.execute("SELECT path, file FROM calls WHERE call_id = ?", [call_id]).fetchone()
        return None if row is None else (row[0] or "", row[1])
