"""The confidence of a model reader's answer: the probability that it is right, by logistic
regression on the model's scores (Platt scaling), fitted on one half of SQuADShifts, text unlike the
training data, and stored beside the model (``<model>.json``, key ``calibration``); with the two
thresholds on it that make an answer sure, possible or none (:func:`qa.reader.answers.state`).

Fitted by ``bench/passage_reader.py calibrate`` (the passage reader) and
``bench/sentence_reader.py calibrate`` (the sentence reader).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Calibration:
    """P(answer right) = sigmoid(has_answer * has-answer logit + span * span score + bias), the two
    thresholds on it, and (the passage reader's) how much the retrieval's order weighs in choosing
    the span. The sentence reader's uses the has-answer logit alone (``span`` 0)."""

    has_answer: float = 1.0
    span: float = 0.0
    bias: float = 0.0
    answer: float = 0.5  #: at or above: an answer
    tentative: float = 0.2  #: at or above: a possible answer; below: none
    rank: float = 0.0  #: taken off a span's score per place its passage stands below the first retrieved
    #: (the passage reader's) an answer this sure from the first passage alone ends the reading: the
    #: passages below it are not read (above 1: they always are)
    stop: float = 2.0
    #: (the passage reader's) the same probability for an answer found by reading deeper (the best of several
    #: passages below the first ones: the reader's own weights make it over-confident), fitted apart by
    #: ``bench/read_deeper.py --calibrate``; NaN: as the others
    deeper_has_answer: float = float("nan")
    deeper_span: float = float("nan")
    deeper_bias: float = float("nan")

    def confidence(self, has_logit: float, span_score: float) -> float:
        """The probability that the answer is right, from the window's has-answer logit and the
        span's score (a sum of logits)."""
        return _sigmoid(self.has_answer * has_logit + self.span * span_score + self.bias)

    def deeper_confidence(self, has_logit: float, span_score: float) -> float:
        """:meth:`confidence` for an answer found by reading deeper (its own fit, when the record has one)."""
        if not np.isfinite(self.deeper_bias):
            return self.confidence(has_logit, span_score)
        return _sigmoid(self.deeper_has_answer * has_logit + self.deeper_span * span_score + self.deeper_bias)

    @classmethod
    def beside(cls, model_file: Path, default: "Calibration | None" = None) -> "Calibration":
        """The calibration stored next to ``model_file`` (``<name>.json``, key ``calibration``),
        else ``default`` (the identity on the has-answer logit when not given); the fields the
        record lacks are the default's."""
        return cls.read(Path(model_file).with_suffix(".json"), default)

    @classmethod
    def read(cls, record: Path, default: "Calibration | None" = None) -> "Calibration":
        """The calibration stored in the record file ``record`` (key ``calibration``), else ``default``."""
        return stored(record, "calibration", default or cls())


def _sigmoid(z: float) -> float:
    return float(1.0 / (1.0 + np.exp(-np.clip(z, -50, 50))))


def stored(record: Path, key: str, default):
    """The dataclass ``default`` with the numeric fields stored in the JSON file ``record`` under
    ``key``; ``default`` itself when the file, the key or the fields cannot be read."""
    try:
        data = json.loads(Path(record).read_text(encoding="utf-8")).get(key)
    except (OSError, ValueError, AttributeError):
        return default
    if not isinstance(data, dict):
        return default
    known = {k: float(v) for k, v in data.items() if k in default.__dataclass_fields__
             and isinstance(v, (int, float)) and not isinstance(v, bool)}
    return replace(default, **known)


