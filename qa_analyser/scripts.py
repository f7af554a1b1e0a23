"""Load and validate approved script files (YAML, one script per file; docs/script-format.md).

Every problem is a `ScriptError` naming the file and the line of the offending YAML node, in plain
words, so a compliance editor can fix a typo without reading a traceback:

    scripts/energy.yaml:14: unknown key 'weigth' in item 'greeting' (did you mean 'weight'?)

A file is checked as far as it can be: every error found is reported, not only the first
(`check_script`, `check_scripts`); `load_script` raises the first of them. `load_scripts` loads a
whole folder: a broken file's errors go to `ScriptSet.errors` and do not stop the others;
`ScriptSet.pick` applies the manifest rule (explicit id, else the configured default, else the
only script).

A script is plain YAML: tags (``!!python/object``, ``!custom``) are refused, and so is a file
larger than MAX_SCRIPT_BYTES, nested deeper than MAX_DEPTH, with more than MAX_ENTRIES items and
prohibited rules, more than MAX_WORDINGS wordings in one list or a text longer than
MAX_TEXT_CHARS. Symbolic links that lead outside the scripts folder are not read.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .datatypes import Item, ProhibitedRule, Script, Section
from .errors import ConfigError, ScriptError
from .paths import display_path, leaves_folder

__all__ = [
    "BUILTIN_VARIABLES",
    "MAX_DEPTH",
    "MAX_ENTRIES",
    "MAX_SCRIPT_BYTES",
    "MAX_TEXT_CHARS",
    "MAX_WORDINGS",
    "ScriptSet",
    "check_script",
    "check_scripts",
    "load_script",
    "load_scripts",
]

log = logging.getLogger("qa_analyser")

BUILTIN_VARIABLES: tuple[str, ...] = ("agent_name",)
SCRIPT_SUFFIXES: tuple[str, ...] = (".yaml", ".yml")

MAX_SCRIPT_BYTES = 1 << 20  # 1 MiB; a long real script is a few KiB
MAX_DEPTH = 32  # nesting levels; a script needs 6 (script, sections, section, items, item, list)
MAX_ENTRIES = 1000  # items and prohibited rules in one script
MAX_WORDINGS = 50  # texts in one alternatives, phrases or when_customer_says list
MAX_TEXT_CHARS = 5000  # characters in one text
MAX_ID_CHARS = 100
_MAX_NUMBER_CHARS = 32

_SCRIPT_KEYS = ("id", "version", "name", "language", "pass_mark", "variables", "sections", "prohibited")
_SECTION_KEYS = ("id", "items")
_ITEM_KEYS = (
    "id",
    "text",
    "alternatives",
    "speaker",
    "weight",
    "critical",
    "within_seconds",
    "after",
    "when_customer_says",
    "verbatim",
)
_PROHIBITED_KEYS = ("id", "phrases", "speaker", "weight", "critical")
_RULE_SPEAKERS = ("agent", "customer", "any")

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_VARIABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_PLAIN_TAGS = frozenset({_STR, _NULL, _BOOL, _INT, _FLOAT, _SEQ, _MAP, "!"})

T = TypeVar("T")


# --------------------------------------------------------------------------- one file


def load_script(path: str | Path) -> Script:
    """Load and validate one script file; raise the first `ScriptError` (file and line) found."""
    script, errors, _ = _load(Path(path))
    if errors:
        raise errors[0]
    assert script is not None
    return script


def check_script(path: str | Path) -> list[ScriptError]:
    """Every error of one script file, in line order (empty: the script is valid)."""
    return sorted(_load(Path(path))[1], key=lambda e: e.line or 0)


def _load(path: Path, *, shown: str | None = None) -> tuple[Script | None, list[ScriptError], str | None]:
    """(the script or None, every error found, the id the file meant to define if it can be read)."""
    shown = shown or display_path(path)
    try:
        size = path.stat().st_size
        if size > MAX_SCRIPT_BYTES:
            return None, [ScriptError(
                f"the file is {size:,} bytes; a script may be at most {MAX_SCRIPT_BYTES:,} bytes", path=shown
            )], None
        raw = path.read_bytes()
    except OSError as e:
        return None, [ScriptError(f"cannot read script file: {e.strerror or e}", path=shown)], None
    return _parse(raw, shown)


def script_from_source(source: str, *, path: str) -> Script:
    """A script version stored with its YAML text (the database's `scripts.source`), loaded again;
    the first `ScriptError` if it no longer loads (`path` names it in messages)."""
    script, errors, _ = _parse(source.encode("utf-8"), path)
    if errors:
        raise errors[0]
    assert script is not None
    return script


def _parse(raw: bytes, shown: str) -> tuple[Script | None, list[ScriptError], str | None]:
    try:
        source = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        return None, [ScriptError("not UTF-8 text (save the file as UTF-8)", path=shown, line=line)], None
    try:
        loader = _Loader(source)
    except yaml.reader.ReaderError as e:  # checked up front, before any parsing
        line = source[: e.position].count("\n") + 1
        return None, [ScriptError(
            f"the file holds a control character (#x{e.character:04x}) that YAML does not allow", path=shown,
            line=line,
        )], None
    try:
        root = loader.get_single_node()
    except _TooDeep as e:
        return None, [ScriptError(
            f"the YAML is nested more than {MAX_DEPTH} levels deep; a script needs only a few", path=shown,
            line=e.line,
        )], None
    except yaml.MarkedYAMLError as e:
        return None, [_syntax_error(shown, e)], None
    except yaml.YAMLError as e:
        return None, [ScriptError(f"YAML syntax error: {e}", path=shown)], None
    finally:
        loader.dispose()
    if loader.tag_errors:
        return None, [ScriptError(message, path=shown, line=line) for line, message in loader.tag_errors], None
    if root is None:
        empty = ScriptError("the file is empty; a script needs id, version and sections", path=shown, line=1)
        return None, [empty], None
    parser = _Parser(shown)
    script = None
    try:
        script = parser.script(root, source=source, content_hash=hashlib.sha256(raw).hexdigest())
    except ScriptError as e:
        parser.errors.append(e)
    errors = parser.errors  # in the order found: the first is the one load_script raises
    return (None if errors else script), errors, _root_id(root)


class _TooDeep(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class _Loader(yaml.SafeLoader):
    """Composes the node tree only (nothing is constructed), refusing deep nesting and noting tags.

    PyYAML's composer recurses once per level, so 50,000 nested brackets would end in a
    RecursionError; here a document deeper than MAX_DEPTH stops at the level past the limit.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        self.tag_errors: list[tuple[int, str]] = []

    def compose_node(self, parent, index):  # type: ignore[override]
        event = self.peek_event()
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in _PLAIN_TAGS:
            short = tag.replace("tag:yaml.org,2002:", "!!")
            self.tag_errors.append((
                event.start_mark.line + 1,
                f"YAML tags are not allowed in a script ({short}); write plain values "
                "(quote a text that starts with '!')",
            ))
        if self.depth >= MAX_DEPTH:
            raise _TooDeep(event.start_mark.line + 1)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _syntax_error(path: str, e: yaml.MarkedYAMLError) -> ScriptError:
    """A YAML syntax error in plain words, at the line a person should look at."""
    problem = e.problem or e.context or "invalid YAML"
    context = e.context or ""
    here = e.problem_mark
    start = e.context_mark
    at_end = "end of stream" in problem or "<stream end>" in problem
    if context and start is not None and (at_end or here is None):
        # an unclosed quote or bracket: point at where it was opened, not at the end of the file
        construct = re.sub(r"^while (scanning|parsing) (an? )?", "", context)
        message = f"YAML syntax error: the {construct} that starts here is never closed ({problem})"
        return ScriptError(message, path=path, line=start.line + 1)
    if problem.startswith("expected <block end>") and here is not None:
        found = problem.split("but found", 1)[-1].strip(" '")
        what = "list entry ('- ')" if found in ("-", "<block sequence start>") else "line"
        block = "list" if "collection" in context else "mapping"
        since = f" (the {block} that starts on line {start.line + 1}, column {start.column + 1})" if start else ""
        message = (
            f"indentation: this {what} starts in column {here.column + 1}, which lines up with nothing "
            f"above it{since}. Keys of one mapping must start in the same column, and so must the "
            "'- ' entries of one list"
        )
        return ScriptError(message, path=path, line=here.line + 1)
    if problem.startswith("mapping values are not allowed") and here is not None:
        message = (
            "a ':' where no key can start: either this line is indented deeper than the key above it "
            "(keys of one mapping start in the same column), or it holds a text with ': ' in it, "
            "which needs quotes (text: \"Note: ...\")"
        )
        return ScriptError(message, path=path, line=here.line + 1)
    if problem.startswith("could not find expected ':'") and start is not None:
        message = (
            "this line should be 'key: value' but has no ':' after its key, or a text continues on "
            "the next line without being indented under its key or quoted"
        )
        return ScriptError(message, path=path, line=start.line + 1)
    if "'\\t'" in problem and here is not None:
        return ScriptError("a tab character in the indentation: YAML indents with spaces only", path=path,
                           line=here.line + 1)
    message = f"YAML syntax error: {problem}"
    if context and start is not None:
        message += f" ({context} on line {start.line + 1})"
    mark = here or start
    return ScriptError(message, path=path, line=mark.line + 1 if mark else None)


def _root_id(root: Node) -> str | None:
    """The id a file means to define, read from its node tree even when the file has errors."""
    if isinstance(root, MappingNode):
        for key_node, value_node in root.value:
            if isinstance(key_node, ScalarNode) and key_node.value == "id" and isinstance(value_node, ScalarNode):
                value = value_node.value.strip()
                return value if _ID_RE.match(value) and len(value) <= MAX_ID_CHARS else None
    return None


class _Parser:
    """Walks the composed YAML node tree, so every error can name the line of its node.

    Errors are collected in `errors`: a problem in one key, item, section or rule is recorded and
    the walk goes on with the next, so one pass reports everything that can be found.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.errors: list[ScriptError] = []

    # ----------------------------------------------------------------- helpers

    def fail(self, node: Node | None, message: str) -> ScriptError:
        line = node.start_mark.line + 1 if node is not None else None
        return ScriptError(message, path=self.path, line=line)

    def attempt(self, fn: Callable[[], T]) -> T | None:
        """fn(), or None with its ScriptError recorded."""
        try:
            return fn()
        except ScriptError as e:
            self.errors.append(e)
            return None

    def mapping(self, node: Node, where: str, allowed: tuple[str, ...]) -> dict[str, tuple[Node, Node]]:
        """A mapping node as {key: (key node, value node)}; unknown and duplicate keys are recorded
        as errors and left out."""
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{where} must be a mapping of keys to values, not {_describe(node)}")
        out: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _NULL:
                self.errors.append(self.fail(key_node, f"{where} has a key that is not a name"))
                continue
            key = key_node.value
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(allowed)})"
                self.errors.append(self.fail(key_node, f"unknown key {_quote(key)} in {where}{hint}"))
                continue
            if key in out:
                first = out[key][0].start_mark.line + 1
                self.errors.append(
                    self.fail(key_node, f"duplicate key '{key}' in {where} (first given on line {first})")
                )
                continue
            out[key] = (key_node, value_node)
        return out

    def require(self, fields: dict[str, tuple[Node, Node]], key: str, owner: Node, where: str) -> Node:
        if key not in fields:
            raise self.fail(owner, f"{where} is missing the required key '{key}'")
        return fields[key][1]

    def text(self, node: Node, what: str, *, allow_empty: bool = False) -> str:
        """A scalar as its text, as written: `version: 3.10` stays "3.10", `text: 100` is "100"."""
        if not isinstance(node, ScalarNode) or node.tag == _NULL:
            raise self.fail(node, f"{what} must be text, not {_describe(node)}")
        value = node.value
        if not allow_empty and not value.strip():
            raise self.fail(node, f"{what} must not be empty")
        if len(value) > MAX_TEXT_CHARS:
            raise self.fail(node, f"{what} is {len(value):,} characters long (at most {MAX_TEXT_CHARS:,})")
        return value

    def ident(self, node: Node, what: str) -> str:
        value = self.text(node, what).strip()
        if len(value) > MAX_ID_CHARS:
            raise self.fail(node, f"{what} is {len(value):,} characters long (at most {MAX_ID_CHARS})")
        if not _ID_RE.match(value):
            raise self.fail(
                node,
                f"{what} {value!r} is not a valid id (letters, digits, '_', '-' and '.'; no spaces)",
            )
        return value

    def texts(self, node: Node, what: str) -> tuple[str, ...]:
        """A list of non-empty texts; a single text is accepted as a list of one."""
        if isinstance(node, ScalarNode) and node.tag != _NULL:
            return (self.text(node, what),)
        if not isinstance(node, SequenceNode):
            raise self.fail(node, f"{what} must be a list of texts, not {_describe(node)}")
        if not node.value:
            raise self.fail(node, f"{what} must not be an empty list")
        if len(node.value) > MAX_WORDINGS:
            raise self.fail(node, f"{what} has {len(node.value):,} entries (at most {MAX_WORDINGS})")
        return tuple(self.text(child, f"each entry of {what}") for child in node.value)

    def number(self, node: Node, what: str) -> float:
        if not isinstance(node, ScalarNode) or node.tag not in (_INT, _FLOAT):
            raise self.fail(node, f"{what} must be a number, not {_describe(node)}")
        if len(node.value) > _MAX_NUMBER_CHARS:
            raise self.fail(node, f"{what} is a number {len(node.value):,} characters long; write a plain number")
        construct = _SCALARS.construct_yaml_int if node.tag == _INT else _SCALARS.construct_yaml_float
        try:
            value = float(construct(node))
        except (ValueError, OverflowError):
            raise self.fail(node, f"{what} must be a finite number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise self.fail(node, f"{what} must be a finite number")
        return value

    def flag(self, node: Node, what: str) -> bool:
        if not isinstance(node, ScalarNode) or node.tag != _BOOL or node.value.lower() not in _SCALARS.bool_values:
            raise self.fail(node, f"{what} must be true or false, not {_describe(node)}")
        return bool(_SCALARS.construct_yaml_bool(node))

    def speaker(self, node: Node, what: str) -> str:
        if not isinstance(node, ScalarNode) or node.tag == _NULL:
            raise self.fail(node, f"{what} must be one of {', '.join(_RULE_SPEAKERS)}, not {_describe(node)}")
        value = node.value.strip()
        if value not in _RULE_SPEAKERS:
            raise self.fail(node, f"{what} must be one of {', '.join(_RULE_SPEAKERS)}, not {_quote(value)}")
        return value

    # ----------------------------------------------------------------- the tree

    def script(self, root: Node, *, source: str, content_hash: str) -> Script | None:
        fields = self.mapping(root, "the script", _SCRIPT_KEYS)
        script_id = self.attempt(lambda: self.ident(self.require(fields, "id", root, "the script"), "the script id"))
        version = self.attempt(
            lambda: self.text(self.require(fields, "version", root, "the script"), "version").strip()
        )
        name = self.attempt(lambda: self.text(fields["name"][1], "name").strip()) if "name" in fields else script_id
        language = (
            self.attempt(lambda: self.text(fields["language"][1], "language").strip()) if "language" in fields else "en"
        )
        pass_mark = self.attempt(lambda: self.pass_mark(fields["pass_mark"][1])) if "pass_mark" in fields else None
        variables = self.attempt(lambda: self.variables(fields["variables"][1])) if "variables" in fields else ()
        defined = {n for n, _ in variables or ()} | set(BUILTIN_VARIABLES)

        sections: list[Section] = []
        item_nodes: dict[str, tuple[Item, dict[str, tuple[Node, Node]]]] = {}
        sections_node = self.attempt(lambda: self.require(fields, "sections", root, "the script"))
        entries = 0
        if sections_node is not None:
            section_nodes = self.attempt(lambda: self.nonempty_list(sections_node, "sections"))
            section_lines: dict[str, int] = {}
            for index, section_node in enumerate(section_nodes or (), start=1):
                section = self.attempt(lambda: self.section(section_node, index, item_nodes, defined))
                if section is None:
                    continue
                entries += len(section.items)
                if section.id in section_lines:
                    self.errors.append(self.fail(
                        section_node,
                        f"duplicate section id '{section.id}' (first used on line {section_lines[section.id]})",
                    ))
                    continue
                section_lines[section.id] = section_node.start_mark.line + 1
                sections.append(section)
        self.check_after(item_nodes)

        prohibited: list[ProhibitedRule] = []
        if "prohibited" in fields:
            node = fields["prohibited"][1]
            rule_nodes: list[Node] | None = []
            if not (isinstance(node, ScalarNode) and node.tag == _NULL):
                if isinstance(node, SequenceNode):
                    rule_nodes = node.value
                else:
                    self.errors.append(self.fail(node, f"prohibited must be a list, not {_describe(node)}"))
            seen: dict[str, int] = {}
            for index, rule_node in enumerate(rule_nodes or (), start=1):
                rule = self.attempt(lambda: self.prohibited(rule_node, index, defined))
                if rule is None:
                    continue
                entries += 1
                if rule.id in seen:
                    self.errors.append(self.fail(
                        rule_node, f"duplicate prohibited id '{rule.id}' (first used on line {seen[rule.id]})"
                    ))
                    continue
                if rule.id in item_nodes:
                    self.errors.append(self.fail(
                        rule_node,
                        f"prohibited id '{rule.id}' is also an item id (line {item_nodes[rule.id][0].line}); "
                        "results are keyed by id, so they must differ",
                    ))
                    continue
                seen[rule.id] = rule.line or 0
                prohibited.append(rule)

        if entries > MAX_ENTRIES:
            self.errors.append(self.fail(
                root, f"the script has {entries:,} items and prohibited rules (at most {MAX_ENTRIES:,})"
            ))
        if self.errors or script_id is None or version is None:
            return None
        weights = [i.weight for s in sections for i in s.items] + [r.weight for r in prohibited]
        if not any(weights):
            raise self.fail(
                sections_node,
                "every item and prohibited rule has weight 0, so no call could earn or lose a point; "
                "give at least one a weight above 0",
            )
        return Script(
            id=script_id,
            version=version,
            name=name or script_id,
            sections=tuple(sections),
            prohibited=tuple(prohibited),
            language=language or "en",
            variables=variables or (),
            path=self.path,
            content_hash=content_hash,
            source=source,
            pass_mark=pass_mark,
        )

    def nonempty_list(self, node: Node, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            raise self.fail(node, f"{what} must be a list, not {_describe(node)}")
        if not node.value:
            raise self.fail(node, f"{what} must not be an empty list")
        return node.value

    def pass_mark(self, node: Node) -> float | None:
        if isinstance(node, ScalarNode) and node.tag == _NULL:
            return None
        value = self.number(node, "pass_mark")
        if not 0 <= value <= 100:
            raise self.fail(node, f"pass_mark must be from 0 to 100 (a score), not {value:g}")
        return value

    def variables(self, node: Node) -> tuple[tuple[str, str], ...]:
        if isinstance(node, ScalarNode) and node.tag == _NULL:
            return ()
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"variables must be a mapping of names to texts, not {_describe(node)}")
        out: dict[str, str] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or not _VARIABLE_RE.match(key_node.value):
                shown = _quote(key_node.value) if isinstance(key_node, ScalarNode) else _describe(key_node)
                self.errors.append(self.fail(key_node, f"variable name {shown} is not a valid name"))
                continue
            name = key_node.value
            if name in BUILTIN_VARIABLES:
                self.errors.append(
                    self.fail(key_node, f"'{name}' is built in (filled from the manifest) and cannot be set")
                )
                continue
            if name in out:
                self.errors.append(self.fail(key_node, f"duplicate variable '{name}'"))
                continue
            value = self.attempt(lambda: self.text(value_node, f"variable '{name}'"))
            if value is not None:
                out[name] = value
        return tuple(out.items())

    def section(
        self,
        node: Node,
        index: int,
        item_nodes: dict[str, tuple[Item, dict[str, tuple[Node, Node]]]],
        defined: set[str],
    ) -> Section | None:
        where = _name(node, "section", f"section #{index}")
        fields = self.mapping(node, where, _SECTION_KEYS)
        section_id = self.attempt(lambda: self.ident(self.require(fields, "id", node, where), "section id"))
        if section_id is not None:
            where = f"section '{section_id}'"
        items_node = self.require(fields, "items", node, where)
        if not isinstance(items_node, SequenceNode):
            raise self.fail(items_node, f"items of {where} must be a list, not {_describe(items_node)}")
        if not items_node.value:
            raise self.fail(items_node, f"{where} has no items")
        items = []
        for item_index, item_node in enumerate(items_node.value, start=1):
            parsed = self.attempt(lambda: self.item(item_node, section_id or f"#{index}", item_index, defined))
            if parsed is None:
                continue
            item, item_fields = parsed
            if item.id in item_nodes:
                first = item_nodes[item.id][0].line
                self.errors.append(self.fail(item_node, f"duplicate item id '{item.id}' (first used on line {first})"))
                continue
            item_nodes[item.id] = (item, item_fields)
            items.append(item)
        if section_id is None:
            return None
        return Section(id=section_id, items=tuple(items))

    def item(
        self, node: Node, section_id: str, index: int, defined: set[str]
    ) -> tuple[Item, dict[str, tuple[Node, Node]]] | None:
        where = _name(node, "item", f"item #{index} of section '{section_id}'")
        fields = self.mapping(node, where, _ITEM_KEYS)
        before = len(self.errors)
        item_id = self.attempt(lambda: self.ident(self.require(fields, "id", node, where), "item id"))
        text = self.attempt(lambda: self.text(self.require(fields, "text", node, where), f"text of {where}"))
        if text is not None:
            self.attempt(lambda: self.check_placeholders(fields["text"][1], text, defined, f"text of {where}"))
        kwargs: dict[str, Any] = {}
        if "alternatives" in fields:
            value_node = fields["alternatives"][1]
            if isinstance(value_node, SequenceNode) and not value_node.value:
                kwargs["alternatives"] = ()
            else:
                alternatives = self.attempt(lambda: self.texts(value_node, f"alternatives of {where}"))
                if alternatives is not None:
                    kwargs["alternatives"] = alternatives
                    self.attempt(lambda: self.check_all_placeholders(
                        value_node, alternatives, defined, f"alternatives of {where}"))
        kwargs.update(self.scoring_fields(fields, where))
        if "verbatim" in fields:
            verbatim = self.attempt(lambda: self.flag(fields["verbatim"][1], f"verbatim of {where}"))
            if verbatim is not None:
                kwargs["verbatim"] = verbatim
        if "within_seconds" in fields:
            value_node = fields["within_seconds"][1]
            if not (isinstance(value_node, ScalarNode) and value_node.tag == _NULL):
                seconds = self.attempt(lambda: self.positive(value_node, f"within_seconds of {where}"))
                if seconds is not None:
                    kwargs["within_seconds"] = seconds
        if "after" in fields:
            value_node = fields["after"][1]
            if not (isinstance(value_node, ScalarNode) and value_node.tag == _NULL):
                after = self.attempt(lambda: self.text(value_node, f"after of {where}").strip())
                if after is not None:
                    kwargs["after"] = after
        if "when_customer_says" in fields:
            value_node = fields["when_customer_says"][1]
            triggers = self.attempt(lambda: self.texts(value_node, f"when_customer_says of {where}"))
            if triggers is not None:
                kwargs["when_customer_says"] = triggers
                self.attempt(lambda: self.check_all_placeholders(
                    value_node, triggers, defined, f"when_customer_says of {where}"))
        if item_id is None or text is None or len(self.errors) > before:
            return None
        item = Item(id=item_id, section=section_id, text=text, line=node.start_mark.line + 1, **kwargs)
        return item, fields

    def positive(self, node: Node, what: str) -> float:
        value = self.number(node, what)
        if value <= 0:
            raise self.fail(node, f"{what} must be more than 0, not {value:g}")
        return value

    def prohibited(self, node: Node, index: int, defined: set[str]) -> ProhibitedRule | None:
        where = _name(node, "prohibited rule", f"prohibited rule #{index}")
        fields = self.mapping(node, where, _PROHIBITED_KEYS)
        before = len(self.errors)
        rule_id = self.attempt(lambda: self.ident(self.require(fields, "id", node, where), "prohibited id"))
        phrases_node = self.attempt(lambda: self.require(fields, "phrases", node, where))
        phrases = None
        if phrases_node is not None:
            phrases = self.attempt(lambda: self.texts(phrases_node, f"phrases of {where}"))
            if phrases is not None:
                self.attempt(lambda: self.check_all_placeholders(phrases_node, phrases, defined, f"phrases of {where}"))
        kwargs = self.scoring_fields(fields, where)
        if rule_id is None or phrases is None or len(self.errors) > before:
            return None
        return ProhibitedRule(id=rule_id, phrases=phrases, line=node.start_mark.line + 1, **kwargs)

    # ----------------------------------------------------------------- cross checks

    def scoring_fields(self, fields: dict[str, tuple[Node, Node]], where: str) -> dict[str, Any]:
        """speaker, weight and critical: the keys items and prohibited rules share."""
        out: dict[str, Any] = {}
        if "speaker" in fields:
            speaker = self.attempt(lambda: self.speaker(fields["speaker"][1], f"speaker of {where}"))
            if speaker is not None:
                out["speaker"] = speaker
        if "weight" in fields:
            weight = self.attempt(lambda: self.weight(fields["weight"][1], f"weight of {where}"))
            if weight is not None:
                out["weight"] = weight
        if "critical" in fields:
            critical = self.attempt(lambda: self.flag(fields["critical"][1], f"critical of {where}"))
            if critical is not None:
                out["critical"] = critical
        return out

    def weight(self, node: Node, what: str) -> float:
        value = self.number(node, what)
        if value < 0:
            raise self.fail(node, f"{what} must be 0 or more, not {value:g}")
        return value

    def check_placeholders(self, node: Node, text: str, defined: set[str], what: str) -> None:
        for name in _PLACEHOLDER_RE.findall(text):
            if name not in defined:
                close = difflib.get_close_matches(name, sorted(defined), n=1, cutoff=0.6)
                hint = f" (did you mean '{{{close[0]}}}'?)" if close else ""
                raise self.fail(
                    node,
                    f"placeholder '{{{name}}}' in {what} is not defined in variables "
                    f"and is not built in ({', '.join('{' + b + '}' for b in BUILTIN_VARIABLES)}){hint}",
                )

    def check_all_placeholders(self, node: Node, texts: tuple[str, ...], defined: set[str], what: str) -> None:
        children = node.value if isinstance(node, SequenceNode) else [node] * len(texts)
        for child, text in zip(children, texts):
            self.attempt(lambda: self.check_placeholders(child, text, defined, what))

    def check_after(self, item_nodes: dict[str, tuple[Item, dict[str, tuple[Node, Node]]]]) -> None:
        valid: dict[str, str] = {}
        for item, fields in item_nodes.values():
            if item.after is None:
                continue
            node = fields["after"][1]
            if item.after == item.id:
                self.errors.append(self.fail(node, f"item '{item.id}' cannot come after itself"))
            elif item.after not in item_nodes:
                close = difflib.get_close_matches(item.after, list(item_nodes), n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                self.errors.append(
                    self.fail(node, f"after of item '{item.id}' names no item of this script: '{item.after}'{hint}")
                )
            else:
                valid[item.id] = item.after
        # An `after` chain that loops can never be satisfied; each loop is reported once.
        in_loop: set[str] = set()
        for start in valid:
            seen = [start]
            current = valid.get(start)
            while current is not None and current not in seen and current not in in_loop:
                seen.append(current)
                current = valid.get(current)
            if current is not None and current in seen:
                loop = seen[seen.index(current):]
                in_loop.update(loop)
                chain = " → ".join([*seen, current])
                node = item_nodes[start][1]["after"][1]
                self.errors.append(self.fail(node, f"items' after keys form a loop: {chain}"))


_SCALARS = yaml.SafeLoader("")  # only its scalar constructors are used (YAML 1.1 ints, floats, bools)


def _quote(value: str, limit: int = 60) -> str:
    """A value from the file as a message quotes it: short, on one line."""
    text = value if len(value) <= limit else value[:limit] + "…"
    return repr(text)


def _name(node: Node, label: str, fallback: str) -> str:
    """How messages name a section, item or rule: by its id as soon as it has one."""
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == "id" and isinstance(value_node, ScalarNode):
                value = value_node.value.strip()
                if value and len(value) <= MAX_ID_CHARS and _ID_RE.match(value):
                    return f"{label} '{value}'"
    return fallback


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL:
        return "empty"
    kind = {_STR: "text", _INT: "a number", _FLOAT: "a number", _BOOL: "true/false"}.get(node.tag, "a value")
    return f"{kind} ({_quote(node.value)})"


# --------------------------------------------------------------------------- a folder


@dataclass
class ScriptSet:
    """The scripts of one folder: those that loaded, and the errors of those that did not."""

    folder: Path
    scripts: dict[str, Script] = field(default_factory=dict)
    # One error per broken file (the first found, the others summed up in its message): what a run
    # stores, as the store keeps one open failure per file. `every_error` has each one on its own.
    errors: list[ScriptError] = field(default_factory=list)
    every_error: list[ScriptError] = field(default_factory=list)
    # Script ids whose file is broken or defined twice, with the error a call using it should get.
    unusable: dict[str, ScriptError] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.scripts)

    def pick(self, script_id: str | None, default: str | None = None) -> Script:
        """The script for a call: its script_id, else `default`, else the only script."""
        if script_id:
            return self._get(script_id, "the call's script_id")
        if default:
            return self._get(default, "the default script")
        if len(self.scripts) == 1:
            return next(iter(self.scripts.values()))
        if not self.scripts:
            raise ConfigError(f"no usable script in {display_path(self.folder)}{self._broken_hint()}")
        raise ConfigError(
            f"the call has no script_id and {display_path(self.folder)} holds {len(self.scripts)} scripts "
            f"({', '.join(sorted(self.scripts))}): give script_id in the manifest or configure a default script"
        )

    def _get(self, script_id: str, what: str) -> Script:
        if script_id in self.scripts:
            return self.scripts[script_id]
        if script_id in self.unusable:
            raise self.unusable[script_id]
        known = ", ".join(sorted(self.scripts)) or "none"
        close = difflib.get_close_matches(script_id, list(self.scripts), n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(
            f"{what} '{script_id}' is not in {display_path(self.folder)} (scripts there: {known}){hint}"
            f"{self._broken_hint()}"
        )

    def _broken_hint(self) -> str:
        if not self.errors:
            return ""
        files = sorted({Path(e.path).name for e in self.errors if e.path})
        return f"; {len(files)} script file(s) failed to load: {', '.join(files)}"


def _script_files(folder: Path) -> tuple[list[Path], list[ScriptError]]:
    """The script files of a folder (not recursive, no hidden files), and the links not followed."""
    paths: list[Path] = []
    refused: list[ScriptError] = []
    for entry in sorted(folder.iterdir()):
        if entry.suffix.lower() not in SCRIPT_SUFFIXES or entry.name.startswith("."):
            continue
        if entry.is_symlink() and leaves_folder(entry, folder):
            why = ("a symbolic link to a file outside the scripts folder; not read" if os.path.exists(entry)
                   else "a symbolic link whose target does not exist")
            refused.append(ScriptError(why, path=display_path(entry)))
            continue
        if entry.is_file():
            paths.append(entry)
    return paths, refused


def load_scripts(folder: str | Path) -> ScriptSet:
    """Load every *.yaml / *.yml in `folder` (not recursive); every error of a broken file goes to
    `errors`, once (logged at debug level: the caller decides how to report them)."""
    folder = Path(folder)
    if not folder.exists():
        raise ConfigError(f"scripts folder {display_path(folder)} does not exist")
    if not folder.is_dir():
        raise ConfigError(f"scripts folder {display_path(folder)} is not a folder")
    found = ScriptSet(folder=folder)
    paths, refused = _script_files(folder)
    found.errors.extend(refused)
    found.every_error.extend(refused)
    first_file: dict[str, str] = {}
    for path in paths:
        shown = display_path(path)
        script, errors, meant = _load(path, shown=shown)
        if errors:
            for e in errors:
                log.debug("%s", e)
            found.every_error.extend(sorted(errors, key=lambda e: e.line or 0))
            found.errors.append(_one_error(errors))
            if meant:
                found.unusable.setdefault(meant, found.errors[-1])
            continue
        assert script is not None
        if script.id in first_file:
            first = first_file[script.id]
            duplicate = ScriptError(
                f"duplicate script id '{script.id}': {first} defines it too; every script file needs its own id",
                path=shown,
                line=1,
            )
            found.errors.append(duplicate)
            found.every_error.append(duplicate)
            found.scripts.pop(script.id, None)
            found.unusable[script.id] = ScriptError(
                f"script id '{script.id}' is defined in both {first} and {shown}; remove or rename one",
                path=shown,
            )
            continue
        first_file[script.id] = shown
        found.scripts[script.id] = script
    # A broken file that meant to define an id loaded fine elsewhere does not make that id unusable.
    for script_id in list(found.unusable):
        if script_id in found.scripts:
            del found.unusable[script_id]
    return found


def _one_error(errors: list[ScriptError]) -> ScriptError:
    """A file's errors as one: the first found, then the others by line."""
    if len(errors) == 1:
        return errors[0]

    def bare(e: ScriptError) -> str:
        prefix = f"{e.path}:{e.line}: " if e.line is not None else f"{e.path}: "
        text = str(e)
        return text[len(prefix):] if text.startswith(prefix) else text

    first, rest = errors[0], sorted(errors[1:], key=lambda e: e.line or 0)
    more = "; ".join(f"line {e.line}: {bare(e)}" if e.line is not None else bare(e) for e in rest)
    return ScriptError(f"{bare(first)} (and {len(rest)} more: {more})", path=first.path, line=first.line)


def check_scripts(path: str | Path) -> list[ScriptError]:
    """Every error of the scripts in a folder (or of one script file), without a database or
    recordings: what `qa scripts check` prints. Empty when every script is valid.

    A folder must hold at least one script file; two files defining the same id are an error.
    Raises ConfigError only when `path` does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{display_path(path)} does not exist")
    if not path.is_dir():
        return check_script(path)
    found = load_scripts(path)
    if not found.scripts and not found.every_error:
        return [ScriptError(
            f"no script files here (a script is a {' or '.join('*' + s for s in SCRIPT_SUFFIXES)} file)",
            path=display_path(path),
        )]
    return list(found.every_error)
