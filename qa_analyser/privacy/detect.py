"""Detection of card data and personal data in transcribed speech (pure: words in, spans out).

Works on the recogniser's words as faster-whisper writes them: digits ("4556", "09/27",
"4556-7375"), number words ("four five five six", "forty five fifty six", "double four", "oh"),
both mixed, spelled letters ("S W one A"), emails written ("j.smith@mail.com") or spoken
("john dot smith at gmail dot com"). Every word is cut into sub-tokens that remember the word they
came from, so a detected value maps back to word indices (and so to times).

How each kind is found (docs/privacy.md):

* digit runs come from the project's spoken-number parser (match/numbers.py) after "double"/"triple"
  are expanded and written digits are read digit by digit; a run is one identifier candidate;
* card numbers: a run of 13-19 digits passing the Luhn check, or, within a payment context (card
  words near it, either speaker), 12-19 digits whatever the check says (a mis-heard digit must not
  leave a card number in the clear); security codes and expiry dates only in a payment context;
* bank account numbers, sort codes, US SSNs, dates of birth: the value's shape plus its cue words
  ("sort code", "account number", "social security", "date of birth") shortly before it;
* IBANs (mod-97 checksum) and UK National Insurance numbers and postcodes: regular expressions on the
  letters and digits of consecutive short words; UK NI numbers also need their shape's prefix rules;
* phone numbers: UK (0 + 10 digits, +44) and North American (10 digits, 1 + 10) shapes, unless the
  run is introduced as an order, reference or account number;
* emails: a word with "@", or "<name> [dot <name>] at <domain> dot <tld>";
* postal addresses: "<house number> <name> Street|Road|Avenue ..." (US and UK), extended to a US ZIP
  code that follows.

Numbers the script itself contains (a company phone number, a price) are never personal data: the
caller passes them as `allowed` digit strings.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..match.numbers import number_runs

__all__ = ["KINDS", "CARD_KINDS", "Found", "find_in_words", "luhn_ok", "iban_ok"]

# Every kind, in the order reports list them; the label is what masked text shows.
KINDS: dict[str, str] = {
    "card_number": "card number",
    "security_code": "security code",
    "expiry_date": "expiry date",
    "bank_account": "bank account",
    "sort_code": "sort code",
    "iban": "IBAN",
    "ssn": "SSN",
    "ni_number": "NI number",
    "date_of_birth": "date of birth",
    "email": "email",
    "phone": "phone number",
    "address": "address",
}
# Card data: always masked whatever the policy says (PCI DSS: never stored after authorisation).
CARD_KINDS = frozenset({"card_number", "security_code", "expiry_date"})


@dataclass(frozen=True)
class Found:
    """A detected value: words [first, last] (inclusive indices into the input) of one kind."""

    kind: str
    first: int
    last: int
    value: str  # normalised value (digits, lower-case email ...); never logged


# --------------------------------------------------------------------------- tokens

_UNIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_NUMBER_WORDS = frozenset(
    "zero oh o nought one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred "
    "thousand".split())
_ORDINAL_WORDS = frozenset(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth "
    "fifteenth sixteenth seventeenth eighteenth nineteenth twentieth thirtieth".split())
_DIGIT_OF = {w: str(i) for i, w in enumerate(_UNIT_WORDS)} | {"oh": "0", "o": "0", "nought": "0"}
_REPEAT = {"double": 2, "triple": 3}
_HOMOPHONES = {"to": "two", "too": "two", "for": "four", "fore": "four", "won": "one", "ate": "eight", "free": "three",
               "tree": "three"}
_FILLERS = frozenset("um umm uh uhh uhm erm er err hmm hm mm mhm ah eh".split())
_STRIP = ".,;:!?\"'()[]{}<>"
_MONEY = re.compile(r"^[£$€]|[£$€%]$")
_DIGITISH = re.compile(r"^\+?\d[\d\-/.,]*\d$|^\d$")
_DIGITS_WITH_OH = re.compile(r"^(?=.*\d)[\do]{2,}$")  # "6o", "071o4": a zero heard as the letter
_ORDINAL_DIGITS = re.compile(r"^(\d{1,2})(st|nd|rd|th)$")
_MONTHS = {m: i + 1 for i, m in enumerate(
    "january february march april may june july august september october november december".split())}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS.pop("may", None)
_MONTHS["may"] = 5


@dataclass(frozen=True)
class _Tok:
    text: str  # lower case sub-token: a word, or a unit word for a written digit
    word: int  # index of the input word


def _mostly_digits(w: str) -> bool:
    """"8w2123": digits with a stray letter the recogniser put in; its letters are dropped ("o" is 0)."""
    alnum = [c for c in w if c.isalnum()]
    return len(alnum) >= 4 and sum(c.isdigit() for c in alnum) >= 0.75 * len(alnum) and w.isalnum()


def _tokens(words: Sequence[str]) -> list[_Tok]:
    """Sub-tokens of every word: digits read one by one, "double four" → four four, fillers dropped.
    A money amount ("£35", "29.99") becomes the token "<money>", which ends any digit run."""
    out: list[_Tok] = []
    for i, raw in enumerate(words):
        # the recogniser writes spoken digit groups as "4 -5 -8", "63 .90", "6O", "5 '1\"": the dashes,
        # dots and quotes around digits are its punctuation, not the value's
        w = raw.strip().lower().strip(_STRIP + "-–")
        if not w or w in _FILLERS:
            continue
        if "@" in w:
            out.append(_Tok(w, i))
            continue
        if _MONEY.search(w):
            out.append(_Tok("<money>", i))
            continue
        m = _ORDINAL_DIGITS.match(w)
        if m:
            out.append(_Tok(f"#ord{int(m.group(1))}", i))
            continue
        if _DIGITISH.match(w) or _DIGITS_WITH_OH.match(w) or _mostly_digits(w):
            out.extend(_Tok(_UNIT_WORDS[int(c)] if c.isdigit() else "zero", i) for c in w if c.isdigit() or c == "o")
            continue
        for piece in re.split(r"[-–/]", w):
            piece = piece.strip(_STRIP)
            if piece == "and" and not (out and out[-1].text in ("hundred", "thousand")):
                piece = "<and>"  # "... twenty seven, and one two three": two values, not one amount
            if piece.isdigit():
                out.extend(_Tok(_UNIT_WORDS[int(c)], i) for c in piece)
            elif piece:
                out.append(_Tok(piece, i))
    # "8 to 8 0 to 3": between digits, "to"/"too" is a two and "for" a four
    for k in range(1, len(out) - 1):
        before = out[k - 1].text in _DIGIT_OF or out[k - 1].text in _REPEAT
        if out[k].text in _HOMOPHONES and before and out[k + 1].text in _DIGIT_OF:
            out[k] = _Tok(_HOMOPHONES[out[k].text], out[k].word)
    # "double four" → four four (said of digits only)
    expanded: list[_Tok] = []
    k = 0
    while k < len(out):
        t = out[k]
        if t.text in _REPEAT and k + 1 < len(out) and out[k + 1].text in _DIGIT_OF:
            expanded.extend([out[k + 1]] * _REPEAT[t.text])
            expanded[-_REPEAT[t.text]] = _Tok(out[k + 1].text, t.word)  # the span starts at "double"
            k += 2
            continue
        expanded.append(t)
        k += 1
    return expanded


RUN_PAUSE_S = 2.5  # a pause this long between two words ends a run of digits (groups are read with shorter ones)


@dataclass(frozen=True)
class _Run:
    first_tok: int
    last_tok: int  # inclusive
    digits: str


def _digit_runs(toks: Sequence[_Tok], times: Sequence[tuple[float, float]] | None = None) -> list[_Run]:
    """Runs of spoken or written digits. Each word spoken alone keeps its digits ("oh nine" = 09);
    runs only bridged by "and" inside amounts are the parser's business (numbers.py). With the words'
    `times`, a pause longer than RUN_PAUSE_S ends a run: two answers ("oh two thirty one", then "one
    one seven") whose question in between the recogniser did not hear are two values, not one."""
    texts = [("zero" if t.text in ("oh", "o", "nought") else t.text) for t in toks]
    # a lone letter "o" is a zero only between number words
    for k, t in enumerate(toks):
        if t.text == "o":
            prev_num = k > 0 and texts[k - 1] in _NUMBER_WORDS
            next_num = k + 1 < len(texts) and texts[k + 1] in _NUMBER_WORDS
            if not (prev_num or next_num):
                texts[k] = "o"
    cuts = [0] + [k for k in range(1, len(toks)) if times is not None
                  and times[toks[k].word][0] - times[toks[k - 1].word][1] > RUN_PAUSE_S] + [len(toks)]
    runs: list[_Run] = []
    for a, b in zip(cuts, cuts[1:]):
        for r in number_runs(texts[a:b]):
            runs.append(_Run(a + r.start, a + r.end - 1, r.digits))
    return runs


def luhn_ok(digits: str) -> bool:
    """The Luhn check of card numbers."""
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for k, c in enumerate(reversed(digits)):
        d = int(c)
        if k % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """ISO 13616 mod-97 check of an IBAN (letters and digits only, upper case)."""
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", iban):
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


# --------------------------------------------------------------------------- context

# a request for the card's number itself (narrower than _CARD_CUES, which any talk of paying meets)
_CARD_NUMBER_CUES = ("long number", "card number", "number on the card", "number on your card", "numbers on the card",
                     "numbers on your card", "number on the front", "numbers on the front", "sixteen digit",
                     "16 digit", "card details")
_CARD_CUES = ("card", "visa", "mastercard", "amex", "american express", "debit", "credit", "payment", "pay",
              "paying") + _CARD_NUMBER_CUES
_CVV_CUES = ("security code", "security number", "cvv", "cvc", "csc", "cv2", "three digit", "3 digit",
             "four digit code", "back of the card", "back of your card", "three numbers on the back",
             "c v v", "cvv2", "seemingly", "cme")  # the last two: what tiny.en makes of "the CVV"
_EXPIRY_CUES = ("expiry", "expire", "expires", "expiration", "expiring", "valid until", "valid thru", "end date",
                "valid to", "good through", "good thru")
_ACCOUNT_CUES = ("account number", "bank account", "account no", "account is", "account it's")
_SORT_CUES = ("sort code",)
_ROUTING_CUES = ("routing number", "routing", "aba")
_SSN_CUES = ("social security", "ssn", "s s n", "social")
_NI_CUES = ("national insurance", "ni number", "n i number", "insurance number")
_DOB_CUES = ("date of birth", "born on", "born in", "birthday", "d o b", "dob", "birth date", "i was born",
             "born the", "birth", "born")
_PHONE_CUES = ("phone", "mobile", "cell", "telephone", "landline", "contact number", "call you on",
               "call you back on", "reach you on", "ring you", "call me on")
_PHONE_CUES_WEAK = _PHONE_CUES + ("number is", "number's")
_NOT_PERSONAL_CUES = ("order", "reference", "ref", "booking", "confirmation", "tracking", "invoice", "ticket",
                      "case", "claim", "policy", "member", "prescription", "model", "serial", "flight", "item",
                      "product", "membership", "account")
_POSTCODE_CUES = ("postcode", "post code", "postal code", "zip", "zip code", "address", "live at", "lives at",
                  "i'm at")


class _Context:
    """Cue phrases near a value: searched in every speaker's words within a time window. `first` and
    `last` index the words being searched (`own_times`); the cues come from `words`/`times`."""

    def __init__(self, words: Sequence[str], times: Sequence[tuple[float, float]],
                 own_times: Sequence[tuple[float, float]]) -> None:
        self.lower = [w.strip().lower().strip(_STRIP) for w in words]
        self.times = times
        self.own = own_times
        self.starts = [t[0] for t in times]

    def _window_text(self, t0: float, t1: float) -> str:
        lo = bisect.bisect_left(self.starts, t0)
        hi = bisect.bisect_right(self.starts, t1)
        return " " + " ".join(w for w in self.lower[lo:hi] if w) + " "

    def near(self, cues: Iterable[str], first: int, last: int, *, before_s: float = 15.0, after_s: float = 2.0) -> bool:
        text = self._window_text(self.own[first][0] - before_s, self.own[last][1] + after_s)
        return any(f" {c} " in text for c in cues)

    def window_before(self, first: int, before_s: float) -> str:
        """Every speaker's words in the `before_s` seconds before word `first`."""
        t = self.own[first][0]
        return self._window_text(t - before_s, t - 0.01)

    def just_before(self, cues: Iterable[str], first: int, *, words_before: int = 6) -> bool:
        """A cue among the few words said just before `first` (any speaker, by time)."""
        hi = bisect.bisect_left(self.starts, self.own[first][0])
        text = " " + " ".join(self.lower[max(0, hi - words_before):hi]) + " "
        return any(f" {c} " in text for c in cues)


# --------------------------------------------------------------------------- detectors


def find_in_words(words: Sequence[str], times: Sequence[tuple[float, float]] | None = None, *,
                  context_words: Sequence[str] | None = None,
                  context_times: Sequence[tuple[float, float]] | None = None,
                  allowed: Iterable[str] = ()) -> list[Found]:
    """Personal data in one speaker's words (time order). `times`: each word's (start, end);
    `context_words`/`context_times`: every speaker's words, for cue phrases (default: `words`);
    `allowed`: digit strings that are never personal data (numbers the script says)."""
    if times is None:
        times = [(0.4 * k, 0.4 * k + 0.35) for k in range(len(words))]
    if context_words is None or context_times is None:
        context_words, context_times = words, times
    order = sorted(range(len(context_words)), key=lambda k: context_times[k][0])
    ctx = _Context([context_words[k] for k in order], [context_times[k] for k in order], times)
    own = _Context(words, times, times)
    toks = _tokens(words)
    allowed_set = {a for a in allowed if a}
    found: list[Found] = []
    claimed: set[int] = set()

    def add(kind: str, first: int, last: int, value: str) -> None:
        found.append(Found(kind, first, last, value))
        claimed.update(range(first, last + 1))

    def free(first: int, last: int) -> bool:
        return not any(k in claimed for k in range(first, last + 1))

    _find_emails(toks, words, add, free)
    _find_garbled_email(words, ctx, add, free)
    _find_alnum(words, times, ctx, add, free)
    _find_dates_of_birth(toks, ctx, add, free)
    runs = _digit_runs(toks, times)
    for r in runs:
        first, last = toks[r.first_tok].word, toks[r.last_tok].word
        if not free(first, last) or _allowed(r.digits, allowed_set):
            continue
        if r.last_tok + 1 < len(toks) and toks[r.last_tok + 1].text in ("digit", "digits", "numbers", "number"):
            continue  # "the 16 digit card number", "three numbers on the back": a length, not a value
        _classify_run(r, toks, runs, first, last, ctx, own, add, free)
    _find_addresses(words, toks, runs, add, free)
    _find_address_answer(words, ctx, add, free)
    found.sort(key=lambda f: f.first)
    return found


def _allowed(digits: str, allowed: set[str]) -> bool:
    """The script's own number, also when the recogniser dropped, added or changed a digit or two
    ("800-555-0147", "1-800-555-147", "0-800-55-5-0147" for "1-800-555-0147")."""
    if digits in allowed:
        return True
    from rapidfuzz.distance import Levenshtein

    return any((len(digits) >= 6 and digits in a) or
               (len(a) >= 7 and len(digits) >= 6 and Levenshtein.distance(digits, a) <= max(1, len(a) // 5))
               for a in allowed)


def _card_in(digits: str) -> tuple[int, int] | None:
    """(offset, length) of a Luhn-valid 13-19 digit card number inside a run (longest first)."""
    for length in (16, 15, 19, 18, 17, 14, 13):
        for off in range(0, len(digits) - length + 1):
            part = digits[off:off + length]
            if part[0] in "3456" and luhn_ok(part):
                return off, length
    return None


def _classify_run(r: _Run, toks, runs, first: int, last: int, ctx: _Context, own: _Context, add, free) -> None:
    """Decide what one run of digits is. Within its cue's window a value may have lost a digit or two
    to the recogniser ("225 .74" for a 9-digit SSN), so the lengths accepted there are looser than
    the value's true shape; without a cue only a checksum or an unmistakable shape counts."""
    d = r.digits
    n = len(d)
    own_words = len(own.lower)
    ending_ordinal = toks[r.last_tok].text in _ORDINAL_WORDS or toks[r.last_tok].text.startswith("#ord")
    payment = ctx.near(_CARD_CUES + _CVV_CUES + _EXPIRY_CUES, first, last, before_s=30.0, after_s=5.0)
    intro_not_personal = ctx.just_before(_NOT_PERSONAL_CUES, first, words_before=5)

    def cue(cues, before_s=12.0):
        return ctx.near(cues, first, last, before_s=before_s, after_s=0.5)

    # card numbers
    if 13 <= n <= 19 and d[0] in "3456" and luhn_ok(d):
        add("card_number", first, last, d)
        return
    hit = _card_in(d) if n > 19 or (n >= 13 and payment) else None
    if hit is not None and n > 16:
        # a card number with more digits in the same breath: the expiry or security code said straight
        # after it, or a mis-heard extra digit; every digit of the run is redacted
        off, length = hit
        a, b = _word_span_of_digits(toks, r, off, off + length)
        add("card_number", a, b, d[off:off + length])
        for start, end in ((0, off), (off + length, n)):
            if end > start:
                a2, b2 = _word_span_of_digits(toks, r, start, end)
                if not free(a2, b2):
                    continue
                kind = "card_number"
                if end - start >= 3 and ctx.near(_CVV_CUES, a2, b2, before_s=12.0):
                    kind = "security_code"
                elif end - start >= 3 and ctx.near(_EXPIRY_CUES, a2, b2, before_s=12.0):
                    kind = "expiry_date"
                add(kind, a2, b2, d[start:end])
        return
    card_cue = payment and not intro_not_personal and ctx.near(_CARD_CUES, first, last, before_s=30.0)
    if card_cue and 12 <= n <= 19:
        add("card_number", first, last, d)
        return
    # 8-11 digits in a card context: part of a card number (the recogniser lost or garbled some), unless
    # they have the exact shape another cue near them asked for
    other = ((n == 9 and cue(_SSN_CUES, 15.0)) or (n in (8, 9) and cue(_ACCOUNT_CUES + _ROUTING_CUES, 15.0))
             or (_phone_shape(d) and cue(_PHONE_CUES_WEAK, 15.0)) or (n == 8 and cue(_DOB_CUES)))
    if card_cue and 8 <= n <= 11 and not other:
        add("card_number", first, last, d)
        return
    # what is left of a card number the recogniser garbled beyond any card shape ("I know double 796.
    # I'm 7." for sixteen digits read with "double seven"): in the answer to a request for the card's
    # number, every digit is card data, however few; a security code or expiry date asked for since
    # is left to its own rules below
    if card_cue and n <= 7 and not other and not ending_ordinal \
            and ctx.near(_CARD_NUMBER_CUES, first, last, before_s=15.0, after_s=0.0) \
            and not cue(_CVV_CUES) and not cue(_EXPIRY_CUES):
        add("card_number", first, last, d)
        return
    # expiry (MMYY, MMYYYY, or a month name and a year) before security code when both were asked for
    month_before = r.first_tok > 0 and toks[r.first_tok - 1].text in _MONTHS
    if cue(_EXPIRY_CUES) and not ending_ordinal and (
            (n in (4, 6) and _expiry_shape(d)) or (month_before and n in (2, 4))):
        a = toks[r.first_tok - 1].word if month_before else first
        add("expiry_date", a, last, d)
        return
    # security code: 3-4 digits just after a security-code cue (2 when a digit was lost)
    if 2 <= n <= 4 and not ending_ordinal and cue(_CVV_CUES) \
            and not ctx.just_before(("last four", "last 4", "ends in", "ending in", "ending"), first):
        add("security_code", first, last, d)
        return
    # a 3-4 digit answer on its own in a payment (a security code whose question was mis-heard)
    if 3 <= n <= 4 and payment and not intro_not_personal and last - first + 1 >= own_words - 2 \
            and not ending_ordinal and ctx.near(_CARD_CUES + _CVV_CUES, first, last, before_s=30.0):
        add("security_code", first, last, d)
        return
    if 3 <= n <= 6 and cue(_EXPIRY_CUES) and _expiry_shape(d):
        add("expiry_date", first, last, d)
        return
    if 4 <= n <= 7 and cue(_SORT_CUES, 15.0):
        add("sort_code", first, last, d)
        return
    if 5 <= n <= 10 and cue(_SSN_CUES, 15.0) and not intro_not_personal:
        add("ssn", first, last, d)
        return
    if n == 9 and cue(_ROUTING_CUES, 15.0):
        add("bank_account", first, last, d)
        return
    if 5 <= n <= 17 and cue(_ACCOUNT_CUES, 15.0) \
            and not _phone_shape(d) and not ctx.just_before(_NOT_PERSONAL_CUES[:-1], first, words_before=5):
        add("bank_account", first, last, d)
        return
    if 4 <= n <= 8 and cue(_DOB_CUES, 12.0) and not intro_not_personal:
        add("date_of_birth", first, last, d)
        return
    # a turn that is only a number, answering a question about "your ... number" (the cue itself mis-heard:
    # "your man can count number"), unless the question was about an order, a reference ...
    answer_only = last - first + 1 >= own_words - 2
    if answer_only and n >= 5 and not intro_not_personal:
        asked = ctx.window_before(first, 12.0)
        if " number" in asked and not any(f" {c} " in asked for c in _NOT_PERSONAL_CUES[:-1]):
            kind = "phone" if _phone_shape(d) or any(f" {c} " in asked for c in _PHONE_CUES) else "bank_account"
            add(kind, first, last, d)
            return
    if answer_only and 3 <= n <= 4 and own_words <= 3 and not intro_not_personal:
        asked = ctx.window_before(first, 6.0)
        if ("what's" in asked or "what is" in asked) and not any(f" {c} " in asked for c in _NOT_PERSONAL_CUES):
            add("security_code", first, last, d)  # a bare 3-4 digit answer to a question whose words were lost
            return
    if answer_only and n == 2 and cue(_EXPIRY_CUES) and own_words <= 6:
        add("expiry_date", first, last, d)  # "oh nine twenty eight" heard as "Oh, I'm 28"
        return
    if _phone_shape(d) and (not intro_not_personal or ctx.just_before(_PHONE_CUES, first, words_before=6)):
        add("phone", first, last, d)
        return
    if 7 <= n <= 13 and cue(_PHONE_CUES_WEAK, 12.0) and not intro_not_personal:
        add("phone", first, last, d)  # a local number, or one with a digit lost


def _word_span_of_digits(toks, r: _Run, start: int, end: int) -> tuple[int, int]:
    """Word indices of digits [start, end) of a run (runs read digit by digit map 1:1; otherwise the whole run)."""
    span = toks[r.first_tok:r.last_tok + 1]
    digit_toks = [t for t in span if t.text in _DIGIT_OF or t.text in ("zero",)]
    if len(digit_toks) == len(r.digits):
        return digit_toks[start].word, digit_toks[end - 1].word
    return span[0].word, span[-1].word


def _expiry_shape(d: str) -> bool:
    if len(d) == 3:
        return 1 <= int(d[0]) <= 9
    month = int(d[:2])
    return 1 <= month <= 12


def _phone_shape(d: str) -> bool:
    n = len(d)
    if n == 11 and d[0] == "0" and d[1] in "123578":
        return True  # UK
    if n == 12 and d.startswith("44") and d[2] in "123578":
        return True  # +44 without the 0
    if n == 10 and d[0] in "23456789" and d[3] in "23456789":
        return True  # North American
    if n == 11 and d[0] == "1" and d[1] in "23456789" and d[4] in "23456789":
        return True  # 1 + North American
    return False


_EMAIL_JOIN = {"dot": ".", "underscore": "_", "dash": "-", "hyphen": "-", "period": "."}
_TLDS = frozenset("com net org co uk io us info biz edu gov ac me de fr ie eu ca au".split())
_STOP = frozenset(
    "is it's its my the email address e-mail mail at it was that's and on to you your me i'm a an of for".split())


def _find_emails(toks: Sequence[_Tok], words, add, free) -> None:
    n = len(toks)
    for k, t in enumerate(toks):
        if "@" in t.text and "." in t.text.split("@")[-1]:
            if free(t.word, t.word):
                add("email", t.word, t.word, t.text)
            continue
        if t.text not in ("at", "@") or k == 0:
            continue
        # domain: name (dot name)* dot tld, or a word already written "gmail.com"
        j = k + 1
        domain: list[str] = []
        while j < n:
            w = toks[j].text
            if "." in w and all(p.isalnum() for p in w.split(".") if p) and w.split(".")[-1] in _TLDS:
                domain.append(w)
                j += 1
                break
            if w.isalnum() and j + 1 < n and toks[j + 1].text in ("dot", "."):
                domain.extend([w, "."])
                j += 2
                continue
            if w.isalnum() and domain and domain[-1] == "." and w in _TLDS:
                domain.append(w)
                j += 1
                if j + 1 < n and toks[j].text == "dot" and toks[j + 1].text in _TLDS:
                    domain.extend([".", toks[j + 1].text])
                    j += 2
                break
            break
        if not domain or domain[-1] == ".":
            continue
        # local part: the words before "at", joined by dot/underscore, back to a stop word
        i = k - 1
        local: list[str] = []
        while i >= 0 and len(local) < 9:
            w = toks[i].text
            if w in _EMAIL_JOIN and local:
                local.insert(0, _EMAIL_JOIN[w])
            elif w.replace(".", "").replace("_", "").isalnum() and w not in _STOP:
                if local and local[0] not in _EMAIL_JOIN.values() and len(local) >= 2:
                    break
                local.insert(0, w)
            else:
                break
            i -= 1
        if not local or local[0] in _EMAIL_JOIN.values():
            continue
        first, last = toks[i + 1].word, toks[j - 1].word
        if free(first, last):
            add("email", first, last, "".join(local) + "@" + "".join(domain))


_EMAIL_CUES = ("email", "e-mail", "e mail", "email address", "mail address")
_INTRO = frozenset("it's its it is is sure yes yeah ok okay that's".split())


def _find_garbled_email(words: Sequence[str], ctx: _Context, add, free) -> None:
    """An address the recogniser ran together or mis-heard ("ewalker88at .com .uk", "Lorent -Rite at
    gmail .com"): after an email cue, the words of the answer up to its last domain ending."""
    lower = [w.strip().lower().strip(_STRIP.replace(".", "")).rstrip(".,?!") for w in words]
    ends = [k for k, w in enumerate(lower) if w.lstrip(".") in _TLDS and (w.startswith(".") or k > 0 and
                                                                           lower[k - 1] in ("dot", "not"))]
    if not ends:
        return
    last = ends[-1]
    if not ctx.near(_EMAIL_CUES, last, last, before_s=20.0, after_s=0.0):
        return
    start = 0
    for k in range(min(last, 4)):  # "my email is ...", "it's ..."; a domain heard as "email" is the address's
        if lower[k] in _INTRO or lower[k] in ("email", "is", "address"):
            start = k + 1
    if last - start < 1 or not free(start, last):
        return
    add("email", start, last, "".join(lower[start:last + 1]))


# letters and digits of consecutive short words: postcodes, NI numbers, IBANs
_LETTER_NAMES = {"ay": "a", "bee": "b", "cee": "c", "see": "c", "dee": "d", "ee": "e", "eff": "f", "gee": "g",
                 "aitch": "h", "jay": "j", "kay": "k", "el": "l", "em": "m", "en": "n", "pee": "p", "cue": "q",
                 "queue": "q", "ar": "r", "are": "r", "ess": "s", "tee": "t", "you": "u", "vee": "v",
                 "ex": "x", "why": "y", "zed": "z", "zee": "z", "double-u": "w", "doubleu": "w"}
_POSTCODE = re.compile(r"[A-Z]{1,2}\d[A-Z\d]?\d[ABD-HJLNP-UW-Z]{2}")
_NI = re.compile(r"(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]")
_NI_LOOSE = re.compile(r"[A-Z]{1,2}\d{6}[A-D]?|\d{6}[A-D]")
_IBAN_LOOSE = re.compile(r"[A-Z]{2}[A-Z0-9]{12,32}")
_IBAN_CUES = ("iban", "i b a n", "ibern", "eye ban", "international bank account")
_IBAN_COUNTRIES = frozenset("GB DE FR NL ES IT IE BE AT CH PT PL SE DK FI NO LU GR CZ HU RO".split())
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")


def _alnum_pieces(raw: str, nxt: str | None) -> str | None:
    """The letters/digits a word contributes to a spelled-out code, or None when it ends one."""
    w = raw.strip().lower().strip(_STRIP)
    if not w:
        return ""
    if w in _DIGIT_OF:
        return _DIGIT_OF[w]
    if w in _LETTER_NAMES:
        return _LETTER_NAMES[w].upper()
    compact = re.sub(r"[\-.]", "", w)
    if len(compact) == 1 and compact.isalpha():
        return compact.upper()
    if compact.isalnum() and len(compact) <= 12 and (any(c.isdigit() for c in compact) or
                                                   (len(compact) <= 4 and raw.strip(_STRIP).isupper())):
        return compact.upper()
    return None


def _find_alnum(words: Sequence[str], times, ctx: _Context, add, free) -> None:
    chunks: list[tuple[str, list[int]]] = []  # (letters, word index of each letter)
    cur, idx = "", []
    for i, w in enumerate(words):
        piece = _alnum_pieces(w, None)
        w_low = w.strip().lower().strip(_STRIP)
        if w_low in _REPEAT and i + 1 < len(words):
            nxt = _alnum_pieces(words[i + 1], None)
            if nxt and len(nxt) == 1:
                piece = ""  # "double" → next letter/digit said twice
                cur += nxt
                idx.append(i)
                continue
        if piece is None:
            if cur:
                chunks.append((cur, idx))
            cur, idx = "", []
            continue
        cur += piece
        idx.extend([i] * len(piece))
    if cur:
        chunks.append((cur, idx))
    for text, index in chunks:
        for m in _IBAN.finditer(text):
            cand = m.group(0)
            for end in range(len(cand), 14, -1):
                if iban_ok(cand[:end]):
                    a, b = index[m.start()], index[m.start() + end - 1]
                    if free(a, b):
                        add("iban", a, b, cand[:end])
                    break
            else:
                a, b = index[m.start()], index[m.end() - 1]
                if ctx.near(_IBAN_CUES, a, b, before_s=15.0) and free(a, b):
                    add("iban", a, b, cand)
        for m in _NI.finditer(text):
            a, b = index[m.start()], index[m.end() - 1]
            if free(a, b):
                add("ni_number", a, b, m.group(0))
        for m in _NI_LOOSE.finditer(text):  # any prefix (or a mis-heard one) after a national insurance cue
            a, b = index[m.start()], index[m.end() - 1]
            if free(a, b) and ctx.near(_NI_CUES, a, b, before_s=15.0, after_s=0.5):
                add("ni_number", a, b, m.group(0))
        for m in _IBAN_LOOSE.finditer(text):  # letters and digits after an IBAN cue, checksum or not
            a, b = index[m.start()], index[m.end() - 1]
            code = m.group(0)
            looks_like = code[:2] in _IBAN_COUNTRIES and sum(c.isdigit() for c in code) >= 10
            if free(a, b) and (looks_like or ctx.near(_IBAN_CUES, a, b, before_s=15.0, after_s=0.5)):
                add("iban", a, b, code)
        for m in _POSTCODE.finditer(text):
            a, b = index[m.start()], index[m.end() - 1]
            if free(a, b) and (any(c.isalpha() for c in m.group(0)[:2]) and
                               (ctx.near(_POSTCODE_CUES, a, b, before_s=20.0, after_s=1.0) or
                                not _looks_like_reference(text))):
                add("address", a, b, m.group(0))


def _looks_like_reference(text: str) -> bool:
    """A long code of letters and digits (an order reference) is not a postcode."""
    return len(text) > 10


_DAY_WORDS = {w: i + 1 for i, w in enumerate(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth "
    "fifteenth sixteenth seventeenth eighteenth nineteenth twentieth".split())}


def _find_dates_of_birth(toks: Sequence[_Tok], ctx: _Context, add, free) -> None:
    """A date (day, month name or number, year) said shortly after a date-of-birth cue."""
    n = len(toks)
    k = 0
    while k < n:
        t = toks[k]
        starts = (t.text in _MONTHS or t.text in _DAY_WORDS or t.text in _NUMBER_WORDS or t.text.startswith("#ord")
                  or t.text in ("the",)) and t.text not in ("o",)
        if not starts or not ctx.near(_DOB_CUES, t.word, t.word, before_s=12.0, after_s=0.0):
            k += 1
            continue
        j = k
        saw_month = saw_year = False
        digits = 0
        while j < n and j - k < 14:
            w = toks[j].text
            if w in _MONTHS:
                saw_month = True
            elif w in _NUMBER_WORDS or w in _DAY_WORDS or w.startswith("#ord") or w in _DIGIT_OF:
                digits += 1
                if w in ("nineteen", "twenty", "thousand", "hundred"):
                    saw_year = saw_year or j > k
            elif w in ("the", "of", "and", "st", "nd", "rd", "th"):
                pass
            else:
                break
            j += 1
        span = toks[k:j]
        while span and span[-1].text in ("the", "of", "and"):
            span = span[:-1]
        while span and span[0].text in ("the", "of", "and"):
            span = span[1:]
        has_day = any(x.text in _DAY_WORDS or x.text.startswith("#ord") for x in span)
        if span and (saw_month or has_day) and digits >= 2:
            a, b = span[0].word, span[-1].word
            if free(a, b):
                add("date_of_birth", a, b, " ".join(x.text for x in span))
        k = max(j, k + 1)


_ADDRESS_INTRO = frozenset("at is it's its the live i i'm im sure yes".split())


def _find_address_answer(words: Sequence[str], ctx: _Context, add, free) -> None:
    """The answer to "what's your address / postcode?" (or "I live at ..."), when it holds a number: the
    words after its introduction, however the recogniser spelled the street ("29 acres treat")."""
    if not words:
        return
    lower = [w.strip().lower().strip(_STRIP) for w in words]
    asked = ctx.window_before(0, 12.0)
    if not (" address" in asked or " postcode" in asked or " post code" in asked or " zip" in asked
            or "live at" in " ".join(lower[:4])):
        return
    start = 0
    while start < min(len(lower), 5) and (lower[start] in _ADDRESS_INTRO or not lower[start]):
        start += 1
    end = len(lower) - 1
    if start > end or not any(any(c.isdigit() for c in w) or w in _DIGIT_OF for w in lower[start:end + 1]):
        return
    if free(start, end):
        add("address", start, end, " ".join(lower[start:end + 1]))


_STREET = frozenset(
    "street st road rd avenue ave lane ln drive dr boulevard blvd close way court ct place crescent terrace "
    "grove gardens parkway highway hwy circle square row mews".split())


def _find_addresses(words: Sequence[str], toks: Sequence[_Tok], runs: Sequence[_Run], add, free) -> None:
    """<house number> <one to three names> <street word> [..., city, state] [ZIP]."""
    lower = [w.strip().lower().strip(_STRIP) for w in words]
    for r in runs:
        if len(r.digits) > 5:
            continue
        first = toks[r.first_tok].word
        last_num = toks[r.last_tok].word
        j = last_num + 1
        names = 0
        while j < len(lower) and names < 4 and lower[j] not in _STREET:
            if not lower[j].isalpha() or lower[j] in _STOP or lower[j] in _NUMBER_WORDS:
                break
            names += 1
            j += 1
        if j >= len(lower) or lower[j] not in _STREET or names == 0:
            continue
        end = j
        # a US ZIP code (five digits) within the next few words ends the address
        for r2 in runs:
            w2 = toks[r2.first_tok].word
            if j < w2 <= j + 8 and len(r2.digits) in (5, 9):
                end = toks[r2.last_tok].word
                break
        if free(first, end):
            add("address", first, end, " ".join(lower[first:end + 1]))
