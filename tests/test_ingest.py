import os
from pathlib import Path

import pytest

from qa_analyser.errors import ConfigError, ManifestError
from qa_analyser.ingest import MAX_RECORDING_BYTES, default_call_ids, scan_drop_folder, sha256_file


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


# --------------------------------------------------------------------------- call ids


def test_same_stem_with_two_extensions_gets_distinct_ids(tmp_path):
    for rel in ("x.wav", "x.mp3", "day1/c1.wav", "day1/c1.flac", "day2/c1.wav", "solo.ogg"):
        touch(tmp_path, rel)
    ids = {c.file: c.call_id for c in scan_drop_folder(tmp_path).calls}
    assert ids == {"x.wav": "x.wav", "x.mp3": "x.mp3", "day1/c1.wav": "day1/c1.wav",
                   "day1/c1.flac": "day1/c1.flac", "day2/c1.wav": "day2/c1", "solo.ogg": "solo"}
    assert default_call_ids(["a/b.wav"]) == {"a/b.wav": "b"}


# --------------------------------------------------------------------------- manifests that cannot be trusted


def problems_by_file(folder) -> dict[str, str]:
    return {p.file: p.reason for p in folder.problems}


def test_a_row_that_cannot_be_parsed_keeps_its_file_out_of_the_run(tmp_path):
    for n in ("a", "b", "c"):
        touch(tmp_path, f"{n}.wav")
    # 'file' is not the first column: the file is still found for the problem
    (tmp_path / "manifest.csv").write_text(
        "call_id,file,agent_id\n"
        "call-a,a.wav,ag1,extra\n"        # too many columns
        "call-b,b.wav,ag1\n")
    folder = scan_drop_folder(tmp_path)
    assert sorted(c.file for c in folder.calls) == ["b.wav", "c.wav"]
    assert "manifest.csv:2" in problems_by_file(folder)["a.wav"]


def test_an_oversized_field_blocks_the_file_it_names(tmp_path):
    touch(tmp_path, "a.wav")
    touch(tmp_path, "b.wav")
    (tmp_path / "manifest.csv").write_text(HEADER + "a.wav,call-a,ag1,Ann,t,s,,mono," + "x" * 200_000 + "\n"
                                           + "b.wav,call-b,ag1,Ann,t,s,,mono,\n")
    folder = scan_drop_folder(tmp_path)
    assert [c.call_id for c in folder.calls] == ["call-b"]
    assert "cannot parse the row" in problems_by_file(folder)["a.wav"]


def test_an_unclosed_quote_blocks_every_file_it_swallows(tmp_path):
    for n in ("a", "b", "c", "d"):
        touch(tmp_path, f"{n}.wav")
    (tmp_path / "manifest.csv").write_text(
        HEADER
        + "a.wav,call-a,ag1,Ann,t,s,,mono,\n"
        + 'b.wav,"call-b,ag1,Ann,t,s,,mono,\n'     # line 3: the quote is never closed
        + "c.wav,call-c,ag1,Ann,t,s,,mono,\n")
    folder = scan_drop_folder(tmp_path)
    assert sorted(c.call_id for c in folder.calls) == ["call-a", "d"]  # d.wav is not in the manifest
    reasons = problems_by_file(folder)
    assert "manifest.csv:3" in reasons["b.wav"] and "never closed" in reasons["b.wav"]
    assert "manifest.csv:4" in reasons["c.wav"] and "lines 3-4" in reasons["c.wav"]


def test_duplicate_header_columns_are_refused(tmp_path):
    touch(tmp_path, "a.wav")
    touch(tmp_path, "b.wav")
    (tmp_path / "manifest.csv").write_text("file,call_id,agent_id,call_id\na.wav,c1,ag1,c2\n")
    folder = scan_drop_folder(tmp_path)
    assert [c.file for c in folder.calls] == ["b.wav"]
    assert "'call_id' more than once" in problems_by_file(folder)["a.wav"]
    (tmp_path / "manifest.csv").write_text("file,call_id,file\na.wav,c1,b.wav\n")
    with pytest.raises(ManifestError, match="'file' column more than once"):
        scan_drop_folder(tmp_path)


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ("a.wav,call\x00a,ag1,Ann,t,s,,mono,", "column 'call_id' contains a NUL byte"),
        ("a.wav,call-a,ag\x1b[31m,Ann,t,s,,mono,", "column 'agent_id' contains a control character"),
        ("a.wav,call-a,ag1,Ann,t,s,not-a-date,mono,", "started_at 'not-a-date' is not an ISO 8601 date"),
        ("a.wav,call-a,ag1,Ann,t,s,2026-13-01T00:00:00,mono,", "is not an ISO 8601"),
        ("a.wav," + "c" * 1001 + ",ag1,Ann,t,s,,mono,", "1,001 characters long"),
    ],
)
def test_bad_values_make_the_row_a_problem(tmp_path, row, fragment):
    touch(tmp_path, "a.wav")
    (tmp_path / "manifest.csv").write_text(HEADER + row + "\n", encoding="utf-8")
    folder = scan_drop_folder(tmp_path)
    assert folder.calls == ()
    reason = problems_by_file(folder)["a.wav"]
    assert "manifest.csv:2" in reason and fragment in reason
    assert "\x00" not in reason and "\x1b" not in reason


def test_iso_dates_are_accepted(tmp_path):
    touch(tmp_path, "a.wav")
    touch(tmp_path, "b.wav")
    (tmp_path / "manifest.csv").write_text(HEADER + "a.wav,ca,ag,,,,2026-11-02T09:14:03Z,,\n"
                                           + "b.wav,cb,ag,,,,2026-11-02 09:14:03+01:00,,\n")
    folder = scan_drop_folder(tmp_path)
    assert {c.call_id: c.started_at for c in folder.calls} == {
        "ca": "2026-11-02T09:14:03Z", "cb": "2026-11-02 09:14:03+01:00"}


def test_a_file_listed_twice_is_not_guessed(tmp_path):
    touch(tmp_path, "a.wav")
    (tmp_path / "manifest.csv").write_text(HEADER + "a.wav,one,ag1,,,,,,\n" + "a.wav,two,ag2,,,,,,\n")
    folder = scan_drop_folder(tmp_path)
    assert folder.calls == ()
    assert "already listed on line 2" in problems_by_file(folder)["a.wav"]


# --------------------------------------------------------------------------- what the scan does not follow


def test_links_leaving_the_drop_folder_are_reported_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd.wav").write_text("root:x:0:0:root:/root:/bin/bash\n")
    drop = tmp_path / "drop"
    touch(drop, "real.wav")
    (drop / "evil.wav").symlink_to(outside / "passwd.wav")
    (drop / "dangling.wav").symlink_to(outside / "gone.wav")
    (drop / "elsewhere").symlink_to(outside)
    (drop / "alias.wav").symlink_to(drop / "real.wav")  # inside: followed
    (drop / "loop").symlink_to(drop)  # inside, a folder: not walked twice
    folder = scan_drop_folder(drop)
    assert sorted(c.file for c in folder.calls) == ["alias.wav", "real.wav"]
    reasons = problems_by_file(folder)
    assert "outside the drop folder; not followed" in reasons["evil.wav"]
    assert "target does not exist" in reasons["dangling.wav"]
    assert "folder outside the drop folder" in reasons["elsewhere"]
    assert "loop" in folder.skipped
    assert not any("root:x" in r for r in reasons.values())


def test_a_manifest_linked_from_outside_is_not_read(tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    drop = tmp_path / "drop"
    touch(drop, "a.wav")
    (drop / "manifest.csv").symlink_to(secret)
    with pytest.raises(ManifestError, match="outside the drop folder; not read") as info:
        scan_drop_folder(drop)
    assert "root:x" not in str(info.value)


def test_pipes_are_not_recordings(tmp_path):
    touch(tmp_path, "a.wav")
    os.mkfifo(tmp_path / "pipe.wav")
    os.mkfifo(tmp_path / "pipe.txt")
    folder = scan_drop_folder(tmp_path)
    assert [c.file for c in folder.calls] == ["a.wav"]
    assert "not a regular file" in problems_by_file(folder)["pipe.wav"]
    assert "pipe.txt" in folder.skipped


def test_names_that_are_not_utf8_are_kept_openable_and_shown_safely(tmp_path):
    raw = os.fsencode(tmp_path) + b"/caf\xe9 \n1.wav"
    with open(raw, "wb") as fh:
        fh.write(b"x")
    (c,) = scan_drop_folder(tmp_path).calls
    assert c.file == "caf\\xe9 \\x0a1.wav" and c.call_id == "caf\\xe9 \\x0a1"
    assert os.fsencode(c.path) == raw  # the real name, to open the file
    (c.file + c.call_id).encode("utf-8")  # storable and printable on one line


def test_separators_csv_does_not_know_do_not_split_rows(tmp_path):
    touch(tmp_path, "a.wav")
    (tmp_path / "manifest.csv").write_bytes(HEADER.encode() + "a.wav,call-a,ag1,Ann\u2028Lee,t,s,,mono,\r\n".encode())
    folder = scan_drop_folder(tmp_path)
    assert [(c.call_id, c.agent_name) for c in folder.calls] == [("call-a", "Ann\u2028Lee")]


def test_recordings_too_large_to_be_a_call_are_not_read(tmp_path):
    touch(tmp_path, "a.wav")
    with open(tmp_path / "huge.wav", "wb") as fh:  # sparse: takes no disk space
        fh.truncate(MAX_RECORDING_BYTES + 1)
    folder = scan_drop_folder(tmp_path)
    assert [c.file for c in folder.calls] == ["a.wav"]
    assert "4.0 GiB; a recording may be at most 4 GiB" in problems_by_file(folder)["huge.wav"]
