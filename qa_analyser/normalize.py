"""Text normalisation for matching recognised speech against script wording.

Both sides (transcript words and script text) go through the same functions, so any canonical
form works as long as it is applied to both. The choices:

- lower case; punctuation dropped (a clause boundary is remembered for negation scope);
- numbers to spoken words: "10%" → "ten percent", "£40" → "forty pounds", "2" → "two",
  "14th" → "fourteenth", "2026" → "twenty twenty six", "10:30" → "ten thirty";
- contractions expanded: "I'm" → "i am", "can't" → "can not", "won't" → "will not", "it's" → "it is",
  a possessive "'s" is dropped ("brightwater's" → "brightwater");
- fillers (um, uh, erm, ...) removed; hyphenated words split;
- US spellings mapped to British ("realize" → "realise", "color" → "colour");
- a few stock phrases of service calls rewritten to one form (`PHRASES`): "thanks" → "thank you",
  "have a lovely/great/nice day" and "enjoy the rest of your day" → "have a good day",
  "just so you know" / "please note" → "please be aware", "goodbye" → "bye".

Every output `Token` keeps the index of the input word it came from, so a match over tokens can be
mapped back to transcript `Word`s and their times. `Token.key` is a light stem used for matching
("calling" → "call", "recorded" → "record", "thanks" → "thank").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "FILLERS",
    "LANGUAGES",
    "PHRASES",
    "Token",
    "fold_accents",
    "normalize_text",
    "normalize_words",
    "number_to_words",
    "number_to_words_es",
    "number_to_words_fr",
    "stem",
]

LANGUAGES = ("en", "es", "fr")  # normalised with their own rules; any other language gets the generic ones

FILLERS = frozenset({"um", "umm", "uh", "uhh", "uhm", "erm", "er", "err", "hmm", "hm", "mm", "mhm", "ah", "eh"})
# Hesitations per language (accents folded). Only sounds that are never words: Spanish "este"/"pues"
# and French "ben"/"bon" are also real words and stay.
_FILLERS_BY_LANGUAGE = {
    "en": FILLERS,
    "es": frozenset({"eh", "em", "ehm", "mm", "mmm", "hmm", "hm", "mhm", "am", "ah", "uh", "um"}),
    "fr": frozenset({"euh", "heu", "euhm", "hum", "hmm", "hm", "mm", "mmm", "mhm", "bah", "ah", "uh", "um"}),
}

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORDINAL_IRREGULAR = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}
_CURRENCY = {"£": ("pound", "pounds"), "$": ("dollar", "dollars"), "€": ("euro", "euros")}
_CENTS = {"£": "pence", "$": "cents", "€": "cents"}

_CONTRACTIONS = {
    "can't": "can not", "cannot": "can not", "won't": "will not", "shan't": "shall not",
    "ain't": "is not", "let's": "let us", "y'all": "you all", "gonna": "going to", "wanna": "want to",
    "gotta": "got to", "o'clock": "oclock", "ma'am": "madam",
}
# "'s" means "is" after these; elsewhere it is a possessive and dropped
_S_IS = frozenset(
    "it he she that what there here who where how when why this everything nothing something everyone".split()
)
_SUFFIXES = (("n't", " not"), ("'re", " are"), ("'ve", " have"), ("'ll", " will"), ("'d", " would"), ("'m", " am"))

_US_TO_UK = {
    "color": "colour", "colors": "colours", "favor": "favour", "favorite": "favourite", "honor": "honour",
    "behavior": "behaviour", "neighbor": "neighbour", "labor": "labour", "center": "centre",
    "theater": "theatre", "license": "licence", "program": "programme", "canceled": "cancelled",
    "canceling": "cancelling", "traveled": "travelled", "catalog": "catalogue", "mom": "mum",
    "okay": "ok", "okey": "ok", "alright": "all right",
}
_ZE = re.compile(r"(?<=[a-z]{2})iz(e|es|ed|ing|ation|ations)$")

_THOUSANDS_DOT = re.compile(r"^[£$€]?\d{1,3}(\.\d{3})+[£$€%]?$")
_PUNCT_BOUNDARY = re.compile(r"[.,;:!?]$")
_NUMBERISH = re.compile(r"^([£$€])?(\d[\d,]*)(\.\d+)?(%|st|nd|rd|th|s|k|m)?$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_BRACKETED = re.compile(r"^\[[^\[\]]{1,80}\]$")
_KEEP = re.compile(r"[^a-z0-9'£$€%.,:\-\s]")


@dataclass(frozen=True)
class Token:
    """One normalised token and the index of the input word it came from."""

    text: str  # canonical form (what evidence quotes show)
    key: str  # stem used for matching
    source: int  # index into the input word sequence
    clause_start: bool = False  # first token after a clause boundary (punctuation, turn change)


def number_to_words(n: int) -> list[str]:
    """Cardinal number as British spoken words: 180 → one hundred and eighty."""
    if n < 0:
        return ["minus", *number_to_words(-n)]
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        tens, ones = divmod(n, 10)
        return [_TENS[tens]] + ([_ONES[ones]] if ones else [])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return [_ONES[hundreds], "hundred"] + (["and", *number_to_words(rest)] if rest else [])
    for size, name in ((10**9, "billion"), (10**6, "million"), (1000, "thousand")):
        if n >= size:
            high, rest = divmod(n, size)
            words = [*number_to_words(high), name]
            if rest:
                words += (["and"] if rest < 100 else []) + number_to_words(rest)
            return words
    return [str(n)]


_ES_ONES = (
    "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince dieciseis "
    "diecisiete dieciocho diecinueve veinte veintiuno veintidos veintitres veinticuatro veinticinco veintiseis "
    "veintisiete veintiocho veintinueve"
).split()
_ES_TENS = "_ _ _ treinta cuarenta cincuenta sesenta setenta ochenta noventa".split()
_ES_HUNDREDS = ("_ ciento doscientos trescientos cuatrocientos quinientos seiscientos setecientos ochocientos "
                "novecientos").split()
_FR_ONES = (
    "zero un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize"
).split()
_FR_TENS = "_ dix vingt trente quarante cinquante soixante".split()


def number_to_words_es(n: int) -> list[str]:
    """Spanish cardinal, accents folded: 21 → veintiuno, 180 → ciento ochenta, 2026 → dos mil veintiseis."""
    if n < 0:
        return ["menos", *number_to_words_es(-n)]
    if n < 30:
        return [_ES_ONES[n]]
    if n < 100:
        tens, ones = divmod(n, 10)
        return [_ES_TENS[tens]] + (["y", _ES_ONES[ones]] if ones else [])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        if n == 100:
            return ["cien"]
        return [_ES_HUNDREDS[hundreds]] + (number_to_words_es(rest) if rest else [])
    if n < 10**6:
        high, rest = divmod(n, 1000)
        return ([] if high == 1 else number_to_words_es(high)) + ["mil"] + (number_to_words_es(rest) if rest else [])
    high, rest = divmod(n, 10**6)
    head = ["un", "millon"] if high == 1 else [*number_to_words_es(high), "millones"]
    return head + (number_to_words_es(rest) if rest else [])


def number_to_words_fr(n: int) -> list[str]:
    """French cardinal as separate words (hyphens split): 71 → soixante et onze, 80 → quatre vingts."""
    if n < 0:
        return ["moins", *number_to_words_fr(-n)]
    if n < 17:
        return [_FR_ONES[n]]
    if n < 20:
        return ["dix", _FR_ONES[n - 10]]
    if n < 70:
        tens, ones = divmod(n, 10)
        if ones == 0:
            return [_FR_TENS[tens]]
        return [_FR_TENS[tens]] + (["et", "un"] if ones == 1 else number_to_words_fr(ones))
    if n < 80:
        return ["soixante"] + (["et", "onze"] if n == 71 else number_to_words_fr(n - 60))
    if n < 100:
        return ["quatre", "vingts"] if n == 80 else ["quatre", "vingt", *number_to_words_fr(n - 80)]
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        head = ["cent"] if hundreds == 1 else [*number_to_words_fr(hundreds), "cents" if not rest else "cent"]
        return head + (number_to_words_fr(rest) if rest else [])
    if n < 10**6:
        high, rest = divmod(n, 1000)
        head = ["mille"] if high == 1 else [*number_to_words_fr(high), "mille"]
        if head[-2:] == ["vingts", "mille"] or head[-2:] == ["cents", "mille"]:
            head[-2] = head[-2][:-1]  # "quatre-vingt mille", "deux cent mille"
        return head + (number_to_words_fr(rest) if rest else [])
    high, rest = divmod(n, 10**6)
    head = ["un", "million"] if high == 1 else [*number_to_words_fr(high), "millions"]
    return head + (number_to_words_fr(rest) if rest else [])


# per language: cardinal, word for percent, currency names (singular, plural), decimal point word
_NUMBER_STYLE = {
    "es": (number_to_words_es, ["por", "ciento"], {"£": ("libra", "libras"), "$": ("dolar", "dolares"),
                                                   "€": ("euro", "euros")}, "coma"),
    "fr": (number_to_words_fr, ["pour", "cent"], {"£": ("livre", "livres"), "$": ("dollar", "dollars"),
                                                  "€": ("euro", "euros")}, "virgule"),
}


def _digits_to_words_other(raw: str, language: str) -> list[str] | None:
    """Spanish/French spoken form of a number token ("40€", "10%", "2026", "10:30"), else None.

    Cheap on purpose: cardinals, digit-by-digit codes, percent, currency, decimals, clock times; no
    ordinals or gender agreement (both sides get the same form, which is all matching needs).
    """
    cardinal, percent, currencies, point = _NUMBER_STYLE[language]
    if raw == "%":  # "10 %" written with a space
        return list(percent)
    if raw in currencies:
        return [currencies[raw][1]]
    if _THOUSANDS_DOT.match(raw):  # "1.500 €": the dot groups thousands
        raw = raw.replace(".", "")
    elif "," in raw:  # "3,50": decimal comma
        raw = raw.replace(",", ".")
    ones = [cardinal(d)[0] for d in range(10)]
    t = _TIME.match(raw)
    if t:
        hours, minutes = int(t.group(1)), int(t.group(2))
        return cardinal(hours) + (cardinal(minutes) if minutes else [])
    trailing_currency = raw[-1:] in currencies and len(raw) > 1
    m = _NUMBERISH.match(raw[-1] + raw[:-1] if trailing_currency else raw)
    if not m or m.group(4) not in (None, "%"):
        return None
    currency, digits, decimals, suffix = m.group(1), m.group(2), m.group(3), m.group(4)
    plain = digits.replace(",", "").replace(".", "")
    if not plain.isdigit():
        return None
    if currency is None and suffix is None and decimals is None and (
            len(plain) >= 5 or (len(plain) > 1 and plain.startswith("0"))):
        return [ones[int(d)] for d in plain]
    n = int(plain)
    words = cardinal(n)
    if decimals:
        frac = decimals[1:]
        words = [*words, point, *(cardinal(int(frac)) if len(frac) <= 2 else [ones[int(d)] for d in frac])]
    if currency is not None:
        singular, plural = currencies[currency]
        words = [*words, singular if n == 1 and not decimals else plural]
    if suffix == "%":
        words = [*words, *percent]
    return words


def _year_words(n: int) -> list[str]:
    if 2000 <= n <= 2009:
        return number_to_words(n)
    high, low = divmod(n, 100)
    if low == 0:
        return [*number_to_words(high), "hundred"]
    return number_to_words(high) + (["oh", _ONES[low]] if low < 10 else number_to_words(low))


def _ordinal(words: list[str]) -> list[str]:
    last = words[-1]
    if last in _ORDINAL_IRREGULAR:
        last = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return [*words[:-1], last]


def _digits_to_words(raw: str) -> list[str] | None:
    """Spoken form of a token that is a number ("£40", "10%", "14th", "2.5", "10:30"), else None."""
    t = _TIME.match(raw)
    if t:
        hours, minutes = int(t.group(1)), int(t.group(2))
        return number_to_words(hours) + ([] if minutes == 0 else
                                         (["oh", _ONES[minutes]] if minutes < 10 else number_to_words(minutes)))
    m = _NUMBERISH.match(raw)
    if not m:
        return None
    currency, digits, decimals, suffix = m.group(1), m.group(2), m.group(3), m.group(4)
    plain = digits.replace(",", "")
    if not plain.isdigit():
        return None
    n = int(plain)
    if currency is None and suffix is None and decimals is None and "," not in digits and len(plain) == 4 \
            and 1100 <= n <= 2099:
        return _year_words(n)
    if currency is None and suffix is None and decimals is None and "," not in digits and (
            len(plain) >= 5 or (len(plain) > 1 and plain.startswith("0"))):
        # account and phone numbers are read digit by digit
        return [_ONES[int(d)] for d in plain]
    words = number_to_words(n)
    if suffix in ("st", "nd", "rd", "th"):
        return _ordinal(words)
    if suffix == "k":
        words = [*words, "thousand"]
    elif suffix == "m":
        words = [*words, "million"]
    elif suffix == "s":  # "1990s" → nineteen nineties
        words = _year_words(n) if 1100 <= n <= 2099 else words
        last = words[-1]
        words = [*words[:-1], last[:-1] + "ies" if last.endswith("y") else last + "s"]
    cents: list[str] = []
    if decimals:
        frac = decimals[1:]
        if currency is not None and len(frac) == 2:
            if int(frac):
                cents = ["and", *number_to_words(int(frac)), _CENTS[currency]]
        else:
            words = [*words, "point", *(_ONES[int(d)] for d in frac)]
    if currency is not None:
        singular, plural = _CURRENCY[currency]
        words = [*words, singular if n == 1 and not decimals else plural, *cents]
    if suffix == "%":
        words = [*words, "percent"]
    return words


def _expand_contraction(word: str) -> list[str]:
    if word in _CONTRACTIONS:
        return _CONTRACTIONS[word].split()
    if word.endswith("'s"):
        base = word[:-2]
        return [base, "is"] if base in _S_IS else [base]
    if word.endswith("s'"):  # plural possessive
        return [word[:-1]]
    for suffix, expansion in _SUFFIXES:
        if word.endswith(suffix) and len(word) > len(suffix):
            return (word[: -len(suffix)] + expansion).split()
    return [word]


def _spelling(word: str) -> str:
    word = _US_TO_UK.get(word, word)
    return _ZE.sub(lambda m: "is" + m.group(1), word)


def stem(word: str, language: str = "en") -> str:
    """A light suffix-stripping stem, the same for both sides: calling/called/calls → call.

    Spanish and French: only a plural -s/-x is stripped (llamadas → llamada, appels → appel).
    """
    w = word
    if language != "en":
        if len(w) > 3 and w[-1] in "sx" and w[-2] not in "s":
            return w[:-1]
        return w
    if len(w) > 5 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 5 and w.endswith("ied"):
        return w[:-3] + "y"
    for suffix in ("ing", "ed"):
        if len(w) > len(suffix) + 2 and w.endswith(suffix):
            w = w[: -len(suffix)]
            # stopped → stop, but not "call" → "cal"
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]
            return w
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def fold_accents(text: str) -> str:
    """"llamada está grabada" stays, "está" → "esta", "ç" → "c", "œ" → "oe" (both sides fold alike)."""
    text = text.replace("œ", "oe").replace("æ", "ae").replace("ß", "ss")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


# French elided articles/pronouns, expanded so "l'appel" and "le appel" meet
_FR_ELISIONS = {"l": "le", "d": "de", "j": "je", "qu": "que", "n": "ne", "s": "se", "c": "ce", "m": "me",
                "t": "te", "jusqu": "jusque", "lorsqu": "lorsque", "puisqu": "puisque"}
_FR_WHOLE = {"aujourd'hui": "aujourdhui", "quelqu'un": "quelquun", "presqu'ile": "presquile"}


def _expand_elision(word: str) -> list[str]:
    if word in _FR_WHOLE:
        return [_FR_WHOLE[word]]
    out: list[str] = []
    while "'" in word:
        head, rest = word.split("'", 1)
        if head in _FR_ELISIONS and rest:
            out.append(_FR_ELISIONS[head])
            word = rest
        else:
            break
    return [*out, word]


def _word_pieces(raw: str, language: str = "en") -> tuple[list[str], bool]:
    """Canonical pieces of one raw word, and whether a clause boundary follows it."""
    if _BRACKETED.match(raw.strip()):
        # a value redacted before storing ("[card number]", docs/privacy.md) or a recogniser tag such as
        # "[BLANK_AUDIO]": nothing that was said, so nothing to match
        return [], True
    text = raw.strip().lower().replace("’", "'").replace("‘", "'")
    if language != "en":
        text = fold_accents(text)
    boundary = bool(_PUNCT_BOUNDARY.search(text))
    text = _KEEP.sub(" ", text)
    fillers = _FILLERS_BY_LANGUAGE.get(language, FILLERS)
    pieces: list[str] = []
    for chunk in text.split():
        # hyphens split words ("well-known", "re-bill"); a leading minus is not worth keeping
        for part in chunk.replace("-", " ").split():
            part = part.strip("'.,:")
            if not part:
                continue
            if language in _NUMBER_STYLE:
                spoken = _digits_to_words_other(part.replace("'", ""), language)
            elif part == "%":  # "10 %": the recogniser put a space before the sign
                spoken = ["percent"]
            else:
                spoken = _digits_to_words(part.replace("'", ""))
            if spoken is not None:
                pieces.extend(spoken)
                continue
            part = part.replace(",", " ").replace(":", " ")
            for sub in part.split():
                sub = sub.replace(".", "")
                if language == "en":
                    expanded = _expand_contraction(sub)
                elif language == "fr":
                    expanded = _expand_elision(sub)
                else:
                    expanded = [sub]
                for piece in expanded:
                    piece = piece.replace("'", "")
                    if piece and piece not in fillers:
                        pieces.extend(_spelling(piece).split() if language == "en" else [piece])
    return pieces, boundary


_NICE = frozenset("lovely nice great wonderful fantastic brilliant good beautiful pleasant super".split())
_PART_OF_DAY = frozenset("day evening weekend afternoon morning night one".split())
# Stock phrases of service calls with the same meaning, rewritten to one form on both sides.
# Each pattern is a sequence of allowed token sets; "$n" in the replacement copies matched token n.
PHRASES: tuple[tuple[tuple[frozenset[str], ...], tuple[str, ...]], ...] = tuple(
    (tuple(frozenset(p.split("|")) if p != "*NICE" else _NICE for p in pattern.split()), tuple(repl.split()))
    for pattern, repl in (
        ("per cent", "percent"),
        ("thanks", "thank you"),
        ("thank you very|so much", "thank you"),
        ("have a *NICE " + "|".join(sorted(_PART_OF_DAY)), "have a good $3"),
        ("enjoy the rest of your day|evening|weekend|afternoon|morning", "have a good $5"),
        ("enjoy your day|evening|weekend|afternoon|morning", "have a good $2"),
        ("just so you know", "please be aware"),
        ("just to let you know", "please be aware"),
        ("please note", "please be aware"),
        ("please be advised", "please be aware"),
        ("be advised", "please be aware"),
        ("goodbye|byebye", "bye"),
        ("bye bye", "bye"),
    )
)


def _rewrite_phrases(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        for pattern, repl in PHRASES:
            n = len(pattern)
            if i + n <= len(tokens) and all(tokens[i + k].text in allowed for k, allowed in enumerate(pattern)):
                matched = tokens[i : i + n]
                for j, word in enumerate(repl):
                    text = matched[int(word[1:])].text if word.startswith("$") else word
                    src = matched[min(j, n - 1)]
                    out.append(Token(text, stem(text), src.source, matched[0].clause_start and j == 0))
                i += n
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


def normalize_words(words: Sequence[str], *, boundaries: Iterable[int] = (), language: str = "en") -> list[Token]:
    """Normalise a sequence of raw words; each token records the index of its source word.

    `boundaries`: indices of words that start a new turn (a clause boundary for negation scope).
    `language`: "en" (default) gets every rule; "es"/"fr" get their own numbers, elisions (fr), fillers
    and accent folding; the English contractions, spellings and stock phrases are English only.
    """
    language = (language or "en").lower().split("-")[0]
    turn_starts = set(boundaries)
    tokens: list[Token] = []
    boundary_next = True
    for i, raw in enumerate(words):
        pieces, boundary_after = _word_pieces(raw, language)
        starts = boundary_next or i in turn_starts
        for j, piece in enumerate(pieces):
            tokens.append(Token(piece, stem(piece, language), i, starts and j == 0))
        if pieces:
            boundary_next = boundary_after
        else:
            boundary_next = boundary_next or boundary_after
    return _rewrite_phrases(tokens) if language == "en" else tokens


def normalize_text(text: str, language: str = "en") -> str:
    """The canonical form of a text, words joined by single spaces."""
    return " ".join(t.text for t in normalize_words(text.split(), language=language))
