"""The verdict policy around matching: who is the agent, and what a diarization error must not cost.

Mono clusters are named agent/customer by which side speaks the script, and a stereo call whose
customer channel speaks the script is treated as swapped (roles.py); the note goes into every
verdict's detail, so a reviewer sees what the verdicts rest on. On a diarized mono call the whole
call is matched too, and `recover_misattributed` keeps what the separation may have lost.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from ..datatypes import CallInfo, ItemResult, MatchOptions, Script, Transcript

__all__ = ["match_with_roles", "recheck_improves", "recover_misattributed", "resolve_roles", "settle_verbatim"]

_RANK = {"missed": 0, "partial": 1, "met": 2}

log = logging.getLogger("qa_analyser")


def resolve_roles(transcript: Transcript, script: Script, agent_name: str | None,
                  file: str = "") -> tuple[Transcript, Transcript | None, str | None]:
    """(transcript with agent/customer named, the unseparated mono transcript or None, note)."""
    from ..roles import assign_mono_roles, check_swapped

    if transcript.channels == "mono":
        named, note = assign_mono_roles(transcript, script, agent_name=agent_name)
        return named, transcript if named.has_speakers else None, note
    named, note = check_swapped(transcript, script, agent_name=agent_name)
    if note:
        log.warning("%s: %s", file, note)
    return named, None, note


def with_note(results: list[ItemResult], note: str | None) -> list[ItemResult]:
    if not note:
        return results
    return [replace(r, detail=f"{r.detail}; {note}" if r.detail else note) for r in results]


def match_with_roles(transcript: Transcript, script: Script, call: CallInfo, options: MatchOptions,
                     **strategies) -> list[ItemResult]:
    """Name the sides, match, and on a diarized mono call recover separation errors."""
    from . import match_call

    named, unseparated, note = resolve_roles(transcript, script, call.agent_name, call.file)
    results = match_call(named, script, agent_name=call.agent_name, options=options, **strategies)
    if unseparated is not None:
        whole = match_call(unseparated, script, agent_name=call.agent_name, options=options, **strategies)
        results = recover_misattributed(results, whole)
    results = with_note(results, note)
    # ---- privacy hook (docs/privacy.md): the PCI pause audit of a script with `pci_pause`; it reads
    # the transcript for card data, not the script's lines, and adds one prohibited verdict
    if script.pci_pause is not None:
        from ..privacy.audit import pci_audit
        from ..privacy.redact import script_numbers

        results.append(pci_audit(named, script.pci_pause, allowed=script_numbers(script)))
    return results


def recover_misattributed(separated: list[ItemResult], unseparated: list[ItemResult]) -> list[ItemResult]:
    """Diarization errors must not turn a said line into a miss: an agent item missed or partial in
    the agent's attributed speech but met in the whole mono call was most likely the agent's line
    put on the wrong side. It keeps the met verdict, flagged low_confidence for a reviewer to
    listen to. The same holds for a prohibited phrase: a violation heard only in the customer's
    attributed speech is kept as a violation, flagged low_confidence, since a missed violation
    costs a compliance review more than one listened to and cleared. (A conditional item is not
    recovered: in the whole call the agent's own line about the condition sounds like its trigger.)"""
    out = []
    for sep, whole in zip(separated, unseparated):
        if sep.kind == "prohibited":
            lost = sep.status == "met" and whole.status == "violated"
        elif sep.status == "not_applicable":
            lost = False
        else:
            lost = sep.status in ("missed", "partial") and whole.status == "met"
        if lost and whole.item_id == sep.item_id:
            flags = tuple(dict.fromkeys((*whole.flags, "low_confidence")))
            sep = replace(whole, flags=flags, detail=f"{whole.detail}; rests on speech the diarizer may have put "
                                                     "on the wrong side")
        out.append(sep)
    return out


def settle_verbatim(result: ItemResult, other: ItemResult, threshold: float) -> ItemResult:
    """A verbatim item after its stretch was decoded twice: a substitution that the other decoding
    did not hear is not clearly supported by the audio, so it does not count against the wording
    (it is listed as uncertain). An item that then reaches the verbatim threshold is met, flagged
    low_confidence with the reason, since the two decodings disagree and a reviewer may listen."""
    from .diff import describe_diff, disputed_by

    if (result.wording is None or other.wording is None or result.status != "partial"
            or other.wording.approved != result.wording.approved):
        return result
    wording, gone = disputed_by(result.wording, other.wording)
    if not gone:
        return result
    pairs = ", ".join(f"{a!r}→{b!r}" for a, b in gone)
    detail = result.detail.replace(describe_diff(result.wording), describe_diff(wording))
    detail = f"{detail}; {pairs} not heard on re-decoding: uncertain"
    if wording.fidelity < threshold:
        return replace(result, wording=wording, detail=detail)
    detail = detail.replace("; verbatim item: wording not exact", "")
    flags = tuple(dict.fromkeys((*result.flags, "low_confidence")))
    return replace(result, status="met", wording=wording, detail=detail, flags=flags)


def recheck_improves(before: list[ItemResult], after: list[ItemResult], item_id: str) -> bool:
    """A re-decoded stretch is kept only when it improves this item's verdict and makes no other
    verdict worse (nor changes any prohibited verdict): a second opinion on the audio may rescue a
    line the recogniser garbled, never trade one verdict for another."""
    old = {r.item_id: r for r in before}
    new = {r.item_id: r for r in after}
    better = _RANK.get(new[item_id].status, 0) > _RANK.get(old[item_id].status, 0)
    worse = any(_RANK.get(new[i].status, 3) < _RANK.get(o.status, 3) or
                (o.kind == "prohibited" and new[i].status != o.status) for i, o in old.items())
    return better and not worse
