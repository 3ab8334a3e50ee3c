"""The one facade used by the CLI, the app, evaluation and the benchmarks.

Its use, shown and not run as a test (it works on ./seeds and ./vectorstore)::

    from qa.pipeline import Pipeline
    qa = Pipeline()                # settings from defaults and QA_* variables
    qa.index().lines()             # build or update ./vectorstore from ./seeds
    hits = qa.search("Whose help was the victory in Aleppo credited to?", k=3)
    answer = qa.ask("When did Russia first signal that it was reconsidering its commitment to Assad?")
    qa.correct("How many NDF membrs were incorprated?")  # 'How many NDF members were incorporated?'
    qa.add(["report.pdf"])         # copy into the document folder, index it, answer from it at once
    qa.remove(["report.pdf"])      # moved to the trash beside the index, and gone from answers
    qa.trashed()                   # what can be restored
    qa.restore(["report.pdf"])     # back in the document folder, and indexed again

The constructor only stores settings. The model and the index load on first use (or
``warm_up()``), once; queries then run the model once, for the question.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import operator
import os
import re
import threading
import time
import unicodedata
from functools import lru_cache
from typing import Callable

from .index import store
from .ingest import trash
from .ingest.collection import LINK_PREFIX, AddReport, add_files, relink, remove_documents, undo_add
from .config import MODES, Settings, flag
from .errors import BadQuestionError, IndexProblem, IndexWriteError, ModelError, NoDocumentsError, SettingsError
from .ingest.formats import Limits
from .index.indexer import IndexReport, check_layout, update_index
from .ingest.parsing import Parser, using
from .protocols import Embedder, ProgressFn, Reader
from .types import Answer, DocumentInfo, Hit
from .index.vectors import VectorSettings

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


#: Whether the corrected question is also what the dense encoder embeds, and what the reader (and
#: the reranker) reads; BM25 always searches the corrected words. Measured on SQuAD dev questions
#: with typos (bench/typos.py, docs/benchmarks.md): recall@5 0.942 against 0.882 embedding the
#: question as typed, answer F1 0.661 against 0.498 reading it as typed.
DENSE_CORRECTED = True
READ_CORRECTED = True

#: Most passages one query may ask for.
MAX_K = 1000
#: Most document ids one query may be limited to.
MAX_DOC_FILTER = 10_000


def check_k(k: object) -> int:
    """``k`` as a whole number from 1 to :data:`MAX_K`; :class:`SettingsError` otherwise (also for
    ``inf``, ``nan``, fractions, booleans and text that is not a number)."""
    if isinstance(k, bool):
        raise SettingsError(f"k must be a whole number of passages, got {k!r}")
    if isinstance(k, str):
        k = k.strip()
        if not k.isdigit():
            raise SettingsError(f"k must be a whole number of passages, got {k!r}")
        k = int(k[:6]) if len(k) <= 6 else MAX_K + 1
    if isinstance(k, float):
        if not math.isfinite(k) or not k.is_integer():
            raise SettingsError(f"k must be a whole number of passages, got {k!r}")
        k = int(k)
    if not isinstance(k, int):
        try:
            k = operator.index(k)  # numpy integers too
        except TypeError:
            raise SettingsError(f"k must be a whole number of passages, got {type(k).__name__}") from None
    if not 1 <= k <= MAX_K:
        raise SettingsError(f"k must be between 1 and {MAX_K}, got {k}")
    return k


def check_docs(docs: object) -> list[str] | None:
    """Document ids to search in: ``None`` or an empty list for all, one id as text, or a list of ids.
    :class:`SettingsError` for anything else (a string is one id, never split into characters)."""
    if docs is None:
        return None
    if isinstance(docs, str):
        return [docs]
    if isinstance(docs, (bytes, dict)) or not isinstance(docs, (list, tuple, set, frozenset)):
        raise SettingsError(f"docs must be a list of document ids (see `qa list`), got {type(docs).__name__}")
    if len(docs) > MAX_DOC_FILTER:
        raise SettingsError(f"docs lists {len(docs):,} ids; the limit is {MAX_DOC_FILTER:,}")
    bad = [d for d in docs if not isinstance(d, str)]
    if bad:
        raise SettingsError(f"docs must be a list of document ids (text), got {bad[0]!r}")
    return list(dict.fromkeys(docs)) or None


class Pipeline:
    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None,
                 reader: Reader | None = None):
        """``embedder`` and ``reader`` replace the ones the settings name (made on first use)."""
        self.settings = settings or Settings.from_env()
        self._embedder = embedder
        self._reader = reader
        self._reranker = None
        self._data: store.IndexData | None = None
        self._speller: tuple[store.IndexData, object] | None = None  #: (index, its Speller)
        self._lock = threading.RLock()
        self.last_report: IndexReport | None = None

    # -- heavy things, loaded once ---------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from .index.embedding import SentenceTransformerEmbedder

            s = self.settings
            self._embedder = SentenceTransformerEmbedder(
                s.model, backend=s.encoder, threads=s.query_threads, index_threads=s.index_threads,
                question_model=s.question_model,
            )
        return self._embedder

    @property
    def reader(self) -> Reader:
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
        from .index.embedding import bundled_model_path

        return ReaderModel(model_path(self.settings), bundled_model_path(), self.settings.read_threads)

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
        if self.settings.spelling:
            self.speller(self.data).warm_up()
        if self.settings.rerank:
            _ = self.reranker
        return report

    # -- indexing ----------------------------------------------------------------------------
    @property
    def limits(self) -> Limits:
        """The work allowed per document (characters of text, seconds of parsing)."""
        return Limits(self.settings.max_text_chars, self.settings.max_parse_seconds)

    def parser(self) -> Parser:
        """A parser for documents, with this pipeline's limits and splitter (close it when done)."""
        s = self.settings
        return Parser(self.limits, s.max_file_bytes, (s.chunk_size, s.chunk_overlap), in_process=not s.parse_worker)

    def index(self, force: bool = False, progress: ProgressFn | None = None, show_bar: bool = False,
              parser: Parser | None = None, verify: bool = False) -> IndexReport:
        """Build or update the index on disk from the document folder (does not swap it in).
        Documents are read by ``parser``, or by a new :meth:`parser` for this update. ``verify``:
        hash every index file again (a load trusts files unchanged since they were verified)."""
        s = self.settings
        with using(parser, self.parser) as parser:
            report = update_index(
                s.docs, s.index, self.embedder, s.chunk_size, s.chunk_overlap, batch_size=s.batch_size,
                max_file_bytes=s.max_file_bytes, progress=progress, show_bar=show_bar, force=force,
                vectors=VectorSettings.from_settings(s), limits=self.limits, parser=parser,
                embed_context=s.embed_context, verify=verify, acronyms=s.acronyms,
            )
        self.last_report = report
        return report

    def refresh(self, force: bool = False, progress: ProgressFn | None = None, show_bar: bool = False,
                notify: Callable[[str], None] | None = None, strict: bool = False,
                parser: Parser | None = None) -> IndexReport | None:
        """Update the index from the documents, then switch queries to it in one step.

        Queries running meanwhile keep the index they started with. When the document folder is
        missing, or the index cannot be written (disk full, read-only), but a good index exists,
        that index is used as it is (with a warning), unless ``strict``.
        """
        report = None
        try:
            report = self.index(force=force, progress=progress, show_bar=show_bar, parser=parser)
            if report.wrote:
                for line in report.lines():
                    (notify or log.info)(line)
            elif report.skipped:  # said in full when the index changed (and by `qa index`); here once, short
                n = len(report.skipped)
                names = ", ".join(name for name, _ in report.skipped[:5]) + (", ..." if n > 5 else "")
                (notify or log.info)(f"{n} file{'s' if n != 1 else ''} of the document folder not in the index: "
                                     f"{names} (`qa index` says why)")
        except NoDocumentsError:
            if not (self.settings.index / store.MANIFEST).exists():
                raise
            (notify or log.warning)(
                f"document folder {str(self.settings.docs)!r} is not usable; answering from the existing index"
            )
        except IndexWriteError as exc:  # disk full, read-only: the previous index still answers
            if strict or not (self.settings.index / store.MANIFEST).exists():
                raise
            (notify or log.warning)(f"{exc}")
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

    # -- spelling ----------------------------------------------------------------------------
    def speller(self, data: store.IndexData):
        """The :class:`qa.index.spelling.Speller` of an index's documents, made once per index."""
        cached = self._speller
        if cached is None or cached[0] is not data:
            from .index.spelling import Speller, word_counts

            words = lru_cache(maxsize=1)(lambda: word_counts(d.text for d in data.documents))  # one pass for both
            cached = (data, Speller(lambda: words()[0], indexed=data.bm25.knows, names=lambda: words()[1]))
            self._speller = cached
        return cached[1]

    def _spelled(self, q: str, data: store.IndexData, spell: bool | None) -> str | None:
        """The cleaned question ``q`` with its typos corrected, or ``None`` when nothing changed or
        spelling is off (``spell=False``, or ``settings.spelling`` when ``spell`` is ``None``)."""
        if not (self.settings.spelling if spell is None else flag(spell, "spell")):
            return None
        fixed = self.speller(data).correct(q)
        return fixed if fixed != q else None

    def _spelling_step(self, q: str, data: store.IndexData, spell: bool | None) -> tuple[str | None, float]:
        """The spelling step of a query: :meth:`_spelled` (the corrected question, or ``None``) and
        the seconds it took (``timings["spelling"]``)."""
        t = time.perf_counter()
        fixed = self._spelled(q, data, spell)
        return fixed, time.perf_counter() - t

    def correct(self, question: str, spell: bool | None = None) -> str | None:
        """What :meth:`search` and :meth:`ask` search for instead of ``question``: the question with
        the words the index does not know corrected against its vocabulary, or ``None`` when it is
        searched as typed (nothing to correct, or spelling off). Names and numbers are never changed."""
        q = clean_question(question, self.settings.max_question_chars)
        return self._spelled(q, self.data, spell)

    # -- queries -----------------------------------------------------------------------------
    def _check(self, question, k, mode, docs=None) -> tuple[str, int, str, list[str] | None]:
        q = clean_question(question, self.settings.max_question_chars)
        k = check_k(self.settings.k if k is None else k)
        mode = self.settings.mode if mode is None else str(mode).strip().lower()  # "BM25" is bm25; "" is no mode
        if mode not in MODES:
            raise SettingsError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
        return q, k, mode, check_docs(docs)

    def _retrieve(self, q: str, k: int, mode: str, docs, data, pool: int | None = None, need_vector: bool = False,
                  dense_q: str | None = None):
        """Run the retrievers for ``q`` (BM25's words); the question (``dense_q`` when given) is
        embedded once, when the mode or ``need_vector`` asks for it."""
        from .retrieval import retrieve

        timings: dict[str, float] = {}
        qvec = None
        if mode != "bm25" or need_vector:
            t = time.perf_counter()
            qvec = self.embedder.encode_query(dense_q or q)
            timings["embed"] = time.perf_counter() - t
        if docs:
            unknown = [d for d in docs if d not in data.doc_index]
            if unknown:
                raise SettingsError(f"unknown document id(s): {', '.join(unknown)}; see `qa list`")
        s = self.settings
        weight = s.fusion_weight
        statement = getattr(self.embedder, "encodes_as_statement", None)  # only the routing embedder has it
        if qvec is not None and statement is not None and statement(dense_q or q):
            weight = s.statement_fusion_weight  # encoded by the statement encoder: its own share
        result = retrieve(data, q, qvec, pool or k, mode, docs, s.candidates, s.rrf_k, s.fusion, weight,
                          s.fusion_missing)
        timings.update(result.timings)
        return qvec, result, timings

    def search(self, question: str, k: int | None = None, mode: str | None = None,
               docs: list[str] | None = None, spell: bool | None = None) -> list[Hit]:
        """The best ``k`` passages for the question, with citations. Words with typos are searched
        as :meth:`correct` corrects them (``spell=False``: as typed; ``None``: ``settings.spelling``)."""
        return self.search_timed(question, k, mode, docs, spell)[0]

    def search_timed(self, question, k=None, mode=None, docs=None, spell=None) -> tuple[list[Hit], dict[str, float]]:
        t0 = time.perf_counter()
        q, k, mode, docs = self._check(question, k, mode, docs)
        depth = self.settings.rerank
        if depth:
            _ = self.reranker  # an unusable reranker model is reported before any indexing work
        data = self.data
        fixed, spelling = self._spelling_step(q, data, spell)
        _, result, timings = self._retrieve(fixed or q, max(k, depth), mode, docs, data,
                                            dense_q=(fixed or q) if DENSE_CORRECTED else q)
        timings["spelling"] = spelling
        hits = result.hits
        if depth:
            from .reader.sentence import rerank

            t = time.perf_counter()
            read_q = (fixed or q) if READ_CORRECTED else q
            hits = rerank(self.reranker, read_q, hits, data, depth, self.settings.rrf_k)
            timings["rerank"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t0
        return hits[:k], timings

    def ask(self, question: str, k: int | None = None, mode: str | None = None,
            docs: list[str] | None = None, spell: bool | None = None, deeper: bool = True) -> Answer:
        """An extractive answer with its evidence; ``answer.text`` is ``None`` when it abstains.
        A question with typos is searched for as :meth:`correct` corrects it (``spell`` as in
        :meth:`search`), and ``answer.searched_for`` says so. ``deeper=False``: the answer from the first
        passages only, not reading on when it is unsure (``settings.read_deeper``; see :meth:`reads_deeper`)."""
        t0 = time.perf_counter()
        q, k, mode, docs = self._check(question, k, mode, docs)
        deeper = flag(deeper, "deeper")  # "off" is off, not a true non-empty string
        reader = self.reader  # an unusable reader model is reported before any indexing work
        data = self.data
        fixed, spelling = self._spelling_step(q, data, spell)
        qvec, result, timings = self._retrieve(fixed or q, k, mode, docs, data, pool=max(k, reader.pool),
                                               need_vector=reader.needs_vector,
                                               dense_q=(fixed or q) if DENSE_CORRECTED else q)
        timings["spelling"] = spelling
        t = time.perf_counter()
        extra = {"deeper": deeper} if getattr(reader, "deeper", 0) else {}  # only a reader that reads on takes it
        answer = reader.read((fixed or q) if READ_CORRECTED else q, qvec, result, data, k, **extra)
        timings["read"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t0
        return dataclasses.replace(answer, timings={**answer.timings, **timings},
                                   searched_for=answer.searched_for if fixed is None else fixed)

    def reads_deeper(self, question: str, answer: Answer) -> bool:
        """Whether ``ask(question)`` reads on past ``answer``, given by ``ask(question, deeper=False)``: the
        reader reads deeper (``settings.read_deeper``), the question is worded as one and the answer is below
        ``settings.deeper_below`` sure. The app shows that first answer while the deeper one is read."""
        reader = self.reader
        if not getattr(reader, "deeper", 0):
            return False
        return reader.reads_deeper(question, answer.confidence, len(self.data.passages))

    def documents(self) -> list[DocumentInfo]:
        """The indexed documents: id, title, author, date, kind, pages (``None`` without pages),
        passages, characters of text, and when each was indexed."""
        data = self.data
        counts = data.manifest.get("documents", {})
        return [
            DocumentInfo(id=d.id, title=d.title, author=d.author, date=d.date, kind=d.kind,
                         pages=len(d.pages) or None, passages=counts.get(d.id, {}).get("passages", 0),
                         chars=len(d.text), indexed=counts.get(d.id, {}).get("indexed"))
            for d in data.documents
        ]

    # -- the collection ----------------------------------------------------------------------
    def add(self, paths, link: bool = False, progress: ProgressFn | None = None,
            notify: Callable[[str], None] | None = None, replace: bool = False) -> tuple[AddReport, IndexReport | None]:
        """Copy (or, with ``link``, reference) files into the document folder, then index them and
        answer from the new index at once. Files that cannot be used are skipped with a reason; a
        name already taken by another document keeps both (``name (2).ext``) unless ``replace``.
        When the index cannot be updated (disk full, ...), the files added are taken out again."""
        s = self.settings
        if isinstance(paths, (str, os.PathLike)):  # one path, never its characters ("." alone is the whole folder)
            paths = [paths]
        with self._lock, self.parser() as parser:  # one worker checks the files, then indexes them
            check_layout(s.docs, s.index)
            self._check_docs_folder()
            added = add_files(s.docs, paths, s.max_file_bytes, link=link, replace=replace, limits=self.limits,
                              read=parser.check)
            if not added.changed:
                return added, None
            try:
                report = self.refresh(progress=progress, notify=notify, strict=True, parser=parser)
            except BaseException:
                undo_add(s.docs, added)  # no half-added file: the folder matches the index again
                raise
        return added, report

    def _check_docs_folder(self) -> None:
        """Refuse to add to a missing document folder while the index holds documents from it:
        indexing the new file alone would drop all of them."""
        s = self.settings
        if s.docs.is_dir():
            return
        manifest = None
        try:
            manifest = store.read_manifest(s.index)
        except IndexProblem:
            pass
        held = [d for d in (manifest or {}).get("documents", {}) if not d.startswith(LINK_PREFIX)]
        if held:
            raise NoDocumentsError(
                f"the document folder {str(s.docs)!r} is missing, but the index holds {len(held)} documents "
                "from it: bring the folder back (or pass --docs DIR) before adding; nothing was added")

    def remove(self, ids, progress: ProgressFn | None = None,
               notify: Callable[[str], None] | None = None) -> IndexReport | None:
        """Remove documents from the collection and from the index; questions asked after this
        returns no longer see them. A copied file is moved to the trash beside the index (never
        deleted), a linked file is only forgotten; ``report.trashed`` says where each went, and
        :meth:`restore` undoes it."""
        s = self.settings
        with self._lock:
            check_layout(s.docs, s.index)
            if isinstance(ids, str):
                ids = [ids]
            entries = remove_documents(s.docs, ids, s.index)
            try:
                report = self.refresh(progress=progress, notify=notify, strict=True)
            except BaseException:
                self._undo_remove(entries)
                raise
            if report is None:  # no usable document left: refresh kept the old index
                self._undo_remove(entries)
                raise NoDocumentsError(f"cannot remove {', '.join(e.id for e in entries)}: no readable document "
                                       "would be left to index; add documents first (nothing was removed)")
            report.trashed = entries
            return report

    def _undo_remove(self, entries) -> None:
        files, links = trash.restore(self.settings.docs, self.settings.index, [e.id for e in entries])
        if links:
            relink(self.settings.docs, links)

    def trashed(self) -> list[trash.TrashEntry]:
        """Removed documents that :meth:`restore` can put back, oldest first."""
        return trash.trashed(self.settings.index)

    def restore(self, ids, progress: ProgressFn | None = None,
                notify: Callable[[str], None] | None = None) -> IndexReport | None:
        """Put removed documents back (the file into the document folder, or the link) and index
        them again. Refuses, restoring nothing, when an id is not in the trash or when a file of the
        same name is in the document folder."""
        s = self.settings
        with self._lock:
            check_layout(s.docs, s.index)
            if isinstance(ids, str):
                ids = [ids]
            s.docs.mkdir(parents=True, exist_ok=True)
            files, links = trash.restore(s.docs, s.index, ids)
            if links:
                relink(s.docs, links)
            return self.refresh(progress=progress, notify=notify, strict=True)
