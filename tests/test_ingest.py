from pathlib import Path

import pytest

from qa_analyser.errors import ConfigError, ManifestError
from qa_analyser.ingest import scan_drop_folder, sha256_file


def touch(root: Path, rel: str, data: bytes = b"x") -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


HEADER = "file,call_id,agent_id,agent_name,team,script_id,started_at,channels,queue\n"


def test_manifest_rows_become_calls_and_extra_columns_are_kept(tmp_path):
    touch(tmp_path, "2026-11-02/c123.mp3")
    touch(tmp_path, "other.wav")
    (tmp_path / "manifest.csv").write_text(
        HEADER + "2026-11-02/c123.mp3,c123,agent-104,Tom,northwind,energy,2026-11-02T09:14:03Z,agent-right,billing\n")
    folder = scan_drop_folder(tmp_path)
    calls = {c.call_id: c for c in folder.calls}
    c = calls["c123"]
    assert (c.agent_id, c.agent_name, c.team, c.script_id, c.channels) == (
        "agent-104", "Tom", "northwind", "energy", "agent-right")
    assert dict(c.metadata) == {"queue": "billing"}
    assert c.file == "2026-11-02/c123.mp3" and Path(c.path).is_file()
    # not in the manifest: defaults
    assert calls["other"].agent_id == "unknown" and calls["other"].channels is None
    assert folder.problems == ()


def test_non_recordings_are_skipped_not_failed(tmp_path):
    touch(tmp_path, "a.wav")
    touch(tmp_path, "notes.txt")
    touch(tmp_path, "meta/a.json")
    touch(tmp_path, ".hidden.wav")
    folder = scan_drop_folder(tmp_path)
    assert [c.file for c in folder.calls] == ["a.wav"]
    assert sorted(folder.skipped) == ["meta/a.json", "notes.txt"]


def test_bad_manifest_rows_are_problems_and_the_rest_goes_on(tmp_path):
    for n in ("a", "b", "c", "d"):
        touch(tmp_path, f"{n}.wav")
    (tmp_path / "manifest.csv").write_text(
        HEADER
        + "a.wav,call-a,ag1,Ann,t,s,,agent-middle,\n"   # bad channels (line 2)
        + "b.wav,call-b\n"                              # too few columns (line 3)
        + "c.wav,call-c,ag1,Ann,t,s,,mono,\n"
        + "missing.wav,call-m,ag1,Ann,t,s,,mono,\n"      # not in the folder (line 5)
        + "d.wav,call-c,ag1,Ann,t,s,,mono,\n")           # duplicate call id (line 6)
    folder = scan_drop_folder(tmp_path)
    assert [c.call_id for c in folder.calls] == ["call-c"]
    reasons = {p.file: p.reason for p in folder.problems}
    assert "manifest.csv:2" in reasons["a.wav"] and "agent-middle" in reasons["a.wav"]
    assert "manifest.csv:3" in reasons["b.wav"] and "columns" in reasons["b.wav"]
    assert "manifest.csv:5" in reasons["missing.wav"] and "not found" in reasons["missing.wav"]
    assert "manifest.csv:6" in reasons["d.wav"] and "line 4" in reasons["d.wav"]


def test_manifest_without_file_column_is_an_error_naming_it(tmp_path):
    (tmp_path / "manifest.csv").write_text("name,agent\nx,y\n")
    with pytest.raises(ManifestError, match=r"manifest.csv:1: .*'file' column"):
        scan_drop_folder(tmp_path)


def test_file_name_pattern_fills_metadata(tmp_path):
    touch(tmp_path, "northwind/agent-7_c9.wav")
    folder = scan_drop_folder(tmp_path, name_pattern=r"(?P<team>[^/]+)/(?P<agent_id>[^_]+)_(?P<call_id>[^.]+)")
    (c,) = folder.calls
    assert (c.team, c.agent_id, c.call_id) == ("northwind", "agent-7", "c9")


def test_bad_pattern_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown group"):
        scan_drop_folder(tmp_path, name_pattern=r"(?P<colour>.*)")
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        scan_drop_folder(tmp_path, name_pattern=r"(")


def test_same_stem_in_two_folders_gets_distinct_ids(tmp_path):
    touch(tmp_path, "day1/c1.wav")
    touch(tmp_path, "day2/c1.wav")
    assert sorted(c.call_id for c in scan_drop_folder(tmp_path).calls) == ["day1/c1", "day2/c1"]


def test_missing_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        scan_drop_folder(tmp_path / "nope")


def test_content_hash_identifies_recordings(tmp_path):
    a = touch(tmp_path, "a.wav", b"same bytes")
    b = touch(tmp_path, "b.wav", b"same bytes")
    c = touch(tmp_path, "c.wav", b"other bytes")
    assert sha256_file(a) == sha256_file(b) != sha256_file(c)
    assert sha256_file(a)[1] == len(b"same bytes")
