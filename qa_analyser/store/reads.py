"""Reads: what the pipeline needs to decide what to redo, and what exports and reports show.

Exports and reports read a call's current score; `score_history` reads all of them.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..datatypes import CallInfo, CallScore, ItemResult, Override, Segment, StoredCall, Transcript, Word
from ..errors import StoreError
from ._rows import call_info, filters, json_object, transcription_options
from .overrides import ITEM_COLUMNS, item_result_from_tuple, override_from_row


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


class ReadsMixin:
    """Reading results (part of `Store`)."""

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
            options=transcription_options(json.loads(t["options"])),
            language=t["language"],
            model_id=t["model_id"],
            compute_type=t["compute_type"],
            device=t["device"],
            speech_s=t["speech_s"],
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
            yield call_info(row), self.load_transcript(row["transcript_id"]), row["used_script_id"]

    def rescore_states(self) -> list[tuple[str, str | None, str | None, str | None, str | None, dict[str, Any]]]:
        """(call_id, the manifest's script_id, and of its current score: script_id, script_hash,
        matcher_version, matcher_options) of every call (Nones: never scored), in one query: what
        `qa rescore` compares to skip unchanged calls."""
        rows = self.db.execute(
            "SELECT c.call_id, c.script_id, s.script_id, s.script_hash, s.matcher_version, s.matcher_options"
            " FROM calls c LEFT JOIN scores s ON s.call_id = c.call_id AND s.current = 1 ORDER BY c.call_id").fetchall()
        options: dict[str, dict[str, Any]] = {}  # the same options text is decoded once
        return [(cid, msid, sid, sh, mv, options.setdefault(mo, json.loads(mo)) if mo else {})
                for cid, msid, sid, sh, mv, mo in rows]

    def call_for_rescore(self, call_id: str) -> tuple[CallInfo, Transcript] | None:
        """One stored call and its transcript (None: deleted meanwhile)."""
        rows = list(self.db.query("SELECT * FROM calls WHERE call_id = ?", [call_id]))
        if not rows:
            return None
        return call_info(rows[0]), self.load_transcript(rows[0]["transcript_id"])

    def stored_call(self, call_id: str) -> StoredCall | None:
        """One call with its current score, effective and automatic verdicts (None: no scored call)."""
        return next(self._stored_calls(call_id=call_id), None)

    def stored_calls(
        self,
        *,
        agent: str | None = None,
        team: str | None = None,
        vendor: str | None = None,
        script: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> Iterator[StoredCall]:
        """Scored calls, by started_at then call_id (calls without a start time last).

        `vendor` is the manifest's `vendor` column; `script` the script the call was scored against;
        `since` / `until`: started at or after / before this ISO date or time.
        """
        return self._stored_calls(agent_id=agent, team=team, vendor=vendor, script_id=script, since=since,
                                  until=until)

    def _stored_calls(self, **filter_values: str | None) -> Iterator[StoredCall]:
        where, params = filters(**filter_values)
        calls = list(self.db.query(
            "SELECT c.*, s.id AS score_id, s.script_id AS used_script_id, s.script_version, s.script_hash, s.score,"
            " s.passed, s.earned, s.possible, s.critical_failures, s.model_id, s.matcher_version,"
            " s.matcher_options, s.transcription_options, s.run_id AS score_run_id, s.scored_at"
            " FROM calls c JOIN scores s ON s.call_id = c.call_id AND s.current = 1"
            f" WHERE {where} ORDER BY c.started_at IS NULL, c.started_at, c.call_id",
            params,
        ))
        if not calls:
            return
        results: dict[str, list[ItemResult]] = {}
        automatic: dict[str, list[ItemResult]] = {}
        applied: dict[str, list[int]] = {}
        # tuples, not dicts, and JSON columns parsed once per distinct text: 100,000 verdicts load in about a second
        for row in self.db.execute(
            f"SELECT r.call_id, r.automatic_status, r.override_id, {ITEM_COLUMNS} FROM item_results r"
            " JOIN calls c ON c.call_id = r.call_id JOIN scores s ON s.id = r.score_id AND s.current = 1"
            f" WHERE {where} ORDER BY r.call_id, r.position",
            params,
        ):
            call_id, automatic_status, override_id = row[0], row[1], row[2]
            result = item_result_from_tuple(row[3:])
            results.setdefault(call_id, []).append(result)
            if automatic_status is not None:
                automatic.setdefault(call_id, []).append(dataclasses.replace(result, status=automatic_status))
                applied.setdefault(call_id, []).append(override_id)
            else:
                automatic.setdefault(call_id, []).append(result)
        overrides: dict[int, Override] = {}
        if applied:
            for r in self.db.query(
                "SELECT o.* FROM overrides o JOIN calls c ON c.call_id = o.call_id"
                " JOIN scores s ON s.call_id = c.call_id AND s.current = 1"
                f" WHERE {where} AND o.superseded_at IS NULL", params,
            ):
                overrides[r["id"]] = override_from_row(r)
        for c in calls:
            cid = c["call_id"]
            yield StoredCall(
                info=call_info(c),
                score=CallScore(score=c["score"], passed=bool(c["passed"]), earned=c["earned"],
                                possible=c["possible"], critical_failures=tuple(json.loads(c["critical_failures"]))),
                results=tuple(results.get(cid, ())),
                automatic=tuple(automatic.get(cid, ())),
                overrides=tuple(overrides[i] for i in applied.get(cid, ()) if i in overrides),
                script_id=c["used_script_id"],
                script_version=c["script_version"],
                scored_at=c["scored_at"],
                fingerprint=c["matcher_version"],
                duration_s=c["duration_s"],
                script_hash=c["script_hash"],
                model_id=c["model_id"],
                transcription_options=json_object(c["transcription_options"]),
                matcher_options=json_object(c["matcher_options"]),
                recording_sha256=c["recording_sha256"],
                run_id=c["score_run_id"],
                score_id=c["score_id"],
            )

    def export_calls(
        self,
        *,
        agent_id: str | None = None,
        team: str | None = None,
        script_id: str | None = None,
        call_id: str | None = None,
        vendor: str | None = None,
    ) -> list[dict]:
        """Scored calls in the export shape of docs/interfaces.md (`StoredCall.as_dict`), by started_at, call_id."""
        return [c.as_dict() for c in self._stored_calls(agent_id=agent_id, team=team, vendor=vendor,
                                                         script_id=script_id, call_id=call_id)]

    def call_transcript(self, call_id: str) -> Transcript | None:
        """The transcript a stored call was scored from (None: no such call)."""
        row = self.db.execute("SELECT transcript_id FROM calls WHERE call_id = ?", [call_id]).fetchone()
        return None if row is None else self.load_transcript(int(row[0]))

    def score_history(self, call_id: str) -> list[dict]:
        """Every scoring of a call, newest first: score row keys plus `current`, `overrides` (ids of the
        reviewers' overrides the row applied) and `items` ({item_id, kind, status, confidence} in script order)."""
        scores = list(self.db.query(
            "SELECT id, current, script_id, script_version, script_hash, score, passed, earned, possible,"
            " critical_failures, model_id, matcher_version, run_id, scored_at, overrides FROM scores"
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
            row["overrides"] = json.loads(row["overrides"])
            row["items"] = items.get(row["id"], [])
        return scores

    def agent_exists(self, agent_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM calls WHERE agent_id = ? LIMIT 1", [agent_id]).fetchone() is not None

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
