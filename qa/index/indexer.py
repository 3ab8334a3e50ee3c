"""Build or update the index from the document folder.

Only documents whose content hash changed (or that are new) are split and embedded again; the
passages, sentences and vectors of unchanged documents are carried over from the current index.
A change of model, splitter settings, format or faiss version rebuilds everything; a change of
vector backend rebuilds the vector index from the stored vectors (nothing is embedded again).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np

from . import store
from ..ingest.chunking import SPLITTER_VERSION, embedding_text
from ..config import Settings
from ..ingest.documents import LoadReport, load_folder, no_documents
from ..errors import IndexProblem, SettingsError
from ..ingest.formats import Limits
from ..ingest.parsing import Parser, Split, using
from ..protocols import ProgressFn
from ..types import Document, Passage
from .vectors import VectorSettings, manifest_backend


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    reason: str | None = None  #: why everything was rebuilt, if it was
    passages: int = 0
    embedded_passages: int = 0
    embedded_sentences: int = 0
    seconds: float = 0.0
    wrote: bool = False
    #: documents a removal moved to the trash or forgot (:class:`qa.ingest.trash.TrashEntry`), each with
    #: where it went and how to restore it
    trashed: list = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"skipped {name}: {why}" for name, why in self.skipped]
        out += [entry.line() for entry in self.trashed]
        if self.reason:
            out.append(f"rebuilding the whole index: {self.reason}")
        for label, names in (("added", self.added), ("changed", self.changed), ("removed", self.removed)):
            if names:
                out.append(f"{label} {len(names)}: {', '.join(names)}")
        if self.wrote:
            out.append(
                f"indexed {len(self.added) + len(self.changed) + len(self.unchanged)} documents, "
                f"{self.passages} passages ({self.embedded_passages} passages and "
                f"{self.embedded_sentences} sentences embedded) in {self.seconds:.1f} s"
            )
        else:
            out.append(f"index is up to date: {len(self.unchanged)} documents, {self.passages} passages")
        return out


def splitter_settings(chunk_size: int, chunk_overlap: int, embed_context: bool = False) -> dict:
    settings = {"name": "RecursiveCharacterTextSplitter", "chunk_size": chunk_size, "chunk_overlap": chunk_overlap,
                "sentences": "pysbd", "version": SPLITTER_VERSION}
    if embed_context:  # recorded only when on, so indexes built before the setting existed stay valid
        settings["embedded_with"] = "title and section"
    return settings


def plan(documents: list[Document], manifest: dict | None, reason: str | None) -> IndexReport:
    report = IndexReport(reason=reason)
    old = {} if (manifest is None or reason) else manifest.get("documents", {})
    for d in documents:
        if d.id not in old:
            report.added.append(d.id)
        elif old[d.id].get("sha256") != d.sha256:
            report.changed.append(d.id)
        else:
            report.unchanged.append(d.id)
    current = {d.id for d in documents}
    report.removed = sorted(set(old) - current)
    return report


def _embed(embedder, texts: list[str], batch_size: int, label: str, progress: ProgressFn | None,
           show_bar: bool) -> np.ndarray:
    if not texts:
        return np.zeros((0, embedder.dim if embedder.dim > 0 else 0), dtype=np.float32)
    # Encode in large slices so sentence-transformers can still sort by length within each.
    step = max(batch_size * 16, 1)
    parts = []
    bar = None
    if show_bar:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(texts), desc=f"embedding {label}", unit=label.split()[0][:4], leave=False)
    for i in range(0, len(texts), step):
        parts.append(embedder.encode(texts[i : i + step], batch_size=batch_size))
        if bar is not None:
            bar.update(len(texts[i : i + step]))
        if progress is not None:
            progress(min(1.0, (i + step) / len(texts)), f"embedding {label}")
    if bar is not None:
        bar.close()
    return np.concatenate(parts).astype(np.float32, copy=False)


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
) -> IndexReport:
    """Bring the index in ``index_dir`` up to date with ``docs_dir``; return what was done.

    The folder is scanned with the writer lock held, so two writers never drop each other's
    documents. ``limits`` bounds the text and parsing time of each document. New and changed
    documents are read and split by ``parser`` (by default a new one, whose worker process is
    stopped when the update ends), made with the same ``limits``, ``max_file_bytes`` and splitter
    settings.
    """
    t0 = time.perf_counter()
    check_layout(docs_dir, index_dir)
    splitter = splitter_settings(chunk_size, chunk_overlap, embed_context)
    if parser is not None and parser.chunking != (chunk_size, chunk_overlap):
        raise ValueError("the parser splits with other settings than the index")
    make = partial(Parser, limits, max_file_bytes, (chunk_size, chunk_overlap))
    with store.write_lock(index_dir, timeout=lock_timeout), using(parser, make) as parser:
        # files that did not change keep the text stored with the index (not read again)
        known = None if force else store.stored_documents(index_dir)
        loaded = load_folder(docs_dir, max_bytes=max_file_bytes, known=known, limits=limits, read=parser.read,
                             progress=progress)
        old: store.IndexData | None = None
        reason = "rebuild requested" if force else None
        moved = None  #: why the vector index moves to another backend
        try:
            manifest = store.read_manifest(index_dir)
        except IndexProblem as exc:
            manifest, reason = None, str(exc)
        if manifest is not None and reason is None:
            reason = store.check_compatible(manifest, embedder.model_id, splitter)
            if reason is None:
                moved = store.backend_problem(manifest, vectors.backend)
                try:
                    # the vector index is checked when it stays; only the arrays are reused
                    old = store.load(index_dir, vectors=None if moved else vectors)
                    old.close()
                except IndexProblem as exc:
                    reason = str(exc)
        report = plan(loaded.documents, manifest, reason)
        keep = set(report.unchanged) if old is not None else set()
        readable = len(loaded.documents)
        split = _split(parser, loaded, keep, docs_dir)
        if len(loaded.documents) < readable:  # some could not be split: skipped
            report = plan(loaded.documents, manifest, reason)
        report.skipped = loaded.skipped
        if moved and old is not None:
            report.reason = f"{moved} (stored vectors reused)"
        elif manifest is not None and old is not None and not (report.added or report.changed or report.removed):
            store.remove_leftovers(index_dir, keep=old.generation, vectors=vectors)
            report.passages = manifest.get("passage_count", 0)
            report.seconds = time.perf_counter() - t0
            return report

        if any(d.id not in keep for d in loaded.documents):
            embedder.warm_up()  # only to embed: removing documents needs no model
        passages: list[Passage] = []
        sent_rows: list[tuple[int, int, int, int]] = []
        # per document: ("old", passage vectors, sentence vectors) or ("new", passage slot, sentence slots)
        plan_rows: list[tuple] = []
        new_passage_texts: list[str] = []
        new_sentence_texts: list[str] = []
        for di, doc in enumerate(loaded.documents):
            base = len(passages)
            if progress is not None:
                progress(di / len(loaded.documents), "splitting documents")
            if doc.id in keep:
                old_ids = old.passage_ids_for([doc.id])
                passages.extend(old.passages[pi] for pi in old_ids)
                svecs = []
                for j, pi in enumerate(old_ids):
                    lo, hi = int(old.sent_lo[pi]), int(old.sent_hi[pi])
                    sent_rows.extend((base + j, di, int(old.sentences[r, 2]), int(old.sentences[r, 3]))
                                     for r in range(lo, hi))
                    svecs.append(np.asarray(old.sentence_vectors[lo:hi]))
                plan_rows.append(("old", np.asarray(old.passage_vectors[old_ids]), svecs))
            else:
                doc_passages, spans = split[doc.id]
                passages.extend(doc_passages)
                p_slot = (len(new_passage_texts), len(doc_passages))
                new_passage_texts.extend(embedding_text(p) if embed_context else p.text for p in doc_passages)
                rows = _assign_sentences(spans, doc_passages, base, di)
                # a sentence inside the overlap of two passages is embedded once
                slots, seen = [], {}
                for _, _, s, e in rows:
                    if (s, e) not in seen:
                        seen[(s, e)] = len(new_sentence_texts)
                        new_sentence_texts.append(doc.text[s:e])
                    slots.append(seen[(s, e)])
                sent_rows.extend(rows)
                plan_rows.append(("new", p_slot, slots))
        new_pvec = _embed(embedder, new_passage_texts, batch_size, "passages", progress, show_bar)
        new_svec = _embed(embedder, new_sentence_texts, batch_size, "sentences", progress, show_bar)
        pv, sv = [], []
        for kind, a, b in plan_rows:
            if kind == "old":
                pv.append(a)
                sv.extend(b)
            else:
                pv.append(new_pvec[a[0] : a[0] + a[1]])
                sv.append(new_svec[np.asarray(b, dtype=np.int64)])
        dim = embedder.dim if embedder.dim > 0 else manifest["model"]["dim"]
        passage_vectors = np.concatenate(pv) if pv else np.zeros((0, dim), np.float32)
        sentence_vectors = np.concatenate(sv) if sv else np.zeros((0, dim), np.float32)
        sentences = np.array(sent_rows, dtype=np.int64).reshape(-1, 4)
        # keep sentences sorted by passage (stable) so each passage's sentences are contiguous
        order = np.argsort(sentences[:, 0], kind="stable")
        sentences, sentence_vectors = sentences[order], sentence_vectors[order]
        # an unchanged document keeps the time it was indexed; the others get the time of this save
        indexed = {d: manifest["documents"][d]["indexed"] for d in keep if "indexed" in manifest["documents"][d]}
        store.save(
            index_dir, loaded.documents, passages, passage_vectors, sentences, sentence_vectors,
            {"id": embedder.model_id, "dim": int(dim)}, splitter, indexed=indexed, vectors=vectors,
        )
        if moved:  # the vectors left the other backend: drop what it still holds
            replace(vectors, backend=manifest_backend(manifest)).drop([manifest["generation"]])
        report.passages = len(passages)
        report.embedded_passages = len(new_passage_texts)
        report.embedded_sentences = len(new_sentence_texts)
        report.wrote = True
        report.seconds = time.perf_counter() - t0
        return report


def _split(parser: Parser, loaded: LoadReport, keep: set[str], docs_dir: Path) -> dict[str, Split]:
    """Passages and sentence spans of every document not kept, by id (found when the parser read it,
    or split now for a stored text); a document that cannot be split joins ``loaded.skipped`` and
    leaves ``loaded.documents``."""
    split: dict[str, Split] = {}
    failed: set[str] = set()
    for doc in loaded.documents:
        if doc.id not in keep:
            try:
                split[doc.id] = parser.split(doc)
            except ValueError as exc:
                loaded.skipped.append((doc.id, str(exc)))
                failed.add(doc.id)
    if failed:
        loaded.documents = [d for d in loaded.documents if d.id not in failed]
        if not loaded.documents:
            raise no_documents(docs_dir, loaded.skipped)
    return split


def _assign_sentences(spans, passages: list[Passage], base: int, doc_index: int) -> list[tuple[int, int, int, int]]:
    """Give each passage the sentences that overlap it (a sentence on a boundary goes to both),
    clipped to the passage so the sentence text is always inside the passage shown."""
    rows = []
    j = 0
    for pi, p in enumerate(passages):
        while j < len(spans) and spans[j][1] <= p.start:
            j += 1
        k = j
        while k < len(spans) and spans[k][0] < p.end:
            s, e = max(spans[k][0], p.start), min(spans[k][1], p.end)
            if e - s >= 2:
                rows.append((base + pi, doc_index, s, e))
            k += 1
    return rows
