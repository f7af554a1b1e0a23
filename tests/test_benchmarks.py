"""The benchmarks' own helpers that a wrong result would silently skew."""

from __future__ import annotations

import csv
import hashlib
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from sizing_bench import make_calls  # noqa: E402

from qa_analyser.audio import decode_audio  # noqa: E402


def test_sizing_copies_are_distinct_calls(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(ROOT / "fixtures/calls/inbound-01.wav", source)
    with (ROOT / "fixtures/calls/manifest.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        fields, row = reader.fieldnames, next(r for r in reader if r["file"] == "inbound-01.wav")
    with (source / "manifest.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerow(row)

    out = make_calls(source, 3, tmp_path / "calls")

    wavs = sorted(out.glob("*.wav"))
    assert len(wavs) == 3
    # identical content would be transcribed once and reused: every copy must hash differently
    assert len({hashlib.sha256(p.read_bytes()).hexdigest() for p in wavs}) == 3
    with (out / "manifest.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["file"] for r in rows) == [p.name for p in wavs]
    assert len({r["call_id"] for r in rows}) == 3
    assert all(r["agent_id"] == row["agent_id"] and r["channels"] == row["channels"] for r in rows)
    # the same call otherwise: the same channels and length, one sample apart
    a, b = decode_audio(wavs[0]), decode_audio(wavs[1])
    assert len(a.channels) == len(b.channels) == len(decode_audio(source / "inbound-01.wav").channels)
    assert len(a.channels[0]) == len(b.channels[0])
    differ = sum(int(np.count_nonzero(x != y)) for x, y in zip(a.channels, b.channels))
    assert 1 <= differ <= 2
