"""The combined reader (``QA_READER=combined``): both trained models read, their span scores summed.

The passage model (:mod:`.passage`) reads the top :data:`~.passage.READ_PASSAGES` passages whole;
the sentence model (:mod:`.sentence`) reads the sentences under the passage model's likeliest spans
(``Weights.read_sentences`` of them: 4 read as well as all of them, at a tenth of the time). Each model's logits
become log-probabilities — of a span's first and last token within its window (passage model) or
sentence (sentence model), and, for the sentence model, of the sentence itself (a softmax of the
has-answer logits over the sentences read, weighted by ``sentence_weight``). A candidate span (the
best :data:`TOP_SPANS` of each window and of each of the sentence model's :data:`TOP_SENTENCES`
likeliest sentences) scores

    alpha * passage model's log-probability + (1 - alpha) * sentence model's log-probability

where a span one model did not propose gets that model's lowest candidate score less
:data:`FLOOR`. So a span both models like wins over one that only one of them likes: the two
were trained differently (whole passages vs single sentences) and err differently. The passage
model's spans may cross sentences (up to 64 tokens); the sentence model's stay in a sentence.

Then, as in the passage reader (:func:`~.passage.choose`), a span loses ``Calibration.rank`` per
place its passage stands below the first retrieved, and its confidence is a logistic function of
(has-answer, score) with has-answer ``alpha * passage window's logit + (1 - alpha) * the best
sentence logit under the span``, fitted on the SQuADShifts calibration half. ``alpha``,
``sentence_weight`` (chosen on held-out SQuAD training articles and the calibration half,
``bench/passage_reader.py tune --reader combined``), ``read_sentences`` (``... sentences``) and the
calibration (``... calibrate --reader combined``) are stored in ``qa/models/combined.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import passage, sentence
from .calibration import Calibration, stored
from .passage import MAX_WINDOWS, MODEL_DIR, PassageModel, PassageReader, WindowSpan
from .sentence import MAX_ANSWER_TOKENS as SENTENCE_ANSWER_TOKENS
from .sentence import ReaderModel
from .windows import MAX_ANSWER_TOKENS

RECORD = MODEL_DIR / "combined.json"
TOP_SPANS = 20  #: candidate spans taken from each window and each sentence
TOP_SENTENCES = 3  #: sentences (the sentence model's likeliest) whose spans are candidates
FLOOR = 5.0  #: a span one model did not propose: that model's lowest candidate score less this


@dataclass(frozen=True)
class Weights:
    """How the two models' scores are summed (see the module's notes); the defaults are the values
    chosen and stored in ``qa/models/combined.json``, used when the record cannot be read."""

    alpha: float = 0.3  #: the passage model's share; the sentence model has 1 - alpha
    sentence_weight: float = 2.0  #: weight of the sentence's own log-probability in the sentence model's score
    #: sentences the sentence model reads: those under the passage model's likeliest spans, at most
    #: this many (0: every sentence of the passages read)
    read_sentences: int = 4

    @classmethod
    def read(cls, record: Path = RECORD) -> "Weights":
        """The weights stored in ``record`` (key ``weights``), else the defaults."""
        return stored(record, "weights", cls())


def log_softmax(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Log-softmax of ``x`` over the entries where ``mask`` is true (``-inf`` elsewhere)."""
    x = np.where(mask, x.astype(np.float64), -np.inf)
    top = x[mask].max()
    return x - (top + np.log(np.exp(x[mask] - top).sum()))


def top_spans(start: np.ndarray, end: np.ndarray, mask: np.ndarray, max_len: int, k: int) -> list[tuple[int, int, float]]:
    """The ``k`` likeliest spans (first token, last token, log-probability) of one row of logits,
    start and end normalised over the tokens where ``mask`` is true, at most ``max_len`` tokens.

    >>> s = np.array([0., 3., 0.]); e = np.array([0., 0., 3.]); m = np.array([False, True, True])
    >>> [(a, b) for a, b, _ in top_spans(s, e, m, 2, 2)]
    [(1, 2), (1, 1)]
    """
    if not mask.any():
        return []
    ls, le = log_softmax(start, mask), log_softmax(end, mask)
    n = len(ls)
    i, j = np.indices((n, n))
    scores = np.where((j >= i) & (j < i + max_len), ls[:, None] + le[None, :], -np.inf)
    flat = scores.ravel()
    if k < flat.size:
        flat_top = np.argpartition(-flat, k)[:k]
        flat = flat_top[np.lexsort((flat_top, -flat[flat_top]))]
    else:
        flat = np.lexsort((np.arange(flat.size), -flat))
    out = []
    for f in flat:
        a, b = np.unravel_index(int(f), scores.shape)
        if np.isfinite(scores[a, b]):
            out.append((int(a), int(b), float(scores[a, b])))
    return out


def combine(passage_spans: dict, sentence_spans: dict, weights: Weights) -> dict:
    """Each candidate's combined score: ``{key: score}`` over the keys of both dicts of
    ``{key: log-probability}``, a key one side lacks scored at that side's lowest less :data:`FLOOR`.

    >>> combine({"a": -1.0, "b": -2.0}, {"b": -1.0}, Weights(alpha=0.5))
    {'a': -3.5, 'b': -1.5}
    """
    floor_p = min(passage_spans.values(), default=0.0) - FLOOR
    floor_s = min(sentence_spans.values(), default=0.0) - FLOOR
    a = weights.alpha
    return {key: a * passage_spans.get(key, floor_p) + (1 - a) * sentence_spans.get(key, floor_s)
            for key in dict.fromkeys([*passage_spans, *sentence_spans])}


def likeliest_sentences(rows: list[tuple[int, int, int]], spans: dict, n: int) -> list[tuple[int, int, int]]:
    """The ``n`` sentences (passage, start, end) under the likeliest of ``spans`` ({(passage, start,
    end): log-probability}), each ranked by the best span that overlaps it; kept in reading order.

    >>> likeliest_sentences([(0, 0, 10), (0, 11, 20), (1, 0, 9)], {(0, 12, 15): -1.0, (1, 2, 4): -3.0}, 1)
    [(0, 11, 20)]
    """
    best = [max((v for (p, s, e), v in spans.items() if p == rp and s < re and e > rs), default=-np.inf)
            for rp, rs, re in rows]
    keep = sorted(np.argsort(-np.asarray(best), kind="stable")[:n].tolist())
    return [rows[i] for i in keep]


class CombinedModel:
    """Both models on one question's passages -> scored candidate spans (:class:`~.passage.WindowSpan`,
    so :func:`~.passage.choose` picks among them as it does for the passage model alone)."""

    def __init__(self, passage: PassageModel, sentence: ReaderModel, weights: Weights | None = None):
        self.passage = passage
        self.sentence = sentence
        self.weights = weights or Weights()

    def spans(self, question: str, passages: list[str], sentences: list[list[tuple[int, int]] | None] | None = None,
              max_windows: int = MAX_WINDOWS) -> list[WindowSpan]:
        """Candidate spans of the passages, best combined score first. ``sentences[p]``: the
        sentences (start, end in passage ``p``) the sentence model reads; the project's splitter's
        where not given (``None``)."""
        sentences = sentences or [None] * len(passages)
        if any(b is None for b in sentences):
            from ..ingest.chunking import split_sentences

            sentences = [split_sentences(t) if b is None else b for t, b in zip(passages, sentences)]
        by_passage: dict[tuple[int, int, int], float] = {}
        window_has = np.full(len(passages), -np.inf)
        windows, start, end, has = self.passage.logits(question, passages, max_windows)
        for w in range(len(windows)):
            p = int(windows.owner[w])
            window_has[p] = max(window_has[p], float(has[w]))
            for a, b, score in top_spans(start[w], end[w], windows.context[w], MAX_ANSWER_TOKENS, TOP_SPANS):
                key = (p, int(windows.offsets[w, a, 0]), int(windows.offsets[w, b, 1]))
                by_passage[key] = max(by_passage.get(key, -np.inf), score)
        rows = [(p, s, e) for p, bounds in enumerate(sentences) for s, e in bounds if e > s]
        if self.weights.read_sentences and len(rows) > self.weights.read_sentences:
            rows = likeliest_sentences(rows, by_passage, int(self.weights.read_sentences))
        by_sentence: dict[tuple[int, int, int], float] = {}
        sentence_has = np.zeros(0)
        if rows:
            batch, s_start, s_end, sentence_has = self.sentence.logits(question, [passages[p][s:e] for p, s, e in rows])
            log_p = log_softmax(sentence_has, np.ones(len(rows), dtype=bool))
            for r in np.argsort(-sentence_has, kind="stable")[:TOP_SENTENCES]:
                p, s0, _ = rows[r]
                for a, b, score in top_spans(s_start[r], s_end[r], batch.context[r], SENTENCE_ANSWER_TOKENS, TOP_SPANS):
                    key = (p, s0 + batch.offsets[r][a][0], s0 + batch.offsets[r][b][1])
                    value = score + self.weights.sentence_weight * float(log_p[r])
                    by_sentence[key] = max(by_sentence.get(key, -np.inf), value)
        alpha = self.weights.alpha
        out = []
        for (p, s, e), score in combine(by_passage, by_sentence, self.weights).items():
            under = [sentence_has[r] for r, (q, rs, re) in enumerate(rows) if q == p and rs < e and re > s]
            s_has = max(under) if under else (float(sentence_has.min()) if len(sentence_has) else 0.0)
            p_has = window_has[p] if np.isfinite(window_has[p]) else 0.0
            out.append(WindowSpan(p, s, e, score, alpha * p_has + (1 - alpha) * s_has))
        return sorted(out, key=lambda sp: -sp.score)

    def has_answer_logits(self, question: str, passages: list[str]) -> np.ndarray:
        """The passage model's has-answer logit of each passage (the reranker's use)."""
        return self.passage.has_answer_logits(question, passages)


def unavailable(settings) -> str | None:
    """Why the combined reader cannot run (either bundled model file, or onnxruntime, missing), or ``None``."""
    if settings.reader_model:
        return ("reader_model names one model, and the combined reader reads with both bundled ones: "
                "set the reader to passage or sentence to use a model of your own")
    return passage.unavailable(settings) or sentence.unavailable(settings)


class CombinedReader(PassageReader):
    """The passage reader's reading (:meth:`PassageReader.read`) with :class:`CombinedModel` as its model."""

    def __init__(self, settings, record: Path = RECORD, model: CombinedModel | None = None):
        super().__init__(settings, model_file=passage.model_path(settings), calibration=Calibration.read(record),
                         model=model)
        self.weights = Weights.read(record)
        self.deeper = 0  # reading deeper was chosen with the passage model's confidence, not this one's
        self.pool = max(settings.k, self.read_passages)

    @property
    def model(self) -> CombinedModel:
        """Both loaded models (loaded on first use)."""
        with self._lock:
            if self._model is None:
                from ..index.embedding import bundled_model_path

                tokenizer, threads = bundled_model_path(), self.settings.read_threads
                self._model = CombinedModel(PassageModel(passage.model_path(self.settings), tokenizer, threads),
                                            ReaderModel(sentence.model_path(self.settings), tokenizer, threads),
                                            self.weights)
        return self._model

    def passage_spans(self, question: str, top, data) -> list[WindowSpan]:
        """The candidates of the passages ``top`` read, the sentence model reading the index's sentences."""
        bounds = []
        for hit in top:
            p = hit.passage
            rows = data.sentences[int(data.sent_lo[hit.row]): int(data.sent_hi[hit.row])]
            bounds.append([(max(int(s), p.start) - p.start, min(int(e), p.end) - p.start)
                           for _, _, s, e in rows] or None)  # None: no sentence in the index, split the text
        return self.model.spans(question, [h.passage.text for h in top], bounds)
