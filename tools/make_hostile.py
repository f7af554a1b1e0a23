#!/usr/bin/env python3
"""Make a corpus of hostile inputs for qa-analyser: broken, lying and malicious recordings,
manifests, scripts, file names and links, with good calls mixed in, and what should happen to each.

    python tools/make_hostile.py OUT_DIR     # writes OUT_DIR/{drop,scripts,outside,...}, prints counts

Used by tests/test_hostile.py (made at test time in a temporary folder, a few MB) and
benchmarks/hostile_bench.py. Every input is made here from bytes (struct, wave) or encoded with
PyAV and then cut, so no external tool is needed.

Layout of the corpus:

    drop/                 one drop folder: good calls, hostile recordings, names and links, and
                          manifest.csv with hostile rows (each naming a valid recording)
    scripts/              demo.yaml (the one valid script) and hostile scripts
    outside/              files the links point to; their content must never be quoted
    manifests/<case>/     drop folders whose whole manifest is unusable (the run cannot start)

`Case.expect` is "process" (analysed and scored), "fail" (a stored failure whose file is
`Case.file` and whose reason names it) or "skip" (not a recording, counted as skipped).
"""

from __future__ import annotations

import io
import os
import struct
import sys
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SECRET = "root:x:0:0:SECRET-PASSWD-LINE:/root:/bin/bash"

GOOD_SCRIPT = """\
id: demo
version: "1"
name: Demo
variables:
  company: Acme Power
sections:
  - id: opening
    items:
      - id: greeting
        text: "Thank you for calling {company}, my name is {agent_name}."
        weight: 10
      - id: notice
        text: "This call is recorded for quality and training purposes."
        weight: 20
prohibited:
  - id: rude
    phrases: ["calm down"]
    weight: 5
"""

SAYS = ["Thank you for calling Acme Power, my name is Tom.",
        "This call is recorded for quality and training purposes."]


class ScriptedRecogniser:
    """A stand-in recogniser (no model): hears SAYS on every recording (stereo: on the agent channel)."""

    def transcribe(self, audio, layout, *, hotwords=None, language=None):
        from qa_analyser.datatypes import Segment, Transcript, TranscriptionOptions, Word

        segments, t = [], 0.5
        speaker = "unknown" if layout == "mono" else "agent"
        for line in SAYS:
            words = []
            for token in line.split():
                words.append(Word(token, t, t + 0.3, 0.95, speaker))
                t += 0.35
            segments.append(Segment(line, words[0].start, words[-1].end, speaker, tuple(words),
                                    channel=None if layout == "mono" else 0))
        return Transcript(tuple(segments), max(t, 1.0), layout, TranscriptionOptions(), model_id="fake",
                          device="cpu", compute_type="none")


@dataclass(frozen=True)
class Case:
    category: str
    file: str  # as the library names it: relative to drop/ (display form), or the script's path
    expect: str  # process | fail | skip
    fragment: str = ""  # a piece of the expected reason, when it is worth pinning


@dataclass
class Corpus:
    root: Path
    drop: Path
    scripts: Path
    outside: Path
    cases: list[Case] = field(default_factory=list)
    unusable_manifests: list[tuple[Path, str]] = field(default_factory=list)  # (drop folder, fragment)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.cases:
            out[c.category] = out.get(c.category, 0) + 1
        out["manifest-whole"] = len(self.unusable_manifests)
        return out

    @property
    def total(self) -> int:
        return len(self.cases) + len(self.unusable_manifests)


# --------------------------------------------------------------------------- audio makers


def pcm(seconds: float, rate: int, channels: int, seed: int) -> np.ndarray:
    """(samples, channels) int16 noise bursts: enough for the decoder, small on disk."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((int(seconds * rate), channels)) * 2000).astype("<i2")


def wav_file(path: Path, seconds: float = 1.0, rate: int = 8000, channels: int = 2, seed: int = 0) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm(seconds, rate, channels, seed).tobytes())
    data = buf.getvalue()
    write(path, data)
    return data


def wav_bytes(*, tag: int = 1, channels: int = 1, rate: int = 8000, bits: int = 16, data: bytes = b"\0" * 16000,
              data_length: int | None = None, fmt_length: int | None = None, riff: bytes = b"RIFF",
              extra_fmt: bytes = b"") -> bytes:
    """A WAV written field by field, so its header can say anything."""
    endian = "<" if riff == b"RIFF" else ">"
    block = (channels * bits // 8) & 0xFFFF
    fmt = struct.pack(endian + "HHIIHH", tag & 0xFFFF, channels & 0xFFFF, rate & 0xFFFFFFFF,
                      (rate * block) & 0xFFFFFFFF, block, bits & 0xFFFF) + extra_fmt
    length = len(data) if data_length is None else data_length
    fmt_len = len(fmt) if fmt_length is None else fmt_length
    body = (b"WAVE" + b"fmt " + struct.pack(endian + "I", fmt_len) + fmt + b"data"
            + struct.pack(endian + "I", length & 0xFFFFFFFF) + data)
    return riff + struct.pack(endian + "I", len(body)) + body


def encoded(path: Path, codec: str, *, seconds: float = 2.0, rate: int = 16000, channels: int = 2,
            container: str | None = None, seed: int = 0) -> bytes:
    """A small valid recording encoded with PyAV (mp3, flac, opus, aac ...)."""
    import av

    layout = "stereo" if channels == 2 else "mono"
    rng = np.random.default_rng(seed)
    data = (rng.standard_normal((channels, int(seconds * rate))) * 0.1).astype(np.float32)
    buf = io.BytesIO()
    with av.open(buf, "w", format=container or path.suffix.lstrip(".")) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        fmt = stream.codec_context.format.name
        frame_size = stream.codec_context.frame_size or 1024
        for i in range(0, data.shape[1], frame_size):
            chunk = data[:, i : i + frame_size]
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
    blob = buf.getvalue()
    write(path, blob)
    return blob


def write(path: Path | bytes, data: bytes) -> None:
    raw = os.fsencode(path)
    os.makedirs(os.path.dirname(raw), exist_ok=True)
    with open(raw, "wb") as fh:
        fh.write(data)


def shown(raw: bytes) -> str:
    """A relative name as the library shows it (paths.display_path)."""
    from qa_analyser.paths import display_path

    return display_path(raw)


# --------------------------------------------------------------------------- the corpus


def make_corpus(root: str | Path) -> Corpus:
    root = Path(root)
    corpus = Corpus(root=root, drop=root / "drop", scripts=root / "scripts", outside=root / "outside")
    for folder in (corpus.drop, corpus.scripts, corpus.outside):
        folder.mkdir(parents=True, exist_ok=True)
    (corpus.outside / "passwd.wav").write_text(SECRET + "\n")
    (corpus.outside / "passwd.yaml").write_text(SECRET + "\n")
    (corpus.outside / "dir").mkdir(exist_ok=True)
    wav_file(corpus.outside / "dir" / "outside-call.wav", seed=99)

    _good(corpus)
    _wav_headers(corpus)
    _truncated(corpus)
    _junk(corpus)
    _names(corpus)
    _links(corpus)
    _manifest_rows(corpus)
    _whole_manifests(corpus)
    _scripts(corpus)
    return corpus


def _add(corpus: Corpus, category: str, rel: str, expect: str, fragment: str = "") -> None:
    corpus.cases.append(Case(category, rel, expect, fragment))


def _good(corpus: Corpus) -> None:
    d = corpus.drop / "good"
    for i, rate in enumerate((8000, 16000, 44100)):
        wav_file(d / f"call-{rate}.wav", rate=rate, seed=i)
        _add(corpus, "good", f"good/call-{rate}.wav", "process")
    wav_file(d / "edge-4k.wav", rate=4000, seed=5)  # the lowest rate accepted
    _add(corpus, "good", "good/edge-4k.wav", "process")
    write(d / "eight-channels.wav", wav_bytes(channels=8, data=pcm(1.0, 8000, 8, 6).tobytes()))
    _add(corpus, "good", "good/eight-channels.wav", "process")
    for name, codec in (("call.flac", "flac"), ("call.mp3", "libmp3lame"), ("call.ogg", "libopus"),
                        ("call.opus", "libopus"), ("call.m4a", "aac")):
        rate = 48000 if codec == "libopus" else 16000
        container = {"m4a": "ipod"}.get(name.rsplit(".", 1)[1])
        encoded(d / "formats" / name, codec, rate=rate, container=container)
        _add(corpus, "good", f"good/formats/{name}", "process")
    # one stem, two extensions: two calls, neither lost (ids x.wav and x.mp3)
    wav_file(d / "x.wav", seed=7)
    encoded(d / "x.mp3", "libmp3lame")
    _add(corpus, "good", "good/x.wav", "process")
    _add(corpus, "good", "good/x.mp3", "process")
    (d / "notes.txt").write_text("not a recording")
    _add(corpus, "good", "good/notes.txt", "skip")


def _wav_headers(corpus: Corpus) -> None:
    d = corpus.drop / "wav-header"
    one_second = pcm(1.0, 8000, 1, 1).tobytes()
    cases = {
        "rate-1hz": ({"rate": 1, "data": one_second}, "sample rate of 1 Hz"),
        "rate-0": ({"rate": 0}, "sample rate of 0 Hz"),
        "rate-3999": ({"rate": 3999}, "sample rate of 3,999 Hz"),
        "rate-192001": ({"rate": 192001}, "sample rate"),
        "rate-max": ({"rate": 0xFFFFFFFF}, "sample rate"),
        "channels-0": ({"channels": 0}, "0 channels"),
        "channels-9": ({"channels": 9}, "9 channels"),
        "channels-65535": ({"channels": 65535}, "65,535 channels"),
        "bits-0": ({"bits": 0}, "0 bits per sample"),
        "float-bits-0": ({"tag": 3, "bits": 0}, "0 bits per sample"),
        "tag-0": ({"tag": 0}, "audio"),
        "tag-999": ({"tag": 999}, "format tag 0x03E7"),
        "tag-ffff": ({"tag": 0xFFFF}, "audio"),
        "tag-extensible-short": ({"tag": 0xFFFE}, "audio"),
        "data-declares-10x": ({"data": one_second, "data_length": len(one_second) * 10}, "truncated"),
        "data-empty": ({"data": b""}, "audio"),
        "data-one-byte": ({"data": b"\x01"}, "audio"),
        "fmt-length-huge": ({"fmt_length": 0xFFFFFFF0}, "audio"),
        "fmt-length-short": ({"fmt_length": 4}, "audio"),
        "rifx-rate-1": ({"riff": b"RIFX", "rate": 1}, "sample rate of 1 Hz"),
        "rifx-channels-0": ({"riff": b"RIFX", "channels": 0}, "0 channels"),
    }
    for name, (fields, fragment) in cases.items():
        write(d / f"{name}.wav", wav_bytes(**fields))
        _add(corpus, "wav-header", f"wav-header/{name}.wav", "fail", fragment)
    for rate in (1, 2, 100, 1000, 2000, 3000):
        write(d / f"low-rate-{rate}.wav", wav_bytes(rate=rate, data=one_second))
        _add(corpus, "wav-header", f"wav-header/low-rate-{rate}.wav", "fail", "sample rate")
    for channels in (10, 64, 255, 1024, 4096, 32768):
        write(d / f"many-channels-{channels}.wav", wav_bytes(channels=channels))
        _add(corpus, "wav-header", f"wav-header/many-channels-{channels}.wav", "fail", "channels")
    # compressed encodings over bytes they cannot decode, or unknown tags (not GSM 0x31: any bytes are GSM)
    for tag in (2, 0x11, 0x55, 0x161, 0x2000, 0x1234, 0x7FFF):
        write(d / f"tag-{tag:04x}-junk.wav", wav_bytes(tag=tag, bits=0 if tag > 0x1000 else 4,
                                                       data=bytes(range(256)) * 4))
        _add(corpus, "wav-header", f"wav-header/tag-{tag:04x}-junk.wav", "fail")
    write(d / "no-fmt.wav", b"RIFF" + struct.pack("<I", 12) + b"WAVEdata" + struct.pack("<I", 0))
    write(d / "riff-only.wav", b"RIFF\x00\x00\x00\x00WAVE")
    write(d / "header-44-bytes.wav", wav_bytes(data=b""))
    for name in ("no-fmt.wav", "riff-only.wav", "header-44-bytes.wav"):
        _add(corpus, "wav-header", f"wav-header/{name}", "fail")


def _truncated(corpus: Corpus) -> None:
    d = corpus.drop / "truncated"
    sources = {
        "wav": wav_file(corpus.root / "src" / "t.wav", seconds=6.0, seed=3),
        "flac": encoded(corpus.root / "src" / "t.flac", "flac", seconds=6.0),
        "mp3": encoded(corpus.root / "src" / "t.mp3", "libmp3lame", seconds=6.0),
        "ogg": encoded(corpus.root / "src" / "t.ogg", "libopus", seconds=6.0, rate=48000),
        "opus": encoded(corpus.root / "src" / "t.opus", "libopus", seconds=6.0, rate=48000),
        "m4a": encoded(corpus.root / "src" / "t.m4a", "aac", seconds=6.0, container="ipod"),
    }
    for suffix, blob in sources.items():
        fractions = (0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)  # under 0.8: see audio._TRUNCATION_TOLERANCE
        cuts = {f"cut-{int(f * 100):02d}pct": int(len(blob) * f) for f in fractions}
        cuts.update({"cut-12-bytes": 12, "cut-100-bytes": 100})
        if suffix in ("ogg", "opus"):
            cuts["cut-at-last-page"] = blob.rfind(b"OggS")  # whole pages, no end of stream
        for name, size in cuts.items():
            write(d / suffix / f"{name}.{suffix}", blob[:size])
            _add(corpus, "truncated", f"truncated/{suffix}/{name}.{suffix}", "fail")


def _junk(corpus: Corpus) -> None:
    d = corpus.drop / "junk"
    rng = np.random.default_rng(11)
    suffixes = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a")
    for suffix in suffixes:
        for size in (0, 1, 64, 4096):
            name = f"random-{size}{suffix}"
            write(d / name, rng.integers(0, 256, size, dtype=np.uint8).tobytes())
            _add(corpus, "junk", f"junk/{name}", "fail", "empty" if size == 0 else "")
        write(d / f"zeros{suffix}", b"\0" * 8192)
        _add(corpus, "junk", f"junk/zeros{suffix}", "fail")
        write(d / f"text{suffix}", b"<html><body>404 Not Found</body></html>\n" * 20)
        _add(corpus, "junk", f"junk/text{suffix}", "fail")
    write(d / "png.wav", b"\x89PNG\r\n\x1a\n" + b"\0" * 512)
    write(d / "ogg-header-only.ogg", b"OggS\x00\x02" + b"\0" * 21)
    write(d / "id3-only.mp3", b"ID3\x03\x00\x00\x00\x00\x00\x10" + b"\0" * 16)
    write(d / "flac-magic-only.flac", b"fLaC")
    write(d / "silence-0.3s.wav", wav_bytes(data=b"\0" * 4800))  # shorter than MIN_DURATION_S
    for name in ("png.wav", "ogg-header-only.ogg", "id3-only.mp3", "flac-magic-only.flac", "silence-0.3s.wav"):
        _add(corpus, "junk", f"junk/{name}", "fail")


def _names(corpus: Corpus) -> None:
    """Hostile file names on valid recordings (processed) and on broken ones (failed, named)."""
    base = os.fsencode(corpus.drop / "names")
    names = [b"caf\xe9.wav", b"\xff\xfe.wav", b"line\nbreak.wav", b"tab\there.wav", b"=cmd|' -C calc'!A0.wav",
             b"-rf.wav", b"+1.wav", b"@sum.wav", b"with space.wav", "\u0645\u0631\u062d\u0628\u0627.wav".encode(),
             "emoji-\U0001f4de.wav".encode(), b"a" * 240 + b".wav", b"ansi-\x1b[31mred.wav", b"quote\"'.wav",
             b"back\\slash.wav"]
    for i, raw in enumerate(names):
        wav_file(base + b"/good/" + raw, seed=20 + i)  # type: ignore[arg-type]
        _add(corpus, "names", shown(b"names/good/" + raw), "process")
        write(base + b"/bad/" + raw, b"not audio at all" * 10)
        _add(corpus, "names", shown(b"names/bad/" + raw), "fail")


def _links(corpus: Corpus) -> None:
    d = corpus.drop / "links"
    d.mkdir(parents=True, exist_ok=True)
    (d / "passwd.wav").symlink_to(corpus.outside / "passwd.wav")
    (d / "dangling.wav").symlink_to(corpus.outside / "gone.wav")
    (d / "outside-dir").symlink_to(corpus.outside / "dir")
    (d / "abs-etc.wav").symlink_to("/etc/passwd")
    (d / "rel-escape.mp3").symlink_to(Path("..") / ".." / "outside" / "passwd.wav")
    for name in ("passwd.wav", "dangling.wav", "outside-dir", "abs-etc.wav", "rel-escape.mp3"):
        _add(corpus, "links", f"links/{name}", "fail", "symbolic link")
    wav_file(d / "target.wav", seed=40)
    (d / "inside.wav").symlink_to(d / "target.wav")
    _add(corpus, "links", "links/target.wav", "process")
    _add(corpus, "links", "links/inside.wav", "process")
    os.mkfifo(d / "fifo.wav")
    _add(corpus, "links", "links/fifo.wav", "fail", "not a regular file")


def _manifest_rows(corpus: Corpus) -> None:
    """manifest.csv at the drop root: hostile rows, each naming its own valid recording."""
    d = corpus.drop / "manifest"
    header = "file,call_id,agent_id,agent_name,team,script_id,started_at,channels,queue\n"
    rows: list[str] = []

    def rec(name: str, seed: int) -> str:
        wav_file(d / name, seed=seed)
        return f"manifest/{name}"

    good = rec("row-good.wav", 50)
    rows.append(f"{good},m-good,ag1,Tom,t1,demo,2026-11-02T09:00:00Z,agent-left,billing\n")
    _add(corpus, "manifest-rows", good, "process")
    bad_rows = {
        "nul-call-id": "{f},m\x00nul,ag1,Tom,t1,demo,2026-11-02T09:00:00Z,agent-left,\n",
        "nul-agent": "{f},m-nul-agent,ag\x00,Tom,t1,demo,,agent-left,\n",
        "control-char": "{f},m-ctrl,ag1,\x1b[2JTom,t1,demo,,agent-left,\n",
        "bad-date": "{f},m-date,ag1,Tom,t1,demo,not-a-date,agent-left,\n",
        "bad-date-month": "{f},m-month,ag1,Tom,t1,demo,2026-13-45T99:00:00,agent-left,\n",
        "bad-channels": "{f},m-chan,ag1,Tom,t1,demo,,agent-middle,\n",
        "few-columns": "{f},m-few\n",
        "many-columns": "{f},m-many,ag1,Tom,t1,demo,,agent-left,q,extra,extra\n",
        "huge-value": "{f},m-huge," + "a" * 5000 + ",Tom,t1,demo,,agent-left,\n",
        "huge-field": "{f},m-field,ag1,Tom,t1,demo,,agent-left," + "q" * 200_000 + "\n",
        "dup-call-id": "{f},m-good,ag1,Tom,t1,demo,,agent-left,\n",
    }
    for i, (name, template) in enumerate(bad_rows.items()):
        f = rec(f"row-{name}.wav", 60 + i)
        rows.append(template.format(f=f))
        _add(corpus, "manifest-rows", f, "fail", "manifest.csv:")
    twice = rec("row-listed-twice.wav", 80)
    rows.append(f"{twice},m-twice-1,ag1,Tom,t1,demo,,agent-left,\n")
    rows.append(f"{twice},m-twice-2,ag1,Tom,t1,demo,,agent-left,\n")
    _add(corpus, "manifest-rows", twice, "fail", "already listed")
    for name in ("missing-1.wav", "../../outside/passwd.wav", "/etc/passwd"):
        rows.append(f"{name},m-{len(rows)},ag1,Tom,t1,demo,,agent-left,\n")
        _add(corpus, "manifest-rows", name, "fail", "not found")
    # last: a quote never closed swallows the rows after it; each file is failed, none guessed
    opened = rec("row-unclosed-quote.wav", 90)
    rows.append(f'{opened},"m-open,ag1,Tom,t1,demo,,agent-left,\n')
    _add(corpus, "manifest-rows", opened, "fail", "never closed")
    for i in range(3):
        f = rec(f"row-swallowed-{i}.wav", 91 + i)
        rows.append(f"{f},m-sw-{i},ag1,Tom,t1,demo,,agent-left,\n")
        _add(corpus, "manifest-rows", f, "fail", "never closed")
    (corpus.drop / "manifest.csv").write_text(header + "".join(rows), encoding="utf-8")


def _whole_manifests(corpus: Corpus) -> None:
    """Manifests no row of which can be trusted: the run refuses to start (ManifestError)."""
    base = corpus.root / "manifests"
    cases = {
        "no-file-column": ("call_id,agent_id\nc1,a1\n".encode(), "no 'file' column"),
        "file-column-twice": (b"file,call_id,file\na.wav,c1,b.wav\n", "'file' column more than once"),
        "not-utf8": (b"file,call_id\ncaf\xe9.wav,c1\n", "not UTF-8"),
        "empty": (b"", "empty"),
        "binary": (bytes(range(256)) * 4, "manifest"),
    }
    for name, (blob, fragment) in cases.items():
        folder = base / name
        wav_file(folder / "a.wav", seed=1)
        write(folder / "manifest.csv", blob)
        corpus.unusable_manifests.append((folder, fragment))
    folder = base / "link-outside"
    wav_file(folder / "a.wav", seed=1)
    (folder / "manifest.csv").symlink_to(corpus.outside / "passwd.wav")
    corpus.unusable_manifests.append((folder, "outside the drop folder"))


def _scripts(corpus: Corpus) -> None:
    d = corpus.scripts
    (d / "demo.yaml").write_text(GOOD_SCRIPT)
    def base_of(script_id: str) -> str:
        return GOOD_SCRIPT.replace("id: demo", f"id: {script_id}", 1)

    def add(name: str, text: str | bytes, fragment: str = "") -> None:
        path = d / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        _add(corpus, "scripts", shown(os.fsencode(path)), "fail", fragment)

    add("deep-flow.yaml", "id: deep\nversion: '1'\nsections: " + "[" * 50_000 + "]" * 50_000 + "\n", "nested")
    add("deep-map.yaml", "id: deep2\nversion: '1'\nsections: " + "{a: " * 50_000 + "b" + "}" * 50_000 + "\n",
        "nested")
    add("huge-number.yaml", base_of("huge").replace("weight: 10", "weight: " + "9" * 5001), "characters long")
    add("huge-pass-mark.yaml", "pass_mark: " + "1" * 5001 + "\n" + base_of("hugepm"), "pass_mark")
    add("python-tag.yaml", "!!python/object/apply:os.system ['echo owned']\n", "tags are not allowed")
    add("python-tag-value.yaml", base_of("pytag").replace("version: \"1\"",
                                                                   "version: !!python/name:os.system ''"),
        "tags are not allowed")
    add("custom-tag.yaml", base_of("ctag").replace("name: Demo", "name: !vault secret"), "tags")
    add("indent.yaml", base_of("indent").replace("        weight: 20", "      weight: 20"), "indentation")
    add("tab.yaml", base_of("tab").replace("  - id: opening", "\t- id: opening"), "tab")
    add("zero-weights.yaml", base_of("zero").replace("weight: 10", "weight: 0")
        .replace("weight: 20", "weight: 0").replace("weight: 5", "weight: 0"), "weight 0")
    many = "".join(f"      - id: i{n}\n        text: line {n}\n" for n in range(1001))
    add("too-many-items.yaml", base_of("many").replace("    items:\n", "    items:\n" + many, 1), "at most")
    add("too-big.yaml", b"# " + b"x" * (1 << 20) + b"\n", "bytes")
    add("not-utf8.yaml", b"id: latin\nname: caf\xe9\n", "not UTF-8")
    add("empty.yaml", "", "empty")
    add("nul-byte.yaml", base_of("nul").replace("name: Demo", "name: De\x00mo"), "control character")
    add("binary.yaml", bytes(range(256)), "")
    add("list.yaml", "- a\n- b\n", "must be a mapping")
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
    add("billion-laughs.yaml", laughs, "unknown key")
    add("alias-laughs-in-items.yaml", base_of("laugh").replace(
        '        weight: 10\n', '        alternatives: &w [a, b, c, d, e, f, g, h]\n        weight: 10\n'
    ).replace('        weight: 20\n', '        alternatives: [*w, *w]\n        weight: 20\n'), "must be text")
    add("multi-doc.yaml", base_of("multi") + "---\n" + base_of("multi2"), "")
    add("many-errors.yaml", base_of("errs").replace("weight: 10", "weigth: 10")
        .replace("weight: 20", "weight: heavy").replace('phrases: ["calm down"]', "phrases: []"), "")
    add("unknown-top-key.yml", base_of("demo2") + "prohibited_typo: 1\n", "unknown key")
    raw = os.fsencode(d) + b"/latin-\xe9.yaml"
    write(raw, b"id: lat\n")
    _add(corpus, "scripts", shown(raw), "fail", "missing the required key")
    (d / "evil.yaml").symlink_to(corpus.outside / "passwd.yaml")
    _add(corpus, "scripts", str(d / "evil.yaml"), "fail", "outside the scripts folder")
    (d / "dangling.yaml").symlink_to(corpus.outside / "gone.yaml")
    _add(corpus, "scripts", str(d / "dangling.yaml"), "fail", "does not exist")


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    corpus = make_corpus(sys.argv[1])
    for category, n in sorted(corpus.counts().items()):
        print(f"{category:<16} {n}")
    print(f"{'total':<16} {corpus.total}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
