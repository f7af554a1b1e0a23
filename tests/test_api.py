"""The public API: `qa_analyser.__all__` is complete and nothing heavy is imported with the package."""

import __future__
import dataclasses
import inspect
import subprocess
import sys
import types
import typing

import qa_analyser
import qa_analyser.errors


def test_public_api_names_resolve():
    assert len(qa_analyser.__all__) == len(set(qa_analyser.__all__))
    missing = [name for name in qa_analyser.__all__ if not hasattr(qa_analyser, name)]
    assert missing == []


def test_every_public_name_of_the_package_is_in_all():
    # what `from qa_analyser import X` offers beyond its submodules must be listed, and nothing else
    public = {name for name, value in vars(qa_analyser).items()
              if not name.startswith("_") and not isinstance(value, (types.ModuleType, __future__._Feature))}
    assert public == set(qa_analyser.__all__) - {"__version__"}


def test_every_error_of_the_documented_tree_is_exported():
    errors = {name for name, value in vars(qa_analyser.errors).items()
              if isinstance(value, type) and issubclass(value, qa_analyser.QAError)}
    assert len(errors) >= 10
    assert errors <= set(qa_analyser.__all__)
    for name in errors:  # the tree in errors.py's docstring names every one of them
        assert f" {name} " in qa_analyser.errors.__doc__, name


def _package_types(annotation) -> set[type]:
    found = {annotation} if isinstance(annotation, type) and annotation.__module__.startswith("qa_analyser.") else set()
    for argument in typing.get_args(annotation):
        found |= _package_types(argument)
    return found


def _types_used_by(obj) -> set[type]:
    """The qa_analyser types in the signatures of `obj` (a function, or a class: its fields, its public
    methods and properties)."""
    functions = [obj] if inspect.isfunction(obj) else []
    hints: list = []
    if inspect.isclass(obj):
        if dataclasses.is_dataclass(obj):
            hints += typing.get_type_hints(obj).values()
        for name in dir(obj):
            member = inspect.getattr_static(obj, name)
            if name.startswith("_"):
                continue
            if isinstance(member, property):
                functions.append(member.fget)
            elif isinstance(member, (staticmethod, classmethod)):
                functions.append(member.__func__)
            elif inspect.isfunction(member):
                functions.append(member)
    for function in functions:
        hints += typing.get_type_hints(function).values()
    return set().union(*(_package_types(h) for h in hints)) if hints else set()


def test_every_type_the_api_hands_out_or_takes_is_exported():
    # a caller can name (annotate, isinstance) whatever a public function or class gives or takes
    seen: set = set()
    todo = [getattr(qa_analyser, name) for name in qa_analyser.__all__ if name != "__version__"]
    unexported = set()
    while todo:
        obj = todo.pop()
        if obj in seen:
            continue
        seen.add(obj)
        for used in _types_used_by(obj):
            if getattr(qa_analyser, used.__name__, None) is not used:
                unexported.add(f"{used.__module__}.{used.__name__} (used by {obj.__name__})")
            todo.append(used)
    assert sorted(unexported) == []


def test_importing_the_package_loads_no_heavy_dependency():
    code = ("import sys, qa_analyser, qa_analyser.cli; "
            "print(sorted(m for m in ('faster_whisper', 'ctranslate2', 'spacy', 'av') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
