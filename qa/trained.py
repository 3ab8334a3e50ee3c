"""The trained reader: a small model fine-tuned here on SQuAD v1.1 train, run by ONNX Runtime.

One model with two heads over ``[CLS] question [SEP] sentence [SEP]`` (at most
:data:`MAX_TOKENS` tokens): a *has-answer* logit from the mean of the pair's token vectors (the
sentence answers the question; its sigmoid is the confidence, and abstention is learned from
hard negatives) and
start/end logits over the sentence's tokens (the answer span). It is the first
:data:`~qa.train` ``--layers`` layers of the bundled all-MiniLM-L6-v2 encoder, trained by
``python -m qa.train`` and shipped as int8 ONNX weights in ``qa/models/`` (see its README).

Reading: the heuristic reader (:class:`qa.reader.SpanReader`) ranks the sentences of the retrieved
passages (no model, ~2 ms); the model reads the best :data:`CANDIDATES` of them in one batch; the
sentence with the highest has-answer probability gives the answer span, unless that probability
is below :data:`ABSTAIN_BELOW`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .reader import SpanReader, abstain, answer_at

MODEL_DIR = Path(__file__).resolve().parent / "models"
MODEL_FILE = "reader-int8.onnx"
MAX_TOKENS = 128  #: question + sentence, special tokens included
MAX_QUESTION_TOKENS = 48
MAX_ANSWER_TOKENS = 30
CANDIDATES = 3  #: sentences the model reads per question (the heuristic ranking's best)
ABSTAIN_BELOW = 0.5  #: has-answer probability of the best sentence below which the reader abstains


def load_tokenizer(model_dir: Path):
    """The bundled model's WordPiece tokenizer (``tokenizer.json``), set up for question/sentence pairs."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


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
    """Per row, the (start token, end token, score) with the highest start + end logit among
    spans of the sentence's tokens, start <= end < start + ``max_len``."""
    out = []
    for s_log, e_log, ctx in zip(start, end, context):
        s_log = np.where(ctx, s_log, -np.inf)
        e_log = np.where(ctx, e_log, -np.inf)
        scores = s_log[:, None] + e_log[None, :]
        n = len(s_log)
        allowed = np.triu(np.ones((n, n), dtype=bool)) & ~np.triu(np.ones((n, n), dtype=bool), k=max_len)
        scores = np.where(allowed, scores, -np.inf)
        i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
        out.append((int(i), int(j), float(scores[i, j])))
    return out


class ReaderModel:
    """The int8 ONNX model and its tokenizer: (question, sentence) pairs -> has-answer probability
    and the best span's character offsets in the sentence."""

    def __init__(self, model_file: Path, tokenizer_dir: Path, threads: int = 1):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(threads, 1)
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.tokenizer = load_tokenizer(tokenizer_dir)

    def predict(self, question: str, sentences: list[str]) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """Has-answer probability of each sentence, and its best span (start, end) in that sentence."""
        batch = encode_pairs(self.tokenizer, [question] * len(sentences), sentences)
        start, end, has_answer = self.session.run(["start_logits", "end_logits", "has_answer"], batch.feed())
        spans = []
        for row, (i, j, _) in enumerate(best_spans(start, end, batch.context)):
            spans.append((batch.offsets[row][i][0], batch.offsets[row][j][1]))
        return 1.0 / (1.0 + np.exp(-has_answer.reshape(-1))), spans


def unavailable(model_dir: Path | None = None) -> str | None:
    """Why the trained reader cannot run (a missing model file or package), or ``None``."""
    model_file = Path(model_dir or MODEL_DIR) / MODEL_FILE
    if not model_file.is_file():
        return f"model file {str(model_file)!r} is missing: reinstall qa or retrain with `python -m qa.train span`"
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return "onnxruntime is not installed: run `pip install onnxruntime`"
    return None


class TrainedReader:
    """Heuristic sentence ranking, then the trained model on the best :data:`CANDIDATES` sentences."""

    needs_vector = True

    def __init__(self, settings, model_file: Path | None = None, candidates: int = CANDIDATES,
                 threshold: float = ABSTAIN_BELOW):
        self.settings = settings
        self.ranker = SpanReader(settings)
        self.pool = self.ranker.pool
        self.model_file = Path(model_file or MODEL_DIR / MODEL_FILE)
        self.candidates = candidates
        self.threshold = threshold
        self._model: ReaderModel | None = None
        self._lock = threading.Lock()

    def warm_up(self, data, embedder) -> None:
        """Load the ONNX model (once)."""
        self._load()

    def _load(self) -> ReaderModel:
        with self._lock:
            if self._model is None:
                from .embedding import bundled_model_path

                self._model = ReaderModel(self.model_file, bundled_model_path(), self.settings.query_threads)
        return self._model

    def read(self, question: str, qvec: np.ndarray, retrieval, data, k: int):
        citations = tuple(retrieval.hits[:k])
        ranking = self.ranker.rank(question, qvec, retrieval, data)
        if ranking is None:
            return abstain(0.0, citations)
        rows = [int(r) for r in ranking.rows[: self.candidates]]
        texts = [_sentence(data, r)[1] for r in rows]
        probs, spans = self._load().predict(question, texts)
        best = int(np.argmax(probs))
        confidence = float(probs[best])
        if confidence < self.threshold:
            return abstain(confidence, citations)
        s, _ = _sentence(data, rows[best])
        start, end = spans[best]
        return answer_at(data, retrieval.hits, k, rows[best], int(ranking.hit_pos[best]),
                         s + start, s + end, confidence)


def _sentence(data, row: int) -> tuple[int, str]:
    """A sentence row's start offset in its document, and its text."""
    _, di, s, e = (int(x) for x in data.sentences[row])
    return s, data.documents[di].text[s:e]
