#!/usr/bin/env python3
"""Accuracy run over a labelled set: `qa run` + `qa export`, then ../shared/eval/score_eval.py,
with stereo and mono calls scored separately.

Usage:
    python benchmarks/eval_accuracy.py ../shared/eval/synth-dev [--db eval-synth.db] [--model tiny.en]

The set folder must hold calls/ (with manifest.csv), scripts/ and labels.json. Mono calls are those
whose manifest `channels` is `mono`. The database is kept (default: <set name>.eval.db in the
current folder), so a second run only re-matches (`--rescore` forces re-matching after matcher
changes, without transcribing again).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def qa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa_analyser", "-q", *args], cwd=ROOT, capture_output=True, text=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set_dir")
    ap.add_argument("--db", default=None)
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--rescore", action="store_true", help="re-match stored transcripts first")
    ap.add_argument("--run-option", action="append", default=[],
                    help="extra `qa run` option, e.g. --run-option=--recheck-model=base (repeatable)")
    ap.add_argument("--scorer", default=str(ROOT.parent / "shared/eval/score_eval.py"))
    args = ap.parse_args()
    set_dir = Path(args.set_dir).resolve()
    db = Path(args.db or f"{set_dir.name}.eval.db").resolve()

    if args.rescore and db.exists():
        r = qa("rescore", "--db", str(db), "--scripts", str(set_dir / "scripts"))
        print(r.stdout.splitlines()[-1] if r.stdout else r.stderr, file=sys.stderr)
    r = qa("run", str(set_dir / "calls"), "--scripts", str(set_dir / "scripts"), "--db", str(db), "--model", args.model,
           *args.run_option)
    if r.returncode not in (0, 1):
        print(r.stdout, r.stderr, file=sys.stderr)
        return 2
    tail = [ln for ln in r.stdout.splitlines() if ln.startswith(("Run ", "Transcribed"))]
    print("\n".join(tail), file=sys.stderr)
    exported = json.loads(qa("export", "--db", str(db), "--format", "json").stdout)
    labels = json.loads((set_dir / "labels.json").read_text())
    with open(set_dir / "calls" / "manifest.csv", newline="") as f:
        mono_ids = {row["call_id"] for row in csv.DictReader(f) if row.get("channels") == "mono"}

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        exp_path = Path(tmp) / "export.json"
        exp_path.write_text(json.dumps(exported))
        for name, keep in (("all", lambda c: True), ("stereo", lambda c: c not in mono_ids),
                           ("mono", lambda c: c in mono_ids)):
            subset = [lab for lab in labels if keep(str(lab["call_id"]))]
            if not subset:
                continue
            lab_path = Path(tmp) / f"labels-{name}.json"
            lab_path.write_text(json.dumps(subset))
            out = subprocess.run([sys.executable, args.scorer, str(exp_path), str(lab_path), "--json"],
                                 capture_output=True, text=True, check=True)
            results[name] = json.loads(out.stdout)
    for name, res in results.items():
        rq = res["required_said"]
        print(f"[{set_dir.name} {name}] calls {res['calls_labelled']} (missing {res['calls_missing_from_export']}): "
              f"required F1 {rq['f1']} (P {rq['precision']} R {rq['recall']}), "
              f"status acc {res['status_exact_accuracy']}, n/a acc {res['not_applicable_accuracy']}, "
              f"prohibited P {res['prohibited']['precision']} R {res['prohibited']['recall']}, "
              f"late F1 {res['late_flag']['f1']}, order F1 {res['out_of_order_flag']['f1']}, "
              f"agent spearman {res['agent_rate_spearman']}")
    print(json.dumps(results, indent=1), file=open(db.with_suffix(".scores.json"), "w"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
