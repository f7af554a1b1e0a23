"""Privacy: card data and personal data found in transcripts and removed before anything is stored.

* `detect.py` finds values in words (card numbers, security codes, expiry dates, bank details,
  IBANs, national ids, dates of birth, emails, phone numbers, postal addresses);
* `redact.py` replaces them in a transcript and in every verdict (mask, salted hash or keep);
* `audit.py` is the PCI pause audit (a script's `pci_pause` rule: card data heard in a recording);
* `audio.py` writes a copy of a recording with the redacted stretches silenced.

`redact_call` is what the pipeline calls between matching and storing (docs/privacy.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..datatypes import ItemResult, Transcript
from .detect import CARD_KINDS, KINDS, iban_ok, luhn_ok
from .redact import (ACTIONS, DETECTOR_VERSION, Policy, Span, allowed_numbers, counts, find_spans, redact_results,
                     redact_transcript, script_numbers)

__all__ = ["ACTIONS", "CARD_KINDS", "DETECTOR_VERSION", "KINDS", "Policy", "Redacted", "Span", "allowed_numbers",
           "find_spans", "iban_ok", "luhn_ok", "redact_call", "script_numbers"]


@dataclass(frozen=True)
class Redacted:
    """A call's transcript and verdicts as they may be stored, and what was removed from them."""

    transcript: Transcript
    results: list[ItemResult]
    spans: tuple[Span, ...]  # every value found (kept ones too); values live in memory only
    counts: dict[str, int]  # kind → values removed

    def provenance(self, policy: Policy) -> dict:
        """What the stored transcript says about its redaction (no values)."""
        return {"detector": DETECTOR_VERSION, "policy": policy.as_dict(), "removed": self.counts}


def redact_call(transcript: Transcript, results: Sequence[ItemResult], *, policy: Policy, salt: bytes,
                allowed: Iterable[str] = ()) -> Redacted:
    """Find every value in the transcript and remove it from the transcript and the verdicts."""
    spans = find_spans(transcript, allowed=allowed)
    return Redacted(redact_transcript(transcript, spans, policy, salt), redact_results(results, spans, policy, salt),
                    tuple(spans), counts(spans, policy))
