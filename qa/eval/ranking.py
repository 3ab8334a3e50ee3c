"""Retrieval metrics over rankings (recall@k, MRR, nDCG) and paired tests between modes, through ranx."""

from __future__ import annotations

import threading
import time
import warnings
from typing import Sequence

from .records import Comparison, Significance

#: Depth of MRR and nDCG.
RANK_DEPTH = 10
#: Metrics compared between modes, and the paired test (Fisher's randomization test, ranx).
COMPARED = ("recall@5", "mrr@10", "ndcg@10")
STAT_TEST = "fisher"
MAX_P = 0.05

#: ranx's kernels are numba ``parallel=True`` functions, and numba's default threading layer (workqueue)
#: aborts the whole process when two Python threads enter one at the same time: the app's metric warm-up
#: beside a user's evaluation, or two users evaluating at once. Every ranx call here holds this lock.
_RANX_LOCK = threading.Lock()


def _ranx_names(depth: int) -> dict[str, str]:
    """Our metric names -> ranx metric names."""
    names = {f"recall@{j}": f"hit_rate@{j}" for j in range(1, depth + 1)}
    names[f"mrr@{RANK_DEPTH}"] = f"mrr@{RANK_DEPTH}"
    names[f"ndcg@{RANK_DEPTH}"] = f"ndcg@{RANK_DEPTH}"
    return names


def _ranx_inputs(relevant: dict[str, set], rankings: dict[str, Sequence], name: str = "run"):
    from ranx import Qrels, Run

    judged = {q: {str(p): 1 for p in rel} for q, rel in relevant.items() if rel}
    if not judged:
        return None, None
    run = {}
    for q in judged:
        ranked = list(rankings.get(q, ()))
        if ranked:
            scores: dict[str, float] = {}
            for i, p in enumerate(ranked):  # an item listed twice stands where it first appears
                scores.setdefault(str(p), float(len(ranked) - i))
            run[q] = scores
    return Qrels(judged), Run(run, name=name)


def retrieval_metrics(relevant: dict[str, set], rankings: dict[str, Sequence],
                      depth: int = RANK_DEPTH) -> dict[str, float]:
    """recall@1..depth, mrr@10 and ndcg@10 averaged over every query in ``relevant``.

    ``relevant`` maps each (answerable) query id to its relevant item ids, ``rankings`` each query id
    to its retrieved item ids, best first. A query with no relevant item, or no ranking, scores 0.
    """
    names = _ranx_names(depth)
    n = len(relevant)
    qrels, run = _ranx_inputs(relevant, rankings)
    if qrels is None or not run.keys():
        return {ours: 0.0 for ours in names}
    from ranx import evaluate as ranx_evaluate

    with _RANX_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's unsafe-cast notice inside ranx's hit_rate
        per_query = ranx_evaluate(qrels, run, list(names.values()), return_mean=False,
                                  make_comparable=True, save_results_in_run=False)
    return {ours: float(per_query[theirs].sum()) / n for ours, theirs in names.items()}


def compare_rankings(relevant: dict[str, set], runs: dict[str, dict[str, Sequence]]) -> Significance:
    """Paired significance of the differences between modes (ranx ``compare``, Fisher's randomization
    test) on :data:`COMPARED`, over the queries that have a relevant passage."""
    from ranx import compare

    qrels = None
    ranx_runs = []
    for mode, rankings in runs.items():
        qrels, run = _ranx_inputs(relevant, rankings, name=mode)
        if qrels is None:
            return Significance(test=STAT_TEST, max_p=MAX_P)
        ranx_runs.append(run)
    names = {ours: ours.replace("recall@", "hit_rate@") for ours in COMPARED}
    with _RANX_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = compare(qrels, ranx_runs, list(names.values()), stat_test=STAT_TEST, max_p=MAX_P,
                         make_comparable=True).to_dict()
    modes = list(runs)
    pairs = []
    for i, a in enumerate(modes):
        for b in modes[i + 1:]:
            for ours, theirs in names.items():
                p = float(report[a]["comparisons"][b][theirs])
                diff = report[a]["scores"][theirs] - report[b]["scores"][theirs]
                pairs.append(Comparison(a=a, b=b, metric=ours, difference=round(float(diff), 4),
                                        p_value=round(p, 4), significant=p < MAX_P))
    return Significance(test=STAT_TEST, max_p=MAX_P, n_queries=len(qrels.keys()), pairs=tuple(pairs))


def warm_up() -> float:
    """Compile ranx's numba kernels (the metrics and the paired test) on a two-query toy run, so
    the first real evaluation in a fresh process does not wait for the compiler. Returns seconds.

    Kernels are cached on disk by numba (``cache=True`` in ranx), so later processes load them.
    """
    t = time.perf_counter()
    relevant = {"a": {1}, "b": {2}}
    runs = {"x": {"a": [1, 2, 3], "b": [3, 2, 1]}, "y": {"a": [2, 1, 3], "b": [2, 3, 1]}}
    retrieval_metrics(relevant, runs["x"], RANK_DEPTH)
    compare_rankings(relevant, runs)
    return time.perf_counter() - t
