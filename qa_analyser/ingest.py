"""Drop folders: find the recordings, read the manifest, derive call metadata, hash content.

A drop folder holds recordings (any of ``RECORDING_EXTENSIONS``, in sub-folders too) and
optionally ``manifest.csv`` at its root (contract §2). Files that are not recordings are skipped
and counted. A manifest row that cannot be used is reported as a problem for that file (or for
the manifest line), never stopping the rest of the folder.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from .datatypes import CHANNEL_LAYOUTS, CallInfo
from .errors import ConfigError, ManifestError

log = logging.getLogger("qa_analyser")

RECORDING_EXTENSIONS = frozenset({".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a"})
MANIFEST_NAME = "manifest.csv"
MANIFEST_COLUMNS = ("file", "call_id", "agent_id", "agent_name", "team", "script_id", "started_at", "channels")
PATTERN_FIELDS = frozenset(MANIFEST_COLUMNS) - {"file"}


@dataclass(frozen=True)
class Problem:
    """A file (or manifest line) that could not be taken into the run, and why."""

    file: str
    reason: str
    call_id: str | None = None
    stage: str = "ingest"


@dataclass(frozen=True)
class DropFolder:
    """What a drop folder holds: the calls to analyse, the skipped files and the problems found."""

    root: str
    calls: tuple[CallInfo, ...]
    skipped: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = field(default=())


def compile_name_pattern(pattern: str | None) -> re.Pattern[str] | None:
    """Compile a file-name pattern: a regular expression with named groups among the manifest columns.

    It is matched against the file's path relative to the drop folder (forward slashes), e.g.
    ``(?P<team>[^/]+)/(?P<agent_id>[^_]+)_(?P<call_id>[^.]+)``.
    """
    if not pattern:
        return None
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise ConfigError(f"file-name pattern {pattern!r} is not a valid regular expression: {e}") from None
    unknown = set(rx.groupindex) - PATTERN_FIELDS
    if unknown:
        raise ConfigError(
            f"file-name pattern {pattern!r} has unknown group(s) {', '.join(sorted(unknown))}; "
            f"allowed: {', '.join(sorted(PATTERN_FIELDS))}"
        )
    return rx


def sha256_file(path: str | Path, *, chunk_size: int = 1 << 20) -> tuple[str, int]:
    """Content hash and size of a file (recordings are identified by content, not name)."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def read_manifest(path: Path) -> tuple[dict[str, tuple[int, dict[str, str]]], list[Problem]]:
    """Rows of a manifest keyed by their ``file`` column: {file: (line, row)}, plus the problems found.

    Raises ManifestError only when the manifest as a whole is unusable (unreadable, no ``file`` column).
    """
    name = path.name
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise ManifestError(f"{path}: cannot read the manifest: {e}") from None
    reader = csv.reader(text.splitlines())
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ManifestError(f"{path}: the manifest is empty (expected a header line starting with 'file')") from None
    except csv.Error as e:
        raise ManifestError(f"{path}:1: cannot parse the header: {e}") from None
    if "file" not in header:
        raise ManifestError(f"{path}:1: the manifest has no 'file' column (header: {','.join(header)})")
    rows: dict[str, tuple[int, dict[str, str]]] = {}
    problems: list[Problem] = []
    seen_ids: dict[str, int] = {}
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            problems.append(Problem(file=name, reason=f"{path}:{reader.line_num}: cannot parse the row: {e}"))
            continue
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        where = f"{path}:{line}"
        if len(values) != len(header):
            file_guess = values[0].strip() if values and values[0].strip() else name
            problems.append(Problem(
                file=file_guess,
                reason=f"{where}: the row has {len(values)} columns, the header has {len(header)}",
            ))
            rows.setdefault(file_guess, (line, {"__invalid__": "1"}))
            continue
        row = {h: v.strip() for h, v in zip(header, values)}
        file = row.get("file", "").replace("\\", "/")
        while file.startswith("./"):
            file = file[2:]
        if not file:
            problems.append(Problem(file=name, reason=f"{where}: the row has an empty 'file' column"))
            continue
        channels = _clean(row.get("channels"))
        if channels is not None and channels not in CHANNEL_LAYOUTS:
            problems.append(Problem(
                file=file, call_id=_clean(row.get("call_id")),
                reason=f"{where}: unknown channels value {channels!r} (expected one of {', '.join(CHANNEL_LAYOUTS)})",
            ))
            rows[file] = (line, {"__invalid__": "1"})
            continue
        call_id = _clean(row.get("call_id"))
        if call_id is not None and call_id in seen_ids:
            problems.append(Problem(
                file=file, call_id=call_id,
                reason=f"{where}: call_id {call_id!r} is already used on line {seen_ids[call_id]}",
            ))
            rows[file] = (line, {"__invalid__": "1"})
            continue
        if call_id is not None:
            seen_ids[call_id] = line
        if file in rows:
            problems.append(Problem(file=file, reason=f"{where}: the file is already listed on line {rows[file][0]}"))
            continue
        rows[file] = (line, row)
    return rows, problems


def _call_from_row(path: Path, rel: str, row: dict[str, str], default_call_id: str) -> CallInfo:
    extra = tuple((k, v) for k, v in row.items() if k not in MANIFEST_COLUMNS and v != "")
    return CallInfo(
        path=str(path),
        file=rel,
        call_id=_clean(row.get("call_id")) or default_call_id,
        agent_id=_clean(row.get("agent_id")) or "unknown",
        agent_name=_clean(row.get("agent_name")),
        team=_clean(row.get("team")),
        script_id=_clean(row.get("script_id")),
        started_at=_clean(row.get("started_at")),
        channels=_clean(row.get("channels")),  # type: ignore[arg-type]
        metadata=extra,
    )


def scan_drop_folder(drop_dir: str | Path, *, name_pattern: str | None = None) -> DropFolder:
    """List the calls of a drop folder, in a stable order (by relative path)."""
    root = Path(drop_dir)
    if not root.is_dir():
        raise ConfigError(f"drop folder {root} does not exist or is not a folder")
    rx = compile_name_pattern(name_pattern)
    manifest_path = root / MANIFEST_NAME
    rows: dict[str, tuple[int, dict[str, str]]] = {}
    problems: list[Problem] = []
    if manifest_path.is_file():
        rows, problems = read_manifest(manifest_path)

    recordings: list[tuple[str, Path]] = []
    skipped: list[str] = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p == manifest_path:
            continue
        rel = p.relative_to(root).as_posix()
        if any(part.startswith(".") for part in p.relative_to(root).parts):
            continue  # hidden files and folders (e.g. .DS_Store, partial uploads)
        if p.suffix.lower() in RECORDING_EXTENSIONS:
            recordings.append((rel, p))
        else:
            skipped.append(rel)

    present = {rel for rel, _ in recordings}
    for file, (line, _row) in rows.items():
        if file not in present and not any(pr.file == file for pr in problems):
            problems.append(Problem(file=file, reason=f"{manifest_path}:{line}: listed in the manifest but not found in {root}"))

    # Default call ids are file stems; where two files share a stem the relative path is used.
    stems: dict[str, int] = {}
    for rel, p in recordings:
        stems[p.stem] = stems.get(p.stem, 0) + 1

    calls: list[CallInfo] = []
    for rel, p in recordings:
        default_id = p.stem if stems[p.stem] == 1 else rel.rsplit(".", 1)[0]
        if rel in rows:
            line, row = rows[rel]
            if "__invalid__" in row:
                continue  # already reported as a problem
            calls.append(_call_from_row(p, rel, row, default_id))
            continue
        meta: dict[str, str] = {}
        if rx is not None:
            m = rx.search(rel)
            if m:
                meta = {k: v for k, v in m.groupdict().items() if v}
            else:
                log.warning("%s does not match the file-name pattern; using defaults", rel)
        channels = meta.get("channels")
        if channels is not None and channels not in CHANNEL_LAYOUTS:
            problems.append(Problem(file=rel, reason=f"{rel}: file-name pattern gave unknown channels {channels!r}"))
            continue
        calls.append(_call_from_row(p, rel, meta, default_id))

    ids: dict[str, str] = {}
    unique: list[CallInfo] = []
    for c in calls:
        if c.call_id in ids:
            problems.append(Problem(file=c.file, call_id=c.call_id,
                                    reason=f"{c.file}: call_id {c.call_id!r} is also used by {ids[c.call_id]}"))
            continue
        ids[c.call_id] = c.file
        unique.append(c)
    return DropFolder(root=str(root), calls=tuple(unique), skipped=tuple(skipped), problems=tuple(problems))
