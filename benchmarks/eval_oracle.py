#!/usr/bin/env python3
"""The matcher alone on perfect transcripts (the ceiling): timelines → Transcripts → match_call →
export JSON → ../shared/eval/score_eval.py, stereo and mono calls scored separately.

Usage:
    python benchmarks/eval_oracle.py ../shared/eval/synth-dev [--noise 0.1] [--seed 1] [--json]
    python benchmarks/eval_oracle.py ../shared/eval/hvb --out /tmp/hvb-oracle.json

Each utterance of calls/<file>.timeline.json becomes one Segment; its words get times spread evenly
over the utterance. Speakers: agent → agent, caller → customer; a mono call (manifest channels
"mono" or a ".mono." timeline) has every word speaker "unknown". `--noise R` simulates recogniser
errors at rate R per word (a third each: drop, substitute a similar-looking word, insert a filler),
seeded, to check robustness. `--unknown-names` drops the manifest's agent names ({agent_name} then
accepts any name); `--met` / `--partial` override the thresholds for sensitivity runs. Also prints
matching time per call.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa_analyser.datatypes import MatchOptions, Segment, Transcript, TranscriptionOptions, Word  # noqa: E402
from qa_analyser.match import MATCHER_VERSION, match_call  # noqa: E402
from qa_analyser.scripts import load_script  # noqa: E402

SPEAKER = {"agent": "agent", "caller": "customer", "customer": "customer"}


def corrupt(words: list[str], rate: float, rng: random.Random) -> list[str]:
    """ASR-like noise: drop, substitute (one letter changed) or insert a filler, each at rate/3."""
    out: list[str] = []
    for w in words:
        r = rng.random()
        if r < rate / 3:
            continue
        if r < 2 * rate / 3 and len(w) > 2:
            i = rng.randrange(len(w))
            w = w[:i] + rng.choice(string.ascii_lowercase) + w[i + 1 :]
        elif r < rate:
            out.append("uh")
        out.append(w)
    return out


def timeline_transcript(path: Path, *, mono: bool, noise: float = 0.0, seed: int = 0) -> Transcript:
    rng = random.Random(f"{seed}:{path.name}")
    segments = []
    duration = 0.0
    for utt in json.loads(path.read_text()):
        speaker = "unknown" if mono else SPEAKER[utt["speaker"]]
        texts = utt["text"].split()
        if noise:
            texts = corrupt(texts, noise, rng)
        start, end = float(utt["start_s"]), float(utt["end_s"])
        step = (end - start) / max(1, len(texts))
        words = tuple(
            Word(t, round(start + i * step, 3), round(start + (i + 1) * step, 3), 1.0, speaker)
            for i, t in enumerate(texts)
        )
        segments.append(Segment(" ".join(texts), start, end, speaker, words, channel=None if mono else
                                (0 if speaker == "agent" else 1)))
        duration = max(duration, end)
    return Transcript(tuple(segments), duration, "mono" if mono else "agent-left", TranscriptionOptions(model="oracle"))


def export_call(row: dict, results, duration: float) -> dict:
    return {
        "call_id": row["call_id"], "file": row["file"], "agent_id": row["agent_id"], "team": row.get("team"),
        "script_id": row.get("script_id"), "duration_s": duration, "matcher_version": MATCHER_VERSION,
        "items": [
            {"item_id": r.item_id, "section": r.section, "kind": r.kind, "status": r.status, "flags": list(r.flags),
             "confidence": r.confidence, "start_s": r.start_s, "end_s": r.end_s, "evidence": r.evidence,
             "detail": r.detail}
            for r in results
        ],
    }


def run(set_dir: Path, *, noise: float, seed: int, names: bool = True,
        options: MatchOptions = MatchOptions()) -> tuple[list[dict], list[float]]:
    scripts = {}
    for p in sorted((set_dir / "scripts").glob("*.y*ml")):
        s = load_script(p)
        scripts[s.id] = s
    calls, times = [], []
    with open(set_dir / "calls" / "manifest.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            stem = row["file"].rsplit(".", 1)[0]
            mono = row.get("channels") == "mono" or ".mono" in row["file"]
            transcript = timeline_transcript(set_dir / "calls" / f"{stem}.timeline.json", mono=mono, noise=noise,
                                             seed=seed)
            script = scripts[row["script_id"]] if row.get("script_id") else next(iter(scripts.values()))
            t0 = time.perf_counter()
            name = (row.get("agent_name") or None) if names else None
            results = match_call(transcript, script, agent_name=name, options=options)
            times.append(time.perf_counter() - t0)
            calls.append(export_call(row, results, transcript.duration_s))
    return calls, times


def score(export: list[dict], labels: list[dict], *, as_json: bool) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        e, lab = Path(tmp) / "export.json", Path(tmp) / "labels.json"
        e.write_text(json.dumps(export))
        lab.write_text(json.dumps(labels))
        cmd = [sys.executable, str(ROOT.parent / "shared" / "eval" / "score_eval.py"), str(e), str(lab)]
        if as_json:
            cmd.append("--json")
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("set_dir", type=Path)
    ap.add_argument("--noise", type=float, default=0.0, help="per-word ASR error rate to simulate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--met", type=float, default=MatchOptions.met_threshold, help="met threshold")
    ap.add_argument("--partial", type=float, default=MatchOptions.partial_threshold, help="partial threshold")
    ap.add_argument("--unknown-names", action="store_true", help="ignore the manifest's agent names")
    ap.add_argument("--out", type=Path, help="also write the export JSON here")
    ap.add_argument("--json", action="store_true", help="score_eval figures as JSON")
    args = ap.parse_args()
    options = MatchOptions(met_threshold=args.met, partial_threshold=args.partial)
    export, times = run(args.set_dir, noise=args.noise, seed=args.seed, names=not args.unknown_names,
                        options=options)
    if args.out:
        args.out.write_text(json.dumps(export, indent=1))
    labels = json.loads((args.set_dir / "labels.json").read_text())
    for name, keep in (("stereo", lambda cid: not cid.endswith("-mono")), ("mono", lambda cid: cid.endswith("-mono"))):
        part_labels = [lab for lab in labels if keep(str(lab["call_id"]))]
        part_export = [c for c in export if keep(str(c["call_id"]))]
        if not part_labels:
            continue
        print(f"== {args.set_dir.name} {name}: {len(part_labels)} calls, noise {args.noise}, matcher {MATCHER_VERSION}")
        print(score(part_export, part_labels, as_json=args.json), end="")
    times.sort()
    print(f"== match_call time per call: median {1000 * times[len(times) // 2]:.1f} ms, "
          f"max {1000 * times[-1]:.1f} ms over {len(times)} calls")


if __name__ == "__main__":
    main()
