"""The trained reader (the default): a small model fine-tuned here on SQuAD v1.1 train, run by ONNX Runtime.

One model with two heads over ``[CLS] question [SEP] sentence [SEP]`` (at most
:data:`MAX_TOKENS` tokens): a *has-answer* logit from the mean of the pair's token vectors (a
cross-encoder score: the sentence answers the question; learned from hard negatives) and
start/end logits over the sentence's tokens (the answer span). It is the bundled
all-MiniLM-L6-v2 encoder (6 layers) trained by ``python -m qa.train`` and shipped as int8 ONNX
weights in ``qa/models/`` (see its README, the model card).

Reading: the heuristic reader (:class:`qa.reader.heuristic.SpanReader`) ranks the sentences of the retrieved
passages (no model, ~1.5 ms); the model reads the best :data:`CANDIDATES` of them in one batch
(~15 ms on one core); the answer sentence is the one with the highest has-answer logit +
:data:`HEURISTIC_WEIGHT` x heuristic score, the answer its best span. The number of candidates
and the weight were chosen by ``bench/tune_trained.py`` on held-out SQuAD *training* articles
(docs/benchmarks.md, "Sentence reader"). The confidence is the probability that the answer is
right, from that sentence's has-answer logit by the calibration stored beside the model (fitted
on one half of SQuADShifts by ``bench/sentence_reader.py calibrate``, with the two thresholds;
:mod:`qa.reader.calibration`).

:func:`rerank` uses the same has-answer score to reorder a search's passages (``settings.rerank``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import windows
from .answers import abstain, answer_at, sentence_at, state
from .calibration import Calibration
from .runtime import load_tokenizer, open_session
from .heuristic import SpanReader

MODEL_DIR = Path(__file__).resolve().parent.parent / "models"
MODEL_FILE = "reader-int8.onnx"
MAX_TOKENS = 128  #: question + sentence, special tokens included
MAX_QUESTION_TOKENS = 48
MAX_ANSWER_TOKENS = 30
CANDIDATES = 3  #: sentences the model reads per question (the heuristic ranking's best)
HEURISTIC_WEIGHT = 4.0  #: weight of the heuristic sentence score next to the has-answer logit
ANSWER_FROM = 0.85  #: uncalibrated: has-answer probability from which the answer is stated
ABSTAIN_BELOW = 0.5  #: uncalibrated: below this it abstains; between the two the answer is tentative
#: The confidence when no calibration is stored beside the model: the has-answer probability, with
#: the thresholds chosen on held-out SQuAD training articles (bench/tune_trained.py).
UNCALIBRATED = Calibration(answer=ANSWER_FROM, tentative=ABSTAIN_BELOW)


@dataclass
class Batch:
    """Token ids of question/sentence pairs, padded, with each token's character span in its sentence."""

    input_ids: np.ndarray
    attention_mask: np.ndarray
    token_type_ids: np.ndarray
    context: np.ndarray  #: bool, the token belongs to the sentence (the only place an answer can be)
    offsets: list[list[tuple[int, int]]]  #: per pair, per token: character span in the sentence

    def feed(self) -> dict[str, np.ndarray]:
        return {"input_ids": self.input_ids, "attention_mask": self.attention_mask,
                "token_type_ids": self.token_type_ids}


def encode_pairs(tokenizer, questions: list[str], sentences: list[str]) -> Batch:
    """``[CLS] question [SEP] sentence [SEP]``, the question cut to :data:`MAX_QUESTION_TOKENS`
    and the sentence to what is left of :data:`MAX_TOKENS`; padded to the longest pair."""
    q_enc = tokenizer.encode_batch(questions, add_special_tokens=False)
    s_enc = tokenizer.encode_batch(sentences, add_special_tokens=False)
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    rows, types, offsets = [], [], []
    for q, s in zip(q_enc, s_enc):
        q_ids = q.ids[:MAX_QUESTION_TOKENS]
        room = MAX_TOKENS - len(q_ids) - 3
        s_ids, s_off = s.ids[:room], s.offsets[:room]
        rows.append([cls, *q_ids, sep, *s_ids, sep])
        types.append([0] * (len(q_ids) + 2) + [1] * (len(s_ids) + 1))
        offsets.append([(0, 0)] * (len(q_ids) + 2) + list(s_off) + [(0, 0)])
    width = max(map(len, rows))
    ids = np.zeros((len(rows), width), dtype=np.int64)
    type_ids = np.zeros_like(ids)
    mask = np.zeros_like(ids)
    context = np.zeros(ids.shape, dtype=bool)
    for i, (r, t) in enumerate(zip(rows, types)):
        ids[i, : len(r)], type_ids[i, : len(t)], mask[i, : len(r)] = r, t, 1
        context[i, : len(t) - 1] = np.asarray(t[:-1]) == 1
    return Batch(ids, mask, type_ids, context, offsets)


def best_spans(start: np.ndarray, end: np.ndarray, context: np.ndarray,
               max_len: int = MAX_ANSWER_TOKENS) -> list[tuple[int, int, float]]:
    """:func:`qa.reader.windows.best_spans` (per row, the best span of the sentence's tokens), at
    most :data:`MAX_ANSWER_TOKENS` tokens long by default."""
    return windows.best_spans(start, end, context, max_len)


class ReaderModel:
    """The int8 ONNX model and its tokenizer: (question, sentence) pairs -> has-answer logit
    (:meth:`read_logits`) or probability (:meth:`read_probabilities`) and the best span's character
    offsets in the sentence."""

    def __init__(self, model_file: Path, tokenizer_dir: Path, threads: int = 1):
        self.session = open_session(model_file, threads, "span")
        self.tokenizer = load_tokenizer(tokenizer_dir)

    def logits(self, question: str, sentences: list[str]) -> tuple[Batch, np.ndarray, np.ndarray, np.ndarray]:
        """The encoded pairs and the model's start, end and has-answer logits for them."""
        batch = encode_pairs(self.tokenizer, [question] * len(sentences), sentences)
        start, end, has_answer = self.session.run(["start_logits", "end_logits", "has_answer"], batch.feed())
        return batch, start, end, has_answer.reshape(-1).astype(np.float64)

    def read_logits(self, question: str, sentences: list[str]) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """Has-answer logit of each sentence, and its best span (start, end) in that sentence."""
        batch, start, end, has_answer = self.logits(question, sentences)
        spans = []
        for row, (i, j, _) in enumerate(best_spans(start, end, batch.context)):
            spans.append((batch.offsets[row][i][0], batch.offsets[row][j][1]))
        return has_answer, spans

    def has_answer_logits(self, question: str, sentences: list[str], batch_size: int = 64) -> np.ndarray:
        """Has-answer logit of each sentence (no spans: the reranker's use)."""
        out = []
        for i in range(0, len(sentences), batch_size):
            chunk = sentences[i: i + batch_size]
            batch = encode_pairs(self.tokenizer, [question] * len(chunk), chunk)
            out.append(self.session.run(["has_answer"], batch.feed())[0].reshape(-1))
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)

    def read_probabilities(self, question: str, sentences: list[str]) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """Has-answer probability of each sentence, and its best span (start, end) in that sentence."""
        logits, spans = self.read_logits(question, sentences)
        return 1.0 / (1.0 + np.exp(-logits)), spans


def model_path(settings) -> Path:
    """The reader model file: ``settings.reader_model`` when set (a local ``.onnx`` file with the
    same inputs and outputs), else the bundled one."""
    return Path(settings.reader_model) if settings.reader_model else MODEL_DIR / MODEL_FILE


def unavailable(settings) -> str | None:
    """Why the trained reader cannot run (a missing model file or package), or ``None``."""
    model_file = model_path(settings)
    if not model_file.is_file():
        if settings.reader_model:
            return "no such file (name a .onnx file exported by `python -m qa.train`)"
        return f"model file {str(model_file)!r} is missing: reinstall qa or retrain with `python -m qa.train span`"
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return "onnxruntime is not installed: run `pip install onnxruntime`"
    return None


@dataclass(frozen=True)
class Combination:
    """How the trained reader chooses its answer sentence (chosen by ``bench/tune_trained.py`` on
    held-out SQuAD training articles, never on the test sets or the seed queries).

    The heuristic ranking's best ``candidates`` sentences are read by the model; the answer comes
    from the one with the highest ``has-answer logit + heuristic * heuristic score``; its
    confidence is the calibration's (:class:`qa.reader.calibration.Calibration`)."""

    candidates: int = CANDIDATES
    heuristic: float = HEURISTIC_WEIGHT


class TrainedReader:
    """Heuristic sentence ranking, then the trained model on the best candidates (see :class:`Combination`)."""

    needs_vector = True

    def __init__(self, settings, model_file: Path | None = None, combination: Combination | None = None,
                 calibration: Calibration | None = None):
        self.settings = settings
        self.ranker = SpanReader(settings)
        self.pool = self.ranker.pool
        self.model_file = Path(model_file or model_path(settings))
        self.combination = combination or Combination()
        #: stored beside the model (``reader-int8.json``; bench/sentence_reader.py calibrate), else
        #: the has-answer probability with :data:`UNCALIBRATED`'s thresholds
        self.calibration = calibration or Calibration.beside(self.model_file, UNCALIBRATED)
        self._model: ReaderModel | None = None
        self._lock = threading.Lock()

    @property
    def threshold(self) -> float:
        """Confidence below which it abstains: ``settings.abstain_threshold``, else the calibration's."""
        t = self.settings.abstain_threshold
        return self.calibration.tentative if t is None else t

    @property
    def answer_threshold(self) -> float:
        """Confidence from which the answer is stated: ``settings.answer_threshold``, else the calibration's."""
        t = self.settings.answer_threshold
        return max(self.threshold, self.calibration.answer if t is None else t)

    def warm_up(self, data, embedder) -> None:
        """Load the ONNX model (once)."""
        self.model  # noqa: B018 - loads it

    @property
    def model(self) -> ReaderModel:
        """The loaded model (loaded on first use)."""
        with self._lock:
            if self._model is None:
                from ..index.embedding import bundled_model_path

                self._model = ReaderModel(self.model_file, bundled_model_path(), self.settings.read_threads)
        return self._model

    def candidates(self, question: str, qvec: np.ndarray, retrieval, data):
        """The heuristic ranking and the model's reading of its best sentences: (ranking, rows,
        has-answer logits, spans), or ``None`` when the passages hold no sentence."""
        ranking = self.ranker.rank(question, qvec, retrieval, data)
        if ranking is None:
            return None
        rows = [int(r) for r in ranking.rows[: self.combination.candidates]]
        logits, spans = self.model.read_logits(question, [sentence_at(data, r)[2] for r in rows])
        return ranking, rows, logits, spans

    def read(self, question: str, qvec: np.ndarray, retrieval, data, k: int):
        citations = tuple(retrieval.hits[:k])
        found = self.candidates(question, qvec, retrieval, data)
        if found is None:
            return abstain(0.0, citations)
        ranking, rows, logits, spans = found
        c = self.combination
        best = int(np.argmax(logits + c.heuristic * ranking.scores[: len(rows)]))
        confidence = self.calibration.confidence(float(logits[best]), 0.0)
        status = state(confidence, self.answer_threshold, self.threshold)
        if status is None:
            return abstain(confidence, citations)
        s, _, _ = sentence_at(data, rows[best])
        start, end = spans[best]
        return answer_at(data, retrieval.hits, k, rows[best], int(ranking.hit_pos[best]),
                         s + start, s + end, confidence, status)


def rerank(model: ReaderModel, question: str, hits: list, data, depth: int, rrf_k: int = 60) -> list:
    """The first ``depth`` hits reordered with the model as a cross-encoder: a passage's score is
    the highest has-answer logit among its sentences; the model's order and the retrieval order
    are fused by reciprocal rank (constant ``rrf_k``), so that a passage both rank high stays on
    top. Hits below ``depth`` keep their places after them."""
    from dataclasses import replace

    top = hits[:depth]
    rows, owner = [], []
    for n, hit in enumerate(top):
        for r in range(int(data.sent_lo[hit.row]), int(data.sent_hi[hit.row])):
            rows.append(r)
            owner.append(n)
    if len(top) < 2 or not rows:
        return hits
    logits = model.has_answer_logits(question, [sentence_at(data, r)[2] for r in rows])
    best = np.full(len(top), -np.inf)
    np.maximum.at(best, np.asarray(owner), logits)
    model_rank = np.empty(len(top), dtype=np.int64)
    model_rank[np.argsort(-best, kind="stable")] = np.arange(1, len(top) + 1)
    fused = 1.0 / (rrf_k + np.arange(1, len(top) + 1)) + 1.0 / (rrf_k + model_rank)
    order = np.argsort(-fused, kind="stable")
    out = [replace(top[i], score=float(fused[i]), rank=n, ranks={**top[i].ranks, "reranker": int(model_rank[i])})
           for n, i in enumerate(order, start=1)]
    return out + [replace(h, rank=len(out) + n) for n, h in enumerate(hits[depth:], start=1)]
