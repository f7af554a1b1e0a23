"""qa-analyser: call quality-assurance and script-compliance analyser.

Transcribe recordings (faster-whisper), match them against approved scripts, score every call and
agent with evidence, store everything in SQLite. The command line is ``qa`` (see cli.py); the
library entry points are below.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .datatypes import (
    CallInfo,
    CallScore,
    Item,
    ItemResult,
    MatchOptions,
    Override,
    OverrideConflict,
    ProhibitedRule,
    Script,
    Section,
    Segment,
    StoredCall,
    Transcript,
    TranscriptionOptions,
    Word,
    WordingDiff,
)
from .errors import (
    AudioError,
    ConfigError,
    LockedError,
    ManifestError,
    ModelError,
    OverrideError,
    QAError,
    ReportError,
    ScriptError,
    StoreError,
    TranscriptionError,
)
from .pipeline import (CallOutcome, Rescore, Run, RunOptions, RunSummary, redact_database, run_drop_folder,
                       start_rescore, start_run)
from .privacy import Policy, Redacted, Span, redact_call
from .scripts import ScriptSet, check_scripts, load_script, load_scripts
from .store import CallFilter, CallListPage, CallRow, CallState, FilterChoices, Store

__all__ = [
    "__version__",
    "AudioError",
    "CallInfo",
    "CallScore",
    "ConfigError",
    "Item",
    "ItemResult",
    "LockedError",
    "ManifestError",
    "MatchOptions",
    "ModelError",
    "Override",
    "OverrideConflict",
    "OverrideError",
    "ProhibitedRule",
    "QAError",
    "ReportError",
    "Script",
    "ScriptError",
    "Section",
    "Segment",
    "StoreError",
    "StoredCall",
    "Transcript",
    "TranscriptionError",
    "TranscriptionOptions",
    "Word",
    "WordingDiff",
    "CallOutcome",
    "Rescore",
    "Run",
    "RunOptions",
    "RunSummary",
    "ScriptSet",
    "CallFilter",
    "CallListPage",
    "CallRow",
    "CallState",
    "FilterChoices",
    "Store",
    "check_scripts",
    "load_script",
    "load_scripts",
    "run_drop_folder",
    "start_rescore",
    "start_run",
    "Policy",
    "Redacted",
    "Span",
    "redact_call",
    "redact_database",
]
