"""audio.py: decoding, validation errors, channels and resampling, the energy speech gate."""

from __future__ import annotations

import os
import struct
import wave
from pathlib import Path

import numpy as np
import pytest

import qa_analyser.audio as audio_module
from qa_analyser.audio import SAMPLE_RATE, AudioData, decode_audio, speech_regions
from qa_analyser.errors import AudioError, QAError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def write_wav(path: Path, channels: list[np.ndarray], rate: int) -> Path:
    data = np.stack(channels, axis=1) if len(channels) > 1 else channels[0][:, None]
    pcm = (np.clip(data, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(len(channels))
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def encode(path: Path, channels: list[np.ndarray], rate: int, codec: str, *, bit_rate: int | None = None) -> Path:
    """Encode with PyAV (mp3, flac, opus, aac ...) so tests need no external tools."""
    import av

    layout = "stereo" if len(channels) == 2 else "mono"
    data = np.stack(channels).astype(np.float32)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        if bit_rate:
            stream.bit_rate = bit_rate
        fmt = stream.codec_context.format.name
        frame_size = stream.codec_context.frame_size or 1024
        for i in range(0, data.shape[1], frame_size):
            chunk = data[:, i : i + frame_size]
            if fmt == "s16":
                frame = av.AudioFrame.from_ndarray(
                    (chunk.T.reshape(1, -1) * 32767).astype(np.int16), format="s16", layout=layout
                )
            else:  # planar float / s16p / s32p as the encoder wants
                arr = chunk if fmt.endswith("p") else chunk.T.reshape(1, -1)
                if fmt.startswith("s16"):
                    arr = (arr * 32767).astype(np.int16)
                elif fmt.startswith("s32"):
                    arr = (arr * 2147483647).astype(np.int32)
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(arr), format=fmt, layout=layout)
            frame.sample_rate = rate
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def sine(freq: float, seconds: float, rate: int, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_freq(x: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)])


# --------------------------------------------------------------------------- errors


def test_empty_file_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty\.wav.*empty"):
        decode_audio(p)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="nope.mp3"):
        decode_audio(tmp_path / "nope.mp3")


def test_text_with_mp3_name_is_not_audio(tmp_path: Path) -> None:
    p = tmp_path / "notes.mp3"
    p.write_text("This is a meeting note, not a recording.\n" * 3)
    with pytest.raises(AudioError, match=r"notes\.mp3"):
        decode_audio(p)


def test_random_bytes_never_crash(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for i, suffix in enumerate([".mp3", ".wav", ".m4a", ".ogg", ".flac"]):
        p = tmp_path / f"junk{i}{suffix}"
        p.write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
        with pytest.raises(AudioError, match=p.name):
            decode_audio(p)


def test_truncated_mp3(tmp_path: Path) -> None:
    full = encode(tmp_path / "full.mp3", [sine(440, 20.0, 16000)], 16000, "libmp3lame", bit_rate=32000)
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(full.read_bytes()[:700])
    with pytest.raises(AudioError, match=r"cut\.mp3"):
        decode_audio(cut)


def test_truncated_wav_header_declares_more(tmp_path: Path) -> None:
    full = write_wav(tmp_path / "full.wav", [sine(440, 10.0, 8000)], 8000)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[:44 + 8000 * 2 * 2])  # header + 2 s of 10 s
    with pytest.raises(AudioError, match=r"cut\.wav.*truncated"):
        decode_audio(cut)


def test_too_short(tmp_path: Path) -> None:
    p = write_wav(tmp_path / "blip.wav", [sine(440, 0.3, 8000)], 8000)
    with pytest.raises(AudioError, match=r"blip\.wav.*too short"):
        decode_audio(p)


def test_header_only_wav_is_zero_length(tmp_path: Path) -> None:
    p = write_wav(tmp_path / "zero.wav", [np.zeros(0, np.float32)], 8000)
    with pytest.raises(AudioError, match=r"zero\.wav"):
        decode_audio(p)


def test_audio_error_is_a_qa_error() -> None:
    assert issubclass(AudioError, QAError)


@pytest.mark.skipif(not (FIXTURES / "bad").is_dir(), reason="fixtures/bad not present")
@pytest.mark.parametrize("name", ["empty.wav", "truncated.mp3", "not-audio.mp3"])
def test_bad_fixtures_fail_cleanly(name: str) -> None:
    with pytest.raises(AudioError, match=name.replace(".", r"\.")):
        decode_audio(FIXTURES / "bad" / name)


# --------------------------------------------------------------------------- channels and rates


def test_stereo_44k_wav_keeps_channels_separate(tmp_path: Path) -> None:
    p = write_wav(tmp_path / "s.wav", [sine(300, 2.0, 44100), sine(1000, 2.0, 44100)], 44100)
    audio = decode_audio(p)
    assert isinstance(audio, AudioData)
    assert audio.sample_rate == SAMPLE_RATE and audio.source_channels == 2 and len(audio.channels) == 2
    assert audio.duration_s == pytest.approx(2.0, abs=0.01)
    assert all(c.dtype == np.float32 and len(c) == pytest.approx(32000, abs=20) for c in audio.channels)
    assert dominant_freq(audio.channels[0]) == pytest.approx(300, abs=5)
    assert dominant_freq(audio.channels[1]) == pytest.approx(1000, abs=5)
    assert audio.path == str(p)
    assert audio.mono().shape == audio.channels[0].shape


def test_mono_8k_upsampled(tmp_path: Path) -> None:
    p = write_wav(tmp_path / "m.wav", [sine(500, 1.5, 8000)], 8000)
    audio = decode_audio(p)
    assert audio.source_channels == 1 and len(audio.channels) == 1
    assert audio.duration_s == pytest.approx(1.5, abs=0.01)
    assert dominant_freq(audio.channels[0]) == pytest.approx(500, abs=5)
    assert np.max(np.abs(audio.channels[0])) == pytest.approx(0.3, abs=0.03)


@pytest.mark.parametrize(
    "suffix,codec,rate",
    [(".flac", "flac", 22050), (".mp3", "libmp3lame", 8000), (".ogg", "libopus", 48000),
     (".opus", "libopus", 48000), (".m4a", "aac", 32000)],
)
def test_compressed_formats_stereo(tmp_path: Path, suffix: str, codec: str, rate: int) -> None:
    p = encode(tmp_path / f"c{suffix}", [sine(400, 3.0, rate), sine(1200, 3.0, rate)], rate, codec)
    audio = decode_audio(p)
    assert len(audio.channels) == 2
    assert audio.duration_s == pytest.approx(3.0, abs=0.1)
    mid = slice(8000, 40000)
    assert dominant_freq(audio.channels[0][mid]) == pytest.approx(400, abs=10)
    assert dominant_freq(audio.channels[1][mid]) == pytest.approx(1200, abs=10)


def test_mp3_encoder_delay_is_removed(tmp_path: Path) -> None:
    """A click at 1.000 s must decode at 1.000 s (not ~0.05-0.14 s later), as the labels assume."""
    rate = 16000
    x = np.zeros(3 * rate, np.float32)
    x[rate : rate + 160] = 0.8  # 10 ms burst at exactly 1 s
    p = encode(tmp_path / "click.mp3", [x], rate, "libmp3lame", bit_rate=64000)
    audio = decode_audio(p)
    y = np.abs(audio.channels[0])
    onset = np.argmax(y > 0.2) / SAMPLE_RATE
    assert onset == pytest.approx(1.0, abs=0.005)


# --------------------------------------------------------------------------- speech_regions


def bursts(spans: list[tuple[float, float]], seconds: float, *, noise_db: float = -50.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 10 ** (noise_db / 20), int(seconds * SAMPLE_RATE)).astype(np.float32)
    t = np.arange(len(x)) / SAMPLE_RATE
    for a, b in spans:
        inside = (t >= a) & (t < b)
        # speech-like: a 150 Hz voiced buzz with syllable-rate (4 Hz) amplitude modulation
        x[inside] += (0.2 * np.sin(2 * np.pi * 150 * t[inside]) * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t[inside]))).astype(np.float32)
    return x


def covered(span: tuple[float, float], regions: list[tuple[float, float]]) -> float:
    a, b = span
    return sum(max(0.0, min(b, e) - max(a, s)) for s, e in regions) / (b - a)


def test_regions_cover_every_burst_with_padding() -> None:
    spans = [(1.0, 2.5), (5.0, 5.6), (9.0, 12.0)]
    regions = speech_regions(bursts(spans, 14.0))
    assert len(regions) == 3
    for span in spans:
        assert covered(span, regions) == 1.0
    assert regions[0][0] < 1.0 and regions[0][1] > 2.5  # padded both sides
    assert sum(e - s for s, e in regions) < 8.0  # and the silence is dropped
    assert all(isinstance(v, float) for r in regions for v in r)


def test_quiet_speech_over_louder_noise_kept() -> None:
    spans = [(2.0, 4.0)]
    x = bursts(spans, 8.0, noise_db=-35.0) * 0.2  # speech about 15 dB above a noisy floor
    assert covered(spans[0], speech_regions(x)) == 1.0


def test_close_regions_merge() -> None:
    regions = speech_regions(bursts([(1.0, 2.0), (2.3, 3.0)], 5.0))
    assert len(regions) == 1


def test_silence_and_stationary_noise_give_nothing() -> None:
    assert speech_regions(np.zeros(5 * SAMPLE_RATE, np.float32)) == []
    noise = np.random.default_rng(1).normal(0, 0.01, 5 * SAMPLE_RATE).astype(np.float32)
    assert speech_regions(noise) == []


def test_click_is_dropped() -> None:
    x = bursts([], 5.0)
    x[SAMPLE_RATE * 2 : SAMPLE_RATE * 2 + 400] = 0.5  # 25 ms click
    assert speech_regions(x) == []


def test_regions_within_bounds_and_sorted() -> None:
    regions = speech_regions(bursts([(0.0, 1.0), (3.8, 4.0)], 4.0))
    assert regions[0][0] == 0.0 and regions[-1][1] <= 4.0
    assert all(a < b for a, b in regions)
    assert all(regions[i][1] < regions[i + 1][0] for i in range(len(regions) - 1))


def test_regions_reject_stereo_array() -> None:
    with pytest.raises(ValueError):
        speech_regions(np.zeros((2, 16000), np.float32))


# --------------------------------------------------------------------------- hostile headers and bounds


def wav_bytes(*, tag: int = 1, channels: int = 1, rate: int = 8000, bits: int = 16, data: bytes = b"\0" * 16000,
              data_length: int | None = None) -> bytes:
    """A WAV file written field by field, so its header can say anything."""
    block = (channels * bits // 8) & 0xFFFF
    fmt = struct.pack("<HHIIHH", tag, channels, rate, (rate * block) & 0xFFFFFFFF, block, bits)
    length = len(data) if data_length is None else data_length
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", length) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rate": 1}, "sample rate of 1 Hz (accepted: 4,000 to 192,000 Hz)"),
        ({"rate": 0}, "sample rate of 0 Hz"),
        ({"rate": 1_000_000}, "sample rate of 1,000,000 Hz"),
        ({"channels": 0}, "declares 0 channels"),
        ({"channels": 65535}, "declares 65,535 channels (at most 8 accepted)"),
        ({"tag": 999}, "unsupported or unknown audio encoding (WAV format tag 0x03E7)"),
        ({"bits": 0}, "declares 0 bits per sample"),
        ({"tag": 3, "bits": 0}, "declares 0 bits per sample"),
        ({"tag": 0x1234, "bits": 0}, "unsupported or unknown audio encoding"),
    ],
)
def test_hostile_wav_headers_name_the_problem(tmp_path: Path, fields: dict, message: str) -> None:
    p = tmp_path / "hostile.wav"
    p.write_bytes(wav_bytes(**fields))
    with pytest.raises(AudioError) as info:
        decode_audio(p)
    assert str(info.value).startswith(f"{p}: ") and message in str(info.value), str(info.value)


def test_calls_longer_than_the_maximum_are_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(audio_module, "MAX_DURATION_S", 2)
    p = write_wav(tmp_path / "long.wav", [sine(440, 5.0, 8000)], 8000)
    declared = r"long\.wav: the file declares 5 s of audio; the longest call accepted is 2 s"
    with pytest.raises(AudioError, match=declared):
        decode_audio(p)
    # a file that declares no length (or lies about it) is stopped while decoding
    monkeypatch.setattr(audio_module, "_declared_duration", lambda container, stream: None)
    with pytest.raises(AudioError, match=r"long\.wav: longer than the longest call accepted \(2 s\)"):
        decode_audio(p)
    monkeypatch.setattr(audio_module, "MAX_DURATION_S", 6)
    assert decode_audio(p).duration_s == pytest.approx(5.0, abs=0.01)


def test_out_of_memory_is_a_clear_audio_error(tmp_path: Path, monkeypatch) -> None:
    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 62.5 KiB for an array")

    monkeypatch.setattr(audio_module, "_decode_stream", no_memory)
    p = write_wav(tmp_path / "fine.wav", [sine(440, 1.0, 8000)], 8000)
    with pytest.raises(AudioError, match=r"fine\.wav: not enough memory to decode the file") as info:
        decode_audio(p)
    assert "Unable to allocate" not in str(info.value)


@pytest.mark.parametrize("suffix", [".ogg", ".opus"])
def test_truncated_ogg_is_rejected_like_other_formats(tmp_path: Path, suffix: str) -> None:
    rate = 48000
    full = encode(tmp_path / f"full{suffix}", [sine(440, 6.0, rate), sine(660, 6.0, rate)], rate, "libopus")
    assert decode_audio(full).duration_s == pytest.approx(6.0, abs=0.1)
    data = full.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(AudioError, match=rf"cut\{suffix}: truncated audio: the file ends inside an Ogg page"):
        decode_audio(cut)
    # cut exactly after a whole page: every page is intact, but the stream never ends
    last_page = data.rfind(b"OggS")
    at_page = tmp_path / f"at-page{suffix}"
    at_page.write_bytes(data[:last_page])
    with pytest.raises(AudioError, match="end-of-stream flag missing"):
        decode_audio(at_page)


def test_a_name_that_is_not_utf8_is_decoded_and_named_safely(tmp_path: Path) -> None:
    good = write_wav(tmp_path / "good.wav", [sine(440, 1.0, 8000)], 8000)
    raw = os.fsencode(tmp_path) + b"/caf\xe9.wav"
    os.rename(good, raw)
    assert decode_audio(os.fsdecode(raw)).duration_s == pytest.approx(1.0, abs=0.01)
    bad = os.fsencode(tmp_path) + b"/bad\xff.wav"
    with open(bad, "wb") as fh:
        fh.write(b"not audio")
    with pytest.raises(AudioError) as info:
        decode_audio(os.fsdecode(bad))
    assert "bad\\xff.wav" in str(info.value)
    str(info.value).encode("utf-8")  # storable: no surrogate escapes


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    with pytest.raises(AudioError, match=r"pipe\.wav: not a regular file"):
        decode_audio(fifo)


def test_decoded_channels_are_exact_and_separate_arrays(tmp_path: Path, monkeypatch) -> None:
    """Samples written in place must not be dropped, repeated or reordered, also when a file turns
    out longer than it declared and the arrays grow."""
    rate = 16000
    left = (np.arange(rate * 3) % 2000 / 4000.0).astype(np.float32)
    right = -left
    p = write_wav(tmp_path / "ramp.wav", [left, right], rate)
    for declared in (None, 0.5):  # unknown: sized for the maximum; 0.5 s: grows twice or more
        monkeypatch.setattr(audio_module, "_declared_duration", lambda container, stream, d=declared: d)
        monkeypatch.setattr(audio_module, "_MARGIN", 100)
        audio = decode_audio(p)
        assert len(audio.channels) == 2
        assert all(c.flags.c_contiguous and c.dtype == np.float32 for c in audio.channels)
        np.testing.assert_allclose(audio.channels[0], left, atol=1e-4)
        np.testing.assert_allclose(audio.channels[1], right, atol=1e-4)
        np.testing.assert_allclose(audio.mono(), 0.0, atol=1e-4)


@pytest.mark.parametrize(
    ("frame_s", "hop_s", "n"), [(0.02, 0.01, 16000 * 3 + 7), (0.025, 0.01, 12345), (0.03, 0.03, 999)]
)
def test_frame_energy_matches_the_direct_sum(frame_s: float, hop_s: float, n: int) -> None:
    x = np.random.default_rng(1).standard_normal(n).astype(np.float32)
    frame, hop = int(round(frame_s * SAMPLE_RATE)), int(round(hop_s * SAMPLE_RATE))
    n_frames = 1 + (n - frame) // hop
    direct = np.array([np.mean(x[i * hop : i * hop + frame].astype(np.float64) ** 2) for i in range(n_frames)])
    np.testing.assert_allclose(audio_module._frame_energy(x, frame, hop, n_frames), direct, rtol=1e-9)


def test_a_frame_that_changes_the_channel_count_is_skipped_as_bad(tmp_path: Path) -> None:
    """A bit flipped in one MP3 frame header can turn that frame mono inside a stereo stream."""
    full = encode(tmp_path / "full.mp3", [sine(440, 4.0, 16000), sine(660, 4.0, 16000)], 16000, "libmp3lame",
                  bit_rate=64000)
    data = bytearray(full.read_bytes())
    flipped = 0
    pos = len(data) // 2
    while flipped < 2:  # two frame headers past the middle: channel mode 11 (mono)
        pos = data.index(b"\xff", pos + 1)
        if data[pos + 1] & 0xE0 == 0xE0 and (data[pos + 1] >> 1) & 3 == 1:  # frame sync, layer III
            data[pos + 3] |= 0xC0
            flipped += 1
    p = tmp_path / "flipped.mp3"
    p.write_bytes(bytes(data))
    audio = decode_audio(p)
    assert len(audio.channels) == 2 and audio.duration_s == pytest.approx(4.0, abs=0.3)
