"""Reading: from the retrieved passages to an extractive answer.

- :mod:`.heuristic`: no model; ranks sentences and picks a span by rules (the fallback), with
  :mod:`.question` (what a question asks for) and :mod:`.spans` (words and span rules).
- :mod:`.passage`: the passage model trained here reads whole passages (``QA_READER=passage``).
- :mod:`.sentence`: the sentence model trained here reads single sentences (``QA_READER=sentence``).
- :mod:`.combined`: both models read, their span scores summed (``QA_READER=combined``).
- :mod:`.windows`: question + passage token windows, and spans out of the model's logits.
- :mod:`.training`, :mod:`.sentence_training`: how the models are trained (``python -m qa.train``),
  from :mod:`.training_data` (SQuAD questions into examples); :mod:`.onnx_weights` writes a
  model's int8 ONNX file and reads the weights back out of one.
- :mod:`.answers`: building an :class:`~qa.types.Answer` at document offsets, or an abstention.

:func:`make_reader` returns the reader the settings name.
"""

from __future__ import annotations

import warnings

from ..errors import ModelError
from .answers import NO_ANSWER, abstain, answer_at
from .heuristic import SpanReader
from .question import Kind, parse_question

__all__ = ["NO_ANSWER", "Kind", "SpanReader", "abstain", "answer_at", "make_reader", "parse_question"]


def make_reader(settings):
    """The reader ``settings.reader`` names: ``combined`` (:class:`qa.reader.combined.CombinedReader`),
    ``passage`` (:class:`qa.reader.passage.PassageReader`),
    ``sentence`` (:class:`qa.reader.sentence.TrainedReader`) or ``heuristic`` (:class:`SpanReader`).
    A model reader whose bundled model or onnxruntime is missing falls back to the heuristic one
    with a warning; a model the user named that cannot be used is an error."""
    if settings.reader in ("combined", "passage", "sentence"):
        if settings.reader == "combined":
            from .combined import CombinedReader as Reader
            from .combined import unavailable
        elif settings.reader == "passage":
            from .passage import PassageReader as Reader
            from .passage import unavailable
        else:
            from .sentence import TrainedReader as Reader
            from .sentence import unavailable

        reason = unavailable(settings)
        if reason is None:
            reader = Reader(settings)
            try:
                reader.model  # noqa: B018 - a damaged file is found now, not at the first question
                return reader
            except ModelError as exc:
                if settings.reader_model:
                    raise
                reason = str(exc)
        if settings.reader_model:  # a model the user named: say so, do not quietly answer otherwise
            raise ModelError(f"reader_model {settings.reader_model!r} cannot be used: {reason}")
        warnings.warn(f"the trained reader is unavailable ({reason}): using the heuristic reader", RuntimeWarning,
                      stacklevel=2)
    return SpanReader(settings)
