"""Script loading: valid files, every schema error with its line, folders, and the pick rule."""

from __future__ import annotations

import hashlib
import os
import textwrap
from pathlib import Path

import pytest

from qa_analyser.datatypes import Item, ProhibitedRule, Section
from qa_analyser.errors import ConfigError, ScriptError
from qa_analyser.scripts import (
    MAX_DEPTH,
    MAX_ENTRIES,
    MAX_SCRIPT_BYTES,
    MAX_TEXT_CHARS,
    MAX_WORDINGS,
    ScriptSet,
    check_script,
    check_scripts,
    load_script,
    load_scripts,
)

VALID = """\
id: energy-inbound
version: 3
name: Brightwater Energy - inbound service
language: en
variables:
  company: Brightwater Energy
sections:
  - id: opening
    items:
      - id: greeting
        text: "Thank you for calling {company}, my name is {agent_name}."
        alternatives: ["You're through to {company}, {agent_name} speaking."]
        weight: 10
        within_seconds: 30
      - id: recording_notice
        text: This call is recorded.
        critical: true
        verbatim: true
        after: greeting
  - id: resolution
    items:
      - id: retention_offer
        text: I can offer you a loyalty discount.
        speaker: agent
        weight: 15
        when_customer_says: cancel my account
prohibited:
  - id: threat
    phrases: ["we will take you to court", "you could be arrested"]
    weight: 25
    critical: true
"""


def write(tmp_path: Path, text: str, name: str = "script.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> ScriptError:
    path = write(tmp_path, text)
    with pytest.raises(ScriptError) as info:
        load_script(path)
    assert str(info.value).startswith(f"{path}:"), str(info.value)
    return info.value


def test_valid_script_round_trip(tmp_path):
    path = write(tmp_path, VALID)
    script = load_script(path)
    assert script.id == "energy-inbound"
    assert script.version == "3"  # a number in YAML, kept as text
    assert script.name == "Brightwater Energy - inbound service"
    assert script.variables == (("company", "Brightwater Energy"),)
    assert script.path == str(path)
    assert script.source == VALID
    assert script.content_hash == hashlib.sha256(VALID.encode()).hexdigest()
    assert script.sections[0] == Section(
        id="opening",
        items=(
            Item(
                id="greeting",
                section="opening",
                text="Thank you for calling {company}, my name is {agent_name}.",
                alternatives=("You're through to {company}, {agent_name} speaking.",),
                weight=10.0,
                within_seconds=30.0,
                line=10,
            ),
            Item(
                id="recording_notice",
                section="opening",
                text="This call is recorded.",
                critical=True,
                verbatim=True,
                after="greeting",
                line=15,
            ),
        ),
    )
    offer = script.item("retention_offer")
    assert offer.when_customer_says == ("cancel my account",)  # a single string is a list of one
    assert offer.kind == "conditional"
    assert script.prohibited == (
        ProhibitedRule(
            id="threat",
            phrases=("we will take you to court", "you could be arrested"),
            weight=25.0,
            critical=True,
            line=28,
        ),
    )


def test_defaults_and_version_text_as_written(tmp_path):
    script = load_script(
        write(
            tmp_path,
            """\
            id: s
            version: 3.10
            sections:
              - id: a
                items:
                  - id: b
                    text: hello
            """,
        )
    )
    assert script.version == "3.10"
    assert script.name == "s" and script.language == "en" and script.prohibited == ()
    item = script.item("b")
    assert (item.speaker, item.weight, item.critical, item.verbatim) == ("agent", 1.0, False, False)


def test_shared_eval_scripts_load():
    root = Path(__file__).resolve().parents[2] / "shared" / "eval"
    paths = sorted(root.glob("*/scripts/*.yaml")) if root.exists() else []
    if not paths:
        pytest.skip("shared eval scripts not present")
    for path in paths:
        assert load_script(path).items


BASE = """\
id: s
version: "1"
sections:
  - id: a
    items:
      - id: b
        text: hello
"""


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        # unknown key with a suggestion, at the key's line
        (BASE + "        weigth: 3\n", 8, "unknown key 'weigth' in item 'b' (did you mean 'weight'?)"),
        ("id: s\nversion: '1'\nsectoins: []\n", 3, "unknown key 'sectoins' in the script (did you mean 'sections'?)"),
        (BASE.replace("  - id: a\n", "  - id: a\n    itemz: 1\n"), 5, "unknown key 'itemz' in section 'a'"),
        # required keys, at the owning mapping's line
        ("version: '1'\nsections: []\n", 1, "the script is missing the required key 'id'"),
        ("id: s\nsections: []\n", 1, "missing the required key 'version'"),
        ("id: s\nversion: '1'\n", 1, "missing the required key 'sections'"),
        (BASE.replace("        text: hello\n", ""), 6, "item 'b' is missing the required key 'text'"),
        (BASE.replace("      - id: b\n        text: hello\n", "      - text: hello\n"), 6, "item #1 of section 'a' is missing the required key 'id'"),
        # types and values
        ("id: s\nversion: '1'\nsections: []\n", 3, "sections must not be an empty list"),
        ("id: s\nversion: '1'\nsections: {a: 1}\n", 3, "sections must be a list"),
        (BASE + "        weight: -1\n", 8, "weight of item 'b' must be 0 or more"),
        (BASE + "        weight: heavy\n", 8, "weight of item 'b' must be a number"),
        (BASE + "        weight: true\n", 8, "weight of item 'b' must be a number"),
        (BASE + "        within_seconds: 0\n", 8, "within_seconds of item 'b' must be more than 0"),
        (BASE + "        speaker: supervisor\n", 8, "speaker of item 'b' must be one of agent, customer, any"),
        (BASE + "        speaker: [agent]\n", 8, "speaker of item 'b' must be one of agent, customer, any, not a list"),
        (BASE + "        critical: maybe\n", 8, "critical of item 'b' must be true or false"),
        (BASE + "        when_customer_says: {a: 1}\n", 8, "when_customer_says of item 'b' must be a list of texts"),
        (BASE + "        when_customer_says: []\n", 8, "when_customer_says of item 'b' must not be an empty list"),
        (BASE + "        alternatives: [hi, [x]]\n", 8, "each entry of alternatives of item 'b' must be text"),
        (BASE.replace("text: hello", "text: ''"), 7, "text of item 'b' must not be empty"),
        (BASE.replace("id: b", "id: two words"), 6, "item id 'two words' is not a valid id"),
        # cross references
        (BASE + "      - id: b\n        text: again\n", 8, "duplicate item id 'b' (first used on line 6)"),
        (BASE + "  - id: a\n    items:\n      - id: c\n        text: x\n", 8, "duplicate section id 'a'"),
        (BASE + "        after: greting\n", 8, "after of item 'b' names no item of this script: 'greting'"),
        (BASE + "        after: b\n", 8, "item 'b' cannot come after itself"),
        (
            BASE + "        after: c\n      - id: c\n        text: x\n        after: b\n",
            8,
            "items' after keys form a loop",
        ),
        (BASE.replace("text: hello", "text: hello {compnay}"), 7, "placeholder '{compnay}' in text of item 'b'"),
        (
            "variables:\n  company: X\n" + BASE.replace("text: hello", "text: hello {compnay}"),
            9,
            "(did you mean '{company}'?)",
        ),
        ("variables:\n  agent_name: Tom\n" + BASE, 2, "'agent_name' is built in"),
        (BASE + "        weight: 1\n        weight: 2\n", 9, "duplicate key 'weight' in item 'b' (first given on line 8)"),
        # prohibited rules
        (BASE + "prohibited:\n  - id: p\n    phrases: []\n", 10, "phrases of prohibited rule 'p' must not be an empty list"),
        (BASE + "prohibited:\n  - id: p\n    phrases: ['']\n", 10, "each entry of phrases of prohibited rule 'p' must not be empty"),
        (BASE + "prohibited:\n  - id: p\n", 9, "prohibited rule 'p' is missing the required key 'phrases'"),
        (
            BASE + "prohibited:\n  - id: p\n    phrases: x\n  - id: p\n    phrases: y\n",
            11,
            "duplicate prohibited id 'p' (first used on line 9)",
        ),
        (BASE + "prohibited:\n  - id: b\n    phrases: x\n", 9, "prohibited id 'b' is also an item id"),
        (BASE + "prohibited:\n  - id: p\n    phrases: x\n    critcal: true\n", 11, "(did you mean 'critical'?)"),
        # not a mapping at all
        ("- just\n- a list\n", 1, "the script must be a mapping"),
        ("", 1, "the file is empty"),
    ],
)
def test_schema_errors_name_file_and_line(tmp_path, text, line, fragment):
    error = error_of(tmp_path, text)
    assert error.line == line, str(error)
    assert f":{line}: " in str(error)
    assert fragment in str(error)


def test_yaml_syntax_error_has_line(tmp_path):
    error = error_of(tmp_path, 'id: s\nversion: "1\nsections: []\n')
    assert error.line == 2  # where the unclosed quote starts, not the end of the file
    assert "YAML syntax error: the quoted scalar that starts here is never closed" in str(error)
    error = error_of(tmp_path, "id: s\nversion: '1'\nsections: [a, b\n\n\n")
    assert error.line == 3 and "flow sequence that starts here is never closed" in str(error)
    error = error_of(tmp_path, "id: s\nversion: '1'\nname: a: b\n")
    assert error.line == 3 and "a ':' where no key can start" in str(error) and "quotes" in str(error)
    error = error_of(tmp_path, "id: s\nversion: '1'\nsections:\n  - id: a\n   items: []\n")
    assert error.line == 5


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"id: s\nname: caf\xe9\n")
    with pytest.raises(ScriptError, match=r"bad\.yaml:2: not UTF-8"):
        load_script(path)


def test_missing_file(tmp_path):
    with pytest.raises(ScriptError, match="cannot read script file"):
        load_script(tmp_path / "nope.yaml")


# --------------------------------------------------------------------------- folders


def make_folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "scripts"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_broken_file_does_not_stop_the_others(tmp_path):
    folder = make_folder(
        tmp_path,
        {
            "a.yaml": BASE.replace("id: s", "id: alpha"),
            "b.yml": BASE.replace("id: s", "id: beta"),
            "broken.yaml": BASE.replace("id: s", "id: gamma") + "        weigth: 1\n",
            "notes.txt": "not a script",
        },
    )
    found = load_scripts(folder)
    assert sorted(found.scripts) == ["alpha", "beta"]
    assert len(found.errors) == 1
    assert "broken.yaml:8: unknown key 'weigth'" in str(found.errors[0])
    # a call asking for the broken script gets the file's own error
    with pytest.raises(ScriptError, match="broken.yaml:8"):
        found.pick("gamma")


def test_duplicate_ids_across_files(tmp_path):
    folder = make_folder(tmp_path, {"one.yaml": BASE, "two.yaml": BASE.replace('"1"', '"2"')})
    found = load_scripts(folder)
    assert found.scripts == {}
    assert len(found.errors) == 1
    message = str(found.errors[0])
    assert "one.yaml" in message and "two.yaml" in message and "duplicate script id 's'" in message
    with pytest.raises(ScriptError, match="defined in both"):
        found.pick("s")


def test_pick_rules(tmp_path):
    folder = make_folder(
        tmp_path,
        {"a.yaml": BASE.replace("id: s", "id: alpha"), "b.yaml": BASE.replace("id: s", "id: beta")},
    )
    found = load_scripts(folder)
    assert found.pick("beta").id == "beta"
    assert found.pick(None, default="alpha").id == "alpha"
    assert found.pick("beta", default="alpha").id == "beta"  # explicit id wins
    with pytest.raises(ConfigError, match="no script_id.*2 scripts.*alpha, beta"):
        found.pick(None)
    with pytest.raises(ConfigError, match=r"'alpah' is not in .*scripts.*did you mean 'alpha'"):
        found.pick("alpah")
    with pytest.raises(ConfigError, match="default script 'gone'"):
        found.pick(None, default="gone")

    only = ScriptSet(folder=folder, scripts={"alpha": found.scripts["alpha"]})
    assert only.pick(None).id == "alpha"
    with pytest.raises(ConfigError, match="no usable script"):
        ScriptSet(folder=folder).pick(None)


def test_folder_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_scripts(tmp_path / "missing")
    (tmp_path / "file.yaml").write_text(BASE)
    with pytest.raises(ConfigError, match="is not a folder"):
        load_scripts(tmp_path / "file.yaml")


# --------------------------------------------------------------------------- every error, in plain words


def lines_of(errors: list[ScriptError]) -> list[int | None]:
    return [e.line for e in errors]


def test_every_error_of_a_file_is_reported_once_in_line_order(tmp_path):
    path = write(tmp_path, BASE + (
        "        weigth: 3\n"                      # 8: unknown key
        "      - id: c\n"
        "        text: hi {nme}\n"                 # 10: undefined placeholder
        "        speaker: boss\n"                  # 11: bad speaker
        "      - id: d\n"
        "        text: x\n"
        "        after: nowhere\n"                 # 14: after names no item
        "prohibited:\n"
        "  - id: p\n"
        "    phrases: []\n"                        # 17: empty list
        "    critical: maybe\n"                    # 18: not a flag
    ))
    errors = check_script(path)
    assert lines_of(errors) == [8, 10, 11, 14, 17, 18], [str(e) for e in errors]
    assert all(str(e).startswith(f"{path}:{e.line}: ") for e in errors)
    assert len({str(e) for e in errors}) == len(errors)
    with pytest.raises(ScriptError) as info:  # load_script raises the first one found
        load_script(path)
    assert info.value.line == 8


def test_a_valid_script_has_no_errors(tmp_path):
    assert check_script(write(tmp_path, VALID)) == []


@pytest.mark.parametrize(
    ("text", "line", "fragments"),
    [
        # an item key dedented to the list's column
        (BASE + "      weight: 2\n", 8, ["indentation", "column 7", "line 6"]),
        # a key at a column nothing above uses
        (BASE + "   weight: 2\n", 8, ["indentation", "column 4", "same column"]),
        # a list entry indented differently from the entries above it
        (BASE + "     - id: c\n        text: x\n", 8, ["indentation", "list entry", "'- '"]),
        # a key indented deeper than its siblings
        (BASE + "         weight: 2\n", 8, ["indented deeper than the key above it"]),
        # a key without its colon
        ("id: s\nversion: '1'\nsections\n  - id: a\n", 3, ["'key: value'", "no ':'"]),
        # tabs
        ("id: s\nversion: '1'\nsections:\n\t- id: a\n", 4, ["tab character", "spaces only"]),
    ],
)
def test_yaml_layout_errors_are_explained_in_plain_words(tmp_path, text, line, fragments):
    (error,) = check_script(write(tmp_path, text))
    assert error.line == line, str(error)
    for fragment in fragments:
        assert fragment in str(error)
    assert "<block end>" not in str(error) and "<block" not in str(error)


@pytest.mark.parametrize(
    "text",
    [
        "!!python/object/apply:os.system ['echo owned']\n",
        BASE.replace("text: hello", "text: !!python/name:os.system ''"),
        BASE.replace("text: hello", "text: !custom hello"),
        BASE + "        weight: !!binary aGVsbG8=\n",
    ],
)
def test_yaml_tags_are_not_allowed(tmp_path, text):
    (error,) = check_script(write(tmp_path, text))
    assert "YAML tags are not allowed" in str(error)
    assert "must be a mapping" not in str(error)


def test_plain_tags_that_change_nothing_are_accepted(tmp_path):
    script = load_script(write(tmp_path, BASE.replace("text: hello", "text: !!str hello")))
    assert script.item("b").text == "hello"


@pytest.mark.parametrize("opening, closing", [("[", "]"), ("{a: ", "}"), ("- ", "")])
def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path, opening, closing):
    depth = 50_000
    if opening == "- ":
        nested = "".join("  " * i + "-\n" for i in range(300))  # block style: bounded by the file size
        text = "id: s\nversion: '1'\nsections:\n" + nested
    else:
        text = "id: s\nversion: '1'\nsections: " + opening * depth + "x" + closing * depth + "\n"
    (error,) = check_script(write(tmp_path, text))
    assert f"nested more than {MAX_DEPTH} levels" in str(error)
    assert error.line is not None


def test_huge_numbers_are_refused_not_a_value_error(tmp_path):
    (error,) = check_script(write(tmp_path, BASE + "        weight: " + "9" * 5001 + "\n"))
    assert error.line == 8 and "5,001 characters long" in str(error)
    (error,) = check_script(write(tmp_path, "pass_mark: " + "1" * 5001 + "\n" + BASE))
    assert error.line == 1 and "pass_mark" in str(error)
    (error,) = check_script(write(tmp_path, BASE + "        within_seconds: 1.0e+999\n"))
    assert "finite number" in str(error)


def test_script_size_is_bounded(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * MAX_SCRIPT_BYTES + b"\n")
    (error,) = check_script(big)
    assert f"at most {MAX_SCRIPT_BYTES:,} bytes" in str(error)

    many = "".join(f"      - id: i{n}\n        text: line {n}\n" for n in range(MAX_ENTRIES + 1))
    (error,) = check_script(write(tmp_path, BASE + many))
    assert f"{MAX_ENTRIES + 2:,} items and prohibited rules (at most {MAX_ENTRIES:,})" in str(error)

    wordings = "[" + ", ".join(f"w{n}" for n in range(MAX_WORDINGS + 1)) + "]"
    (error,) = check_script(write(tmp_path, BASE + f"        alternatives: {wordings}\n"))
    assert f"at most {MAX_WORDINGS}" in str(error) and error.line == 8

    (error,) = check_script(write(tmp_path, BASE.replace("text: hello", "text: " + "a" * (MAX_TEXT_CHARS + 1))))
    assert f"at most {MAX_TEXT_CHARS:,}" in str(error) and error.line == 7


def test_all_zero_weights_are_an_error(tmp_path):
    zero = BASE + "        weight: 0\nprohibited:\n  - id: p\n    phrases: x\n    weight: 0\n"
    (error,) = check_script(write(tmp_path, zero))
    assert "weight 0" in str(error) and error.line == 4
    assert load_script(write(tmp_path, zero.replace("    weight: 0\n", "    weight: 1\n"))).prohibited[0].weight == 1


def test_pass_mark(tmp_path):
    assert load_script(write(tmp_path, "pass_mark: 70\n" + BASE)).pass_mark == 70.0
    assert load_script(write(tmp_path, BASE)).pass_mark is None
    for value, fragment in (("150", "from 0 to 100"), ("-1", "from 0 to 100"), ("high", "must be a number")):
        (error,) = check_script(write(tmp_path, f"pass_mark: {value}\n" + BASE))
        assert error.line == 1 and fragment in str(error), str(error)


def test_an_after_loop_is_reported_once(tmp_path):
    text = BASE + "        after: c\n      - id: c\n        text: x\n        after: b\n"
    errors = check_script(write(tmp_path, text))
    assert [str(e).count("form a loop") for e in errors] == [1]


# --------------------------------------------------------------------------- check_scripts on a folder


def test_check_scripts_reports_every_file_and_loads_nothing_twice(tmp_path, caplog):
    folder = make_folder(tmp_path, {
        "good.yaml": BASE.replace("id: s", "id: good"),
        "two-errors.yaml": BASE.replace("id: s", "id: two") + "        weigth: 1\n        speaker: boss\n",
        "dup-a.yaml": BASE.replace("id: s", "id: dup"),
        "dup-b.yml": BASE.replace("id: s", "id: dup"),
    })
    with caplog.at_level("DEBUG", logger="qa_analyser"):
        errors = check_scripts(folder)
    assert sorted((Path(e.path).name, e.line) for e in errors) == [
        ("dup-b.yml", 1), ("two-errors.yaml", 8), ("two-errors.yaml", 9)]
    # the loader leaves reporting to its caller: nothing at warning level, so nothing printed twice
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]
    found = load_scripts(folder)
    assert len(found.every_error) == 3 and sorted(found.scripts) == ["good"]
    # a run stores one failure per file (the store keeps one open failure per file): all its errors in it
    assert len(found.errors) == 2
    combined = next(e for e in found.errors if e.path.endswith("two-errors.yaml"))
    assert combined.line == 8 and str(combined).startswith(f"{combined.path}:8: unknown key 'weigth'")
    assert str(combined).endswith("(and 1 more: line 9: speaker of item 'b' must be one of agent, customer, any, "
                                  "not 'boss')")
    with pytest.raises(ScriptError, match="two-errors.yaml:8"):
        found.pick("two")


def test_check_scripts_on_one_file_an_empty_folder_and_a_missing_path(tmp_path):
    path = write(tmp_path, BASE + "        weigth: 1\n")
    assert lines_of(check_scripts(path)) == [8]
    empty = tmp_path / "empty"
    empty.mkdir()
    (error,) = check_scripts(empty)
    assert "no script files" in str(error)
    with pytest.raises(ConfigError, match="does not exist"):
        check_scripts(tmp_path / "nope")


def test_links_leaving_the_scripts_folder_are_not_read(tmp_path):
    secret = tmp_path / "secret.yaml"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    folder = make_folder(tmp_path, {"good.yaml": BASE})
    (folder / "evil.yaml").symlink_to(secret)
    (folder / "dangling.yaml").symlink_to(tmp_path / "gone.yaml")
    (folder / "inside.yaml").symlink_to(folder / "good.yaml")  # inside: followed (same id: a duplicate)
    errors = check_scripts(folder)
    messages = {Path(e.path).name: str(e) for e in errors}
    assert "outside the scripts folder; not read" in messages["evil.yaml"]
    assert "target does not exist" in messages["dangling.yaml"]
    assert "duplicate script id 's'" in messages["inside.yaml"]
    assert not any("root:x" in m for m in messages.values())


def test_a_file_name_that_is_not_utf8_is_named_safely(tmp_path):
    folder = tmp_path / "scripts"
    folder.mkdir()
    raw = os.fsencode(folder) + b"/caf\xe9.yaml"
    with open(raw, "wb") as fh:
        fh.write((BASE + "        weigth: 1\n").encode())
    (error,) = check_scripts(folder)
    assert error.path.endswith("caf\\xe9.yaml")
    str(error).encode("utf-8")  # printable and storable: no surrogate escapes left


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\ufffe"])
def test_control_characters_are_an_error_with_their_line(tmp_path, char):
    (error,) = check_script(write(tmp_path, BASE.replace("text: hello", f"text: hel{char}lo")))
    assert error.line == 7 and "control character" in str(error)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("critical: !!bool maybe", "critical of item 'b' must be true or false"),
     ("weight: !!int heavy", "weight of item 'b' must be a finite number"),
     ("weight: !!float x", "weight of item 'b' must be a finite number"),
     ("weight: !!int 0x_", "weight of item 'b' must be a finite number")],
)
def test_plain_tags_on_wrong_values_are_errors_not_crashes(tmp_path, value, fragment):
    (error,) = check_script(write(tmp_path, BASE + f"        {value}\n"))
    assert error.line == 8 and fragment in str(error), str(error)
