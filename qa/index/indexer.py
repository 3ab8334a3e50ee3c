"""Build or update the index from the document folder.

Only documents whose content hash changed (or that are new) are split and embedded again, and only
they are written: into one new segment, beside the segments of the current index (see
:mod:`qa.index.store`). When segments are merged, the passages, sentences, vectors and BM25 tokens of
unchanged documents are carried over from their segments.
A change of model, splitter settings, format or faiss version rebuilds everything; a change of
vector backend rebuilds the vector index from the stored vectors (nothing is embedded again).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Collection

import numpy as np

from . import store
from .acronyms import METHOD as acronyms_method
from .acronyms import defined, token_texts
from ..ingest.chunking import SPLITTER_VERSION
from ..config import Settings
from ..ingest.documents import LoadReport, check_folder, load_folder, no_documents
from ..ingest.titles import RULE as TITLE_RULE
from ..errors import IndexProblem, SettingsError
from ..ingest.formats import Limits
from ..ingest.parsing import Parser, Split, using
from ..protocols import ProgressFn
from ..types import Document, Passage
from .embed_ahead import EmbedAhead, embedding_inputs
from .lexical import TokenTable
from .vectors import VectorSettings, manifest_backend


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    #: unchanged documents whose title was found again (another title rule: :data:`qa.ingest.titles.RULE`)
    retitled: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    reason: str | None = None  #: why everything was rebuilt, if it was
    passages: int = 0
    embedded_passages: int = 0
    embedded_sentences: int = 0  #: sentences embedded on their own
    pooled_sentences: int = 0  #: sentence vectors pooled from their passage's forward pass
    seconds: float = 0.0
    wrote: bool = False
    #: documents a removal moved to the trash or forgot (:class:`qa.ingest.trash.TrashEntry`), each with
    #: where it went and how to restore it
    trashed: list = field(default_factory=list)

    def lines(self, skipped: bool = True, trashed: bool = True, detail: bool = True,
              said: Collection[str] = ()) -> list[str]:
        """What the update did, a line each; ``skipped=False`` leaves out the files it could not read (said
        elsewhere, as the app's header does), ``trashed=False`` where removed files went and the command that
        restores them (the app says it in its own words), ``detail=False`` how sentence vectors were made
        (the app's words: "indexed 8 documents, 189 passages (2 new) in 0.1 s"); ``said``: documents whose
        change a line before these already names (the files an upload just copied), not named again."""
        out = [f"skipped {name}: {why}" for name, why in self.skipped] if skipped else []
        out += [entry.line() for entry in self.trashed] if trashed else []
        if self.reason:
            out.append(f"rebuilding the whole index: {self.reason}")
        for label, names in (("added", self.added), ("changed", self.changed), ("removed", self.removed),
                             ("new title for", self.retitled)):
            names = [n for n in names if n not in said] if label != "new title for" else names
            if names:
                out.append(f"{label} {len(names)}: {', '.join(names)}")
        if self.wrote:
            out.append(
                f"indexed {_count(len(self.added) + len(self.changed) + len(self.unchanged), 'document')}, "
                f"{_count(self.passages, 'passage')} ({self._embedded() if detail else self._new()}) in "
                f"{self.seconds:.1f} s"
            )
        else:
            out.append(f"index is up to date: {_count(len(self.unchanged), 'document')}, "
                       f"{_count(self.passages, 'passage')}")
        return out

    def _new(self) -> str:
        return f"{self.embedded_passages:,} new" if self.embedded_passages else "none new"

    def _embedded(self) -> str:
        if not self.pooled_sentences:
            return (f"{_count(self.embedded_passages, 'passage')} and {_count(self.embedded_sentences, 'sentence')} "
                    "embedded")
        alone = f", {_count(self.embedded_sentences, 'sentence')} embedded alone" if self.embedded_sentences else ""
        return (f"{_count(self.embedded_passages, 'passage')} embedded, the vectors of their "
                f"{_count(self.pooled_sentences, 'sentence')} taken from the same pass{alone}")


def _count(n: int, noun: str) -> str:
    """``1 passage``, ``2 passages``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def splitter_settings(chunk_size: int, chunk_overlap: int, embed_context: bool = False,
                      pooled: bool = False, acronyms: bool = False) -> dict:
    """How passages and sentences are made, embedded and tokenised, as the manifest records it (a
    change rebuilds the index). ``pooled``: sentence vectors pooled from their passage's forward
    pass; ``acronyms``: BM25 matches the abbreviations a document defines in either form."""
    settings = {"name": "RecursiveCharacterTextSplitter", "chunk_size": chunk_size, "chunk_overlap": chunk_overlap,
                "sentences": "pysbd", "version": SPLITTER_VERSION}
    if embed_context:  # recorded only when on, so indexes built before the setting existed stay valid
        settings["embedded_with"] = "title and section"
    if pooled:
        settings["sentence_vectors"] = "pooled from the passage"
    if acronyms:  # recorded only when on, as embed_context
        settings["bm25_abbreviations"] = acronyms_method
    return settings


def plan(documents: list[Document], manifest: dict | None, reason: str | None,
         embed_context: bool = False) -> IndexReport:
    """What an update does: documents added, changed (their content hash differs), unchanged and
    removed; everything is added when ``reason`` says why the index is rebuilt. An unchanged document
    whose title differs from the manifest's is also ``retitled`` (a new manifest gives it the title),
    or, when titles are embedded with the passages (``embed_context``), changed instead."""
    report = IndexReport(reason=reason)
    old = {} if (manifest is None or reason) else manifest.get("documents", {})
    for d in documents:
        if d.id not in old:
            report.added.append(d.id)
        elif old[d.id].get("sha256") != d.sha256:
            report.changed.append(d.id)
        elif old[d.id].get("title") != d.title and embed_context:  # the title is in the text embedded
            report.changed.append(d.id)
        else:
            report.unchanged.append(d.id)
            if old[d.id].get("title") != d.title:
                report.retitled.append(d.id)
    current = {d.id for d in documents}
    report.removed = sorted(set(old) - current)
    return report


def _embed(encode, texts: list, batch_size: int, label: str, progress: ProgressFn | None,
           show_bar: bool, dim: int) -> np.ndarray:
    """``encode`` (a slice of ``texts`` -> its vectors) over ``texts`` in slices, with progress."""
    if not texts:
        return np.zeros((0, max(dim, 0)), dtype=np.float32)
    # Encode in slices of a few batches, each sorted by length into batches by the encoder, progress after each
    # (slices of 1,024 left the start-up page without a step for the whole of a small collection's embedding).
    step = max(batch_size * 4, 64)
    parts = []
    bar = None
    if show_bar:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(texts), desc=f"embedding {label}", unit=label.split()[0][:4], leave=False)
    for i in range(0, len(texts), step):
        parts.append(encode(texts[i : i + step]))
        if bar is not None:
            bar.update(len(texts[i : i + step]))
        if progress is not None:
            progress(min(1.0, (i + step) / len(texts)), f"embedding {label}")
    if bar is not None:
        bar.close()
    return np.concatenate(parts).astype(np.float32, copy=False)


def _embed_rows(embedder, rows: "_Rows", batch_size: int, progress: ProgressFn | None,
                show_bar: bool, ahead: EmbedAhead | None, dim: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Vectors of the new passages and sentences, and how many sentence vectors were pooled.

    An embedder that pools (``pools_sentences``) gives each sentence the mean of its tokens in its
    passage's forward pass (:meth:`~qa.index.embedding.SentenceTransformerEmbedder.encode_passages`),
    so no text is embedded twice; a sentence it cannot pool (past the model's token limit) and every
    sentence of another embedder is embedded alone. A sentence in the overlap of two passages takes
    its first passage's vector. Documents ``ahead`` embedded while the folder was read are not
    embedded again. ``dim``: the vectors' size."""
    if not getattr(embedder, "pools_sentences", False):
        encode = partial(embedder.encode, batch_size=batch_size)
        pvec = _embed(encode, rows.new_passage_texts, batch_size, "passages", progress, show_bar, dim)
        svec = _embed(encode, rows.new_sentence_texts, batch_size, "sentences", progress, show_bar, dim)
        return pvec, svec, 0
    pooled: list[np.ndarray] = []

    def encode_pooling(part: list) -> np.ndarray:
        vectors, spans = embedder.encode_passages([t for t, _ in part], [s for _, s in part], batch_size=batch_size)
        pooled.extend(spans)
        return vectors

    todo: list[int] = []  #: rows of the passages still to embed
    ready = []  #: (first row, passage vectors, pooled sentence vectors) embedded ahead
    for doc_id, lo, hi in rows.new_docs:
        got = ahead.vectors(doc_id, rows.new_passage_texts[lo:hi], rows.new_sentence_spans[lo:hi]) if ahead else None
        if got is None:
            todo.extend(range(lo, hi))
        else:
            ready.append((lo, *got))
    items = [(rows.new_passage_texts[i], rows.new_sentence_spans[i]) for i in todo]
    embedded = _embed(encode_pooling, items, batch_size, "passages", progress, show_bar, dim)
    pvec = np.zeros((len(rows.new_passage_texts), dim), dtype=np.float32)
    by_row: list = [None] * len(rows.new_passage_texts)
    pvec[todo] = embedded.reshape(-1, dim)
    for i, v in zip(todo, pooled):
        by_row[i] = v
    for lo, vectors, spans in ready:
        pvec[lo : lo + len(vectors)] = vectors
        by_row[lo : lo + len(vectors)] = spans
    svec = np.full((len(rows.new_sentence_texts), dim), np.nan, dtype=np.float32)
    if by_row:
        owners = np.concatenate([np.asarray(o, dtype=np.int64) for o in rows.new_sentence_owners])
        vectors = np.concatenate([v.reshape(-1, dim) for v in by_row])
        good = ~np.isnan(vectors[:, 0])
        slots, first = np.unique(owners[good], return_index=True)
        svec[slots] = vectors[good][first]
    alone = np.flatnonzero(np.isnan(svec[:, 0]))
    if len(alone):
        encode = partial(embedder.encode, batch_size=batch_size)
        svec[alone] = _embed(encode, [rows.new_sentence_texts[i] for i in alone], batch_size, "sentences",
                             progress, show_bar, dim)
    return pvec, svec, len(svec) - len(alone)


def _repairing(problem: IndexProblem) -> str:
    """What is wrong with the index, said while this update rebuilds it: without the advice to run `qa index`,
    which is what is happening."""
    return str(problem).removesuffix(f"; {store.REBUILD}")


def check_layout(docs_dir: Path, index_dir: Path) -> None:
    """Refuse an index folder that is, holds or lies inside the document folder: the index's own
    files (and its trash) would be read as documents, and cleaning up old generations would
    reach into the user's folders."""
    try:
        docs, index = Path(docs_dir).resolve(), Path(index_dir).resolve()
    except (OSError, RuntimeError):
        return  # a folder that cannot be resolved is reported where it is used
    if docs == index:
        problem = "is the document folder"
    elif index.is_relative_to(docs):
        problem = "is inside the document folder"
    elif docs.is_relative_to(index):
        problem = "contains the document folder"
    else:
        return
    raise SettingsError(f"the index folder {str(index_dir)!r} {problem} {str(docs_dir)!r}: the index must "
                        "have a folder of its own; pass --index DIR (or QA_INDEX) outside the documents")


def update_index(
    docs_dir: Path,
    index_dir: Path,
    embedder,
    chunk_size: int,
    chunk_overlap: int,
    batch_size: int = 64,
    max_file_bytes: int = Settings.max_file_bytes,
    progress: ProgressFn | None = None,
    show_bar: bool = False,
    force: bool = False,
    lock_timeout: float = 600.0,
    vectors: VectorSettings = VectorSettings(),
    limits: Limits = Limits(),
    embed_context: bool = False,
    parser: Parser | None = None,
    verify: bool = False,
    acronyms: bool = False,
) -> IndexReport:
    """Bring the index in ``index_dir`` up to date with ``docs_dir``; return what was done.

    The folder is scanned with the writer lock held, so two writers never drop each other's
    documents. ``limits`` bounds the text and parsing time of each document. New and changed
    documents are read and split by ``parser`` (by default a new one, whose worker process is
    stopped when the update ends), made with the same ``limits``, ``max_file_bytes`` and splitter
    settings. ``verify``: every file of the index is hashed again, not only those changed since they
    were last verified (damage found is repaired like any other). ``acronyms``: each passage's BM25
    words include the other form of the abbreviations its document defines (:mod:`.acronyms`).
    """
    t0 = time.perf_counter()
    check_layout(docs_dir, index_dir)
    check_folder(docs_dir)  # before the lock makes the index folder: a refused update leaves nothing behind
    splitter = splitter_settings(chunk_size, chunk_overlap, embed_context,
                                 pooled=bool(getattr(embedder, "pools_sentences", False)), acronyms=acronyms)
    if parser is not None and parser.chunking != (chunk_size, chunk_overlap):
        raise ValueError("the parser splits with other settings than the index")
    make = partial(Parser, limits, max_file_bytes, (chunk_size, chunk_overlap))
    with store.write_lock(index_dir, timeout=lock_timeout), using(parser, make) as parser:
        reason = "rebuild requested" if force else None
        moved = None  #: why the vector index moves to another backend
        current = None  #: the index's segments (by name) and where each document's rows are, verified
        try:
            manifest = store.read_manifest(index_dir)
        except IndexProblem as exc:
            manifest, reason = None, _repairing(exc)
        # files that did not change keep the text stored with the index (not read again), unless their
        # titles were found by other rules than this program's
        retitle = manifest is not None and manifest.get("titles") != TITLE_RULE
        known = None if force or retitle else store.stored_documents(index_dir)
        if manifest is not None and reason is None:
            reason = store.check_compatible(manifest, embedder.model_id, splitter)
        # new and changed documents are embedded while the rest are still read (a pooling embedder)
        ahead = None
        if getattr(embedder, "pools_sentences", False):
            indexed = None if manifest is None or reason else {
                d: info.get("sha256") for d, info in manifest.get("documents", {}).items()}
            ahead = EmbedAhead(embedder, batch_size, embed_context, indexed)
        try:
            loaded = load_folder(docs_dir, max_bytes=max_file_bytes, known=known, limits=limits,
                                 read=ahead.reader(parser) if ahead else parser.read, progress=progress)
        finally:
            if ahead is not None:
                ahead.finish(progress)
        if manifest is not None and reason is None:
            moved = store.backend_problem(manifest, vectors.backend)
            try:
                # the vector index is checked when it stays; only the arrays are reused
                manifest, segs, src = store.verified(index_dir, vectors=None if moved else vectors,
                                                        fully=verify)
                current = segs, dict(zip(manifest["documents"], src))
            except IndexProblem as exc:
                reason = _repairing(exc)
        report = plan(loaded.documents, manifest, reason, embed_context)
        keep = set(report.unchanged) if current is not None else set()
        readable = len(loaded.documents)
        split = _split(parser, loaded, keep, docs_dir, ahead.splits if ahead else {})
        if len(loaded.documents) < readable:  # some could not be split: skipped
            report = plan(loaded.documents, manifest, reason, embed_context)
        report.skipped = loaded.skipped
        new_titles = bool(report.retitled) or retitle
        # an index of format 1 given new titles is rewritten in the format of today (nothing embedded again)
        if moved and current is not None:
            report.reason = f"{moved} (stored vectors reused)"
        elif manifest is not None and current is not None and not (report.added or report.changed or report.removed) \
                and not (new_titles and manifest["format"] != store.FORMAT_VERSION):
            if new_titles:  # a new manifest, nothing else written
                manifest = store.retitle(index_dir, manifest, titles(loaded.documents, report))
            store.remove_leftovers(index_dir, keep=set(current[0]), vectors=vectors)
            report.passages = manifest.get("passage_count", 0)
            report.seconds = time.perf_counter() - t0
            return report

        # what the new segment holds: the new and changed documents, and those of the segments it folds in
        new_passages = sum(len(split[d.id][0]) for d in loaded.documents if d.id not in keep)
        fold = None
        if current is not None and not moved and vectors.backend == "faiss":
            fold = store.merge_plan(manifest, set(report.removed) | set(report.changed), new_passages)
        carried = {d for d in keep if fold is None or store.segment_of(manifest, d) in fold}
        if any(d.id not in keep for d in loaded.documents):
            embedder.warm_up()  # only to embed: removing documents needs no model
        part_docs = [d for d in loaded.documents if d.id not in keep or d.id in carried]
        rows = _rows(part_docs, keep, current[1] if current else {}, split, embed_context, progress, acronyms)
        # the vectors' size: the model's when loaded, else the index's (a model of one's own is not loaded just
        # to remove documents), else loaded to learn it (an index of nothing yet records it too)
        dim = embedder.dim if embedder.dim > 0 else manifest["model"]["dim"] if current is not None else 0
        if dim <= 0:
            embedder.warm_up()
            dim = embedder.dim
        new_pvec, new_svec, pooled = _embed_rows(embedder, rows, batch_size, progress, show_bar, ahead, dim)
        part = rows.part(part_docs, new_pvec, new_svec, dim)
        # an unchanged document keeps the time it was indexed; the others get the time of this update
        indexed = {d: manifest["documents"][d]["indexed"] for d in keep if "indexed" in manifest["documents"][d]}
        model = {"id": embedder.model_id, "dim": int(dim)}
        if fold is None:  # the whole index as one segment
            written = store.save(index_dir, part.documents, part.passages, part.passage_vectors, part.sentences,
                                 part.sentence_vectors, model, splitter, indexed=indexed, vectors=vectors,
                                 tokens=part.tokens)
        else:
            written = store.update(index_dir, manifest, [d.id for d in loaded.documents],
                                   part if part.documents else None, model, splitter, indexed=indexed,
                                   vectors=vectors, titles=titles(loaded.documents, report))
        if moved:  # the vectors left the other backend: drop what it still holds
            replace(vectors, backend=manifest_backend(manifest)).drop(sorted(current[0]))
        report.passages = written["passage_count"]
        report.embedded_passages = len(rows.new_passage_texts)
        report.pooled_sentences = pooled
        report.embedded_sentences = len(rows.new_sentence_texts) - pooled
        report.wrote = True
        report.seconds = time.perf_counter() - t0
        return report


def titles(documents: list[Document], report: IndexReport) -> dict[str, str]:
    """The new titles of the report's retitled documents, by id."""
    retitled = set(report.retitled)
    return {d.id: d.title for d in documents if d.id in retitled}


class _Rows:
    """The rows of a new segment as they are gathered: per document, rows carried over from the
    segment that holds them, or the slots of texts still to embed."""

    def __init__(self) -> None:
        self.passages: list[Passage] = []
        self.sent_rows: list[np.ndarray] = []
        #: per document: ("old", passage vectors, sentence vectors) or ("new", passage slot, sentence slots)
        self.plan: list[tuple] = []
        self.token_runs: list[tuple] = []  #: (TokenTable or None for new passages, lo, hi)
        self.new_passage_texts: list[str] = []
        self.new_sentence_texts: list[str] = []
        #: per new passage: its sentences' (start, end) in the text embedded for it, and their slots
        self.new_sentence_spans: list[list[tuple[int, int]]] = []
        self.new_sentence_owners: list[list[int]] = []
        self.new_docs: list[tuple[str, int, int]] = []  #: (document id, first, end) of its new passages
        self.new_token_texts: list[str] = []

    def part(self, documents: list[Document], new_pvec: np.ndarray, new_svec: np.ndarray, dim: int) -> store.Part:
        pv, sv = [], []
        for kind, a, b in self.plan:
            if kind == "old":
                pv.append(np.asarray(a))
                sv.append(np.asarray(b))
            else:
                pv.append(new_pvec[a[0] : a[0] + a[1]])
                sv.append(new_svec[np.asarray(b, dtype=np.int64)])
        passage_vectors = np.concatenate(pv) if pv else np.zeros((0, dim), np.float32)
        sentence_vectors = np.concatenate(sv) if sv else np.zeros((0, dim), np.float32)
        sentences = np.concatenate(self.sent_rows) if self.sent_rows else np.zeros((0, 4), np.int64)
        # keep sentences sorted by passage (stable) so each passage's sentences are contiguous
        order = np.argsort(sentences[:, 0], kind="stable")
        fresh = TokenTable.of(self.new_token_texts)
        runs = [(fresh if table is None else table, lo, hi) for table, lo, hi in self.token_runs]
        return store.Part(documents, self.passages, passage_vectors, sentences[order], sentence_vectors[order],
                          TokenTable.concat(runs))


def _rows(documents: list[Document], keep: set[str], sources: dict, split: dict[str, Split],
          embed_context: bool, progress: ProgressFn | None, acronyms: bool = False) -> _Rows:
    rows = _Rows()
    for di, doc in enumerate(documents):
        base = len(rows.passages)
        if progress is not None:
            progress(di / len(documents), "splitting documents")
        if doc.id in keep:  # carried over from its segment, with its vectors and tokens
            seg, plo, phi, slo, shi = sources[doc.id]
            rows.passages.extend(seg.passages[plo:phi])
            sent = np.array(seg.sentences[slo:shi], dtype=np.int64)
            sent[:, 0] += base - plo
            sent[:, 1] = di
            rows.sent_rows.append(sent)
            rows.plan.append(("old", seg.passage_vectors[plo:phi], seg.sentence_vectors[slo:shi]))
            if seg.tokens is not None:
                rows.token_runs.append((seg.tokens, plo, phi))
            else:  # a format-1 index has no tokens: made from the texts
                lo = len(rows.new_token_texts)
                rows.new_token_texts.extend(p.text for p in seg.passages[plo:phi])
                rows.token_runs.append((None, lo, len(rows.new_token_texts)))
        else:
            doc_passages, spans = split[doc.id]
            rows.passages.extend(doc_passages)
            p_slot = (len(rows.new_passage_texts), len(doc_passages))
            x = embedding_inputs(doc, doc_passages, spans, embed_context, base, di)
            rows.new_docs.append((doc.id, p_slot[0], p_slot[0] + p_slot[1]))
            rows.new_passage_texts.extend(x.texts)
            lo = len(rows.new_token_texts)
            texts = [p.text for p in doc_passages]
            rows.new_token_texts.extend(token_texts(texts, defined(doc.text)) if acronyms else texts)
            rows.token_runs.append((None, lo, len(rows.new_token_texts)))
            first = len(rows.new_sentence_texts)
            rows.new_sentence_texts.extend(x.sentence_texts)
            slots = [first + k for k in x.slots]
            rows.new_sentence_spans.extend(x.spans)
            rows.new_sentence_owners.extend([first + k for k in o] for o in x.owners)
            rows.sent_rows.append(np.array(x.sentences, dtype=np.int64).reshape(-1, 4))
            rows.plan.append(("new", p_slot, slots))
    return rows


def _split(parser: Parser, loaded: LoadReport, keep: set[str], docs_dir: Path,
           done: dict[str, Split | ValueError]) -> dict[str, Split]:
    """Passages and sentence spans of every document not kept, by id (``done`` when split as it was
    read, found when the parser read it, or split now for a stored text); a document that cannot be
    split joins ``loaded.skipped`` and leaves ``loaded.documents``."""
    split: dict[str, Split] = {}
    failed: set[str] = set()
    for doc in loaded.documents:
        if doc.id not in keep:
            try:
                got = done.pop(doc.id, None) or parser.split(doc)
                if isinstance(got, ValueError):
                    raise got
                split[doc.id] = got
            except ValueError as exc:
                loaded.skipped.append((doc.id, str(exc)))
                failed.add(doc.id)
    if failed:
        loaded.documents = [d for d in loaded.documents if d.id not in failed]
        if not loaded.documents:
            raise no_documents(docs_dir, loaded.skipped)
    return split
