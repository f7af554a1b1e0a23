"""Pure helpers of the call review page: speaker turns with matched items marked (no I/O; the routes
hand in dataclasses read from the store). Where a missed item was expected comes from
`clips.clip_window`, the same estimate the reports' coaching clips use."""

from __future__ import annotations

from dataclasses import dataclass

from ..datatypes import ItemResult, Transcript

__all__ = ["Span", "Turn", "result_key", "turns"]

# verdicts whose evidence is something said (highlighted in the transcript)
HEARD = ("met", "partial", "violated")


@dataclass(frozen=True)
class Span:
    """A run of words in a turn; `items` are the keys (`result_key`) of the verdicts whose evidence
    covers it."""

    text: str
    start: float
    items: tuple[str, ...] = ()
    status: str | None = None  # the status of the first of those verdicts ("violated" wins)


@dataclass(frozen=True)
class Turn:
    speaker: str
    start: float
    end: float
    spans: tuple[Span, ...]


def result_key(r: ItemResult) -> str:
    """A verdict's id on the page: prohibited rules and script items may share an id."""
    return ("prohibited:" if r.kind == "prohibited" else "") + r.item_id


def _covering(results: list[ItemResult], start: float, end: float) -> tuple[str, ...]:
    mid = (start + end) / 2
    return tuple(result_key(r) for r in results if r.start_s <= mid <= r.end_s)


def turns(transcript: Transcript, results: tuple[ItemResult, ...] | list[ItemResult]) -> list[Turn]:
    """The transcript as speaker turns (consecutive segments of one speaker joined), each split into
    spans of words covered by the same verdicts' evidence, so the page can highlight them."""
    heard = [r for r in results if r.status in HEARD and r.start_s is not None and r.end_s is not None]
    status_of = {result_key(r): r.status for r in heard}
    out: list[Turn] = []
    for seg in sorted(transcript.segments, key=lambda s: (s.start, s.end)):
        words = [(w.text.strip(), w.start, w.end) for w in seg.words] or [(seg.text.strip(), seg.start, seg.end)]
        spans: list[Span] = []
        for text, start, end in words:
            if not text:
                continue
            items = _covering(heard, start, end)
            if spans and spans[-1].items == items:
                spans[-1] = Span(spans[-1].text + " " + text, spans[-1].start, items, spans[-1].status)
            else:
                status = "violated" if any(status_of[i] == "violated" for i in items) else (
                    status_of[items[0]] if items else None)
                spans.append(Span(text, start, items, status))
        if not spans:
            continue
        if out and out[-1].speaker == seg.speaker:
            last = out[-1]
            joined = list(last.spans)
            if joined[-1].items == spans[0].items:  # evidence running on into the next segment
                head = joined.pop()
                spans[0] = Span(head.text + " " + spans[0].text, head.start, head.items, head.status)
            out[-1] = Turn(last.speaker, last.start, max(last.end, seg.end), tuple(joined + spans))
        else:
            out.append(Turn(seg.speaker, seg.start, seg.end, tuple(spans)))
    return out
