"""Privacy: detection, redaction before storing, `qa redact`, redacted audio, the PCI pause audit,
owner-only files and quiet logs. Transcripts are built in code; the recogniser is a stand-in except in
the slow test at the end, which runs tiny.en on fixtures/privacy."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import wave
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from qa_analyser.cli import app
from qa_analyser.datatypes import (CallInfo, ItemResult, Segment, Transcript, TranscriptionOptions, Word,
                                   WordingDiff)
from qa_analyser.errors import ConfigError
from qa_analyser.pipeline import RunOptions, run_drop_folder, start_rescore
from qa_analyser.privacy import Policy, iban_ok, luhn_ok, redact_call, script_numbers
from qa_analyser.privacy.audit import pci_audit
from qa_analyser.privacy.detect import find_in_words
from qa_analyser.scripts import load_script
from qa_analyser.score import score_call
from qa_analyser.store import Store

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})
PAN = "4556737586899855"  # passes the Luhn check
SALT = b"test-salt"


def kinds_in(text: str, **kw) -> list[tuple[str, str]]:
    words = text.split()
    return [(f.kind, " ".join(words[f.first:f.last + 1])) for f in find_in_words(words, **kw)]


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize("text, kind, said", [
    ("my card number is 4556 7375 8689 9855 thanks", "card_number", "4556 7375 8689 9855"),
    ("it's four five five six seven three seven five eight six eight nine nine eight five five",
     "card_number", "four five five six seven three seven five eight six eight nine nine eight five five"),
    ("it's forty five fifty six, seventy three seventy five, eighty six eighty nine, ninety eight fifty five",
     "card_number", "forty five fifty six, seventy three seventy five, eighty six eighty nine, ninety eight fifty five"),
    ("four double five six 7375 eight six eight double nine eight double five", "card_number",
     "four double five six 7375 eight six eight double nine eight double five"),
    ("4556-7375-8689-9855.", "card_number", "4556-7375-8689-9855."),
    ("what's the security code on the back? one two three", "security_code", "one two three"),
    ("and the expiry date? oh nine twenty seven", "expiry_date", "oh nine twenty seven"),
    ("and when does it expire? 09/27", "expiry_date", "09/27"),
    ("your sort code please? twenty, forty, sixty", "sort_code", "twenty, forty, sixty"),
    ("the account number is one two three four five six seven eight", "bank_account",
     "one two three four five six seven eight"),
    ("the iban is GB82 WEST 1234 5698 7654 32", "iban", "GB82 WEST 1234 5698 7654 32"),
    ("my social security number is one two three, four five, six seven eight nine", "ssn",
     "one two three, four five, six seven eight nine"),
    ("my national insurance number is A B one two three four five six C", "ni_number",
     "A B one two three four five six C"),
    ("my date of birth is the fourteenth of March nineteen eighty two", "date_of_birth",
     "fourteenth of March nineteen eighty two"),
    ("my email is john dot smith at gmail dot com thanks", "email", "john dot smith at gmail dot com"),
    ("it's jsmith82@outlook.com", "email", "jsmith82@outlook.com"),
    ("call me on oh seven seven double oh nine double oh one two three", "phone",
     "oh seven seven double oh nine double oh one two three"),
    ("my number is (415) 555-2671", "phone", "(415) 555-2671"),
    ("my postcode is S W one A, one A A", "address", "S W one A, one A A"),
    ("I live at 221 Baker Street, London", "address", "221 Baker Street,"),
])
def test_each_kind_is_found_in_its_spoken_forms(text, kind, said):
    assert (kind, said) in kinds_in(text)


@pytest.mark.parametrize("text", [
    "your order number is 4 7 2 9 3 1 8 8 and it comes to £29.99",
    "that's twenty nine ninety nine a month for twelve months",
    "delivery is on the fourteenth of March between nine and twelve",
    "for billing press one, for sales press two, for anything else press nine",
    "I'd like three boxes and 12 bags, the model is the X 3000",
    "your reference number is four seven two nine three one eight eight five five",
    "I've been with you since nineteen ninety nine and the plan was a hundred and twenty nine ninety nine",
])
def test_numbers_that_are_not_personal_data_are_left_alone(text):
    assert kinds_in(text) == []


def test_numbers_the_script_says_are_never_personal_data():
    text = "call one eight hundred, five five five, oh one four seven for counselling"
    assert kinds_in(text)[0][0] == "phone"
    assert kinds_in(text, allowed={"18005550147"}) == []
    for heard in ("eight hundred, five five five, oh one four seven", "1 -800 -555 -147", "0 -800 -55 -5 -0147"):
        assert kinds_in(f"call {heard} for counselling", allowed={"18005550147"}) == []
    assert kinds_in("call oh seven seven double oh nine double oh one two three", allowed={"18005550147"})
    card = "my card number is 4556 7375 8689 9855"
    assert kinds_in(card, allowed={"129", "4556"})[0][0] == "card_number"  # a short number never covers a card


def test_checksums():
    assert luhn_ok(PAN) and not luhn_ok("4556737586899856")
    assert iban_ok("GB82WEST12345698765432") and not iban_ok("GB82WEST12345698765433")


def test_a_card_number_with_a_misheard_digit_is_still_found_in_a_payment_context():
    bad = "4556737586899856"  # fails Luhn
    assert kinds_in(f"the long number on the card is {' '.join(bad)}")[0][0] == "card_number"
    assert kinds_in(f"the tracking code is {' '.join(bad)}") == []


def test_what_is_left_of_a_garbled_card_number_is_masked_in_the_answer_to_a_card_number_request():
    # "four seven nine six, ..." read with "double seven", as tiny.en wrote it
    assert kinds_in("can I take the long number on your card? I know double 796. I'm 7.") == [
        ("card_number", "double 796."), ("card_number", "7.")]
    assert kinds_in("what's the card number? it's 463. I know.") == [("card_number", "463.")]
    # other numbers of a payment are not: no request for the card's number, or an order number asked for
    assert kinds_in("the payment of 463 went through on the card") == []
    assert kinds_in("can I take the long number on your card? thanks. and your order number? 4729") == []
    # a security code or expiry date asked for since is left to its own rules
    assert kinds_in("the card number please? 4556 7375 8689 9855 and the security code? 407") == [
        ("card_number", "4556 7375 8689 9855"), ("security_code", "407")]


def test_a_pause_ends_a_number_two_answers_are_two_values():
    """The agent's "what's the CVV?" between two answers went unheard: the customer's words read
    "02 -31. 1 -1 -7." as one run, unless the pause between them ends it."""
    def timed(start: float, text: str) -> list[tuple[str, float, float]]:
        return [(w, start + 0.35 * k, start + 0.35 * k + 0.3) for k, w in enumerate(text.split())]

    agent = (timed(15.6, "and the three digit security code on the back?")
             + timed(20.4, "what's the expiry date on the card?"))
    customer = timed(23.0, "02 -31.") + timed(27.5, "1 -1 -7.")
    every = sorted(agent + customer, key=lambda w: w[1])
    found = find_in_words([w for w, _, _ in customer], [(a, b) for _, a, b in customer],
                          context_words=[w for w, _, _ in every], context_times=[(a, b) for _, a, b in every])
    assert [(f.kind, f.value) for f in found] == [("expiry_date", "0231"), ("security_code", "117")]


# --------------------------------------------------------------------------- redaction


def seg(speaker: str, start: float, text: str) -> Segment:
    words, t = [], start
    for w in text.split():
        words.append(Word(" " + w, t, t + 0.3, 0.9, speaker))
        t += 0.4
    return Segment(" " + text, start, t, speaker, tuple(words), channel=0 if speaker == "agent" else 1)


def payment_call() -> Transcript:
    return Transcript(segments=(
        seg("agent", 0.5, "Thank you for calling Acme Power, my name is Tom."),
        seg("agent", 4.0, "This call is recorded for quality and training purposes."),
        seg("agent", 8.0, "Can I take the long number on the card please?"),
        seg("customer", 12.0, "Yes it's 4556 7375 8689 9855."),
        seg("agent", 15.0, "And the expiry date and the three digit security code?"),
        seg("customer", 19.5, "Oh nine twenty seven, and one two three. My email is john dot smith at gmail dot com."),
    ), duration_s=30.0, channels="agent-left", options=TranscriptionOptions(), model_id="fake", device="cpu",
        compute_type="none")


CLEAR = ("4556", "7375", "8689", "9855", "oh nine twenty seven", "one two three", "john", "gmail")


def test_redacted_transcript_keeps_word_times_and_shows_kind_and_times():
    t = payment_call()
    red = redact_call(t, [], policy=Policy(), salt=SALT)
    assert red.counts == {"card_number": 1, "expiry_date": 1, "security_code": 1, "email": 1}
    card = red.transcript.segments[3]
    assert card.text == " Yes it's [card number, 12.8–14.3 s]"
    assert [w.text for w in card.words] == [" Yes", " it's"] + [" [card number]"] * 4
    assert [(w.start, w.end) for w in card.words] == [(w.start, w.end) for w in t.segments[3].words]
    everything = json.dumps([s.text for s in red.transcript.segments] +
                            [w.text for s in red.transcript.segments for w in s.words])
    assert not any(c in everything.lower() for c in CLEAR)
    assert red.transcript.segments[0] == t.segments[0]  # nothing personal there: untouched


def test_hash_policy_gives_the_same_token_for_the_same_value_and_card_data_is_always_masked():
    t = payment_call()
    a = redact_call(t, [], policy=Policy.parse(["email=hash"]), salt=SALT).transcript.segments[5].text
    b = redact_call(t, [], policy=Policy.parse(["personal=hash"]), salt=SALT).transcript.segments[5].text
    other = redact_call(t, [], policy=Policy.parse(["email=hash"]), salt=b"other").transcript.segments[5].text
    token = a.split("[email ")[1][:10]
    assert token in b and token not in other
    assert "[expiry date" in a and "[security code" in a
    kept = redact_call(t, [], policy=Policy.parse(["personal=keep"]), salt=SALT).transcript
    assert "john dot smith at gmail dot com" in kept.segments[5].text and "9855" not in kept.segments[3].text
    with pytest.raises(ConfigError, match="always masked"):
        Policy.parse(["card_number=keep"])
    with pytest.raises(ConfigError, match="unknown kind"):
        Policy.parse(["shoe_size=mask"])


def test_evidence_detail_and_wording_diffs_are_redacted():
    t = payment_call()
    result = ItemResult(item_id="readback", section="s", kind="required", status="met", confidence=0.9,
                        start_s=12.0, end_s=15.0,
                        evidence="yes it is four thousand five hundred and fifty six seven three seven five "
                                 "eight six eight nine nine eight five five",
                        detail="heard 'four five five six seven three seven five eight six eight nine nine eight "
                               "five five'",
                        wording=WordingDiff(fidelity=0.5, approved="read the card back", added=("9855",),
                                            substituted=(("card", "four five five six"),)))
    out = redact_call(t, [result], policy=Policy(), salt=SALT).results[0]
    text = json.dumps([out.evidence, out.detail, out.wording.added, out.wording.substituted])
    assert "[card number" in out.evidence and "[card number" in out.detail
    for digits in ("four five five six", "nine eight five five", "9855", "fifty six"):
        assert digits not in text
    assert out.status == "met" and out.start_s == 12.0  # the verdict itself is untouched


SCRIPT = """\
id: pay
version: "1"
name: Payments
variables:
  company: Acme Power
pci_pause: true
sections:
  - id: opening
    items:
      - id: greeting
        text: "Thank you for calling {company}, my name is {agent_name}."
        weight: 10
      - id: notice
        text: "This call is recorded for quality and training purposes."
        weight: 20
      - id: card
        text: "Can I take the long number on the card please?"
        weight: 10
prohibited:
  - id: rude
    phrases: ["calm down"]
    weight: 5
"""


@pytest.fixture
def script(tmp_path):
    (tmp_path / "scripts").mkdir()
    path = tmp_path / "scripts" / "pay.yaml"
    path.write_text(SCRIPT)
    return load_script(path)


def test_verdicts_on_the_redacted_transcript_are_those_on_the_clear_one(script):
    from qa_analyser.match.policy import match_with_roles
    from qa_analyser.datatypes import MatchOptions

    call = CallInfo(path="x.wav", file="x.wav", call_id="c1", agent_name="Tom")
    clear = match_with_roles(payment_call(), script, call, MatchOptions())
    red = redact_call(payment_call(), clear, policy=Policy(), salt=SALT)
    again = match_with_roles(red.transcript, script, call, MatchOptions())  # what `qa rescore` sees
    assert [(r.item_id, r.status) for r in clear] == [(r.item_id, r.status) for r in again]
    assert [(r.item_id, r.status) for r in clear] == [(r.item_id, r.status) for r in red.results]
    assert {r.item_id: r.status for r in clear}["card"] == "met"


# --------------------------------------------------------------------------- PCI pause audit


def test_pci_pause_violation_has_times_no_digits_and_fails_the_call(script):
    verdict = pci_audit(payment_call(), script.pci_pause)
    assert verdict.status == "violated" and verdict.critical and verdict.kind == "prohibited"
    assert verdict.evidence.startswith("[card number, 12.8–14.3 s]; [expiry date")
    assert verdict.start_s == pytest.approx(12.8) and verdict.speaker == "customer"
    assert not any(c.isdigit() for c in verdict.evidence.replace("12.8", "").replace("14.3", "")
                   .split("];")[0][1:].split(",")[0])
    for d in ("4556", "9855", "one two three"):
        assert d not in verdict.evidence + verdict.detail
    score = score_call([verdict])
    assert not score.passed and score.critical_failures == ("pci_pause",)
    # the same verdict from the stored, redacted transcript (qa rescore)
    red = redact_call(payment_call(), [], policy=Policy(), salt=SALT).transcript
    again = pci_audit(red, script.pci_pause)
    assert again.status == "violated" and again.evidence.startswith("[card number, 12.8–14.3 s]")
    quiet = Transcript(segments=payment_call().segments[:3], duration_s=10.0, channels="agent-left",
                       options=TranscriptionOptions())
    assert pci_audit(quiet, script.pci_pause).status == "met"


def test_pci_pause_in_scripts(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SCRIPT.replace("pci_pause: true", "pci_pause:\n  weight: 30\n  critical: false"))
    rule = load_script(path).pci_pause
    assert (rule.id, rule.weight, rule.critical) == ("pci_pause", 30, False)
    path.write_text(SCRIPT.replace("pci_pause: true", "pci_pause: false"))
    assert load_script(path).pci_pause is None
    path.write_text(SCRIPT.replace("pci_pause: true", "pci_pause: maybe"))
    with pytest.raises(Exception, match=r"s.yaml:6.*pci_pause must be true, false or a mapping"):
        load_script(path)
    path.write_text(SCRIPT.replace("id: rude", "id: pci_pause"))
    with pytest.raises(Exception, match="'pci_pause' is also an item or prohibited id"):
        load_script(path)


# --------------------------------------------------------------------------- the pipeline


def write_wav(path: Path, seconds: float = 30.0) -> None:
    t = np.arange(int(8000 * seconds)) / 8000
    tone = (np.sin(2 * np.pi * 300 * t) * 8000).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.stack([tone, tone], axis=1).tobytes())


class CardReader:
    """A stand-in recogniser: every recording is the payment call."""

    english_only = False

    def load(self):
        pass

    def transcribe(self, audio, layout, *, hotwords=None, language=None):
        return payment_call()


@pytest.fixture
def drop(tmp_path, script):
    drop = tmp_path / "drop"
    drop.mkdir()
    write_wav(drop / "pay.wav")
    (drop / "manifest.csv").write_text(
        "file,call_id,agent_id,agent_name,team,script_id,started_at,channels\n"
        "pay.wav,c-pay,a1,Tom,t1,pay,2026-11-02T09:00:00Z,agent-left\n")
    return drop, tmp_path / "scripts", tmp_path / "qa.db"


def db_bytes(db: Path) -> bytes:
    """The database and its -wal/-shm files as bytes, with the identifiers the store writes itself
    (hex digests, salts and keys: runs of 16+ hex characters holding a letter, and ISO timestamps)
    blanked out: a four-digit group of a card number can turn up inside a random hash or across a
    hash and the timestamp stored after it, which says nothing about what was said."""
    blob = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*") if p.is_file())
    blob = re.sub(rb"[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*", lambda m: b"#" if len(m.group()) >= 16 else m.group(), blob)
    return re.sub(rb"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?", b"#", blob)


def test_nothing_in_the_clear_reaches_the_database_logs_exports_or_reports(drop, caplog):
    folder, scripts, db = drop
    caplog.set_level(logging.DEBUG, logger="qa_analyser")
    store = Store.open(db)
    summary = run_drop_folder(folder, scripts, store, transcriber=CardReader())
    assert summary.counts == {"transcribed": 1}
    store.close()
    blob = db_bytes(db)
    for clear in (b"4556", b"9855", b"8689", b"john", b"gmail", PAN.encode()):
        assert clear not in blob
    assert b"[card number" in blob
    assert all(r.levelno < logging.WARNING or "4556" not in r.getMessage() for r in caplog.records)
    assert not any(c in caplog.text.lower() for c in ("4556", "9855", "gmail"))
    outputs = [runner.invoke(app, args).output for args in (
        ["export", "--db", str(db)], ["export", "--db", str(db), "--format", "csv"],
        ["report", "call", "c-pay", "--db", str(db)], ["report", "agent", "a1", "--db", str(db)],
        ["search", "card", "--db", str(db)])]
    joined = "\n".join(outputs)
    assert "[card number, 12.8–14.3 s]" in joined and "pci_pause" in joined
    assert not any(c in joined.lower() for c in ("4556", "9855", "john", "gmail"))
    exported = json.loads(outputs[0])[0] if outputs[0].lstrip().startswith("[") else json.loads(outputs[0])
    assert exported  # the export is valid JSON
    with sqlite3.connect(db) as conn:
        redaction = json.loads(conn.execute("SELECT redaction FROM transcripts").fetchone()[0])
    assert redaction["detector"] and redaction["removed"]["card_number"] == 1
    assert redaction["policy"]["email"] == "mask"
    # owner-only files
    for p in db.parent.iterdir():
        if p.name.startswith("qa.db"):
            assert p.stat().st_mode & 0o077 == 0, p


def test_pci_violation_counts_in_the_score_and_the_roll_ups(drop):
    folder, scripts, db = drop
    run_drop_folder(folder, scripts, Store.open(db), transcriber=CardReader())
    call = Store.open(db).export_calls()[0]
    pci = next(i for i in call["items"] if i["item_id"] == "pci_pause")
    assert pci["status"] == "violated" and pci["start_s"] == pytest.approx(12.8)
    assert call["passed"] is False and "pci_pause" in call["critical_failures"]
    report = runner.invoke(app, ["report", "agent", "a1", "--db", str(db), "--format", "json"])
    assert "pci_pause" in report.output
    # rescoring from the stored (redacted) transcript gives the same verdict
    store = Store.open(db)
    for _ in start_rescore(store, scripts, RunOptions()):
        pass
    again = next(i for i in Store.open(db).export_calls()[0]["items"] if i["item_id"] == "pci_pause")
    assert again["status"] == "violated" and again["evidence"] == pci["evidence"]


def test_redacted_audio_is_written_owner_only_and_bleeps_the_redacted_words(drop, tmp_path):
    folder, scripts, db = drop
    out = tmp_path / "redacted"
    store = Store.open(db)
    run_drop_folder(folder, scripts, store, RunOptions(redact_audio=str(out)), transcriber=CardReader())
    path = store.redacted_audio_path("c-pay")
    assert path is not None and path.parent == out.resolve()
    assert path.stat().st_mode & 0o777 == 0o600
    with wave.open(str(path)) as w:
        rate, data = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)
    # inside the card number (13.3-14.8 s) the 300 Hz tone is replaced by the 1 kHz bleep
    card = data[int(13.6 * rate):int(14.4 * rate), 0].astype(float)
    clear = data[int(2.0 * rate):int(2.8 * rate), 0].astype(float)
    crossings = lambda x: int(np.sum(np.diff(np.sign(x)) != 0))  # noqa: E731
    assert crossings(card) > 2.5 * crossings(clear)
    path.unlink()
    assert store.redacted_audio_path("c-pay") is None
    # a later run writes a missing copy for an unchanged call
    run_drop_folder(folder, scripts, store, RunOptions(redact_audio=str(out)), transcriber=CardReader())
    assert store.redacted_audio_path("c-pay") is not None


def test_summary_json_is_owner_only(drop, tmp_path, monkeypatch):
    from qa_analyser import cli

    path = tmp_path / "summary.json"
    path.write_text("{}")
    path.chmod(0o644)
    cli._write_private(path, "{}\n")
    assert path.stat().st_mode & 0o777 == 0o600


# --------------------------------------------------------------------------- qa redact


def test_qa_redact_scrubs_a_database_written_in_the_clear(drop):
    folder, scripts, db = drop
    store = Store.open(db)
    clear_transcript = payment_call()
    from qa_analyser.match.policy import match_with_roles
    from qa_analyser.datatypes import MatchOptions
    from qa_analyser.scripts import load_scripts

    script = next(iter(load_scripts(scripts).scripts.values()))
    call = CallInfo(path=str(folder / "pay.wav"), file="pay.wav", call_id="c-pay", agent_id="a1", agent_name="Tom",
                    script_id="pay", channels="agent-left")
    results = match_with_roles(clear_transcript, script, call, MatchOptions())
    results[2] = replace(results[2], evidence="the card is 4556 7375 8689 9855", start_s=12.0, end_s=15.0)
    run_id = store.start_run(command="run", drop_dir=str(folder), options={}, versions={})
    # the old way: no redaction
    store.save_call(run_id=run_id, call=call, recording_sha256="ab" * 32, size=1, source_channels=2,
                    transcript=clear_transcript, transcript_id=None, script=script, results=results,
                    score=score_call(results), matcher_version="old", matcher_options={})
    store.save_failure(run_id=run_id, file="other.wav", call_id="c2", stage="decode",
                       reason=f"other.wav: bad header near {PAN}")
    store.finish_run(run_id, counts={}, status="finished")
    store.close()
    db.chmod(0o644)  # as another tool may have left it
    assert b"9855" in db_bytes(db)
    result = runner.invoke(app, ["redact", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "Redacted 1 transcript(s)" in result.output
    blob = db_bytes(db)
    for clear in (b"4556", b"9855", b"8689", b"gmail", PAN.encode()):
        assert clear not in blob, clear
    wal = Path(str(db) + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    assert db.stat().st_mode & 0o777 == 0o600
    with sqlite3.connect(db) as conn:
        assert json.loads(conn.execute("SELECT redaction FROM transcripts").fetchone()[0])["by"] == "qa redact"
        run = conn.execute("SELECT command, status, versions FROM runs ORDER BY id DESC").fetchone()
        assert run[:2] == ("redact", "finished") and "privacy_detector" in run[2]
        assert conn.execute("SELECT COUNT(*) FROM segments_fts WHERE segments_fts MATCH '9855'").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM segments_fts WHERE segments_fts MATCH 'card'").fetchone()[0] >= 1
    # a second scrub has nothing left to do
    again = runner.invoke(app, ["redact", "--db", str(db)])
    assert "Redacted 0 transcript(s)" in again.output
    refused = runner.invoke(app, ["redact", "--db", str(db), "--redact", "card_number=keep"])
    assert refused.exit_code == 2 and "card data (card_number) is always masked" in refused.output


def test_a_run_replaces_a_transcript_stored_in_the_clear(drop):
    folder, scripts, db = drop
    store = Store.open(db)
    run_drop_folder(folder, scripts, store, transcriber=CardReader())
    tid = store.db.execute("SELECT id FROM transcripts").fetchone()[0]
    store.db.execute("UPDATE transcripts SET redaction = NULL")  # as an older version stored it
    store.db.conn.commit()
    summary = run_drop_folder(folder, scripts, store, RunOptions(force=True), transcriber=CardReader())
    assert summary.counts == {"rescored": 1}
    assert store.transcript_redaction(tid) is not None


# --------------------------------------------------------------------------- the real recogniser


@pytest.mark.slow
def test_fixture_calls_through_the_real_pipeline(tmp_path):
    """tiny.en on fixtures/privacy: the card call's digits never reach the database; the call with
    only order numbers and prices keeps them."""
    labels = json.loads((ROOT / "fixtures/privacy/labels.json").read_text())
    db = tmp_path / "qa.db"
    audio = tmp_path / "redacted"
    result = runner.invoke(app, ["run", str(ROOT / "fixtures/privacy"), "--scripts",
                                 str(ROOT / "fixtures/privacy/scripts"), "--db", str(db), "--redact-audio", str(audio)])
    assert result.exit_code == 0, result.output
    blob = db_bytes(db)
    pan = next(v["value"] for v in labels["pay-card"]["values"] if v["kind"] == "card_number")
    assert pan.encode() not in blob
    for group in (pan[:4], pan[4:8], pan[8:12], pan[12:]):
        assert group.encode() not in blob
    calls = {c["call_id"]: c for c in Store.open(db).export_calls()}
    pci = {c: next(i for i in calls[c]["items"] if i["item_id"] == "pci_pause")["status"] for c in calls}
    assert pci == {"pay-card": "violated", "details-email": "met", "order-numbers": "met"}
    assert sorted(p.name.split("-")[0] for p in audio.iterdir()) == ["details", "order", "pay"]
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in audio.iterdir())
    transcript = Store.open(db).call_transcript("order-numbers")
    assert "[" not in transcript.text  # nothing personal: nothing redacted


def test_a_redacted_word_is_nothing_to_match():
    from qa_analyser.normalize import normalize_words

    assert [t.text for t in normalize_words(["yes", " [card number]", "[email 6bb49dc77d]", "please"])] == [
        "yes", "please"]


def test_coaching_clips_never_play_what_the_transcript_masks(drop, tmp_path):
    """A clip that covers the card number is cut with it bleeped (no redacted copy), or from the
    redacted copy when there is one."""
    folder, scripts, db = drop
    (scripts / "pay.yaml").write_text(SCRIPT.replace("prohibited:", """  - id: closing
    items:
      - id: anything_else
        text: "Is there anything else I can help you with today?"
prohibited:"""))
    run_drop_folder(folder, scripts, Store.open(db), transcriber=CardReader())
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "agent", "a1", "--db", str(db), "--format", "html", "--out", str(out),
                                 "--min-calls", "1", "--clips", "3"])
    assert result.exit_code == 0, result.output
    clips = sorted((tmp_path / "report_clips").glob("*anything_else*.wav"))
    assert clips, list(tmp_path.iterdir())
    with wave.open(str(clips[0])) as w:
        rate, data = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(float)
    crossings = lambda x: int(np.sum(np.diff(np.sign(x)) != 0))  # noqa: E731
    # the clip starts where the missed item was expected (after the card item); somewhere in it the
    # 300 Hz tone is replaced by the 1 kHz bleep
    windows = [data[i:i + rate // 4] for i in range(0, len(data) - rate // 4, rate // 8)]
    rates = [crossings(x) / 0.25 for x in windows]
    assert max(rates) > 1500 and min(rates) < 900, (min(rates), max(rates))


def test_fixture_verdicts_are_unchanged_by_redaction():
    """Every fixture call (its perfect transcript, as tests/test_golden.py builds it) with a customer
    turn reading card data and an email added: matched clear, and matched again from its redacted form
    (what `qa rescore` reads), gives the same verdicts; the redacted form holds none of the values."""
    import csv

    from test_golden import CALLS, _transcript

    from qa_analyser.datatypes import MatchOptions
    from qa_analyser.match.policy import match_with_roles
    from qa_analyser.scripts import load_scripts

    scripts = load_scripts(ROOT / "scripts_library").scripts
    checked = 0
    with open(CALLS / "manifest.csv", newline="") as f:
        for row in csv.DictReader(f):
            mono = row["channels"] == "mono"
            t = _transcript(CALLS / f"{row['file'].rsplit('.', 1)[0]}.timeline.json", mono=mono)
            speaker = "unknown" if mono else "customer"
            extra = seg(speaker, t.duration_s + 1.0, f"my card is {' '.join(PAN[i:i + 4] for i in range(0, 16, 4))} "
                                                     "and my email is john dot smith at gmail dot com")
            extra = replace(extra, channel=None if mono else 1)
            t = replace(t, segments=(*t.segments, extra), duration_s=t.duration_s + 12.0)
            call = CallInfo(path=row["file"], file=row["file"], call_id=row["call_id"], agent_id=row["agent_id"],
                            agent_name=row["agent_name"], script_id=row["script_id"])
            script = scripts[row["script_id"]]
            clear = match_with_roles(t, script, call, MatchOptions())
            red = redact_call(t, clear, policy=Policy(), salt=SALT, allowed=script_numbers(script))
            assert red.counts.get("card_number") == 1 and red.counts.get("email") == 1, row["call_id"]
            again = match_with_roles(red.transcript, script, call, MatchOptions())
            assert [(r.item_id, r.status, r.flags) for r in again] == [(r.item_id, r.status, r.flags) for r in clear]
            assert [(r.item_id, r.status, r.flags) for r in red.results] == \
                   [(r.item_id, r.status, r.flags) for r in clear]
            stored = json.dumps([s.text for s in red.transcript.segments] + [r.evidence for r in red.results])
            assert PAN[:4] not in stored and "gmail" not in stored
            checked += 1
    assert checked >= 5


def test_the_web_app_never_plays_what_the_transcript_masks(drop, tmp_path):
    """/audio serves the redacted copy when there is one, else the recording with the masked stretches
    bleeped; the call page links the copy."""
    import io

    from starlette.testclient import TestClient

    from qa_analyser.web.app import create_app

    folder, scripts, db = drop
    store = Store.open(db)
    run_drop_folder(folder, scripts, store, transcriber=CardReader())
    client = TestClient(create_app(db))
    played = client.get("/audio", params={"id": "c-pay"})
    assert played.status_code == 200 and played.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(played.content)) as w:
        rate, data = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)
    crossings = lambda x: int(np.sum(np.diff(np.sign(x.astype(float))) != 0))  # noqa: E731
    card = data[int(13.2 * rate):int(14.0 * rate), 0]
    clear = data[int(2.0 * rate):int(2.8 * rate), 0]
    assert crossings(card) > 2.5 * crossings(clear)
    # the player seeks with range requests: the bleeped audio answers them too
    part = client.get("/audio", params={"id": "c-pay"}, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == played.content[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(played.content)}"
    assert client.get("/audio", params={"id": "c-pay"}, headers={"Range": "bytes=-10"}).content == played.content[-10:]
    out = tmp_path / "redacted"
    run_drop_folder(folder, scripts, store, RunOptions(redact_audio=str(out)), transcriber=CardReader())
    copy = store.redacted_audio_path("c-pay")
    assert client.get("/audio", params={"id": "c-pay"}).content == copy.read_bytes()
    page = client.get("/call", params={"id": "c-pay"}).text
    assert "[card number, 12.8–14.3 s]" in page and "4556" not in page and 'id="audio-missing"' not in page
