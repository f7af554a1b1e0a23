"""Diarization + role assignment on mono calls, and swapped-channel detection on stereo calls.

    python benchmarks/diarize_eval.py ../shared/eval/hvb ../shared/eval/synth-dev [--db a.db --db b.db]

Each set folder has calls/ (manifest.csv, *.mp3, *.timeline.json) and scripts/. Transcripts come from
a `qa run` database (--db, matched by file name) when given, else are made with tiny.en on CPU.

Mono: share of word time on the right speaker after diarize.speaker_turns → label_words →
roles.assign_mono_roles (a word is judged by the timeline utterance holding its midpoint; "unknown"
counts as wrong), and the same share with the best cluster → speaker mapping (diarization alone).
Stereo: roles.check_swapped on every stereo transcript (must not swap) and on the same transcript with
agent and customer exchanged, which is what an agent-right call read as agent-left gives (must swap).
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import sqlite3
import sys
import time
from dataclasses import replace

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from qa_analyser.audio import decode_audio  # noqa: E402
from qa_analyser.datatypes import TranscriptionOptions  # noqa: E402
from qa_analyser.diarize import label_words, speaker_turns  # noqa: E402
from qa_analyser.roles import assign_mono_roles, check_swapped  # noqa: E402
from qa_analyser.scripts import load_script  # noqa: E402
from qa_analyser.store import Store  # noqa: E402

_transcriber = None


def transcript_of(path: str, layout: str, dbs: list[str]):
    name = os.path.basename(path)
    for db in dbs:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        row = con.execute("SELECT transcript_id FROM calls WHERE path = ? AND channels = ?", [path, layout]).fetchone()
        con.close()
        if row:
            return Store.open(db).load_transcript(int(row[0]))
    global _transcriber
    if _transcriber is None:
        from qa_analyser.transcribe import Transcriber
        _transcriber = Transcriber(TranscriptionOptions())
    print(f"  transcribing {name}", file=sys.stderr)
    return _transcriber.transcribe(decode_audio(path), layout)



def word_accuracy(transcript, timeline, mapping=None) -> tuple[float, float]:
    """(right seconds, judged seconds) of word time."""
    right = judged = 0.0
    for w in transcript.words():
        mid = (w.start + w.end) / 2
        u = next((u for u in timeline if u["start_s"] - 0.2 <= mid <= u["end_s"] + 0.2), None)
        if u is None:
            continue
        truth = "agent" if u["speaker"] == "agent" else "customer"
        dur = max(w.end - w.start, 0.01)
        judged += dur
        right += dur * (w.speaker == truth)
    return right, judged


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sets", nargs="+")
    ap.add_argument("--db", action="append", default=[])
    args = ap.parse_args()
    dbs = [os.path.abspath(d) for d in args.db]
    for folder in args.sets:
        calls = os.path.join(folder, "calls")
        manifest = {r["file"]: r for r in csv.DictReader(open(os.path.join(calls, "manifest.csv")))}
        scripts = {load_script(p).id: load_script(p) for p in glob.glob(os.path.join(folder, "scripts", "*.yaml"))}
        print(f"== {folder}")
        tot = [0.0, 0.0, 0.0]
        named = 0
        diar_s = audio_s = 0.0
        monos = sorted(f for f, r in manifest.items() if r["channels"] == "mono")
        for f in monos:
            row = manifest[f]
            path = os.path.abspath(os.path.join(calls, f))
            timeline = json.load(open(path.rsplit(".", 1)[0] + ".timeline.json"))
            tr = transcript_of(path, "mono", dbs)
            audio = decode_audio(path)
            t0 = time.perf_counter()
            turns = speaker_turns(audio)
            diar_s += time.perf_counter() - t0
            audio_s += audio.duration_s
            clustered = label_words(tr, turns)
            roled, note = assign_mono_roles(clustered, scripts[row["script_id"]], agent_name=row["agent_name"] or None)
            r, j = word_accuracy(roled, timeline)
            # diarization alone: the better of the two cluster → speaker mappings
            best = max(word_accuracy(replace(clustered, segments=tuple(
                replace(s, speaker=sp, words=tuple(replace(w, speaker=sp) for w in s.words))
                for s in clustered.segments for sp in [("agent" if (s.channel == 0) != flip else "customer")])),
                timeline)[0] for flip in (False, True))
            tot[0] += r
            tot[1] += best
            tot[2] += j
            named += roled.has_speakers
            print(f"  {f:32s} after roles {r / j:6.1%}  clusters best-mapped {best / j:6.1%}  {note}")
        if monos:
            print(f"  MONO {len(monos)} calls: word time right after roles {tot[0] / tot[2]:.1%}, diarization alone "
                  f"(best mapping) {tot[1] / tot[2]:.1%}, speakers named on {named}/{len(monos)}; diarization "
                  f"{audio_s / max(diar_s, 1e-9):.0f}x real time")
        swapped_ok = false_swaps = n = 0
        for f, row in sorted(manifest.items()):
            if row["channels"] == "mono":
                continue
            path = os.path.abspath(os.path.join(calls, f))
            tr = transcript_of(path, row["channels"], dbs)
            script = scripts[row["script_id"]]
            name = row["agent_name"] or None
            _, warn = check_swapped(tr, script, agent_name=name)
            flipped = replace(tr, segments=tuple(
                replace(s, speaker=sp, words=tuple(replace(w, speaker=sp) for w in s.words))
                for s in tr.segments for sp in [{"agent": "customer", "customer": "agent"}.get(s.speaker, s.speaker)]))
            fixed, warn2 = check_swapped(flipped, script, agent_name=name)
            n += 1
            false_swaps += warn is not None
            swapped_ok += warn2 is not None and fixed.words("agent") == tr.words("agent")
            if warn is not None or warn2 is None:
                print(f"  {f:32s} normal: {warn}  swapped: {warn2}")
        print(f"  STEREO {n} calls: swapped detected and fixed {swapped_ok}/{n}; false swaps {false_swaps}/{n}")


if __name__ == "__main__":
    main()
