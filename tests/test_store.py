"""The results database: migrations, round trips, export shape, rescore, failures, lock, atomicity."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from qa_analyser.datatypes import (
    CallInfo,
    CallScore,
    Item,
    ItemResult,
    ProhibitedRule,
    Script,
    Section,
    Segment,
    Transcript,
    TranscriptionOptions,
    Word,
    WordingDiff,
)
from qa_analyser.errors import LockedError, ReportError, StoreError
from qa_analyser.store import MIGRATIONS, CallState, Store

REPO = Path(__file__).resolve().parents[1]
SHA = "ab" * 32


# --------------------------------------------------------------------------- builders


def make_transcript(**changes) -> Transcript:
    agent = Segment(
        text=" Thank you for calling Brightwater Energy, my name is Tom.",
        start=0.8,
        end=3.9,
        speaker="agent",
        channel=0,
        avg_logprob=-0.21,
        no_speech_prob=0.01,
        words=tuple(
            Word(text=t, start=0.8 + i * 0.3, end=1.0 + i * 0.3, probability=0.9 - i * 0.01, speaker="agent")
            for i, t in enumerate(" Thank you for calling Brightwater Energy, my name is Tom.".split(" ")[1:])
        ),
    )
    customer = Segment(
        text=" I'm cancelling my account.",
        start=5.0,
        end=6.5,
        speaker="customer",
        channel=1,
        words=(
            Word(" I'm", 5.0, 5.2, 0.8, "customer"),
            Word(" cancelling", 5.2, 5.8, 0.7, "customer"),
            Word(" my", 5.8, 6.0, 0.95, "customer"),
            Word(" account.", 6.0, 6.5, 0.99, "customer"),
        ),
    )
    transcript = Transcript(
        segments=(agent, customer),
        duration_s=84.2,
        channels="agent-left",
        options=TranscriptionOptions(model="tiny.en", beam_size=1, language="en", initial_prompt="Brightwater"),
        language="en",
        model_id="tiny.en@sha256:1234",
        compute_type="int8",
        device="cpu",
        speech_s=60.5,
    )
    return dataclasses.replace(transcript, **changes)


def make_script(version: str = "3", content_hash: str = "c" * 64) -> Script:
    return Script(
        id="energy-inbound",
        version=version,
        name="Brightwater Energy - inbound service",
        sections=(
            Section(
                id="opening",
                items=(Item(id="greeting", section="opening", text="Thank you for calling {company}", weight=10),),
            ),
        ),
        prohibited=(ProhibitedRule(id="threat", phrases=("we will take you to court",), weight=25, critical=True),),
        variables=(("company", "Brightwater Energy"),),
        path="scripts/energy.yaml",
        content_hash=content_hash,
        source=f"id: energy-inbound\nversion: '{version}'\n",
    )


def make_results(greeting: str = "met") -> list[ItemResult]:
    return [
        ItemResult(
            item_id="greeting",
            section="opening",
            kind="required",
            status=greeting,
            confidence=0.93,
            flags=("late",),
            start_s=0.8,
            end_s=3.9,
            evidence="thank you for calling brightwater energy my name is tom",
            speaker="agent",
            detail="approved wording",
            weight=10,
        ),
        ItemResult(
            item_id="threat",
            section=None,
            kind="prohibited",
            status="violated",
            confidence=0.88,
            start_s=41.0,
            end_s=43.1,
            evidence="if you don't pay we will take you to court",
            speaker="agent",
            weight=25,
            critical=True,
        ),
    ]


SCORE = CallScore(score=72.5, passed=False, earned=29.0, possible=40.0, critical_failures=("threat",))


def make_call(call_id: str = "c123", **changes) -> CallInfo:
    call = CallInfo(
        path=f"/drop/2026-11-02/{call_id}.mp3",
        file=f"2026-11-02/{call_id}.mp3",
        call_id=call_id,
        agent_id="agent-104",
        agent_name="Tom",
        team="northwind-bpo",
        script_id="energy-inbound",
        started_at="2026-11-02T09:14:03Z",
        channels="agent-left",
        metadata=(("queue", "billing"), ("site", "leeds")),
    )
    return dataclasses.replace(call, **changes)


def save(store: Store, call: CallInfo | None = None, *, transcript_id: int | None = None, sha: str = SHA,
         results: list[ItemResult] | None = None, run_id: int = 1, transcript: Transcript | None = None) -> int:
    return store.save_call(
        run_id=run_id,
        call=call or make_call(),
        recording_sha256=sha,
        size=123456,
        source_channels=2,
        transcript=transcript or make_transcript(),
        transcript_id=transcript_id,
        script=make_script(),
        results=make_results() if results is None else results,
        score=SCORE,
        matcher_version="match.v1",
        matcher_options={"met_threshold": 0.8},
    )


def count(store: Store, table: str) -> int:
    return store.db.execute(f"SELECT COUNT(*) FROM [{table}]").fetchone()[0]


@pytest.fixture
def store() -> Store:
    s = Store.memory()
    yield s
    s.close()


# --------------------------------------------------------------------------- schema


def test_migrations_recorded_and_idempotent(tmp_path):
    path = tmp_path / "qa.db"
    first = Store.open(path)
    assert first.db.journal_mode == "wal"
    first.close()
    second = Store.open(path)  # reopening applies nothing twice
    rows = list(second.db.query("SELECT migration_set, name FROM _sqlite_migrations ORDER BY id"))
    assert rows == [{"migration_set": "qa_analyser", "name": m.name} for m in MIGRATIONS._migrations]
    assert MIGRATIONS.pending(second.db) == []
    assert {"recordings", "transcripts", "segments", "words", "scripts", "calls", "scores", "item_results",
            "runs", "failures", "segments_fts"} <= set(second.db.table_names())
    second.close()


def test_database_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "qa.db"
    Store.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('qa_analyser', 'm999_future', 'x')"
        )
    with pytest.raises(StoreError, match="newer qa-analyser.*m999_future"):
        Store.open(path)


def test_not_a_database(tmp_path):
    bogus = tmp_path / "results.csv"
    bogus.write_text("call_id,score\nc1,80\n" * 100)
    with pytest.raises(StoreError, match=r"results\.csv is not a SQLite database"):
        Store.open(bogus)
    with pytest.raises(StoreError, match="is a folder"):
        Store.open(tmp_path)
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(tmp_path / "missing" / "qa.db")


def test_corrupt_database_is_a_store_error(tmp_path):
    path = tmp_path / "qa.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with pytest.raises(StoreError, match=str(path)):
        Store.open(path)


def test_unwritable_database_is_a_store_error(tmp_path):
    import sqlite_utils

    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(StoreError, match=r"empty\.db: cannot open the database: attempt to write a readonly"):
        Store(sqlite_utils.Database(sqlite3.connect(f"file:{empty}?mode=ro", uri=True)))
    path = tmp_path / "qa.db"
    Store.open(path).close()
    read_only = Store(sqlite_utils.Database(sqlite3.connect(f"file:{path}?mode=ro", uri=True)))
    assert read_only.export_calls() == []  # reading works
    with pytest.raises(StoreError, match=r"qa\.db: cannot record the run: attempt to write a readonly"):
        read_only.start_run(command="qa run", drop_dir=None, options={}, versions={})


def _as_unprivileged_user(body) -> str:
    """Run `body()` in a forked child that cannot override file modes (root drops to nobody first);
    returns what it returned, or "raised <type>: <message>"."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        try:
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            try:
                out = str(body())
            except Exception as e:  # noqa: BLE001 - reported to the parent
                out = f"raised {type(e).__name__}: {e}"
            os.write(write, out.encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        out = pipe.read()
    os.waitpid(pid, 0)
    return out


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_read_only_database(tmp_path):
    import tempfile

    # tmp_path's parents may be closed to other users (root's pytest folder): a folder under /tmp instead
    folder = Path(tempfile.mkdtemp(prefix="qa-ro-"))
    path = folder / "qa.db"
    try:
        Store.open(path).close()
        path.chmod(0o444)
        folder.chmod(0o555)

        def write_a_run():
            s = Store.open(path)
            s.start_run(command="qa run", drop_dir=None, options={}, versions={})
            return "written"

        out = _as_unprivileged_user(write_a_run)
        assert out.startswith("raised StoreError: ") and str(path) in out, out
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


def test_database_of_qa_analyser_0_1_is_upgraded_in_place(tmp_path):
    """fixtures/db/qa-0.1.db is frozen: a database as 0.1 wrote it (migrations m001 and m002), with one
    scored call, one run and one open failure. Never regenerate it; add a new frozen file instead."""
    path = tmp_path / "old.db"
    shutil.copy(REPO / "fixtures" / "db" / "qa-0.1.db", path)
    store = Store.open(path)
    assert [m.name for m in MIGRATIONS.applied(store.db)] == [m.name for m in MIGRATIONS._migrations]
    assert "wording" in store.db["item_results"].columns_dict
    assert {"score_id", "call_id"} <= set(store.db["item_results"].columns_dict)
    assert {"fingerprint", "last_run_id"} <= set(store.db["failures"].columns_dict)
    (call,) = store.export_calls()
    assert call["call_id"] == "old1" and call["score"] == 100
    assert call["items"] == [{"item_id": "greeting", "section": "opening", "kind": "required", "status": "met",
                              "flags": [], "confidence": 0.9, "start_s": None, "end_s": None,
                              "evidence": "thank you for calling", "speaker": None, "detail": "", "weight": 1.0,
                              "critical": False, "wording": None, "override": None}]
    assert call["overrides"] == [] and store.overrides() == []
    (old_score,) = store.score_history("old1")
    assert old_score["current"] is True and old_score["items"][0]["status"] == "met"
    assert store.call_transcript("old1").segments[0].text == "Thank you for calling"
    assert store.search("calling")[0]["call_id"] == "old1"  # the full-text index survived
    (failure,) = store.failures()
    assert failure["file"] == "empty.wav" and failure["last_run_id"] == 1
    # the same file failing the same way is not a new failure (it had no fingerprint then, and has none now)
    assert store.save_failure(run_id=2, file="empty.wav", call_id=None, stage="decode",
                              reason="empty.wav: empty file") is False
    save(store, results=[dataclasses.replace(make_results()[0], wording=WORDING)])  # new rows carry it
    assert store.export_calls(call_id="c123")[0]["items"][0]["wording"]["fidelity"] == 0.83
    store.close()


# --------------------------------------------------------------------------- calls

WORDING = WordingDiff(
    fidelity=0.83,
    approved="this call is recorded for quality and training purposes",
    dropped=("training",),
    substituted=(("purposes", "reasons"),),
    added=("today",),
)


def test_wording_diff_round_trips_through_save_rescore_and_export(store):
    verbatim = ItemResult(item_id="notice", section="opening", kind="required", status="partial",
                          confidence=0.83, start_s=4.0, end_s=7.5, evidence="this call is recorded for quality",
                          detail="verbatim item: wording not exact", wording=WORDING)
    save(store, results=[*make_results(), verbatim])
    items = store.export_calls()[0]["items"]
    assert [i["wording"] for i in items] == [None, None, {
        "fidelity": 0.83,
        "approved": "this call is recorded for quality and training purposes",
        "dropped": ["training"],
        "substituted": [["purposes", "reasons"]],
        "added": ["today"],
        "uncertain": [],
    }]
    raw = store.db.execute("SELECT wording FROM item_results WHERE item_id = 'greeting'").fetchone()[0]
    assert raw is None  # NULL, not the JSON text 'null', for items that are not verbatim

    exact = dataclasses.replace(WORDING, fidelity=1.0, dropped=(), substituted=(), added=())
    store.save_rescore(run_id=2, call_id="c123", script=make_script(), score=SCORE, matcher_version="v2",
                       matcher_options={}, results=[dataclasses.replace(verbatim, status="met", wording=exact)])
    (item,) = store.export_calls()[0]["items"]
    assert item["wording"] == {"fidelity": 1.0, "approved": WORDING.approved, "dropped": [], "substituted": [],
                               "added": [], "uncertain": []}
    current, earlier = store.score_history("c123")
    assert [i["status"] for i in current["items"]] == ["met"]
    assert [i["status"] for i in earlier["items"]] == ["met", "violated", "partial"]
    kept = store.db.execute("SELECT wording FROM item_results WHERE score_id = ? AND item_id = 'notice'",
                            [earlier["id"]]).fetchone()[0]
    assert '"fidelity": 0.83' in kept  # the earlier verdict keeps its wording diff


def test_one_call_and_its_transcript(store):
    save(store)
    save(store, make_call("c200"), sha="cd" * 32)
    assert [c["call_id"] for c in store.export_calls(call_id="c200")] == ["c200"]
    assert store.export_calls(call_id="nope") == []
    assert store.call_transcript("c200") == make_transcript()
    assert store.call_transcript("nope") is None



def test_save_call_round_trip(store):
    transcript = make_transcript()
    transcript_id = save(store, transcript=transcript)
    found = store.find_transcript(SHA, channels="agent-left", options_key=transcript.options.key())
    assert found == (transcript_id, transcript)
    assert store.find_transcript(SHA, channels="mono", options_key=transcript.options.key()) is None
    assert store.find_transcript(SHA, channels="agent-left", options_key="model=base") is None
    assert store.call_state("c123") == CallState(
        call_id="c123",
        file="2026-11-02/c123.mp3",
        recording_sha256=SHA,
        transcript_id=transcript_id,
        script_hash="c" * 64,
        matcher_version="match.v1",
        options_key=transcript.options.key(),
        channels="agent-left",
        script_id="energy-inbound",
        matcher_options={"met_threshold": 0.8},
        score=SCORE,
        duration_s=84.2,
    )
    assert store.call_state("nope") is None
    source = store.db.execute("SELECT source FROM scripts WHERE content_hash = ?", ["c" * 64]).fetchone()[0]
    assert source == "id: energy-inbound\nversion: '3'\n"  # the exact YAML a score rests on
    recording = next(store.db.query("SELECT sha256, size, duration_s, source_channels FROM recordings"))
    assert recording == {"sha256": SHA, "size": 123456, "duration_s": 84.2, "source_channels": 2}


def test_transcript_reuse_writes_no_new_transcript(store):
    transcript_id = save(store)
    words = count(store, "words")
    assert save(store, make_call("c124"), transcript_id=transcript_id) == transcript_id
    assert count(store, "transcripts") == 1 and count(store, "words") == words
    assert count(store, "calls") == 2
    with pytest.raises(StoreError, match="no stored transcript with id 99"):
        save(store, make_call("c125"), transcript_id=99)


def test_same_transcript_key_saved_again_is_replaced_in_place(store):
    first = save(store)
    changed = make_transcript(segments=make_transcript().segments[:1])
    assert save(store, transcript=changed) == first
    assert count(store, "transcripts") == 1 and count(store, "segments") == 1
    assert store.find_transcript(SHA, channels="agent-left", options_key=changed.options.key())[1] == changed


def test_saving_a_call_again_replaces_it_and_keeps_the_old_score(store):
    save(store)
    save(store, make_call(agent_name="Thomas"), results=make_results("partial")[:1])
    assert count(store, "calls") == 1 and count(store, "scores") == 2
    assert [h["current"] for h in store.score_history("c123")] == [True, False]
    (row,) = store.export_calls()
    assert row["agent_name"] == "Thomas"
    assert [i["status"] for i in row["items"]] == ["partial"]


def test_export_shape_matches_contract(store):
    save(store)
    exported = store.export_calls()
    assert len(exported) == 1
    call = exported[0]
    contract_keys = ["call_id", "file", "agent_id", "team", "script_id", "script_version", "duration_s",
                     "score", "passed", "items"]
    assert list(call)[: len(contract_keys)] == contract_keys
    assert {k: call[k] for k in contract_keys if k != "items"} == {
        "call_id": "c123",
        "file": "2026-11-02/c123.mp3",
        "agent_id": "agent-104",
        "team": "northwind-bpo",
        "script_id": "energy-inbound",
        "script_version": "3",
        "duration_s": 84.2,
        "score": 72.5,
        "passed": False,
    }
    item_keys = ["item_id", "section", "kind", "status", "flags", "confidence", "start_s", "end_s", "evidence"]
    greeting, threat = call["items"]
    assert list(greeting)[: len(item_keys)] == item_keys
    assert {k: greeting[k] for k in item_keys} == {
        "item_id": "greeting",
        "section": "opening",
        "kind": "required",
        "status": "met",
        "flags": ["late"],
        "confidence": 0.93,
        "start_s": 0.8,
        "end_s": 3.9,
        "evidence": "thank you for calling brightwater energy my name is tom",
    }
    assert {k: threat[k] for k in item_keys} == {
        "item_id": "threat",
        "section": None,
        "kind": "prohibited",
        "status": "violated",
        "flags": [],
        "confidence": 0.88,
        "start_s": 41.0,
        "end_s": 43.1,
        "evidence": "if you don't pay we will take you to court",
    }
    # extras that explain the score
    assert call["agent_name"] == "Tom"
    assert call["metadata"] == {"queue": "billing", "site": "leeds"}
    assert call["model_id"] == "tiny.en@sha256:1234"
    assert call["matcher_version"] == "match.v1"
    assert call["critical_failures"] == ["threat"]
    assert call["transcription_options"]["initial_prompt"] == "Brightwater"
    assert threat["critical"] is True and greeting["detail"] == "approved wording"


def test_export_filters(store):
    save(store)
    save(store, make_call("c200", agent_id="agent-7", team="other"), sha="cd" * 32)
    assert [c["call_id"] for c in store.export_calls()] == ["c123", "c200"]
    assert [c["call_id"] for c in store.export_calls(agent_id="agent-7")] == ["c200"]
    assert [c["call_id"] for c in store.export_calls(team="northwind-bpo")] == ["c123"]
    assert store.export_calls(script_id="other-script") == []
    assert len(store.export_calls(script_id="energy-inbound")) == 2


def test_rescore_adds_a_current_score_and_keeps_history(store):
    save(store)
    call, transcript, used_script_id = next(store.calls_for_rescore())
    assert call == make_call()
    assert transcript == make_transcript()
    assert used_script_id == "energy-inbound"
    new_script = make_script(version="4", content_hash="d" * 64)
    run_id = store.start_run(command="qa rescore", drop_dir=None, options={}, versions={})
    store.save_rescore(
        run_id=run_id,
        call_id=call.call_id,
        script=new_script,
        results=make_results("missed")[:1],
        score=CallScore(score=0.0, passed=True, earned=0.0, possible=10.0),
        matcher_version="match.v2",
        matcher_options={"met_threshold": 0.9},
    )
    (row,) = store.export_calls()
    assert row["script_version"] == "4" and row["score"] == 0.0 and row["passed"] is True
    assert [(i["item_id"], i["status"]) for i in row["items"]] == [("greeting", "missed")]
    assert row["model_id"] == "tiny.en@sha256:1234"  # still the transcript's model
    assert row["run_id"] == run_id
    assert count(store, "scripts") == 2
    new, old = store.score_history("c123")
    assert (new["current"], new["script_version"], new["run_id"]) == (True, "4", run_id)
    assert [i["status"] for i in new["items"]] == ["missed"]
    assert (old["current"], old["script_version"]) == (False, "3")
    assert [i["status"] for i in old["items"]] == [r.status for r in make_results()]
    assert len(store.export_calls()[0]["items"]) == 1  # exports read the current score only
    state = store.call_state("c123")
    assert (state.script_hash, state.matcher_version) == ("d" * 64, "match.v2")
    with pytest.raises(StoreError, match="no stored call 'ghost'"):
        store.save_rescore(run_id=run_id, call_id="ghost", script=new_script, results=[], score=SCORE,
                           matcher_version="v", matcher_options={})


def test_calls_for_rescore_tolerates_writes_while_iterating(store):
    first = save(store)
    save(store, make_call("c124"), transcript_id=first)
    seen = []
    for call, _, _ in store.calls_for_rescore():
        store.save_rescore(run_id=2, call_id=call.call_id, script=make_script(), results=[], score=SCORE,
                           matcher_version="v2", matcher_options={})
        seen.append(call.call_id)
    assert seen == ["c123", "c124"]


# --------------------------------------------------------------------------- atomicity


def test_failure_mid_save_call_leaves_nothing(store, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Store, "_save_score", explode)
    with pytest.raises(RuntimeError, match="disk on fire"):
        save(store)
    for table in ("recordings", "transcripts", "segments", "words", "scripts", "calls", "scores", "item_results"):
        assert count(store, table) == 0, table
    assert store.search("cancel") == []
    assert not store.db.conn.in_transaction
    monkeypatch.undo()
    save(store)  # the store is still usable
    assert count(store, "calls") == 1


def test_killed_process_mid_save_call_leaves_nothing(tmp_path):
    path = tmp_path / "qa.db"
    Store.open(path).close()
    child = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(REPO / "tests")!r}); sys.path.insert(0, {str(REPO)!r})
        import test_store
        from qa_analyser.store import Store
        store = Store.open({str(path)!r})
        def die(*a, **k):
            os.kill(os.getpid(), 9)   # killed between the transcript and the score
        Store._save_score = die
        test_store.save(store)
        """
    )
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    store = Store.open(path)
    for table in ("recordings", "transcripts", "segments", "words", "calls", "scores", "item_results"):
        assert count(store, table) == 0, table
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    save(store)
    assert count(store, "calls") == 1
    store.close()


# --------------------------------------------------------------------------- runs and failures


def test_runs(store):
    run_id = store.start_run(command="qa run", drop_dir="/drop", options={"workers": 2, "db": Path("x.db")},
                             versions={"qa_analyser": "0.1.0"})
    (run,) = store.runs()
    assert run["status"] == "running" and run["finished_at"] is None and run["pid"] == os.getpid()
    assert run["options"] == {"workers": 2, "db": "x.db"}
    store.finish_run(run_id, counts={"processed": 3, "failed": 1}, status="failed")
    (run,) = store.runs()
    assert (run["status"], run["counts"]) == ("failed", {"processed": 3, "failed": 1})
    assert run["finished_at"] >= run["started_at"]


def test_failures_stored_superseded_and_cleared(store):
    store.save_failure(run_id=1, file="a.mp3", call_id="a", stage="decode", reason="not audio")
    store.save_failure(run_id=2, file="a.mp3", call_id="a", stage="decode", reason="still not audio")
    store.save_failure(run_id=2, file="2026-11-02/c123.mp3", call_id="c123", stage="transcribe", reason="boom")
    open_now = store.failures()
    assert [(f["file"], f["reason"]) for f in open_now] == [
        ("2026-11-02/c123.mp3", "boom"),
        ("a.mp3", "still not audio"),
    ]
    assert [f["reason"] for f in store.failures(run_id=1)] == ["not audio"]
    assert store.failures(run_id=1)[0]["resolution"] == "superseded"
    save(store)  # c123 now succeeds: no longer failing
    assert [f["file"] for f in store.failures()] == ["a.mp3"]
    store.clear_failures("a.mp3")
    assert store.failures() == []
    assert len(store.failures(include_resolved=True)) == 3


def test_the_same_file_failing_the_same_way_is_not_a_new_failure(store):
    first = store.save_failure(run_id=1, file="a.mp3", call_id="a", stage="decode", reason="not audio",
                               fingerprint="f1")
    again = store.save_failure(run_id=2, file="a.mp3", call_id="a", stage="decode", reason="not audio",
                               fingerprint="f1")
    assert (first, again) == (True, False)
    (row,) = store.failures()
    assert (row["run_id"], row["last_run_id"]) == (1, 2)
    assert [f["id"] for f in store.failures(run_id=2)] == [row["id"]]  # run 2 saw it
    # changed bytes, or another reason: new
    assert store.save_failure(run_id=3, file="a.mp3", call_id="a", stage="decode", reason="not audio",
                              fingerprint="f2") is True
    assert store.save_failure(run_id=4, file="a.mp3", call_id="a", stage="decode", reason="truncated",
                              fingerprint="f2") is True
    assert [f["reason"] for f in store.failures()] == ["truncated"]


def test_acknowledged_failures_stay_quiet_and_retried_ones_are_reported_again(store):
    store.save_failure(run_id=1, file="a.mp3", call_id="a", stage="decode", reason="not audio", fingerprint="f1")
    store.save_failure(run_id=1, file="b.mp3", call_id="b", stage="decode", reason="empty", fingerprint="f2")
    a, b = store.failures()
    assert [r["id"] for r in store.close_failures([a["id"]], resolution="acknowledged")] == [a["id"]]
    assert [f["file"] for f in store.failures()] == ["b.mp3"]
    assert store.save_failure(run_id=2, file="a.mp3", call_id="a", stage="decode", reason="not audio",
                              fingerprint="f1") is False  # acknowledged: same failure, not news
    assert [f["file"] for f in store.failures()] == ["b.mp3"]
    store.close_failures(None, resolution="retry")
    assert store.failures() == []
    assert store.save_failure(run_id=3, file="b.mp3", call_id="b", stage="decode", reason="empty",
                              fingerprint="f2") is True  # retried: reported afresh
    with pytest.raises(ReportError, match="no open failure with id 999"):
        store.close_failures([999], resolution="acknowledged")
    save(store, make_call("a", file="a.mp3"))  # a.mp3 now works: its acknowledged failure is closed too
    assert store.save_failure(run_id=4, file="a.mp3", call_id="a", stage="decode", reason="not audio",
                              fingerprint="f1") is True


def test_a_script_that_loads_again_is_no_longer_failing(store):
    store.save_failure(run_id=1, file="scripts/energy.yaml", call_id=None, stage="script", reason="bad key")
    store.save_script(make_script())  # its path is scripts/energy.yaml
    assert store.failures() == []
    store.save_script(make_script())  # idempotent
    assert count(store, "scripts") == 1


# --------------------------------------------------------------------------- reports and search


def test_search(store):
    save(store)
    hits = store.search("cancel account")  # stemmed: finds "cancelling"
    assert hits == [{"call_id": "c123", "file": "2026-11-02/c123.mp3", "agent_id": "agent-104",
                     "speaker": "customer", "start_s": 5.0, "end_s": 6.5, "text": " I'm cancelling my account."}]
    assert store.search('brightwater "energy') [0]["speaker"] == "agent"  # quotes cannot break the query
    assert store.search("refund") == []
    assert store.search("   ") == []


# --------------------------------------------------------------------------- lock


def test_lock_is_a_no_op_in_memory(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with store.lock():
        with store.lock():  # nothing to hold: nesting works and no lock file is made
            store.start_run(command="qa run", drop_dir=None, options={}, versions={})
    assert list(tmp_path.iterdir()) == [] and store.path is None
    assert store.runs()[0]["status"] == "running"


def test_database_wal_shm_and_lock_are_owner_only(tmp_path):
    path = tmp_path / "qa.db"
    store = Store.open(path)
    with store.lock():
        store.start_run(command="qa run", drop_dir=None, options={}, versions={})
        files = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    store.close()
    assert files == {"qa.db": 0o600, "qa.db-wal": 0o600, "qa.db-shm": 0o600, "qa.db.lock": 0o600}


HOLDER = """
import sys, time
sys.path.insert(0, {repo!r})
from qa_analyser.store import Store
store = Store.open({path!r})
with store.lock():
    print("locked", flush=True)
    time.sleep(60)
"""


def test_lock_held_by_another_process(tmp_path):
    path = tmp_path / "qa.db"
    Store.open(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER.format(repo=str(REPO), path=str(path))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        store = Store.open(path)
        with pytest.raises(LockedError) as info:
            with store.lock():
                pass
        message = str(info.value)
        assert str(path) in message and f"pid {holder.pid}" in message and "another `qa run`" in message
        assert isinstance(info.value, StoreError)
        # a killed holder never blocks the next run
        holder.kill()
        holder.wait(timeout=30)
        store.db.execute("INSERT INTO runs (pid, started_at, command, status) VALUES (?, 'x', 'run', 'running')",
                         [holder.pid])
        store.db.conn.commit()
        with store.lock():
            assert store.runs()[-1]["status"] == "interrupted"  # its run was killed
            store.start_run(command="qa run", drop_dir=None, options={}, versions={})
        with store.lock():  # released on exit
            pass
        store.close()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=30)
