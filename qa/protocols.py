"""The seams of the pipeline: what :class:`qa.pipeline.Pipeline` calls on an embedder and a reader.

Any object with these members can be passed as ``Pipeline(embedder=..., reader=...)`` (the test
fakes are); ``isinstance(x, Reader)`` checks that the members are there (not their signatures).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol, Sequence, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from .retrieval import Retrieval
    from .index.store import IndexData
    from .types import Answer

#: Progress callback of long work: (fraction done from 0 to 1, what is being done).
ProgressFn = Callable[[float, str], None]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors (passages and sentences at index time, the
    question at query time)."""

    model_id: str  #: recorded in the index's manifest: an index answers only with its own model
    dim: int  #: vector length; ``-1`` until the model is loaded when it is not known in advance

    def warm_up(self) -> None:
        """Load the model now rather than at the first text."""

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """A ``(len(texts), dim)`` float32 array with unit-length rows."""

    def encode_query(self, text: str) -> np.ndarray:
        """One question: a ``(dim,)`` vector."""

    # Optional, for an embedder that can give sentence vectors from its passages' forward pass
    # (the indexer checks ``pools_sentences``; see SentenceTransformerEmbedder.encode_passages):
    #   pools_sentences: bool
    #   encode_passages(texts, spans, batch_size, threads) -> (passage vectors, per passage an array
    #   of its spans' vectors, NaN rows for spans to embed alone)


@runtime_checkable
class Reader(Protocol):
    """Reads the retrieved passages and gives an :class:`~qa.types.Answer` (or an abstention)."""

    pool: int  #: passages to retrieve for it (at least ``k``)
    needs_vector: bool  #: whether :meth:`read` uses the question's vector (then it is embedded in every mode)

    @property
    def threshold(self) -> float:
        """Confidence (a probability, as :attr:`~qa.types.Answer.confidence`) below which it abstains."""

    @property
    def answer_threshold(self) -> float:
        """Confidence from which the answer is stated (between the two: a possible answer)."""

    def warm_up(self, data: IndexData, embedder: Embedder) -> None:
        """Load what it needs (a model) now rather than at the first question."""

    def read(self, question: str, qvec: np.ndarray | None, retrieval: Retrieval, data: IndexData,
             k: int) -> Answer:
        """The answer from ``retrieval.hits``, citing at most ``k`` passages (``k + 1`` when the
        answer's passage ranked below ``k``)."""
