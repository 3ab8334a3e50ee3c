"""The dense vector index behind retrieval: FAISS in the index folder (default) or Qdrant.

Retrieval only calls :meth:`VectorIndex.search`; it does not know which backend answers.

* ``faiss`` (default): ``dense.faiss`` inside each segment folder, exact inner product up to
  :data:`EXACT_LIMIT` passages, HNSW above. Embedded, nothing to run. An index of several segments
  searches each and keeps the best (:class:`qa.index.loaded.SegmentVectors`).
* ``qdrant``: one Qdrant collection per segment, named after it; with this backend every update
  rewrites the index as one segment. The store writes the new collection before it switches
  ``manifest.json`` to the new segment and drops the collections of older segments after the
  switch, with their folders (collections of other indexes on the same server are left alone), so a
  crash at any moment leaves the previous manifest pointing at a complete collection (a
  half-written one is dropped by the next update). Rebuilding per update instead of deleting points
  in place keeps that guarantee and costs no embedding: the vectors come from ``passage_vectors.npy``.
  ``qdrant_path`` (default ``<index>/qdrant``) runs Qdrant in-process on disk (local mode: one
  process at a time); ``qdrant_url`` points at a Qdrant server or cluster instead. Each point is a
  passage: id = passage row, payload = document id and passage row, so a document filter runs
  inside Qdrant. Local mode is for one machine and tests: it is slower than FAISS
  (docs/benchmarks.md) and qdrant-client pickles its points into SQLite, so its folder must stay as
  private as the index folder.
"""

from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import IndexProblem

BACKENDS = ("faiss", "qdrant")
#: Up to this many passages the dense index is exact (``IndexFlatIP``); above it, HNSW (M=32,
#: efSearch=128). Exact search costs about 0.15-0.25 ms per 1,000 passages on one core, so at
#: 20,000 it is still well below one question's forward pass; HNSW answers in under 0.4 ms at a
#: million with recall@10 0.98 (docs/benchmarks.md, Performance).
EXACT_LIMIT = 20_000
FAISS_FILE = "dense.faiss"
_NONE = (np.zeros(0, np.int64), np.zeros(0, np.float32))


class VectorIndex(Protocol):
    """Passage vectors of one index, searchable by inner product."""

    count: int

    def search(self, qvec: np.ndarray, k: int, allowed: np.ndarray | None = None,
               docs: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Passage ids (int64) and scores (float32) of the best ``k``, best first; only ids in
        ``allowed`` (or passages of ``docs``, the same set) when given."""

    def close(self) -> None:
        """Release what the index holds (a Qdrant client)."""


@dataclass(frozen=True)
class VectorSettings:
    """Which backend stores the vectors, and where."""

    backend: str = "faiss"
    qdrant_path: Path | None = None
    qdrant_url: str = ""
    qdrant_api_key: str = field(default="", repr=False)

    @classmethod
    def from_settings(cls, settings) -> "VectorSettings":
        return cls(settings.vector_backend, settings.qdrant_path or settings.index / "qdrant",
                   settings.qdrant_url, settings.qdrant_api_key)

    def build(self, gen: Path, vectors: np.ndarray, passage_docs: list[str],
              exact_limit: int = EXACT_LIMIT) -> dict:
        """Write the vector index of segment folder ``gen``; return its manifest entry."""
        if self.backend == "qdrant":
            with _qdrant(self) as client:
                _qdrant_build(client, gen.name, vectors, passage_docs, server=bool(self.qdrant_url))
            return {"backend": "qdrant", "collection": gen.name, "index_type": "qdrant"}
        return {"backend": "faiss", **_faiss_build(gen / FAISS_FILE, vectors, exact_limit)}

    def open(self, gen: Path, manifest: dict, mmap: bool = True) -> VectorIndex:
        """The vector index of the one segment ``manifest`` names (in folder ``gen``)."""
        if self.backend == "qdrant":
            return QdrantVectors(self, manifest["vectors"]["collection"], manifest["passage_count"])
        return FaissVectors.load(gen / FAISS_FILE, mmap)

    def drop(self, generations: list[str]) -> None:
        """Drop the Qdrant collections of these segments, where they exist (FAISS files go with
        their segment folders)."""
        if self.backend != "qdrant" or not generations:
            return
        with _qdrant(self) as client:
            for name in generations:
                if client.collection_exists(name):
                    client.delete_collection(name)


def manifest_backend(manifest: dict) -> str:
    """The backend an index was built with (indexes from before backends were recorded: faiss)."""
    return manifest.get("vectors", {}).get("backend", "faiss")


# ---------------------------------------------------------------------------------------------
# FAISS


def make_faiss_index(vectors: np.ndarray, exact_limit: int = EXACT_LIMIT):
    """An inner-product index for unit vectors: exact below ``exact_limit`` rows, HNSW above."""
    import faiss

    n, dim = vectors.shape
    if n <= exact_limit:
        index = faiss.IndexFlatIP(dim)
        kind = "flat"
    else:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 128
        kind = "hnsw"
    if n:
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index, kind


def _faiss_build(path: Path, vectors: np.ndarray, exact_limit: int) -> dict:
    import faiss

    index, kind = make_faiss_index(vectors, exact_limit)
    faiss.write_index(index, str(path))
    return {"index_type": kind}


class Excluded:
    """A FAISS selector of every id but ``ids`` (made once: it copies the ids into a hash set)."""

    def __init__(self, ids: np.ndarray) -> None:
        import faiss

        self.count = len(ids)
        self._batch = faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64))
        self.selector = faiss.IDSelectorNot(self._batch)  # holds a pointer to the batch: keep both


class FaissVectors:
    """A FAISS index (``IndexFlatIP`` or ``IndexHNSWFlat``) over the passage vectors."""

    def __init__(self, index) -> None:
        self.index = index
        self.count = index.ntotal
        self.dim = index.d

    @classmethod
    def load(cls, path: Path, mmap: bool = True) -> "FaissVectors":
        import faiss

        # IO_FLAG_MMAP_IFC maps the vectors of a flat (or HNSW) index instead of copying them
        return cls(faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if mmap else 0))

    def search(self, qvec, k, allowed=None, docs=None, excluded=None):
        """As :meth:`VectorIndex.search`; ``excluded`` (a :func:`selector` of the ids to skip) leaves
        those out, as the removed passages of a segment."""
        if allowed is not None:
            import faiss

            if len(allowed) == 0:
                return _NONE
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed.astype(np.int64)))
            scores, ids = self.index.search(qvec.reshape(1, -1), min(k, len(allowed)), params=params)
        elif excluded is not None:
            import faiss

            n = self.count - excluded.count
            if n <= 0:
                return _NONE
            scores, ids = self.index.search(qvec.reshape(1, -1), min(k, n),
                                            params=faiss.SearchParameters(sel=excluded.selector))
        else:
            scores, ids = self.index.search(qvec.reshape(1, -1), min(k, self.count))
        keep = ids[0] >= 0
        return ids[0][keep].astype(np.int64), scores[0][keep].astype(np.float32)

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# Qdrant


class _Clients:
    """One Qdrant client per location in this process, shared and counted.

    Local mode locks its folder: a second client on the same path in one process fails, so the
    indexer and the loaded index of a pipeline share one; it closes when the last user releases it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[tuple[str, str], list] = {}

    def acquire(self, vs: VectorSettings):
        key = ("url", vs.qdrant_url) if vs.qdrant_url else ("path", str(Path(vs.qdrant_path).resolve()))
        with self._lock:
            if key not in self._open:
                self._open[key] = [_connect(vs), 0]
            self._open[key][1] += 1
            return key, self._open[key][0]

    def release(self, key) -> None:
        with self._lock:
            entry = self._open.get(key)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] == 0:
                del self._open[key]
                entry[0].close()


    def close_all(self) -> None:
        """Close every client (at exit, while Python can still run their clean-up)."""
        with self._lock:
            entries, self._open = list(self._open.values()), {}
        for client, _ in entries:
            client.close()


CLIENTS = _Clients()
atexit.register(CLIENTS.close_all)


def _connect(vs: VectorSettings):
    try:
        from qdrant_client import QdrantClient
    except ImportError:
        raise IndexProblem("vector_backend=qdrant needs the qdrant-client package: pip install 'qa[qdrant]'") from None
    if vs.qdrant_url:
        return QdrantClient(url=vs.qdrant_url, api_key=vs.qdrant_api_key or None)
    Path(vs.qdrant_path).mkdir(parents=True, exist_ok=True)
    try:
        return QdrantClient(path=str(vs.qdrant_path))
    except RuntimeError as exc:
        raise IndexProblem(
            f"the Qdrant folder {str(vs.qdrant_path)!r} is in use by another process ({exc}); stop it, "
            "or run a Qdrant server and set QA_QDRANT_URL so several processes can share it"
        ) from None


class _qdrant:
    """``with _qdrant(settings) as client``: a shared client, released on exit."""

    def __init__(self, vs: VectorSettings) -> None:
        self.vs = vs

    def __enter__(self):
        self.key, client = CLIENTS.acquire(self.vs)
        return client

    def __exit__(self, *exc) -> None:
        CLIENTS.release(self.key)


def _qdrant_build(client, name: str, vectors: np.ndarray, passage_docs: list[str], server: bool) -> None:
    from qdrant_client import models

    if client.collection_exists(name):
        client.delete_collection(name)
    client.create_collection(name, vectors_config=models.VectorParams(size=int(vectors.shape[1]),
                                                                      distance=models.Distance.DOT))
    if server:  # a server filters by document through a payload index (local mode has none)
        client.create_payload_index(name, "doc", models.PayloadSchemaType.KEYWORD)
    if len(vectors):
        client.upload_collection(
            name, vectors=np.ascontiguousarray(vectors, dtype=np.float32), ids=range(len(vectors)),
            payload=[{"doc": d, "passage": i} for i, d in enumerate(passage_docs)], batch_size=256, wait=True,
        )


class QdrantVectors:
    """One segment's collection; holds a shared client until :meth:`close`."""

    def __init__(self, vs: VectorSettings, collection: str, expected: int) -> None:
        self.collection = collection
        self.key, self.client = CLIENTS.acquire(vs)
        try:
            if not self.client.collection_exists(collection):
                raise IndexProblem(f"damaged index: the Qdrant collection {collection!r} is missing; "
                                   "run `qa index` with the documents to rebuild it")
            self.count = self.client.count(collection, exact=True).count
        except BaseException:
            self.close()
            raise
        # a server searches exactly up to the limit FAISS uses, HNSW above; local mode is always exact
        self.params = None
        self.server = bool(vs.qdrant_url)
        if self.server:
            from qdrant_client import models

            self.params = models.SearchParams(exact=expected <= EXACT_LIMIT)

    def search(self, qvec, k, allowed=None, docs=None):
        from qdrant_client import models

        # by document on a server (payload index); by passage id in local mode (about 2x faster there)
        if docs and (self.server or allowed is None):
            where = models.Filter(must=[models.FieldCondition(key="doc", match=models.MatchAny(any=list(docs)))])
        elif allowed is not None:
            if len(allowed) == 0:
                return _NONE
            where = models.Filter(must=[models.HasIdCondition(has_id=[int(i) for i in allowed])])
        else:
            where = None
        points = self.client.query_points(
            self.collection, query=np.asarray(qvec, dtype=np.float32).ravel().tolist(), limit=k,
            query_filter=where, search_params=self.params, with_payload=False,
        ).points
        return (np.fromiter((p.id for p in points), np.int64, len(points)),
                np.fromiter((p.score for p in points), np.float32, len(points)))

    def close(self) -> None:
        if self.key is not None:
            CLIENTS.release(self.key)
            self.key = None
