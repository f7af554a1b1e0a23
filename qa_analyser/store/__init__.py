"""The results database: SQLite through sqlite-utils; the only package that sees SQL and dicts.

One `Store` class, its jobs in their own modules:

    schema.py   the ordered, named migrations (`MIGRATIONS`), applied when a Store is constructed
    lock.py     the OS file lock that keeps two runs off one database
    ledger.py   runs and failures (new, still open, acknowledged)
    writes.py   scripts, transcripts, calls and scores (each call in one transaction; score history)
    reads.py    what the pipeline compares (`CallState`), stored calls (`StoredCall`), exports, search
    overrides.py  reviewers' overrides (kept beside the machine's verdicts) and their conflicts
    web.py      the web app's paged, filtered, sorted calls list (`qa serve`)
    _rows.py    row helpers shared by the above

The database runs in WAL mode, and every write of a call is one transaction: a killed `qa run` leaves
either the whole call or nothing. See docs/storage.md for the tables and how to query them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils

from ..errors import StoreError
from . import lock as _lock
from .ledger import LedgerMixin
from .overrides import OverridesMixin
from .privacy import PrivacyMixin
from .reads import CallState, ReadsMixin
from .schema import MIGRATIONS
from .web import CallFilter, CallListPage, CallRow, FilterChoices, WebReadsMixin
from .writes import WritesMixin

__all__ = ["MIGRATIONS", "CallFilter", "CallListPage", "CallRow", "CallState", "FilterChoices", "Store"]

log = logging.getLogger("qa_analyser")

_SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 10_000  # a reader (qa export) waits this long for a writer's commit, not forever


class Store(LedgerMixin, WritesMixin, ReadsMixin, OverridesMixin, WebReadsMixin, PrivacyMixin):
    """The results database. Construct with `Store.open(path)` or `Store.memory()`."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self.path = _database_file(db)
        self.name = str(self.path) if self.path else ":memory:"
        try:
            self._configure()
            self._migrate()
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.name}: cannot open the database: {e}") from e

    # ----------------------------------------------------------------- opening

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Open (creating if needed) the database at `path`; `StoreError` naming it if that fails."""
        path = Path(path)
        if path.is_dir():
            raise StoreError(f"{path} is a folder, not a database file")
        if not path.parent.exists():
            raise StoreError(f"cannot create database {path}: folder {path.parent} does not exist")
        if path.exists() and path.stat().st_size > 0:
            try:
                with path.open("rb") as f:
                    header = f.read(len(_SQLITE_HEADER))
            except OSError as e:
                raise StoreError(f"cannot read database {path}: {e.strerror or e}") from e
            if header != _SQLITE_HEADER:
                raise StoreError(f"{path} is not a SQLite database (is --db pointing at the right file?)")
        if not path.exists():
            # Owner-only: calls hold personal data. SQLite gives the -wal and -shm files the mode of
            # the database file, so creating this one 0600 covers them too.
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass
            except OSError as e:
                raise StoreError(f"cannot create database {path}: {e.strerror or e}") from e
        try:
            db = sqlite_utils.Database(path)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open database {path}: {e}") from e
        try:
            return cls(db)
        except BaseException:
            db.close()
            raise

    @classmethod
    def memory(cls) -> Store:
        """A throw-away in-memory database (tests)."""
        return cls(sqlite_utils.Database(memory=True))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _configure(self) -> None:
        self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self.db.execute("PRAGMA foreign_keys = ON")
        if self.path is not None:
            # WAL: readers never block the writer and a killed writer leaves the database intact;
            # synchronous=NORMAL is crash-safe in WAL mode (only a power cut can lose the last commits).
            self.db.enable_wal()
            self.db.execute("PRAGMA synchronous = NORMAL")

    def _migrate(self) -> None:
        known = {m.name for m in MIGRATIONS._migrations}
        applied = {m.name for m in MIGRATIONS.applied(self.db)}
        if applied - known:
            raise StoreError(
                f"{self.name} was written by a newer qa-analyser (unknown migrations: "
                f"{', '.join(sorted(applied - known))}); upgrade qa-analyser to use it"
            )
        if not MIGRATIONS.pending(self.db):
            return
        # IMMEDIATE: two processes opening a new database at once must not both apply a migration.
        with self._transaction("migrate the database schema"):
            MIGRATIONS.apply(self.db)
        log.info("%s: schema migrated to %s", self.name, MIGRATIONS._migrations[-1].name)

    @contextlib.contextmanager
    def _transaction(self, what: str) -> Iterator[None]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT); rolled back on any exception."""
        conn = self.db.conn
        depth = getattr(self, "_depth", 0)
        if conn.in_transaction and depth:  # nested use: a savepoint inside the outer transaction
            with self.db.atomic():
                yield
            return
        if conn.in_transaction:
            # left open by a signal that arrived between BEGIN and the block (Ctrl-C, SIGTERM): what it
            # held was never committed, so roll it back rather than nest this write inside it
            self.db.rollback()
        self._depth = 1
        try:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                raise StoreError(f"{self.name}: cannot {what}: {e}") from e
            yield
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            if conn.in_transaction:
                self.db.rollback()
            raise StoreError(f"{self.name}: cannot {what}: {e}") from e
        except BaseException:
            if conn.in_transaction:
                self.db.rollback()
            raise
        finally:
            self._depth = 0

    # ----------------------------------------------------------------- run lock

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """Hold the database for one run: `LockedError` if another process holds it (lock.py).
        Runs left "running" by a process that is gone become "interrupted". No-op in memory."""
        if self.path is None:
            return contextlib.nullcontext()
        return _lock.hold(self.path, self._mark_interrupted_runs)


def _database_file(db: sqlite_utils.Database) -> Path | None:
    for row in db.execute("PRAGMA database_list").fetchall():
        if row[1] == "main":
            return Path(row[2]) if row[2] else None
    return None
