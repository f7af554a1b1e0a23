"""roles: naming diarized clusters agent / customer, and catching swapped stereo channels (pure)."""

from __future__ import annotations

from qa_analyser.datatypes import Item, ProhibitedRule, Script, Section, Segment, Transcript, TranscriptionOptions, Word
from qa_analyser.match import match_call
from qa_analyser.roles import assign_mono_roles, check_swapped

WORD_S = 0.35

SCRIPT = Script(
    id="t", version="1", name="t", variables=(("company", "Brightwater Energy"),),
    sections=(Section("main", (
        Item("greeting", "main", "Thank you for calling {company}, my name is {agent_name}."),
        Item("verify", "main", "Can you please confirm your full name and the first line of your address?"),
        Item("recording", "main", "Please be aware this call is recorded for quality and training purposes."),
        Item("close", "main", "Is there anything else I can help you with today?"),
    )),),
    prohibited=(ProhibitedRule("guarantee", ("I guarantee your bill will go down",)),),
)

AGENT = [
    "thank you for calling brightwater energy my name is sarah",
    "can you please confirm your full name and the first line of your address",
    "please be aware this call is recorded for quality and training purposes",
    "is there anything else i can help you with today",
]
CUSTOMER = [
    "hi i have a question about my direct debit",
    "it is john smith twelve high street",
    "okay that is fine",
    "no that is all thanks bye",
]


def build(turns: list[tuple[str, str, int | None]], layout: str) -> Transcript:
    """(speaker, text, channel) turns, one after another; words 0.35 s each."""
    segments, t = [], 0.5
    for speaker, text, channel in turns:
        words = tuple(Word(w, round(t + i * WORD_S, 3), round(t + (i + 1) * WORD_S, 3), 0.9, speaker)
                      for i, w in enumerate(text.split()))
        segments.append(Segment(text, t, words[-1].end, speaker, words, channel=channel))
        t = words[-1].end + 1.0
    return Transcript(tuple(segments), t + 1, layout, TranscriptionOptions())


def dialogue(agent_cluster: int) -> list[tuple[str, int]]:
    out = []
    for a, c in zip(AGENT, CUSTOMER):
        out += [(a, agent_cluster), (c, 1 - agent_cluster)]
    return out


def test_agent_cluster_is_the_one_speaking_the_script() -> None:
    for agent_cluster in (0, 1):
        mono = build([("unknown", text, c) for text, c in dialogue(agent_cluster)], "mono")
        named, note = assign_mono_roles(mono, SCRIPT, agent_name="Sarah")
        assert named.has_speakers
        assert f"agent = cluster {agent_cluster}" in note and "script similarity" in note
        assert [s.speaker for s in named.segments] == ["agent", "customer"] * 4
        assert all(w.speaker == s.speaker for s in named.segments for w in s.words)
        assert [s.channel for s in named.segments] == [s.channel for s in mono.segments]


def test_customer_speech_no_longer_satisfies_agent_items_after_naming() -> None:
    # the customer reads the recording notice back; the agent never says it
    turns = [(AGENT[0], 0), (CUSTOMER[0], 1), (AGENT[1], 0), (AGENT[2], 1), (AGENT[3], 0)]
    mono = build([("unknown", text, c) for text, c in turns], "mono")
    before = {r.item_id: r.status for r in match_call(mono, SCRIPT, agent_name="Sarah")}
    named, _ = assign_mono_roles(mono, SCRIPT, agent_name="Sarah")
    after = {r.item_id: r.status for r in match_call(named, SCRIPT, agent_name="Sarah")}
    assert before["recording"] == "met" and after["recording"] == "missed"
    assert after["greeting"] == after["verify"] == after["close"] == "met"


def test_prohibited_phrase_by_the_customer_is_not_a_violation_after_naming() -> None:
    turns = dialogue(0) + [("i guarantee your bill will go down or i leave", 1)]
    named, _ = assign_mono_roles(build([("unknown", t, c) for t, c in turns], "mono"), SCRIPT, agent_name="Sarah")
    assert {r.item_id: r.status for r in match_call(named, SCRIPT)}["guarantee"] == "met"


def test_both_clusters_alike_stay_unknown() -> None:
    turns = [(AGENT[0], 0), (AGENT[1], 1), (AGENT[2], 0), (AGENT[3], 1)]
    mono = build([("unknown", text, c) for text, c in turns], "mono")
    named, note = assign_mono_roles(mono, SCRIPT, agent_name="Sarah")
    assert named is mono and not named.has_speakers
    assert "not attributed" in note


def test_one_cluster_or_no_clusters_stay_unknown() -> None:
    one = build([("unknown", text, 0) for text, _ in dialogue(0)], "mono")
    named, note = assign_mono_roles(one, SCRIPT)
    assert named is one and "1 cluster" in note
    plain = build([("unknown", text, None) for text, _ in dialogue(0)], "mono")
    named, note = assign_mono_roles(plain, SCRIPT)
    assert named is plain and "no clusters" in note


def stereo(swapped: bool) -> Transcript:
    turns = []
    for a, c in zip(AGENT, CUSTOMER):
        turns += [("customer" if swapped else "agent", a, 0), ("agent" if swapped else "customer", c, 1)]
    return build(turns, "agent-left")


def test_swapped_stereo_is_detected_and_fixed() -> None:
    fixed, warning = check_swapped(stereo(swapped=True), SCRIPT, agent_name="Sarah")
    assert warning is not None and warning.startswith("channels look swapped: the right channel speaks the script")
    assert "treated as agent-right" in warning
    assert fixed.channels == "agent-right"
    assert [s.speaker for s in fixed.segments] == [s.speaker for s in stereo(swapped=False).segments]
    assert all(w.speaker == s.speaker for s in fixed.segments for w in s.words)


def test_normal_stereo_is_untouched() -> None:
    normal = stereo(swapped=False)
    assert check_swapped(normal, SCRIPT, agent_name="Sarah") == (normal, None)


def test_stereo_where_both_sides_speak_little_script_is_untouched() -> None:
    quiet = build([("agent", "hello", 0), ("customer", "thank you for calling my name is", 1)], "agent-left")
    assert check_swapped(quiet, SCRIPT) == (quiet, None)


def test_mono_transcript_is_never_swapped() -> None:
    mono = build([("unknown", text, None) for text, _ in dialogue(0)], "mono")
    assert check_swapped(mono, SCRIPT) == (mono, None)
