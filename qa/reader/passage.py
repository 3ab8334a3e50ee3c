"""The passage reader (``QA_READER=passage``): reads whole retrieved passages with the model trained here.

The model (``python -m qa.train passage``; int8 ONNX in ``qa/models/``, see its card) reads
``[CLS] question [SEP] passage [SEP]`` windows of at most 384 tokens (a longer passage in
overlapping windows, :mod:`qa.reader.windows`) and gives, per window, start/end logits over the
passage's tokens and a has-answer logit. The first retrieved passage is read first; when the
answer found there is at least ``Calibration.stop`` sure, reading ends, else the next passages up
to :data:`READ_PASSAGES` are read too (each window on its own, :func:`qa.reader.runtime.run_rows`;
``bench/read_first.py`` measured both choices on held-out data). Training normalised the span scores over all of a question's windows
together, so the best span anywhere (start + end logit, at most 64 tokens: a clause, a list, a
definition), less ``Calibration.rank`` per place its passage stands below the first retrieved, is
the answer; its passage is cited first, and the sentence(s) around it are given for context.

Reading deeper (``Settings.read_deeper``): when a question's answer from those passages is still below
``Settings.deeper_below`` sure, the retrieved passages below them are read too, down to ``read_deeper``, and the
surest span there, by a confidence fitted apart (``Calibration.deeper_confidence``: the best of several passages is
over-confident by the reader's own weights), replaces the answer when it is at least ``Settings.deeper_take`` and
surer (``bench/read_deeper.py``; docs/benchmarks.md, "Reading deeper for questions"). Queries not worded as
questions never read deeper: on scientific claims it cost precision.

Confidence: :class:`Calibration` maps the window's has-answer logit and the span's score to the
probability that the answer is right, fitted by logistic regression on one half of SQuADShifts
(text unlike the training data; ``bench/passage_reader.py calibrate``) and stored beside the model. At or
above ``answer_threshold`` the answer is stated; at or above ``tentative_threshold`` it is shown
as a possible answer; below, only the passages are shown.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .answers import abstain, answer_in, state
from .calibration import Calibration
from .runtime import load_tokenizer, open_session, run_rows
from .windows import MAX_ANSWER_TOKENS, best_spans, char_span, encode

MODEL_DIR = Path(__file__).resolve().parent.parent / "models"
MODEL_FILE = "passage-int8.onnx"
READ_PASSAGES = 3  #: passages read per question (bench/passage_reader.py calibrate: 3 beat 5)
MAX_WINDOWS = 4  #: windows read of one passage (a 1,000-character passage needs one)
SPANS_KEPT = 64  #: passages whose spans are kept for a question asked again (two questions' worth)


@dataclass(frozen=True)
class WindowSpan:
    """The best span of one window: its passage, character offsets in that passage, and scores."""

    passage: int
    start: int
    end: int
    score: float  #: start + end logit (comparable across a question's windows)
    has_answer: float  #: the window's has-answer logit


class PassageModel:
    """The int8 ONNX passage model and its tokenizer: (question, passages) -> best span per window."""

    def __init__(self, model_file: Path, tokenizer_dir: Path, threads: int = 1):
        self.session = open_session(model_file, threads, "passage")
        self.tokenizer = load_tokenizer(tokenizer_dir)

    def logits(self, question: str, passages: list[str], max_windows: int = MAX_WINDOWS,
               sentences: list[list[int]] | None = None):
        """The windows and the model's start, end and has-answer logits for them (``sentences``: per passage, where
        its sentences start, marked in the windows for :func:`best_spans`)."""
        windows = encode(self.tokenizer, [question], passages, max_windows=max_windows, sentences=sentences)
        if len(windows) == 0:
            return windows, np.zeros((0, 0)), np.zeros((0, 0)), np.zeros(0)
        start, end, has = run_rows(self.session, windows.feed(), ["start_logits", "end_logits", "has_answer"])
        return windows, start, end, has.reshape(-1).astype(np.float64)

    def spans(self, question: str, passages: list[str], max_answer_tokens: int = MAX_ANSWER_TOKENS,
              sentences: list[list[int]] | None = None) -> list[WindowSpan]:
        """The best span of every window, best score first (``score`` and ``has_answer`` are logits); with
        ``sentences`` (per passage, where its sentences start) a span across one loses ``SENTENCE_PENALTY``."""
        return window_spans(*self.logits(question, passages, sentences=sentences), max_answer_tokens)

    def has_answer_logits(self, question: str, passages: list[str]) -> np.ndarray:
        """Has-answer logit of each passage (its best window's): the reranker's use."""
        windows, _, _, has = self.logits(question, passages)
        best = np.full(len(passages), -np.inf)
        np.maximum.at(best, windows.owner, has)
        return best


def window_spans(windows, start, end, has, max_answer_tokens: int = MAX_ANSWER_TOKENS) -> list[WindowSpan]:
    """The best span of every window from the model's logits (``has``: one has-answer logit a
    window), best score first; windows without a passage token give none."""
    out = []
    for w, (a, b, score) in enumerate(best_spans(start, end, windows.context, max_answer_tokens,
                                                 windows.walls, windows.markup, windows.sentences)):
        if np.isfinite(score):
            s, e = char_span(windows, w, a, b)
            out.append(WindowSpan(int(windows.owner[w]), s, e, score, float(has[w])))
    return sorted(out, key=lambda sp: -sp.score)


def model_path(settings) -> Path:
    return Path(settings.reader_model) if settings.reader_model else MODEL_DIR / MODEL_FILE


def unavailable(settings) -> str | None:
    """Why the passage reader cannot run (a missing model file or package), or ``None``."""
    model_file = model_path(settings)
    if not model_file.is_file():
        if settings.reader_model:
            return "no such file (name a .onnx file exported by `python -m qa.train passage`)"
        return (f"model file {str(model_file)!r} is missing: reinstall qa or retrain with "
                "`python -m qa.train passage`")
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return "onnxruntime is not installed: run `pip install onnxruntime`"
    return None


def choose(spans: list[WindowSpan], calibration: Calibration) -> tuple[WindowSpan | None, float]:
    """The answer span and its calibrated confidence: the best span score, less ``calibration.rank``
    for each place its passage stands below the first one retrieved (``passage`` is that place)."""
    if not spans:
        return None, 0.0
    best = max(spans, key=lambda sp: sp.score - calibration.rank * sp.passage)
    return best, calibration.confidence(best.has_answer, best.score)


def order_by_reader(hits, spans: list[WindowSpan], read: int, calibration: Calibration) -> tuple[list, list[int]]:
    """The first ``read`` hits in the reader's order — each passage's best confidence over its windows,
    ties (and passages with no span) in retrieval order — then the rest as retrieved; ranks renumbered,
    the reader's rank kept in ``ranks["reader"]``. Also returns ``where[i]``: the new place of hit ``i``."""
    best = np.full(read, -np.inf)
    for sp in spans:
        best[sp.passage] = max(best[sp.passage], calibration.confidence(sp.has_answer, sp.score))
    order = np.argsort(-best, kind="stable")
    out = [replace(hits[int(i)], rank=n, ranks={**hits[int(i)].ranks, "reader": n})
           for n, i in enumerate(order, start=1)]
    out += [replace(h, rank=len(out) + n) for n, h in enumerate(hits[read:], start=1)]
    return out, np.argsort(order).tolist()  # the inverse permutation: hit i's new place


class PassageReader:
    """Reads the top passages of a retrieval with :class:`PassageModel` (see the module's notes)."""

    needs_vector = False

    def __init__(self, settings, model_file: Path | None = None, calibration: Calibration | None = None,
                 model: PassageModel | None = None):
        self.settings = settings
        self.model_file = Path(model_file or model_path(settings))
        self.calibration = calibration or Calibration.beside(self.model_file)
        self.read_passages = settings.read_passages or READ_PASSAGES
        #: passages read at most when the answer is unsure (0: never more than ``read_passages``)
        self.deeper = settings.read_deeper if settings.read_deeper > self.read_passages else 0
        #: show the passages read in the reader's order (off: on SQuAD dev it ranked the gold paragraph first
        #: less often than retrieval does, ``bench/reader_order.py``); the answer's passage leads either way
        self.order_evidence = False
        self.pool = max(settings.k, self.read_passages, self.deeper)
        self._model: PassageModel | None = model
        self._lock = threading.Lock()
        #: the spans of the passages read lately, by (question, passage text, its sentence starts): a passage's
        #: windows are run alone, so its spans do not depend on the others read with it, and asking again (the
        #: app's deeper answer after its first) reads only what was not read
        self._read: OrderedDict[tuple[str, str, tuple[int, ...]], list[WindowSpan]] = OrderedDict()

    @property
    def threshold(self) -> float:
        """Confidence below which there is no answer (``settings.abstain_threshold``, else the calibration's)."""
        t = self.settings.abstain_threshold
        return self.calibration.tentative if t is None else t

    @property
    def answer_threshold(self) -> float:
        t = self.settings.answer_threshold
        return self.calibration.answer if t is None else t

    @property
    def model(self) -> PassageModel:
        """The loaded model (loaded on first use)."""
        with self._lock:
            if self._model is None:
                from ..index.embedding import bundled_model_path

                self._model = PassageModel(self.model_file, bundled_model_path(), self.settings.read_threads)
        return self._model

    def warm_up(self, data, embedder) -> None:
        self.model  # noqa: B018 - loads it

    def passage_spans(self, question: str, top, data) -> list[WindowSpan]:
        """The best span of each window of the passages ``top`` read (``passage``: the place in ``top``), best
        first; a passage read for the same question lately is not read again."""
        texts = [h.passage.text for h in top]
        starts = [sentence_starts(data, h) for h in top]
        keys = [(question, t, tuple(st)) for t, st in zip(texts, starts)]  # the spans depend on all three
        with self._lock:
            known = [self._read.get(key) for key in keys]
        todo = [i for i, spans in enumerate(known) if spans is None]
        if todo:
            read = self.model.spans(question, [texts[i] for i in todo], sentences=[starts[i] for i in todo])
            for n, i in enumerate(todo):
                known[i] = [replace(sp, passage=0) for sp in read if sp.passage == n]
            with self._lock:
                for i in todo:
                    self._read[keys[i]] = known[i]
                while len(self._read) > SPANS_KEPT:
                    self._read.popitem(last=False)
        # in the model's order: window order (passages as given), then best score first (a stable sort)
        return sorted((replace(sp, passage=i) for i, spans in enumerate(known) for sp in spans),
                      key=lambda sp: -sp.score)

    def reads_deeper(self, question: str, confidence: float, retrieved: int) -> bool:
        """Whether an answer of ``confidence`` from the first passages sends the reader deeper: on, a question
        (:func:`qa.index.question_form.is_question`: claims and keywords were not helped), unsure, and more
        passages retrieved than were read."""
        from ..index.question_form import is_question

        return (self.deeper > 0 and confidence < self.settings.deeper_below and retrieved > self.read_passages
                and is_question(question))

    def read(self, question: str, qvec, retrieval, data, k: int, deeper: bool = True):
        """The answer from the first passages, or (``deeper`` and :meth:`reads_deeper`) from those below them."""
        hits = retrieval.hits
        top = hits[: self.read_passages]
        # with a stop, the first passage alone; without (stop above 1), all in one call, as the combined
        # reader needs: it weighs the sentences of all the passages it is given against each other
        first = 1 if self.calibration.stop <= 1 else len(top)
        spans = self.passage_spans(question, top[:first], data)
        best, confidence = choose(spans, self.calibration)
        if first < len(top) and confidence < self.calibration.stop:  # not sure enough: read the others too
            spans += [replace(sp, passage=sp.passage + first) for sp in self.passage_spans(question, top[first:], data)]
            best, confidence = choose(spans, self.calibration)
        found_deeper = False
        if deeper and self.reads_deeper(question, confidence, len(hits)):
            read = len(top)
            top = hits[: self.deeper]
            deep = [replace(sp, passage=sp.passage + read) for sp in self.passage_spans(question, top[read:], data)]
            spans += deep
            # the best of several passages is over-confident by the reader's own weights: its own fit
            sure_of = self.calibration.deeper_confidence
            surest = max(deep, key=lambda sp: sure_of(sp.has_answer, sp.score), default=None)
            if surest is not None:
                sure = sure_of(surest.has_answer, surest.score)
                if sure >= self.settings.deeper_take and sure > confidence:
                    best, confidence, found_deeper = surest, sure, True
        status = state(confidence, self.answer_threshold, self.threshold)
        where = list(range(len(top)))
        if self.order_evidence and len(top) > 1:
            hits, where = order_by_reader(hits, spans, len(top), self.calibration)
        if best is None or status is None:
            return abstain(confidence, tuple(hits[:k]))
        passage = top[best.passage].passage
        start, end = passage.start + best.start, passage.start + best.end
        answer = answer_in(data, hits, k, where[best.passage], start, end,
                           sentence_bounds(data, top[best.passage].row, start, end), confidence, status)
        return replace(answer, found_deeper=True) if found_deeper else answer


def sentence_starts(data, hit) -> list[int]:
    """Where the sentences of the index start inside the passage of ``hit`` (offsets in its text): an answer runs
    across none of them (on held-out SQuADShifts answers that did were mostly wrong: docs/benchmarks.md, "An answer
    stays inside one sentence")."""
    if data is None or hit.row < 0:
        return []
    p = hit.passage
    rows = data.sentences[int(data.sent_lo[hit.row]): int(data.sent_hi[hit.row])]
    return [int(s) - p.start for s in rows[:, 2] if p.start < int(s) < p.end] if len(rows) else []


def sentence_bounds(data, passage_row: int, start: int, end: int) -> tuple[int, int]:
    """Document offsets of the sentence(s) of passage ``passage_row`` that hold ``start:end``
    (the span itself when the index has no sentence there)."""
    lo, hi = int(data.sent_lo[passage_row]), int(data.sent_hi[passage_row])
    rows = data.sentences[lo:hi]
    if len(rows) == 0:
        return start, end
    inside = rows[(rows[:, 3] > start) & (rows[:, 2] < end)]
    if len(inside) == 0:
        return start, end
    return min(int(inside[:, 2].min()), start), max(int(inside[:, 3].max()), end)
