"""Frozen dataclasses passed between the pipeline's stages.

audio → transcribe → match → score → store → report: each stage takes and returns these; dicts
appear only at the database edge (store.py) and in exports (report.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

Speaker = Literal["agent", "customer", "unknown"]
ChannelLayout = Literal["agent-left", "agent-right", "mono"]
ItemKind = Literal["required", "conditional", "prohibited"]
# required/conditional: met | partial | missed | not_applicable; prohibited: met | violated
Status = Literal["met", "partial", "missed", "not_applicable", "violated"]

# Bump when the way recordings are turned into transcripts changes (speech detection, decoding
# settings, guards): stored transcripts made by another version are not reused.
TRANSCRIPTION_VERSION = "3"

CHANNEL_LAYOUTS: tuple[str, ...] = ("agent-left", "agent-right", "mono")
SPEAKERS: tuple[str, ...] = ("agent", "customer", "unknown")


# --------------------------------------------------------------------------- transcripts


@dataclass(frozen=True)
class Word:
    """One recognised word with its time span (seconds from the start of the recording)."""

    text: str
    start: float
    end: float
    probability: float
    speaker: Speaker


@dataclass(frozen=True)
class Segment:
    """A stretch of speech by one speaker, with its words."""

    text: str
    start: float
    end: float
    speaker: Speaker
    words: tuple[Word, ...] = ()
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    channel: int | None = None  # 0 = left, 1 = right, None = mono


# The longest clip of packed speech regions (TranscriptionOptions.clip_s): a region that straddled
# Whisper's 30 s window was seen cut in two and often dropped, so clips stay inside one window.
DEFAULT_CLIP_S = 20.0
MIN_CLIP_S = 5.0
MAX_CLIP_S = 28.0


@dataclass(frozen=True)
class TranscriptionOptions:
    """The settings that produced a transcript; stored with it so every result can be reproduced."""

    model: str = "tiny.en"
    device: str = "auto"
    compute_type: str = "auto"
    beam_size: int = 1
    language: str | None = None
    speech_detection: str = "energy"  # energy | silero | none
    initial_prompt: str | None = None
    hotwords: str | None = None  # script vocabulary the decoder is biased toward (--bias-script)
    recheck_model: str | None = None  # model that re-decodes poor stretches before a miss (--recheck-model)
    # decoding: 1 = each channel's clips in turn (the two channels concurrently); N >= 2 = the clips of
    # both channels decoded N at a time by faster-whisper's batched pipeline; 0 = auto (1 on CPU, on
    # CUDA a size chosen from free GPU memory). Not part of key(): like the device and compute type, it
    # changes speed, and the transcript records the size actually used.
    batch_size: int = 0
    # energy speech detection packs whole speech regions into clips of at most this many seconds,
    # each decoded in one of Whisper's 30 s windows: longer clips mean fewer windows (faster), and
    # other transcripts (docs/asr.md). Part of key() when it is not the default.
    clip_s: float = DEFAULT_CLIP_S

    def key(self) -> str:
        """A stable text key: transcripts are reused only when it matches."""
        return (
            f"v={TRANSCRIPTION_VERSION};model={self.model};beam={self.beam_size};lang={self.language};"
            f"sd={self.speech_detection};prompt={self.initial_prompt or ''};"
            f"hw={hashlib.sha1(self.hotwords.encode()).hexdigest()[:12] if self.hotwords else ''};"
            f"rc={self.recheck_model or ''}"
            + (f";clip={self.clip_s:g}" if self.clip_s != DEFAULT_CLIP_S else "")
        )


@dataclass(frozen=True)
class Transcript:
    """The recogniser's output for one recording, speakers already assigned."""

    segments: tuple[Segment, ...]
    duration_s: float
    channels: ChannelLayout
    options: TranscriptionOptions
    language: str = "en"
    model_id: str = ""  # resolved model: name plus checksum or path, for the record
    compute_type: str = ""  # the compute type actually used
    device: str = ""  # the device actually used (cpu | cuda)
    speech_s: float = 0.0  # seconds of audio that speech detection kept and the recogniser saw

    def words(self, speaker: Speaker | None = None) -> list[Word]:
        """All words in time order, optionally only those of one speaker."""
        out = [w for s in self.segments for w in s.words if speaker is None or w.speaker == speaker]
        out.sort(key=lambda w: (w.start, w.end))
        return out

    @property
    def has_speakers(self) -> bool:
        """False for a mono call whose speech is not attributed to agent or customer."""
        return any(s.speaker != "unknown" for s in self.segments)

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in sorted(self.segments, key=lambda s: s.start))


# --------------------------------------------------------------------------- scripts


@dataclass(frozen=True)
class Item:
    """One approved line of a script: a required or conditional item."""

    id: str
    section: str
    text: str
    alternatives: tuple[str, ...] = ()
    speaker: Literal["agent", "customer", "any"] = "agent"
    weight: float = 1.0
    critical: bool = False
    within_seconds: float | None = None
    after: str | None = None
    when_customer_says: tuple[str, ...] = ()
    verbatim: bool = False
    line: int | None = None  # line in the YAML file, for messages

    @property
    def kind(self) -> ItemKind:
        return "conditional" if self.when_customer_says else "required"

    @property
    def wordings(self) -> tuple[str, ...]:
        """The approved text first, then the alternatives (placeholders not yet substituted)."""
        return (self.text, *self.alternatives)


@dataclass(frozen=True)
class Section:
    id: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class ProhibitedRule:
    """Phrases the agent must never say."""

    id: str
    phrases: tuple[str, ...]
    speaker: Literal["agent", "customer", "any"] = "agent"
    weight: float = 1.0
    critical: bool = False
    line: int | None = None


@dataclass(frozen=True)
class Script:
    """An approved script, loaded and validated from YAML (see scripts.py)."""

    id: str
    version: str
    name: str
    sections: tuple[Section, ...]
    prohibited: tuple[ProhibitedRule, ...] = ()
    language: str = "en"
    variables: tuple[tuple[str, str], ...] = ()  # (name, value) pairs, in file order
    path: str | None = None
    content_hash: str = ""  # sha256 of the file's bytes
    source: str = ""  # the YAML text, stored with results
    pass_mark: float | None = None  # 0-100: a call scoring below it is not passed
    # PCI pause audit (privacy/audit.py): card data heard in the recording is a violation of this rule
    pci_pause: ProhibitedRule | None = None

    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(i for s in self.sections for i in s.items)

    def item(self, item_id: str) -> Item:
        for i in self.items:
            if i.id == item_id:
                return i
        raise KeyError(item_id)

    @property
    def variable_map(self) -> dict[str, str]:
        return dict(self.variables)


# --------------------------------------------------------------------------- matching and scoring


@dataclass(frozen=True)
class MatchOptions:
    """Decision thresholds of the matcher. The probability thresholds default (None) to those the
    combiner was fitted with (qa_analyser/match/combiner.json); set one to trade precision for recall."""

    met_threshold: float | None = None  # P(all of the line said | said) at or above: met, else partial
    partial_threshold: float | None = None  # P(said) at or above: said (met or partial), else missed
    verbatim_threshold: float = 0.95  # verbatim items need this word fidelity for met; else partial
    trigger_threshold: float | None = None  # P(the customer said a conditional item's trigger)
    prohibited_threshold: float | None = None  # P(the agent said a prohibited line)
    late_grace_s: float = 0.0  # seconds allowed past within_seconds before "late"
    # a decision within this many log-odds of its threshold is borderline: flagged low_confidence
    borderline_logit: float = 1.0

    def as_dict(self) -> dict[str, float | None]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class WordingDiff:
    """Word-level comparison of what was said with the approved wording of a verbatim item."""

    fidelity: float  # 0-1: share of the approved words said, in order, with nothing added
    approved: str  # the approved wording compared against (placeholders filled)
    dropped: tuple[str, ...] = ()  # approved words not said
    substituted: tuple[tuple[str, str], ...] = ()  # (approved word(s), said word(s))
    added: tuple[str, ...] = ()  # words said that the approved wording does not have
    # substitutions the audio does not clearly support (the said words were heard with low probability):
    # listed here, and not counted against fidelity
    uncertain: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ItemResult:
    """The verdict on one script item or prohibited rule for one call, with its evidence."""

    item_id: str
    section: str | None
    kind: ItemKind
    status: Status
    confidence: float
    flags: tuple[str, ...] = ()
    start_s: float | None = None
    end_s: float | None = None
    evidence: str = ""  # the quote (normalised words heard), "" when nothing was found
    speaker: Speaker | None = None  # who said the evidence; "unknown" on mono calls
    detail: str = ""  # why: which wording matched, trigger phrase, mono caveat, negation, ...
    weight: float = 1.0
    critical: bool = False
    wording: WordingDiff | None = None  # verbatim items: what was dropped, substituted or added


@dataclass(frozen=True)
class CallScore:
    """A call's weighted score (0-100) and pass/fail."""

    score: float
    passed: bool
    earned: float
    possible: float
    critical_failures: tuple[str, ...] = ()
    below_pass_mark: bool = False  # the score is under the script's pass_mark


# --------------------------------------------------------------------------- ingest


@dataclass(frozen=True)
class CallInfo:
    """A recording in a drop folder and what is known about its call (manifest or file name)."""

    path: str  # absolute path
    file: str  # path relative to the drop folder, with forward slashes
    call_id: str
    agent_id: str = "unknown"
    agent_name: str | None = None
    team: str | None = None
    script_id: str | None = None
    started_at: str | None = None
    channels: ChannelLayout | None = None  # None: stereo files default to agent-left, mono to mono
    metadata: tuple[tuple[str, str], ...] = field(default=())  # extra manifest columns


# --------------------------------------------------------------------------- reviews and stored calls

ITEM_STATUSES: dict[str, tuple[str, ...]] = {  # statuses a reviewer may give, by item kind
    "required": ("met", "partial", "missed"),
    "conditional": ("met", "partial", "missed", "not_applicable"),
    "prohibited": ("met", "violated"),
}


@dataclass(frozen=True)
class Override:
    """A reviewer's correction of one verdict; the machine's verdict is kept beside it."""

    call_id: str
    item_id: str
    automatic: str  # the status the machine gave when the override was made
    status: str  # the reviewer's
    reason: str
    reviewer: str
    at: str  # ISO time (UTC)
    id: int | None = None
    kind: ItemKind | None = None  # of the item overridden (an item and a prohibited rule may share an id)
    superseded_at: str | None = None  # a later override of the same item replaced this one
    superseded_by: int | None = None

    @property
    def active(self) -> bool:
        return self.superseded_at is None

    def as_dict(self) -> dict:
        return {"id": self.id, "from": self.automatic, "to": self.status, "reviewer": self.reviewer,
                "at": self.at, "reason": self.reason}


@dataclass(frozen=True)
class OverrideConflict:
    """An active override whose automatic verdict changed underneath it (a later rescore): review it."""

    override: Override
    automatic_now: str | None  # what the machine says now (None: the item is no longer in the script)
    scored_at: str  # when the current automatic verdict was made


def wording_dict(diff: WordingDiff) -> dict:
    """A WordingDiff as stored and exported: substituted (and uncertain) pairs become two-element lists."""
    return {
        "fidelity": diff.fidelity,
        "approved": diff.approved,
        "dropped": list(diff.dropped),
        "substituted": [list(pair) for pair in diff.substituted],
        "added": list(diff.added),
        "uncertain": [list(pair) for pair in diff.uncertain],
    }


def item_dict(result: ItemResult, override: Override | None = None) -> dict:
    """One verdict in the export shape of docs/interfaces.md (`override`: who changed it, from, to)."""
    return {
        "item_id": result.item_id,
        "section": result.section,
        "kind": result.kind,
        "status": result.status,
        "flags": list(result.flags),
        "confidence": result.confidence,
        "start_s": result.start_s,
        "end_s": result.end_s,
        "evidence": result.evidence,
        "speaker": result.speaker,
        "detail": result.detail,
        "weight": result.weight,
        "critical": result.critical,
        "wording": None if result.wording is None else wording_dict(result.wording),
        "override": None if override is None else override.as_dict(),
    }


@dataclass(frozen=True)
class StoredCall:
    """A stored, scored call: its current score with the effective verdicts (reviewers' overrides
    applied), the machine's verdicts beside them, and what produced the score."""

    info: CallInfo
    score: CallScore  # from the effective verdicts
    results: tuple[ItemResult, ...]  # effective verdicts, in script order
    automatic: tuple[ItemResult, ...]  # the machine's verdicts, in script order
    overrides: tuple[Override, ...]  # the active overrides applied to `results`
    script_id: str
    script_version: str
    scored_at: str
    fingerprint: str  # the matcher version and fingerprint that made the automatic verdicts
    duration_s: float | None = None
    script_hash: str = ""
    model_id: str = ""
    transcription_options: dict = field(default_factory=dict, compare=False)
    matcher_options: dict = field(default_factory=dict, compare=False)
    recording_sha256: str = ""
    run_id: int | None = None  # the run that made the automatic verdicts
    score_id: int | None = None

    @property
    def call_id(self) -> str:
        return self.info.call_id

    @property
    def agent_id(self) -> str:
        return self.info.agent_id

    @property
    def team(self) -> str | None:
        return self.info.team

    @property
    def vendor(self) -> str | None:
        return dict(self.info.metadata).get("vendor") or None

    @property
    def started_at(self) -> str | None:
        return self.info.started_at

    def override_of(self, result: ItemResult) -> Override | None:
        """The active override applied to this verdict, if any."""
        for o in self.overrides:
            if o.item_id == result.item_id and (o.kind is None or o.kind == result.kind):
                return o
        return None

    def as_dict(self) -> dict:
        """The export shape of docs/interfaces.md."""
        i = self.info
        return {
            "call_id": i.call_id,
            "file": i.file,
            "agent_id": i.agent_id,
            "team": i.team,
            "script_id": self.script_id,
            "script_version": self.script_version,
            "duration_s": self.duration_s,
            "score": self.score.score,
            "passed": self.score.passed,
            "items": [item_dict(r, self.override_of(r)) for r in self.results],
            "agent_name": i.agent_name,
            "started_at": i.started_at,
            "channels": i.channels,
            "metadata": dict(i.metadata),
            "earned": self.score.earned,
            "possible": self.score.possible,
            "critical_failures": list(self.score.critical_failures),
            "script_hash": self.script_hash,
            "model_id": self.model_id,
            "transcription_options": dict(self.transcription_options),
            "matcher_version": self.fingerprint,
            "matcher_options": dict(self.matcher_options),
            "recording_sha256": self.recording_sha256,
            "run_id": self.run_id,
            "scored_at": self.scored_at,
            "overrides": [o.id for o in self.overrides],
        }
