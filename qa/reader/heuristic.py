"""Extractive reader: picks the answer sentence among the retrieved passages, then a short span in it.

1. Candidates are the sentences of the top ``pool`` retrieved passages (boundaries and vectors
   were computed at index time). Each is scored by

       weights.semantic * (question vector . sentence vector)
     + weights.lexical  * IDF-weighted share of the question's stemmed terms found in the sentence
     + weights.rank     * 1 / rank of its passage
     + weights.kind     * [the sentence holds a span of the kind the question asks for]

2. The question's wording says what it asks for (:func:`parse_question`): a date, a number, a
   person, an organisation, a place, another named thing, a reason, or a sentence, and often a
   head noun ("which *industry*"). The best sentence's spans of that kind (:func:`find_spans`) are
   ranked by how well they fit and how close they stand to the question's words; words of the
   question are never the answer. A reason is the clause after "because", "due to", "in order
   to", ...; with no span of the wanted kind the answer is the sentence itself.

3. The confidence is a logistic mapping of the best score and its margin over the runner-up
   (:class:`Calibration`); below :data:`ABSTAIN_BELOW` (or ``settings.abstain_threshold``) the
   reader abstains.

Reading runs no model and tokenises only candidate sentences it has not seen before (a cache per
loaded index): on the seeds its median time is about 2 ms a question with a cold cache and 1 ms
warm (2-core machine).

Weights, pool, calibration and threshold: ``python bench/tune_reader.py``, docs/benchmarks.md "Heuristic reader tuning".
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np

from ..index.lexical import tokenize
from ..types import Answer
from .answers import abstain, answer_at, sentence_at, state
from .question import Asked, Kind, parse_question
from .spans import _STOPWORDS, _WORD, Words, best_span, find_spans


@dataclass(frozen=True)
class Weights:
    """How the sentence score combines its parts (chosen by ``bench/tune_reader.py``)."""

    semantic: float = 1.0
    lexical: float = 3.0
    rank: float = 0.1
    kind: float = 0.2


@dataclass(frozen=True)
class Calibration:
    """Logistic mapping of (best score, margin over the runner-up) to a confidence in [0, 1]."""

    score: float = 0.75
    margin: float = 0.24
    bias: float = -3.1

    def confidence(self, score: float, margin: float) -> float:
        """A probability in [0, 1]: the logistic of the weighted score and margin."""
        z = self.score * score + self.margin * margin + self.bias
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


# ---------------------------------------------------------------------------------------------
# Scoring sentences


class _SentenceCache:
    """Words and stems of each sentence row, computed the first time the row is a candidate (and
    each distinct word stemmed once).

    Tied to one loaded index (held weakly); a new index starts a new cache.
    """

    def __init__(self):
        self._data = None
        self._words: dict[int, Words] = {}
        self._stems: dict[str, frozenset[str]] = {}

    def words(self, data, rows) -> list[Words]:
        if self._data is None or self._data() is not data:
            self._data = weakref.ref(data)
            self._words, self._stems = {}, {}
        missing = [int(r) for r in rows if int(r) not in self._words]
        if missing:
            for r, w in zip(missing, Words.of_many([sentence_at(data, r)[2] for r in missing], self._stems)):
                self._words[r] = w
        return [self._words[int(r)] for r in rows]


_QUESTION_STOP = set("what which who whom whose when where why how did does do is are was were has have had "
                     "can could would should will may might according".split())


def question_terms(question: str) -> list[str]:
    """The question's stemmed content terms (stop words and question words removed)."""
    kept = [m.group() for m in _WORD.finditer(question) if m.group().lower() not in _QUESTION_STOP | _STOPWORDS]
    return list(dict.fromkeys(tokenize([" ".join(kept)])[0]))


@dataclass
class Ranking:
    """Scored candidate sentences, best first."""

    rows: np.ndarray  #: sentence rows
    hit_pos: np.ndarray  #: position (0-based) in ``retrieval.hits`` of each sentence's passage
    scores: np.ndarray  #: heuristic sentence scores (:class:`Weights`): neither logits nor probabilities
    words: list[Words]
    asked: Asked
    terms: frozenset[str]

    @property
    def margin(self) -> float:
        return float(self.scores[0] - self.scores[1]) if len(self.scores) > 1 else float(self.scores[0])


ABSTAIN_BELOW = 0.16  #: confidence below which the heuristic reader abstains (see the module's notes)


class SpanReader:
    """Scores the sentences of the retrieved passages and extracts a span from the best one.

    >>> reader = SpanReader(Settings())                                     # doctest: +SKIP
    >>> answer = reader.read(question, qvec, retrieval, data, k=5)          # doctest: +SKIP
    """

    needs_vector = True

    def __init__(self, settings, weights: Weights | None = None, calibration: Calibration | None = None,
                 pool: int = 5):
        self.settings = settings
        self.weights = weights or Weights()
        self.calibration = calibration or Calibration()
        self.pool = max(settings.k, pool)
        self._cache = _SentenceCache()

    @property
    def threshold(self) -> float:
        """Confidence below which it abstains: ``settings.abstain_threshold``, else :data:`ABSTAIN_BELOW`."""
        t = self.settings.abstain_threshold
        return ABSTAIN_BELOW if t is None else t

    @property
    def answer_threshold(self) -> float:
        """Confidence from which the answer is stated (below: tentative): ``settings.answer_threshold``,
        else the abstention threshold (the heuristic reader has no tentative band of its own)."""
        t = self.settings.answer_threshold
        return max(self.threshold, t) if t is not None else self.threshold

    def warm_up(self, data, embedder) -> None:
        """Nothing to load: everything the reader needs is in the index."""

    def rank(self, question: str, qvec: np.ndarray, retrieval, data) -> Ranking | None:
        """All candidate sentences scored (heuristic scores, not probabilities), best first; ``None``
        when the passages hold none."""
        rows, hit_pos = self._candidates(retrieval.hits[: self.pool], data)
        if len(rows) == 0:
            return None
        asked = parse_question(question)
        terms = question_terms(question)
        words = self._cache.words(data, rows)
        w = self.weights
        semantic = np.asarray(data.sentence_vectors[rows]) @ np.asarray(qvec, dtype=np.float32)
        scores = w.semantic * semantic + w.lexical * _overlap(terms, words, data) + w.rank / (hit_pos + 1.0)
        term_set = frozenset(terms)
        if w.kind and asked.kind != Kind.SENTENCE:
            top = np.argsort(-scores, kind="stable")[:30]
            found = [bool(find_spans(words[i], question, asked, term_set)) for i in top]
            scores[top] += w.kind * np.asarray(found, dtype=float)
        order = np.argsort(-scores, kind="stable")
        return Ranking(rows[order], hit_pos[order], scores[order], [words[i] for i in order], asked, term_set)

    def read(self, question: str, qvec: np.ndarray, retrieval, data, k: int) -> Answer:
        hits = retrieval.hits
        citations = tuple(hits[:k])
        ranking = self.rank(question, qvec, retrieval, data)
        if ranking is None:
            return abstain(0.0, citations)
        confidence = self.calibration.confidence(float(ranking.scores[0]), ranking.margin)
        status = state(confidence, self.answer_threshold, self.threshold)
        if status is None:
            return abstain(confidence, citations)
        row = int(ranking.rows[0])
        s, e, _ = sentence_at(data, row)
        span = best_span(ranking.words[0], question, ranking.asked, ranking.terms)
        start, end = (s + span.start, s + span.end) if span else (s, e)
        return answer_at(data, hits, k, row, int(ranking.hit_pos[0]), start, end, confidence, status)

    @staticmethod
    def _candidates(hits, data) -> tuple[np.ndarray, np.ndarray]:
        """Sentence rows of the hits' passages (each text once, from its best-ranked passage)."""
        rows: list[int] = []
        pos: list[int] = []
        seen: set[tuple[int, int, int]] = set()
        for n, hit in enumerate(hits):
            for r in range(int(data.sent_lo[hit.row]), int(data.sent_hi[hit.row])):
                key = tuple(int(x) for x in data.sentences[r, 1:])
                if key not in seen:
                    seen.add(key)
                    rows.append(r)
                    pos.append(n)
        return np.asarray(rows, dtype=np.int64), np.asarray(pos, dtype=np.float64)


def _overlap(terms: list[str], words: list[Words], data) -> np.ndarray:
    """IDF-weighted share of the question's terms present in each sentence."""
    if not terms:
        return np.zeros(len(words))
    idf = np.array([data.bm25.idf_of(t) for t in terms])
    present = np.array([[t in ws for t in terms] for ws in (w.terms for w in words)], dtype=float)
    return present @ idf / idf.sum()
