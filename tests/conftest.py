"""Shared fixtures.

Fast unit tests use :class:`FakeEmbedder`, which maps each word to a fixed random direction, so
texts sharing words are similar and results are deterministic. Integration tests (marked
``integration``) use the real bundled model on the real seeds; the seed index is built once per
test session in a temporary folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import re
import sys
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Property tests check behaviour, not speed: no per-example deadline (a busy CI machine takes
# seconds for an example that takes milliseconds alone).
settings.register_profile("qa", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("qa")

from qa.config import Settings
from qa.pipeline import Pipeline

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_QUERIES = ROOT / "tests" / "data" / "seed_queries.jsonl"

_WORD = re.compile(r"\w+")


@contextlib.contextmanager
def bench_script(name: str, folder: Path = ROOT / "bench"):
    """A script of bench/ (or of ``folder``, e.g. the root's app.py; not a package) imported as a module, with its
    folder on the path for the while."""
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(name)
    finally:
        sys.path.remove(str(folder))


class FakeEmbedder:
    """Deterministic bag-of-words embedder: each lower-cased word adds a fixed unit vector."""

    model_id = "test/fake-bag-of-words"

    def __init__(self, dim: int = 64):
        self.dim = dim
        self.calls = 0  #: number of encode calls
        self.encoded = 0  #: number of texts encoded

    def warm_up(self) -> None:
        pass

    def _word(self, word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(self.dim)
        return v / np.linalg.norm(v)

    def encode(self, texts, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        self.calls += 1
        self.encoded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            v = np.zeros(self.dim)
            for w in _WORD.findall(t.lower()):
                v += self._word(w)
            n = np.linalg.norm(v)
            out[i] = v / n if n else np.eye(self.dim)[0]
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


def write_docs(folder: Path, files: dict[str, str | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder


TINY_DOCS = {
    "volcanoes.md": "---\ntitle: Volcanoes of Iceland\nauthor: A. Writer\ndate: 2020-05-01\n---\n"
    "# Eruptions\n\nThe Eyjafjallajokull volcano erupted in April 2010 and stopped air traffic across Europe. "
    "About 100,000 flights were cancelled.\n\n# Monitoring\n\nThe Icelandic Meteorological Office watches "
    "seismic activity around the clock.\n",
    "rivers.txt": "Rivers of Europe\n\nThe Danube flows through ten countries and ends in the Black Sea. "
    "It is the second-longest river in Europe after the Volga.\n\nThe Rhine rises in the Swiss Alps.\n",
    "sub/coffee.txt": "Coffee history\n\nCoffee was first cultivated in Yemen in the 15th century. "
    "Sufi monks drank it to stay awake during night prayers.\n",
}


@pytest.fixture
def bundled_model(monkeypatch):
    """The bundled all-MiniLM-L6-v2 as the default model, for tests of its own encoders (its int8 export, the
    question and statement encoders trained for its passages), whether or not a model trained here for both
    sides is shipped as the default (qa/models/encoder)."""
    from qa.index import embedding

    monkeypatch.setattr(embedding, "SHIPPED_MODEL_DIR", embedding.SHIPPED_MODEL_DIR.with_name("none-shipped"))


@pytest.fixture
def tiny_docs(tmp_path: Path) -> Path:
    return write_docs(tmp_path / "docs", TINY_DOCS)


@pytest.fixture
def fake_pipeline(tmp_path: Path, tiny_docs: Path, fake_embedder: FakeEmbedder) -> Pipeline:
    settings = Settings(docs=tiny_docs, index=tmp_path / "index", chunk_size=200, chunk_overlap=40)
    return Pipeline(settings, embedder=fake_embedder)


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory) -> Path:
    """The seeds indexed with the real model, once per session (copied docs, so tests may not alter seeds/)."""
    base = tmp_path_factory.mktemp("seedindex")
    shutil.copytree(SEEDS, base / "docs")
    qa = Pipeline(Settings(docs=base / "docs", index=base / "index"))
    qa.index()
    return base


@pytest.fixture(scope="session")
def seed_pipeline(seed_index_dir: Path) -> Pipeline:
    qa = Pipeline(Settings(docs=seed_index_dir / "docs", index=seed_index_dir / "index"))
    qa.warm_up()
    return qa
