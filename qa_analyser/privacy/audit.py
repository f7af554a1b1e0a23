"""The PCI pause audit: card data must not be heard in a recording (pure).

Agents should pause the recording, or the customer key the card on the phone's keypad (DTMF
masking), while a card is taken. A script with `pci_pause` gets one more verdict, kind
`prohibited`, id `pci_pause`: `violated` when a card number, security code or expiry date is heard
in the call, with the times of each and never the digits; `met` otherwise. It is scored like a
prohibited rule (critical unless the script says `critical: false`), so it counts in the call's
score, its pass/fail and every agent, team and vendor roll-up.

It works on a clear transcript (the detector) and on a stored, redacted one (the card placeholders
it holds), so `qa rescore` reaches the same verdict after the digits are gone.
"""

from __future__ import annotations

from ..datatypes import ItemResult, ProhibitedRule, Transcript
from .detect import CARD_KINDS, KINDS
from .redact import card_spans_in_redacted, find_spans

__all__ = ["pci_audit"]


def pci_audit(transcript: Transcript, rule: ProhibitedRule, *, allowed=()) -> ItemResult:
    """The verdict of the PCI pause rule on one call."""
    heard = [(s.kind, s.start_s, s.end_s, s.speaker) for s in find_spans(transcript, allowed=allowed)
             if s.kind in CARD_KINDS]
    heard += card_spans_in_redacted(transcript)
    heard.sort(key=lambda h: h[1])
    base = dict(item_id=rule.id, section=None, kind="prohibited", weight=rule.weight, critical=rule.critical)
    if not heard:
        return ItemResult(status="met", confidence=1.0, detail="no card data heard in the recording",
                          speaker="unknown" if transcript.channels == "mono" else None, **base)
    where = "; ".join(f"[{KINDS[k]}, {a:.1f}–{b:.1f} s]" for k, a, b, _ in heard)
    speakers = {sp for *_, sp in heard}
    speaker = speakers.pop() if len(speakers) == 1 else "unknown"
    return ItemResult(status="violated", confidence=1.0, start_s=heard[0][1], end_s=heard[-1][2],
                      evidence=where, speaker=speaker,
                      detail=f"card data heard in the recording ({len(heard)} stretch"
                             f"{'es' if len(heard) > 1 else ''}): pause the recording or use keypad (DTMF) entry "
                             "while taking a card", **base)
