"""Numbers as values: runs of spoken number words → digit strings, so that "a hundred and twenty-nine
ninety-nine" and "£129.99", or "one eight hundred, five five five, oh one four seven" and
"1-800-555-0147", compare equal.

Works on normalised words (normalize.py has already turned digits into words on both sides). A run
is parsed into groups the way people read numbers out ("twenty nine" | "ninety nine", "one" |
"eight hundred" | "five" ...); its value is the groups' digits concatenated. Currency words between
or after the groups ("pounds and ninety nine pence") are skipped, so the script's "£35" and the
agent's "thirty five pounds" and "thirty five" all read 35.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["NumberRun", "number_runs", "value_spans", "value_tokens"]

_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
_UNITS.update({"oh": 0, "o": 0, "nought": 0})
_TENS = {w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
_ORDINALS = {w: i + 1 for i, w in enumerate(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth "
    "fifteenth sixteenth seventeenth eighteenth nineteenth".split())}
_ORDINALS.update({w: 10 * (i + 2) for i, w in enumerate(
    "twentieth thirtieth fortieth fiftieth sixtieth seventieth eightieth ninetieth".split())})
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
# said between or after the groups of one amount; skipped
_CURRENCY = frozenset("pound pounds dollar dollars euro euros pence penny cent cents point".split())


class NumberRun(tuple):
    """(start, end, digits): words [start, end) read as one number."""

    __slots__ = ()

    def __new__(cls, start: int, end: int, digits: str):
        return super().__new__(cls, (start, end, digits))

    start = property(lambda self: self[0])
    end = property(lambda self: self[1])
    digits = property(lambda self: self[2])


def _is_number_word(word: str) -> bool:
    return word in _UNITS or word in _TENS or word in _SCALES or word in _ORDINALS


def number_runs(words: Sequence[str]) -> list[NumberRun]:
    """Every run of spoken number words in `words` (normalised, lower case) with its digit string."""
    runs: list[NumberRun] = []
    n = len(words)
    i = 0
    while i < n:
        w = words[i]
        starts_run = _is_number_word(w) or (w == "a" and i + 1 < n and words[i + 1] in _SCALES)
        if not starts_run:
            i += 1
            continue
        groups: list[int] = []
        cur: int | None = None
        last = ""  # kind of the last word: unit | tens | scale | and | ordinal
        start = i
        end = i
        while i < n:
            w = words[i]
            nxt = words[i + 1] if i + 1 < n else ""
            if w == "a" and nxt in _SCALES and cur is None:
                cur, last = 1, "unit"
            elif w in _UNITS or w in _ORDINALS and _ORDINALS[w] < 20:
                v = _UNITS.get(w, _ORDINALS.get(w, 0))
                # after "eight hundred" a digit read on its own ("five five five", "five hundred") starts a
                # new group; "one hundred five dollars" is 105
                digit_sequence = last == "scale" and cur is not None and cur < 1000 and cur % 100 == 0 and (nxt in _UNITS or nxt in _SCALES)
                if cur is not None and not digit_sequence and (
                        last in ("scale", "and") or (last == "tens" and cur % 10 == 0 and v < 10)):
                    cur += v
                else:
                    if cur is not None:
                        groups.append(cur)
                    cur = v
                last = "ordinal" if w in _ORDINALS else "unit"
            elif w in _TENS or w in _ORDINALS:
                v = _TENS.get(w, _ORDINALS.get(w, 0))
                if cur is not None and last in ("scale", "and") and cur % 100 == 0:
                    cur += v
                else:
                    if cur is not None:
                        groups.append(cur)
                    cur = v
                last = "ordinal" if w in _ORDINALS else "tens"
            elif w in _SCALES:
                scale = _SCALES[w]
                if cur is None:
                    cur = scale
                elif cur < scale:
                    cur *= scale  # "eight hundred"
                elif scale == 100 and 0 < cur % 1000 < 10:
                    cur += (cur % 1000) * 99  # "one thousand two hundred"

                else:
                    groups.append(cur)
                    cur = scale
                last = "scale"
            elif w == "and" and last == "scale" and _is_number_word(nxt):
                last = "and"
            elif (w in _CURRENCY or (w == "and" and last != "and")) and cur is not None:
                # "... pounds and ninety nine pence": skip, the amount may go on
                j = i
                while j < n and (words[j] in _CURRENCY or words[j] == "and"):
                    j += 1
                if j < n and _is_number_word(words[j]) and words[j] not in _SCALES:
                    i = j
                    continue
                while i < n and words[i] in _CURRENCY:  # the amount's own unit belongs to it
                    i += 1
                    end = i
                break
            else:
                break
            if last == "ordinal":
                end = i + 1
                i += 1
                break
            end = i + 1
            i += 1
        if cur is not None:
            groups.append(cur)
        if groups:
            runs.append(NumberRun(start, end, "".join(str(g) for g in groups)))
        i = max(i, end, start + 1)
    return runs


def value_spans(words: Sequence[str]) -> list[tuple[str, int, int]]:
    """`words` with each number run replaced by one token "#<digits>": (token, start, end) per token."""
    out: list[tuple[str, int, int]] = []
    i = 0
    for run in number_runs(words):
        out.extend((words[k], k, k + 1) for k in range(i, run.start))
        out.append((f"#{run.digits}", run.start, run.end))
        i = run.end
    out.extend((words[k], k, k + 1) for k in range(i, len(words)))
    return out


def value_tokens(words: Sequence[str]) -> list[str]:
    """`words` with each number run replaced by one token "#<digits>" (for value-level comparison)."""
    return [tok for tok, _, _ in value_spans(words)]
