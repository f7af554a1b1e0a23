"""Pure: which side of a call speaks the script — names diarized clusters, catches swapped channels.

The evidence is script similarity: for each side, the mean over the script's agent items of the best
fuzzy alignment score (match.best_match) in that side's words. The agent says the greeting, the
disclosures, the close; the customer says few of them. A side is named agent only with a clear
margin, so an ambiguous call stays "unknown" (matching then uses all speech) and a normal stereo call
is never swapped.
"""

from __future__ import annotations

from dataclasses import replace

from .datatypes import Script, Segment, Transcript
from .match import best_match, prepare_speech
from .normalize import normalize_words

__all__ = ["ROLES_VERSION", "script_similarity", "assign_mono_roles", "check_swapped"]

ROLES_VERSION = "script-sim-1"
MIN_AGENT_SIMILARITY = 0.5  # the agent side must speak the script at least this well
MONO_MARGIN = 0.15  # agent cluster above the other cluster by at least this
SWAP_MARGIN = 0.25  # customer channel above the agent channel by at least this to swap


def script_similarity(transcript: Transcript, script: Script, speaker: str, *,
                      agent_name: str | None = None) -> float:
    """Mean best-alignment score (0-1) of the script's agent items in `speaker`'s words."""
    items = [i for i in script.items if i.speaker == "agent"] or list(script.items)
    if not items:
        return 0.0
    language = (script.language or "en").lower().split("-")[0]
    speech = prepare_speech(transcript, speaker, language)
    if not speech.tokens:
        return 0.0
    name = tuple(t.key for t in normalize_words(agent_name.split(), language=language)) if agent_name else ()
    total = 0.0
    for item in items:
        found = best_match(speech, item.wordings, variables=script.variable_map, names=[name], floor=1.0)
        total += found[0].score if found else 0.0
    return total / len(items)


def _relabel(transcript: Transcript, speaker_of) -> Transcript:
    segments: list[Segment] = []
    for seg in transcript.segments:
        who = speaker_of(seg)
        segments.append(replace(seg, speaker=who, words=tuple(replace(w, speaker=who) for w in seg.words)))
    return replace(transcript, segments=tuple(segments))


def assign_mono_roles(transcript: Transcript, script: Script, *,
                      agent_name: str | None = None) -> tuple[Transcript, str]:
    """Name the clusters of a diarized mono transcript (Segment.channel = cluster id, from
    diarize.label_words) agent / customer by which speaks the script; returns (transcript, note).

    Low confidence (one cluster, neither side speaks the script, or both alike) keeps "unknown".
    """
    clusters = sorted({s.channel for s in transcript.segments if s.channel is not None})
    if transcript.channels != "mono" or len(clusters) != 2:
        found = "no clusters" if not clusters else f"{len(clusters)} cluster(s)"
        return transcript, f"mono: speakers not separated ({found}); speech not attributed"
    scores = {}
    for c in clusters:
        only = _relabel(transcript, lambda s, c=c: "agent" if s.channel == c else "customer")
        scores[c] = script_similarity(only, script, "agent", agent_name=agent_name)
    agent, other = sorted(clusters, key=lambda c: -scores[c])
    evidence = f"script similarity {scores[agent]:.2f} vs {scores[other]:.2f}"
    if scores[agent] < MIN_AGENT_SIMILARITY or scores[agent] - scores[other] < MONO_MARGIN:
        return transcript, f"mono: diarization found 2 speakers but neither clearly speaks the script ({evidence}); " \
                           "speech not attributed"
    named = _relabel(transcript, lambda s: "unknown" if s.channel is None else ("agent" if s.channel == agent else "customer"))
    return named, f"mono: speakers separated by diarization; agent = cluster {agent} ({evidence})"


def check_swapped(transcript: Transcript, script: Script, *,
                  agent_name: str | None = None) -> tuple[Transcript, str | None]:
    """A stereo transcript whose customer channel speaks the script clearly better than its agent
    channel is swapped (speakers on every segment and word) and a warning returned; else (t, None)."""
    if transcript.channels == "mono" or not transcript.has_speakers:
        return transcript, None
    agent = script_similarity(transcript, script, "agent", agent_name=agent_name)
    customer = script_similarity(transcript, script, "customer", agent_name=agent_name)
    if customer < MIN_AGENT_SIMILARITY or customer - agent < SWAP_MARGIN:
        return transcript, None
    flip = {"agent": "customer", "customer": "agent", "unknown": "unknown"}
    swapped = _relabel(transcript, lambda s: flip[s.speaker])
    layout = "agent-right" if transcript.channels == "agent-left" else "agent-left"
    side = "right" if layout == "agent-right" else "left"
    swapped = replace(swapped, channels=layout)
    return swapped, (f"channels look swapped: the {side} channel speaks the script ({customer:.2f} vs {agent:.2f}); "
                     f"treated as {layout}")
