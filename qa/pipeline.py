"""The one facade used by the CLI, the app, evaluation and the benchmarks.

>>> from qa.pipeline import Pipeline                                  # doctest: +SKIP
>>> qa = Pipeline()                # settings from defaults and QA_* variables
>>> qa.index().lines()             # build or update ./vectorstore from ./seeds
>>> hits = qa.search("Whose help was the victory in Aleppo credited to?", k=3)
>>> answer = qa.ask("When did Russia first signal that it was reconsidering its commitment to Assad?")
>>> qa.add(["report.pdf"])         # copy into the document folder, index it, answer from it at once
>>> qa.remove(["report.pdf"])      # and gone again

The constructor only stores settings. The model and the index load on first use (or
``warm_up()``), once; queries then run the model once, for the question.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from typing import Callable

from . import store
from .collection import AddReport, add_files, remove_documents
from .config import MODES, Settings
from .errors import BadQuestionError, IndexProblem, ModelError, NoDocumentsError, SettingsError
from .indexer import IndexReport, ProgressFn, update_index
from .types import Answer, Hit
from .vectors import VectorSettings

log = logging.getLogger("qa")

#: Control characters, and lone surrogates (what undecodable bytes in a command line become),
#: which are not text: the model's tokenizer rejects them.
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_question(question: object, max_chars: int) -> str:
    """Validate a question; return it with control characters and extra white space removed."""
    if not isinstance(question, str):
        raise BadQuestionError("the question must be text")
    q = _NOT_TEXT.sub(" ", question)
    q = " ".join(q.split())
    if not q:
        raise BadQuestionError("the question is empty: type a question about the documents")
    if len(q) > max_chars:
        raise BadQuestionError(
            f"the question is {len(q):,} characters long; the limit is {max_chars:,}: ask something shorter"
        )
    if not any(unicodedata.category(c)[0] in "LN" for c in q):
        raise BadQuestionError("the question has no words to search for: use letters or numbers")
    return q


class Pipeline:
    def __init__(self, settings: Settings | None = None, embedder=None, reader=None):
        self.settings = settings or Settings.from_env()
        self._embedder = embedder
        self._reader = reader
        self._reranker = None
        self._data: store.IndexData | None = None
        self._lock = threading.RLock()
        self.last_report: IndexReport | None = None

    # -- heavy things, loaded once ---------------------------------------------------------
    @property
    def embedder(self):
        if self._embedder is None:
            from .embedding import SentenceTransformerEmbedder

            s = self.settings
            self._embedder = SentenceTransformerEmbedder(
                s.model, backend=s.encoder, threads=s.query_threads, index_threads=s.index_threads
            )
        return self._embedder

    @property
    def reader(self):
        if self._reader is None:
            from .reader import make_reader

            self._reader = make_reader(self.settings)
        return self._reader

    @property
    def reranker(self):
        """The trained reader's model, used as a cross-encoder on passages (``settings.rerank``)."""
        if self._reranker is None:
            with self._lock:
                if self._reranker is None:
                    self._reranker = self._load_reranker()
        return self._reranker

    def _load_reranker(self):
        from .reader.sentence import ReaderModel, TrainedReader, model_path, unavailable

        if isinstance(self.reader, TrainedReader):
            return self.reader.model
        reason = unavailable(self.settings)
        if reason:
            raise ModelError(f"rerank needs the trained reader's model: {reason}")
        from .embedding import bundled_model_path

        return ReaderModel(model_path(self.settings), bundled_model_path(), self.settings.query_threads)

    @property
    def data(self) -> store.IndexData:
        """The loaded index; built or updated on first use."""
        data = self._data
        if data is None:
            with self._lock:
                if self._data is None:
                    self.refresh()
                data = self._data
        return data

    def warm_up(self, progress: ProgressFn | None = None, show_bar: bool = False) -> IndexReport | None:
        self.embedder.warm_up()
        report = None
        if self._data is None:
            report = self.refresh(progress=progress, show_bar=show_bar)
        self.reader.warm_up(self.data, self.embedder)
        if self.settings.rerank:
            _ = self.reranker
        return report

    # -- indexing ----------------------------------------------------------------------------
    def index(self, force: bool = False, progress: ProgressFn | None = None, show_bar: bool = False) -> IndexReport:
        """Build or update the index on disk from the document folder (does not swap it in)."""
        s = self.settings
        report = update_index(
            s.docs, s.index, self.embedder, s.chunk_size, s.chunk_overlap, batch_size=s.batch_size,
            max_file_bytes=s.max_file_bytes, progress=progress, show_bar=show_bar, force=force,
            vectors=VectorSettings.from_settings(s),
        )
        self.last_report = report
        return report

    def refresh(self, force: bool = False, progress: ProgressFn | None = None, show_bar: bool = False,
                notify: Callable[[str], None] | None = None) -> IndexReport | None:
        """Update the index from the documents, then switch queries to it in one step.

        Queries running meanwhile keep the index they started with. When the document folder is
        missing but a good index exists, that index is used as it is.
        """
        report = None
        try:
            report = self.index(force=force, progress=progress, show_bar=show_bar)
            if report.wrote or report.skipped:
                for line in report.lines():
                    (notify or log.info)(line)
        except NoDocumentsError:
            if not (self.settings.index / store.MANIFEST).exists():
                raise
            (notify or log.warning)(
                f"document folder {str(self.settings.docs)!r} is not usable; answering from the existing index"
            )
        data = store.load(self.settings.index, vectors=VectorSettings.from_settings(self.settings))
        if data.manifest.get("model", {}).get("id") != self.embedder.model_id:
            data.close()
            raise IndexProblem(
                f"the index in {str(self.settings.index)!r} was built with another model "
                f"({data.manifest.get('model', {}).get('id')}); run `qa index` with the documents to rebuild it"
            )
        old, self._data = self._data, data  # one reference swap: readers see the old or the new index
        if old is not None:
            old.close()  # its Qdrant client is shared with the new index, so it stays open
        return report

    # -- queries -----------------------------------------------------------------------------
    def _check(self, question, k, mode) -> tuple[str, int, str]:
        q = clean_question(question, self.settings.max_question_chars)
        try:
            k = self.settings.k if k is None else int(k)
        except (TypeError, ValueError):
            raise SettingsError(f"k must be a whole number, got {k!r}") from None
        if k < 1 or k > 1000:
            raise SettingsError(f"k must be between 1 and 1000, got {k}")
        mode = mode or self.settings.mode
        if mode not in MODES:
            raise SettingsError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
        return q, k, mode

    def _retrieve(self, q: str, k: int, mode: str, docs, data, pool: int | None = None, need_vector: bool = False):
        """Run the retrievers; the question is embedded once, when the mode or ``need_vector`` asks for it."""
        from .retrieval import retrieve

        timings: dict[str, float] = {}
        qvec = None
        if mode != "bm25" or need_vector:
            t = time.perf_counter()
            qvec = self.embedder.encode_query(q)
            timings["embed"] = time.perf_counter() - t
        if docs:
            unknown = [d for d in docs if d not in data.doc_index]
            if unknown:
                raise SettingsError(f"unknown document id(s): {', '.join(unknown)}; see `qa list`")
        result = retrieve(data, q, qvec, pool or k, mode, docs, self.settings.candidates, self.settings.rrf_k)
        timings.update(result.timings)
        return qvec, result, timings

    def search(self, question: str, k: int | None = None, mode: str | None = None,
               docs: list[str] | None = None) -> list[Hit]:
        """The best ``k`` passages for the question, with citations."""
        return self.search_timed(question, k, mode, docs)[0]

    def search_timed(self, question, k=None, mode=None, docs=None) -> tuple[list[Hit], dict[str, float]]:
        t0 = time.perf_counter()
        q, k, mode = self._check(question, k, mode)
        depth = self.settings.rerank
        if depth:
            _ = self.reranker  # an unusable reranker model is reported before any indexing work
        data = self.data
        _, result, timings = self._retrieve(q, max(k, depth), mode, docs, data)
        hits = result.hits
        if depth:
            from .reader.sentence import rerank

            t = time.perf_counter()
            hits = rerank(self.reranker, q, hits, data, depth, self.settings.rrf_k)
            timings["rerank"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t0
        return hits[:k], timings

    def ask(self, question: str, k: int | None = None, mode: str | None = None,
            docs: list[str] | None = None) -> Answer:
        """An extractive answer with its evidence; ``answer.text`` is ``None`` when it abstains."""
        t0 = time.perf_counter()
        q, k, mode = self._check(question, k, mode)
        reader = self.reader  # an unusable reader model is reported before any indexing work
        data = self.data
        qvec, result, timings = self._retrieve(q, k, mode, docs, data, pool=max(k, reader.pool),
                                               need_vector=reader.needs_vector)
        t = time.perf_counter()
        answer = reader.read(q, qvec, result, data, k)
        timings["read"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t0
        answer.timings.update(timings)
        return answer

    def documents(self) -> list[dict]:
        """The indexed documents: id, title, author, date, kind, pages (``None`` without pages),
        passages, characters of text, and when each was indexed."""
        data = self.data
        counts = data.manifest.get("documents", {})
        return [
            {"id": d.id, "title": d.title, "author": d.author, "date": d.date, "kind": d.kind,
             "pages": len(d.pages) or None, "passages": counts.get(d.id, {}).get("passages", 0),
             "chars": len(d.text), "indexed": counts.get(d.id, {}).get("indexed")}
            for d in data.documents
        ]

    # -- the collection ----------------------------------------------------------------------
    def add(self, paths, link: bool = False, progress: ProgressFn | None = None,
            notify: Callable[[str], None] | None = None) -> tuple[AddReport, IndexReport | None]:
        """Copy (or, with ``link``, reference) files into the document folder, then index them and
        answer from the new index at once. Files that cannot be used are skipped with a reason."""
        with self._lock:
            added = add_files(self.settings.docs, paths, self.settings.max_file_bytes, link=link)
            report = self.refresh(progress=progress, notify=notify) if added.changed else None
        return added, report

    def remove(self, ids, progress: ProgressFn | None = None,
               notify: Callable[[str], None] | None = None) -> IndexReport | None:
        """Remove documents from the collection (a copied file is deleted, a link forgotten) and
        from the index; questions asked after this returns no longer see them."""
        with self._lock:
            removed = remove_documents(self.settings.docs, ids)
            report = self.refresh(progress=progress, notify=notify)
            if report is None:  # no usable document left: refresh kept the old index
                raise NoDocumentsError(f"removed {', '.join(removed)}, but no readable document is left "
                                       "to index: add documents, then run `qa index`")
            return report
