"""The schema: ordered, named sqlite-utils migrations; the only place the tables are defined.

Never edit or reorder a migration once released: append a new one (docs/storage.md, "Migrations").
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

__all__ = ["MIGRATIONS"]

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


@MIGRATIONS(name="m006_overrides")
def _m006_overrides(db: sqlite_utils.Database) -> None:
    # Reviewers' overrides, kept for ever: a later override of the same item supersedes the earlier
    # one (superseded_at, superseded_by). Each override makes a new score row (score_id) whose
    # item results carry the reviewer's status, with the machine's in automatic_status.
    db.execute(
        """CREATE TABLE overrides (
            id INTEGER PRIMARY KEY,
            call_id TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
            item_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            automatic TEXT NOT NULL,
            status TEXT NOT NULL,
            reason TEXT NOT NULL,
            reviewer TEXT NOT NULL,
            created_at TEXT NOT NULL,
            score_id INTEGER REFERENCES scores(id),
            superseded_at TEXT,
            superseded_by INTEGER REFERENCES overrides(id)
        )"""
    )
    db.execute("CREATE INDEX idx_overrides_call_id ON overrides (call_id, item_id)")
    db.execute(
        "CREATE UNIQUE INDEX idx_overrides_active ON overrides (call_id, item_id, kind) WHERE superseded_at IS NULL"
    )
    # the ids of the overrides a score row applied ('[]': the machine's verdicts as they are)
    db.execute("ALTER TABLE scores ADD COLUMN overrides TEXT NOT NULL DEFAULT '[]'")
    # an overridden verdict: the machine's status and the override applied (NULL: not overridden)
    db.execute("ALTER TABLE item_results ADD COLUMN automatic_status TEXT")
    db.execute("ALTER TABLE item_results ADD COLUMN override_id INTEGER")
    # roll-ups and the review app filter calls by vendor (a manifest column) and date
    db.execute("CREATE INDEX idx_calls_vendor ON calls (json_extract(metadata, '$.vendor'))")
    db.execute("CREATE INDEX idx_calls_started_at ON calls (started_at)")
