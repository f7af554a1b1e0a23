"""A script's vocabulary as a short text to bias the recogniser (faster-whisper `hotwords`).

Pure: `script_vocabulary(script)` → "Greenfield Energy, aware, recorded, quality, training, ...".
The variables' values come first (company and product names, which small models split or mishear),
then the distinctive words of the items' wordings in script order: not function words, at least
`min_letters` long, each once. Prohibited phrases and customer trigger phrases are left out by
default: biasing the recogniser toward them would make it hear violations and triggers that were
not said. The text is cut at `max_chars` on a term boundary; Whisper gives a prompt at most
223 tokens and a long one is more often copied into the output, so the default is short
(measured in docs/asr.md).
"""

from __future__ import annotations

import re

from .datatypes import Script
from .normalize import fold_accents, stem

__all__ = ["script_vocabulary", "VOCABULARY_VERSION", "DEFAULT_MAX_CHARS"]

VOCABULARY_VERSION = "1"  # bump when the text built for the same script changes
DEFAULT_MAX_CHARS = 200

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def _stopwords(language: str) -> frozenset[str]:
    from .match.speech import STOPWORDS, STOPWORDS_BY_LANGUAGE as _STOPWORDS_BY_LANGUAGE  # the matcher's lists

    return _STOPWORDS_BY_LANGUAGE.get(language, STOPWORDS)


def script_vocabulary(
    script: Script,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    min_letters: int = 4,
    include_prohibited: bool = False,
    include_triggers: bool = False,
) -> str:
    """Comma-separated terms from `script` for Whisper's hotwords: variable values, then item words."""
    language = (script.language or "en").lower().split("-")[0]
    stopwords = _stopwords(language)
    variables = script.variable_map
    terms: list[str] = []
    seen: set[str] = set()

    def add(term: str) -> None:
        key = fold_accents(term.lower())
        if term and key not in seen:
            seen.add(key)
            terms.append(term)

    for value in variables.values():
        add(" ".join(value.split()))
    for text in _texts(script, include_prohibited=include_prohibited, include_triggers=include_triggers):
        filled = _PLACEHOLDER.sub(lambda m: variables.get(m.group(1), " "), text)
        for word in _WORD.findall(filled):
            folded = fold_accents(word.lower()).replace("’", "'")
            if len(folded) < min_letters or "'" in folded:
                continue
            if folded in stopwords or stem(folded, language) in stopwords:
                continue
            if any(folded in fold_accents(v.lower()).split() for v in variables.values()):
                continue  # already there as part of a variable's value
            add(word if word[:1].isupper() and word[1:].islower() and _proper(word, text) else word.lower())
    out = ""
    for term in terms:
        candidate = f"{out}, {term}" if out else term
        if len(candidate) > max_chars:
            break
        out = candidate
    return out


def _proper(word: str, text: str) -> bool:
    """A capitalised word not at the start of its sentence: a name, kept capitalised."""
    at = text.find(word)
    before = text[:at].rstrip()
    return bool(before) and before[-1] not in ".?!¿¡"


def _texts(script: Script, *, include_prohibited: bool, include_triggers: bool) -> list[str]:
    texts: list[str] = []
    for item in script.items:
        texts += item.wordings
        if include_triggers:
            texts += item.when_customer_says
    if include_prohibited:
        texts += [p for rule in script.prohibited for p in rule.phrases]
    return texts
