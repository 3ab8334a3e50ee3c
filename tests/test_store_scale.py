"""Large-index behaviour of the store: HNSW above the exact-search threshold, memory-mapped loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.index import store
from qa.retrieval import dense_search
from qa.types import Document, Passage

DIM = 32


def _save_corpus(folder: Path, n: int, exact_limit: int) -> np.ndarray:
    """Save ``n`` one-word passages with clustered unit vectors; return the vectors."""
    words = [f"word{i}" for i in range(n)]
    text = " ".join(words)
    doc = Document("d.txt", "d", text, sha256="0" * 64)
    passages, pos = [], 0
    for i, w in enumerate(words):
        passages.append(Passage(doc.id, doc.title, i, pos, pos + len(w), w))
        pos += len(w) + 1
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((n // 20, DIM))
    vectors = centres[rng.integers(0, len(centres), n)] + 0.3 * rng.standard_normal((n, DIM))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    store.save(folder, [doc], passages, vectors, np.zeros((0, 4), np.int64), np.zeros((0, DIM), np.float32),
               {"id": "test/random", "dim": DIM}, {"name": "test"}, exact_limit=exact_limit)
    return vectors


def test_above_the_threshold_the_index_is_hnsw_and_finds_the_true_neighbours(tmp_path):
    import faiss

    vectors = _save_corpus(tmp_path, 600, exact_limit=100)
    data = store.load(tmp_path)
    assert data.manifest["index_type"] == "hnsw"
    assert isinstance(data.vectors.index, faiss.IndexHNSWFlat)
    rng = np.random.default_rng(1)
    queries = vectors[:50] + 0.05 * rng.standard_normal((50, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    recall = []
    for i, q in enumerate(queries):
        found = dense_search(data, q, 10).ids
        exact = np.argsort(-(vectors @ q), kind="stable")[:10]
        assert found[0] == exact[0] == i
        recall.append(len(set(found.tolist()) & set(exact.tolist())) / 10)
    assert np.mean(recall) >= 0.95


def test_below_the_threshold_the_index_is_exact(tmp_path):
    vectors = _save_corpus(tmp_path, 120, exact_limit=store.EXACT_LIMIT)
    data = store.load(tmp_path)
    assert data.manifest["index_type"] == "flat"
    q = vectors[5]
    exact = np.argsort(-(vectors @ q), kind="stable")[:10]
    np.testing.assert_array_equal(dense_search(data, q, 10).ids, exact)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("exact_limit", [store.EXACT_LIMIT, 100])
def test_vectors_and_faiss_index_are_memory_mapped_not_copied(tmp_path, exact_limit):
    _save_corpus(tmp_path, 300, exact_limit=exact_limit)
    data = store.load(tmp_path, mmap=True)
    mapped = Path("/proc/self/maps").read_text()
    gen = tmp_path / data.segments[0]
    assert isinstance(data.passage_vectors, np.memmap)
    assert str(gen / "dense.faiss") in mapped
    assert str(gen / "passage_vectors.npy") in mapped
