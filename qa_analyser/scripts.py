"""Load and validate approved script files (YAML, one script per file; CONTRACT.md §1).

Every problem raises `ScriptError` naming the file and the line of the offending YAML node, so a
compliance editor can fix a typo without reading a traceback:

    scripts/energy.yaml:14: unknown key 'weigth' in item 'greeting' (did you mean 'weight'?)

`load_scripts` loads a whole folder: a broken file is reported in `ScriptSet.errors` and does not stop
the others; `ScriptSet.pick` applies the manifest rule of CONTRACT.md §2 (explicit id, else the
configured default, else the only script).
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .datatypes import Item, ProhibitedRule, Script, Section
from .errors import ConfigError, ScriptError

__all__ = ["BUILTIN_VARIABLES", "ScriptSet", "load_script", "load_scripts"]

log = logging.getLogger("qa_analyser")

BUILTIN_VARIABLES: tuple[str, ...] = ("agent_name",)
SCRIPT_SUFFIXES: tuple[str, ...] = (".yaml", ".yml")

_SCRIPT_KEYS = ("id", "version", "name", "language", "variables", "sections", "prohibited")
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


# --------------------------------------------------------------------------- one file


def load_script(path: str | Path) -> Script:
    """Load and validate one script file; raise `ScriptError` (file and line) on any problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ScriptError(f"cannot read script file: {e.strerror or e}", path=str(path)) from e
    try:
        source = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ScriptError("not UTF-8 text (save the file as UTF-8)", path=str(path), line=line) from e
    try:
        root = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        raise _syntax_error(str(path), e) from e
    except yaml.YAMLError as e:
        raise ScriptError(f"YAML syntax error: {e}", path=str(path)) from e
    if root is None:
        raise ScriptError("the file is empty; a script needs id, version and sections", path=str(path), line=1)
    return _Parser(str(path)).script(root, source=source, content_hash=hashlib.sha256(raw).hexdigest())


def _syntax_error(path: str, e: yaml.MarkedYAMLError) -> ScriptError:
    """Name the line a person should look at: where the problem was found, except at the end of the
    file (an unclosed quote or bracket), where the construct that was never closed began."""
    problem = e.problem or e.context or "invalid YAML"
    at_end = "end of stream" in problem or "<stream end>" in problem
    if e.context and e.context_mark is not None and (at_end or e.problem_mark is None):
        construct = re.sub(r"^while (scanning|parsing) (an? )?", "", e.context)
        message = f"YAML syntax error: the {construct} that starts here is never closed ({problem})"
        return ScriptError(message, path=path, line=e.context_mark.line + 1)
    message = f"YAML syntax error: {problem}"
    if e.context and e.context_mark is not None:
        message += f" ({e.context} on line {e.context_mark.line + 1})"
    mark = e.problem_mark or e.context_mark
    return ScriptError(message, path=path, line=mark.line + 1 if mark else None)


class _Parser:
    """Walks the composed YAML node tree, so every error can name the line of its node."""

    def __init__(self, path: str) -> None:
        self.path = path

    # ----------------------------------------------------------------- helpers

    def fail(self, node: Node | None, message: str) -> ScriptError:
        line = node.start_mark.line + 1 if node is not None else None
        return ScriptError(message, path=self.path, line=line)

    def mapping(self, node: Node, where: str, allowed: tuple[str, ...]) -> dict[str, tuple[Node, Node]]:
        """A mapping node as {key: (key node, value node)}; unknown and duplicate keys are errors."""
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{where} must be a mapping of keys to values, not {_describe(node)}")
        out: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _NULL:
                raise self.fail(key_node, f"{where} has a key that is not a name")
            key = key_node.value
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(allowed)})"
                raise self.fail(key_node, f"unknown key '{key}' in {where}{hint}")
            if key in out:
                first = out[key][0].start_mark.line + 1
                raise self.fail(key_node, f"duplicate key '{key}' in {where} (first given on line {first})")
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
        return value

    def ident(self, node: Node, what: str) -> str:
        value = self.text(node, what).strip()
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
        return tuple(self.text(child, f"each entry of {what}") for child in node.value)

    def number(self, node: Node, what: str) -> float:
        if not isinstance(node, ScalarNode) or node.tag not in (_INT, _FLOAT):
            raise self.fail(node, f"{what} must be a number, not {_describe(node)}")
        construct = _SCALARS.construct_yaml_int if node.tag == _INT else _SCALARS.construct_yaml_float
        value = float(construct(node))
        if value != value or value in (float("inf"), float("-inf")):
            raise self.fail(node, f"{what} must be a finite number")
        return value

    def flag(self, node: Node, what: str) -> bool:
        if not isinstance(node, ScalarNode) or node.tag != _BOOL:
            raise self.fail(node, f"{what} must be true or false, not {_describe(node)}")
        return bool(_SCALARS.construct_yaml_bool(node))

    def speaker(self, node: Node, what: str) -> str:
        if not isinstance(node, ScalarNode) or node.tag == _NULL:
            raise self.fail(node, f"{what} must be one of {', '.join(_RULE_SPEAKERS)}, not {_describe(node)}")
        value = node.value.strip()
        if value not in _RULE_SPEAKERS:
            raise self.fail(node, f"{what} must be one of {', '.join(_RULE_SPEAKERS)}, not {value!r}")
        return value

    # ----------------------------------------------------------------- the tree

    def script(self, root: Node, *, source: str, content_hash: str) -> Script:
        fields = self.mapping(root, "the script", _SCRIPT_KEYS)
        script_id = self.ident(self.require(fields, "id", root, "the script"), "the script id")
        version = self.text(self.require(fields, "version", root, "the script"), "version").strip()
        name = self.text(fields["name"][1], "name").strip() if "name" in fields else script_id
        language = self.text(fields["language"][1], "language").strip() if "language" in fields else "en"
        variables = self.variables(fields["variables"][1]) if "variables" in fields else ()
        defined = {name for name, _ in variables} | set(BUILTIN_VARIABLES)

        sections_node = self.require(fields, "sections", root, "the script")
        if not isinstance(sections_node, SequenceNode):
            raise self.fail(sections_node, f"sections must be a list, not {_describe(sections_node)}")
        if not sections_node.value:
            raise self.fail(sections_node, "sections must not be an empty list")

        sections: list[Section] = []
        section_lines: dict[str, int] = {}
        item_nodes: dict[str, tuple[Item, dict[str, tuple[Node, Node]]]] = {}
        for index, section_node in enumerate(sections_node.value, start=1):
            section = self.section(section_node, index, item_nodes, defined)
            if section.id in section_lines:
                raise self.fail(
                    section_node,
                    f"duplicate section id '{section.id}' (first used on line {section_lines[section.id]})",
                )
            section_lines[section.id] = section_node.start_mark.line + 1
            sections.append(section)

        self.check_after(item_nodes)

        prohibited: list[ProhibitedRule] = []
        if "prohibited" in fields:
            node = fields["prohibited"][1]
            if isinstance(node, ScalarNode) and node.tag == _NULL:
                node = SequenceNode("tag:yaml.org,2002:seq", [], node.start_mark, node.end_mark)
            if not isinstance(node, SequenceNode):
                raise self.fail(node, f"prohibited must be a list, not {_describe(node)}")
            seen: dict[str, int] = {}
            for index, rule_node in enumerate(node.value, start=1):
                rule = self.prohibited(rule_node, index, defined)
                if rule.id in seen:
                    raise self.fail(
                        rule_node, f"duplicate prohibited id '{rule.id}' (first used on line {seen[rule.id]})"
                    )
                if rule.id in item_nodes:
                    raise self.fail(
                        rule_node,
                        f"prohibited id '{rule.id}' is also an item id (line {item_nodes[rule.id][0].line}); "
                        "results are keyed by id, so they must differ",
                    )
                seen[rule.id] = rule.line or 0
                prohibited.append(rule)

        return Script(
            id=script_id,
            version=version,
            name=name,
            sections=tuple(sections),
            prohibited=tuple(prohibited),
            language=language,
            variables=variables,
            path=self.path,
            content_hash=content_hash,
            source=source,
        )

    def variables(self, node: Node) -> tuple[tuple[str, str], ...]:
        if isinstance(node, ScalarNode) and node.tag == _NULL:
            return ()
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"variables must be a mapping of names to texts, not {_describe(node)}")
        out: dict[str, str] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or not _VARIABLE_RE.match(key_node.value):
                raise self.fail(key_node, f"variable name {getattr(key_node, 'value', '?')!r} is not a valid name")
            name = key_node.value
            if name in BUILTIN_VARIABLES:
                raise self.fail(key_node, f"'{name}' is built in (filled from the manifest) and cannot be set")
            if name in out:
                raise self.fail(key_node, f"duplicate variable '{name}'")
            out[name] = self.text(value_node, f"variable '{name}'")
        return tuple(out.items())

    def section(
        self,
        node: Node,
        index: int,
        item_nodes: dict[str, tuple[Item, dict[str, tuple[Node, Node]]]],
        defined: set[str],
    ) -> Section:
        where = _name(node, "section", f"section #{index}")
        fields = self.mapping(node, where, _SECTION_KEYS)
        section_id = self.ident(self.require(fields, "id", node, where), "section id")
        where = f"section '{section_id}'"
        items_node = self.require(fields, "items", node, where)
        if not isinstance(items_node, SequenceNode):
            raise self.fail(items_node, f"items of {where} must be a list, not {_describe(items_node)}")
        if not items_node.value:
            raise self.fail(items_node, f"{where} has no items")
        items = []
        for item_index, item_node in enumerate(items_node.value, start=1):
            item, item_fields = self.item(item_node, section_id, item_index, defined)
            if item.id in item_nodes:
                first = item_nodes[item.id][0].line
                raise self.fail(item_node, f"duplicate item id '{item.id}' (first used on line {first})")
            item_nodes[item.id] = (item, item_fields)
            items.append(item)
        return Section(id=section_id, items=tuple(items))

    def item(
        self, node: Node, section_id: str, index: int, defined: set[str]
    ) -> tuple[Item, dict[str, tuple[Node, Node]]]:
        where = _name(node, "item", f"item #{index} of section '{section_id}'")
        fields = self.mapping(node, where, _ITEM_KEYS)
        item_id = self.ident(self.require(fields, "id", node, where), "item id")
        text = self.text(self.require(fields, "text", node, where), f"text of {where}")
        self.check_placeholders(fields["text"][1], text, defined, f"text of {where}")
        kwargs: dict[str, Any] = {}
        if "alternatives" in fields:
            value_node = fields["alternatives"][1]
            if isinstance(value_node, SequenceNode) and not value_node.value:
                kwargs["alternatives"] = ()
            else:
                kwargs["alternatives"] = self.texts(value_node, f"alternatives of {where}")
                self.check_all_placeholders(value_node, kwargs["alternatives"], defined, f"alternatives of {where}")
        kwargs.update(self.scoring_fields(fields, where))
        if "verbatim" in fields:
            kwargs["verbatim"] = self.flag(fields["verbatim"][1], f"verbatim of {where}")
        if "within_seconds" in fields:
            value_node = fields["within_seconds"][1]
            if not (isinstance(value_node, ScalarNode) and value_node.tag == _NULL):
                seconds = self.number(value_node, f"within_seconds of {where}")
                if seconds <= 0:
                    raise self.fail(value_node, f"within_seconds of {where} must be more than 0, not {seconds:g}")
                kwargs["within_seconds"] = seconds
        if "after" in fields:
            value_node = fields["after"][1]
            if not (isinstance(value_node, ScalarNode) and value_node.tag == _NULL):
                kwargs["after"] = self.text(value_node, f"after of {where}").strip()
        if "when_customer_says" in fields:
            value_node = fields["when_customer_says"][1]
            kwargs["when_customer_says"] = self.texts(value_node, f"when_customer_says of {where}")
            self.check_all_placeholders(
                value_node, kwargs["when_customer_says"], defined, f"when_customer_says of {where}"
            )
        item = Item(
            id=item_id, section=section_id, text=text, line=node.start_mark.line + 1, **kwargs
        )
        return item, fields

    def prohibited(self, node: Node, index: int, defined: set[str]) -> ProhibitedRule:
        where = _name(node, "prohibited rule", f"prohibited rule #{index}")
        fields = self.mapping(node, where, _PROHIBITED_KEYS)
        rule_id = self.ident(self.require(fields, "id", node, where), "prohibited id")
        phrases_node = self.require(fields, "phrases", node, where)
        phrases = self.texts(phrases_node, f"phrases of {where}")
        self.check_all_placeholders(phrases_node, phrases, defined, f"phrases of {where}")
        kwargs: dict[str, Any] = {}
        kwargs.update(self.scoring_fields(fields, where))
        return ProhibitedRule(id=rule_id, phrases=phrases, line=node.start_mark.line + 1, **kwargs)

    # ----------------------------------------------------------------- cross checks

    def scoring_fields(self, fields: dict[str, tuple[Node, Node]], where: str) -> dict[str, Any]:
        """speaker, weight and critical: the keys items and prohibited rules share."""
        out: dict[str, Any] = {}
        if "speaker" in fields:
            out["speaker"] = self.speaker(fields["speaker"][1], f"speaker of {where}")
        if "weight" in fields:
            weight = self.number(fields["weight"][1], f"weight of {where}")
            if weight < 0:
                raise self.fail(fields["weight"][1], f"weight of {where} must be 0 or more, not {weight:g}")
            out["weight"] = weight
        if "critical" in fields:
            out["critical"] = self.flag(fields["critical"][1], f"critical of {where}")
        return out

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
            self.check_placeholders(child, text, defined, what)

    def check_after(self, item_nodes: dict[str, tuple[Item, dict[str, tuple[Node, Node]]]]) -> None:
        for item, fields in item_nodes.values():
            if item.after is None:
                continue
            node = fields["after"][1]
            if item.after == item.id:
                raise self.fail(node, f"item '{item.id}' cannot come after itself")
            if item.after not in item_nodes:
                close = difflib.get_close_matches(item.after, list(item_nodes), n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise self.fail(node, f"after of item '{item.id}' names no item of this script: '{item.after}'{hint}")
        # An `after` chain that loops can never be satisfied.
        for item, fields in item_nodes.values():
            seen = [item.id]
            current = item.after
            while current is not None:
                if current in seen:
                    chain = " → ".join([*seen, current])
                    raise self.fail(fields["after"][1], f"items' after keys form a loop: {chain}")
                seen.append(current)
                current = item_nodes[current][0].after


_SCALARS = yaml.SafeLoader("")  # only its scalar constructors are used (YAML 1.1 ints, floats, bools)


def _name(node: Node, label: str, fallback: str) -> str:
    """How messages name a section, item or rule: by its id as soon as it has one."""
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == "id" and isinstance(value_node, ScalarNode):
                if value_node.value.strip():
                    return f"{label} '{value_node.value.strip()}'"
    return fallback


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL:
        return "empty"
    kind = {_STR: "text", _INT: "a number", _FLOAT: "a number", _BOOL: "true/false"}.get(node.tag, "a value")
    return f"{kind} ({node.value!r})" if kind != "text" else f"text ({node.value!r})"


# --------------------------------------------------------------------------- a folder


@dataclass
class ScriptSet:
    """The scripts of one folder: those that loaded, and the errors of those that did not."""

    folder: Path
    scripts: dict[str, Script] = field(default_factory=dict)
    errors: list[ScriptError] = field(default_factory=list)
    # Script ids whose file is broken or defined twice, with the error a call using it should get.
    unusable: dict[str, ScriptError] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.scripts)

    def pick(self, script_id: str | None, default: str | None = None) -> Script:
        """The script for a call (CONTRACT.md §2): its script_id, else `default`, else the only script."""
        if script_id:
            return self._get(script_id, "the call's script_id")
        if default:
            return self._get(default, "the default script")
        if len(self.scripts) == 1:
            return next(iter(self.scripts.values()))
        if not self.scripts:
            raise ConfigError(f"no usable script in {self.folder}{self._broken_hint()}")
        raise ConfigError(
            f"the call has no script_id and {self.folder} holds {len(self.scripts)} scripts "
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
            f"{what} '{script_id}' is not in {self.folder} (scripts there: {known}){hint}{self._broken_hint()}"
        )

    def _broken_hint(self) -> str:
        if not self.errors:
            return ""
        files = sorted({Path(e.path).name for e in self.errors if e.path})
        return f"; {len(self.errors)} script file(s) failed to load: {', '.join(files)}"


def load_scripts(folder: str | Path) -> ScriptSet:
    """Load every *.yaml / *.yml in `folder` (not recursive); broken files go to `errors`."""
    folder = Path(folder)
    if not folder.exists():
        raise ConfigError(f"scripts folder {folder} does not exist")
    if not folder.is_dir():
        raise ConfigError(f"scripts folder {folder} is not a folder")
    found = ScriptSet(folder=folder)
    paths = sorted(
        p for p in folder.iterdir() if p.suffix.lower() in SCRIPT_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )
    first_file: dict[str, str] = {}
    for path in paths:
        try:
            script = load_script(path)
        except ScriptError as e:
            log.warning("%s", e)
            found.errors.append(e)
            guessed = _guess_id(path)
            if guessed:
                found.unusable.setdefault(guessed, e)
            continue
        if script.id in first_file:
            first = first_file[script.id]
            found.errors.append(
                ScriptError(
                    f"duplicate script id '{script.id}': {first} defines it too; "
                    "every script file needs its own id",
                    path=str(path),
                    line=1,
                )
            )
            found.scripts.pop(script.id, None)
            found.unusable[script.id] = ScriptError(
                f"script id '{script.id}' is defined in both {first} and {path}; remove or rename one",
                path=str(path),
            )
            continue
        first_file[script.id] = str(path)
        found.scripts[script.id] = script
    # A broken file that meant to define an id loaded fine elsewhere does not make that id unusable.
    for script_id in list(found.unusable):
        if script_id in found.scripts:
            del found.unusable[script_id]
    return found


def _guess_id(path: Path) -> str | None:
    """The id a broken file meant to define, when it can still be read; for pick's message."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8", errors="replace"))
    except Exception:  # noqa: BLE001 - best effort only; the real error is already recorded
        return None
    if isinstance(data, dict) and isinstance(data.get("id"), str):
        return data["id"]
    return None
