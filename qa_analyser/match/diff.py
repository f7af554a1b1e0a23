"""The word-level diff of a verbatim item: what was dropped, substituted or added.

Numbers compare as values (numbers.py): "a hundred and twenty-nine ninety-nine" is "£129.99". A
substitution whose said words the recogniser heard poorly (word probability below
UNCERTAIN_PROBABILITY) is not evidence that the agent changed the wording: it is listed as uncertain
and does not lower the fidelity. Nor is one that a second decoding of the same audio did not hear
(`disputed_by`, used after a re-check).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import replace

from ..datatypes import WordingDiff
from .align import Wording
from .numbers import value_spans, value_tokens
from .speech import Speech

__all__ = ["UNCERTAIN_PROBABILITY", "describe_diff", "disputed_by", "verbatim_diff", "wording_diff"]

UNCERTAIN_PROBABILITY = 0.5
_CONTEXT = 3  # tokens either side of the matched unit that the diff may take in


def wording_diff(approved: Sequence[str], said: Sequence[str], approved_text: str,
                 said_probability: Sequence[float] | None = None) -> WordingDiff:
    """Word-level comparison of what was said with an approved wording (both normalised words).

    Said words before the first and after the last word that matches the wording are not part of the
    attempt and are left out. fidelity = approved words said, in order / (approved words + words
    added): 1.0 only for the exact wording; a substitution costs the approved word, an insertion one.
    """
    approved = value_tokens(list(approved))
    spans = value_spans(list(said))
    said_values = [tok for tok, _, _ in spans]
    # a value token was heard as well as the worst of the words it came from
    probs = [min(said_probability[s:e]) for _, s, e in spans] if said_probability is not None else []
    said = said_values
    sm = difflib.SequenceMatcher(None, approved, said, autojunk=False)
    blocks = [b for b in sm.get_matching_blocks() if b.size]
    if not blocks:
        return WordingDiff(fidelity=0.0, approved=approved_text, dropped=tuple(approved))
    lo, hi = blocks[0].b, blocks[-1].b + blocks[-1].size
    sm = difflib.SequenceMatcher(None, approved, said[lo:hi], autojunk=False)
    dropped: list[str] = []
    substituted: list[tuple[str, str]] = []
    uncertain: list[tuple[str, str]] = []
    added: list[str] = []
    matched = 0
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            matched += i2 - i1
        elif op == "delete":
            dropped.extend(approved[i1:i2])
        elif op == "insert":
            added.extend(said[lo + j1 : lo + j2])
        else:
            pair = (" ".join(approved[i1:i2]), " ".join(said[lo + j1 : lo + j2]))
            heard = probs[lo + j1 : lo + j2] if probs else []
            if heard and i2 - i1 == j2 - j1 and min(heard) < UNCERTAIN_PROBABILITY:
                uncertain.append(pair)
                matched += i2 - i1
            else:
                substituted.append(pair)
    fidelity = matched / (len(approved) + len(added)) if approved else 0.0
    return WordingDiff(fidelity=round(fidelity, 3), approved=approved_text, dropped=tuple(dropped),
                       substituted=tuple(substituted), added=tuple(added), uncertain=tuple(uncertain))


def verbatim_diff(speech: Speech, start: int, end: int, wording: Wording) -> WordingDiff:
    """Diff of an approved wording with what was said in tokens [start, end) and a few around them."""
    # the unit may hold only part of the line (a clause cut off, a slip that broke the sentence): look
    # as far around it, within the turn, as the line is long; words outside the attempt are trimmed
    reach = max(_CONTEXT, len(wording.texts) - (end - start) + _CONTEXT)
    lo = max(int(speech.turn_start[start]), start - reach)
    hi = min(int(speech.turn_end[start]), end + reach)
    toks = speech.tokens[lo:hi]
    said = [t.text for t in toks]
    probability = [speech.words[t.source].probability for t in toks]
    return wording_diff(list(wording.texts), said, " ".join(wording.texts), probability)


def disputed_by(diff: WordingDiff, other: WordingDiff) -> tuple[WordingDiff, tuple[tuple[str, str], ...]]:
    """`diff` with the substitutions that another decoding of the same audio did not make moved to
    uncertain, and the moved pairs.

    A substitution is gone on re-decoding when none of its approved words is substituted or dropped
    in `other`: the two decodings disagree about those words, so the audio does not clearly support
    the change. The approved words of a moved pair count as said in the fidelity, as for a
    substitution heard poorly.
    """
    if other.approved != diff.approved:
        raise ValueError("the two diffs compare against different wordings")
    deviating = set(other.dropped)
    for approved, _ in other.substituted:
        deviating.update(approved.split())
    gone = tuple(pair for pair in diff.substituted if not deviating.intersection(pair[0].split()))
    if not gone:
        return diff, ()
    denominator = len(value_tokens(diff.approved.split())) + len(diff.added)
    matched = round(diff.fidelity * denominator) + sum(len(a.split()) for a, _ in gone)
    kept = tuple(pair for pair in diff.substituted if pair not in gone)
    return replace(diff, fidelity=round(matched / denominator, 3) if denominator else 0.0, substituted=kept,
                   uncertain=diff.uncertain + gone), gone


def describe_diff(diff: WordingDiff) -> str:
    parts = [f"fidelity {diff.fidelity:.0%}"]
    if diff.dropped:
        parts.append("dropped " + ", ".join(repr(w) for w in diff.dropped))
    if diff.substituted:
        parts.append("substituted " + ", ".join(f"{a!r}→{b!r}" for a, b in diff.substituted))
    if diff.uncertain:
        parts.append("uncertain (heard poorly or not heard again) "
                     + ", ".join(f"{a!r}→{b!r}" for a, b in diff.uncertain))
    if diff.added:
        parts.append("added " + ", ".join(repr(w) for w in diff.added))
    return "verbatim: " + "; ".join(parts)
