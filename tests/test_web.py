"""qa serve without a browser: the calls list (filters, sorting, paging, in SQL), the call page, audio
range requests, escaping, CSRF, and the loopback-or-token rule. The browser tests are in
tests/test_web_browser.py. The database comes from the real pipeline (conftest.web_db)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from conftest import MARKUP_AGENT_NAME, MARKUP_FILE
from qa_analyser.cli import app as cli_app
from qa_analyser.datatypes import ItemResult, Segment, Transcript, TranscriptionOptions, Word
from qa_analyser.errors import ConfigError, ReportError
from qa_analyser.store import Store
from qa_analyser.store.web import CallFilter
from qa_analyser.web import check_bind, create_app
from qa_analyser.web.review import turns

pytestmark = pytest.mark.slow  # the database is made by the real model (once per session)

TOKEN = "correct-horse-battery-staple"


@pytest.fixture(scope="module")
def exported(web_db):
    with Store.open(web_db) as store:
        return {c["call_id"]: c for c in store.export_calls()}


@pytest.fixture(scope="module")
def client(web_db):
    return TestClient(create_app(web_db))


def listed(html: str) -> list[str]:
    return re.findall(r'class="call-link" href="/call\?id=[^"]*">([^<]*)</a>', html)


# --------------------------------------------------------------------------- calls list


def test_list_filters_match_the_stored_calls(client, exported):
    calls = list(exported.values())
    some_agent = calls[0]["agent_id"]
    item = next(i for c in calls for i in c["items"] if i["status"] == "missed")
    flagged = {c["call_id"] for c in calls if any("low_confidence" in i["flags"] for i in c["items"])}
    cases = {
        f"agent={some_agent}": {c["call_id"] for c in calls if c["agent_id"] == some_agent},
        "team=eastgate-collections": {c["call_id"] for c in calls if c["team"] == "eastgate-collections"},
        "vendor=northwind": {c["call_id"] for c in calls if c["metadata"].get("vendor") == "northwind"},
        "script=collections": {c["call_id"] for c in calls if c["script_id"] == "collections"},
        "since=2026-11-03&until=2026-11-04": {c["call_id"] for c in calls
                                              if "2026-11-03" <= c["started_at"][:10] <= "2026-11-04"},
        "passed=no": {c["call_id"] for c in calls if not c["passed"]},
        "passed=yes": {c["call_id"] for c in calls if c["passed"]},
        f"item={item['item_id']}&item_status=missed": {
            c["call_id"] for c in calls if any(i["item_id"] == item["item_id"] and i["status"] == "missed"
                                              for i in c["items"])},
        "flag=low_confidence": flagged,
    }
    assert flagged and all(cases.values()), "the fixture database should exercise every filter"
    for query, expected in cases.items():
        response = client.get("/calls?" + query)
        assert response.status_code == 200
        assert set(listed(response.text)) == expected, query
        assert f">{len(expected)} call" in response.text


def test_list_sorts_by_every_column_and_pages(client, exported, web_db):
    by_score = sorted(exported.values(), key=lambda c: (c["score"], c["call_id"]))
    assert listed(client.get("/calls?sort=score&dir=asc").text) == [c["call_id"] for c in by_score]
    assert listed(client.get("/calls?sort=score&dir=desc").text) == [c["call_id"] for c in reversed(by_score)]
    with Store.open(web_db) as store:
        for key in ("started_at", "call_id", "agent", "team", "vendor", "script", "score", "passed", "duration"):
            whole = store.call_list(sort=key, descending=False).rows
            assert len(whole) == len(exported)
            pages = [store.call_list(sort=key, descending=False, page=p, per_page=4) for p in (1, 2)]
            assert pages[0].pages == 2 and pages[0].total == len(exported)
            assert [r.call_id for p in pages for r in p.rows] == [r.call_id for r in whole], key
        with pytest.raises(ReportError, match="cannot sort calls by 'score; DROP TABLE calls'"):
            store.call_list(sort="score; DROP TABLE calls")
        assert store.call_list(CallFilter(agent="nobody")).total == 0
    # an unknown sort key in the address falls back to the default order, never into the SQL
    assert client.get("/calls?sort=1;DROP").status_code == 200
    bad_date = client.get("/calls?since=yesterday")
    assert bad_date.status_code == 400 and "since=&#39;yesterday&#39; is not a date" in bad_date.text


# --------------------------------------------------------------------------- call page and audio


def test_call_page_shows_every_verdict_the_transcript_and_missed_items(client, exported, web_db):
    call = next(c for c in exported.values() if any(i["status"] == "missed" for i in c["items"]))
    html = client.get("/call?id=" + call["call_id"]).text
    for item in call["items"]:
        key = ("prohibited:" if item["kind"] == "prohibited" else "") + item["item_id"]
        row = re.search(rf'<tr class="verdict status-{item["status"]}" id="v-{re.escape(key)}".*?</tr>', html, re.S)
        assert row, key
        if item["start_s"] is not None:
            assert f'data-seek="{item["start_s"]}"' in row.group(0)
    missed = re.search(r'<ul id="missed">(.*?)</ul>', html, re.S).group(1)
    shown = dict(re.findall(r'<li data-seek="([\d.]+)"><strong>([^<]+)</strong> — expected between', missed))
    assert set(shown.values()) == {i["item_id"] for i in call["items"] if i["status"] == "missed"}
    with Store.open(web_db) as store:
        stored = store.stored_call(call["call_id"])
    for start, item_id in shown.items():
        # between the heard items around it in script order (the reports' coaching clips use the same)
        i = next(n for n, r in enumerate(stored.results) if r.item_id == item_id and r.kind != "prohibited")
        before = [r.end_s for r in stored.results[:i] if r.end_s is not None and r.kind != "prohibited"]
        assert float(start) == (max(before) if before else 0.0)
    assert 'class="turn speaker-agent"' in html and "<mark class=\"hit" in html
    assert '<audio id="player"' in html


def test_audio_is_served_with_range_requests(client, web_db, web_drop):
    data = (web_drop / "inbound-01.wav").read_bytes()
    whole = client.get("/audio?id=inbound-01")
    assert whole.status_code == 200 and whole.content == data and whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "audio/wav"
    part = client.get("/audio?id=inbound-01", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    assert part.content == data[1000:2000]
    assert client.get("/audio?id=collections-02").headers["content-type"] == "audio/mpeg"
    assert client.get("/audio?id=no-such-call").status_code == 404


def test_a_missing_recording_is_a_clear_message_not_an_error(web_db, db_copy):
    db = db_copy(web_db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE calls SET path = '/nonexistent/inbound-01.wav' WHERE call_id = 'inbound-01'")
    conn.close()
    client = TestClient(create_app(db))
    page = client.get("/call?id=inbound-01")
    assert page.status_code == 200
    assert 'id="audio-missing"' in page.text and "/nonexistent/inbound-01.wav" in page.text
    assert '<audio' not in page.text
    audio = client.get("/audio?id=inbound-01")
    assert audio.status_code == 404 and "not at /nonexistent/inbound-01.wav" in audio.text


def test_unknown_call_is_a_404_page(client):
    page = client.get("/call?id=<nope>")
    assert page.status_code == 404 and "no scored call &#39;&lt;nope&gt;&#39;" in page.text


# --------------------------------------------------------------------------- escaping


def test_markup_in_names_and_quotes_is_shown_as_text(web_db, db_copy):
    db = db_copy(web_db)
    quote = '<img src=x onerror="alert(2)">said'
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE item_results SET evidence = ? WHERE call_id = 'inbound-04' AND status = 'met'", [quote])
        conn.execute("UPDATE segments SET text = ? WHERE id = (SELECT MIN(s.id) FROM segments s JOIN calls c"
                     " ON c.transcript_id = s.transcript_id WHERE c.call_id = 'inbound-04')", [quote])
        conn.execute("DELETE FROM words WHERE transcript_id = (SELECT transcript_id FROM calls"
                     " WHERE call_id = 'inbound-04') AND segment_idx = 0")
    conn.close()
    client = TestClient(create_app(db))
    pages = {"list": client.get("/calls").text, "call": client.get("/call?id=inbound-04").text}
    for name, html in pages.items():
        for raw in (MARKUP_FILE, MARKUP_AGENT_NAME, quote, "<script>alert", "<img src=x"):
            assert raw not in html, (name, raw)
        assert "&lt;b&gt;Emma&lt;/b&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html, name
        assert "inbound-04&lt;img src=x onerror=alert(1)&gt;.ogg" in html, name
    assert pages["call"].count("&lt;img src=x onerror=&#34;alert(2)&#34;&gt;said") >= 2  # verdict and transcript


# --------------------------------------------------------------------------- CSRF and GET safety


def _score_rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        n = conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
    conn.close()
    return n


def test_post_without_or_with_a_wrong_csrf_token_is_403_and_changes_nothing(web_db, db_copy):
    db = db_copy(web_db)
    before = _score_rows(db)
    client = TestClient(create_app(db))
    client.get("/calls")  # sets the CSRF cookie
    assert client.cookies.get("qa_csrf")
    form = {"call_id": "inbound-01", "item": "greeting", "status": "missed", "reason": "r", "reviewer": "x"}
    assert client.post("/override", data=form).status_code == 403
    assert client.post("/override", data={**form, "csrf": "wrong"}).status_code == 403
    # the right token from another origin (a page elsewhere posting here) is refused too
    good = {**form, "csrf": client.cookies.get("qa_csrf")}
    assert client.post("/override", data=good, headers={"origin": "http://evil.example"}).status_code == 403
    # without the cookie, a token alone is not enough
    fresh = TestClient(create_app(db))
    assert fresh.post("/override", data=good).status_code == 403
    # GET never changes anything: no GET route writes, and the override route is POST only
    assert client.get("/override", params=form).status_code == 405
    for path in ("/calls", "/call?id=inbound-01", "/audio?id=inbound-01"):
        client.get(path)
    assert _score_rows(db) == before


def test_pages_carry_the_security_headers(web_db):
    response = TestClient(create_app(web_db)).get("/calls")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "httponly" in response.headers["set-cookie"].lower()
    assert "samesite=strict" in response.headers["set-cookie"].lower()


# --------------------------------------------------------------------------- loopback or token


def test_non_loopback_bind_needs_a_token():
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check_bind(host, None)
    for host in ("0.0.0.0", "192.168.1.20", "::", "example.org"):
        with pytest.raises(ConfigError, match=f"refusing to listen on {re.escape(host)}"):
            check_bind(host, None)
        check_bind(host, TOKEN)
    with pytest.raises(ConfigError, match="at least 16 characters"):
        check_bind("0.0.0.0", "short")


def test_qa_serve_refuses_a_public_address_without_a_token(web_db, monkeypatch):
    monkeypatch.delenv("QA_SERVE_TOKEN", raising=False)
    result = CliRunner().invoke(cli_app, ["serve", "--db", str(web_db), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "refusing to listen on 0.0.0.0" in result.output and "--token" in result.output
    missing = CliRunner().invoke(cli_app, ["serve", "--db", str(web_db.parent / "none.db")])
    assert missing.exit_code == 2 and "no database at" in missing.output


def test_with_a_token_every_request_needs_it(web_db):
    client = TestClient(create_app(web_db, token=TOKEN), follow_redirects=False)
    for path in ("/calls", "/call?id=inbound-01", "/audio?id=inbound-01", "/static/app.js"):
        assert client.get(path).status_code == 401, path
    assert client.post("/override", data={}).status_code == 401
    assert client.get("/calls?token=wrong-token-of-some-length").status_code == 403
    assert client.get("/calls", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get("/calls", headers={"X-QA-Token": TOKEN}).status_code == 200
    login = client.get(f"/calls?agent=agent-101&token={TOKEN}")
    assert login.status_code == 303 and login.headers["location"] == "/calls?agent=agent-101"
    assert "httponly" in login.headers["set-cookie"].lower()
    assert client.get("/calls").status_code == 200  # the cookie now carries it


# --------------------------------------------------------------------------- pure helpers


def _result(item_id, status, start=None, end=None, kind="required"):
    return ItemResult(item_id=item_id, section="s", kind=kind, status=status, confidence=0.9,
                      start_s=start, end_s=end)


def test_turns_join_a_speakers_segments_and_mark_the_evidence():
    def seg(speaker, words):
        return Segment(text=" ".join(w for w, _ in words), start=words[0][1], end=words[-1][1] + 0.4,
                       speaker=speaker, words=tuple(Word(w, t, t + 0.4, 0.9, speaker) for w, t in words))

    transcript = Transcript(segments=(seg("agent", [("hello", 0.0), ("this", 1.0), ("is", 1.5)]),
                                      seg("agent", [("recorded", 2.0)]),
                                      seg("customer", [("ok", 3.0)])),
                            duration_s=4.0, channels="agent-left", options=TranscriptionOptions())
    out = turns(transcript, [_result("notice", "met", 0.9, 2.5), _result("rude", "violated", 2.9, 3.5,
                                                                          kind="prohibited")])
    assert [t.speaker for t in out] == ["agent", "customer"]
    assert [(s.text, s.items) for s in out[0].spans] == [("hello", ()), ("this is recorded", ("notice",))]
    assert out[1].spans[0].items == ("prohibited:rude",) and out[1].spans[0].status == "violated"


# --------------------------------------------------------------------------- overrides


def _csrf_client(db: Path) -> TestClient:
    client = TestClient(create_app(db), follow_redirects=False)
    client.get("/calls")
    return client


def test_an_override_posted_with_its_token_changes_the_verdict_and_the_score(web_db, db_copy):
    db = db_copy(web_db)
    with Store.open(db) as store:
        before = store.stored_call("inbound-01")
    target = next(r for r in before.results if r.kind == "required" and r.status == "met")
    client = _csrf_client(db)
    agent_before = _figure(client.get("/agent?id=agent-101").text, "mean")  # computed, and kept for this version
    page = client.get("/call?id=inbound-01").text
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert token == client.cookies.get("qa_csrf")
    response = client.post("/override", data={"csrf": token, "call_id": "inbound-01", "item": target.item_id,
                                              "status": "missed", "reason": "not heard <b>at all</b>",
                                              "reviewer": "Dana"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/call?id=inbound-01#v-{target.item_id}"
    with Store.open(db) as store:
        after = store.stored_call("inbound-01")
    changed = next(r for r in after.results if r.item_id == target.item_id and r.kind == target.kind)
    assert changed.status == "missed" and after.override_of(changed).reviewer == "Dana"
    assert after.score.score < before.score.score
    html = client.get("/call?id=inbound-01").text
    row = re.search(rf'<tr class="verdict status-missed overridden" id="v-{target.item_id}".*?</tr>', html, re.S)
    assert row and "overridden from <b>met</b> by Dana" in row.group(0)
    assert "not heard &lt;b&gt;at all&lt;/b&gt;" in row.group(0)
    assert f'<span id="score">{after.score.score:.1f}</span>' in html
    assert re.search(r'<table class="list" id="override-history">.*Dana.*active', html, re.S)
    # the roll-up pages see the app's own write, and another process's (qa override)
    from qa_analyser import rollup

    def mean_score() -> str:
        with Store.open(db) as store:
            return f"{rollup.figures(list(store.stored_calls(agent='agent-101'))).mean_score:.1f}"

    mid = _figure(client.get("/agent?id=agent-101").text, "mean")
    assert mid == mean_score() != agent_before
    other = next(r for r in after.results if r.kind == "required" and r.status == "met")
    with Store.open(db) as store:
        store.override("inbound-01", other.item_id, "missed", reason="elsewhere", reviewer="Lee")
    assert _figure(client.get("/agent?id=agent-101").text, "mean") == mean_score() != mid


def test_overrides_page_lists_them_and_the_conflicts_to_review(web_db, db_copy):
    db = db_copy(web_db)
    with Store.open(db) as store:
        call = store.stored_call("collections-01")
        target = next(r for r in call.results if r.kind == "required" and r.status == "met")
        store.override("collections-01", target.item_id, "partial", reason="clipped <i>end</i>", reviewer="Ann")
    client = TestClient(create_app(db))
    html = client.get("/overrides").text
    assert "<h2>Conflicts to review (0)</h2>" in html
    row = re.search(r'<table class="list" id="overrides">.*?</table>', html, re.S).group(0)
    assert f'href="/call?id=collections-01#v-{target.item_id}"' in row and "clipped &lt;i&gt;end&lt;/i&gt;" in row
    # what a rescore does when the matcher now judges the item differently: the automatic verdict
    # under the override changes
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE item_results SET automatic_status = 'missed' WHERE item_id = ? AND call_id ="
                     " 'collections-01' AND score_id = (SELECT id FROM scores WHERE call_id = 'collections-01'"
                     " AND current = 1)", [target.item_id])
    conn.close()
    with Store.open(db) as store:
        assert len(store.override_conflicts()) == 1
    html = client.get("/overrides").text
    conflicts = re.search(r'<table class="list" id="conflicts">.*?</table>', html, re.S).group(0)
    assert "<h2>Conflicts to review (1)</h2>" in html
    assert re.search(rf"collections-01</a></td><td>{target.item_id}</td><td>met</td>\s*<td class=\"breach\">missed",
                     conflicts)
    call_page = client.get("/call?id=collections-01").text
    assert "a rescore changed the machine's verdict under this override to <b>missed</b>" in call_page


def test_a_bad_override_is_a_clear_400_and_changes_nothing(web_db, db_copy):
    db = db_copy(web_db)
    before = _score_rows(db)
    client = _csrf_client(db)
    token = client.cookies.get("qa_csrf")
    base = {"csrf": token, "call_id": "inbound-01", "item": "greeting", "status": "missed", "reviewer": "Dana"}
    empty_reason = client.post("/override", data={**base, "reason": " "})
    assert empty_reason.status_code == 400
    assert "call &#39;inbound-01&#39;, item &#39;greeting&#39;: give the reason" in empty_reason.text
    wrong_status = client.post("/override", data={**base, "reason": "r", "status": "violated"})
    assert wrong_status.status_code == 400 and "is not a status of a required item" in wrong_status.text
    unknown = client.post("/override", data={**base, "reason": "r", "item": "no_such_item"})
    assert unknown.status_code == 400 and "has no such item" in unknown.text
    assert _score_rows(db) == before


# --------------------------------------------------------------------------- agent, team, vendor, contract


def _figure(html: str, name: str) -> str:
    cell = re.search(rf'<td id="fig-{name}">(.*?)</td>', html, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", cell).split())


def test_agent_page_figures_are_the_rollup_of_the_stored_calls(client, web_db):
    from qa_analyser import rollup

    with Store.open(web_db) as store:
        mine = list(store.stored_calls(agent="agent-101"))
        team = list(store.stored_calls(team="northwind-bpo"))
    f = rollup.figures(mine)
    html = client.get("/agent?id=agent-101").text
    assert _figure(html, "calls") == str(f.calls) == "2"
    assert _figure(html, "mean") == f"{f.mean_score:.1f}"
    lo, hi = f.compliance_interval
    assert _figure(html, "compliance").startswith(f"{100 * f.compliance:.1f}%")
    assert f"{100 * lo:.1f}%–{100 * hi:.1f}%" in _figure(html, "compliance")
    assert "unranked: fewer than 10 calls" in _figure(html, "rank")
    for rate in f.items:
        key = ("prohibited:" if rate.kind == "prohibited" else "") + rate.item_id
        row = re.search(rf'<tr data-item="{re.escape(key)}">(.*?)</tr>', html, re.S).group(1)
        cells = re.findall(r'<td class="num">(\d+)</td>', row)
        assert cells == [str(rate.applicable), str(rate.met), str(rate.partial), str(rate.missed), str(rate.violated)]
    # with a lower minimum the agent is ranked among its team's agents
    ranked = rollup.summarise(team, by="agent", min_calls=2)
    mine_ranked = next(g for g in ranked if g.group == "agent-101")
    html = client.get("/agent?id=agent-101&min_calls=2").text
    assert _figure(html, "rank").startswith(f"{mine_ranked.rank} of 2 ranked agents in team northwind-bpo")


def test_vendor_team_agent_navigation_trend_split_and_most_missed(client, web_db):
    from qa_analyser import rollup

    with Store.open(web_db) as store:
        calls = list(store.stored_calls(vendor="northwind"))
    vendor = client.get("/vendor?id=northwind").text
    assert re.search(r'<table class="list groups" id="children">.*href="/team\?id=northwind-bpo"', vendor, re.S)
    team = client.get("/team?id=northwind-bpo").text
    assert {"agent-101", "agent-102"} == set(re.findall(r'data-group="([^"]+)"', team))
    assert team.count('<span class="unranked"') >= 2  # two agents with two calls each: not ranked
    weeks = rollup.weekly(calls)
    assert len(re.findall(r"<tr><td>\d{4}-\d\d-\d\d</td>", vendor)) == len(weeks)
    missed = rollup.most_missed(calls, limit=5, examples=3)
    listed_examples = re.findall(r'<a href="/call\?id=([^"#]+)#v-', vendor)
    assert listed_examples == [e.call_id for m in missed for e in m.examples]
    split = rollup.before_after(calls, "2026-11-03")
    html = client.get("/vendor?id=northwind&split=2026-11-03").text
    assert f"Before 2026-11-03 ({split.before.calls} calls)" in html
    assert f"On or after ({split.after.calls} calls)" in html
    overview = client.get("/vendors").text
    assert set(re.findall(r'href="/vendor\?id=([^"]+)"', overview)) >= {"northwind", "eastgate"}
    assert client.get("/vendor?id=northwind&split=11/03").status_code == 400


def test_contract_view_lists_every_breach(web_db, tmp_path):
    from qa_analyser.contract import evaluate, load_contract

    path = tmp_path / "contract.yaml"
    path.write_text("name: Energy 2026\ntargets:\n  critical_compliance: 0.95\n  mean_score: 85\n"
                    "vendors:\n  eastgate:\n    mean_score: 40\n")
    with Store.open(web_db) as store:
        results = evaluate(store.stored_calls(), load_contract(path))
    breaches = [r for r in results if r.breached]
    assert breaches and len(breaches) < len(results)
    client = TestClient(create_app(web_db, contract_path=path))
    html = client.get("/contract").text
    table = re.search(r'<table class="list" id="breaches">(.*?)</table>', html, re.S).group(1)
    rows = re.findall(r'<tr class="breach"><td><a href="/vendor\?id=[^"]+">([^<]+)</a></td><td>([^<]+)</td>'
                      r'<td>([^<]+)</td>', table)
    assert rows == [(r.vendor, r.week, r.metric) for r in breaches]
    assert f"Breaches ({len(breaches)})" in html
    vendor = client.get("/vendor?id=eastgate").text
    assert len(re.findall(r"<tr class=\"breach\">", vendor)) == sum(r.vendor == "eastgate" for r in breaches)
    assert TestClient(create_app(web_db)).get("/contract").status_code == 404
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets:\n  mean_score: 120\n")
    result = CliRunner().invoke(cli_app, ["serve", "--db", str(web_db), "--contract", str(bad)])
    assert result.exit_code == 2 and "mean_score" in result.output
