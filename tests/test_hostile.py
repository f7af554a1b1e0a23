"""Hostile input: a corpus of more than 200 broken, lying and malicious inputs made at test time
(tools/make_hostile.py), run through the library pipeline with a stand-in recogniser.

Every bad input must end as a stored failure whose file is the input and whose reason names it,
none as an "internal" failure (a traceback); the good calls in the same batch must be analysed;
nothing may hang; the content behind links that leave the folders must never be quoted.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest

from qa_analyser.errors import ManifestError
from qa_analyser.pipeline import RunOptions, run_drop_folder
from qa_analyser.store import Store

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("make_hostile", ROOT / "tools" / "make_hostile.py")
make_hostile = importlib.util.module_from_spec(_spec)
sys.modules["make_hostile"] = make_hostile  # dataclasses look their module up there
_spec.loader.exec_module(make_hostile)  # type: ignore[union-attr]

PROCESSED = ("transcribed", "reused", "rescored", "unchanged")
# Recordings whose name is not UTF-8: read through the openable name, stored under a printable one
# (paths.display_path). See test_recordings_named_in_bytes_that_are_not_utf8_are_analysed.
UNDECODABLE_NAMES = {"names/good/caf\\xe9.wav", "names/good/\\xff\\xfe.wav"}


ScriptedRecogniser = make_hostile.ScriptedRecogniser


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    started = time.perf_counter()
    corpus = make_hostile.make_corpus(root)
    store = Store.open(root / "qa.db")
    summary = run_drop_folder(corpus.drop, corpus.scripts, store, RunOptions(default_script="demo"),
                              transcriber=ScriptedRecogniser())
    wall_s = time.perf_counter() - started
    failures: dict[str, list[dict]] = {}
    for row in store.failures():
        failures.setdefault(row["file"], []).append(row)
    return corpus, summary, failures, store, wall_s


def test_the_corpus_is_large_and_covers_every_category(outcome):
    corpus, *_ = outcome
    counts = corpus.counts()
    bad = sum(1 for c in corpus.cases if c.expect == "fail") + len(corpus.unusable_manifests)
    assert bad >= 200, counts
    for category in ("wav-header", "truncated", "junk", "names", "links", "manifest-rows", "manifest-whole",
                     "scripts"):
        assert counts.get(category, 0) >= 5, counts


def test_every_bad_input_is_a_stored_failure_naming_it(outcome):
    corpus, _, failures, _, _ = outcome
    problems = []
    for case in corpus.cases:
        if case.expect != "fail":
            continue
        rows = failures.get(case.file)
        if not rows:
            problems.append(f"{case.file}: no stored failure")
            continue
        reasons = " | ".join(r["reason"] for r in rows)
        name = case.file.rsplit("/", 1)[-1]
        if not all(name in r["reason"] for r in rows):
            problems.append(f"{case.file}: a reason does not name the file: {reasons}")
        if case.fragment not in reasons:
            problems.append(f"{case.file}: expected {case.fragment!r} in: {reasons}")
    assert not problems, "\n".join(problems)


def test_no_failure_is_internal_and_none_is_unexpected(outcome):
    corpus, _, failures, _, _ = outcome
    internal = [f"{file}: {r['reason']}" for file, rows in failures.items() for r in rows
                if r["stage"] == "internal"]
    assert not internal, "\n".join(internal)
    assert not any("Traceback" in r["reason"] for rows in failures.values() for r in rows)
    expected = {c.file for c in corpus.cases if c.expect == "fail"}
    assert set(failures) - expected == set()


def test_the_good_calls_in_the_same_batch_are_analysed(outcome):
    corpus, summary, _, store, _ = outcome
    status = {o.file: o.status for o in summary.outcomes}
    good = [c.file for c in corpus.cases if c.expect == "process"]
    assert len(good) >= 25
    assert {f: status.get(f) for f in good if status.get(f) not in PROCESSED} == {}
    exported = {c["file"]: c for c in store.export_calls()}
    assert set(good) <= set(exported)
    assert all(exported[f]["score"] == 100.0 for f in good)
    # one stem, two extensions: two calls with their own ids
    assert exported["good/x.wav"]["call_id"] == "good/x.wav" and exported["good/x.mp3"]["call_id"] == "good/x.mp3"
    skipped = [c.file for c in corpus.cases if c.expect == "skip"]
    assert set(skipped) <= set(summary.skipped)


def test_link_targets_are_never_quoted(outcome):
    _, summary, failures, _, _ = outcome
    texts = [r["reason"] for rows in failures.values() for r in rows] + [o.reason for o in summary.outcomes]
    assert not [t for t in texts if "SECRET-PASSWD-LINE" in t or "root:x:0:0" in t]


def test_bounded_time(outcome):
    *_, wall_s = outcome
    assert wall_s < 60, f"corpus made and run in {wall_s:.1f} s"


def test_unusable_manifests_stop_the_run_with_a_clear_error(outcome, tmp_path):
    corpus, *_ = outcome
    for folder, fragment in corpus.unusable_manifests:
        with pytest.raises(ManifestError) as info:
            run_drop_folder(folder, corpus.scripts, Store.open(tmp_path / f"{folder.name}.db"),
                            RunOptions(default_script="demo"), transcriber=ScriptedRecogniser())
        assert "manifest.csv" in str(info.value) and fragment in str(info.value), str(info.value)
        assert "SECRET" not in str(info.value)


def test_a_fixed_manifest_row_does_not_store_the_recording_twice(tmp_path):
    """A row that cannot be parsed keeps its file out of the run: once fixed, one call, not two."""
    drop, scripts = tmp_path / "drop", tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "demo.yaml").write_text(make_hostile.GOOD_SCRIPT)
    make_hostile.wav_file(drop / "a.wav", seed=1)
    (drop / "manifest.csv").write_text("file,call_id,agent_id,started_at\na.wav,c-a,ag1,not-a-date\n")
    store = Store.open(tmp_path / "qa.db")
    first = run_drop_folder(drop, scripts, store, RunOptions(default_script="demo"),
                            transcriber=ScriptedRecogniser())
    assert first.counts == {"failed": 1} and store.export_calls() == []
    (drop / "manifest.csv").write_text("file,call_id,agent_id,started_at\na.wav,c-a,ag1,2026-11-02T09:00:00Z\n")
    run_drop_folder(drop, scripts, store, RunOptions(default_script="demo"), transcriber=ScriptedRecogniser())
    assert [c["call_id"] for c in store.export_calls()] == ["c-a"]


def test_recordings_named_in_bytes_that_are_not_utf8_are_analysed(outcome):
    _, summary, _, _, _ = outcome
    status = {o.file: o.status for o in summary.outcomes}
    assert {f: status.get(f) for f in UNDECODABLE_NAMES} == dict.fromkeys(UNDECODABLE_NAMES, "transcribed")


def test_mutated_scripts_audio_and_manifests_raise_only_qa_errors(tmp_path):
    """Seeded mutations (a few hundred of each kind; the same run found a crash in each reader)."""
    import random

    from qa_analyser.audio import decode_audio
    from qa_analyser.errors import QAError
    from qa_analyser.ingest import scan_drop_folder
    from qa_analyser.scripts import check_script

    rng = random.Random(7)
    crashes = []

    def mutate(text: str, tokens: list[str], times: int) -> str:
        for _ in range(rng.randint(1, times)):
            i = rng.randrange(len(text))
            text = text[:i] + rng.choice(tokens) + text[i:] if rng.random() < 0.6 else text[:i] + text[i + 8:]
        return text

    script = (ROOT / "scripts_library" / "energy-inbound.yaml").read_text()
    yaml_tokens = ["!!bool", "!!int", "!!str", "&a", "*a", "{", "]", ": ", "- ", "\t", "\x00", "'", '"', "|",
                   "?", "\n", "  ", "---\n", ".inf", "~", "<<: *a", "\u2028"]
    path = tmp_path / "s.yaml"
    for _ in range(400):
        path.write_bytes(mutate(script, yaml_tokens, 4).encode("utf-8", "replace"))
        try:
            check_script(path)
        except Exception as e:  # noqa: BLE001 - anything else is the bug this test looks for
            crashes.append(f"script: {e!r}")

    sources = [make_hostile.wav_file(tmp_path / "src.wav", seconds=1.0),
               make_hostile.encoded(tmp_path / "src.mp3", "libmp3lame", seconds=1.0)]
    for n in range(200):
        blob = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 8)):
            blob[rng.randrange(min(len(blob), 300))] = rng.randrange(256)
        p = tmp_path / f"a{n}.mp3"
        p.write_bytes(bytes(blob))
        try:
            decode_audio(p)
        except QAError:
            pass
        except Exception as e:  # noqa: BLE001
            crashes.append(f"audio: {e!r}")

    drop = tmp_path / "drop"
    for name in "abc":
        make_hostile.write(drop / f"{name}.wav", b"x")
    manifest = "file,call_id,agent_id,started_at,channels\n" + "".join(
        f"{name}.wav,c{name},ag,2026-11-02T09:00:00Z,mono\n" for name in "abc")
    csv_tokens = ['"', ",", "\n", "\r", "\x00", "\u2028", "file", "../", "not-a-date", " "]
    for _ in range(300):
        (drop / "manifest.csv").write_bytes(mutate(manifest, csv_tokens, 5).encode("utf-8", "replace"))
        try:
            folder = scan_drop_folder(drop)
        except QAError:
            continue
        except Exception as e:  # noqa: BLE001
            crashes.append(f"manifest: {e!r}")
            continue
        analysed = {c.file for c in folder.calls}
        if analysed & {p.file for p in folder.problems}:
            crashes.append(f"manifest: a file both analysed and failed: {analysed}")
    assert not crashes, "\n".join(crashes[:10])
