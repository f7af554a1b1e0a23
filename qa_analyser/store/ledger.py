"""The run and failure ledger: which runs happened and how they ended, which files failed and why.

A failure is new unless the same file (same fingerprint) already failed the same way and that
failure is still open or was acknowledged; see docs/storage.md ("Failures").
"""

from __future__ import annotations

import logging
import os

from ..errors import ReportError
from ._rows import decode, now, to_json
from .lock import process_alive

log = logging.getLogger("qa_analyser")


class LedgerMixin:
    """Runs and failures (part of `Store`)."""

    def start_run(self, *, command: str, drop_dir: str | None, options: dict, versions: dict) -> int:
        with self._transaction("record the run"):
            cursor = self.db.execute(
                "INSERT INTO runs (pid, started_at, command, drop_dir, options, versions, status)"
                " VALUES (?, ?, ?, ?, ?, ?, 'running')",
                [os.getpid(), now(), command, None if drop_dir is None else str(drop_dir), to_json(options),
                 to_json(versions)],
            )
            return int(cursor.lastrowid)

    def finish_run(self, run_id: int, *, counts: dict, status: str = "finished") -> None:
        with self._transaction("record the end of the run"):
            self.db.execute(
                "UPDATE runs SET finished_at = ?, counts = ?, status = ? WHERE id = ?",
                [now(), to_json(counts), status, run_id],
            )

    def runs(self, *, limit: int | None = None) -> list[dict]:
        """Every run (or the latest `limit`), oldest first; JSON columns decoded."""
        sql = "SELECT * FROM runs ORDER BY id"
        if limit is not None:
            sql = f"SELECT * FROM ({sql} DESC LIMIT {int(limit)}) ORDER BY id"
        return [decode(row, ("options", "versions", "counts")) for row in self.db.query(sql)]

    def save_failure(self, *, run_id: int | None, file: str, call_id: str | None, stage: str, reason: str,
                     fingerprint: str | None = None) -> bool:
        """Record that `file` failed at `stage`; True when this is a new failure.

        The same file (same `fingerprint`, the sha256 of its bytes when it could be read) failing the
        same way as its open or acknowledged failure is not new: that failure is marked as seen by
        this run. Anything else supersedes the file's older failures.
        """
        stamp = now()
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
                [stamp, file],
            )
            self.db.execute(
                "INSERT INTO failures (run_id, last_run_id, file, call_id, stage, reason, fingerprint, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, run_id, file, call_id, stage, reason, fingerprint, stamp],
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
            [now(), file],
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
            stamp = now()
            for failure_id in chosen:
                self.db.execute("UPDATE failures SET resolved_at = ?, resolution = ? WHERE id = ?",
                                [stamp, resolution, failure_id])
        return [open_rows[i] for i in chosen]

    def _mark_interrupted_runs(self) -> None:
        """Runs left "running" by a process that is gone (killed, crashed) become "interrupted"."""
        rows = self.db.execute("SELECT id, pid FROM runs WHERE status = 'running'").fetchall()
        dead = [run_id for run_id, pid in rows if pid != os.getpid() and not process_alive(pid)]
        if dead:
            with self._transaction("mark interrupted runs"):
                self.db.execute(
                    f"UPDATE runs SET status = 'interrupted' WHERE id IN ({', '.join('?' for _ in dead)})", dead
                )
            log.info("%s: runs %s were interrupted", self.name, ", ".join(map(str, dead)))
