#!/usr/bin/env python3
"""Matcher speed on a synthetic 2-minute call (~340 words, 8 items, 2 prohibited rules).

Usage: python benchmarks/match_bench.py [--repeat 20]

Prints the median and worst time of match_call with a known agent name and with it unknown (the
{agent_name} slot then accepts any name). Pure matching: no audio, no speech model (the sentence
encoder and the parser run).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa_analyser.datatypes import (  # noqa: E402
    Item, ProhibitedRule, Script, Section, Segment, Transcript, TranscriptionOptions, Word)
from qa_analyser.match import match_call  # noqa: E402

LINES = ["I'm sorry to hear that, let me take a look at the readings on your account.",
         "I can see an estimated reading was used last month, which pushed the total up.",
         "Yes, if you read me the number on the meter now I can re-bill it straight away."]
ITEMS = [
    ("greeting", "Thank you for calling {company}, my name is {agent_name}.", ()),
    ("rec", "Please be aware that this call is recorded for quality and training purposes.", ()),
    ("id", "Can you please confirm your full name and the first line of your address?", ()),
    ("offer", "Before you go, I can offer you our loyalty discount of ten percent off your tariff.", ("cancel my account",)),
    ("else", "Is there anything else I can help you with today?", ()),
    ("bye", "Thank you for calling {company}, have a lovely day.", ()),
    ("help", "How can I help you today?", ()),
    ("note", "I have made a note on your account.", ()),
]


def build() -> tuple[Transcript, Script]:
    turns = [("agent", 0.0, "Thank you for calling Brightwater Energy, my name is Tom.")]
    for k in range(30):
        turns.append(("customer" if k % 2 else "agent", 4.0 + 4 * k, LINES[k % 3]))
    segments = []
    for speaker, start, text in turns:
        tokens = text.split()
        step = 3.5 / len(tokens)
        words = tuple(Word(tok, start + i * step, start + (i + 1) * step, 0.9, speaker) for i, tok in enumerate(tokens))
        segments.append(Segment(text, start, start + 3.5, speaker, words))
    transcript = Transcript(tuple(segments), 130.0, "agent-left", TranscriptionOptions())
    items = tuple(Item(id=i, section="s", text=t, when_customer_says=w) for i, t, w in ITEMS)
    script = Script(id="bench", version="1", name="bench", sections=(Section("s", items),),
                    prohibited=(ProhibitedRule("rude", ("calm down", "that is not my problem")),
                                ProhibitedRule("guarantee", ("I guarantee",))),
                    variables=(("company", "Brightwater Energy"),))
    return transcript, script


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    transcript, script = build()
    for label, name in (("agent name known", "Tom"), ("agent name unknown", None)):
        match_call(transcript, script, agent_name=name)  # warm-up (loads spaCy once)
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            match_call(transcript, script, agent_name=name)
            times.append(time.perf_counter() - t0)
        print(f"{label:<34} median {1000 * statistics.median(times):6.1f} ms   worst {1000 * max(times):6.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
