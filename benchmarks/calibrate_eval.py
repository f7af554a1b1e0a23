#!/usr/bin/env python3
"""Agreement of `qa`'s stored verdicts with a labelled set, through the `qa calibrate` machinery.

Usage:
    python benchmarks/calibrate_eval.py ../shared/eval/synth-dev --db /tmp/cal-synth.db [--csv labels.csv]
        [--format text|json]

The set's labels.json becomes the reviewers' CSV of `qa calibrate` (call_id,item_id,status): each
label's "expected" status, or else said → met / not said → missed; "prohibited:<id>" keys become
item_id <id> with met / violated. It is then compared with the verdicts stored in --db (made by
`python benchmarks/eval_accuracy.py SET --db DB`; opening it applies pending migrations, so point
this at a copy when others use the database). Prints the calibration report, then one summary line
per subset (all, stereo, mono calls).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa_analyser.calibrate import calibrate, read_human_csv, verdicts_from_calls  # noqa: E402
from qa_analyser.report import calibration_json, calibration_text  # noqa: E402
from qa_analyser.store import Store  # noqa: E402


def labels_to_csv(labels: list[dict], keep=lambda call_id: True) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["call_id", "item_id", "status", "reviewer", "notes"])
    for lab in labels:
        if not keep(str(lab["call_id"])):
            continue
        for key, li in lab["items"].items():
            prohibited = key.startswith("prohibited:")
            status = li.get("expected")
            if status is None:
                status = ("violated" if li.get("said") else "met") if prohibited else (
                    "met" if li.get("said") else "missed")
            w.writerow([lab["call_id"], key.removeprefix("prohibited:"), status, "labels.json",
                        "" if "expected" in li else "from said"])
    return buf.getvalue()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set_dir")
    ap.add_argument("--db", required=True, help="database made by eval_accuracy.py (a copy: it may be migrated)")
    ap.add_argument("--csv", default=None, help="also write the converted labels here")
    ap.add_argument("--format", choices=("text", "json"), default="text")
    args = ap.parse_args()
    set_dir = Path(args.set_dir).resolve()
    labels = json.loads((set_dir / "labels.json").read_text())
    mono_ids: set[str] = set()
    manifest = set_dir / "calls" / "manifest.csv"
    if manifest.exists():
        with manifest.open(newline="") as f:
            mono_ids = {row["call_id"] for row in csv.DictReader(f) if row.get("channels") == "mono"}
    if not Path(args.db).exists():
        print(f"no database at {args.db}; make one with benchmarks/eval_accuracy.py {args.set_dir} --db ...",
              file=sys.stderr)
        return 2
    with Store.open(args.db) as store:
        verdicts = verdicts_from_calls(store.stored_calls())

    text = labels_to_csv(labels)
    if args.csv:
        Path(args.csv).write_text(text)
    source = args.csv or f"{set_dir.name}/labels.json"
    result = calibrate(read_human_csv(text, source=source), verdicts)
    sys.stdout.write(calibration_json(result) if args.format == "json" else calibration_text(result))
    if args.format == "json":
        return 0
    print()
    for name, keep in (("all", lambda c: True), ("stereo", lambda c: c not in mono_ids),
                       ("mono", lambda c: c in mono_ids)):
        sub = calibrate(read_human_csv(labels_to_csv(labels, keep), source=name), verdicts)
        if not sub.labels:
            continue
        t = sub.thresholds
        sweep = "" if t is None else (
            f", thresholds current {t.current.met_threshold}/{t.current.partial_threshold} "
            f"exact {t.current.exact_accuracy:.3f} -> suggested {t.suggested.met_threshold}/"
            f"{t.suggested.partial_threshold} exact {t.suggested.exact_accuracy:.3f}"
            f"{'' if t.reliable else ' (unreliable: too few rows)'}")
        print(f"[{set_dir.name} {name}] rows {sub.labels}, matched {sub.matched}, exact "
              f"{sub.exact.accuracy:.3f} (kappa {sub.exact.kappa}), said {sub.said.accuracy:.3f} "
              f"(kappa {sub.said.kappa}){sweep}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
