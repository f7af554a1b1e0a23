"""Exceptions raised by qa-analyser.

    QAError                      base: the CLI catches this one in one place
    ├── ConfigError              bad options, missing folders, unknown script id (exit code 2)
    ├── ScriptError              a script YAML file with a syntax or schema error (names file and line)
    ├── ManifestError            an unreadable manifest or manifest row (names file and line)
    ├── AudioError               a recording that cannot be decoded or is empty/too short (names file)
    ├── ModelError               a model that cannot be found, assembled or loaded
    ├── TranscriptionError       the speech recogniser failed on a recording
    ├── StoreError               the database cannot be opened, migrated or written
    │   └── LockedError          another `qa run` holds the database
    ├── ReportError              a report asked for something that is not there (unknown agent, ...)
    └── OverrideError            a reviewer's override that cannot be stored (unknown call or item, bad status)

Every message says what was wrong and where (file, line, call id), so that it can be shown to a
user as it is.
"""

from __future__ import annotations


class QAError(Exception):
    """Base class of every error qa-analyser raises on purpose."""


class ConfigError(QAError):
    """Bad options or configuration: a missing folder, an unknown script id, a bad pattern."""


class ScriptError(QAError):
    """A script file that cannot be loaded: YAML syntax or schema errors (message names file and line)."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)
        self.path = path
        self.line = line


class ManifestError(QAError):
    """A manifest file or row that cannot be read (message names file and line)."""


class AudioError(QAError):
    """A recording that cannot be decoded, is empty, truncated or not audio (message names the file)."""


class ModelError(QAError):
    """A model that cannot be found, assembled, verified or loaded."""


class TranscriptionError(QAError):
    """The speech recogniser failed on a recording."""


class StoreError(QAError):
    """The database cannot be opened, migrated or written."""


class LockedError(StoreError):
    """Another process holds the database for a run."""


class ReportError(QAError):
    """A report asked for something that is not in the database."""


class OverrideError(QAError):
    """A reviewer's override that cannot be stored: unknown call or item, a status the item cannot
    have, an empty reason or reviewer (the message names the call and item)."""
