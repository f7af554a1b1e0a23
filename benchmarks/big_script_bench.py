#!/usr/bin/env python3
"""The matcher on the largest script allowed: MAX_ENTRIES (1,000) items and prohibited rules.

Usage: python benchmarks/big_script_bench.py [--seed 3] [--repeat 1] [--profile N] [--keep FILE]

Generates a script of distinct lines (MAX_ENTRIES - 10 items, a tenth of them conditional, and 10
prohibited rules) as YAML and loads it with load_script (so it is one the loader accepts), and a
hand-built 2-minute, two-channel transcript (~340 words) in which the agent says 25 of the items
and the customer triggers 5 of the conditional ones. After a warm-up on a 3-item script (spaCy and
the sentence encoder loaded), times one match_call: its seconds, and the process's peak resident
memory before and after (getrusage high-water mark; the difference is what the big script added).
--repeat N times N-1 more calls (the script's lines are then cached by the encoder); --profile N
prints the N most expensive functions (cProfile, cumulative) of the first call.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa_analyser.datatypes import Segment, Transcript, TranscriptionOptions, Word  # noqa: E402
from qa_analyser.match import match_call  # noqa: E402
from qa_analyser.scripts import MAX_ENTRIES, load_script  # noqa: E402

PROHIBITED = 10
SUBJECTS = ["your account", "the meter reading", "your direct debit", "the tariff", "your last bill", "the payment plan",
            "your contract", "the refund", "your address", "the engineer visit", "your balance", "the smart meter",
            "your discount", "the renewal", "your statement", "the late fee", "your deposit", "the credit check"]
VERBS = ["check", "confirm", "update", "review", "explain", "cancel", "arrange", "verify", "change", "send",
         "record", "discuss", "adjust", "process", "note", "transfer", "reset", "book"]
OPENERS = ["I will", "Let me", "I can", "We need to", "I am going to", "Please allow me to", "I would like to",
           "Before we continue I must", "As required I will", "Today I can"]
TAILS = ["for you today", "before the end of the call", "in line with our policy", "within five working days",
         "so that nothing is missed", "as part of this call", "with your permission", "straight away",
         "on our system", "by email and by post"]
TRIGGERS = ["I want to cancel", "this is too expensive", "I am moving house", "I have a complaint",
            "I lost my job", "the bill is wrong", "I never got the letter", "someone else uses this account"]
CUSTOMER = ["Yes that is right.", "Can you repeat that please?", "I am not sure about that.",
            "Okay go on.", "That sounds fine to me.", "I did not know that.", "Right, thank you."]


def distinct_lines(n: int, rng: random.Random) -> list[str]:
    lines: list[str] = []
    seen: set[str] = set()
    while len(lines) < n:
        line = f"{rng.choice(OPENERS)} {rng.choice(VERBS)} {rng.choice(SUBJECTS)} {rng.choice(TAILS)}"
        extra = f" reference {rng.randrange(100, 999)}" if rng.random() < 0.3 else ""
        if line + extra not in seen:
            seen.add(line + extra)
            lines.append(line + extra + ".")
    return lines


def script_yaml(lines: list[str], rng: random.Random) -> tuple[str, list[int], list[tuple[int, str]]]:
    """The YAML, the indexes of the conditional items, and (item index, trigger) of each."""
    out = ['id: big', 'version: "1"', "name: The largest script allowed", "sections:"]
    conditional: list[tuple[int, str]] = []
    per_section = 50
    for i, line in enumerate(lines):
        if i % per_section == 0:
            out += [f"  - id: section-{i // per_section:02d}", "    items:"]
        out += [f"      - id: item-{i:04d}", f'        text: "{line}"', f"        weight: {1 + i % 5}"]
        if i % 10 == 5:
            trigger = TRIGGERS[i // 10 % len(TRIGGERS)]
            out.append(f'        when_customer_says: ["{trigger}"]')
            conditional.append((i, trigger))
    out.append("prohibited:")
    for k in range(PROHIBITED):
        out += [f"  - id: rule-{k}", f'    phrases: ["that is not my problem number {k}", "you should have read it {k}"]']
    return "\n".join(out) + "\n", [i for i, _ in conditional], conditional


def two_minute_transcript(lines: list[str], conditional: list[tuple[int, str]], rng: random.Random) -> Transcript:
    said = sorted(rng.sample(range(len(lines)), 25))
    triggered = rng.sample(conditional, 5)
    turns: list[tuple[str, str]] = [("agent", "Thank you for calling, my name is Tom.")]
    for k, index in enumerate(said):
        turns.append(("agent", lines[index]))
        if k % 5 == 0 and triggered:
            turns.append(("customer", f"Well {triggered.pop()[1]}."))
        else:
            turns.append(("customer", rng.choice(CUSTOMER)))
    segments, t = [], 0.5
    seconds_per_turn = 118.0 / len(turns)
    for speaker, text in turns:
        tokens = text.split()
        step = (seconds_per_turn - 0.4) / len(tokens)
        words = tuple(Word(tok, t + i * step, t + (i + 1) * step, 0.92, speaker) for i, tok in enumerate(tokens))
        segments.append(Segment(text, words[0].start, words[-1].end, speaker, words,
                                channel=0 if speaker == "agent" else 1))
        t += seconds_per_turn
    return Transcript(tuple(segments), 120.0, "agent-left", TranscriptionOptions())


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--profile", type=int, default=0, metavar="N")
    ap.add_argument("--keep", type=Path, help="write the generated script here")
    args = ap.parse_args()
    rng = random.Random(args.seed)

    lines = distinct_lines(MAX_ENTRIES - PROHIBITED, rng)
    text, _, conditional = script_yaml(lines, rng)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "big.yaml"
        path.write_text(text)
        t0 = time.perf_counter()
        script = load_script(path)
        load_s = time.perf_counter() - t0
    transcript = two_minute_transcript(lines, conditional, rng)
    words = sum(len(s.words) for s in transcript.segments)
    print(f"script: {len(script.items)} items ({len(conditional)} conditional) + {len(script.prohibited)} "
          f"prohibited rules = {len(script.items) + len(script.prohibited)} (MAX_ENTRIES {MAX_ENTRIES}), "
          f"{len(text) / 1024:.0f} KiB, loaded in {load_s:.2f} s")
    print(f"transcript: {transcript.duration_s:.0f} s, {len(transcript.segments)} segments, {words} words")

    small = load_script(Path(__file__).resolve().parents[1] / "scripts_library" / "energy-inbound.yaml")
    t0 = time.perf_counter()
    match_call(transcript, small, agent_name="Tom")  # loads spaCy and the encoder
    print(f"warm-up on {small.id} ({len(small.items)} items): {time.perf_counter() - t0:.2f} s, "
          f"peak RSS {peak_mb():.0f} MB")

    before = peak_mb()
    profiler = cProfile.Profile() if args.profile else None
    t0 = time.perf_counter()
    if profiler:
        profiler.enable()
    results = match_call(transcript, script, agent_name="Tom")
    if profiler:
        profiler.disable()
    first = time.perf_counter() - t0
    after = peak_mb()
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    print(f"match_call, {len(results)} results {dict(sorted(counts.items()))}: {first:.2f} s; "
          f"peak RSS {before:.0f} -> {after:.0f} MB (+{after - before:.0f} MB)"
          + (" (under cProfile)" if profiler else ""))
    for k in range(1, args.repeat):
        t0 = time.perf_counter()
        match_call(transcript, script, agent_name="Tom")
        print(f"match_call again ({k + 1}, script lines cached): {time.perf_counter() - t0:.2f} s")
    if profiler:
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(args.profile)
        print(stream.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
