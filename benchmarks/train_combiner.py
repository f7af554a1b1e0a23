#!/usr/bin/env python3
"""Fit the matcher's combiner (qa_analyser/match/combiner.json) on labelled calls, and measure it
leave-one-script-out: for each script, the combiner is fitted on the other scripts' calls and the
held-out script's calls are judged with it. Those held-out figures are the ones that count.

Usage:
    python benchmarks/train_combiner.py                       # LOSO + in-sample figures, stereo/mono
    python benchmarks/train_combiner.py --write               # also write combiner.json (fit on all)
    python benchmarks/train_combiner.py --check ../shared/eval/hvb   # a set never fitted on

Sets (default: ../shared/eval/synth-dev and synth-dev2) must hold calls/manifest.csv, scripts/ and
labels.json. Each set is transcribed once with `qa run` into a database (--db-dir, default
./.eval-cache), and the matcher's evidence for every call (embeddings, parses: the costly part) is
cached next to it, keyed by the matcher's fingerprint, so refitting takes seconds.

The four models (see combiner.py):
- rank (unit level): a unit is a positive example of an item when at least half of it lies inside
  the labelled span of what the agent said for the item, a negative when none of it does (units
  in between are left out); it only ranks an item's units;
- said (item level): the features of the item's best unit by rank, label said / not said; its
  threshold is chosen for said-F1 on the fitting set;
- met (item level): among said items that are not verbatim, the unit the said model picks among
  those inside the labelled span; label met vs partial;
- trigger / prohibited (item level): the best non-negated unit of each line (by the model itself,
  starting from meaning or wording), label triggered / violated.
"""

from __future__ import annotations

import argparse
import csv
import json
import pickle
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa_analyser.datatypes import MatchOptions  # noqa: E402
from qa_analyser.match import CallEvidence, analyse_call, answered_p, decide  # noqa: E402
from qa_analyser.match.combiner import Combiner, LogisticModel  # noqa: E402
from qa_analyser.match.features import COL  # noqa: E402
from qa_analyser.match.policy import recover_misattributed, resolve_roles, with_note  # noqa: E402

SAID_FEATURES = ("cos", "cov", "part_cov", "fuzzy", "foreign", "length", "question", "position")
MET_FEATURES = ("cos", "cov", "part_cov", "fuzzy", "length", "numbers")
LINE_FEATURES = ("cos", "fuzzy", "cov", "foreign")
DEFAULT_SETS = [ROOT.parent / "shared/eval/synth-dev", ROOT.parent / "shared/eval/synth-dev2"]


# --------------------------------------------------------------------------- data


@dataclass
class CallCase:
    set_name: str
    call_id: str
    script_id: str
    mono: bool
    label: dict
    row: dict
    evidence: CallEvidence  # matched on the named transcript
    whole: CallEvidence | None  # diarized mono: the unseparated call
    note: str | None


def _fingerprint() -> str:
    from qa_analyser.fingerprint import matcher_fingerprint

    return matcher_fingerprint(include_combiner=False)


def load_set(set_dir: Path, db_dir: Path, model: str, run_options: list[str] = ()) -> list[CallCase]:
    from qa_analyser.store import Store

    db = db_dir / f"{set_dir.name}.db"
    cache = db_dir / f"{set_dir.name}.evidence-{_fingerprint()[:16]}.pkl"
    if cache.exists():
        return [CallCase(**d) for d in pickle.loads(cache.read_bytes())]
    if not db.exists():
        print(f"transcribing {set_dir.name} into {db} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "qa_analyser", "-q", "run", str(set_dir / "calls"), "--scripts",
                        str(set_dir / "scripts"), "--db", str(db), "--model", model, *run_options], cwd=ROOT,
                       check=False)
    from qa_analyser.scripts import load_scripts

    scripts = load_scripts(set_dir / "scripts").scripts
    labels = {str(lab["call_id"]): lab for lab in json.loads((set_dir / "labels.json").read_text())}
    with open(set_dir / "calls" / "manifest.csv", newline="") as f:
        rows = {r["call_id"]: r for r in csv.DictReader(f)}
    store = Store.open(db)
    cases: list[CallCase] = []
    for call, transcript, _tid in store.calls_for_rescore():
        if call.call_id not in labels:
            continue
        script = scripts[rows[call.call_id]["script_id"]]
        named, unseparated, note = resolve_roles(transcript, script, call.agent_name, call.file)
        ev = analyse_call(named, script, agent_name=call.agent_name)
        whole = analyse_call(unseparated, script, agent_name=call.agent_name) if unseparated is not None else None
        cases.append(CallCase(set_dir.name, call.call_id, script.id, transcript.channels == "mono",
                              labels[call.call_id], rows[call.call_id], ev, whole, note))
    store.close() if hasattr(store, "close") else None
    cache.write_bytes(pickle.dumps([c.__dict__ for c in cases]))  # plain dicts: readable from any module
    return cases


# --------------------------------------------------------------------------- fitting


def fit_logistic(x: np.ndarray, y: np.ndarray, features: tuple[str, ...], *, l2: float = 1.0,
                 balanced: bool = False) -> LogisticModel:
    """L2-regularised logistic regression by Newton's method on standardised features."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    z = (x - mean) / scale
    z1 = np.hstack([z, np.ones((len(z), 1))])
    w = np.zeros(z1.shape[1])
    sw = np.ones(len(y))
    if balanced and 0 < y.sum() < len(y):
        pos = y.mean()
        sw = np.where(y > 0, 0.5 / pos, 0.5 / (1 - pos))
    reg = np.full(z1.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-(z1 @ w)))
        g = z1.T @ (sw * (p - y)) + reg * w
        h = (z1 * (sw * p * (1 - p))[:, None]).T @ z1 + np.diag(reg) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(h, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return LogisticModel(features, tuple(float(v) for v in mean), tuple(float(v) for v in scale),
                         tuple(float(v) for v in w[:-1]), float(w[-1]))


def _cols(values: np.ndarray, features: tuple[str, ...]) -> np.ndarray:
    return values[..., [COL[f] for f in features]]


def _best_threshold(p: np.ndarray, y: np.ndarray, *, metric: str = "f1") -> float:
    best, best_t = -1.0, 0.5
    for t in np.unique(np.round(p, 3)):
        pred = p >= t
        tp, fp, fn = int((pred & y).sum()), int((pred & ~y).sum()), int((~pred & y).sum())
        if metric == "f1":
            score = 2 * tp / max(1, 2 * tp + fp + fn)
        else:  # accuracy
            score = float((pred == y).mean())
        if score > best + 1e-9:
            best, best_t = score, float(t)
    # the middle of the plateau to the next lower value keeps a margin
    lower = p[p < best_t]
    return round((best_t + lower.max()) / 2, 4) if len(lower) else best_t


def _units_time(ev: CallEvidence, speaker, sig) -> np.ndarray:
    speech = ev.speeches[speaker]
    return np.array([speech.span(a, b)[:2] for a, b in sig.units], dtype=np.float64)


def _label(case: CallCase, item_id: str) -> dict | None:
    return case.label["items"].get(item_id)


def said_rows(cases: list[CallCase], features=SAID_FEATURES):
    xs, ys = [], []
    for case in cases:
        for ie in case.evidence.items:
            lab = _label(case, ie.item.id)
            if lab is None or ie.signals is None or lab.get("expected") == "not_applicable":
                continue
            times = _units_time(case.evidence, ie.speaker, ie.signals)
            said = lab.get("expected", "met" if lab.get("said") else "missed") in ("met", "partial")
            if said and lab.get("start_s") is None:
                continue
            dur = np.maximum(times[:, 1] - times[:, 0], 1e-3)
            if said:
                ov = np.clip(np.minimum(times[:, 1], lab["end_s"]) - np.maximum(times[:, 0], lab["start_s"]), 0, None)
                share = ov / dur
                pos, neg = share >= 0.5, share <= 0.0
            else:
                pos, neg = np.zeros(len(times), bool), np.ones(len(times), bool)
            keep = (pos | neg)
            for u in ie.negated:
                keep[u] = False
            xs.append(_cols(ie.signals.values[keep], features))
            ys.append(pos[keep])
    return np.vstack(xs), np.concatenate(ys).astype(float)


def item_said_rows(cases: list[CallCase], rank: LogisticModel, features=SAID_FEATURES):
    """Per labelled (non-n/a) item: the features of its best unit by the rank model, and whether it was said."""
    xs, ys = [], []
    for case in cases:
        for ie in case.evidence.items:
            lab = _label(case, ie.item.id)
            if lab is None or lab.get("expected") == "not_applicable" or ie.signals is None:
                continue
            p = rank.probability(ie.signals.values)
            for u in ie.negated:
                p[u] = -1
            xs.append(_cols(ie.signals.values[int(np.argmax(p))], features))
            ys.append(lab.get("expected", "met" if lab.get("said") else "missed") in ("met", "partial"))
    return np.vstack(xs), np.array(ys, dtype=float)


def met_rows(cases: list[CallCase], said: LogisticModel, features=MET_FEATURES):
    xs, ys = [], []
    for case in cases:
        for ie in case.evidence.items:
            lab = _label(case, ie.item.id)
            if (lab is None or ie.signals is None or ie.item.verbatim or lab.get("expected") not in ("met", "partial")
                    or lab.get("start_s") is None):
                continue
            times = _units_time(case.evidence, ie.speaker, ie.signals)
            dur = np.maximum(times[:, 1] - times[:, 0], 1e-3)
            ov = np.clip(np.minimum(times[:, 1], lab["end_s"]) - np.maximum(times[:, 0], lab["start_s"]), 0, None)
            inside = np.flatnonzero(ov / dur >= 0.5)
            if not len(inside):
                continue
            p = said.probability(ie.signals.values[inside])
            u = inside[int(np.argmax(p))]
            xs.append(_cols(ie.signals.values[u], features))
            ys.append(lab["expected"] == "met")
    return np.vstack(xs), np.array(ys, dtype=float)


def line_rows(cases: list[CallCase], kind: str, model: LogisticModel | None, features=LINE_FEATURES,
              said: tuple[LogisticModel, LogisticModel] | None = None):
    """Item-level rows for triggers (kind="trigger") or prohibited rules: the best allowed unit."""
    xs, ys = [], []
    for case in cases:
        ev = case.evidence
        if kind == "trigger":
            groups = [(ie.item.id, ie.triggers, ie.trigger_negated, answered_p(ie, *said) if said else 0.0)
                      for ie in ev.items if ie.item.when_customer_says]
        else:
            groups = [(f"prohibited:{r.rule.id}", r.phrases, r.excluded, 0.0) for r in ev.rules]
        for key, lines, excluded, answered in groups:
            lab = _label(case, key)
            if lab is None or not lines:
                continue
            best, best_s = None, -1e9
            for k, (_phrase, sig) in enumerate(lines):
                values = sig.values.copy()
                values[:, COL["answered"]] = answered
                if model is None:
                    s = np.maximum(values[:, COL["cos"]], values[:, COL["fuzzy"]] - 0.2)
                else:
                    s = model.probability(values)
                for u in np.argsort(-s):
                    if (k, int(u)) in excluded:
                        continue
                    if s[u] > best_s:
                        best, best_s = values[u], s[u]
                    break
            if best is None:
                continue
            exp = lab.get("expected")
            y = (exp != "not_applicable") if kind == "trigger" else (exp == "violated")
            xs.append(_cols(best, features))
            ys.append(y)
    return np.vstack(xs), np.array(ys, dtype=float)


def fit_combiner(cases: list[CallCase], trained_on: str) -> Combiner:
    models: dict[str, LogisticModel] = {}
    for suffix, drop in (("", ()), ("_nosem", ("cos",))):
        sf = tuple(f for f in SAID_FEATURES if f not in drop)
        x, y = said_rows(cases, sf)
        rank = fit_logistic(x, y, sf, balanced=True)
        x, y = item_said_rows(cases, rank, sf)
        said = fit_logistic(x, y, sf)
        said = LogisticModel(**{**said.__dict__, "threshold": _best_threshold(said.probability(_expand(x, sf)),
                                                                               y.astype(bool))})
        models["rank" + suffix] = rank
        mf = tuple(f for f in MET_FEATURES if f not in drop)
        x, y = met_rows(cases, rank, mf)
        met = fit_logistic(x, y, mf, balanced=True)
        met = LogisticModel(**{**met.__dict__, "threshold": _best_threshold(met.probability(_expand(x, mf)),
                                                                             y.astype(bool), metric="accuracy")})
        models["said" + suffix], models["met" + suffix] = said, met
        for kind in ("trigger", "prohibited"):
            extra = ("answered",) if kind == "trigger" else ()
            lf = tuple(f for f in LINE_FEATURES + extra if f not in drop)
            m = None
            for _round in range(2):  # pick units by meaning/wording first, then by the model itself
                x, y = line_rows(cases, kind, m, lf, said=(rank, said))
                m = fit_logistic(x, y, lf, balanced=True)
            p = m.probability(_expand(x, lf))
            models[kind + suffix] = LogisticModel(**{**m.__dict__, "threshold": _best_threshold(
                p, y.astype(bool), metric="accuracy")})
    return Combiner(models, trained_on)


def _expand(x: np.ndarray, features: tuple[str, ...]) -> np.ndarray:
    """Rows of only `features` → rows over all FEATURES columns (others zero), for LogisticModel."""
    out = np.zeros((len(x), len(COL)))
    for i, f in enumerate(features):
        out[:, COL[f]] = x[:, i]
    return out


# --------------------------------------------------------------------------- judging and scoring


def judge(case: CallCase, combiner: Combiner, options: MatchOptions = MatchOptions()) -> dict:
    results = decide(case.evidence, combiner=combiner, options=options)
    if case.whole is not None:
        results = recover_misattributed(results, decide(case.whole, combiner=combiner, options=options))
    results = with_note(results, case.note)
    return {"call_id": case.call_id, "agent_id": case.row["agent_id"], "team": case.row.get("team"),
            "script_id": case.script_id,
            "items": [{"item_id": r.item_id, "kind": r.kind, "status": r.status, "flags": list(r.flags),
                       "start_s": r.start_s, "end_s": r.end_s, "confidence": r.confidence, "detail": r.detail,
                       "evidence": r.evidence} for r in results]}


def score(export: list[dict], labels: list[dict]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        e, lab = Path(tmp) / "export.json", Path(tmp) / "labels.json"
        e.write_text(json.dumps(export))
        lab.write_text(json.dumps(labels))
        out = subprocess.run([sys.executable, str(ROOT.parent / "shared/eval/score_eval.py"), str(e), str(lab),
                              "--json"], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def unflagged_accuracy(export: list[dict], labels: list[dict]) -> tuple[float, float, int]:
    """(share of script-item verdicts flagged low_confidence, exact accuracy of the unflagged ones, n)."""
    by_call = {c["call_id"]: {i["item_id"]: i for i in c["items"] if i["kind"] != "prohibited"} for c in export}
    flagged = ok = n = 0
    for lab in labels:
        got = by_call.get(str(lab["call_id"]), {})
        for key, li in lab["items"].items():
            if key.startswith("prohibited:") or key not in got or "expected" not in li:
                continue
            n += 1
            if "low_confidence" in got[key]["flags"]:
                flagged += 1
            else:
                ok += got[key]["status"] == li["expected"]
    return flagged / max(1, n), ok / max(1, n - flagged), n


def line(name: str, res: dict, extra: tuple[float, float, int] | None = None) -> str:
    rq = res["required_said"]
    s = (f"{name:<34} calls {res['calls_labelled']:>3}  required F1 {rq['f1']:.3f} (P {rq['precision']:.3f} "
         f"R {rq['recall']:.3f})  status {res['status_exact_accuracy']}  n/a {res['not_applicable_accuracy']}  "
         f"prohibited P {res['prohibited']['precision']} R {res['prohibited']['recall']}  "
         f"late F1 {res['late_flag']['f1']}  order F1 {res['out_of_order_flag']['f1']}")
    if extra:
        s += f"  flagged {extra[0]:.1%}, unflagged acc {extra[1]:.3f}"
    return s


def report(name: str, export: list[dict], cases: list[CallCase], out: dict) -> None:
    labels = [c.label for c in cases]
    for part, keep in (("stereo", lambda c: not c.mono), ("mono", lambda c: c.mono)):
        ids = {c.call_id for c in cases if keep(c)}
        if not ids:
            continue
        exp = [e for e in export if e["call_id"] in ids]
        lab = [lb for lb in labels if str(lb["call_id"]) in ids]
        res = score(exp, lab)
        extra = unflagged_accuracy(exp, lab)
        out[f"{name} {part}"] = {**res, "flagged_share": extra[0], "unflagged_accuracy": extra[1]}
        print(line(f"{name} {part}", res, extra))


def per_form(export: list[dict], cases: list[CallCase]) -> dict:
    """Exact-status accuracy per label form (verbatim, para, partial, ...) on stereo calls."""
    by_call = {c["call_id"]: {("prohibited:" if i["kind"] == "prohibited" else "") + i["item_id"]: i
                              for i in c["items"]} for c in export}
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for case in cases:
        if case.mono:
            continue
        for key, li in case.label["items"].items():
            form = li.get("form") or li.get("trigger_form")
            if form is None or key not in by_call.get(case.call_id, {}):
                continue
            form = f"{'prohibited ' if key.startswith('prohibited:') else ''}{form}"
            tally[form][1] += 1
            tally[form][0] += by_call[case.call_id][key]["status"] == li.get("expected")
    return {f: {"correct": c, "n": n, "accuracy": round(c / n, 3)} for f, (c, n) in sorted(tally.items())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sets", nargs="*", type=Path, default=DEFAULT_SETS)
    ap.add_argument("--db-dir", type=Path, default=ROOT / ".eval-cache")
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--run-option", action="append", default=[],
                    help="extra `qa run` option for the transcription, e.g. --run-option=--clip-seconds=28 "
                         "(repeatable; use a --db-dir of its own: a set is transcribed once per folder)")
    ap.add_argument("--write", action="store_true", help="write qa_analyser/match/combiner.json (fit on all sets)")
    ap.add_argument("--check", type=Path, action="append", default=[], help="a set only judged, never fitted on")
    ap.add_argument("--json", type=Path, help="write all figures here")
    args = ap.parse_args()
    args.db_dir.mkdir(parents=True, exist_ok=True)
    cases = [c for s in args.sets for c in load_set(s.resolve(), args.db_dir, args.model, args.run_option)]
    scripts = sorted({c.script_id for c in cases})
    print(f"{len(cases)} calls, scripts: {', '.join(scripts)}", file=sys.stderr)
    out: dict = {"sets": [s.name for s in args.sets], "scripts": scripts}

    # leave one script out: fitted on the others, judged on it
    export: list[dict] = []
    for held in scripts:
        combiner = fit_combiner([c for c in cases if c.script_id != held], f"all but {held}")
        export.extend(judge(c, combiner) for c in cases if c.script_id == held)
    print("== leave-one-script-out (each script judged by a combiner fitted without it)")
    report("LOSO all", export, cases, out)
    for held in scripts:
        sub = [c for c in cases if c.script_id == held]
        report(f"LOSO {held}", [e for e in export if e["script_id"] == held], sub, out)
    out["per_form_loso"] = per_form(export, cases)

    full = fit_combiner(cases, f"{', '.join(s.name for s in args.sets)} ({len(cases)} calls; scripts "
                                f"{', '.join(scripts)})")
    print("== in-sample (fitted on all of them)")
    report("in-sample", [judge(c, full) for c in cases], cases, out)
    for check in args.check:
        held_cases = load_set(check.resolve(), args.db_dir, args.model, args.run_option)
        print(f"== {check.name}: never fitted on")
        report(check.name, [judge(c, full) for c in held_cases], held_cases, out)
    print("== per form (LOSO, stereo): " + ", ".join(f"{f} {v['correct']}/{v['n']}"
                                                     for f, v in out["per_form_loso"].items()))
    if args.write:
        path = ROOT / "qa_analyser" / "match" / "combiner.json"
        path.write_text(json.dumps(full.as_dict(), indent=1) + "\n")
        print(f"wrote {path} (sha256 {full.checksum()[:12]})", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
