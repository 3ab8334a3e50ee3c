"""The index as queries see it: one :class:`IndexData` over the segments the manifest names.

Rows are global: documents in the manifest's order, each document's passages in order, sentences by
passage, exactly as if the whole index had been written as one segment, so retrieval and the readers
never see segments. Nothing is copied that can be shared: vectors stay memory-mapped in their
segments (:class:`Rows` reads the rows asked for), passages are the segments' own objects, and
segments already loaded by this process are reused (:func:`qa.index.segments.open_segment`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import IndexProblem
from ..types import Document, Passage
from .lexical import BM25Index, TokenTable
from .manifest import REBUILD, backend_problem, read_manifest, segment_of, segments, titled, version_problem
from .segments import Segment, hold, open_segment
from .vectors import _NONE, Excluded, VectorIndex, VectorSettings


@dataclass
class IndexData:
    """Everything a query needs, loaded once. Never mutated after construction."""

    documents: list[Document]
    passages: list[Passage]
    passage_vectors: np.ndarray  #: or :class:`Rows` (rows of several segments)
    sentences: np.ndarray  #: int64 (m, 4): passage, doc index, start, end
    sentence_vectors: np.ndarray  #: or :class:`Rows`
    vectors: VectorIndex | None  #: ``None`` when loaded without it (the indexer reuses only the arrays)
    bm25: object
    manifest: dict = field(default_factory=dict)
    #: where each document's rows are: (segment, passages lo, hi, sentences lo, hi), by document
    sources: list[tuple[Segment, int, int, int, int]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.doc_index = {d.id: i for i, d in enumerate(self.documents)}
        passage_doc = np.fromiter((self.doc_index[p.doc] for p in self.passages), dtype=np.int64,
                                  count=len(self.passages))
        self.passage_doc = passage_doc
        # sentences of passage i are rows sent_lo[i]:sent_hi[i] (sentences are sorted by passage)
        if len(self.sentences):
            sp = self.sentences[:, 0]
            idx = np.arange(len(self.passages))
            self.sent_lo = np.searchsorted(sp, idx, side="left")
            self.sent_hi = np.searchsorted(sp, idx, side="right")
        else:
            self.sent_lo = self.sent_hi = np.zeros(len(self.passages), dtype=np.int64)

    @property
    def generation(self) -> str:
        """The id of the manifest this index was loaded from (a new one for every update)."""
        return self.manifest.get("generation", "")

    @property
    def segments(self) -> list[str]:
        """The names of the segments the index is made of, oldest first."""
        return [s["name"] for s in segments(self.manifest)] if self.manifest else []

    def close(self) -> None:
        """Release the vector index (a Qdrant client); call once no query uses this index."""
        if self.vectors is not None:
            self.vectors.close()

    def document(self, doc_id: str) -> Document:
        return self.documents[self.doc_index[doc_id]]

    def passage_ids_for(self, doc_ids) -> np.ndarray:
        wanted = np.array([self.doc_index[d] for d in doc_ids if d in self.doc_index], dtype=np.int64)
        return np.flatnonzero(np.isin(self.passage_doc, wanted))


class Rows:
    """Rows of several arrays read as one array (read-only, float32): ``parts`` are (array, lo, hi),
    rows ``lo:hi`` of each, in order. Indexing with an int, a slice or an array of row numbers."""

    def __init__(self, parts: list[tuple[np.ndarray, int, int]], dim: int) -> None:
        self.parts = parts
        self.starts = np.zeros(len(parts) + 1, dtype=np.int64)
        np.cumsum([hi - lo for _, lo, hi in parts], out=self.starts[1:])
        self.shape = (int(self.starts[-1]), dim)
        self.dtype = np.dtype(np.float32)
        self.ndim = 2

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype=None, copy=None):
        out = self[np.arange(len(self))]
        return out if dtype is None else out.astype(dtype)

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return self[np.array([key])][0]
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step == 1 and stop > start:
                p = int(np.searchsorted(self.starts, start, side="right")) - 1
                if stop <= self.starts[p + 1]:  # inside one part: a view of it
                    array, lo, _ = self.parts[p]
                    base = lo + start - int(self.starts[p])
                    return array[base:base + stop - start]
            key = np.arange(start, stop, step)
        rows = np.asarray(key)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        rows = rows.astype(np.int64).ravel()
        if len(rows) and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError("row out of range")
        part = np.searchsorted(self.starts, rows, side="right") - 1
        out = np.empty((len(rows), self.shape[1]), dtype=np.float32)
        for p in np.unique(part):
            mask = part == p
            array, lo, _ = self.parts[p]
            out[mask] = array[lo + rows[mask] - self.starts[p]]
        return out


def _coalesce(runs):
    """Adjacent runs (source, lo, hi) of the same source that continue each other, joined."""
    out: list[list] = []
    for src, lo, hi in runs:
        if out and out[-1][0] is src and out[-1][2] == lo:
            out[-1][2] = hi
        elif hi > lo:
            out.append([src, lo, hi])
    return [tuple(r) for r in out]


class SegmentVectors:
    """Dense search over several segments' FAISS indexes: each is searched (its removed passages
    left out), ids mapped to global rows, the best ``k`` by inner product kept (scores of unit
    vectors are comparable across indexes)."""

    def __init__(self, parts: list[tuple[Segment, np.ndarray]], total: int) -> None:
        self.count = total
        self.parts = []
        self.seg_of = np.zeros(total, dtype=np.int32)
        self.local_of = np.zeros(total, dtype=np.int64)
        for i, (segment, to_global) in enumerate(parts):
            live = np.flatnonzero(to_global >= 0)
            self.seg_of[to_global[live]] = i
            self.local_of[to_global[live]] = live
            dead = np.flatnonzero(to_global < 0)
            self.parts.append((segment.dense(), to_global, Excluded(dead) if len(dead) else None))

    def search(self, qvec, k, allowed=None, docs=None):
        ids, scores = [], []
        for i, (index, to_global, excluded) in enumerate(self.parts):
            if allowed is not None:
                local = self.local_of[allowed[self.seg_of[allowed] == i]]
                if not len(local):
                    continue
                found, s = index.search(qvec, k, allowed=local)
            else:
                found, s = index.search(qvec, k, excluded=excluded)
            ids.append(to_global[found])
            scores.append(s)
        if not ids:
            return _NONE
        ids, scores = np.concatenate(ids), np.concatenate(scores)
        best = np.lexsort((ids, -scores))[:k]
        return ids[best], scores[best]

    def close(self) -> None:
        pass


def load(folder: Path, mmap: bool = True, vectors: VectorSettings | None = VectorSettings()) -> IndexData:
    """Load and verify the index in ``folder``. Raises :class:`IndexProblem` on any damage.

    ``vectors`` names the backend expected; ``None`` loads everything but the vector index.
    """
    return verified(folder, mmap, vectors, _assemble)


def verified(folder: Path, mmap: bool = True, vectors: VectorSettings | None = VectorSettings(), then=None,
             fully: bool = False):
    """The manifest of the index in ``folder`` and its segments, every file verified against its
    checksum and the data against the manifest (the vector index too, unless ``vectors`` is
    ``None``), as ``(manifest, segments by name, sources)``; or what ``then`` makes of them. Raises
    :class:`IndexProblem` on any damage. Files unchanged since they were last verified are not read
    again, unless ``fully`` (:func:`qa.index.segments.verify_files`)."""
    for attempt in range(3):
        manifest = read_manifest(folder)
        if manifest is None:
            raise IndexProblem(f"no index in {str(folder)!r}: run `qa index`")
        problem = version_problem(manifest)
        problem = problem or (vectors and backend_problem(manifest, vectors.backend))
        if problem:
            raise IndexProblem(f"the index in {str(folder)!r} cannot be used: {problem}; {REBUILD}")
        try:
            try:
                segs = open_segments(folder, manifest, mmap, fully)
                src = sources(manifest, segs)
                if sum(phi - plo for _, plo, phi, _, _ in src) != manifest["passage_count"]:
                    raise IndexProblem(f"damaged index: the data files disagree with the manifest; {REBUILD}")
                if then is not None:
                    return then(folder, manifest, segs, src, mmap, vectors)
                if vectors is not None:
                    _vectors(folder, manifest, segs, src, mmap, vectors).close()
                return manifest, segs, src
            except (FileNotFoundError, IndexProblem):
                raise
            except Exception as exc:  # noqa: BLE001 - any parse failure means damage
                raise IndexProblem(f"damaged index: {type(exc).__name__}: {exc}; {REBUILD}") from None
        except FileNotFoundError:
            # a writer may have replaced segments between reading the manifest and the files
            newer = read_manifest(folder)
            if newer is None or newer.get("generation") == manifest.get("generation") or attempt == 2:
                raise IndexProblem(
                    f"damaged index: files of generation {manifest.get('generation')!r} are missing; {REBUILD}"
                ) from None
    raise AssertionError("unreachable")


def open_segments(folder: Path, manifest: dict, mmap: bool = True, fully: bool = False) -> dict[str, Segment]:
    """Every segment the manifest names, verified (``fully``: every byte hashed) and checked, by name."""
    dim = manifest["model"]["dim"]
    out = {entry["name"]: open_segment(folder, entry, dim, mmap, fully) for entry in segments(manifest)}
    hold(list(out.values()))
    return out


def sources(manifest: dict, segs: dict[str, Segment]) -> list[tuple[Segment, int, int, int, int]]:
    """Where each live document's rows are, in the manifest's order: (segment, passages lo, hi,
    sentences lo, hi)."""
    out = []
    for doc_id in manifest["documents"]:
        segment = segs[segment_of(manifest, doc_id)]
        i = segment.doc_index.get(doc_id)
        if i is None:
            raise IndexProblem(f"damaged index: document {doc_id!r} is not in its segment; {REBUILD}")
        out.append((segment, int(segment.doc_passages[i]), int(segment.doc_passages[i + 1]),
                    int(segment.doc_sentences[i]), int(segment.doc_sentences[i + 1])))
    return out


def _whole(segs: dict[str, Segment], src) -> bool:
    """Whether the index is one segment, nothing removed, its rows in order: its arrays are the index's."""
    runs = _coalesce((s, plo, phi) for s, plo, phi, _, _ in src)
    return len(segs) == 1 and len(runs) <= 1 and all(lo == 0 and hi == len(s.passages) for s, lo, hi in runs)


def _assemble(folder: Path, manifest: dict, segs: dict[str, Segment], src, mmap: bool,
              vectors: VectorSettings | None) -> IndexData:
    dim = manifest["model"]["dim"]
    documents = [titled(manifest, s.documents[s.doc_index[doc_id]])
                 for doc_id, (s, *_) in zip(manifest["documents"], src)]
    passages: list[Passage] = []
    for doc, (s, plo, phi, _, _) in zip(documents, src):
        rows = s.passages[plo:phi]
        if rows and rows[0].title != doc.title:  # a title found again since the segment was written
            rows = [replace(p, title=doc.title) for p in rows]
        passages.extend(rows)
    counts = np.array([shi - slo for *_, slo, shi in src], dtype=np.int64)
    starts = _starts(src)
    if src and counts.sum():
        sentences = np.concatenate([s.sentences[slo:shi] for s, _, _, slo, shi in src])
        shift = np.array([starts[i] - plo for i, (_, plo, *_) in enumerate(src)], dtype=np.int64)
        sentences[:, 0] += np.repeat(shift, counts)
        sentences[:, 1] = np.repeat(np.arange(len(src), dtype=np.int64), counts)
    else:
        sentences = np.zeros((0, 4), dtype=np.int64)
    pruns = _coalesce((s, plo, phi) for s, plo, phi, _, _ in src)
    whole = _whole(segs, src)
    if whole:
        only = next(iter(segs.values()))
        pvec, svec = only.passage_vectors, only.sentence_vectors
    else:
        pvec = Rows([(s.passage_vectors, lo, hi) for s, lo, hi in pruns], dim)
        svec = Rows([(s.sentence_vectors, lo, hi) for s, lo, hi in _coalesce((s, lo, hi) for s, _, _, lo, hi in src)],
                    dim)
    legacy = [s for s in segs.values() if s.tokens is None]
    if legacy:
        if not whole:
            raise IndexProblem(f"damaged index: a segment has no BM25 tokens; {REBUILD}")
        bm25 = legacy[0].bm25
    else:
        bm25 = BM25Index.from_tokens(TokenTable.concat([(s.tokens, lo, hi) for s, lo, hi in pruns]))
    vindex = _vectors(folder, manifest, segs, src, mmap, vectors) if vectors is not None else None
    return IndexData(documents, passages, pvec, sentences, svec, vindex, bm25, manifest, src)


def _starts(src) -> np.ndarray:
    starts = np.zeros(len(src) + 1, dtype=np.int64)
    np.cumsum([phi - plo for _, plo, phi, _, _ in src], out=starts[1:])
    return starts


def _vectors(folder, manifest, segs, src, mmap, vectors: VectorSettings) -> VectorIndex:
    whole = _whole(segs, src)
    if vectors.backend != "faiss":
        if not whole:
            raise IndexProblem(f"damaged index: {vectors.backend} holds one segment, the manifest names more; {REBUILD}")
        vindex = vectors.open(folder / next(iter(segs)), manifest, mmap)
        if vindex.count != manifest["passage_count"]:
            vindex.close()
            raise IndexProblem(f"damaged index: the data files disagree with the manifest; {REBUILD}")
        return vindex
    for s in segs.values():
        if s.dense().count != len(s.passages):
            raise IndexProblem(f"damaged index: the data files disagree with the manifest; {REBUILD}")
    if whole:
        return next(iter(segs.values())).dense()
    starts = _starts(src)
    to_global = {name: np.full(len(s.passages), -1, dtype=np.int64) for name, s in segs.items()}
    for i, (s, plo, phi, _, _) in enumerate(src):
        to_global[s.name][plo:phi] = np.arange(starts[i], starts[i + 1])
    return SegmentVectors([(segs[name], to_global[name]) for name in segs], int(starts[-1]))
