"""Privacy in the store: the per-database salt, redaction provenance, redacted audio, and `scrub`
(`qa redact`) for a database written before redaction existed."""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path

from ..errors import StoreError
from ..datatypes import wording_dict
from ._rows import now, to_json

log = logging.getLogger("qa_analyser")


class PrivacyMixin:
    """Part of `Store`."""

    def privacy_salt(self) -> bytes:
        """The salt of this database's privacy hashes (made once, on first use)."""
        row = self.db.execute("SELECT salt FROM privacy WHERE id = 1").fetchone()
        if row is None:
            with self._transaction("store the privacy salt"):
                self.db.execute("INSERT OR IGNORE INTO privacy (id, salt, created_at) VALUES (1, ?, ?)",
                                [secrets.token_hex(32), now()])
            row = self.db.execute("SELECT salt FROM privacy WHERE id = 1").fetchone()
        return bytes.fromhex(row[0])

    def transcript_redaction(self, transcript_id: int) -> dict | None:
        """How a stored transcript was redacted, or None when it was stored in the clear."""
        row = self.db.execute("SELECT redaction FROM transcripts WHERE id = ?", [transcript_id]).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def save_redacted_audio(self, call_id: str, recording_sha256: str, path: str, detector: str) -> None:
        with self._transaction(f"record the redacted audio of call {call_id}"):
            self.db.execute(
                "INSERT INTO redacted_audio (call_id, recording_sha256, path, detector, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (call_id) DO UPDATE SET recording_sha256 ="
                " excluded.recording_sha256, path = excluded.path, detector = excluded.detector,"
                " created_at = excluded.created_at",
                [call_id, recording_sha256, path, detector, now()])

    def redacted_audio_path(self, call_id: str) -> Path | None:
        """The redacted copy of a call's recording when one exists for its current recording (clips
        and `qa serve` play this instead of the original)."""
        row = self.db.execute(
            "SELECT r.path FROM redacted_audio r JOIN calls c ON c.call_id = r.call_id"
            " WHERE r.call_id = ? AND r.recording_sha256 = c.recording_sha256", [call_id]).fetchone()
        if row is None or not Path(row[0]).is_file():
            return None
        return Path(row[0])

    # ----------------------------------------------------------------- qa redact

    def scrub(self, *, policy) -> dict[str, int]:
        """Redact every stored transcript, the verdicts, score history and failures written in the clear
        (or by an older detector or policy). Returns counts. `compact` afterwards removes the old text
        from the index, the file's free pages and the WAL."""
        from ..privacy import DETECTOR_VERSION, redact_call
        from ..privacy.redact import allowed_numbers, redact_text

        salt = self.privacy_salt()
        counts = {"transcripts": 0, "values": 0, "verdicts": 0, "failures": 0, "override_reasons": 0}
        ids = [r[0] for r in self.db.execute("SELECT id, redaction FROM transcripts").fetchall()
               if not r[1] or json.loads(r[1]).get("detector") != DETECTOR_VERSION
               or json.loads(r[1]).get("policy") != policy.as_dict()]
        for tid in ids:
            transcript = self.load_transcript(tid)
            sources = [r[0] for r in self.db.execute(
                "SELECT DISTINCT sc.source FROM calls c JOIN scores s ON s.call_id = c.call_id"
                " JOIN scripts sc ON sc.content_hash = s.script_hash WHERE c.transcript_id = ?", [tid])]
            allowed = allowed_numbers(" ".join(sources))
            red = redact_call(transcript, [], policy=policy, salt=salt, allowed=allowed)
            spans = red.spans
            with self._transaction(f"redact transcript {tid}"):
                for si, seg in enumerate(red.transcript.segments):
                    self.db.execute("UPDATE segments SET text = ? WHERE transcript_id = ? AND idx = ?",
                                    [seg.text, tid, si])
                    for wi, w in enumerate(seg.words):
                        self.db.execute("UPDATE words SET text = ? WHERE transcript_id = ? AND segment_idx = ?"
                                        " AND idx = ?", [w.text, tid, si, wi])
                rows = self.db.execute(
                    "SELECT r.score_id, r.position, r.evidence, r.detail, r.wording, r.start_s, r.end_s"
                    " FROM item_results r JOIN calls c ON c.call_id = r.call_id WHERE c.transcript_id = ?",
                    [tid]).fetchall()
                for score_id, position, evidence, detail, wording, start_s, end_s in rows:
                    new = self._scrub_verdict(evidence, detail, wording, start_s, end_s, spans, policy, salt)
                    if new != (evidence, detail, wording):
                        counts["verdicts"] += 1
                        self.db.execute("UPDATE item_results SET evidence = ?, detail = ?, wording = ?"
                                        " WHERE score_id = ? AND position = ?", [*new, score_id, position])
                self.db.execute("UPDATE transcripts SET redaction = ? WHERE id = ?",
                                [to_json(red.provenance(policy) | {"applied_at": now(), "by": "qa redact"}), tid])
            counts["transcripts"] += 1
            counts["values"] += sum(red.counts.values())
        # failure reasons name files and errors, not speech, and reviewers' override reasons are their own
        # words; still, a value in one is removed
        from ..privacy.redact import find_spans_in_text

        for table in ("failures", "overrides"):
            for row_id, reason in self.db.execute(f"SELECT id, reason FROM {table}").fetchall():
                spans = find_spans_in_text(reason)
                if spans:
                    with self._transaction(f"redact a reason in {table}"):
                        self.db.execute(f"UPDATE {table} SET reason = ? WHERE id = ?",
                                        [redact_text(reason, spans, policy, salt, with_times=False), row_id])
                    counts["failures" if table == "failures" else "override_reasons"] += 1
        log.info("%s: redacted %d transcripts (%d values, %d verdicts)",
                 self.name, counts["transcripts"], counts["values"], counts["verdicts"])
        return counts

    def _scrub_verdict(self, evidence, detail, wording, start_s, end_s, spans, policy, salt):
        from ..datatypes import ItemResult, WordingDiff
        from ..privacy.redact import redact_results

        diff = None
        if wording:
            w = json.loads(wording)
            diff = WordingDiff(fidelity=w["fidelity"], approved=w["approved"], dropped=tuple(w["dropped"]),
                               substituted=tuple(tuple(p) for p in w["substituted"]), added=tuple(w["added"]),
                               uncertain=tuple(tuple(p) for p in w.get("uncertain", ())))
        r = ItemResult(item_id="", section=None, kind="required", status="met", confidence=0.0, start_s=start_s,
                       end_s=end_s, evidence=evidence or "", detail=detail or "", wording=diff)
        out = redact_results([r], spans, policy, salt)[0]
        return (out.evidence, out.detail,
                None if out.wording is None else to_json(wording_dict(out.wording)))

    def make_owner_only(self) -> list[str]:
        """chmod 0600 the database, its -wal, -shm and lock files where they are readable by others
        (a database made by another tool or an old copy); returns the files changed."""
        changed = []
        if self.path is None:
            return changed
        for p in (self.path, *(self.path.with_name(self.path.name + s) for s in ("-wal", "-shm", ".lock"))):
            try:
                if p.exists() and p.stat().st_mode & 0o077:
                    p.chmod(0o600)
                    changed.append(p.name)
            except OSError as e:
                raise StoreError(f"cannot make {p} owner-only: {e.strerror or e}") from e
        return changed

    def compact(self) -> None:
        """Rebuild the full-text index from the (redacted) segments, VACUUM, checkpoint and truncate the WAL:
        afterwards neither the file nor its -wal holds a page of deleted text."""
        try:
            self.db.execute("INSERT INTO segments_fts (segments_fts) VALUES ('rebuild')")
            self.db.execute("INSERT INTO segments_fts (segments_fts) VALUES ('optimize')")
            self.db.conn.commit()
            self.db.execute("VACUUM")
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except Exception as e:  # sqlite3.Error: name the database
            raise StoreError(f"{self.name}: cannot compact the database: {e}") from e
