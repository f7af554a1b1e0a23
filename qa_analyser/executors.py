"""Where recordings are transcribed: here, or on the workers of a Ray cluster (`qa run --executor ray`).

The driver (the `qa run` process) keeps everything that touches the database: it scans the drop
folder, hashes each recording, decides what a call needs (pipeline.Run._plan), and matches, scores
and stores what comes back, one call per transaction, under the database's lock. Only the costly,
stateless part travels: a `TranscriptionJob` (the call, its options, its script for a re-check, and
the recording's bytes, so workers need no shared file system) goes to a Ray task, which decodes,
transcribes, diarizes and re-checks with a recogniser loaded once per worker process, and returns a
`Transcribed` or, for a bad recording, a `WorkerFailure` naming the stage and the reason. So
idempotency, the lock and crash safety are those of a local run: a run killed part-way has stored
whole calls only, and jobs still out are simply done again by the next run.

At most `window` jobs are out at a time (two per task slot of the cluster), so the driver's memory
holds a bounded number of recordings. Workers need qa-analyser and its models installed (the same
version as the driver: the transcript records the model's checksum); docs/operations.md says how to
point a run at an existing cluster and how to size it.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from .errors import ConfigError, ModelError, QAError

__all__ = ["RayExecutor"]

log = logging.getLogger("qa_analyser")

_TRANSCRIBERS: dict[tuple, Any] = {}  # per worker process: the recogniser, loaded on its first job


def _worker_transcriber(options):
    """The worker process's recogniser for these run options (loaded once, then reused)."""
    from .transcribe import Transcriber

    topts = options.transcription
    key = (topts, options.cache_dir, options.ray_cpus_per_task)
    if key not in _TRANSCRIBERS:
        transcriber = Transcriber(topts, cache_dir=options.cache_dir, cpu_threads=options.ray_cpus_per_task,
                                  recheck_model=topts.recheck_model)
        transcriber.load()
        _TRANSCRIBERS[key] = transcriber
    return _TRANSCRIBERS[key]


def run_job(job, options):
    """A Ray task: transcribe one recording from its bytes. Never raises for a bad recording."""
    from .pipeline import WorkerFailure, transcribe_job

    try:
        transcriber = _worker_transcriber(options)
    except ModelError as e:
        return WorkerFailure(stage="transcribe", reason=f"model on worker {os.uname().nodename}: {e}", model=True)
    with tempfile.TemporaryDirectory(prefix="qa-job-") as tmp:
        local = Path(tmp) / (Path(job.call.file).name or "recording")
        local.write_bytes(job.data or b"")
        os.chmod(local, 0o600)
        try:
            return transcribe_job(replace(job, call=replace(job.call, path=str(local)), data=None), transcriber)
        except QAError as e:  # the messages name the temporary copy: name the recording, as a local run does
            return WorkerFailure(stage=getattr(e, "stage", "transcribe"),
                                 reason=str(e).replace(str(local), job.call.path))
        except MemoryError as e:
            return WorkerFailure(stage="transcribe", reason=f"{job.call.file}: out of memory on the worker ({e})")


class RayExecutor:
    """Transcription jobs on a Ray cluster: `submit`, then collect with `ready` / `drain`."""

    def __init__(self, options, *, window: int | None = None) -> None:
        try:
            import ray
        except ImportError as e:
            raise ConfigError("--executor ray needs Ray: pip install 'qa-analyser[ray]'") from e
        self._ray = ray
        self.options = options
        self._pending: dict[Any, Any] = {}
        self._started_here = not ray.is_initialized()
        try:
            if self._started_here:
                kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
                if options.ray_address:
                    ray.init(address=options.ray_address, **kwargs)
                else:  # a local instance on this machine's cores
                    ray.init(**kwargs)
        except Exception as e:  # noqa: BLE001 - any failure to reach the cluster is a configuration error
            raise ConfigError(f"cannot start or join the Ray cluster {options.ray_address or '(local)'}: {e}") from e
        resources = ray.cluster_resources()
        cpus, gpus = resources.get("CPU", 0.0), resources.get("GPU", 0.0)
        if cpus < options.ray_cpus_per_task or gpus < options.ray_gpus_per_task:
            self.close()
            raise ConfigError(f"the Ray cluster has {cpus:g} CPU(s) and {gpus:g} GPU(s); each transcription asks for "
                              f"{options.ray_cpus_per_task} CPU(s) and {options.ray_gpus_per_task:g} GPU(s)")
        slots = int(cpus // options.ray_cpus_per_task)
        if options.ray_gpus_per_task:
            slots = min(slots, int(gpus // options.ray_gpus_per_task))
        self.window = window or max(1, 2 * slots)
        self._task = ray.remote(num_cpus=options.ray_cpus_per_task, num_gpus=options.ray_gpus_per_task,
                                max_retries=1)(run_job)
        self._options_ref = ray.put(options)
        log.info("Ray: %g CPU(s), %g GPU(s), %d transcription slot(s), up to %d job(s) out", cpus, gpus, slots,
                 self.window)

    @property
    def full(self) -> bool:
        return len(self._pending) >= self.window

    def submit(self, tag, job) -> None:
        """Send one job (its recording's bytes read here) to the cluster."""
        data = Path(job.call.path).read_bytes()
        self._pending[self._task.remote(replace(job, data=data), self._options_ref)] = tag

    def ready(self, *, wait: bool) -> list[tuple[Any, Any]]:
        """(tag, Transcribed | WorkerFailure) of finished jobs; with `wait`, at least one (if any are out)."""
        if not self._pending:
            return []
        refs = list(self._pending)
        done, _ = self._ray.wait(refs, num_returns=len(refs), timeout=0)  # whatever has finished
        if not done and wait:
            done, _ = self._ray.wait(refs, num_returns=1)
        out = []
        for ref in done:
            tag = self._pending.pop(ref)
            out.append((tag, self._result(ref, tag)))
        return out

    def _result(self, ref, tag):
        from .pipeline import WorkerFailure

        try:
            return self._ray.get(ref)
        except self._ray.exceptions.RayError as e:  # a bug on the worker, or the worker died
            log.warning("%s: transcription task failed: %s", getattr(tag.call, "file", tag), e)
            return WorkerFailure(stage="transcribe", reason=f"{tag.call.file}: the Ray task failed: "
                                                            f"{type(e).__name__}: {str(e).splitlines()[0][:300]}")

    def drain(self):
        while self._pending:
            yield from self.ready(wait=True)

    def close(self) -> None:
        """Cancel what is still out; shut down a local instance this run started."""
        for ref in list(self._pending):
            self._ray.cancel(ref, force=True)
        self._pending.clear()
        if self._started_here and self._ray.is_initialized():
            self._ray.shutdown()
