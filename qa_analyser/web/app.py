"""The routes of `qa serve`: a Starlette app over one SQLite database.

Read-only pages are GET; the only state change (a reviewer's override) is a POST checked for its
CSRF token (security.py). Templates are Jinja2 with autoescaping on for every template, so a quote,
an agent name or a file name holding markup is shown as text.
"""

from __future__ import annotations

import functools
import logging
import mimetypes
import re
import threading
from datetime import date
from pathlib import Path
from urllib.parse import quote, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import rollup
from ..clips import EXPECTED_S, clip_window
from ..contract import evaluate, load_contract
from ..datatypes import ITEM_STATUSES, StoredCall
from ..errors import QAError
from ..privacy.audio import redacted_ranges, redacted_wav_bytes
from ..store import Store
from ..store.web import SORT_COLUMNS, CallFilter
from .charts import trend_chart
from .review import result_key, turns
from .security import SecurityMiddleware, csrf_ok

__all__ = ["create_app"]

log = logging.getLogger("qa_analyser")

HERE = Path(__file__).parent
PER_PAGE = 50
MEMO_ENTRIES = 256  # pages' figures kept per database version
OVERRIDES_SHOWN = 500  # the latest active overrides on /overrides
AUDIO_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".opus": "audio/ogg",
               ".flac": "audio/flac", ".m4a": "audio/mp4"}


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clock"] = _clock
    env.filters["pct"] = lambda v: "–" if v is None else f"{100 * v:.1f}%"
    return env


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    m, s = divmod(max(0.0, float(seconds)), 60)
    return f"{int(m)}:{s:04.1f}"


class _Local(threading.local):
    """Per thread (sqlite3 connections stay in the thread that made them): the connection, and every
    stored call read at one database version with what the pages computed from them."""

    store: Store | None = None
    version: tuple[int, int] | None = None
    memo: dict | None = None
    writes: int = 0  # this connection's own commits (PRAGMA data_version counts only other connections')


@functools.lru_cache(maxsize=8)
def _bleeped_cached(path: str, mtime_ns: int, ranges: tuple) -> bytes:
    from ..audio import decode_audio

    return redacted_wav_bytes(decode_audio(path), list(ranges))


def _bleeped(path: Path, ranges: tuple) -> bytes:
    """The recording with its masked stretches bleeped, made once per file version (the player asks
    for it in several ranges)."""
    return _bleeped_cached(str(path), path.stat().st_mtime_ns, ranges)


def _ranged(request: Request, data: bytes, media_type: str) -> Response:
    """`data`, or the one byte range the request asks for (206), so the player can seek in it."""
    headers = {"Accept-Ranges": "bytes"}
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", request.headers.get("range", "").strip())
    if not match or not any(match.groups()):
        return Response(data, media_type=media_type, headers=headers)
    first, last = match.groups()
    size = len(data)
    start, end = (int(first), int(last) if last else size - 1) if first else (max(0, size - int(last)), size - 1)
    end = min(end, size - 1)
    if start > end:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    return Response(data[start:end + 1], status_code=206, media_type=media_type,
                    headers={**headers, "Content-Range": f"bytes {start}-{end}/{size}"})


def create_app(db_path: str | Path, *, token: str | None = None, contract_path: str | Path | None = None) -> Starlette:
    """The web app over the database at `db_path` (which must exist). `token`: required on every request;
    `contract_path`: the contract file (read now: `ConfigError` when it is bad)."""
    db_path = Path(db_path)
    env = _environment()
    loaded_contract = load_contract(contract_path) if contract_path is not None else None
    local = _Local()

    def store() -> Store:
        if local.store is None:
            local.store = Store.open(db_path)
        return local.store

    def fresh() -> dict:
        """What the pages keep for the current database version (a commit by `qa run`, `qa override` or
        this app starts afresh)."""
        version = (int(store().db.execute("PRAGMA data_version").fetchone()[0]), local.writes)
        if local.version != version:
            local.version, local.memo = version, {}
        elif len(local.memo) > MEMO_ENTRIES:  # many different addresses: keep only every call
            local.memo = {k: v for k, v in local.memo.items() if k == ("calls",)}
        return local.memo

    def memo(key: tuple, compute):
        kept = fresh()
        if key not in kept:
            kept[key] = compute()
        return kept[key]

    def every_call() -> list[StoredCall]:
        """All scored calls, read once per database version; the roll-up pages group them in memory."""
        return memo(("calls",), lambda: list(store().stored_calls()))

    def calls_of(by: str, gid: str) -> list[StoredCall]:
        """One agent's, team's or vendor's calls: from every call when they were read, else one query
        (an agent's page need not wait for every call of the database)."""
        every = fresh().get(("calls",))
        if every is not None:
            return [c for c in every if rollup.group_key(by)(c) == gid]
        return memo(("calls", by, gid), lambda: list(store().stored_calls(**{by: gid})))

    def render(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
        context.setdefault("title", "")
        html = env.get_template(name).render(request=request, csrf=request.state.csrf,
                                             has_contract=contract_path is not None, **context)
        return HTMLResponse(html, status_code=status_code)

    async def home(request: Request) -> Response:
        return RedirectResponse("/calls", status_code=303)

    async def calls(request: Request) -> Response:
        q = request.query_params
        for name in ("since", "until"):
            if q.get(name) and not _is_date(q[name]):
                raise HTTPException(400, f"{name}={q[name]!r} is not a date (YYYY-MM-DD)")
        flt = CallFilter(
            agent=q.get("agent") or None, team=q.get("team") or None, vendor=q.get("vendor") or None,
            script=q.get("script") or None, since=q.get("since") or None, until=q.get("until") or None,
            passed={"yes": True, "no": False}.get(q.get("passed", "")),
            item=q.get("item") or None, item_status=q.get("item_status") or None, flag=q.get("flag") or None)
        sort = q.get("sort") if q.get("sort") in SORT_COLUMNS else "started_at"
        descending = q.get("dir", "desc") != "asc"
        page = store().call_list(flt, sort=sort, descending=descending, page=_int(q.get("page"), 1),
                                 per_page=PER_PAGE)
        kept = {k: v for k, v in q.items() if v and k not in ("page", "sort", "dir")}

        def link(**change) -> str:
            return "/calls?" + urlencode({**kept, "sort": sort, "dir": "desc" if descending else "asc", **change})

        return render(request, "calls.html", title="Calls", page=page, f=flt,
                      choices=memo(("choices",), store().filter_choices), link=link)

    async def call(request: Request) -> Response:
        call_id = request.query_params.get("id", "")
        s = store()
        sc = s.stored_call(call_id)
        if sc is None:
            raise HTTPException(404, f"no scored call {call_id!r} in this database")
        transcript = s.call_transcript(call_id)
        media = s.call_media(call_id)
        # privacy (docs/privacy.md): the redacted copy of the recording when there is one
        audio_path = s.redacted_audio_path(call_id) or (Path(media[0]) if media and media[0] else None)
        conflicts = {(k.override.item_id, k.override.kind): k for k in s.override_conflicts()
                     if k.override.call_id == call_id}
        verdicts = [(result_key(r), r, sc.override_of(r), machine, conflicts.get((r.item_id, r.kind)))
                    for r, machine in zip(sc.results, sc.automatic)]
        return render(
            request, "call.html", title=f"Call {call_id}", c=sc.as_dict(), sc=sc, verdicts=verdicts,
            statuses=ITEM_STATUSES, turns=turns(transcript, sc.results) if transcript else [],
            expected=_expected(sc),
            audio_missing=audio_path is None or not audio_path.is_file(), audio_path=str(audio_path or sc.info.file),
            audio_url="/audio?" + urlencode({"id": call_id}),
            override_history=s.overrides(call_id, include_superseded=True),
            history=[h for h in s.score_history(call_id) if not h["current"]])

    async def audio(request: Request) -> Response:
        call_id = request.query_params.get("id", "")
        s = store()
        media = s.call_media(call_id)
        if media is None:
            return PlainTextResponse(f"no call {call_id!r}", status_code=404)
        # privacy (docs/privacy.md): never play what the transcript masks. The redacted copy when there
        # is one (`qa run --redact-audio`), else the recording with the masked stretches bleeped here
        copy = s.redacted_audio_path(call_id)
        if copy is not None:
            return FileResponse(copy, media_type="audio/wav", content_disposition_type="inline")
        path = Path(media[0]) if media[0] else None
        if path is None or not path.is_file():
            return PlainTextResponse(f"the recording of call {call_id} is not at {media[0] or media[1]} any more",
                                     status_code=404)
        transcript = s.call_transcript(call_id)
        ranges = redacted_ranges(transcript) if transcript is not None else []
        if ranges:
            return _ranged(request, _bleeped(path, tuple(ranges)), "audio/wav")
        kind = AUDIO_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        # FileResponse answers Range requests (206 + Content-Range), so the player can seek
        return FileResponse(path, media_type=kind, content_disposition_type="inline")

    async def override(request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(request, form.get("csrf")):
            return PlainTextResponse("Forbidden: missing or wrong CSRF token (reload the page and try again).",
                                     status_code=403)
        call_id, key = str(form.get("call_id", "")), str(form.get("item", ""))
        try:
            store().override(call_id, key, str(form.get("status", "")), reason=str(form.get("reason", "")),
                             reviewer=str(form.get("reviewer", "")))
        finally:
            local.writes += 1
        log.info("override of call %s item %s stored from the web app", call_id, key)
        return RedirectResponse("/call?" + urlencode({"id": call_id}) + "#v-" + quote(key, safe=":"), status_code=303)

    def group_page(by: str):
        child_by = {"vendor": "team", "team": "agent", "agent": None}[by]
        parent_by = {"vendor": None, "team": "vendor", "agent": "team"}[by]

        def figures(gid: str, min_calls: int, split: str | None) -> dict | None:
            # its place among its parent's groups (an agent among its team's agents; a vendor among all)
            peers = every_call() if parent_by is None else None  # first: then `own` comes from it
            own = calls_of(by, gid)
            if not own:
                return None
            parent = _most_common([rollup.group_key(parent_by)(c) for c in own]) if parent_by else None
            if peers is None:
                peers = own if parent == "unknown" else calls_of(parent_by, parent)
            ranking = memo(("summarise", by, parent, min_calls),
                           lambda: rollup.summarise(peers, by=by, min_calls=min_calls))
            weeks = rollup.weekly(own)
            sla = evaluate(own, loaded_contract) if loaded_contract is not None and by == "vendor" else []
            return dict(
                me=rollup.summarise(own, by=by, min_calls=min_calls)[0],
                place=next((g for g in ranking if g.group == gid), None), ranking=ranking, parent=parent,
                peer_rates=memo(("rates", parent_by, parent), lambda: {
                    (r.item_id, r.kind): r for r in rollup.figures(peers).items}) if parent_by else {},
                children=rollup.summarise(own, by=child_by, min_calls=min_calls) if child_by else [],
                weeks=weeks, chart=trend_chart([w.week for w in weeks], {
                    "compliance %": [None if w.figures.compliance is None else 100 * w.figures.compliance
                                     for w in weeks],
                    "mean score": [w.figures.mean_score for w in weeks]}),
                before_after=rollup.before_after(own, split) if split else None,
                missed=rollup.most_missed(own, limit=5, examples=3), sla=sla)

        async def page(request: Request) -> Response:
            q = request.query_params
            gid = q.get("id", "")
            min_calls = max(1, _int(q.get("min_calls"), 10))
            split = q.get("split") or None
            if split and not _is_date(split):
                raise HTTPException(400, f"split={split!r} is not a date (YYYY-MM-DD)")
            # kept for this database version: going back to a page does not compute it again
            found = memo(("page", by, gid, min_calls, split), lambda: figures(gid, min_calls, split))
            if found is None:
                raise HTTPException(404, f"no scored calls for {by} {gid!r} in this database")
            return render(request, "group.html", title=f"{by.capitalize()} {gid}", by=by, gid=gid,
                          parent_by=parent_by, child_by=child_by, min_calls=min_calls, split=split,
                          calls_link="/calls?" + urlencode({by: gid}), **found)

        return page

    async def vendors(request: Request) -> Response:
        min_calls = max(1, _int(request.query_params.get("min_calls"), 10))
        every = every_call()
        return render(request, "vendors.html", title="Vendors", min_calls=min_calls,
                      groups=memo(("summarise", "vendor", None, min_calls),
                                  lambda: rollup.summarise(every, by="vendor", min_calls=min_calls)),
                      teams=memo(("summarise", "team", "*", min_calls),
                                 lambda: rollup.summarise(every, by="team", min_calls=min_calls)))

    async def contract_view(request: Request) -> Response:
        c = loaded_contract
        if c is None:
            raise HTTPException(404, "no contract file: start qa serve with --contract FILE")
        results = memo(("contract",), lambda: evaluate(every_call(), c))
        vendors_seen = list(dict.fromkeys(r.vendor for r in results))
        return render(request, "contract.html", title=f"Contract{': ' + c.name if c.name else ''}", contract=c,
                      results=results, vendors=vendors_seen, breaches=[r for r in results if r.breached])

    async def overrides(request: Request) -> Response:
        s = store()
        active = s.overrides()
        return render(request, "overrides.html", title="Overrides", conflicts=s.override_conflicts(),
                      active=active[::-1][:OVERRIDES_SHOWN], total=len(active))

    async def not_found(request: Request, exc: HTTPException) -> Response:
        return render(request, "error.html", status_code=exc.status_code,
                      title={404: "Not found", 405: "Not allowed"}.get(exc.status_code, "Error"), message=exc.detail)

    async def qa_error(request: Request, exc: QAError) -> Response:
        return render(request, "error.html", status_code=400, title="Error", message=str(exc))

    routes = [
        Route("/", home),
        Route("/calls", calls),
        Route("/call", call),
        Route("/audio", audio),
        Route("/override", override, methods=["POST"]),
        Route("/agent", group_page("agent")),
        Route("/team", group_page("team")),
        Route("/vendor", group_page("vendor")),
        Route("/vendors", vendors),
        Route("/contract", contract_view),
        Route("/overrides", overrides),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityMiddleware, token=token)],
        exception_handlers={HTTPException: not_found, QAError: qa_error},
    )


def _expected(call: StoredCall) -> dict[str, tuple[float, float]]:
    """Where each missed item was expected (between the heard items around it in script order)."""
    out = {}
    for r in call.results:
        if r.status == "missed" and r.kind != "prohibited":
            window = clip_window(call, r.item_id, pad=0.0, longest=call.duration_s or EXPECTED_S)
            if window is not None:
                out[result_key(r)] = window[1:]
    return out


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _most_common(values: list[str]) -> str:
    return max(sorted(set(values)), key=values.count)


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default
