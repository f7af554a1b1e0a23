"""Speech of one speaker selection, normalised into tokens that remember their transcript words,
and the candidate units (clauses, neighbouring clause pairs, windows over long clauses) that the
matcher judges. Also the language data (stop words, negators) every matching module shares."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..datatypes import Transcript, Word
from ..normalize import Token, normalize_words, stem


MONO_DETAIL = "mono recording: speaker not separated; all speech used"

# Words that carry little meaning in service scripts: ignored by keyword coverage (never by the
# alignment score). "please"/"today"/"just" are politeness and time fillers.
STOPWORDS = frozenset(
    """a an the and or but so of to for in on at by with from as is am are was were be been being it its
    this that these those there here i me my we us our you your he him his she her they them their what
    which who whom how when where why do does did doing done have has had having can could will would
    shall should may might must not no yes ok oh well please today just now then than very really
    also too all any some if about up out into over let get got go going""".split()
)
# Spanish and French function words (accents folded, as normalize.py leaves them), the same role as
# STOPWORDS: short, hand-picked lists; content words such as "algo"/"autre" (anything/else) stay.
_STOPWORDS_OTHER = {
    "es": """a al ante con de del desde en entre hacia hasta para por segun sin sobre tras el la lo los las un una
    unos unas y e o u ni pero que como cuando donde quien cual cuales este esta estos estas ese esa eso esto
    aquel aquella yo tu usted ustedes el ella nosotros vosotros ellos ellas me te se le les nos os mi mis su sus
    nuestro nuestra es son ser soy somos fue era esta estan estoy estamos ha han he hemos hay haber puede puedo
    pueden si no muy mas ya hoy ahora bien pues favor""",
    "fr": """a au aux avec de des du en dans par pour sur sous sans chez vers le la les un une et ou ni mais que qui
    quoi dont ou ce cet cette ces je tu il elle on nous vous ils elles me te se lui leur leurs mon ma mes ton ta
    tes son sa ses notre nos votre vos est sont suis sommes etes etre ai as avons avez ont avoir fait faire peut
    peux pouvez y ne pas oui non tres plus bien aujourdhui maintenant alors donc si""",
}
STOPWORDS_BY_LANGUAGE: dict[str, frozenset[str]] = {
    "en": STOPWORDS,
    **{lang: frozenset(stem(w, lang) for w in words.split()) for lang, words in _STOPWORDS_OTHER.items()},
}
# Words that negate what follows (contractions already expanded: can't → can not; French n' → ne).
# English negation is read from the dependency parse (negation.py); these lists serve the other
# languages and the cheap checks.
NEGATORS_BY_LANGUAGE = {
    "en": frozenset({"not", "never", "nobody", "nothing", "neither", "nor", "without", "hardly", "refuse"}),
    "es": frozenset({"no", "nunca", "jamas", "nadie", "nada", "ni", "sin", "tampoco"}),
    "fr": frozenset({"ne", "pas", "jamais", "rien", "aucun", "aucune", "sans", "ni", "nullement"}),
}
# French puts "pas"/"jamais" after the verb ("je ne garantis pas"); recognisers often drop the "ne"
NEGATORS_AFTER = {"fr": frozenset({"pas", "jamais", "rien", "plus"})}
_TURN_GAP_S = 1.0  # a pause this long between segments starts a new turn
UNIT_MAX = 40  # a candidate unit (run of clauses of one turn) holds at most this many tokens ...
UNIT_CLAUSES = 4  # ... and at most this many clauses
_UNIT_WINDOW = 24  # clauses longer than UNIT_MAX are cut into overlapping windows of this many tokens


# --------------------------------------------------------------------------- speech


@dataclass
class Speech:
    """Normalised speech of one speaker selection, with cached windows."""

    words: list[Word]
    word_ids: list[int]  # global index of each word in the transcript
    tokens: list[Token]
    question: list[bool]  # per token: its clause ends with "?"
    turn_end: np.ndarray  # per token: index one past the last token of its turn
    turn_start: np.ndarray  # per token: index of the first token of its turn
    language: str = "en"
    _windows: dict[int, list[str]] = field(default_factory=dict)
    names: list[tuple[str, ...]] | None = None  # name candidates, once computed
    _units: list[tuple[int, int]] | None = None

    def units(self) -> list[tuple[int, int]]:
        """Token spans [start, end) embedded for semantic matching (cached): see `_semantic_units`."""
        if self._units is None:
            self._units = _semantic_units(self)
        return self._units

    def text(self, start: int, end: int) -> str:
        return " ".join(t.text for t in self.tokens[start:end])

    @property
    def keys(self) -> list[str]:
        return [t.key for t in self.tokens]

    def windows(self, length: int) -> list[str]:
        """Joined stems of every window of `length` tokens (cached)."""
        if length not in self._windows:
            keys = self.keys
            self._windows[length] = [" ".join(keys[s : s + length]) for s in range(len(keys) - length + 1)]
        return self._windows[length]

    def span(self, start: int, end: int) -> tuple[float, float, str, list[int]]:
        """start_s, end_s, quote (the transcript's own words, not their normalised form) and global
        word ids of tokens [start, end)."""
        toks = self.tokens[start:end]
        first, last = self.words[toks[0].source], self.words[toks[-1].source]
        sources = sorted({t.source for t in toks})
        quote = " ".join(self.words[s].text.strip() for s in sources)
        return first.start, last.end, quote, [self.word_ids[s] for s in sources]


def prepare_speech(transcript: Transcript, speaker: str | None, language: str = "en") -> Speech:
    """Normalise the words of one speaker (None: everyone), keeping turn and question boundaries."""
    words: list[Word] = []
    word_ids: list[int] = []
    turn_starts: list[int] = []  # word index where a new turn begins
    gid = 0
    last_end, last_speaker = -1e9, None
    for seg in sorted(transcript.segments, key=lambda s: (s.start, s.end)):
        first = True
        for w in seg.words:
            if speaker is None or w.speaker == speaker:
                # a new turn: another speaker, or a pause (mono calls have one "speaker")
                if first and (w.speaker != last_speaker or w.start - last_end > _TURN_GAP_S):
                    turn_starts.append(len(words))
                first = False
                words.append(w)
                word_ids.append(gid)
                last_end, last_speaker = w.end, w.speaker
            gid += 1
    tokens = normalize_words([w.text for w in words], boundaries=turn_starts, language=language)
    turn_of_word = np.cumsum(np.isin(np.arange(len(words)), turn_starts)) if words else np.zeros(0, int)
    turn = np.array([turn_of_word[t.source] for t in tokens], dtype=np.int64)
    turn_end = np.searchsorted(turn, turn, side="right")
    turn_start = np.searchsorted(turn, turn, side="left")
    question = [False] * len(tokens)
    # a clause is a question when its last word ends with "?"
    clause_start = 0
    for i in range(len(tokens) + 1):
        if i == len(tokens) or (tokens[i].clause_start and i > clause_start):
            if i > clause_start and words[tokens[i - 1].source].text.rstrip().endswith("?"):
                for j in range(clause_start, i):
                    question[j] = True
            clause_start = i
    return Speech(words, word_ids, tokens, question, turn_end, turn_start, language)


def _semantic_units(speech: Speech) -> list[tuple[int, int]]:
    """Candidate units, token spans [start, end): every clause (punctuation or a turn change ends one)
    and every run of up to UNIT_CLAUSES neighbouring clauses of one turn (a line often spans commas:
    "thank you for calling X, my name is Y, how can I help"), up to UNIT_MAX tokens; clauses longer
    than that are cut into overlapping windows."""
    toks = speech.tokens
    bounds = [i for i, t in enumerate(toks) if t.clause_start or i == 0] + [len(toks)]
    clauses = [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]
    units: list[tuple[int, int]] = []
    for k, (a, b) in enumerate(clauses):
        if b - a > UNIT_MAX:
            step = _UNIT_WINDOW // 2
            units.extend((s, min(s + _UNIT_WINDOW, b)) for s in range(a, b - step, step))
            continue
        for c, d in clauses[k : k + UNIT_CLAUSES]:
            if speech.turn_start[c] != speech.turn_start[a] or d - a > UNIT_MAX:
                break
            units.append((a, d))
    return list(dict.fromkeys(units))
