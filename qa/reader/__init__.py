"""Reading: from the retrieved passages to an extractive answer.

- :mod:`.heuristic`: no model; ranks sentences and picks a span by rules (the fallback).
- :mod:`.sentence`: the sentence model trained here (``QA_READER=sentence``).
- :mod:`.answers`: building an :class:`~qa.types.Answer` at document offsets, or an abstention.

:func:`make_reader` returns the reader the settings name.
"""

from __future__ import annotations

import warnings

from ..errors import ModelError
from .answers import NO_ANSWER, abstain, answer_at
from .heuristic import Kind, SpanReader, parse_question

__all__ = ["NO_ANSWER", "Kind", "SpanReader", "abstain", "answer_at", "make_reader", "parse_question"]


def make_reader(settings):
    """The reader ``settings.reader`` names: ``heuristic`` (:class:`SpanReader`) or ``trained``
    (:class:`qa.reader.sentence.TrainedReader`; the heuristic one, with a warning, when its model
    files or onnxruntime are missing)."""
    if settings.reader == "trained":
        from .sentence import TrainedReader, unavailable

        reason = unavailable(settings)
        if reason is None:
            return TrainedReader(settings)
        if settings.reader_model:  # a model the user named: say so, do not quietly answer otherwise
            raise ModelError(f"reader_model {settings.reader_model!r} cannot be used: {reason}")
        warnings.warn(f"the trained reader is unavailable ({reason}): using the heuristic reader", RuntimeWarning,
                      stacklevel=2)
    return SpanReader(settings)
