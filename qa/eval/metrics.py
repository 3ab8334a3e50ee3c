"""Answer metrics with SQuAD's normalisation (official ``evaluate-v1.1.py``): lower case, no
punctuation, no articles (a, an, the), white space collapsed. Exact match and token F1 are taken
against the best-matching gold answer.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Iterable

_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(s: str) -> str:
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1(prediction: str, gold: str) -> float:
    pred = normalize_answer(prediction).split()
    ref = normalize_answer(gold).split()
    common = Counter(pred) & Counter(ref)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred)
    recall = same / len(ref)
    return 2 * precision * recall / (precision + recall)


def best(metric, prediction: str | None, golds: Iterable[str]) -> float:
    """The metric against the best-matching gold answer (0 for no prediction or no gold)."""
    golds = list(golds)
    if prediction is None or not golds:
        return 0.0
    return max(metric(prediction, g) for g in golds)


def contains_answer(text: str, golds: Iterable[str]) -> bool:
    """Whether ``text`` contains one of the gold answers, compared after SQuAD normalisation."""
    norm = f" {normalize_answer(text)} "
    return any(normalize_answer(g) and f" {normalize_answer(g)} " in norm for g in golds)
