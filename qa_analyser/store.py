"""The results database: SQLite through sqlite-utils; the only module that sees SQL and dicts.

The schema changes only through the ordered, named migrations of `MIGRATIONS` (recorded in
`_sqlite_migrations`), applied whenever a `Store` is constructed. The database runs in WAL mode, and
every write of a call is one transaction: a killed `qa run` leaves either the whole call or nothing.
`Store.lock()` keeps two runs off one database. See docs/storage.md for the tables and how to query them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from .datatypes import (
    CallInfo,
    CallScore,
    ItemResult,
    WordingDiff,
    Script,
    Segment,
    Transcript,
    TranscriptionOptions,
    Word,
)
from .errors import LockedError, ReportError, StoreError

__all__ = ["MIGRATIONS", "CallState", "Store"]

log = logging.getLogger("qa_analyser")

_SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 10_000  # a reader (qa export) waits this long for a writer's commit, not forever

# --------------------------------------------------------------------------- migrations

MIGRATIONS = Migrations("qa_analyser")


@MIGRATIONS(name="m001_initial_schema")
def _m001_initial_schema(db: sqlite_utils.Database) -> None:
    statements = [
        """CREATE TABLE recordings (
            sha256 TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            duration_s REAL,
            source_channels INTEGER,
            first_seen_at TEXT NOT NULL
        )""",
        """CREATE TABLE transcripts (
            id INTEGER PRIMARY KEY,
            recording_sha256 TEXT NOT NULL REFERENCES recordings(sha256),
            channels TEXT NOT NULL,
            options_key TEXT NOT NULL,
            options TEXT NOT NULL,
            model_id TEXT NOT NULL DEFAULT '',
            device TEXT NOT NULL DEFAULT '',
            compute_type TEXT NOT NULL DEFAULT '',
            language TEXT NOT NULL DEFAULT 'en',
            duration_s REAL NOT NULL,
            speech_s REAL NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            UNIQUE (recording_sha256, channels, options_key)
        )""",
        """CREATE TABLE segments (
            id INTEGER PRIMARY KEY,
            transcript_id INTEGER NOT NULL REFERENCES transcripts(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            speaker TEXT NOT NULL,
            channel INTEGER,
            start_s REAL NOT NULL,
            end_s REAL NOT NULL,
            text TEXT NOT NULL,
            avg_logprob REAL NOT NULL DEFAULT 0,
            no_speech_prob REAL NOT NULL DEFAULT 0,
            UNIQUE (transcript_id, idx)
        )""",
        """CREATE TABLE words (
            transcript_id INTEGER NOT NULL REFERENCES transcripts(id) ON DELETE CASCADE,
            segment_idx INTEGER NOT NULL,
            idx INTEGER NOT NULL,
            text TEXT NOT NULL,
            start_s REAL NOT NULL,
            end_s REAL NOT NULL,
            probability REAL NOT NULL,
            speaker TEXT NOT NULL,
            PRIMARY KEY (transcript_id, segment_idx, idx)
        ) WITHOUT ROWID""",
        """CREATE TABLE scripts (
            content_hash TEXT PRIMARY KEY,
            id TEXT NOT NULL,
            version TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            language TEXT NOT NULL DEFAULT 'en',
            path TEXT,
            source TEXT NOT NULL,
            first_seen_at TEXT NOT NULL
        )""",
        "CREATE INDEX idx_scripts_id_version ON scripts (id, version)",
        """CREATE TABLE calls (
            call_id TEXT PRIMARY KEY,
            file TEXT NOT NULL,
            path TEXT,
            recording_sha256 TEXT NOT NULL REFERENCES recordings(sha256),
            transcript_id INTEGER NOT NULL REFERENCES transcripts(id),
            agent_id TEXT NOT NULL DEFAULT 'unknown',
            agent_name TEXT,
            team TEXT,
            script_id TEXT,
            started_at TEXT,
            channels TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}',
            duration_s REAL,
            run_id INTEGER,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX idx_calls_agent_id ON calls (agent_id)",
        "CREATE INDEX idx_calls_team ON calls (team)",
        "CREATE INDEX idx_calls_file ON calls (file)",
        "CREATE INDEX idx_calls_transcript_id ON calls (transcript_id)",
        """CREATE TABLE scores (
            call_id TEXT PRIMARY KEY REFERENCES calls(call_id) ON DELETE CASCADE,
            script_id TEXT NOT NULL,
            script_version TEXT NOT NULL,
            script_hash TEXT NOT NULL REFERENCES scripts(content_hash),
            score REAL NOT NULL,
            passed INTEGER NOT NULL,
            earned REAL NOT NULL,
            possible REAL NOT NULL,
            critical_failures TEXT NOT NULL DEFAULT '[]',
            model_id TEXT NOT NULL DEFAULT '',
            matcher_version TEXT NOT NULL,
            matcher_options TEXT NOT NULL DEFAULT '{}',
            transcription_options TEXT NOT NULL DEFAULT '{}',
            run_id INTEGER,
            scored_at TEXT NOT NULL
        )""",
        "CREATE INDEX idx_scores_script_id ON scores (script_id)",
        """CREATE TABLE item_results (
            call_id TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            item_id TEXT NOT NULL,
            section TEXT,
            kind TEXT NOT NULL,
            status TEXT NOT NULL,
            flags TEXT NOT NULL DEFAULT '[]',
            confidence REAL NOT NULL,
            start_s REAL,
            end_s REAL,
            evidence TEXT NOT NULL DEFAULT '',
            speaker TEXT,
            detail TEXT NOT NULL DEFAULT '',
            weight REAL NOT NULL DEFAULT 1,
            critical INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (call_id, position)
        )""",
        "CREATE INDEX idx_item_results_item ON item_results (item_id, status)",
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            pid INTEGER,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            command TEXT NOT NULL,
            drop_dir TEXT,
            options TEXT NOT NULL DEFAULT '{}',
            versions TEXT NOT NULL DEFAULT '{}',
            counts TEXT,
            status TEXT NOT NULL
        )""",
        """CREATE TABLE failures (
            id INTEGER PRIMARY KEY,
            run_id INTEGER,
            file TEXT NOT NULL,
            call_id TEXT,
            stage TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_at TEXT NOT NULL,
            resolved_at TEXT,
            resolution TEXT
        )""",
        "CREATE INDEX idx_failures_file ON failures (file)",
        "CREATE INDEX idx_failures_run_id ON failures (run_id)",
    ]
    for statement in statements:
        db.execute(statement)


@MIGRATIONS(name="m002_segments_fts")
def _m002_segments_fts(db: sqlite_utils.Database) -> None:
    # Porter stemming: searching "cancel" finds "cancelling"; triggers keep the index in step.
    db["segments"].enable_fts(["text"], create_triggers=True, tokenize="porter")


@MIGRATIONS(name="m003_item_results_wording")
def _m003_item_results_wording(db: sqlite_utils.Database) -> None:
    # JSON of a WordingDiff (verbatim items); NULL for every other verdict and for older rows.
    db.execute("ALTER TABLE item_results ADD COLUMN wording TEXT")


@MIGRATIONS(name="m004_score_history")
def _m004_score_history(db: sqlite_utils.Database) -> None:
    # Every scoring of a call is kept: a new row per (re)scoring, the latest marked current = 1.
    # Item results belong to one score row (score_id), so earlier verdicts stay readable.
    db.execute("ALTER TABLE scores RENAME TO scores_m003")
    db.execute("ALTER TABLE item_results RENAME TO item_results_m003")
    for index in ("idx_scores_script_id", "idx_item_results_item"):
        db.execute(f"DROP INDEX IF EXISTS {index}")
    db.execute(
        """CREATE TABLE scores (
            id INTEGER PRIMARY KEY,
            call_id TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
            current INTEGER NOT NULL DEFAULT 1,
            script_id TEXT NOT NULL,
            script_version TEXT NOT NULL,
            script_hash TEXT NOT NULL REFERENCES scripts(content_hash),
            score REAL NOT NULL,
            passed INTEGER NOT NULL,
            earned REAL NOT NULL,
            possible REAL NOT NULL,
            critical_failures TEXT NOT NULL DEFAULT '[]',
            model_id TEXT NOT NULL DEFAULT '',
            matcher_version TEXT NOT NULL,
            matcher_options TEXT NOT NULL DEFAULT '{}',
            transcription_options TEXT NOT NULL DEFAULT '{}',
            run_id INTEGER,
            scored_at TEXT NOT NULL
        )"""
    )
    db.execute(
        "INSERT INTO scores (call_id, current, script_id, script_version, script_hash, score, passed, earned,"
        " possible, critical_failures, model_id, matcher_version, matcher_options, transcription_options, run_id,"
        " scored_at) SELECT call_id, 1, script_id, script_version, script_hash, score, passed, earned, possible,"
        " critical_failures, model_id, matcher_version, matcher_options, transcription_options, run_id, scored_at"
        " FROM scores_m003"
    )
    db.execute("CREATE UNIQUE INDEX idx_scores_current ON scores (call_id) WHERE current = 1")
    db.execute("CREATE INDEX idx_scores_call_id ON scores (call_id, id)")
    db.execute("CREATE INDEX idx_scores_script_id ON scores (script_id)")
    db.execute(
        """CREATE TABLE item_results (
            score_id INTEGER NOT NULL REFERENCES scores(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            call_id TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
            item_id TEXT NOT NULL,
            section TEXT,
            kind TEXT NOT NULL,
            status TEXT NOT NULL,
            flags TEXT NOT NULL DEFAULT '[]',
            confidence REAL NOT NULL,
            start_s REAL,
            end_s REAL,
            evidence TEXT NOT NULL DEFAULT '',
            speaker TEXT,
            detail TEXT NOT NULL DEFAULT '',
            weight REAL NOT NULL DEFAULT 1,
            critical INTEGER NOT NULL DEFAULT 0,
            wording TEXT,
            PRIMARY KEY (score_id, position)
        )"""
    )
    db.execute(
        "INSERT INTO item_results (score_id, position, call_id, item_id, section, kind, status, flags, confidence,"
        " start_s, end_s, evidence, speaker, detail, weight, critical, wording)"
        " SELECT s.id, r.position, r.call_id, r.item_id, r.section, r.kind, r.status, r.flags, r.confidence,"
        " r.start_s, r.end_s, r.evidence, r.speaker, r.detail, r.weight, r.critical, r.wording"
        " FROM item_results_m003 r JOIN scores s ON s.call_id = r.call_id"
    )
    db.execute("CREATE INDEX idx_item_results_item ON item_results (item_id, status)")
    db.execute("CREATE INDEX idx_item_results_call_id ON item_results (call_id)")
    db.execute("DROP TABLE item_results_m003")
    db.execute("DROP TABLE scores_m003")


@MIGRATIONS(name="m005_failure_ledger")
def _m005_failure_ledger(db: sqlite_utils.Database) -> None:
    # fingerprint: sha256 of the failing file when it could be read, so "the same file failing the
    # same way" can be told from a new failure; last_run_id: the latest run that saw it fail.
    db.execute("ALTER TABLE failures ADD COLUMN fingerprint TEXT")
    db.execute("ALTER TABLE failures ADD COLUMN last_run_id INTEGER")
    db.execute("UPDATE failures SET last_run_id = run_id")


# --------------------------------------------------------------------------- the store


@dataclass(frozen=True)
class CallState:
    """What a stored call was last produced from: the pipeline compares it to decide what to redo."""

    call_id: str
    file: str
    recording_sha256: str
    transcript_id: int
    script_hash: str | None  # None: the call has no score yet
    matcher_version: str | None
    options_key: str  # TranscriptionOptions.key() of its transcript
    channels: str  # channel layout of its transcript
    script_id: str | None = None  # the script used for the score (not the manifest's script_id)
    matcher_options: dict[str, Any] = field(default_factory=dict)
    score: CallScore | None = None  # the stored score, as score_call made it
    duration_s: float | None = None


class Store:
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
        if conn.in_transaction:  # nested use: a savepoint inside the outer transaction
            with self.db.atomic():
                yield
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            raise StoreError(f"{self.name}: cannot {what}: {e}") from e
        try:
            yield
        except sqlite3.Error as e:
            self.db.rollback()
            raise StoreError(f"{self.name}: cannot {what}: {e}") from e
        except BaseException:
            self.db.rollback()
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            self.db.rollback()
            raise StoreError(f"{self.name}: cannot {what}: {e}") from e

    # ----------------------------------------------------------------- run lock

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the database for one run: `LockedError` if another process holds it.

        The lock is an OS file lock on "<db>.lock" (flock), so the kernel releases it when the holder
        dies, however it dies: a killed run never blocks the next. The file itself stays; it holds the
        holder's pid and start time, for the message. No-op for in-memory databases.
        """
        if self.path is None:
            yield
            return
        lock_path = Path(f"{self.path}.lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise StoreError(f"cannot create lock file {lock_path}: {e.strerror or e}") from e
        try:
            if not _try_lock(fd):
                holder = _read_holder(fd)
                raise LockedError(
                    f"{self.path} is being used by another `qa run` ({holder}); wait for it to finish "
                    f"and try again (the lock in {lock_path.name} is freed as soon as that process ends)"
                )
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()} {_now()}\n".encode(), 0)
                self._mark_interrupted_runs()
                yield
            finally:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                _unlock(fd)
        finally:
            os.close(fd)

    def _mark_interrupted_runs(self) -> None:
        """Runs left "running" by a process that is gone (killed, crashed) become "interrupted"."""
        rows = self.db.execute("SELECT id, pid FROM runs WHERE status = 'running'").fetchall()
        dead = [run_id for run_id, pid in rows if pid != os.getpid() and not _process_alive(pid)]
        if dead:
            with self._transaction("mark interrupted runs"):
                self.db.execute(
                    f"UPDATE runs SET status = 'interrupted' WHERE id IN ({', '.join('?' for _ in dead)})", dead
                )
            log.info("%s: runs %s were interrupted", self.name, ", ".join(map(str, dead)))

    # ----------------------------------------------------------------- runs and failures

    def start_run(self, *, command: str, drop_dir: str | None, options: dict, versions: dict) -> int:
        with self._transaction("record the run"):
            cursor = self.db.execute(
                "INSERT INTO runs (pid, started_at, command, drop_dir, options, versions, status)"
                " VALUES (?, ?, ?, ?, ?, ?, 'running')",
                [os.getpid(), _now(), command, None if drop_dir is None else str(drop_dir), _json(options),
                 _json(versions)],
            )
            return int(cursor.lastrowid)

    def finish_run(self, run_id: int, *, counts: dict, status: str = "finished") -> None:
        with self._transaction("record the end of the run"):
            self.db.execute(
                "UPDATE runs SET finished_at = ?, counts = ?, status = ? WHERE id = ?",
                [_now(), _json(counts), status, run_id],
            )

    def runs(self, *, limit: int | None = None) -> list[dict]:
        """Every run (or the latest `limit`), oldest first; JSON columns decoded."""
        sql = "SELECT * FROM runs ORDER BY id"
        if limit is not None:
            sql = f"SELECT * FROM ({sql} DESC LIMIT {int(limit)}) ORDER BY id"
        return [_decode(row, ("options", "versions", "counts")) for row in self.db.query(sql)]

    def save_failure(self, *, run_id: int | None, file: str, call_id: str | None, stage: str, reason: str,
                     fingerprint: str | None = None) -> bool:
        """Record that `file` failed at `stage`; True when this is a new failure.

        The same file (same `fingerprint`, the sha256 of its bytes when it could be read) failing the
        same way as its open or acknowledged failure is not new: that failure is marked as seen by
        this run. Anything else supersedes the file's older failures.
        """
        now = _now()
        with self._transaction(f"record the failure of {file}"):
            known = self.db.execute(
                "SELECT id, stage, reason, fingerprint FROM failures WHERE file = ?"
                " AND (resolved_at IS NULL OR resolution = 'acknowledged') ORDER BY id DESC LIMIT 1",
                [file],
            ).fetchone()
            if known is not None and tuple(known[1:]) == (stage, reason, fingerprint):
                self.db.execute("UPDATE failures SET last_run_id = ? WHERE id = ?", [run_id, known[0]])
                return False
            self.db.execute(
                "UPDATE failures SET resolved_at = ?, resolution = 'superseded'"
                " WHERE file = ? AND (resolved_at IS NULL OR resolution = 'acknowledged')",
                [now, file],
            )
            self.db.execute(
                "INSERT INTO failures (run_id, last_run_id, file, call_id, stage, reason, fingerprint, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, run_id, file, call_id, stage, reason, fingerprint, now],
            )
            return True

    def clear_failures(self, file: str) -> None:
        """`file` succeeded: its open failures are marked resolved (kept as history, not listed)."""
        with self._transaction(f"clear the failures of {file}"):
            self._resolve_failures(file)

    def _resolve_failures(self, file: str) -> None:
        self.db.execute(
            "UPDATE failures SET resolved_at = ?, resolution = 'succeeded'"
            " WHERE file = ? AND (resolved_at IS NULL OR resolution = 'acknowledged')",
            [_now(), file],
        )

    def failures(self, *, run_id: int | None = None, include_resolved: bool = False) -> list[dict]:
        """The open failures (one per failing file), or every failure a run saw, or all of them."""
        if run_id is not None:
            rows = self.db.query("SELECT * FROM failures WHERE run_id = ? OR last_run_id = ? ORDER BY id",
                                 [run_id, run_id])
        elif include_resolved:
            rows = self.db.query("SELECT * FROM failures ORDER BY id")
        else:
            rows = self.db.query("SELECT * FROM failures WHERE resolved_at IS NULL ORDER BY file, id")
        return list(rows)

    def close_failures(self, ids: list[int] | None, *, resolution: str) -> list[dict]:
        """Close open failures (`ids`, or all when None) as "acknowledged" or "retry"; returns them.

        Acknowledged: not listed, and the same file failing the same way stays quiet. Retry: the
        failure is forgotten, so the next run reports that file afresh if it fails again.
        """
        if resolution not in ("acknowledged", "retry"):
            raise ValueError(resolution)
        with self._transaction(f"mark failures {resolution}"):
            open_rows = {r["id"]: r for r in self.db.query("SELECT * FROM failures WHERE resolved_at IS NULL")}
            if ids is None:
                chosen = sorted(open_rows)
            else:
                unknown = [i for i in ids if i not in open_rows]
                if unknown:
                    raise ReportError(f"{self.name}: no open failure with id {', '.join(map(str, unknown))} "
                                      "(`qa failures` lists the open ones)")
                chosen = list(dict.fromkeys(ids))
            now = _now()
            for failure_id in chosen:
                self.db.execute("UPDATE failures SET resolved_at = ?, resolution = ? WHERE id = ?",
                                [now, resolution, failure_id])
        return [open_rows[i] for i in chosen]

    # ----------------------------------------------------------------- scripts and transcripts

    def save_script(self, script: Script) -> None:
        """Store a script version by content hash (a no-op when it is already stored).

        A script that loads is no longer failing: open failures of its file (stage "script") are resolved.
        """
        with self._transaction(f"store script {script.id}"):
            self._upsert_script(script)
            if script.path:
                self.db.execute(
                    "UPDATE failures SET resolved_at = ?, resolution = 'succeeded'"
                    " WHERE file = ? AND stage = 'script' AND resolved_at IS NULL",
                    [_now(), script.path],
                )

    def _upsert_script(self, script: Script) -> None:
        if not script.content_hash:
            raise StoreError(f"script '{script.id}' has no content_hash; load it with load_script()")
        self.db.execute(
            "INSERT INTO scripts (content_hash, id, version, name, language, path, source, first_seen_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (content_hash) DO UPDATE SET path = excluded.path",
            [
                script.content_hash,
                script.id,
                script.version,
                script.name,
                script.language,
                script.path,
                script.source,
                _now(),
            ],
        )

    def script_source(self, content_hash: str) -> str | None:
        """The YAML text of a stored script version."""
        row = self.db.execute("SELECT source FROM scripts WHERE content_hash = ?", [content_hash]).fetchone()
        return row[0] if row else None

    def find_transcript(
        self, recording_sha256: str, *, channels: str, options_key: str
    ) -> tuple[int, Transcript] | None:
        """The stored transcript of a recording made with these channels and options, if any."""
        row = self.db.execute(
            "SELECT id FROM transcripts WHERE recording_sha256 = ? AND channels = ? AND options_key = ?",
            [recording_sha256, channels, options_key],
        ).fetchone()
        if row is None:
            return None
        return int(row[0]), self.load_transcript(int(row[0]))

    def load_transcript(self, transcript_id: int) -> Transcript:
        """Rebuild a stored transcript: segments, words, speakers, options."""
        rows = list(self.db.query("SELECT * FROM transcripts WHERE id = ?", [transcript_id]))
        if not rows:
            raise StoreError(f"{self.name}: no transcript with id {transcript_id}")
        t = rows[0]
        words: dict[int, list[Word]] = {}
        for w in self.db.execute(
            "SELECT segment_idx, text, start_s, end_s, probability, speaker FROM words"
            " WHERE transcript_id = ? ORDER BY segment_idx, idx",
            [transcript_id],
        ):
            words.setdefault(w[0], []).append(
                Word(text=w[1], start=w[2], end=w[3], probability=w[4], speaker=w[5])
            )
        segments = tuple(
            Segment(
                text=s[1],
                start=s[2],
                end=s[3],
                speaker=s[4],
                words=tuple(words.get(s[0], ())),
                avg_logprob=s[5],
                no_speech_prob=s[6],
                channel=s[7],
            )
            for s in self.db.execute(
                "SELECT idx, text, start_s, end_s, speaker, avg_logprob, no_speech_prob, channel"
                " FROM segments WHERE transcript_id = ? ORDER BY idx",
                [transcript_id],
            )
        )
        return Transcript(
            segments=segments,
            duration_s=t["duration_s"],
            channels=t["channels"],
            options=_options(json.loads(t["options"])),
            language=t["language"],
            model_id=t["model_id"],
            compute_type=t["compute_type"],
            device=t["device"],
            speech_s=t["speech_s"],
        )

    def _save_transcript(self, recording_sha256: str, transcript: Transcript) -> int:
        options_key = transcript.options.key()
        values = [
            _json(dataclasses.asdict(transcript.options)),
            transcript.model_id,
            transcript.device,
            transcript.compute_type,
            transcript.language,
            transcript.duration_s,
            transcript.speech_s,
            _now(),
        ]
        row = self.db.execute(
            "SELECT id FROM transcripts WHERE recording_sha256 = ? AND channels = ? AND options_key = ?",
            [recording_sha256, transcript.channels, options_key],
        ).fetchone()
        if row is not None:
            # Same recording, layout and options transcribed again: replace it in place, so calls
            # that point at it see the new text.
            transcript_id = int(row[0])
            self.db.execute("DELETE FROM words WHERE transcript_id = ?", [transcript_id])
            self.db.execute("DELETE FROM segments WHERE transcript_id = ?", [transcript_id])
            self.db.execute(
                "UPDATE transcripts SET options = ?, model_id = ?, device = ?, compute_type = ?, language = ?,"
                " duration_s = ?, speech_s = ?, created_at = ? WHERE id = ?",
                [*values, transcript_id],
            )
        else:
            cursor = self.db.execute(
                "INSERT INTO transcripts (recording_sha256, channels, options_key, options, model_id, device,"
                " compute_type, language, duration_s, speech_s, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [recording_sha256, transcript.channels, options_key, *values],
            )
            transcript_id = int(cursor.lastrowid)
        self.db.conn.executemany(
            "INSERT INTO segments (transcript_id, idx, speaker, channel, start_s, end_s, text, avg_logprob,"
            " no_speech_prob) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (transcript_id, i, s.speaker, s.channel, s.start, s.end, s.text, s.avg_logprob, s.no_speech_prob)
                for i, s in enumerate(transcript.segments)
            ],
        )
        self.db.conn.executemany(
            "INSERT INTO words (transcript_id, segment_idx, idx, text, start_s, end_s, probability, speaker)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (transcript_id, i, j, w.text, w.start, w.end, w.probability, w.speaker)
                for i, s in enumerate(transcript.segments)
                for j, w in enumerate(s.words)
            ],
        )
        return transcript_id

    # ----------------------------------------------------------------- calls

    def call_state(self, call_id: str) -> CallState | None:
        rows = list(
            self.db.query(
                "SELECT c.call_id, c.file, c.recording_sha256, c.transcript_id, t.options_key, t.channels,"
                " c.duration_s, s.script_hash, s.script_id, s.matcher_version, s.matcher_options, s.score, s.passed,"
                " s.earned, s.possible, s.critical_failures"
                " FROM calls c JOIN transcripts t ON t.id = c.transcript_id"
                " LEFT JOIN scores s ON s.call_id = c.call_id AND s.current = 1 WHERE c.call_id = ?",
                [call_id],
            )
        )
        if not rows:
            return None
        r = rows[0]
        return CallState(
            call_id=r["call_id"],
            file=r["file"],
            recording_sha256=r["recording_sha256"],
            transcript_id=r["transcript_id"],
            script_hash=r["script_hash"],
            matcher_version=r["matcher_version"],
            options_key=r["options_key"],
            channels=r["channels"],
            script_id=r["script_id"],
            matcher_options=json.loads(r["matcher_options"]) if r["matcher_options"] else {},
            score=None
            if r["score"] is None
            else CallScore(
                score=r["score"],
                passed=bool(r["passed"]),
                earned=r["earned"],
                possible=r["possible"],
                critical_failures=tuple(json.loads(r["critical_failures"])),
            ),
            duration_s=r["duration_s"],
        )

    def save_call(
        self,
        *,
        run_id: int,
        call: CallInfo,
        recording_sha256: str,
        size: int,
        source_channels: int,
        transcript: Transcript,
        transcript_id: int | None,
        script: Script,
        results: list[ItemResult],
        score: CallScore,
        matcher_version: str,
        matcher_options: dict,
    ) -> int:
        """Store one analysed call in one transaction; return the id of its transcript.

        `transcript_id` given: that stored transcript is reused (nothing of it is written again).
        A successful save also resolves the open failures of `call.file`.
        """
        now = _now()
        with self._transaction(f"store call {call.call_id} ({call.file})"):
            self.db.execute(
                "INSERT INTO recordings (sha256, size, duration_s, source_channels, first_seen_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (sha256) DO UPDATE SET size = excluded.size,"
                " duration_s = excluded.duration_s, source_channels = excluded.source_channels",
                [recording_sha256, size, transcript.duration_s, source_channels, now],
            )
            if transcript_id is None:
                transcript_id = self._save_transcript(recording_sha256, transcript)
            elif self.db.execute("SELECT 1 FROM transcripts WHERE id = ?", [transcript_id]).fetchone() is None:
                raise StoreError(f"{self.name}: call {call.call_id}: no stored transcript with id {transcript_id}")
            self._upsert_script(script)
            self.db.execute(
                "INSERT INTO calls (call_id, file, path, recording_sha256, transcript_id, agent_id, agent_name,"
                " team, script_id, started_at, channels, metadata, duration_s, run_id, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (call_id) DO UPDATE SET file = excluded.file, path = excluded.path,"
                " recording_sha256 = excluded.recording_sha256, transcript_id = excluded.transcript_id,"
                " agent_id = excluded.agent_id, agent_name = excluded.agent_name, team = excluded.team,"
                " script_id = excluded.script_id, started_at = excluded.started_at,"
                " channels = excluded.channels, metadata = excluded.metadata,"
                " duration_s = excluded.duration_s, run_id = excluded.run_id, updated_at = excluded.updated_at",
                [
                    call.call_id,
                    call.file,
                    call.path,
                    recording_sha256,
                    transcript_id,
                    call.agent_id,
                    call.agent_name,
                    call.team,
                    call.script_id,
                    call.started_at,
                    transcript.channels,
                    _json(dict(call.metadata)),
                    transcript.duration_s,
                    run_id,
                    now,
                    now,
                ],
            )
            self._save_score(
                run_id=run_id,
                call_id=call.call_id,
                script=script,
                results=results,
                score=score,
                matcher_version=matcher_version,
                matcher_options=matcher_options,
                transcript=transcript,
            )
            self._resolve_failures(call.file)
        return transcript_id

    def save_rescore(
        self,
        *,
        run_id: int,
        call_id: str,
        script: Script,
        results: list[ItemResult],
        score: CallScore,
        matcher_version: str,
        matcher_options: dict,
    ) -> None:
        """Replace a stored call's score and item results (one transaction); its transcript is kept."""
        with self._transaction(f"store the new score of call {call_id}"):
            row = self.db.execute("SELECT transcript_id FROM calls WHERE call_id = ?", [call_id]).fetchone()
            if row is None:
                raise StoreError(f"{self.name}: no stored call '{call_id}' to rescore")
            t = self.db.execute("SELECT model_id, options FROM transcripts WHERE id = ?", [row[0]]).fetchone()
            self._upsert_script(script)
            self._save_score(
                run_id=run_id,
                call_id=call_id,
                script=script,
                results=results,
                score=score,
                matcher_version=matcher_version,
                matcher_options=matcher_options,
                model_id=t[0],
                transcription_options=t[1],
            )

    def _save_score(
        self,
        *,
        run_id: int,
        call_id: str,
        script: Script,
        results: list[ItemResult],
        score: CallScore,
        matcher_version: str,
        matcher_options: dict,
        transcript: Transcript | None = None,
        model_id: str = "",
        transcription_options: str = "{}",
    ) -> None:
        if transcript is not None:
            model_id = transcript.model_id
            transcription_options = _json(dataclasses.asdict(transcript.options))
        self.db.execute("UPDATE scores SET current = 0 WHERE call_id = ? AND current = 1", [call_id])
        cursor = self.db.execute(
            "INSERT INTO scores (call_id, current, script_id, script_version, script_hash, score, passed,"
            " earned, possible, critical_failures, model_id, matcher_version, matcher_options,"
            " transcription_options, run_id, scored_at) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                call_id,
                script.id,
                script.version,
                script.content_hash,
                score.score,
                int(score.passed),
                score.earned,
                score.possible,
                _json(list(score.critical_failures)),
                model_id,
                matcher_version,
                _json(matcher_options),
                transcription_options,
                run_id,
                _now(),
            ],
        )
        score_id = int(cursor.lastrowid)
        self.db.conn.executemany(
            "INSERT INTO item_results (score_id, position, call_id, item_id, section, kind, status, flags,"
            " confidence, start_s, end_s, evidence, speaker, detail, weight, critical, wording)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    score_id,
                    position,
                    call_id,
                    r.item_id,
                    r.section,
                    r.kind,
                    r.status,
                    _json(list(r.flags)),
                    r.confidence,
                    r.start_s,
                    r.end_s,
                    r.evidence,
                    r.speaker,
                    r.detail,
                    r.weight,
                    int(r.critical),
                    None if r.wording is None else _json(_wording_dict(r.wording)),
                )
                for position, r in enumerate(results)
            ],
        )

    def count_calls(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def calls_for_rescore(self) -> Iterator[tuple[CallInfo, Transcript, str | None]]:
        """Every stored call (by call_id) with its transcript and the id of the script its current
        score was made with (None: never scored), read one at a time.

        The ids are read first, so saving rescores while iterating is safe.
        """
        call_ids = [row[0] for row in self.db.execute("SELECT call_id FROM calls ORDER BY call_id")]
        for call_id in call_ids:
            rows = list(self.db.query(
                "SELECT c.*, s.script_id AS used_script_id FROM calls c"
                " LEFT JOIN scores s ON s.call_id = c.call_id AND s.current = 1 WHERE c.call_id = ?", [call_id]))
            if not rows:  # deleted meanwhile
                continue
            row = rows[0]
            yield _call_info(row), self.load_transcript(row["transcript_id"]), row["used_script_id"]

    def call_info(self, call_id: str) -> CallInfo | None:
        rows = list(self.db.query("SELECT * FROM calls WHERE call_id = ?", [call_id]))
        return _call_info(rows[0]) if rows else None

    # ----------------------------------------------------------------- reading results

    def export_calls(
        self,
        *,
        agent_id: str | None = None,
        team: str | None = None,
        script_id: str | None = None,
        call_id: str | None = None,
    ) -> list[dict]:
        """Scored calls in the export shape of CONTRACT.md §4 (plus extra keys), by started_at, call_id."""
        where, params = _filters(agent_id=agent_id, team=team, script_id=script_id, call_id=call_id)
        calls = list(
            self.db.query(
                "SELECT c.*, s.script_id AS used_script_id, s.script_version, s.script_hash, s.score, s.passed,"
                " s.earned, s.possible, s.critical_failures, s.model_id, s.matcher_version, s.matcher_options,"
                " s.transcription_options, s.run_id AS score_run_id, s.scored_at"
                " FROM calls c JOIN scores s ON s.call_id = c.call_id AND s.current = 1"
                f" WHERE {where} ORDER BY c.started_at IS NULL, c.started_at, c.call_id",
                params,
            )
        )
        items: dict[str, list[dict]] = {}
        for r in self.db.query(
            "SELECT r.* FROM item_results r JOIN calls c ON c.call_id = r.call_id"
            " JOIN scores s ON s.id = r.score_id AND s.current = 1"
            f" WHERE {where} ORDER BY r.call_id, r.position",
            params,
        ):
            items.setdefault(r["call_id"], []).append(
                {
                    "item_id": r["item_id"],
                    "section": r["section"],
                    "kind": r["kind"],
                    "status": r["status"],
                    "flags": json.loads(r["flags"]),
                    "confidence": r["confidence"],
                    "start_s": r["start_s"],
                    "end_s": r["end_s"],
                    "evidence": r["evidence"],
                    "speaker": r["speaker"],
                    "detail": r["detail"],
                    "weight": r["weight"],
                    "critical": bool(r["critical"]),
                    "wording": None if r["wording"] is None else json.loads(r["wording"]),
                }
            )
        return [
            {
                "call_id": c["call_id"],
                "file": c["file"],
                "agent_id": c["agent_id"],
                "team": c["team"],
                "script_id": c["used_script_id"],
                "script_version": c["script_version"],
                "duration_s": c["duration_s"],
                "score": c["score"],
                "passed": bool(c["passed"]),
                "items": items.get(c["call_id"], []),
                "agent_name": c["agent_name"],
                "started_at": c["started_at"],
                "channels": c["channels"],
                "metadata": json.loads(c["metadata"]),
                "earned": c["earned"],
                "possible": c["possible"],
                "critical_failures": json.loads(c["critical_failures"]),
                "script_hash": c["script_hash"],
                "model_id": c["model_id"],
                "transcription_options": json.loads(c["transcription_options"]),
                "matcher_version": c["matcher_version"],
                "matcher_options": json.loads(c["matcher_options"]),
                "recording_sha256": c["recording_sha256"],
                "run_id": c["score_run_id"],
                "scored_at": c["scored_at"],
            }
            for c in calls
        ]

    def call_transcript(self, call_id: str) -> Transcript | None:
        """The transcript a stored call was scored from (None: no such call)."""
        row = self.db.execute("SELECT transcript_id FROM calls WHERE call_id = ?", [call_id]).fetchone()
        return None if row is None else self.load_transcript(int(row[0]))

    def score_history(self, call_id: str) -> list[dict]:
        """Every scoring of a call, newest first: score row keys plus `current` and `items`
        ({item_id, kind, status, confidence} in script order)."""
        scores = list(self.db.query(
            "SELECT id, current, script_id, script_version, script_hash, score, passed, earned, possible,"
            " critical_failures, model_id, matcher_version, run_id, scored_at FROM scores"
            " WHERE call_id = ? ORDER BY id DESC", [call_id]))
        items: dict[int, list[dict]] = {}
        for r in self.db.query(
            "SELECT score_id, item_id, kind, status, confidence FROM item_results WHERE call_id = ?"
            " ORDER BY score_id, position", [call_id]):
            items.setdefault(r.pop("score_id"), []).append(r)
        for row in scores:
            row["current"] = bool(row["current"])
            row["passed"] = bool(row["passed"])
            row["critical_failures"] = json.loads(row["critical_failures"])
            row["items"] = items.get(row["id"], [])
        return scores

    def agent_exists(self, agent_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM calls WHERE agent_id = ? LIMIT 1", [agent_id]).fetchone() is not None

    def agents(self) -> list[dict]:
        """Every agent with calls: agent_id, agent_name (latest known), team, calls."""
        return list(
            self.db.query(
                "SELECT agent_id, MAX(agent_name) AS agent_name, MAX(team) AS team, COUNT(*) AS calls"
                " FROM calls GROUP BY agent_id ORDER BY agent_id"
            )
        )

    def item_stats(self, *, agent_id: str | None = None, team: str | None = None) -> list[dict]:
        """Outcome counts per (script_id, item_id, kind) over the scored calls of an agent, a team or all.

        Keys: script_id, item_id, kind, section, critical, weight, calls, met, partial, missed,
        not_applicable, violated, late, out_of_order. Ordered by script_id, then script order.
        """
        where, params = _filters(agent_id=agent_id, team=team)
        rows = self.db.query(
            "SELECT s.script_id, r.item_id, r.kind, MAX(r.section) AS section, MAX(r.critical) AS critical,"
            " MAX(r.weight) AS weight, COUNT(*) AS calls,"
            " SUM(r.status = 'met') AS met, SUM(r.status = 'partial') AS partial,"
            " SUM(r.status = 'missed') AS missed, SUM(r.status = 'not_applicable') AS not_applicable,"
            " SUM(r.status = 'violated') AS violated,"
            " SUM(EXISTS (SELECT 1 FROM json_each(r.flags) WHERE value = 'late')) AS late,"
            " SUM(EXISTS (SELECT 1 FROM json_each(r.flags) WHERE value = 'out_of_order')) AS out_of_order,"
            " MIN(r.position) AS first_position"
            " FROM item_results r JOIN calls c ON c.call_id = r.call_id"
            " JOIN scores s ON s.id = r.score_id AND s.current = 1"
            f" WHERE {where} GROUP BY s.script_id, r.item_id, r.kind"
            " ORDER BY s.script_id, first_position, r.item_id",
            params,
        )
        out = []
        for row in rows:
            row.pop("first_position")
            row["critical"] = bool(row["critical"])
            out.append(row)
        return out

    def example_calls(
        self, agent_id: str, item_id: str, *, statuses: tuple[str, ...], limit: int = 3
    ) -> list[dict]:
        """Recent calls of an agent where `item_id` had one of `statuses`, with the evidence."""
        if not statuses:
            return []
        marks = ", ".join("?" for _ in statuses)
        rows = self.db.query(
            "SELECT c.call_id, c.file, c.started_at, r.status, r.flags, r.confidence, r.start_s, r.end_s,"
            " r.evidence, r.detail, r.wording FROM item_results r JOIN calls c ON c.call_id = r.call_id"
            " JOIN scores s ON s.id = r.score_id AND s.current = 1"
            f" WHERE c.agent_id = ? AND r.item_id = ? AND r.status IN ({marks})"
            " ORDER BY c.started_at IS NULL, c.started_at DESC, c.call_id LIMIT ?",
            [agent_id, item_id, *statuses, limit],
        )
        return [
            {**row, "flags": json.loads(row["flags"]), "wording": None if row["wording"] is None
             else json.loads(row["wording"])}
            for row in rows
        ]

    def search(self, query: str, *, limit: int = 20) -> list[dict]:
        """Full-text search of what was said (every word must appear; stemmed), best matches first."""
        terms = ['"' + t.replace('"', "") + '"' for t in query.split() if t.replace('"', "")]
        if not terms:
            return []
        try:
            return list(
                self.db.query(
                    "SELECT c.call_id, c.file, c.agent_id, seg.speaker, seg.start_s, seg.end_s, seg.text"
                    " FROM segments_fts JOIN segments seg ON seg.id = segments_fts.rowid"
                    " JOIN calls c ON c.transcript_id = seg.transcript_id"
                    " WHERE segments_fts MATCH ? ORDER BY segments_fts.rank, c.call_id, seg.start_s LIMIT ?",
                    [" ".join(terms), limit],
                )
            )
        except sqlite3.OperationalError as e:
            raise StoreError(f"{self.name}: search {query!r} failed: {e}") from e


# --------------------------------------------------------------------------- helpers


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _decode(row: dict, columns: tuple[str, ...]) -> dict:
    for column in columns:
        if row.get(column) is not None:
            row[column] = json.loads(row[column])
    return row


def _wording_dict(diff: WordingDiff) -> dict:
    """A WordingDiff as stored and exported: substituted pairs become two-element lists."""
    return {
        "fidelity": diff.fidelity,
        "approved": diff.approved,
        "dropped": list(diff.dropped),
        "substituted": [list(pair) for pair in diff.substituted],
        "added": list(diff.added),
    }


def _options(data: dict) -> TranscriptionOptions:
    known = {f.name for f in dataclasses.fields(TranscriptionOptions)}
    return TranscriptionOptions(**{k: v for k, v in data.items() if k in known})


def _call_info(row: dict) -> CallInfo:
    return CallInfo(
        path=row["path"] or "",
        file=row["file"],
        call_id=row["call_id"],
        agent_id=row["agent_id"],
        agent_name=row["agent_name"],
        team=row["team"],
        script_id=row["script_id"],
        started_at=row["started_at"],
        channels=row["channels"],
        metadata=tuple(json.loads(row["metadata"]).items()),
    )


def _filters(**values: str | None) -> tuple[str, list[str]]:
    columns = {"agent_id": "c.agent_id", "team": "c.team", "script_id": "s.script_id", "call_id": "c.call_id"}
    clauses, params = ["1"], []
    for name, value in values.items():
        if value is not None:
            clauses.append(f"{columns[name]} = ?")
            params.append(value)
    return " AND ".join(clauses), params


def _database_file(db: sqlite_utils.Database) -> Path | None:
    for row in db.execute("PRAGMA database_list").fetchall():
        if row[1] == "main":
            return Path(row[2]) if row[2] else None
    return None


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:
        import msvcrt

        with contextlib.suppress(OSError):
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(fd, fcntl.LOCK_UN)


def _process_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but is not ours, or cannot tell: leave it alone
    return True


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
    except (OSError, AttributeError):
        text = []
    if len(text) >= 2:
        return f"pid {text[0]}, started at {text[1]}"
    return "pid unknown"
