"""Drop folders: find the recordings, read the manifest, derive call metadata, hash content.

A drop folder holds recordings (any of ``RECORDING_EXTENSIONS``, in sub-folders too) and
optionally ``manifest.csv`` at its root. Files that are not recordings are skipped and counted.
A manifest row that cannot be used is reported as a problem for the file it names (or for the
manifest line), and that file is not analysed under a guessed identity; the rest of the folder
goes on.

What the scan does not take:

* symbolic links that lead outside the drop folder (or nowhere) are not followed: each is a
  problem naming the link, never quoting what it points to. Links inside the folder are followed
  for files; linked folders are not walked (they would list the same recordings twice);
* anything that is not a regular file (a FIFO named ``x.wav`` would block the decoder), and
  recordings larger than MAX_RECORDING_BYTES (they are not even hashed);
* hidden files and folders (names starting with ".").

File names that are not valid UTF-8 are named with ``\\xNN`` escapes (`paths.display_path`) in
``CallInfo.file``, call ids and messages; ``CallInfo.path`` keeps the name needed to open the file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .datatypes import CHANNEL_LAYOUTS, CallInfo
from .errors import ConfigError, ManifestError
from .paths import display_path, leaves_folder

log = logging.getLogger("qa_analyser")

RECORDING_EXTENSIONS = frozenset({".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a"})
MANIFEST_NAME = "manifest.csv"
MANIFEST_COLUMNS = ("file", "call_id", "agent_id", "agent_name", "team", "script_id", "started_at", "channels")
PATTERN_FIELDS = frozenset(MANIFEST_COLUMNS) - {"file"}
MAX_VALUE_CHARS = 1000  # a manifest value longer than this is not an id, a name or a date
# A recording larger than this is not read (not even hashed): 4 GiB holds over 4 hours (the longest
# call accepted, audio.MAX_DURATION_S) of 48 kHz stereo 24-bit PCM.
MAX_RECORDING_BYTES = 4 << 30

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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


@dataclass
class Manifest:
    """A manifest as read: usable rows by file, the files whose row is unusable, the problems."""

    source: str = MANIFEST_NAME  # the manifest's path, as messages show it
    rows: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)  # file -> (line, row)
    blocked: dict[str, int] = field(default_factory=dict)  # file -> line; reported, never analysed
    problems: list[Problem] = field(default_factory=list)

    def block(self, file: str, line: int, why: str, call_id: str | None = None) -> None:
        """Record a problem for `file` and keep it out of the run (its identity is not known)."""
        self.problems.append(Problem(file=file, call_id=call_id, reason=f"{self.source}:{line}: {file}: {why}"))
        self.blocked.setdefault(file, line)
        self.rows.pop(file, None)


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


def _shown(value: str) -> str:
    """A manifest value as a message may quote it: control characters as \\xNN."""
    return _CONTROL_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", value)


def _file_column(value: str) -> str:
    file = _shown(value.strip().replace("\\", "/"))
    while file.startswith("./"):
        file = file[2:]
    return file


def read_manifest(path: Path) -> Manifest:
    """Read a manifest: rows keyed by their ``file`` column, the files whose row is unusable, problems.

    Raises ManifestError only when the manifest as a whole is unusable (unreadable, no single
    ``file`` column). A row that cannot be parsed, has the wrong number of columns, a value with a
    NUL or control character, an unknown ``channels``, a ``started_at`` that is not ISO 8601, or
    a call_id or file used before, makes its file a problem: that file is not analysed, since its
    identity is not known (a guessed one would store it as a second call once the row is fixed).
    """
    name = path.name
    shown_path = display_path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise ManifestError(f"{shown_path}:{line}: the manifest is not UTF-8 text (save it as UTF-8)") from None
    except OSError as e:
        raise ManifestError(f"{shown_path}: cannot read the manifest: {e.strerror or e}") from None
    # physical lines as csv reads them (\n, \r or \r\n kept), so a value that runs over lines shows it
    lines = list(io.StringIO(text, newline=""))
    reader = csv.reader(lines)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ManifestError(
            f"{shown_path}: the manifest is empty (expected a header line starting with 'file')"
        ) from None
    except csv.Error as e:
        raise ManifestError(f"{shown_path}:1: cannot parse the header: {e}") from None
    if header.count("file") != 1:
        if "file" not in header:
            raise ManifestError(
                f"{shown_path}:1: the manifest has no 'file' column (header: {_shown(','.join(header))[:200]})"
            )
        raise ManifestError(f"{shown_path}:1: the manifest header names the 'file' column more than once")
    file_index = header.index("file")
    repeated = sorted({h for h in header if header.count(h) > 1})
    header_problem = None
    if repeated:
        header_problem = (
            f"the header (line 1) names column(s) {', '.join(repr(_shown(h)) for h in repeated)} more than "
            "once, so this row's values cannot be told apart; fix the header"
        )

    manifest = Manifest(source=shown_path)
    seen_ids: dict[str, int] = {}
    seen_files: dict[str, int] = {}
    previous_end = reader.line_num

    def files_on_lines(first: int, last: int) -> list[tuple[int, str]]:
        """The file named on each physical line of a row that cannot be parsed, as far as it can be read."""
        out = []
        for number in range(first, min(last, len(lines)) + 1):
            try:
                cells = next(csv.reader([lines[number - 1]]))
            except (csv.Error, StopIteration):
                cells = lines[number - 1].split(",")
            if len(cells) > file_index:
                file = _file_column(cells[file_index].strip().strip('"'))
                if file:
                    out.append((number, file))
        return out

    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            first, last = previous_end + 1, max(previous_end + 1, reader.line_num)
            previous_end = reader.line_num
            named = files_on_lines(first, last)
            if not named:
                manifest.problems.append(Problem(file=name, reason=f"{shown_path}:{first}: cannot parse the row: {e}"))
            for _, file in named:
                manifest.block(file, first, f"cannot parse the row: {e}")
            continue
        first, line = previous_end + 1, reader.line_num
        previous_end = line
        if not any(v.strip() for v in values):
            continue
        where = f"{shown_path}:{first}"
        spans = [v for v in values if "\n" in v or "\r" in v]
        if spans:
            for number, file in files_on_lines(first, line):
                manifest.block(file, number, f"the row cannot be read: a value runs over lines {first}-{line} "
                                             f"(a quote opened on line {first} is never closed?)")
            continue
        if len(values) != len(header):
            file = _file_column(values[file_index]) if len(values) > file_index else ""
            reason = f"the row has {len(values)} columns, the header has {len(header)}"
            if file:
                manifest.block(file, first, reason)
            else:
                manifest.problems.append(Problem(file=name, reason=f"{where}: {reason}"))
            continue
        file = _file_column(values[file_index])
        if not file:
            manifest.problems.append(Problem(file=name, reason=f"{where}: the row has an empty 'file' column"))
            continue
        if header_problem:
            manifest.block(file, first, header_problem)
            continue
        row = {h: v.strip() for h, v in zip(header, values)}
        call_id = _clean(row.get("call_id"))
        shown_id = _shown(call_id) if call_id else None
        reason = _row_problem(row)
        if reason is None and file in seen_files:
            reason = f"the file is already listed on line {seen_files[file]}; which row is right is not known"
        if reason is None and call_id is not None and call_id in seen_ids:
            reason = f"call_id {call_id!r} is already used on line {seen_ids[call_id]}"
        seen_files.setdefault(file, first)
        if reason is not None:
            manifest.block(file, first, reason, shown_id)
            continue
        if file in manifest.blocked:  # listed again after an unusable row
            continue
        if call_id is not None:
            seen_ids[call_id] = first
        manifest.rows[file] = (first, row)
    return manifest


def _row_problem(row: dict[str, str]) -> str | None:
    """Why a parsed manifest row cannot be used, or None."""
    for column, value in row.items():
        if "\x00" in value:
            return f"column {_shown(column)!r} contains a NUL byte"
        if _CONTROL_RE.search(value):
            return f"column {_shown(column)!r} contains a control character ({_shown(value)[:80]!r})"
        if len(value) > MAX_VALUE_CHARS:
            return f"column {_shown(column)!r} is {len(value):,} characters long (at most {MAX_VALUE_CHARS:,})"
    channels = _clean(row.get("channels"))
    if channels is not None and channels not in CHANNEL_LAYOUTS:
        return f"unknown channels value {channels!r} (expected one of {', '.join(CHANNEL_LAYOUTS)})"
    started_at = _clean(row.get("started_at"))
    if started_at is not None:
        try:
            datetime.fromisoformat(started_at)
        except ValueError:
            return (f"started_at {started_at!r} is not an ISO 8601 date and time "
                    "(for example 2026-11-02T09:14:03Z)")
    return None


def _call_from_row(path: str, rel: str, row: dict[str, str], default_call_id: str) -> CallInfo:
    extra = tuple((k, v) for k, v in row.items() if k not in MANIFEST_COLUMNS and v != "")
    return CallInfo(
        path=path,
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


def _walk(root: Path) -> tuple[list[tuple[str, str]], list[str], list[Problem]]:
    """(recordings as (shown relative path, real path), skipped, problems), sorted by relative path."""
    recordings: list[tuple[str, str]] = []
    skipped: list[str] = []
    problems: list[Problem] = []

    def link_problem(rel: str, full: str, kind: str) -> Problem:
        if os.path.exists(full):
            why = f"a symbolic link to a {kind} outside the drop folder; not followed"
        else:
            why = "a symbolic link whose target does not exist"
        return Problem(file=rel, reason=f"{rel}: {why}")

    for folder, dirs, files in os.walk(root, followlinks=False):
        base = Path(folder)
        keep = []
        for d in sorted(dirs):
            if d.startswith("."):
                continue
            full = base / d
            rel = display_path(full.relative_to(root).as_posix())
            if full.is_symlink():
                if leaves_folder(full, root):
                    problems.append(link_problem(rel, str(full), "folder"))
                else:
                    skipped.append(rel)  # its recordings are found where the link points
                continue
            keep.append(d)
        dirs[:] = keep
        for f in files:
            if f.startswith(".") or (base == root and f == MANIFEST_NAME):
                continue
            full = base / f
            rel = display_path(full.relative_to(root).as_posix())
            is_recording = full.suffix.lower() in RECORDING_EXTENSIONS
            if full.is_symlink() and leaves_folder(full, root):
                problems.append(link_problem(rel, str(full), "file"))
                continue
            try:
                mode = full.stat().st_mode
            except OSError as e:
                problems.append(Problem(file=rel, reason=f"{rel}: cannot read the file ({e.strerror or e})"))
                continue
            if not stat.S_ISREG(mode):
                if is_recording:
                    problems.append(Problem(file=rel, reason=f"{rel}: not a regular file (a pipe, socket or device)"))
                else:
                    skipped.append(rel)
                continue
            if not is_recording:
                skipped.append(rel)
            elif full.stat().st_size > MAX_RECORDING_BYTES:
                problems.append(Problem(file=rel, reason=(
                    f"{rel}: the file is {full.stat().st_size / 2**30:.1f} GiB; a recording may be at most "
                    f"{MAX_RECORDING_BYTES / 2**30:.0f} GiB (the longest call accepted is 4 hours)")))
            else:
                recordings.append((rel, str(full)))
    recordings.sort()
    skipped.sort()
    return recordings, skipped, problems


def default_call_ids(files: list[str]) -> dict[str, str]:
    """The call id of each recording the manifest does not name: its file stem, unless another
    recording in the folder has the same stem; then its relative path without the extension
    (``day1/c1``), and where that is shared too (``x.wav`` and ``x.mp3``) the relative path."""
    def stem(rel: str) -> str:
        name = rel.rsplit("/", 1)[-1]
        return name.rsplit(".", 1)[0] if "." in name else name

    def no_ext(rel: str) -> str:
        head, _, name = rel.rpartition("/")
        base = name.rsplit(".", 1)[0] if "." in name else name
        return f"{head}/{base}" if head else base

    stems: dict[str, int] = {}
    bases: dict[str, int] = {}
    for rel in files:
        stems[stem(rel)] = stems.get(stem(rel), 0) + 1
        bases[no_ext(rel)] = bases.get(no_ext(rel), 0) + 1
    out = {}
    for rel in files:
        if stems[stem(rel)] == 1:
            out[rel] = stem(rel)
        elif bases[no_ext(rel)] == 1:
            out[rel] = no_ext(rel)
        else:
            out[rel] = rel
    return out


def scan_drop_folder(drop_dir: str | Path, *, name_pattern: str | None = None) -> DropFolder:
    """List the calls of a drop folder, in a stable order (by relative path)."""
    root = Path(drop_dir)
    if not root.is_dir():
        raise ConfigError(f"drop folder {display_path(root)} does not exist or is not a folder")
    rx = compile_name_pattern(name_pattern)
    manifest_path = root / MANIFEST_NAME
    shown_root, shown_manifest = display_path(root), display_path(manifest_path)
    manifest = Manifest()
    if manifest_path.is_symlink() and leaves_folder(manifest_path, root):
        raise ManifestError(f"{shown_manifest}: a symbolic link that leads outside the drop folder; "
                            "not read")
    if manifest_path.is_file():
        manifest = read_manifest(manifest_path)
    problems = list(manifest.problems)

    recordings, skipped, walk_problems = _walk(root)
    problems.extend(walk_problems)
    present = {rel for rel, _ in recordings}
    for file, (line, _row) in manifest.rows.items():
        if file not in present:
            problems.append(Problem(
                file=file,
                reason=f"{shown_manifest}:{line}: {file}: listed in the manifest but not found in {shown_root}"))

    defaults = default_call_ids([rel for rel, _ in recordings])
    calls: list[CallInfo] = []
    for rel, full in recordings:
        if rel in manifest.blocked:
            continue  # already reported: its row cannot be used
        if rel in manifest.rows:
            calls.append(_call_from_row(full, rel, manifest.rows[rel][1], defaults[rel]))
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
        calls.append(_call_from_row(full, rel, meta, defaults[rel]))

    ids: dict[str, str] = {}
    unique: list[CallInfo] = []
    for c in calls:
        if c.call_id in ids:
            problems.append(Problem(file=c.file, call_id=c.call_id,
                                    reason=f"{c.file}: call_id {c.call_id!r} is also used by {ids[c.call_id]}"))
            continue
        ids[c.call_id] = c.file
        unique.append(c)
    return DropFolder(root=shown_root, calls=tuple(unique), skipped=tuple(skipped), problems=tuple(problems))
