"""Writes: scripts, transcripts, calls and their scores, each call in one transaction.

Every scoring adds a `scores` row (the latest has current = 1) with its own item results, so the
earlier verdicts of a call stay readable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ..paths import display_path
from ..datatypes import CallInfo, CallScore, ItemResult, Script, Transcript, wording_dict
from ..errors import StoreError
from ..score import apply_overrides, score_call
from ._rows import now, to_json


class WritesMixin:
    """Writing results (part of `Store`)."""

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
                    [now(), script.path],
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
                now(),
            ],
        )

    def _save_transcript(self, recording_sha256: str, transcript: Transcript) -> int:
        options_key = transcript.options.key()
        values = [
            to_json(dataclasses.asdict(transcript.options)),
            transcript.model_id,
            transcript.device,
            transcript.compute_type,
            transcript.language,
            transcript.duration_s,
            transcript.speech_s,
            now(),
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
        stamp = now()
        with self._transaction(f"store call {call.call_id} ({call.file})"):
            self.db.execute(
                "INSERT INTO recordings (sha256, size, duration_s, source_channels, first_seen_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (sha256) DO UPDATE SET size = excluded.size,"
                " duration_s = excluded.duration_s, source_channels = excluded.source_channels",
                [recording_sha256, size, transcript.duration_s, source_channels, stamp],
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
                    display_path(call.path),
                    recording_sha256,
                    transcript_id,
                    call.agent_id,
                    call.agent_name,
                    call.team,
                    call.script_id,
                    call.started_at,
                    transcript.channels,
                    to_json(dict(call.metadata)),
                    transcript.duration_s,
                    run_id,
                    stamp,
                    stamp,
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
    ) -> CallScore:
        """Add a new current score from the machine's verdicts (one transaction; the reviewers' active
        overrides are applied again) and return it; the transcript is kept."""
        with self._transaction(f"store the new score of call {call_id}"):
            row = self.db.execute("SELECT transcript_id FROM calls WHERE call_id = ?", [call_id]).fetchone()
            if row is None:
                raise StoreError(f"{self.name}: no stored call '{call_id}' to rescore")
            t = self.db.execute("SELECT model_id, options FROM transcripts WHERE id = ?", [row[0]]).fetchone()
            self._upsert_script(script)
            stored, _ = self._save_score(
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
        return stored

    def _save_score(
        self,
        *,
        run_id: int | None,
        call_id: str,
        script: Script,
        results: Sequence[ItemResult],
        score: CallScore,
        matcher_version: str,
        matcher_options: dict,
        transcript: Transcript | None = None,
        model_id: str = "",
        transcription_options: str = "{}",
    ) -> tuple[CallScore, int]:
        """Add a current score row from the machine's verdicts `results`, with the call's active
        overrides applied (the score is then made from the effective verdicts); return that score and
        the row's id."""
        if transcript is not None:
            model_id = transcript.model_id
            transcription_options = to_json(dataclasses.asdict(transcript.options))
        effective, applied = apply_overrides(results, self._active_overrides(call_id))
        if applied:
            score = score_call(effective, pass_mark=script.pass_mark)
        self.db.execute("UPDATE scores SET current = 0 WHERE call_id = ? AND current = 1", [call_id])
        cursor = self.db.execute(
            "INSERT INTO scores (call_id, current, script_id, script_version, script_hash, score, passed,"
            " earned, possible, critical_failures, model_id, matcher_version, matcher_options,"
            " transcription_options, run_id, scored_at, overrides)"
            " VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                call_id,
                script.id,
                script.version,
                script.content_hash,
                score.score,
                int(score.passed),
                score.earned,
                score.possible,
                to_json(list(score.critical_failures)),
                model_id,
                matcher_version,
                to_json(matcher_options),
                transcription_options,
                run_id,
                now(),
                to_json(sorted(o.id for o in applied.values())),
            ],
        )
        score_id = int(cursor.lastrowid)
        self.db.conn.executemany(
            "INSERT INTO item_results (score_id, position, call_id, item_id, section, kind, status, flags,"
            " confidence, start_s, end_s, evidence, speaker, detail, weight, critical, wording,"
            " automatic_status, override_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    score_id,
                    position,
                    call_id,
                    r.item_id,
                    r.section,
                    r.kind,
                    r.status,
                    to_json(list(r.flags)),
                    r.confidence,
                    r.start_s,
                    r.end_s,
                    r.evidence,
                    r.speaker,
                    r.detail,
                    r.weight,
                    int(r.critical),
                    None if r.wording is None else to_json(wording_dict(r.wording)),
                    results[position].status if position in applied else None,
                    applied[position].id if position in applied else None,
                )
                for position, r in enumerate(effective)
            ],
        )
        return score, score_id
