"""qa serve as a person uses it: a real `qa serve` process on loopback over a database made by the
pipeline from the fixtures, driven by headless Chromium (Debian's chromium + chromium-driver through
Selenium; nothing downloads a browser).

These tests run in CI (`.ci/run` installs chromium and chromium-driver). They are skipped only when
QA_SKIP_BROWSER=1 is set; a missing browser otherwise fails them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from pathlib import Path

import pytest

from conftest import copy_database

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("QA_SKIP_BROWSER") == "1", reason="QA_SKIP_BROWSER=1"),
]

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("qa_browser", ROOT / "tools" / "browser.py")
qa_browser = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(qa_browser)


@pytest.fixture(scope="module")
def browser_db(web_db, tmp_path_factory) -> Path:
    """A copy of the session's database that these tests may change (overrides)."""
    return copy_database(web_db, tmp_path_factory.mktemp("browser") / "qa.db")


@pytest.fixture(scope="module")
def server(browser_db):
    with qa_browser.qa_serve(browser_db) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    driver = qa_browser.chromium()
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def wait_for(predicate, timeout: float = 15.0, what: str = "condition"):
    from selenium.common.exceptions import WebDriverException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except WebDriverException:  # the page is being replaced (a form sent, a link followed)
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def exported(db: Path) -> dict[str, dict]:
    from qa_analyser.store import Store

    with Store.open(db) as store:
        return {c["call_id"]: c for c in store.export_calls()}


def listed_ids(browser) -> list[str]:
    from selenium.webdriver.common.by import By

    return [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#calls a.call-link")]


def test_open_the_list_filter_it_and_open_a_call(server, browser, browser_db):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    calls = exported(browser_db)
    browser.get(server + "/calls")
    assert sorted(listed_ids(browser)) == sorted(calls)
    Select(browser.find_element(By.NAME, "vendor")).select_by_value("eastgate")
    Select(browser.find_element(By.NAME, "passed")).select_by_value("no")
    browser.find_element(By.ID, "apply").click()
    wait_for(lambda: "vendor=eastgate" in browser.current_url, what="the filtered list")
    expected = sorted(c["call_id"] for c in calls.values()
                      if c["metadata"].get("vendor") == "eastgate" and not c["passed"])
    assert expected and sorted(listed_ids(browser)) == expected
    browser.find_element(By.CSS_SELECTOR, "#calls a.call-link").click()
    wait_for(lambda: "/call?id=" in browser.current_url, what="the call page")
    call_id = browser.find_element(By.TAG_NAME, "h1").text.removeprefix("Call ")
    assert call_id in expected
    assert browser.find_element(By.ID, "score").text == f"{calls[call_id]['score']:.1f}"


def player_time(browser) -> float:
    return browser.execute_script("return document.getElementById('player').currentTime")


def test_clicking_a_verdict_or_a_turn_plays_from_that_moment(server, browser, browser_db):
    from selenium.webdriver.common.by import By

    call = exported(browser_db)["inbound-01"]
    browser.get(server + "/call?id=inbound-01")
    wait_for(lambda: browser.execute_script("return document.getElementById('player').readyState") >= 1,
             what="the recording's metadata")
    assert player_time(browser) == 0
    item = max((i for i in call["items"] if i["start_s"] is not None), key=lambda i: i["start_s"])
    assert item["start_s"] > 5
    browser.find_element(By.ID, "v-" + item["item_id"]).find_element(By.TAG_NAME, "strong").click()
    at = wait_for(lambda: player_time(browser) or None, what="the player to move")
    assert item["start_s"] - 0.05 <= at <= item["start_s"] + 3, (at, item["start_s"])
    wait_for(lambda: player_time(browser) > at, what="the recording to play on")
    assert not browser.execute_script("return document.getElementById('player').paused")
    # a transcript turn: the player jumps back to where the turn starts
    turn = browser.find_elements(By.CSS_SELECTOR, "#transcript .turn")[1]
    start = float(turn.get_attribute("data-seek"))
    assert start < item["start_s"] - 2
    turn.click()
    at = player_time(browser)
    assert start - 0.05 <= at <= start + 3, (at, start)


def test_override_a_verdict_and_see_the_page_the_export_and_the_score_change(server, browser, browser_db):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    from typer.testing import CliRunner

    from qa_analyser.cli import app
    from qa_analyser.score import score_call
    from qa_analyser.scripts import load_script

    before = exported(browser_db)["inbound-02"]
    item = next(i for i in before["items"] if i["kind"] == "required" and i["status"] == "met")
    browser.get(server + "/call?id=inbound-02")
    row = browser.find_element(By.ID, "v-" + item["item_id"])
    row.find_element(By.TAG_NAME, "summary").click()
    Select(row.find_element(By.NAME, "status")).select_by_value("missed")
    row.find_element(By.NAME, "reason").send_keys("the line was cut off, listened twice")
    row.find_element(By.NAME, "reviewer").send_keys("Dana Reviewer")
    row.find_element(By.CSS_SELECTOR, "form.override-form button[type=submit]").click()
    wait_for(lambda: "overridden" in (browser.find_element(By.ID, "v-" + item["item_id"]).get_attribute("class")
                                       or ""), what="the overridden verdict")
    row = browser.find_element(By.ID, "v-" + item["item_id"])
    assert row.find_element(By.CSS_SELECTOR, ".status").text == "missed"
    assert "overridden from met by Dana Reviewer" in row.find_element(By.CSS_SELECTOR, ".override-note").text

    # the export says so, and the score is the script's scoring of the corrected verdicts
    result = CliRunner().invoke(app, ["export", "--db", str(browser_db), "--format", "json"])
    assert result.exit_code == 0, result.output
    after = {c["call_id"]: c for c in json.loads(result.stdout)}["inbound-02"]
    changed = next(i for i in after["items"] if i["item_id"] == item["item_id"] and i["kind"] == "required")
    assert changed["status"] == "missed"
    assert changed["override"]["reviewer"] == "Dana Reviewer" and changed["override"]["from"] == "met"
    from qa_analyser.store import Store

    with Store.open(browser_db) as store:
        corrected = store.stored_call("inbound-02").results
    script = load_script(Path(__file__).resolve().parents[1] / "scripts_library" / "energy-inbound.yaml")
    expected = score_call(corrected, pass_mark=script.pass_mark)
    assert after["score"] == expected.score < before["score"]
    assert browser.find_element(By.ID, "score").text == f"{expected.score:.1f}"


def test_agent_page_figures_match_the_database(server, browser, browser_db):
    from selenium.webdriver.common.by import By

    from qa_analyser import rollup
    from qa_analyser.store import Store

    with Store.open(browser_db) as store:
        f = rollup.figures(list(store.stored_calls(agent="agent-201")))
    browser.get(server + "/calls")
    browser.find_element(By.LINK_TEXT, "agent-201").click()
    wait_for(lambda: "/agent?id=agent-201" in browser.current_url, what="the agent page")
    assert browser.find_element(By.ID, "fig-calls").text == str(f.calls)
    assert browser.find_element(By.ID, "fig-mean").text == f"{f.mean_score:.1f}"
    for name, value, interval in (("pass", f.pass_rate, f.pass_interval),
                                  ("compliance", f.compliance, f.compliance_interval),
                                  ("critical", f.critical_compliance, f.critical_interval)):
        text = browser.find_element(By.ID, "fig-" + name).text
        assert text.startswith(f"{100 * value:.1f}%"), (name, text)
        assert f"{100 * interval[0]:.1f}%–{100 * interval[1]:.1f}%" in text, (name, text)
    shown = {r.get_attribute("data-item"): r.find_element(By.CSS_SELECTOR, "td.compliance").text
             for r in browser.find_elements(By.CSS_SELECTOR, "#items tbody tr")}
    assert set(shown) == {("prohibited:" if r.kind == "prohibited" else "") + r.item_id for r in f.items}
    for r in f.items:
        key = ("prohibited:" if r.kind == "prohibited" else "") + r.item_id
        assert shown[key].startswith(f"{100 * r.compliance:.1f}%"), key
    assert "unranked" in browser.find_element(By.ID, "fig-rank").text
