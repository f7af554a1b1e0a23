"""Golden verdicts: the matcher's verdicts on the fixture calls' own timelines (perfect transcripts)
may change only together with the matcher's fingerprint.

A change to the matching code, the combiner, the embedding or parser model changes the fingerprint
(qa_analyser/fingerprint.py) and this test then asks for the golden file to be reviewed and written
again (`python tests/test_golden.py --update`); a change of verdicts under an unchanged fingerprint
means something that decides verdicts is not part of the fingerprint, and fails.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "fixture_verdicts.json"
CALLS = ROOT / "fixtures" / "calls"


def _transcript(timeline: Path, mono: bool):
    from qa_analyser.datatypes import Segment, Transcript, TranscriptionOptions, Word

    segments = []
    for utt in json.loads(timeline.read_text()):
        speaker = "unknown" if mono else utt["speaker"]
        texts = utt["text"].split()
        start, end = float(utt["start_s"]), float(utt["end_s"])
        step = (end - start) / max(1, len(texts))
        words = tuple(Word(t, round(start + i * step, 3), round(start + (i + 1) * step, 3), 0.95, speaker)
                      for i, t in enumerate(texts))
        segments.append(Segment(utt["text"], start, end, speaker, words,
                                channel=None if mono else (0 if speaker == "agent" else 1)))
    duration = max(s.end for s in segments) + 1.0
    return Transcript(tuple(segments), duration, "mono" if mono else "agent-left",
                      TranscriptionOptions(model="timeline"))


def fixture_verdicts() -> dict[str, list[list]]:
    """call_id → [[item_id, status, sorted flags], ...] for every fixture call."""
    from qa_analyser.datatypes import CallInfo, MatchOptions
    from qa_analyser.match.policy import match_with_roles
    from qa_analyser.scripts import load_scripts

    scripts = load_scripts(ROOT / "scripts_library").scripts
    out: dict[str, list[list]] = {}
    with open(CALLS / "manifest.csv", newline="") as f:
        for row in csv.DictReader(f):
            stem = row["file"].rsplit(".", 1)[0]
            t = _transcript(CALLS / f"{stem}.timeline.json", mono=row["channels"] == "mono")
            call = CallInfo(path=str(CALLS / row["file"]), file=row["file"], call_id=row["call_id"],
                            agent_id=row["agent_id"], agent_name=row["agent_name"], script_id=row["script_id"])
            results = match_with_roles(t, scripts[row["script_id"]], call, MatchOptions())
            out[row["call_id"]] = [[r.item_id, r.status, sorted(r.flags)] for r in results]
    return out


def current() -> dict:
    from qa_analyser.fingerprint import components, matcher_fingerprint

    return {"fingerprint": matcher_fingerprint(), "components": components(), "verdicts": fixture_verdicts()}


def test_verdicts_change_only_with_the_fingerprint() -> None:
    golden = json.loads(GOLDEN.read_text())
    now = current()
    if now["fingerprint"] != golden["fingerprint"]:
        changed = {k: (golden["components"].get(k), v) for k, v in now["components"].items()
                   if golden["components"].get(k) != v}
        pytest.fail(f"the matcher's fingerprint changed ({', '.join(changed)}): review the verdicts and write "
                    f"the golden file again with `python tests/test_golden.py --update`")
    assert now["verdicts"] == golden["verdicts"], "verdicts changed while the fingerprint did not"


def test_fingerprint_follows_the_combiner(monkeypatch: pytest.MonkeyPatch) -> None:
    from qa_analyser import fingerprint
    from qa_analyser.match import combiner as combiner_mod

    before = fingerprint.matcher_fingerprint()
    shipped = combiner_mod.load_combiner()
    said = shipped.models["said"]
    changed = combiner_mod.Combiner({**shipped.models, "said": combiner_mod.LogisticModel(
        **{**said.__dict__, "threshold": said.threshold + 0.01})}, shipped.trained_on)
    monkeypatch.setattr(combiner_mod, "load_combiner", lambda path=None: changed)
    assert fingerprint.matcher_fingerprint() != before


def test_fingerprint_follows_the_embedding_model(monkeypatch: pytest.MonkeyPatch) -> None:
    from qa_analyser import embed, fingerprint

    before = fingerprint.matcher_fingerprint()
    monkeypatch.setattr(embed, "model_id", lambda: "")
    assert fingerprint.matcher_fingerprint() != before


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/test_golden.py --update")
    sys.path.insert(0, str(ROOT))
    GOLDEN.write_text(json.dumps(current(), indent=1) + "\n")
    print(f"wrote {GOLDEN}")
