#!/usr/bin/env python3
"""Compute the size and sha256 of every file the registry lists, from the installed packages.

Usage:
    python tools/pin_models.py            # print the files whose pins differ from what is installed
    python tools/pin_models.py --write    # write the installed sizes and checksums into models/registry.json

The registry's pins are a lock file: they are computed here from the packages that pip installed,
never typed by hand. Only the files of installed packages are checked or written; assembled files
(split models) are pinned from their parts' concatenation.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = ROOT / "models" / "registry.json"


def _sha256(paths: list[Path]) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    for path in paths:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
                size += len(block)
    return size, digest.hexdigest()


def _package_dir(entry: dict, package: str) -> Path | None:
    module = next(p["module"] for p in entry["packages"] if p["name"] == package)
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def pin(data: dict) -> list[str]:
    """Update the pins in `data` in place; return one line per changed file."""
    changed = []
    for section in ("models", "components"):
        for name, entry in data.get(section, {}).items():
            for f in entry.get("files", []):
                folder = _package_dir(entry, f["package"])
                if folder is None or not (folder / f["path"]).is_file():
                    continue
                size, sha = _sha256([folder / f["path"]])
                if (f.get("size"), f.get("sha256")) != (size, sha):
                    changed.append(f"{name}: {f['package']}/{f['path']}: {f.get('sha256')} -> {sha}")
                    f["size"], f["sha256"] = size, sha
            for spec in entry.get("assembled", []):
                parts = [(_package_dir(entry, p["package"]), p) for p in spec["parts"]]
                if any(folder is None for folder, _ in parts):
                    continue
                size, sha = _sha256([folder / p["path"] for folder, p in parts])
                if not entry.get("incomplete") and (spec.get("size"), spec.get("sha256")) != (size, sha):
                    changed.append(f"{name}: assembled {spec['name']}: {spec.get('sha256')} -> {sha}")
                    spec["size"], spec["sha256"] = size, sha
    return changed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="write the computed pins into the registry")
    args = ap.parse_args()
    data = json.loads(REGISTRY.read_text(encoding="utf-8"))
    changed = pin(data)
    print("\n".join(changed) if changed else "every installed file matches its pin")
    if args.write and changed:
        REGISTRY.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 1 if changed and not args.write else 0


if __name__ == "__main__":
    sys.exit(main())
