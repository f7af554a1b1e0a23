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

    def key(self) -> str:
        """A stable text key: transcripts are reused only when it matches."""
        return (
            f"v={TRANSCRIPTION_VERSION};model={self.model};beam={self.beam_size};lang={self.language};"
            f"sd={self.speech_detection};prompt={self.initial_prompt or ''};"
            f"hw={hashlib.sha1(self.hotwords.encode()).hexdigest()[:12] if self.hotwords else ''};"
            f"rc={self.recheck_model or ''}"
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
