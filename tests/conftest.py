"""Session-wide fixtures: one database built by the real pipeline over the fixture calls, for the web
app's tests (tests/test_web.py, tests/test_web_browser.py). Tests that change a database work on a
copy (`db_copy`)."""

from __future__ import annotations

import csv
import shutil
import sqlite3
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CALLS = ROOT / "fixtures" / "calls"

# a file name and an agent name holding markup: the web app must show them as text
MARKUP_FILE = "inbound-04<img src=x onerror=alert(1)>.ogg"
MARKUP_AGENT_NAME = "<b>Emma</b><script>alert(1)</script>"


@pytest.fixture(scope="session")
def web_drop(tmp_path_factory) -> Path:
    """The fixture calls (their manifest has a `vendor` column), one file renamed to hold markup, one
    agent name too."""
    drop = tmp_path_factory.mktemp("web-drop")
    with (CALLS / "manifest.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        name = MARKUP_FILE if row["call_id"] == "inbound-04" else row["file"]
        shutil.copyfile(CALLS / row["file"], drop / name)
        row["file"] = name
        if row["call_id"] == "inbound-04":
            row["agent_name"] = MARKUP_AGENT_NAME
    with (drop / "manifest.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return drop


@pytest.fixture(scope="session")
def web_db(tmp_path_factory, web_drop) -> Path:
    """A database made by `qa run` (real tiny.en model) over `web_drop`. Do not change it: copy it."""
    from typer.testing import CliRunner

    from qa_analyser.cli import app

    db = tmp_path_factory.mktemp("web-db") / "qa.db"
    result = CliRunner().invoke(app, ["run", str(web_drop), "--scripts", str(ROOT / "scripts_library"),
                                      "--db", str(db)])
    assert result.exit_code == 0, result.output
    return db


def copy_database(db: Path, target: Path) -> Path:
    """A consistent copy of a (WAL) database."""
    with sqlite3.connect(db) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    return target


@pytest.fixture
def db_copy(tmp_path):
    """copy(db) -> a copy of a database in this test's tmp_path."""
    return lambda db, name="copy.db": copy_database(db, tmp_path / name)
