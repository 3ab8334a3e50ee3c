"""The persisted index: a list of immutable segments and the manifest that names them.

Layout of the index folder::

    manifest.json          what is indexed, with what settings: the segments in order with a
                           checksum of every file, and each live document with its segment
                           (:mod:`qa.index.manifest`)
    seg-<id>/              one segment: documents, passages, sentences, their vectors, a FAISS
                           index and BM25 tokens (:mod:`qa.index.segments`)
    .lock                  held while writing (:mod:`qa.index.locks`)

An update writes what changed and nothing else: the new and changed documents go into one new
segment (each file fsynced), then ``manifest.json`` is replaced atomically to name it beside the
segments it keeps, with the documents removed or replaced left out of it (their rows stay in their
segment, unused, until a merge), then segments no manifest names are removed. A crash at any moment
leaves the previous manifest and its segments intact. When segments pile up, a merge folds the
small ones into one (:func:`merge_plan`); the index is rewritten as one segment only when removed
rows grow large or the small segments approach the size of the largest. Loading is
:func:`qa.index.loaded.load`.

This module is the one other modules use: it re-exports what they need of the others.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import IndexProblem
from ..files import atomic_write_bytes, sha256_file  # noqa: F401 - part of this module's interface
from ..ingest.titles import RULE as TITLE_RULE
from ..types import Document, Passage
from . import segments as _segments
from .lexical import TokenTable
from .loaded import IndexData, Rows, load, open_segments, sources, verified  # noqa: F401
from .locks import check_space, estimate_bytes, write_lock, write_problem  # noqa: F401
from .manifest import (  # noqa: F401
    FORMAT_VERSION, MANIFEST, REBUILD, backend_problem, check_compatible, current_segments, new_name,
    read_manifest, segment_of, segments, titled, version_problem, write_manifest,
)
from .segments import (  # noqa: F401
    MARKER, VERIFIED, discard, file_digest, is_own_segment, read_documents, recorded_digest, remove_leftovers,
)
from .vectors import EXACT_LIMIT, VectorSettings

#: A merge happens when an update would leave more segments than this ...
MAX_SEGMENTS = 8
#: ... or when more than this share of all rows belongs to removed or replaced documents.
MAX_REMOVED = 0.2


@dataclass
class Part:
    """Documents to write into a new segment, with their rows (sentence rows by passage, numbered
    within the part); ``tokens`` are made from the passages' texts when not given."""

    documents: list[Document]
    passages: list[Passage]
    passage_vectors: np.ndarray
    sentences: np.ndarray
    sentence_vectors: np.ndarray
    tokens: TokenTable | None = None


def stored_documents(folder: Path) -> dict[str, Document]:
    """The live documents of the index in ``folder`` by id, from the documents files of its
    segments alone (checked against the manifest), so that files which did not change need not be
    parsed again; empty when there is no usable index."""
    try:
        manifest = read_manifest(folder)
        if manifest is None or version_problem(manifest) is not None:
            return {}
        out: dict[str, Document] = {}
        for entry in segments(manifest):
            seg = folder / entry["name"]
            if recorded_digest(seg / "documents.jsonl") != entry["files"].get("documents.jsonl"):
                return {}
            out.update((d.id, titled(manifest, d)) for d in read_documents(seg)
                       if d.id in manifest["documents"] and segment_of(manifest, d.id) == entry["name"])
        return out
    except (IndexProblem, OSError, ValueError, KeyError, TypeError):  # no index, or one being replaced
        return {}


def merge_plan(manifest: dict, gone: set[str], new_passages: int) -> set[str] | None:
    """Which segments an update folds into its new segment: ``gone`` documents are removed or
    replaced, ``new_passages`` passages are added. An empty set: none (the update appends); ``None``:
    all (the index is rewritten as one segment). Segments left with no live document are dropped."""
    if manifest.get("format") != FORMAT_VERSION:
        return None  # an index of format 1 has no tokens to append to: rewritten once
    live: dict[str, int] = {}
    for doc_id, info in manifest["documents"].items():
        if doc_id not in gone:
            live[info["segment"]] = live.get(info["segment"], 0) + info.get("passages", 0)
    rows = {s["name"]: s["passages"] for s in manifest["segments"] if s["name"] in live}
    total = sum(rows.values()) + new_passages
    if total and (total - sum(live.values()) - new_passages) / total > MAX_REMOVED:
        return None
    if len(rows) + (new_passages > 0) <= MAX_SEGMENTS:
        return set()
    # too many: fold every segment but the largest into the new one, unless that is about as big
    largest = max(rows, key=rows.get)
    small = set(rows) - {largest}
    if sum(live[s] for s in small) + new_passages > live[largest] / 2:
        return None
    return small


def save(
    folder: Path,
    documents: list[Document],
    passages: list[Passage],
    passage_vectors: np.ndarray,
    sentences: np.ndarray,
    sentence_vectors: np.ndarray,
    model: dict,
    splitter: dict,
    exact_limit: int = EXACT_LIMIT,
    indexed: dict[str, str] | None = None,
    vectors: VectorSettings = VectorSettings(),
    tokens: TokenTable | None = None,
) -> dict:
    """Write the whole index as one new segment and switch the manifest to it (the other segments
    are removed). Call with :func:`write_lock` held. ``sentences`` hold global rows (passage,
    document, start, end) sorted by passage."""
    part = Part(documents, passages, passage_vectors, sentences, sentence_vectors, tokens)
    return update(folder, None, [d.id for d in documents], part, model, splitter, exact_limit, indexed, vectors)


def update(folder: Path, manifest: dict | None, order: list[str], part: Part | None, model: dict, splitter: dict,
           exact_limit: int = EXACT_LIMIT, indexed: dict[str, str] | None = None,
           vectors: VectorSettings = VectorSettings(), titles: dict[str, str] | None = None) -> dict:
    """Write ``part`` (when there is one) as a new segment, then the manifest: the documents of
    ``order`` in that order, each in the new segment when ``part`` holds it, else where ``manifest``
    (the current one) has it. Segments no document is left in are dropped. Call with
    :func:`write_lock` held.

    ``indexed`` gives the time each document was indexed (default: now, for a document of ``part``;
    as before for the others); ``titles`` new titles of documents left where they are (found again
    by this program's title rules, :data:`qa.ingest.titles.RULE`, which the manifest records). Raises
    :class:`IndexWriteError` (disk full, read-only) after removing what it wrote: the previous index
    stays whole and in use.
    """
    folder.mkdir(parents=True, exist_ok=True)
    previous = current_segments(folder)
    created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    seg = folder / new_name("seg") if part is not None else None
    needed = 0
    if part is not None:
        needed = estimate_bytes(part.documents, part.passages, part.passage_vectors, part.sentence_vectors,
                                part.sentences)
        check_space(folder, needed)
    try:
        entries, vector_entry = [], {"backend": vectors.backend}
        if manifest is not None:
            entries = [dict(s) for s in segments(manifest)]
            vector_entry = dict(manifest.get("vectors", vector_entry))
        per_doc: dict[str, int] = {}
        if part is not None:
            for p in part.passages:
                per_doc[p.doc] = per_doc.get(p.doc, 0) + 1
            tokens = part.tokens if part.tokens is not None else TokenTable.of([p.text for p in part.passages])
            entry, vector_entry = _segments.write_segment(
                folder, seg.name, part.documents, part.passages, part.passage_vectors, part.sentences,
                part.sentence_vectors, tokens, vectors, exact_limit)
            entries.append(entry)
        new_manifest = _manifest(manifest, order, part, per_doc, entries, vector_entry, model, splitter,
                                 created, indexed or {}, titles or {})
        write_manifest(folder, new_manifest)
    except OSError as exc:
        if seg is not None:
            discard(seg, vectors)  # a failed update cleans up after itself: the next one starts clean
        raise write_problem(folder, exc, needed or None) from None
    except BaseException:
        if seg is not None:
            discard(seg, vectors)
        raise
    remove_leftovers(folder, keep={s["name"] for s in new_manifest["segments"]}, vectors=vectors,
                     previous=previous)
    return new_manifest


def retitle(folder: Path, manifest: dict, titles: dict[str, str]) -> dict:
    """Give documents of the index new ``titles`` (by id) and record this program's title rules,
    writing a new manifest only: every segment stays as it is (a document's stored title is read
    through the manifest's, :func:`qa.index.manifest.titled`). Call with :func:`write_lock` held."""
    new_manifest = dict(manifest, generation=new_name("gen"), titles=TITLE_RULE,
                        documents={doc_id: dict(info, title=titles.get(doc_id, info.get("title")))
                                   for doc_id, info in manifest["documents"].items()})
    try:
        write_manifest(folder, new_manifest)
    except OSError as exc:
        raise write_problem(folder, exc) from None
    return new_manifest


def _manifest(old, order, part, per_doc, entries, vector_entry, model, splitter, created, indexed, titles) -> dict:
    import faiss

    new_docs = {d.id: d for d in part.documents} if part is not None else {}
    documents = {}
    for doc_id in order:
        if doc_id in new_docs:
            d = new_docs[doc_id]
            documents[doc_id] = {"sha256": d.sha256, "title": d.title, "passages": per_doc.get(doc_id, 0),
                                 "indexed": indexed.get(doc_id, created), "segment": entries[-1]["name"]}
        else:
            info = dict(old["documents"][doc_id])
            info["segment"] = segment_of(old, doc_id)
            if doc_id in titles:
                info["title"] = titles[doc_id]
            documents[doc_id] = info
    used = {info["segment"] for info in documents.values()}
    kept = [e for e in entries if e["name"] in used] or entries[-1:]
    return {
        "format": FORMAT_VERSION,
        "generation": new_name("gen"),
        "created": created,
        "faiss_version": faiss.__version__,
        "index_type": max(kept, key=lambda e: e["passages"])["index_type"] if kept else "flat",
        "vectors": vector_entry,
        "model": model,
        "splitter": splitter,
        "titles": TITLE_RULE,
        "passage_count": sum(info["passages"] for info in documents.values()),
        "segments": kept,
        "documents": documents,
    }
