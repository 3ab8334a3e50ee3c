"""The vector backends: FAISS (default) and Qdrant in local mode give the same retrieval results,
follow incremental updates and removals, and switching between them reuses the stored vectors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SEED_QUERIES, TINY_DOCS, FakeEmbedder, write_docs
from qa.index import store
from qa.config import Settings
from qa.errors import IndexProblem, SettingsError
from qa.pipeline import Pipeline
from qa.retrieval import dense_search
from qa.index.vectors import CLIENTS, VectorSettings

pytest.importorskip("qdrant_client")

QUESTIONS = ["When did the volcano erupt?", "Which river ends in the Black Sea?", "Where was coffee first grown?",
             "Rhine Alps", "flights cancelled in Europe"]


def make_pipeline(tmp_path: Path, backend: str, embedder=None) -> Pipeline:
    docs = tmp_path / "docs"
    if not docs.exists():
        write_docs(docs, TINY_DOCS)
    settings = Settings(docs=docs, index=tmp_path / f"index-{backend}", chunk_size=200, chunk_overlap=40,
                        vector_backend=backend)
    return Pipeline(settings, embedder=embedder or FakeEmbedder())


def dense_results(qa: Pipeline, question: str, k: int, docs=None) -> list[tuple[str, int, float]]:
    return [(h.passage.doc, h.passage.ordinal, h.score) for h in qa.search(question, k=k, mode="dense", docs=docs)]


def assert_same_results(a: list, b: list) -> None:
    assert [(d, o) for d, o, _ in a] == [(d, o) for d, o, _ in b]
    np.testing.assert_allclose([s for *_, s in a], [s for *_, s in b], rtol=0, atol=1e-5)


def collections(settings: Settings) -> list[str]:
    vs = VectorSettings.from_settings(settings)
    key, client = CLIENTS.acquire(vs)
    try:
        return sorted(c.name for c in client.get_collections().collections)
    finally:
        CLIENTS.release(key)


@pytest.fixture
def both(tmp_path):
    faiss_qa = make_pipeline(tmp_path, "faiss")
    qdrant_qa = make_pipeline(tmp_path, "qdrant")
    assert faiss_qa.data and qdrant_qa.data  # built now, before a test changes the documents
    yield faiss_qa, qdrant_qa
    qdrant_qa.data.close()


def test_both_backends_return_the_same_passages_in_the_same_order(both):
    faiss_qa, qdrant_qa = both
    assert qdrant_qa.data.manifest["vectors"] == {"backend": "qdrant", "collection": qdrant_qa.data.segments[0]}
    assert faiss_qa.data.manifest["vectors"] == {"backend": "faiss"}
    for q in QUESTIONS:
        for k in (1, 3, 100):
            assert_same_results(dense_results(faiss_qa, q, k), dense_results(qdrant_qa, q, k))


def test_document_filter_runs_inside_qdrant_with_the_same_results(both):
    faiss_qa, qdrant_qa = both
    for docs in (["rivers.txt"], ["rivers.txt", "sub/coffee.txt"]):
        for q in QUESTIONS:
            got = dense_results(qdrant_qa, q, 10, docs)
            assert got and {d for d, _, _ in got} <= set(docs)
            assert_same_results(dense_results(faiss_qa, q, 10, docs), got)
    data = qdrant_qa.data
    qvec = qdrant_qa.embedder.encode_query("Danube")
    allowed = data.passage_ids_for(["sub/coffee.txt"])
    by_ids = dense_search(data, qvec, 5, allowed)
    assert set(by_ids.ids.tolist()) <= set(allowed.tolist()) and len(by_ids.ids) == len(allowed)
    by_doc = dense_search(data, qvec, 5, None, ["sub/coffee.txt"])  # the payload filter
    np.testing.assert_array_equal(by_doc.ids, by_ids.ids)
    assert len(dense_search(data, qvec, 5, np.zeros(0, np.int64)).ids) == 0


def test_changed_and_removed_documents_are_followed_by_both_backends(both, tmp_path):
    docs = tmp_path / "docs"
    (docs / "rivers.txt").write_text("Rivers\n\nThe Amazon carries more water than any other river.\n",
                                     encoding="utf-8")
    (docs / "sub" / "coffee.txt").unlink()
    results = []
    for qa in both:
        report = qa.refresh()
        assert report.changed == ["rivers.txt"] and report.removed == ["sub/coffee.txt"]
        assert {h.passage.doc for h in qa.search("coffee Yemen monks", k=10, mode="dense")} <= {
            "rivers.txt", "volcanoes.md"}
        top = qa.search("Which river carries the most water?", k=1, mode="dense")[0]
        assert top.passage.doc == "rivers.txt" and "Amazon" in top.passage.text
        assert qa.data.vectors.count == len(qa.data.passages)
        results.append(dense_results(qa, "Amazon water", 10))
    assert_same_results(*results)
    qdrant_qa = both[1]
    assert collections(qdrant_qa.settings) == qdrant_qa.data.segments  # the old one is dropped


def test_switching_backend_rebuilds_the_vector_index_without_embedding(tmp_path):
    embedder = FakeEmbedder()
    faiss_qa = make_pipeline(tmp_path, "faiss", embedder)
    before = dense_results(faiss_qa, QUESTIONS[0], 5)
    index = faiss_qa.settings.index
    for backend in ("qdrant", "faiss"):
        with pytest.raises(IndexProblem, match="vector backend"):  # built for the other one: stale
            store.load(index, vectors=VectorSettings(backend, index / "qdrant"))
        encoded = embedder.encoded
        qa = Pipeline(faiss_qa.settings.replace(vector_backend=backend), embedder=embedder)
        report = qa.index()
        assert report.wrote and "vector backend" in report.reason
        assert embedder.encoded == encoded  # vectors came from passage_vectors.npy
        assert qa.data.manifest["vectors"]["backend"] == backend
        assert_same_results(before, dense_results(qa, QUESTIONS[0], 5))
        assert not qa.index().wrote  # up to date now
        if backend == "faiss":  # back on FAISS: the Qdrant collections are gone
            assert collections(qa.settings.replace(vector_backend="qdrant")) == []
        qa.data.close()


def test_missing_qdrant_collection_is_a_damaged_index_that_indexing_repairs(tmp_path):
    qa = make_pipeline(tmp_path, "qdrant")
    [segment] = qa.data.segments
    qa.data.close()
    key, client = CLIENTS.acquire(VectorSettings.from_settings(qa.settings))
    client.delete_collection(segment)
    CLIENTS.release(key)
    with pytest.raises(IndexProblem, match="damaged index.*collection"):
        store.load(qa.settings.index, vectors=VectorSettings.from_settings(qa.settings))
    again = Pipeline(qa.settings, embedder=FakeEmbedder())
    assert again.index().wrote
    assert dense_results(again, QUESTIONS[1], 1)[0][0] == "rivers.txt"
    again.data.close()


def test_pipelines_on_one_qdrant_folder_share_one_client_which_closes_after_the_last(tmp_path):
    first = make_pipeline(tmp_path, "qdrant")
    second = Pipeline(first.settings, embedder=FakeEmbedder())
    assert dense_results(first, QUESTIONS[2], 3) == dense_results(second, QUESTIONS[2], 3)
    assert first.data.vectors.client is second.data.vectors.client
    (tmp_path / "docs" / "rivers.txt").write_text("The Nile is long.\n", encoding="utf-8")
    old = first.data
    first.refresh()  # swap: the old index lets go of the client, the new one keeps it
    assert old.vectors.key is None and first.data.vectors.client is second.data.vectors.client
    client = first.data.vectors.client
    first.data.close()
    second.data.close()
    assert not CLIENTS._open and client._client is not None and client._client.closed


def test_qdrant_settings_from_the_environment_and_the_key_stays_in_memory(tmp_path):
    env = {"QA_VECTOR_BACKEND": "qdrant", "QA_QDRANT_URL": "http://qdrant.example:6333",
           "QA_QDRANT_API_KEY": "s3cret-key", "QA_INDEX": str(tmp_path / "index")}
    s = Settings.from_env(env)
    vs = VectorSettings.from_settings(s)
    assert (vs.backend, vs.qdrant_url, vs.qdrant_api_key) == ("qdrant", "http://qdrant.example:6333", "s3cret-key")
    assert "s3cret" not in repr(s) and "s3cret" not in repr(vs)
    assert VectorSettings.from_settings(Settings(index=tmp_path / "i")).qdrant_path == tmp_path / "i" / "qdrant"
    assert Settings(qdrant_path="/data/q").qdrant_path == Path("/data/q")
    with pytest.raises(SettingsError, match="vector_backend"):
        Settings(vector_backend="milvus")


def test_the_api_key_is_never_written_to_the_index(tmp_path):
    qa = make_pipeline(tmp_path, "qdrant")
    qa = Pipeline(qa.settings.replace(qdrant_api_key="s3cret-key"), embedder=FakeEmbedder())
    qa.index(force=True)
    qa.data.close()
    for path in qa.settings.index.rglob("*"):
        if path.is_file():
            assert b"s3cret" not in path.read_bytes(), path


# ---------------------------------------------------------------------------------------------
# The real model


@pytest.mark.integration
def test_qdrant_matches_faiss_exact_search_on_the_seeds(seed_pipeline, seed_index_dir, tmp_path):
    shutil.copytree(seed_index_dir / "index", tmp_path / "index")
    settings = seed_pipeline.settings.replace(index=tmp_path / "index", vector_backend="qdrant")
    qdrant_qa = Pipeline(settings, embedder=seed_pipeline.embedder)
    report = qdrant_qa.index()
    assert report.wrote and report.embedded_passages == 0
    assert seed_pipeline.data.manifest["index_type"] == "flat"  # FAISS exact search
    questions = [json.loads(line)["question"] for line in SEED_QUERIES.read_text(encoding="utf-8").splitlines()]
    for q in questions:
        assert_same_results(dense_results(seed_pipeline, q, 10), dense_results(qdrant_qa, q, 10))
    qdrant_qa.data.close()


@pytest.mark.integration
def test_qa_index_and_search_run_on_qdrant_from_the_command_line(tmp_path):
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")} | {"QA_VECTOR_BACKEND": "qdrant"}

    def qa(*args):
        return subprocess.run([sys.executable, "-m", "qa", *args, "--docs", str(docs), "--index",
                               str(tmp_path / "index")], env=env, capture_output=True, text=True, timeout=300)

    built = qa("index")
    assert built.returncode == 0, built.stderr
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["vectors"]["backend"] == "qdrant"
    assert (tmp_path / "index" / "qdrant" / "collection" / manifest["vectors"]["collection"]).is_dir()
    found = qa("search", "Which river ends in the Black Sea?", "--mode", "dense", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["doc"] == "rivers.txt"
    assert "Traceback" not in found.stderr


def test_indexes_sharing_one_qdrant_keep_each_others_collections(tmp_path):
    shared = tmp_path / "qdrant"
    first, second = (Pipeline(make_pipeline(tmp_path / name, "qdrant").settings.replace(qdrant_path=shared),
                              embedder=FakeEmbedder()) for name in ("a", "b"))
    assert first.data and second.data
    (tmp_path / "a" / "docs" / "rivers.txt").write_text("The Nile is long.\n", encoding="utf-8")
    first.refresh()  # drops its own old collection only
    assert collections(first.settings) == sorted(first.data.segments + second.data.segments)
    assert dense_results(second, QUESTIONS[1], 1)[0][0] == "rivers.txt"
    first.data.close()
    second.data.close()
