"""transcribe.py: layouts, timestamp mapping, hallucination guards, the real tiny.en model (slow)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from qa_analyser.audio import SAMPLE_RATE, AudioData, decode_audio
from qa_analyser.datatypes import Segment, Transcript, TranscriptionOptions, Word
from qa_analyser.errors import AudioError, ConfigError, ModelError
from qa_analyser.transcribe import (BATCH_CLIP_MAX_S, GAP_S, MAX_BATCH_SIZE, REDECODE_PAD_S, Transcriber, _keep_segment,
                                   batch_clips, choose_batch_size, compact_stream, splice)

CALLS = Path(__file__).resolve().parent.parent / "fixtures" / "calls"


def audio_of(*channels: np.ndarray, path: str = "synthetic.wav") -> AudioData:
    return AudioData(channels=tuple(channels), duration_s=len(channels[0]) / SAMPLE_RATE,
                     source_channels=len(channels), path=path)


def tone(freqs: list[float], seconds: float, amp: float = 0.15) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    x = sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs)
    envelope = np.minimum(1, np.minimum(t / 0.02, (seconds - t) / 0.05))
    return (amp * x * envelope).astype(np.float32)


def hold_music(seed: int, seconds: float = 14.0) -> np.ndarray:
    """Random three-note chords and arpeggios over a little noise: loud, tonal, rhythmic."""
    rng = np.random.default_rng(seed)
    notes = []
    while sum(len(n) for n in notes) < seconds * SAMPLE_RATE:
        f = 220 * 2 ** (rng.integers(0, 24) / 12)
        notes.append(tone([f, f * 1.5, f * 2.01], float(rng.choice([0.15, 0.3, 0.6])), 0.1 + 0.2 * rng.random()))
    x = np.concatenate(notes)[: int(seconds * SAMPLE_RATE)]
    return x + rng.normal(0, 0.005, len(x)).astype(np.float32)


def silence_then_noise(seconds: float = 12.0) -> np.ndarray:
    x = np.zeros(int(seconds * SAMPLE_RATE), np.float32)
    x[4 * SAMPLE_RATE :] = np.random.default_rng(1).normal(0, 0.003, len(x) - 4 * SAMPLE_RATE)
    return x


# --------------------------------------------------------------------------- no model needed


def test_compact_stream_maps_times_back() -> None:
    samples = np.arange(20 * SAMPLE_RATE, dtype=np.float32)
    regions = [(1.0, 3.0), (10.0, 10.5), (15.0, 19.0)]
    stream, time_map = compact_stream(samples, regions)
    assert len(stream) == pytest.approx((2.0 + 0.5 + 4.0 + 4 * GAP_S) * SAMPLE_RATE, abs=2)
    # the first region starts after one gap
    assert stream[int(GAP_S * SAMPLE_RATE)] == samples[SAMPLE_RATE]
    assert time_map(GAP_S) == pytest.approx(1.0)
    assert time_map(GAP_S + 1.5) == pytest.approx(2.5)
    second = GAP_S + 2.0 + GAP_S
    assert time_map(second + 0.25) == pytest.approx(10.25)
    # inside a gap: an end sticks to the region before, a start to the region after
    in_gap = GAP_S + 2.0 + GAP_S / 2
    assert time_map(in_gap, is_end=True) == pytest.approx(3.0)
    assert time_map(in_gap) == pytest.approx(10.0)
    assert time_map(0.0) == pytest.approx(1.0)
    assert time_map(1000.0, is_end=True) == pytest.approx(19.0)
    # a word whose end lands in the next region is cut at the end of its own region
    assert time_map.interval(GAP_S + 1.9, second + 0.1) == pytest.approx((2.9, 3.0))
    assert time_map.interval(in_gap, second + 0.1) == pytest.approx((10.0, 10.1))


def test_unknown_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="speech_detection"):
        Transcriber(TranscriptionOptions(speech_detection="webrtc"))
    with pytest.raises(ConfigError, match="device"):
        Transcriber(TranscriptionOptions(device="tpu"))


def test_mono_file_with_stereo_layout_is_an_audio_error() -> None:
    tr = Transcriber()
    with pytest.raises(AudioError, match=r"call\.wav.*one channel"):
        tr.transcribe(audio_of(np.zeros(SAMPLE_RATE, np.float32), path="call.wav"), "agent-left")
    assert tr._model is None  # refused before loading anything


def test_unknown_layout() -> None:
    with pytest.raises(ConfigError, match="agent-middle"):
        Transcriber().transcribe(audio_of(np.zeros(SAMPLE_RATE, np.float32)), "agent-middle")


def test_cuda_without_gpu_is_a_clear_model_error() -> None:
    import ctranslate2

    if ctranslate2.get_cuda_device_count() > 0:
        pytest.skip("a CUDA device is present")
    with pytest.raises(ModelError, match="cuda"):
        Transcriber(TranscriptionOptions(device="cuda")).load()


def test_unknown_model_offline_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="offline"):
        Transcriber(TranscriptionOptions(model="large-v3")).load()


def fake_segment(text: str, *, logprob: float = -0.3, no_speech: float = 0.05, cr: float = 1.2, word_p: float = 0.9):
    words = [SimpleNamespace(word=" " + w, start=0.0, end=0.1, probability=word_p) for w in text.split()]
    return SimpleNamespace(text=" " + text, avg_logprob=logprob, no_speech_prob=no_speech, compression_ratio=cr, words=words)


@pytest.mark.parametrize(
    "segment",
    [
        fake_segment("[Music]"),
        fake_segment("(upbeat music)"),
        fake_segment("♪ ♪"),
        fake_segment("..."),
        fake_segment("Thank you.", logprob=-1.4, no_speech=0.58),
        fake_segment("Thank you.", no_speech=0.9),
        fake_segment("so so so so so so so so so so so so", cr=3.1),
        fake_segment("the the the the the the the the the the"),
        fake_segment("hmm what now", word_p=0.1),
    ],
)
def test_guards_drop_hallucination_shapes(segment) -> None:
    assert not _keep_segment(segment)


def test_guards_keep_ordinary_speech() -> None:
    assert _keep_segment(fake_segment("Thank you for calling Greenfield Energy, my name is Sarah."))
    assert _keep_segment(fake_segment("Thank you.", logprob=-0.4, no_speech=0.3))


# --------------------------------------------------------------------------- a stand-in model


class FakeWhisper:
    """Records what it was asked to decode; answers one segment of timed words (stream seconds)."""

    def __init__(self, words: list[tuple[str, float, float]], *, multilingual: bool = False):
        self.words = words
        self.calls: list[dict] = []
        self.model = SimpleNamespace(is_multilingual=multilingual)

    def transcribe(self, stream, **kw):
        self.calls.append({"samples": len(stream), "peak": float(np.abs(stream).max()) if len(stream) else 0.0, **kw})
        words = [SimpleNamespace(word=" " + w, start=a, end=b, probability=0.9) for w, a, b in self.words]
        seg = SimpleNamespace(text=" " + " ".join(w for w, _, _ in self.words), start=self.words[0][1],
                              end=self.words[-1][2], avg_logprob=-0.2, no_speech_prob=0.01, compression_ratio=1.1,
                              words=words)
        return iter([seg]), SimpleNamespace(language=kw.get("language") or "en", duration_after_vad=0.0)


def with_fake(model: FakeWhisper, options: TranscriptionOptions = TranscriptionOptions(device="cpu", speech_detection="none"),
              **kw) -> Transcriber:
    tr = Transcriber(options, **kw)
    tr._model, tr.model_id, tr.device, tr.compute_type = model, "fake", "cpu", "int8"
    tr.english_only = not model.model.is_multilingual
    return tr


def speechy(seconds: float, amp: float) -> np.ndarray:
    return tone([300.0, 700.0], seconds, amp)


def test_transcribe_passes_hotwords_and_language() -> None:
    fake = FakeWhisper([("hola", 0.5, 0.8)], multilingual=True)
    tr = with_fake(fake)
    t = tr.transcribe(audio_of(speechy(3, 0.2)), "mono", hotwords="  Sol Energía, factura ", language="es-ES")
    assert fake.calls[0]["hotwords"] == "Sol Energía, factura" and fake.calls[0]["language"] == "es"
    assert t.language == "es" and t.options.language == "es-ES"
    tr.transcribe(audio_of(speechy(3, 0.2)), "mono", hotwords="  ")
    assert fake.calls[1]["hotwords"] is None and fake.calls[1]["language"] is None


def test_english_only_model_refuses_a_per_call_language() -> None:
    tr = with_fake(FakeWhisper([("hello", 0.5, 0.8)]))
    with pytest.raises(ConfigError, match="English-only"):
        tr.transcribe(audio_of(speechy(3, 0.2)), "mono", language="fr")
    assert tr._language(None) == "en"


def test_redecode_decodes_the_padded_window_of_the_speakers_channel() -> None:
    left, right = speechy(10, 0.1), speechy(10, 0.3)  # tell the channels apart by level
    # stream seconds: the window starts at 4.0 - pad; the last word's middle falls past end_s
    fake = FakeWhisper([("edge", 0.0, 0.3), ("recorded", 0.6, 1.0), ("for", 1.0, 1.2), ("quality", 1.2, 1.7),
                        ("after", 2.9, 3.2)])
    tr = with_fake(fake)
    segs = tr.redecode(audio_of(left, right), "agent-right", 4.0, 6.0, speaker="agent", hotwords="quality",
                       beam_size=5)
    call = fake.calls[0]
    assert call["samples"] == int((2.0 + 2 * REDECODE_PAD_S) * SAMPLE_RATE)
    assert call["peak"] == pytest.approx(0.3, abs=0.01)  # the right channel: the agent's
    assert call["beam_size"] == 5 and call["hotwords"] == "quality" and call["language"] == "en"
    assert call["clip_timestamps"] == "0" and call["vad_filter"] is False
    (seg,) = segs
    assert [w.text for w in seg.words] == ["recorded", "for", "quality"]
    assert seg.words[0].start == pytest.approx(4.0 - REDECODE_PAD_S + 0.6)
    assert seg.start == seg.words[0].start and seg.end == pytest.approx(5.2)
    assert seg.speaker == "agent" and seg.channel == 1 and seg.text == "recorded for quality"


def test_redecode_checks_its_arguments() -> None:
    tr = with_fake(FakeWhisper([("x", 0.0, 0.1)]))
    stereo = audio_of(speechy(4, 0.2), speechy(4, 0.2))
    with pytest.raises(ConfigError, match="speaker"):
        tr.redecode(stereo, "agent-left", 1.0, 2.0, speaker="unknown")
    with pytest.raises(ConfigError, match="empty"):
        tr.redecode(stereo, "agent-left", 2.0, 2.0, speaker="agent")
    with pytest.raises(AudioError):
        tr.redecode(audio_of(speechy(4, 0.2)), "agent-left", 1.0, 2.0, speaker="agent")
    mono = tr.redecode(audio_of(speechy(4, 0.2)), "mono", 0.0, 1.0, speaker="unknown")
    assert mono and all(s.speaker == "unknown" and s.channel is None for s in mono)
    diarized = tr.redecode(audio_of(speechy(4, 0.2)), "mono", 0.0, 1.0, speaker="agent")
    assert diarized and all(s.speaker == "agent" and s.words[0].speaker == "agent" for s in diarized)


def word(text: str, start: float, end: float, speaker: str = "agent") -> Word:
    return Word(text=text, start=start, end=end, probability=0.9, speaker=speaker)  # type: ignore[arg-type]


def seg(*words: Word, channel: int | None = 0) -> Segment:
    return Segment(text=" ".join(w.text for w in words), start=words[0].start, end=words[-1].end,
                   speaker=words[0].speaker, words=tuple(words), channel=channel)


def test_splice_replaces_only_the_speakers_words_in_the_window() -> None:
    agent = seg(word("thank", 1.0, 1.3), word("you", 1.3, 1.5), word("call", 3.0, 3.4), word("is", 3.4, 3.5),
                word("recording", 3.5, 4.0), word("for", 6.5, 6.7), word("sure", 6.7, 7.0))
    customer = seg(word("okay", 4.0, 4.5, "customer"), channel=1)
    t = Transcript(segments=(agent, customer), duration_s=10.0, channels="agent-left", options=TranscriptionOptions())
    new = [seg(word("pad", 2.4, 2.6), word("call", 3.0, 3.3), word("is", 3.3, 3.4), word("recorded", 3.4, 4.0),
               word("for", 4.0, 4.2), word("quality", 4.2, 4.8))]
    out = splice(t, new, 2.8, 5.0, "agent")
    assert [w.text for w in out.words("agent")] == ["thank", "you", "call", "is", "recorded", "for", "quality",
                                                    "for", "sure"]
    assert out.words("customer") == t.words("customer")
    agent_segs = [s for s in out.segments if s.speaker == "agent"]
    assert [s.text for s in agent_segs] == ["thank you", "call is recorded for quality", "for sure"]
    assert [s.start for s in out.segments] == sorted(s.start for s in out.segments)
    assert out.duration_s == t.duration_s and out.options == t.options


def test_splice_with_nothing_found_removes_the_window() -> None:
    t = Transcript(segments=(seg(word("a", 1.0, 1.2), word("b", 2.0, 2.2)),), duration_s=5.0, channels="agent-left",
                   options=TranscriptionOptions())
    assert [w.text for w in splice(t, [], 1.5, 3.0, "agent").words()] == ["a"]
    assert splice(t, [], 1.5, 3.0, "customer") == t


# --------------------------------------------------------------------------- batched decoding


def test_batch_size_from_free_gpu_memory() -> None:
    model = 75 << 20  # tiny.en's model.bin
    assert choose_batch_size(None, model) == 8  # free memory unknown: a moderate default
    assert choose_batch_size(0, model) == 1
    assert choose_batch_size(1 << 30, model) == 2  # 1 GiB free: 0.6 GiB / (150 + 64 MiB)
    assert choose_batch_size(140 << 30, model) == MAX_BATCH_SIZE
    assert choose_batch_size(8 << 30, 145 << 20) == 13  # base on an 8 GiB card
    with pytest.raises(ConfigError, match="batch_size"):
        Transcriber(TranscriptionOptions(batch_size=MAX_BATCH_SIZE + 1))


def test_batched_clips_longer_than_a_window_are_cut_at_a_pause() -> None:
    # 70 s of unbroken "speech" with short pauses at 24 s and 49 s: one region, so one long clip
    stream = speechy(70, 0.2)
    for pause in (24.0, 49.0):
        stream[int(pause * SAMPLE_RATE):int((pause + 0.2) * SAMPLE_RATE)] = 0.0
    pieces = batch_clips(stream, [(0.3, 69.5), (70.0, 75.0)])
    assert all(b - a <= BATCH_CLIP_MAX_S for a, b in pieces)
    assert pieces[0][0] == 0.3 and pieces[-1] == (70.0, 75.0) and pieces[-2][1] == 69.5
    assert [round(b, 1) for a, b in pieces[:2]] == [24.1, 49.1]  # cut in the pauses
    assert all(pieces[i][1] == pieces[i + 1][0] for i in range(len(pieces) - 2))  # nothing lost between pieces


class FakeBatched:
    """Stands in for faster-whisper's BatchedInferencePipeline: one segment per clip, its first word
    at the clip's start, so the test can check which channel and time each clip comes back to."""

    def __init__(self):
        self.calls: list[dict] = []

    def transcribe(self, stream, **kw):
        self.calls.append({"samples": len(stream), **kw})
        segs = []
        for n, clip in enumerate(kw["clip_timestamps"]):
            a = clip["start"]
            words = [SimpleNamespace(word=f" clip{n}", start=a, end=a + 0.3, probability=0.9),
                     SimpleNamespace(word=" said", start=a + 0.3, end=a + 0.5, probability=0.9)]
            segs.append(SimpleNamespace(text=f" clip{n} said", start=a, end=a + 0.5, avg_logprob=-0.2,
                                        no_speech_prob=0.01, compression_ratio=1.1, words=words))
        return iter(segs), SimpleNamespace(language="en")


def test_batched_decoding_sends_both_channels_clips_at_once_and_maps_them_back() -> None:
    def hiss(seconds: float) -> np.ndarray:
        return np.random.default_rng(int(seconds)).normal(0, 0.001, int(seconds * SAMPLE_RATE)).astype(np.float32)

    left = np.concatenate([hiss(2), speechy(1.5, 0.2), hiss(6)])
    right = np.concatenate([hiss(6), speechy(1.5, 0.2), hiss(2)])
    tr = with_fake(FakeWhisper([("x", 0.0, 0.1)]), TranscriptionOptions(device="cpu", batch_size=4))
    tr.batch_size = tr._resolve_batch_size()
    tr._batched = FakeBatched()
    t = tr.transcribe(audio_of(left, right), "agent-right")
    (call,) = tr._batched.calls
    assert call["batch_size"] == 4 and call["word_timestamps"] and len(call["clip_timestamps"]) == 2
    assert call["samples"] < len(left)  # only the speech (and short gaps) of both channels was sent
    by_speaker = {s.speaker: s for s in t.segments}
    assert by_speaker["customer"].channel == 0 and by_speaker["agent"].channel == 1
    # each clip's start maps back to its own channel's speech region (which begins 0.25 s early: padding)
    assert by_speaker["customer"].words[0].start == pytest.approx(2.0 - 0.25, abs=0.03)  # the left channel's
    assert by_speaker["agent"].words[0].start == pytest.approx(6.0 - 0.25, abs=0.03)  # the right channel's
    assert t.options.batch_size == 4 and t.speech_s == pytest.approx(2 * (1.5 + 0.25 + 0.4), abs=0.1)  # padded regions


def test_clip_seconds_bounds_the_packed_clips_and_keys_the_transcript() -> None:
    """Energy-gated speech is packed into clips of whole regions of at most clip_s seconds: longer
    clips, fewer of Whisper's windows. A non-default clip length keys the transcript (another
    transcript), the default keeps the key stored transcripts have."""
    hiss = np.random.default_rng(3).normal(0, 0.001, 4 * SAMPLE_RATE).astype(np.float32)
    bursts = np.concatenate([part for _ in range(24) for part in (speechy(2.0, 0.2), hiss)])
    clips = {}
    for clip_s in (20.0, 28.0):
        fake = FakeWhisper([("x", 0.0, 0.1)])
        with_fake(fake, TranscriptionOptions(device="cpu", clip_s=clip_s)).transcribe(audio_of(bursts), "mono")
        bounds = fake.calls[0]["clip_timestamps"]
        clips[clip_s] = list(zip(bounds[::2], bounds[1::2]))
        assert all(0 < b - a <= clip_s for a, b in clips[clip_s])
    assert len(clips[28.0]) < len(clips[20.0])
    assert clips[28.0][-1][1] == pytest.approx(clips[20.0][-1][1])  # the same speech, cut differently
    assert TranscriptionOptions(clip_s=20.0).key() == TranscriptionOptions().key()
    assert TranscriptionOptions(clip_s=28.0).key() == TranscriptionOptions().key() + ";clip=28"


def test_batch_size_auto_is_sequential_on_cpu_and_sized_from_memory_on_cuda(monkeypatch, tmp_path) -> None:
    from qa_analyser import transcribe

    tr = with_fake(FakeWhisper([("x", 0.0, 0.1)]), TranscriptionOptions(device="cpu"))
    assert tr._resolve_batch_size() == 1
    (tmp_path / "model.bin").write_bytes(b"0" * 1000)
    tr.device, tr._model_path = "cuda", str(tmp_path)
    monkeypatch.setattr(transcribe, "gpu_free_memory", lambda index=0: 2 << 30)
    assert tr._resolve_batch_size() == choose_batch_size(2 << 30, 1000) == 19
    silero = with_fake(FakeWhisper([("x", 0.0, 0.1)]), TranscriptionOptions(speech_detection="silero", batch_size=8))
    assert silero._resolve_batch_size() == 1  # batched decoding works on the energy-gated clips only


# --------------------------------------------------------------------------- the real model


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    tr = Transcriber(TranscriptionOptions(model="tiny.en", device="cpu"))
    tr.load()
    return tr


def timeline(name: str) -> list[dict]:
    return json.loads((CALLS / f"{name}.timeline.json").read_text())


def near_utterance(word, utterances: list[dict], slack: float = 0.6) -> bool:
    mid = (word.start + word.end) / 2
    return any(u["start_s"] - slack <= mid <= u["end_s"] + slack for u in utterances)


def check_transcript(t: Transcript, duration: float) -> None:
    assert t.segments, "no speech recognised"
    starts = [s.start for s in t.segments]
    assert starts == sorted(starts)
    for s in t.segments:
        assert 0.0 <= s.start <= s.end <= duration + 0.01
        for w in s.words:
            assert s.start <= w.start <= w.end <= s.end and w.speaker == s.speaker


@pytest.mark.slow
def test_stereo_agent_left_labels_and_times(transcriber: Transcriber) -> None:
    audio = decode_audio(CALLS / "inbound-01.wav")
    t = transcriber.transcribe(audio, "agent-left")
    check_transcript(t, audio.duration_s)
    assert t.channels == "agent-left" and t.device == "cpu" and t.compute_type == "int8"
    assert t.model_id.startswith("tiny.en@sha256:") and t.options.speech_detection == "energy"
    assert 0 < t.speech_s < 2 * audio.duration_s
    assert {s.speaker for s in t.segments} == {"agent", "customer"}
    assert all(s.channel == (0 if s.speaker == "agent" else 1) for s in t.segments)
    agent_text = " ".join(w.text for w in t.words("agent")).lower()
    assert "thank you for calling" in agent_text and "energy" in agent_text
    lines = timeline("inbound-01")
    agent_lines = [u for u in lines if u["speaker"] == "agent"]
    customer_lines = [u for u in lines if u["speaker"] == "customer"]
    assert all(near_utterance(w, agent_lines) for w in t.words("agent"))
    assert all(near_utterance(w, customer_lines) for w in t.words("customer"))
    first = t.words("agent")[0]
    assert first.start == pytest.approx(agent_lines[0]["start_s"], abs=0.6)


@pytest.mark.slow
def test_agent_right_layout(transcriber: Transcriber) -> None:
    audio = decode_audio(CALLS / "inbound-02.mp3")
    t = transcriber.transcribe(audio, "agent-right")
    check_transcript(t, audio.duration_s)
    assert all(s.channel == (1 if s.speaker == "agent" else 0) for s in t.segments)
    agent_text = " ".join(w.text for w in t.words("agent")).lower()
    assert "energy" in agent_text
    customer_text = " ".join(w.text for w in t.words("customer")).lower()
    assert "cancel" in customer_text


@pytest.mark.slow
def test_mono_call_is_unknown_speaker(transcriber: Transcriber) -> None:
    audio = decode_audio(CALLS / "inbound-03.mp3")
    t = transcriber.transcribe(audio, "mono")
    check_transcript(t, audio.duration_s)
    assert {s.speaker for s in t.segments} == {"unknown"} and not t.has_speakers
    assert all(s.channel is None for s in t.segments)
    assert "thank you for calling" in t.text.lower()


@pytest.mark.slow
def test_stereo_given_mono_layout_is_downmixed(transcriber: Transcriber) -> None:
    audio = decode_audio(CALLS / "inbound-01.wav")
    t = transcriber.transcribe(audio, "mono")
    assert {s.speaker for s in t.segments} == {"unknown"}
    text = t.text.lower()
    assert "thank you for calling" in text and "bill" in text  # both parties heard


@pytest.mark.slow
@pytest.mark.parametrize("detection", ["energy", "none"])
def test_hold_music_and_silence_give_no_text(detection: str) -> None:
    tr = Transcriber(TranscriptionOptions(speech_detection=detection, device="cpu"))
    for seed in (0, 1, 2, 3):
        t = tr.transcribe(audio_of(hold_music(seed), path=f"music{seed}.wav"), "mono")
        assert t.segments == (), (seed, t.text)
    t = tr.transcribe(audio_of(silence_then_noise(), silence_then_noise()), "agent-left")
    assert t.segments == ()


@pytest.mark.slow
def test_silero_option_runs(transcriber: Transcriber) -> None:
    tr = Transcriber(TranscriptionOptions(speech_detection="silero", device="cpu"))
    tr._model, tr.model_id, tr.device, tr.compute_type, tr.english_only = (
        transcriber._model, transcriber.model_id, transcriber.device, transcriber.compute_type, True)
    audio = decode_audio(CALLS / "inbound-03.mp3")
    t = tr.transcribe(audio, "mono")
    assert t.options.speech_detection == "silero" and 0 < t.speech_s <= audio.duration_s


@pytest.mark.slow
def test_model_loaded_once(transcriber: Transcriber) -> None:
    model = transcriber._model
    audio = decode_audio(CALLS / "inbound-03.mp3")
    transcriber.transcribe(audio, "mono")
    assert transcriber._model is model


@pytest.mark.slow
def test_redecode_recovers_the_recording_notice(transcriber: Transcriber) -> None:
    audio = decode_audio(CALLS / "inbound-01.wav")
    notice = next(u for u in timeline("inbound-01") if u.get("item") == "recording_notice")
    segs = transcriber.redecode(audio, "agent-left", notice["start_s"], notice["end_s"], speaker="agent",
                                hotwords="Greenfield Energy, recorded, quality, training")
    words = [w for s in segs for w in s.words]
    assert words and all(s.speaker == "agent" and s.channel == 0 for s in segs)
    assert all(notice["start_s"] <= (w.start + w.end) / 2 <= notice["end_s"] for w in words)
    text = " ".join(w.text for w in words).lower()
    assert "quality and training" in text  # tiny.en alone on the window: "... in recording for quality ..."
    t = transcriber.transcribe(audio, "agent-left")
    spliced = splice(t, segs, notice["start_s"], notice["end_s"], "agent")
    assert spliced.words("customer") == t.words("customer")


@pytest.mark.slow
def test_redecode_with_a_larger_recheck_model(transcriber: Transcriber) -> None:
    tr = with_fake(transcriber._model, TranscriptionOptions(device="cpu"), recheck_model="base")
    audio = decode_audio(CALLS / "inbound-01.wav")
    notice = next(u for u in timeline("inbound-01") if u.get("item") == "recording_notice")
    segs = tr.redecode(audio, "agent-left", notice["start_s"], notice["end_s"], speaker="agent")
    assert tr.recheck_model_id.startswith("base@sha256:")
    text = " ".join(w.text for s in segs for w in s.words).lower()
    assert "this call is recorded for quality and training" in text


@pytest.mark.slow
def test_batched_decoding_with_the_real_model(transcriber: Transcriber) -> None:
    """The path --device cuda takes by default, exercised on the CPU: faster-whisper's batched pipeline."""
    tr = with_fake(transcriber._model, TranscriptionOptions(device="cpu", batch_size=4))
    tr.batch_size = tr._resolve_batch_size()
    audio = decode_audio(CALLS / "inbound-01.wav")
    t = tr.transcribe(audio, "agent-left")
    check_transcript(t, audio.duration_s)
    assert t.options.batch_size == 4 and {s.speaker for s in t.segments} == {"agent", "customer"}
    agent_text = " ".join(w.text for w in t.words("agent")).lower()
    assert "thank you for calling" in agent_text
    agent_lines = [u for u in timeline("inbound-01") if u["speaker"] == "agent"]
    assert all(near_utterance(w, agent_lines) for w in t.words("agent"))


@pytest.mark.gpu
def test_cuda_float16_transcribes() -> None:
    import ctranslate2

    if ctranslate2.get_cuda_device_count() == 0:
        pytest.skip("no CUDA device")
    tr = Transcriber(TranscriptionOptions(device="cuda"))
    audio = decode_audio(CALLS / "inbound-01.wav")
    t = tr.transcribe(audio, "agent-left")
    assert t.device == "cuda" and t.compute_type == "float16"
    check_transcript(t, audio.duration_s)
    assert "thank you for calling" in " ".join(w.text for w in t.words("agent")).lower()
    auto = Transcriber(TranscriptionOptions(device="auto"))
    auto.load()
    assert auto.device == "cuda" and auto.compute_type == "float16"
    assert auto.batch_size > 1 and t.options.batch_size == tr.batch_size > 1  # batched, sized from free memory
    mixed = Transcriber(TranscriptionOptions(device="cuda", compute_type="int8_float16"))
    m = mixed.transcribe(audio, "agent-left")
    assert m.compute_type == "int8_float16"
    assert "thank you for calling" in " ".join(w.text for w in m.words("agent")).lower()
