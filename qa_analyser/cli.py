"""The `qa` command line: parse, build options, call one library function, print.

Exit codes (contract §3): 0 all processed; 1 some recordings failed (each stored with its reason,
the rest done); 2 usage or configuration error (the message says what and where).
"""

from __future__ import annotations

import logging
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .datatypes import MatchOptions, TranscriptionOptions
from .errors import QAError

app = typer.Typer(
    name="qa",
    help="Call quality-assurance and script-compliance analyser: transcribe recordings, match them "
         "against approved scripts, score calls and agents, store everything in SQLite.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
report_app = typer.Typer(help="Reports for trainers and reviewers.", no_args_is_help=True)
app.add_typer(report_app, name="report")

log = logging.getLogger("qa_analyser")


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class SpeechDetection(str, Enum):
    energy = "energy"
    silero = "silero"
    none = "none"


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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr; no progress bar.")] = False,
) -> None:
    """Global options."""
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)
    _state["quiet"] = quiet


_state: dict = {"quiet": False}


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code=code)


def _open_store(db: Path, *, must_exist: bool):
    from .store import Store

    if must_exist and not db.exists():
        raise _fail(f"no database at {db} (create one with `qa run DROP_DIR --scripts DIR --db {db}`)")
    return Store.open(db)


def _progress(iterable, total: int, description: str):
    """Wrap the library's generator in a progress bar on stderr when it is a terminal."""
    if _state["quiet"] or not sys.stderr.isatty():
        yield from iterable
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[current]}"), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total, current="")
        for outcome in iterable:
            bar.update(task, advance=1, current=outcome.file)
            yield outcome


def _print_outcomes(summary, *, verb: str) -> None:
    counts = summary.counts
    done = [o for o in summary.outcomes if o.status != "failed"]
    for o in done[:100]:
        score = "" if o.score is None else f"score {o.score.score:5.1f}  {'passed' if o.score.passed else 'FAILED'}"
        crit = ""
        if o.score is not None and o.score.critical_failures:
            crit = f" (critical: {', '.join(o.score.critical_failures)})"
        typer.echo(f"  {o.call_id:<24} {str(o.agent_id or ''):<14} {o.status:<11} {score}{crit}")
    if len(done) > 100:
        typer.echo(f"  ... and {len(done) - 100} more (see `qa export`)")
    for f in summary.failures:
        typer.echo(f"  FAILED {f.file}: {f.reason}")
    parts = [f"{counts.get(k, 0)} {k}" for k in ("transcribed", "reused", "rescored", "unchanged", "failed")
             if counts.get(k)]
    skipped = len(summary.skipped)
    if skipped:
        parts.append(f"{skipped} skipped (not recordings)")
    typer.echo(f"{verb} {len(summary.outcomes)} item(s): {', '.join(parts) or 'nothing to do'}.")
    if summary.transcribed_s:
        speed = summary.transcribed_s / summary.wall_s if summary.wall_s else 0.0
        typer.echo(f"Transcribed {summary.transcribed_s / 60:.1f} min of audio in {summary.wall_s:.1f} s "
                   f"({speed:.1f}x real time).")


def _match_options(met: float | None, partial: float | None, verbatim: float | None, trigger: float | None,
                   prohibited: float | None) -> MatchOptions:
    base = MatchOptions()
    values = {"met_threshold": met, "partial_threshold": partial, "verbatim_threshold": verbatim,
              "trigger_threshold": trigger, "prohibited_threshold": prohibited}
    for name, value in values.items():
        if value is not None and not 0.0 <= value <= 1.0:
            raise _fail(f"--{name.replace('_threshold', '')}-threshold must be between 0 and 1, got {value}")
    return MatchOptions(**{k: (v if v is not None else getattr(base, k)) for k, v in values.items()},
                        late_grace_s=base.late_grace_s)


MetOpt = Annotated[Optional[float], typer.Option("--met-threshold", help="Similarity (0-1) for 'met'.")]
PartialOpt = Annotated[Optional[float], typer.Option("--partial-threshold", help="Similarity (0-1) for 'partial'.")]
VerbatimOpt = Annotated[Optional[float], typer.Option(
    "--verbatim-threshold", help="Word fidelity (0-1) a verbatim item needs for 'met'.")]
TriggerOpt = Annotated[Optional[float], typer.Option(
    "--trigger-threshold", help="Similarity (0-1) of customer speech that triggers a conditional item.")]
ProhibitedOpt = Annotated[Optional[float], typer.Option(
    "--prohibited-threshold", help="Similarity (0-1) for a prohibited phrase to count as said.")]
DefaultScriptOpt = Annotated[Optional[str], typer.Option(
    "--default-script", help="Script id for calls whose manifest row names none.")]


@app.command()
def run(
    drop_dir: Annotated[Path, typer.Argument(help="Drop folder of recordings (optionally with manifest.csv).",
                                             exists=True, file_okay=False, dir_okay=True)],
    scripts: ScriptsOption,
    db: DbOption = Path("qa.db"),
    model: Annotated[str, typer.Option(help="Whisper model: tiny.en (bundled), base, small, or a local "
                                            "CTranslate2 model folder.")] = "tiny.en",
    device: Annotated[Device, typer.Option(help="Where the model runs.")] = Device.auto,
    compute_type: Annotated[str, typer.Option(help="CTranslate2 compute type; auto = int8 on CPU, "
                                                   "float16 on CUDA.")] = "auto",
    beam_size: Annotated[int, typer.Option(min=1, max=10, help="Beam size of the decoder.")] = 1,
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
    met_threshold: MetOpt = None,
    partial_threshold: PartialOpt = None,
    verbatim_threshold: VerbatimOpt = None,
    trigger_threshold: TriggerOpt = None,
    prohibited_threshold: ProhibitedOpt = None,
) -> None:
    """Transcribe, match, score and store every new or changed recording of DROP_DIR."""
    from .pipeline import RunOptions, start_run

    options = RunOptions(
        transcription=TranscriptionOptions(model=model, device=device.value, compute_type=compute_type,
                                           beam_size=beam_size, language=language,
                                           speech_detection=speech_detection.value,
                                           recheck_model=recheck_model),
        match=_match_options(met_threshold, partial_threshold, verbatim_threshold, trigger_threshold,
                             prohibited_threshold),
        default_script=default_script, name_pattern=name_pattern, default_channels=default_channels.value,
        cache_dir=str(cache_dir) if cache_dir else None, cpu_threads=cpu_threads, force=force,
        bias_script=bias_script,
    )
    try:
        store = _open_store(db, must_exist=False)
        with store.lock():
            the_run = start_run(drop_dir, scripts, store, options)
            for _ in _progress(the_run, the_run.total, "Analysing"):
                pass
        summary = the_run.summary
    except QAError as e:
        raise _fail(str(e)) from None
    _print_outcomes(summary, verb=f"Run {summary.run_id} on {drop_dir}:")
    typer.echo(f"Results in {db}; `qa export --db {db}` or `qa report agent AGENT_ID --db {db}`.")
    raise typer.Exit(code=1 if summary.failed else 0)


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
) -> None:
    """Re-match stored transcripts against (changed) scripts, without transcribing again."""
    from .pipeline import RunOptions, start_rescore

    options = RunOptions(match=_match_options(met_threshold, partial_threshold, verbatim_threshold,
                                              trigger_threshold, prohibited_threshold),
                         default_script=default_script)
    try:
        store = _open_store(db, must_exist=True)
        with store.lock():
            job = start_rescore(store, scripts, options)
            for _ in _progress(job, 0, "Re-scoring"):
                pass
        summary = job.summary
    except QAError as e:
        raise _fail(str(e)) from None
    _print_outcomes(summary, verb=f"Rescore {summary.run_id}:")
    raise typer.Exit(code=1 if summary.failed else 0)


@app.command()
def export(
    db: DbOption,
    format: Annotated[ExportFormat, typer.Option("--format", "-f", help="json (contract shape) or csv "
                                                                        "(one row per call and item).")]
    = ExportFormat.json,
    agent: Annotated[Optional[str], typer.Option(help="Only this agent's calls.")] = None,
    team: Annotated[Optional[str], typer.Option(help="Only this team's calls.")] = None,
    script: Annotated[Optional[str], typer.Option(help="Only calls scored against this script id.")] = None,
) -> None:
    """Write stored results to stdout."""
    from .report import export_csv, export_json

    try:
        calls = _open_store(db, must_exist=True).export_calls(agent_id=agent, team=team, script_id=script)
    except QAError as e:
        raise _fail(str(e)) from None
    sys.stdout.write(export_json(calls) if format is ExportFormat.json else export_csv(calls))


@report_app.command("agent")
def report_agent(
    agent_id: Annotated[str, typer.Argument(help="The agent's id as in the manifest.")],
    db: DbOption,
    format: Annotated[ReportFormat, typer.Option("--format", "-f", help="text or json.")] = ReportFormat.text,
    examples: Annotated[int, typer.Option(min=0, help="Example calls per item.")] = 3,
) -> None:
    """A trainer's gap report for one agent: compliance per item against the team, items missed most, examples."""
    from .report import agent_report_json, agent_report_text, build_agent_report

    try:
        store = _open_store(db, must_exist=True)
        if not store.agent_exists(agent_id):
            raise _fail(f"agent {agent_id!r} has no calls in {db}")
        mine = store.export_calls(agent_id=agent_id)
        teams = {c.get("team") for c in mine if c.get("team")}
        team_calls = [c for t in sorted(teams) for c in store.export_calls(team=t)] if teams else mine
        rep = build_agent_report(agent_id, mine, team_calls, examples_per_item=examples)
    except QAError as e:
        raise _fail(str(e)) from None
    sys.stdout.write(agent_report_json(rep) if format is ReportFormat.json else agent_report_text(rep))


@report_app.command("call")
def report_call(
    call_id: Annotated[str, typer.Argument(help="The call's id as in the manifest.")],
    db: DbOption,
    format: Annotated[ReportFormat, typer.Option("--format", "-f", help="text or json.")] = ReportFormat.text,
) -> None:
    """A reviewer's view of one call: metadata, score, every item verdict with its evidence, the transcript."""
    from .report import CallReport, call_report_json, call_report_text

    try:
        store = _open_store(db, must_exist=True)
        found = store.export_calls(call_id=call_id)
        if not found:
            known = store.call_transcript(call_id) is not None
            raise _fail(f"call {call_id!r} has no score in {db}" if known else f"no call {call_id!r} in {db}")
        rep = CallReport(call=found[0], transcript=store.call_transcript(call_id))
    except QAError as e:
        raise _fail(str(e)) from None
    sys.stdout.write(call_report_json(rep) if format is ReportFormat.json else call_report_text(rep))


@app.command()
def calibrate(
    human_csv: Annotated[Path, typer.Argument(
        help="Reviewers' labels: CSV with columns call_id,item_id,status (optional reviewer,notes).",
        dir_okay=False)],
    db: DbOption,
    format: Annotated[ReportFormat, typer.Option("--format", "-f", help="text or json.")] = ReportFormat.text,
    min_per_class: Annotated[int, typer.Option(
        min=1, help="Human rows per class below which the threshold suggestion is called unreliable.")] = 30,
) -> None:
    """Agreement of the stored verdicts with human reviewers, and suggested met/partial thresholds.

    Exit 0; 1 when some CSV rows were malformed (each named on stderr, the rest used); 2 for a missing
    or unreadable CSV or database.
    """
    from .calibrate import calibrate as run_calibration
    from .calibrate import read_human_csv, verdicts_from_export
    from .report import calibration_json, calibration_text

    if not human_csv.is_file():
        raise _fail(f"no CSV file at {human_csv}")
    try:
        text = human_csv.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise _fail(f"cannot read {human_csv}: {e}") from None
    try:
        labels = read_human_csv(text, source=str(human_csv))
        verdicts = verdicts_from_export(_open_store(db, must_exist=True).export_calls())
        result = run_calibration(labels, verdicts, min_per_class=min_per_class)
    except QAError as e:
        raise _fail(str(e)) from None
    for problem in result.problems:
        typer.echo(f"Error: {problem}", err=True)
    sys.stdout.write(calibration_json(result) if format is ReportFormat.json else calibration_text(result))
    raise typer.Exit(code=1 if result.problems else 0)


@app.command()
def failures(
    db: DbOption,
    run_id: Annotated[Optional[int], typer.Option("--run", help="Only this run's failures.")] = None,
) -> None:
    """List recordings, manifest rows and scripts that failed, with the reason."""
    try:
        rows = _open_store(db, must_exist=True).failures(run_id=run_id)
    except QAError as e:
        raise _fail(str(e)) from None
    for r in rows:
        typer.echo(f"run {r.get('run_id')}  {r.get('stage'):<10} {r.get('file')}: {r.get('reason')}")
    if not rows:
        typer.echo("No failures.")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Full-text query over transcripts (SQLite FTS syntax).")],
    db: DbOption,
    limit: Annotated[int, typer.Option(min=1)] = 20,
) -> None:
    """Find what was said, across every stored transcript."""
    try:
        rows = _open_store(db, must_exist=True).search(query, limit=limit)
    except QAError as e:
        raise _fail(str(e)) from None
    for r in rows:
        typer.echo(f"{r['call_id']:<24} {r.get('speaker') or '':<9} {r['start_s']:7.1f}s  {r['text']}")
    if not rows:
        typer.echo("No matches.")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
