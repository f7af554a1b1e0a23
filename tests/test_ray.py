"""`qa run --executor ray` on a local Ray instance: transcription on Ray's workers, the database here.

The same fixture calls are run locally and on Ray; the stored transcripts and verdicts must be the
same, a corrupt recording must be stored as a failure naming the file (not the worker's temporary
copy), and a second run must find nothing to do. Runs the real model (slow), in CI too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa_analyser.pipeline import RunOptions
from qa_analyser.store import Store

ROOT = Path(__file__).resolve().parents[1]
CALLS = ROOT / "fixtures" / "calls"


@pytest.fixture(scope="module")
def drop(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ray") / "drop"
    folder.mkdir()
    rows = [line for line in (CALLS / "manifest.csv").read_text().splitlines()
            if line.startswith(("file,", "inbound-01.wav", "collections-01.wav"))]
    for name in ("inbound-01.wav", "collections-01.wav"):  # one stereo call, one mono call
        shutil.copy(CALLS / name, folder / name)
    shutil.copy(ROOT / "fixtures" / "bad" / "truncated.mp3", folder / "broken.mp3")
    rows.append(rows[1].replace("inbound-01.wav,inbound-01,", "broken.mp3,broken,"))  # a row like the others
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
    return folder


def stored(db: Path) -> dict:
    store = Store.open(db)
    calls = {c["call_id"]: c for c in store.export_calls()}
    words = {cid: [(w.text, w.start, w.speaker) for w in store.call_transcript(cid).words(None)] for cid in calls}
    failures = [(f["file"], f["stage"], f["reason"]) for f in store.failures()]
    store.close()
    return {"calls": calls, "words": words, "failures": failures}


@pytest.mark.slow
def test_a_ray_run_stores_what_a_local_run_stores(drop: Path, tmp_path: Path) -> None:
    scripts = ROOT / "scripts_library"
    # The local run computes as a Ray task of one CPU does: one recogniser thread, and one BLAS thread
    # (Ray sets OMP_NUM_THREADS to a task's CPUs). With OpenBLAS's Haswell kernels a multi-threaded
    # matrix product sums in another order, which moves a word or a timestamp of the transcript.
    local = subprocess.run([sys.executable, "-m", "qa_analyser", "run", str(drop), "--scripts", str(scripts),
                            "--db", str(tmp_path / "local.db"), "--cpu-threads", "1", "--json"],
                           capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert local.returncode == 1, local.stderr
    counts = json.loads(local.stdout)["counts"]
    assert counts["transcribed"] == 2 and counts["failed"] == 1

    out = subprocess.run([sys.executable, "-m", "qa_analyser", "run", str(drop), "--scripts", str(scripts),
                          "--db", str(tmp_path / "ray.db"), "--executor", "ray", "--json"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 1, out.stderr  # 1: the corrupt recording is a new failure
    summary = json.loads(out.stdout)
    assert summary["counts"]["transcribed"] == 2 and summary["counts"]["failed"] == 1

    on_ray, here = stored(tmp_path / "ray.db"), stored(tmp_path / "local.db")
    assert on_ray["words"] == here["words"]  # the same transcripts, diarization of the mono call included
    for call_id, call in here["calls"].items():
        ours = on_ray["calls"][call_id]
        assert ours["score"] == call["score"]
        assert [(i["item_id"], i["status"], i["evidence"]) for i in ours["items"]] == \
               [(i["item_id"], i["status"], i["evidence"]) for i in call["items"]]
    assert on_ray["failures"] == here["failures"]
    (file, stage, reason), = on_ray["failures"]
    assert file == "broken.mp3" and stage == "decode"
    assert reason.startswith(f"{drop / 'broken.mp3'}: truncated audio") and "qa-job-" not in reason

    again = subprocess.run([sys.executable, "-m", "qa_analyser", "run", str(drop), "--scripts", str(scripts),
                            "--db", str(tmp_path / "ray.db"), "--executor", "ray", "--json"],
                           capture_output=True, text=True, timeout=600)
    counts = json.loads(again.stdout)["counts"]
    assert counts["unchanged"] == 2 and counts["transcribed"] == 0 and counts["failed_new"] == 0


def test_ray_options_are_checked_before_anything_runs(tmp_path: Path) -> None:
    from qa_analyser.errors import ConfigError
    from qa_analyser.pipeline import check_options

    with pytest.raises(ConfigError, match="executor"):
        check_options(RunOptions(executor="dask"))
    with pytest.raises(ConfigError, match="at least 1 CPU"):
        check_options(RunOptions(executor="ray", ray_cpus_per_task=0))
    from qa_analyser.executors import RayExecutor

    with pytest.raises(ConfigError, match="asks for 64 CPU"):  # more than this machine has: refused, not queued forever
        RayExecutor(RunOptions(executor="ray", ray_cpus_per_task=64))
