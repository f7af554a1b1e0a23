"""Reviewers' overrides: a verdict corrected by a person, with who, when, why, and the machine's verdict
kept beside it.

An override adds a score row (the call re-scored with the reviewer's status) in the same transaction;
every later scoring of the call (`qa run` re-matching it, `qa rescore`) applies the active overrides
again (writes.py). Where the machine's verdict under an override has changed since the override was
made, the override is listed by `override_conflicts()` for a reviewer to look at again.
"""

from __future__ import annotations

import dataclasses
import json

from ..datatypes import ITEM_STATUSES, ItemResult, Override, OverrideConflict
from ..errors import OverrideError, ScriptError, StoreError
from ..score import score_call
from ._rows import json_tuple, now, wording_from_json

PROHIBITED_PREFIX = "prohibited:"  # `qa override C prohibited:ID ...` names a prohibited rule sharing an item's id


def override_from_row(r: dict) -> Override:
    return Override(call_id=r["call_id"], item_id=r["item_id"], automatic=r["automatic"], status=r["status"],
                    reason=r["reason"], reviewer=r["reviewer"], at=r["created_at"], id=r["id"], kind=r["kind"],
                    superseded_at=r["superseded_at"], superseded_by=r["superseded_by"])


ITEM_COLUMNS = ("r.item_id, r.section, r.kind, r.status, r.confidence, r.flags, r.start_s, r.end_s, r.evidence,"
                " r.speaker, r.detail, r.weight, r.critical, r.wording")


def item_result_from_tuple(t: tuple) -> ItemResult:
    """A stored verdict as it stands (the reviewer's status where overridden), from ITEM_COLUMNS."""
    return ItemResult(
        item_id=t[0], section=t[1], kind=t[2], status=t[3], confidence=t[4], flags=json_tuple(t[5]),
        start_s=t[6], end_s=t[7], evidence=t[8], speaker=t[9], detail=t[10], weight=t[11], critical=bool(t[12]),
        wording=wording_from_json(t[13]),
    )


class OverridesMixin:
    """Overrides (part of `Store`)."""

    def override(self, call_id: str, item_id: str, status: str, *, reason: str, reviewer: str) -> Override:
        """Store a reviewer's status for one item of a call's current score and re-score the call with it
        (one transaction). An earlier override of the same item is superseded (kept in the history).

        `item_id` may be written ``prohibited:ID`` for a prohibited rule that shares an item's id.
        `OverrideError` (naming call and item) for an unknown call or item, a status the item cannot
        have, an empty reason or reviewer.
        """
        where = f"call {call_id!r}, item {item_id!r}"
        reason, reviewer, status = (reason or "").strip(), (reviewer or "").strip(), (status or "").strip().lower()
        if not reason:
            raise OverrideError(f"{where}: give the reason for the override")
        if not reviewer:
            raise OverrideError(f"{where}: give the reviewer's name")
        want_prohibited = None
        if item_id.lower().startswith(PROHIBITED_PREFIX):
            item_id, want_prohibited = item_id[len(PROHIBITED_PREFIX):].strip(), True
        with self._transaction(f"store the override of {where}"):
            current = next(iter(self.db.query(
                "SELECT * FROM scores WHERE call_id = ? AND current = 1", [call_id])), None)
            if current is None:
                exists = self.db.execute("SELECT 1 FROM calls WHERE call_id = ?", [call_id]).fetchone()
                raise OverrideError(f"call {call_id!r} has no score to override" if exists
                                    else f"no call {call_id!r} in {self.name}")
            automatic = [
                # the machine's verdicts under any earlier overrides
                item_result_from_tuple(row[1:]) if row[0] is None
                else dataclasses.replace(item_result_from_tuple(row[1:]), status=row[0])
                for row in self.db.execute(
                    f"SELECT r.automatic_status, {ITEM_COLUMNS} FROM item_results r WHERE r.score_id = ?"
                    " ORDER BY r.position", [current["id"]])
            ]
            found = [r for r in automatic if r.item_id == item_id
                     and (want_prohibited is None or (r.kind == "prohibited") == want_prohibited)]
            if not found:
                known = ", ".join(("prohibited:" if r.kind == "prohibited" else "") + r.item_id for r in automatic)
                raise OverrideError(f"{where}: the call's script {current['script_id']} v{current['script_version']}"
                                    f" has no such item (it has: {known})")
            if len(found) > 1:
                raise OverrideError(f"{where}: both an item and a prohibited rule have this id; write "
                                    f"prohibited:{item_id} for the rule")
            target = found[0]
            allowed = ITEM_STATUSES[target.kind]
            if status not in allowed:
                raise OverrideError(f"{where}: {status!r} is not a status of a {target.kind} "
                                    f"{'rule' if target.kind == 'prohibited' else 'item'} "
                                    f"(expected {', '.join(allowed)})")
            stamp = now()
            previous = self.db.execute(
                "SELECT id FROM overrides WHERE call_id = ? AND item_id = ? AND kind = ? AND superseded_at IS NULL",
                [call_id, item_id, target.kind]).fetchone()
            if previous is not None:
                # superseded first: one active override per item (a unique index holds it)
                self.db.execute("UPDATE overrides SET superseded_at = ? WHERE id = ?", [stamp, previous[0]])
            cursor = self.db.execute(
                "INSERT INTO overrides (call_id, item_id, kind, automatic, status, reason, reviewer, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [call_id, item_id, target.kind, target.status, status, reason, reviewer, stamp])
            override_id = int(cursor.lastrowid)
            if previous is not None:
                self.db.execute("UPDATE overrides SET superseded_by = ? WHERE id = ?", [override_id, previous[0]])
            script = self._stored_script(current["script_hash"])
            _, score_id = self._save_score(
                run_id=current["run_id"], call_id=call_id, script=script, results=automatic,
                score=score_call(automatic, pass_mark=script.pass_mark),
                matcher_version=current["matcher_version"], matcher_options=json.loads(current["matcher_options"]),
                model_id=current["model_id"], transcription_options=current["transcription_options"])
            self.db.execute("UPDATE overrides SET score_id = ? WHERE id = ?", [score_id, override_id])
        return Override(call_id=call_id, item_id=item_id, automatic=target.status, status=status, reason=reason,
                        reviewer=reviewer, at=stamp, id=override_id, kind=target.kind)

    def _stored_script(self, content_hash: str):
        from ..scripts import script_from_source

        row = self.db.execute("SELECT source, path, id FROM scripts WHERE content_hash = ?",
                              [content_hash]).fetchone()
        if row is None:
            raise StoreError(f"{self.name}: no stored script with content hash {content_hash[:12]}")
        try:
            return script_from_source(row[0], path=row[1] or f"(stored script {row[2]})")
        except ScriptError as e:
            raise StoreError(f"{self.name}: the stored script {row[2]} no longer loads: {e}") from e

    def _active_overrides(self, call_id: str) -> list[Override]:
        return [override_from_row(r) for r in self.db.query(
            "SELECT * FROM overrides WHERE call_id = ? AND superseded_at IS NULL ORDER BY id", [call_id])]

    def overrides(self, call_id: str | None = None, *, include_superseded: bool = False) -> list[Override]:
        """Overrides, oldest first: the active ones (each item's latest), or every one ever made."""
        clauses, params = ["1"], []
        if call_id is not None:
            clauses.append("call_id = ?")
            params.append(call_id)
        if not include_superseded:
            clauses.append("superseded_at IS NULL")
        return [override_from_row(r) for r in self.db.query(
            f"SELECT * FROM overrides WHERE {' AND '.join(clauses)} ORDER BY id", params)]

    def override_conflicts(self) -> list[OverrideConflict]:
        """Active overrides whose automatic verdict is no longer the one the reviewer overrode (a later
        rescore changed it, or the item left the script): `automatic_now` None for an item that left."""
        out = []
        for r in self.db.query(
            "SELECT o.*, s.scored_at AS now_scored_at,"
            " (SELECT COALESCE(ir.automatic_status, ir.status) FROM item_results ir WHERE ir.score_id = s.id"
            "  AND ir.item_id = o.item_id AND ir.kind = o.kind LIMIT 1) AS automatic_now"
            " FROM overrides o JOIN scores s ON s.call_id = o.call_id AND s.current = 1"
            " WHERE o.superseded_at IS NULL ORDER BY o.call_id, o.id"
        ):
            if r["automatic_now"] != r["automatic"]:
                out.append(OverrideConflict(override=override_from_row(r), automatic_now=r["automatic_now"],
                                            scored_at=r["now_scored_at"]))
        return out
