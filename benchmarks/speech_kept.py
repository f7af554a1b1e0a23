"""How much of the labelled speech each speech-detection approach keeps.

For every stereo call in the eval sets (agent left, caller right) and each approach, the kept regions
of each channel are compared with that channel's utterances in `<call>.timeline.json`:

    covered  fraction of utterance time inside kept regions (agent / caller, pooled over calls)
    whole    fraction of utterances kept entirely (>= 95 % covered)
    lost     utterances with less than half their time kept
    kept     fraction of all channel audio kept (what the recogniser has to process)

Approaches: Silero VAD as faster-whisper ships it (VadOptions() defaults with its 30 s max chunk),
Silero with looser settings, qa_analyser.audio.speech_regions (energy), and no detection at all.

    python benchmarks/speech_kept.py ../shared/eval/hvb/calls ../shared/eval/synth-dev/calls

With --words, each approach's choice is also run through qa_analyser.transcribe.Transcriber (tiny.en,
int8, CPU unless --device) and the agent / caller words are scored against the timeline text:
recall (reference words recovered, i.e. not deleted or substituted), WER, and speed as audio seconds
per wall second (the recording's duration, both channels transcribed, over the transcription time):

    python benchmarks/speech_kept.py --words --approach energy --approach silero-default ../shared/eval/hvb/calls

Needs the eval folders (not shipped) and faster-whisper (for Silero); it is not part of the tests.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa_analyser.audio import SAMPLE_RATE, decode_audio, speech_regions  # noqa: E402


def silero(options: dict):
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    vad = VadOptions(**options)

    def detect(samples: np.ndarray) -> list[tuple[float, float]]:
        ts = get_speech_timestamps(samples, vad)
        return [(t["start"] / SAMPLE_RATE, t["end"] / SAMPLE_RATE) for t in ts]

    return detect


APPROACHES = {
    "silero-default": silero({"max_speech_duration_s": 30}),
    "silero-loose": silero(
        {
            "threshold": 0.2,
            "neg_threshold": 0.1,
            "min_speech_duration_ms": 0,
            "min_silence_duration_ms": 1000,
            "speech_pad_ms": 400,
            "max_speech_duration_s": 30,
        }
    ),
    "energy": lambda samples: speech_regions(samples),
    "none": lambda samples: [(0.0, len(samples) / SAMPLE_RATE)],
}


def overlap(a: float, b: float, regions: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(b, e) - max(a, s)) for s, e in regions)


def stereo_calls(folder: Path, limit: int = 0) -> list[Path]:
    calls = sorted(p for p in folder.glob("*.mp3") if not p.name.endswith(".mono.mp3"))
    return calls[:limit] if limit else calls


def _tokens(text: str) -> list[str]:
    import re

    return re.findall(r"[a-z0-9']+", text.lower().replace("-", " "))


def words(args: argparse.Namespace, names: list[str]) -> None:
    """Transcribe every call with each approach; word recall / WER against the timeline text."""
    from rapidfuzz.distance import Levenshtein

    from qa_analyser.datatypes import TranscriptionOptions
    from qa_analyser.transcribe import Transcriber

    mode = {"silero-default": "silero", "energy": "energy", "none": "none"}
    for folder in args.folders:
        calls = stereo_calls(folder, args.limit)
        print(f"\n{folder}: {len(calls)} stereo calls, words vs timeline ({args.model}, beam {args.beam_size})")
        print(f"{'approach':16} {'agent recall':>12} {'agent WER':>10} {'caller recall':>13} {'caller WER':>11} {'x real time':>12}")
        for name in names:
            if name not in mode:
                print(f"{name:16} (not a Transcriber mode; skipped)")
                continue
            tr = Transcriber(TranscriptionOptions(model=args.model, beam_size=args.beam_size,
                                                  device=args.device, speech_detection=mode[name]))
            tr.load()
            acc = {"agent": [0, 0, 0], "customer": [0, 0, 0]}  # ref words, errors, hits
            audio_s = wall = 0.0
            for mp3 in calls:
                timeline = json.loads(mp3.with_suffix(".timeline.json").read_text())
                audio = decode_audio(mp3)
                t0 = time.perf_counter()
                transcript = tr.transcribe(audio, "agent-left")
                wall += time.perf_counter() - t0
                audio_s += audio.duration_s
                for who, label in (("agent", "agent"), ("caller", "customer")):
                    ref = [t for u in timeline if u["speaker"] == who for t in _tokens(u["text"])]
                    hyp = [t for w in transcript.words(label) for t in _tokens(w.text)]
                    ops = Levenshtein.editops(ref, hyp)
                    missed = sum(1 for op in ops if op.tag in ("delete", "replace"))
                    a = acc[label]
                    a[0] += len(ref)
                    a[1] += len(ops)
                    a[2] += len(ref) - missed
            ag, cu = acc["agent"], acc["customer"]
            print(f"{name:16} {ag[2] / ag[0]:12.1%} {ag[1] / ag[0]:10.1%} {cu[2] / cu[0]:13.1%} "
                  f"{cu[1] / cu[0]:11.1%} {audio_s / wall:11.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--approach", action="append", choices=sorted(APPROACHES))
    ap.add_argument("--words", action="store_true", help="also transcribe and score words (slow)")
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--beam-size", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--limit", type=int, default=0, help="only the first N calls of each folder")
    args = ap.parse_args()
    names = args.approach or list(APPROACHES)
    if args.words:
        words(args, names)
        return

    for folder in args.folders:
        calls = stereo_calls(folder, args.limit)
        stats = {n: {"agent": [0.0, 0.0, 0, 0, 0], "caller": [0.0, 0.0, 0, 0, 0], "kept": [0.0, 0.0], "t": 0.0} for n in names}
        total_audio = 0.0
        for mp3 in calls:
            timeline = json.loads(mp3.with_suffix(".timeline.json").read_text())
            audio = decode_audio(mp3)
            total_audio += audio.duration_s
            for name in names:
                st = stats[name]
                for ch, who in ((0, "agent"), (1, "caller")):
                    t0 = time.perf_counter()
                    regions = APPROACHES[name](audio.channels[ch])
                    st["t"] += time.perf_counter() - t0
                    st["kept"][0] += sum(e - s for s, e in regions)
                    st["kept"][1] += audio.duration_s
                    for u in timeline:
                        if u["speaker"] != who:
                            continue
                        length = u["end_s"] - u["start_s"]
                        got = overlap(u["start_s"], u["end_s"], regions)
                        acc = st[who]
                        acc[0] += got
                        acc[1] += length
                        acc[2] += 1
                        acc[3] += got >= 0.95 * length
                        acc[4] += got < 0.5 * length
        print(f"\n{folder}: {len(calls)} stereo calls, {total_audio / 60:.1f} min")
        print(f"{'approach':16} {'agent covered':>14} {'caller covered':>15} {'whole utts':>11} {'lost utts':>10} {'audio kept':>11} {'time s':>7}")
        for name in names:
            st = stats[name]
            ag, ca = st["agent"], st["caller"]
            whole = (ag[3] + ca[3]) / max(1, ag[2] + ca[2])
            lost = ag[4] + ca[4]
            print(
                f"{name:16} {ag[0] / ag[1]:14.1%} {ca[0] / ca[1]:15.1%} {whole:11.1%} "
                f"{lost:6d}/{ag[2] + ca[2]:<4d} {st['kept'][0] / st['kept'][1]:10.1%} {st['t']:7.1f}"
            )


if __name__ == "__main__":
    main()
