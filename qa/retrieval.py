"""Retrieve passages: dense (FAISS or Qdrant, :mod:`qa.index.vectors`), BM25, or a hybrid fusion of the two
(:func:`fuse`: weighted reciprocal-rank fusion, or a convex combination of per-query normalised scores
as in Bruch, Gai and Ingber 2023, "An Analysis of Fusion Functions for Hybrid Retrieval"; the default
is chosen in :class:`qa.config.Settings`).

The question vector is computed once by the caller and passed in; nothing here runs the model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .config import FUSIONS
from .index.store import IndexData
from .types import Hit


@dataclass
class Ranked:
    """Candidate passages of one retriever: passage indices, best first, with their scores."""

    ids: np.ndarray
    scores: np.ndarray


@dataclass
class Retrieval:
    hits: list[Hit]
    dense: Ranked | None = None
    bm25: Ranked | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _top(scores: np.ndarray, k: int, allowed: np.ndarray | None = None) -> Ranked:
    if allowed is not None:
        sub = scores[allowed]
        k = min(k, len(sub))
        if k == 0:
            return Ranked(np.zeros(0, np.int64), np.zeros(0, np.float32))
        part = np.argpartition(-sub, k - 1)[:k]
        order = part[np.lexsort((allowed[part], -sub[part]))]
        return Ranked(allowed[order], sub[order])
    k = min(k, len(scores))
    if k == 0:
        return Ranked(np.zeros(0, np.int64), np.zeros(0, np.float32))
    part = np.argpartition(-scores, k - 1)[:k]
    order = part[np.lexsort((part, -scores[part]))]
    return Ranked(order.astype(np.int64), scores[order])


def dense_search(index: IndexData, qvec: np.ndarray, k: int, allowed: np.ndarray | None = None,
                 docs: list[str] | None = None) -> Ranked:
    """Inner-product search in the index's vector backend; restricted to ``allowed`` passage ids
    (the passages of ``docs``, when the caller knows them) when given."""
    return Ranked(*index.vectors.search(qvec, k, allowed, docs))


def bm25_search(index: IndexData, question: str, k: int, allowed: np.ndarray | None = None) -> Ranked:
    return _bm25_top(index.bm25.scores(question), k, allowed)


def _bm25_top(scores: np.ndarray, k: int, allowed: np.ndarray | None = None) -> Ranked:
    ranked = _top(scores, k, allowed)
    keep = ranked.scores > 0  # passages sharing no word with the question are not BM25 results
    return Ranked(ranked.ids[keep], ranked.scores[keep])


def dense_scorer(index: IndexData, qvec: np.ndarray) -> "Scorer":
    """The question's inner product with given passages' vectors (the dense search's score)."""
    q = np.asarray(qvec, dtype=np.float32).ravel()
    return lambda ids: np.asarray(index.passage_vectors[ids], dtype=np.float32) @ q


#: The lowest score each retriever can give, for ``tmm``: cosine similarity and BM25.
_FLOOR = {"dense": -1.0, "bm25": 0.0}


def rrf(rankings: dict[str, Ranked], k: int, rrf_k: int = 60,
        weights: dict[str, float] | None = None) -> list[tuple[int, float, dict[str, int]]]:
    """Reciprocal-rank fusion (Cormack, Clarke and Buettcher 2009): score = sum w / (rrf_k + rank),
    every weight 1 unless given.

    Ties are broken by the best single rank, then by passage row, so the order is deterministic.
    """
    fused: dict[int, float] = {}
    ranks: dict[int, dict[str, int]] = {}
    for name, ranked in rankings.items():
        w = 1.0 if weights is None else weights[name]
        for r, pid in enumerate(ranked.ids.tolist(), start=1):
            fused[pid] = fused.get(pid, 0.0) + w / (rrf_k + r)
            ranks.setdefault(pid, {})[name] = r
    return _order(fused, ranks, k)


def _order(fused: dict[int, float], ranks: dict[int, dict[str, int]], k: int) -> list[tuple[int, float, dict[str, int]]]:
    order = sorted(fused, key=lambda p: (-fused[p], min(ranks[p].values()), p))
    return [(p, fused[p], ranks[p]) for p in order[:k]]


@dataclass(frozen=True)
class Scale:
    """One side's scores on the common scale: ``(score - offset) * factor + base``; ``floor`` is what a passage
    the side did not return gets when its own score is not known."""

    offset: float
    factor: float
    base: float
    floor: float

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return (np.asarray(scores, dtype=np.float64) - self.offset) * self.factor + self.base


def _normalise(name: str, scores: np.ndarray, kind: str, depth: int | None, zeros: int = 0) -> Scale:
    """How a side's scores map to a common scale, and its floor.

    The scale comes from the first ``depth`` scores (all when ``None``), so a deeper candidate list
    does not move it; deeper candidates may fall below the floor, and a passage not returned at all
    scores no higher than the last one returned. ``zeros``: how many more of the first ``depth`` passages
    score 0 (BM25's passages sharing no word with the query, which it does not return).
    """
    s = scores.astype(np.float64)
    top = s[:depth] if depth else s
    if zeros > 0:
        top = np.concatenate([top, np.zeros(zeros)])
    if kind == "zscore":
        sd = float(top.std())
        if sd <= 0:
            return Scale(0.0, 0.0, 0.0, 0.0)
        mean = float(top.mean())
        return Scale(mean, 1.0 / sd, 0.0, (min(float(top.min()), float(s[-1])) - mean) / sd)
    low = _FLOOR[name] if kind == "tmm" else float(top.min())
    span = float(top.max()) - low
    if span <= 0:  # nothing to tell the candidates apart: all at 1
        return Scale(0.0, 0.0, 1.0, 0.0)
    return Scale(low, 1.0 / span, 0.0, min(0.0, (float(s[-1]) - low) / span))


#: The real scores of given passages on one side: ``(passage ids) -> scores``.
Scorer = Callable[[np.ndarray], np.ndarray]


def fuse(dense: Ranked, lexical: Ranked, k: int, kind: str = "rrf", weight: float = 0.5,
         rrf_k: int = 60, depth: int | None = None,
         scorers: dict[str, Scorer] | None = None,
         searched: int | None = None) -> list[tuple[int, float, dict[str, int]]]:
    """Hybrid ranking of the dense and BM25 candidates: ``weight`` is the dense side's share
    (0.5 with ``rrf`` is plain reciprocal-rank fusion); score normalisation looks at each side's
    first ``depth`` candidates. A passage only one side returned gets the other side's real score when
    ``scorers`` has that side (``"dense"`` or ``"bm25"``), its floor otherwise; reciprocal-rank fusion
    looks at ranks only. Returns ``(passage, score, ranks)``, best first.

    ``searched``: how many passages BM25 scored. BM25 returns only passages sharing a word with the query,
    so when it returned fewer than ``depth``, the rest of its first ``depth`` score 0, and its scale counts
    them: a name found in one passage alone stands far above BM25's zeros, where a scale of its one score
    would have none (a standard deviation of 0) and leave that passage below every dense candidate."""
    if kind not in FUSIONS:
        raise ValueError(f"unknown fusion {kind!r}: use one of {', '.join(FUSIONS)}")
    weights = {"dense": weight, "bm25": 1.0 - weight}
    rankings = {"dense": dense, "bm25": lexical}
    if kind == "rrf":
        return rrf(rankings, k, rrf_k, {n: 2 * w for n, w in weights.items()})
    ranks: dict[int, dict[str, int]] = {}
    for name, ranked in rankings.items():
        for r, pid in enumerate(ranked.ids.tolist(), start=1):
            ranks.setdefault(pid, {})[name] = r
    fused = dict.fromkeys(ranks, 0.0)
    for name, ranked in rankings.items():
        if not len(ranked.ids):
            continue  # a side with no candidates adds nothing (0 to every passage)
        zeros = 0
        if name == "bm25" and searched is not None:
            zeros = max(0, (searched if depth is None else min(depth, searched)) - len(ranked.ids))
        scale = _normalise(name, ranked.scores, kind, depth, zeros)
        values = dict(zip(ranked.ids.tolist(), scale(ranked.scores).tolist()))
        if scorers and name in scorers:  # the passages only the other side returned, scored by this one
            others = [pid for pid in ranks if pid not in values]
            if others:
                values.update(zip(others, scale(scorers[name](np.asarray(others, dtype=np.int64))).tolist()))
        for pid in fused:
            fused[pid] += weights[name] * values.get(pid, scale.floor)
    return _order(fused, ranks, k)


def retrieve(
    index: IndexData,
    question: str,
    qvec: np.ndarray | None,
    k: int,
    mode: str,
    docs: list[str] | None = None,
    candidates: int = 50,
    rrf_k: int = 60,
    fusion: str = "rrf",
    fusion_weight: float = 0.5,
    fusion_missing: str = "floor",
) -> Retrieval:
    """Top-``k`` hits for the question in the given mode, optionally only from ``docs``. In hybrid, a candidate only
    one side returned gets the other side's real score (``fusion_missing="score"``) or its floor (``"floor"``)."""
    timings: dict[str, float] = {}
    allowed = index.passage_ids_for(docs) if docs else None
    pool = max(k, candidates)
    dense = lexical = None
    if mode in ("dense", "hybrid"):
        t = time.perf_counter()
        dense = dense_search(index, qvec, pool if mode == "hybrid" else k, allowed, docs)
        timings["dense_search"] = time.perf_counter() - t
    if mode in ("bm25", "hybrid"):
        t = time.perf_counter()
        lexical_all = index.bm25.scores(question)
        lexical = _bm25_top(lexical_all, pool if mode == "hybrid" else k, allowed)
        timings["bm25"] = time.perf_counter() - t
    t = time.perf_counter()
    if mode == "hybrid":
        scorers = ({"dense": dense_scorer(index, qvec), "bm25": lexical_all.__getitem__}
                   if fusion_missing == "score" else None)
        searched = len(allowed) if allowed is not None else len(lexical_all)
        fused = fuse(dense, lexical, k, fusion, fusion_weight, rrf_k, candidates, scorers, searched)
        hits = [Hit(index.passages[p], s, r, "hybrid", rk, p) for r, (p, s, rk) in enumerate(fused, start=1)]
        timings["fusion"] = time.perf_counter() - t
    else:
        ranked = dense if mode == "dense" else lexical
        hits = [
            Hit(index.passages[p], float(s), r, mode, {mode: r}, int(p))
            for r, (p, s) in enumerate(zip(ranked.ids.tolist(), ranked.scores.tolist()), start=1)
        ][:k]
    return Retrieval(hits, dense, lexical, timings)
