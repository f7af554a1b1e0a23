#!/usr/bin/env python3
"""Generate the planted privacy test set: calls in which customers read out card data and personal
data in several spoken forms, and calls full of numbers that are not personal data.

    python tools/make_privacy_set.py /work/privacy-set          # the whole set (75 calls)
    python tools/make_privacy_set.py fixtures/privacy --small    # the 3 short calls the tests use (Opus)

Needs espeak-ng on PATH (two voices: agent en-gb, customer en-us); ffmpeg (libopus) for --small.
Only numpy and the standard library are used. Deterministic for a given espeak-ng version (seeded).

Each call is a stereo recording (agent left, customer right) plus `manifest.csv` and `labels.json`:

    {"<call_id>": {"file": "...", "lines": [{"speaker", "text", "start_s", "end_s"}],
                   "values": [{"kind", "spoken", "value", "line", "start_s", "end_s"}]}}

A value's times are those of the line that says it (customer lines say little else). Calls whose
`values` list is empty are the negatives: order numbers, prices, dates, menu options, quantities.
`benchmarks/privacy_eval.py` transcribes the set and scores the detector against these labels.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from qa_analyser.privacy.detect import luhn_ok  # noqa: E402  (the check the detector applies)

RATE = 22050
AGENT_VOICE = ("en-gb", "150")
CUSTOMER_VOICE = ("en-us", "145")

_UNITS = "zero one two three four five six seven eight nine".split()
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        if luhn_ok(body + check):
            return body + check
    raise AssertionError


def pair_words(two: str) -> str:
    """'45' → 'forty five', '07' → 'oh seven', '10' → 'ten'."""
    a, b = int(two[0]), int(two[1])
    if a == 0:
        return f"oh {_UNITS[b]}"
    if a == 1:
        return _TEENS[b]
    return _TENS[a] + ("" if b == 0 else f" {_UNITS[b]}")


def digit_words(digits: str, *, oh: bool = True, doubles: bool = False) -> str:
    out: list[str] = []
    k = 0
    while k < len(digits):
        d = digits[k]
        word = "oh" if d == "0" and oh else _UNITS[int(d)]
        if doubles and k + 1 < len(digits) and digits[k + 1] == d:
            out.append(f"double {word}")
            k += 2
            continue
        out.append(word)
        k += 1
    return " ".join(out)


def grouped(digits: str, size: int, form: str) -> str:
    groups = [digits[i:i + size] for i in range(0, len(digits), size)]
    if form == "pairs":
        return ", ".join(" ".join(pair_words(g[i:i + 2]) if len(g[i:i + 2]) == 2 else _UNITS[int(g[i])]
                                  for i in range(0, len(g), 2)) for g in groups)
    if form == "doubles":
        return ", ".join(digit_words(g, doubles=True) for g in groups)
    if form == "written":
        return " ".join(" ".join(g) for g in groups)  # espeak reads "4 5 5 6" digit by digit
    return ", ".join(digit_words(g) for g in groups)


MONTHS = "January February March April May June July August September October November December".split()
ORD = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh",
       "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth",
       "twentieth", "twenty first", "twenty second", "twenty third", "twenty fourth", "twenty fifth",
       "twenty sixth", "twenty seventh", "twenty eighth"]
FIRST = ["john", "sarah", "mike", "emma", "david", "laura", "peter", "anna", "james", "kate"]
LAST = ["smith", "jones", "brown", "taylor", "wilson", "evans", "walker", "wright", "green", "hall"]
DOMAINS = [("gmail", "com"), ("outlook", "com"), ("yahoo", "co dot uk"), ("hotmail", "co dot uk"),
           ("icloud", "com")]
STREETS = ["Baker Street", "Oak Avenue", "Mill Road", "Church Lane", "Station Road", "Maple Drive", "Park Avenue"]
POSTCODES = [("SW1A 1AA", "S W one A, one A A"), ("M1 1AE", "M one, one A E"), ("B33 8TH", "B thirty three, eight T H"),
             ("CR2 6XH", "C R two, six X H"), ("DN55 1PT", "D N fifty five, one P T"), ("EC1A 1BB", "E C one A, one B B")]
ZIPS = [("90210", "nine oh two one oh"), ("62704", "six two seven oh four"), ("10001", "one oh oh oh one"),
        ("30301", "three oh three oh one"), ("73301", "seven three three oh one")]
IBANS = ["GB82WEST12345698765432", "GB33BUKB20201555555555", "DE89370400440532013000", "FR1420041010050500013M02606",
         "NL91ABNA0417164300"]


def spell_alnum(code: str, rng: random.Random) -> str:
    parts = []
    for c in code:
        if c.isdigit():
            parts.append(rng.choice([_UNITS[int(c)], "oh" if c == "0" else _UNITS[int(c)]]))
        else:
            parts.append(c)
    return " ".join(parts)


# ----------------------------------------------------------------------------- values of each kind


def card_value(rng: random.Random, form: str) -> tuple[str, str]:
    prefix, length = rng.choice([("4", 16), ("5", 16), ("4", 16), ("6011", 16), ("37", 15)])
    pan = luhn_complete(prefix, length, rng)
    size = 4 if length == 16 else 5
    return pan, grouped(pan, size, form)


def cvv_value(rng: random.Random, form: str) -> tuple[str, str]:
    code = "".join(str(rng.randrange(10)) for _ in range(3))
    return code, (" ".join(code) if form == "written" else digit_words(code))


def expiry_value(rng: random.Random, form: str) -> tuple[str, str]:
    month, year = rng.randrange(1, 13), rng.randrange(26, 32)
    value = f"{month:02d}{year}"
    if form == "month_name":
        return value, f"{MONTHS[month - 1]} twenty {pair_words(str(year))}"
    if form == "slash":
        return value, f"{pair_words(f'{month:02d}')} slash {pair_words(str(year))}"
    return value, f"{pair_words(f'{month:02d}')} {pair_words(str(year))}"


def sort_code_value(rng: random.Random, form: str) -> tuple[str, str]:
    code = "".join(f"{rng.randrange(10, 99)}" for _ in range(3))
    if form == "pairs":
        return code, ", ".join(pair_words(code[i:i + 2]) for i in (0, 2, 4))
    return code, ", ".join(digit_words(code[i:i + 2]) for i in (0, 2, 4))


def account_value(rng: random.Random, form: str) -> tuple[str, str]:
    acc = "".join(str(rng.randrange(10)) for _ in range(8))
    return acc, grouped(acc, 4, form)


def iban_value(rng: random.Random, form: str) -> tuple[str, str]:
    iban = rng.choice(IBANS)
    return iban, ", ".join(spell_alnum(iban[i:i + 4], rng) for i in range(0, len(iban), 4))


def ssn_value(rng: random.Random, form: str) -> tuple[str, str]:
    ssn = f"{rng.randrange(100, 665)}{rng.randrange(10, 99)}{rng.randrange(1000, 9999)}"
    if form == "written":
        return ssn, f"{' '.join(ssn[:3])}, {' '.join(ssn[3:5])}, {' '.join(ssn[5:])}"
    return ssn, f"{digit_words(ssn[:3])}, {digit_words(ssn[3:5])}, {digit_words(ssn[5:])}"


def ni_value(rng: random.Random, form: str) -> tuple[str, str]:
    first = rng.choice("ABCEGHJKLMNPRSTWXYZ")
    second = rng.choice("ABCEGHJKLMNPRSTWXYZ")
    digits = "".join(str(rng.randrange(10)) for _ in range(6))
    suffix = rng.choice("ABCD")
    value = f"{first}{second}{digits}{suffix}"
    if form == "pairs":
        return value, f"{first} {second}, {', '.join(pair_words(digits[i:i + 2]) for i in (0, 2, 4))}, {suffix}"
    return value, f"{first} {second}, {digit_words(digits)}, {suffix}"


def dob_value(rng: random.Random, form: str) -> tuple[str, str]:
    day, month, year = rng.randrange(1, 29), rng.randrange(1, 13), rng.randrange(1950, 2004)
    value = f"{year}-{month:02d}-{day:02d}"
    yw = f"{pair_words(str(year)[:2])} {pair_words(str(year)[2:])}"
    if form == "us":
        return value, f"{MONTHS[month - 1]} {ORD[day - 1]}, {yw}"
    if form == "numeric":
        return value, f"{pair_words(f'{day:02d}')}, {pair_words(f'{month:02d}')}, {pair_words(str(year)[2:])}"
    return value, f"the {ORD[day - 1]} of {MONTHS[month - 1]}, {yw}"


def email_value(rng: random.Random, form: str) -> tuple[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    domain, tld = rng.choice(DOMAINS)
    tld_value = tld.replace(" dot ", ".")
    if form == "underscore":
        return f"{first}_{last}@{domain}.{tld_value}", f"{first} underscore {last} at {domain} dot {tld}"
    if form == "digits":
        n = rng.randrange(10, 99)
        return f"{first[0]}{last}{n}@{domain}.{tld_value}", f"{first[0]} {last} {pair_words(str(n))} at {domain} dot {tld}"
    return f"{first}.{last}@{domain}.{tld_value}", f"{first} dot {last} at {domain} dot {tld}"


def phone_value(rng: random.Random, form: str) -> tuple[str, str]:
    if form == "us":
        number = f"{rng.randrange(201, 989)}{rng.randrange(200, 999)}{rng.randrange(1000, 9999)}"
        return number, f"{digit_words(number[:3])}, {digit_words(number[3:6])}, {digit_words(number[6:])}"
    number = "07" + "".join(str(rng.randrange(10)) for _ in range(9))
    if form == "doubles":
        return number, f"{digit_words(number[:5], doubles=True)}, {digit_words(number[5:], doubles=True)}"
    return number, f"{digit_words(number[:5])}, {digit_words(number[5:])}"


def address_value(rng: random.Random, form: str) -> tuple[str, str]:
    if form == "postcode":
        code, spoken = rng.choice(POSTCODES)
        return code, spoken
    number = rng.randrange(2, 250)
    street = rng.choice(STREETS)
    if form == "us":
        zip_code, zip_spoken = rng.choice(ZIPS)
        city = rng.choice(["Springfield, Illinois", "Austin, Texas", "Denver, Colorado"])
        return f"{number} {street} {zip_code}", f"{number} {street}, {city}, {zip_spoken}"
    return f"{number} {street}", f"{number} {street}"


KINDS = {
    # kind: (generator, forms, what the agent asks, how the customer frames it)
    "card_number": (card_value, ["digits", "pairs", "doubles", "written"],
                    ["Can I take the long number on the front of your card, please?",
                     "What's the card number?", "Please read me the sixteen digit card number."],
                    ["It's {v}.", "Sure, {v}.", "{v}."]),
    "security_code": (cvv_value, ["digits", "written"],
                      ["And the three digit security code on the back?", "What's the CVV, please?"],
                      ["{v}.", "It's {v}."]),
    "expiry_date": (expiry_value, ["pairs", "month_name", "slash"],
                    ["What's the expiry date on the card?", "And when does the card expire?"],
                    ["{v}.", "It expires {v}."]),
    "sort_code": (sort_code_value, ["pairs", "digits"], ["What's your sort code?"], ["It's {v}.", "{v}."]),
    "bank_account": (account_value, ["digits", "pairs"], ["And your bank account number?"],
                     ["It's {v}.", "The account number is {v}."]),
    "iban": (iban_value, ["spelled"], ["Could you read me the IBAN for the transfer?"], ["Yes, it's {v}."]),
    "ssn": (ssn_value, ["digits", "written"], ["Can you verify your social security number?"],
            ["Sure, it's {v}.", "{v}."]),
    "ni_number": (ni_value, ["digits", "pairs"], ["What's your national insurance number?"], ["It's {v}."]),
    "date_of_birth": (dob_value, ["uk", "us", "numeric"], ["Can you confirm your date of birth?"],
                      ["It's {v}.", "I was born on {v}.", "{v}."]),
    "email": (email_value, ["dotted", "underscore", "digits"], ["What's the best email address for you?"],
              ["It's {v}.", "My email is {v}."]),
    "phone": (phone_value, ["uk", "doubles", "us"], ["What's a good phone number to reach you on?"],
              ["It's {v}.", "You can call me on {v}."]),
    "address": (address_value, ["postcode", "street", "us"], ["And what's your address, please?"],
                ["I live at {v}.", "It's {v}."]),
}
# which agent question goes with the postcode form
_POSTCODE_ASK = "And your postcode, please?"

OPENINGS = ["Thank you for calling Brightwater, this is Sam speaking, how can I help?",
            "Good morning, you're through to Northwind support, my name is Alex."]
CLOSINGS = ["Thank you, that's all done for you. Is there anything else?", "Lovely, thanks for your time today."]
CUSTOMER_OPENINGS = ["Hi, I'd like to pay my bill please.", "Hello, I need to update my details.",
                     "Hi there, I want to make a payment."]

NEGATIVE_LINES = [
    ("agent", "Your order number is {order}."), ("customer", "Okay, and how much is that?"),
    ("agent", "That comes to {price}, and delivery is on the {day}."), ("customer", "I'd like {qty} boxes, please."),
    ("agent", "For billing press one, for sales press two, for anything else press nine."),
    ("agent", "Your reference is {ref}, and the case was opened on the {day} of {month}."),
    ("customer", "I've been a customer since {year} and I called {qty} times."),
    ("agent", "The engineer will come between {hour} and {hour2} o'clock."),
    ("agent", "The new plan is {price} a month for {qty} months."),
    ("customer", "My order was {order} and it had {qty} items."),
    ("agent", "You're number {queue} in the queue; the wait is about {qty} minutes."),
    ("agent", "That model is the X {model}, it was {price} last year."),
]


def negative_fill(rng: random.Random) -> dict[str, str]:
    order = "".join(str(rng.randrange(10)) for _ in range(rng.choice([6, 7, 8])))
    return {
        "order": rng.choice([" ".join(order), digit_words(order), grouped(order, 2, "pairs")]),
        "price": rng.choice(["twenty nine ninety nine", "£129.99", "forty five pounds", "$75", "twelve fifty",
                             "three hundred and twenty pounds"]),
        "day": rng.choice(ORD[:28]), "month": rng.choice(MONTHS), "qty": rng.choice(["three", "12", "two", "six"]),
        "ref": rng.choice(["A B C one two three", "R E F four five six", "X Y seven seven"]),
        "year": rng.choice(["2019", "twenty eighteen", "nineteen ninety nine"]),
        "hour": rng.choice(["eight", "nine", "ten"]), "hour2": rng.choice(["twelve", "one", "two"]),
        "queue": rng.choice(["four", "seven", "12"]), "model": rng.choice(["two hundred", "five fifty", "3000"]),
    }


# ----------------------------------------------------------------------------- rendering


def speak(text: str, voice: tuple[str, str], tmp: Path) -> np.ndarray:
    out = tmp / "line.wav"
    subprocess.run(["espeak-ng", "-v", voice[0], "-s", voice[1], "-w", str(out), text], check=True,
                   capture_output=True)
    with wave.open(str(out), "rb") as w:
        assert w.getframerate() == RATE, w.getframerate()
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def render(lines: list[tuple[str, str]], tmp: Path, rng: random.Random) -> tuple[np.ndarray, list[dict]]:
    t = 0.5
    pieces: list[tuple[int, str, np.ndarray]] = []
    timeline = []
    for speaker, text in lines:
        audio = speak(text, AGENT_VOICE if speaker == "agent" else CUSTOMER_VOICE, tmp)
        # trim espeak's leading/trailing silence so the times are the speech
        voiced = np.flatnonzero(np.abs(audio) > 0.01)
        if len(voiced):
            audio = audio[max(0, voiced[0] - 200):voiced[-1] + 200]
        start = int(t * RATE)
        pieces.append((start, speaker, audio))
        timeline.append({"speaker": speaker, "text": text, "start_s": round(t, 3),
                         "end_s": round(t + len(audio) / RATE, 3)})
        t += len(audio) / RATE + rng.uniform(0.35, 0.7)
    total = int((t + 0.5) * RATE)
    stereo = np.zeros((total, 2), dtype=np.float32)
    noise = np.random.default_rng(rng.randrange(1 << 30))
    stereo += noise.normal(0, 0.0015, stereo.shape).astype(np.float32)
    for start, speaker, audio in pieces:
        ch = 0 if speaker == "agent" else 1
        stereo[start:start + len(audio), ch] += audio
    return stereo, timeline


def write_wav(path: Path, stereo: np.ndarray) -> None:
    data = (np.clip(stereo, -1, 1) * 32767).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(data)


def plan_positive(rng: random.Random, kinds: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[dict]]:
    lines: list[tuple[str, str]] = [("agent", rng.choice(OPENINGS)), ("customer", rng.choice(CUSTOMER_OPENINGS)),
                                    ("agent", "Of course. Your order number is "
                                              f"{digit_words(''.join(str(rng.randrange(10)) for _ in range(7)))}"
                                              " and the balance is twenty nine ninety nine.")]
    values = []
    for kind, form in kinds:
        gen, _forms, asks, frames = KINDS[kind]
        value, spoken = gen(rng, form)
        ask = _POSTCODE_ASK if kind == "address" and form == "postcode" else rng.choice(asks)
        lines.append(("agent", ask))
        lines.append(("customer", rng.choice(frames).format(v=spoken)))
        values.append({"kind": kind, "form": form, "spoken": spoken, "value": value, "line": len(lines) - 1})
    lines.append(("agent", rng.choice(CLOSINGS)))
    return lines, values


def plan_negative(rng: random.Random) -> list[tuple[str, str]]:
    fill = negative_fill(rng)
    chosen = rng.sample(NEGATIVE_LINES, 6)
    return [("agent", rng.choice(OPENINGS))] + [(sp, text.format(**fill)) for sp, text in chosen] + \
        [("agent", rng.choice(CLOSINGS))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--small", action="store_true", help="only 3 short calls (the test fixtures), Opus")
    ap.add_argument("--seed", type=int, default=9)
    args = ap.parse_args()
    if not shutil.which("espeak-ng"):
        print("espeak-ng is needed on PATH", file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    plans: list[tuple[str, list[tuple[str, str]], list[dict]]] = []
    if args.small:
        plans.append(("pay-card", *plan_small_card(rng)))
        plans.append(("details-email", *plan_small_details(rng)))
        plans.append(("order-numbers", [("agent", "Your order number is four seven two nine three one eight."),
                                        ("customer", "Great, I'd like three boxes for twenty nine ninety nine."),
                                        ("agent", "For billing press one. Delivery is on the fourteenth.")], []))
    else:
        # every kind in each of its forms, twice over, two or three kinds per call, card data together
        jobs: list[tuple[str, str]] = []
        for kind, (_g, forms, _a, _f) in KINDS.items():
            for form in forms:
                jobs.extend([(kind, form)] * (3 if kind not in ("card_number", "security_code") else 4))
        rng.shuffle(jobs)
        n = 0
        while jobs:
            take = jobs[:rng.choice([2, 3])]
            jobs = jobs[len(take):]
            plans.append((f"p{n:03d}", *plan_positive(rng, take)))
            n += 1
        for k in range(20):
            plans.append((f"n{k:03d}", plan_negative(rng), []))
    args.out.mkdir(parents=True, exist_ok=True)
    labels = {}
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for call_id, lines, values in plans:
            stereo, timeline = render(lines, tmp, rng)
            name = f"{call_id}.wav"
            write_wav(args.out / name, stereo)
            if args.small:  # Opus at 32 kbit/s: the fixtures must stay small (tests/test_fixtures.py)
                small = args.out / f"{call_id}.opus"
                subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(args.out / name), "-c:a", "libopus",
                                "-b:a", "32k", "-map_metadata", "-1", "-fflags", "+bitexact", str(small)], check=True)
                (args.out / name).unlink()
                name = small.name
            for v in values:
                v["start_s"], v["end_s"] = timeline[v["line"]]["start_s"], timeline[v["line"]]["end_s"]
            labels[call_id] = {"file": name, "lines": timeline, "values": values}
            rows.append({"file": name, "call_id": call_id, "agent_id": "agent-1", "agent_name": "Sam",
                         "team": "privacy", "script_id": "payments", "started_at": "2026-12-01T09:00:00Z",
                         "channels": "agent-left"})
    (args.out / "labels.json").write_text(json.dumps(labels, indent=1) + "\n")
    with open(args.out / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (args.out / "scripts").mkdir(exist_ok=True)
    (args.out / "scripts" / "payments.yaml").write_text(SCRIPT)
    kinds = sorted({v["kind"] for lab in labels.values() for v in lab["values"]})
    print(f"{len(labels)} calls ({sum(1 for lab in labels.values() if not lab['values'])} without personal data), "
          f"{sum(len(lab['values']) for lab in labels.values())} values of {len(kinds)} kinds in {args.out}")
    return 0


SCRIPT = """\
id: payments
version: "1"
name: Payments line (privacy test set)
pci_pause: true
sections:
  - id: opening
    items:
      - id: greeting
        text: "Thank you for calling, my name is {agent_name}, how can I help?"
        alternatives: ["You're through to support, my name is {agent_name}."]
      - id: order_number
        text: "Your order number is on your confirmation email."
  - id: closing
    items:
      - id: anything_else
        text: "Is there anything else I can help with?"
"""


def plan_small_card(rng: random.Random):
    pan = luhn_complete("4", 16, rng)
    lines = [("agent", "Can I take the long number on your card?"),
             ("customer", f"It's {grouped(pan, 4, 'digits')}."),
             ("agent", "And the expiry date and the three digit security code?"),
             ("customer", "Oh nine twenty seven, and four oh seven.")]
    values = [{"kind": "card_number", "form": "digits", "spoken": grouped(pan, 4, "digits"), "value": pan, "line": 1},
              {"kind": "expiry_date", "form": "pairs", "spoken": "oh nine twenty seven", "value": "0927", "line": 3},
              {"kind": "security_code", "form": "digits", "spoken": "four oh seven", "value": "407", "line": 3}]
    return lines, values


def plan_small_details(rng: random.Random):
    lines = [("agent", "What's the best email address for you?"),
             ("customer", "It's john dot smith at gmail dot com."),
             ("agent", "And a phone number?"),
             ("customer", "Oh seven seven double oh, nine double oh, one two three.")]
    values = [{"kind": "email", "form": "dotted", "spoken": "john dot smith at gmail dot com",
               "value": "john.smith@gmail.com", "line": 1},
              {"kind": "phone", "form": "doubles", "spoken": "oh seven seven double oh, nine double oh, one two three",
               "value": "07700900123", "line": 3}]
    return lines, values


if __name__ == "__main__":
    raise SystemExit(main())
