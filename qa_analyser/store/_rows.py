"""Row helpers shared by the store's modules: timestamps, JSON columns, row → dataclass."""

from __future__ import annotations

import dataclasses
import functools
import json
from datetime import datetime, timezone
from typing import Any

from ..datatypes import CallInfo, TranscriptionOptions, WordingDiff


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def decode(row: dict, columns: tuple[str, ...]) -> dict:
    for column in columns:
        if row.get(column) is not None:
            row[column] = json.loads(row[column])
    return row


@functools.lru_cache(maxsize=4096)
def json_tuple(text: str) -> tuple:
    """A JSON list column (flags) as a tuple; parsed once per distinct text."""
    return tuple(json.loads(text))


@functools.lru_cache(maxsize=1024)
def _json_object(text: str) -> dict:
    return json.loads(text)


def json_object(text: str) -> dict:
    """A JSON object column (options), parsed once per distinct text; a fresh copy each time."""
    return dict(_json_object(text))


def wording_from_json(text: str | None) -> WordingDiff | None:
    """A stored wording diff (JSON) as a WordingDiff; None for NULL."""
    if text is None:
        return None
    d = json.loads(text)
    return WordingDiff(
        fidelity=float(d.get("fidelity") or 0.0),
        approved=d.get("approved") or "",
        dropped=tuple(d.get("dropped") or ()),
        substituted=tuple(tuple(p) for p in d.get("substituted") or ()),
        added=tuple(d.get("added") or ()),
        uncertain=tuple(tuple(p) for p in d.get("uncertain") or ()),
    )


def transcription_options(data: dict) -> TranscriptionOptions:
    known = {f.name for f in dataclasses.fields(TranscriptionOptions)}
    return TranscriptionOptions(**{k: v for k, v in data.items() if k in known})


def call_info(row: dict) -> CallInfo:
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


_FILTERS = {
    "agent_id": "c.agent_id = ?",
    "team": "c.team = ?",
    "vendor": "json_extract(c.metadata, '$.vendor') = ?",  # indexed (m006)
    "script_id": "s.script_id = ?",
    "call_id": "c.call_id = ?",
    "since": "c.started_at >= ?",
    "until": "c.started_at < ?",
}


def filters(**values: str | None) -> tuple[str, list[str]]:
    """A WHERE clause over calls `c` and current scores `s`; None values are left out."""
    clauses, params = ["1"], []
    for name, value in values.items():
        if value is not None:
            clauses.append(_FILTERS[name])
            params.append(str(value))
    return " AND ".join(clauses), params
