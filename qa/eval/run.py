"""The evaluation: every query in every mode, through the pipeline, into one result (see :mod:`qa.eval`)."""

from __future__ import annotations

import dataclasses
import time
from typing import Sequence

from ..config import MODES
from ..errors import QAError
from ..protocols import ProgressFn
from ..types import Answer, short_title
from .answers import answer_metrics, answer_scores, breakdown
from .queries import EvalQuery
from .ranking import RANK_DEPTH, compare_rankings, retrieval_metrics
from .records import Evaluation, ModeResult, QueryResult
from .relevance import collapse, first_relevant_rank, relevant_passages

#: Cut-offs of the recall metrics in every result.
RECALL_KS = (1, 3, 5, 10)


def _round(value):
    """``value`` with every float in it rounded to 4 decimals (records, mappings and sequences too)."""
    if isinstance(value, float):
        return round(value, 4)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: _round(getattr(value, f.name)) for f in dataclasses.fields(value)})
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_round(v) for v in value)
    return value


def _warnings(queries: list[EvalQuery], relevant: dict[str, set], data) -> list[str]:
    """A line per problem of a query, naming it by id and question (a marked answer's id says nothing)."""
    out = []
    for q in queries:
        name = f"{q.id} (\u201c{short_title(q.question, 60)}\u201d)"
        unknown = [d for d in q.docs if d not in data.doc_index]
        if unknown:
            out.append(f"{name}: unknown document(s) {', '.join(unknown)}")
        if q.answerable and not relevant[q.id]:
            out.append(f"{name}: no indexed passage contains an answer; it counts as a retrieval miss")
    return out


def _run_query(pipeline, q: EvalQuery, relevant: set, mode: str, depth: int) -> tuple[QueryResult, tuple | None]:
    """One query searched and asked in ``mode``: its result, and the passage rows retrieved and in the order the
    answer shows them (``None`` when the question could not be asked)."""
    asked = dict(id=q.id, question=q.question, type=q.type, paraphrase=q.paraphrase, gold=tuple(q.answers))
    try:
        hits = pipeline.search(q.question, k=depth, mode=mode)
        answer = pipeline.ask(q.question, mode=mode)
    except QAError as exc:
        return QueryResult(**asked, error=str(exc), scores=answer_scores(q, _abstention())), None
    ranked = [h.row for h in hits]
    shown = shown_order(answer, ranked)
    return QueryResult(
        **asked, rank=first_relevant_rank(ranked, relevant) if q.answerable else None,
        shown_rank=first_relevant_rank(shown, relevant) if q.answerable else None,
        answer=answer.text, confidence=answer.confidence, doc=answer.doc, sentence=answer.sentence,
        top_docs=tuple(h.passage.doc for h in hits[:3]), scores=answer_scores(q, answer),
    ), (ranked, shown)


def shown_order(answer: Answer, ranked: list[int]) -> list[int]:
    """The passages in the order the answer shows them (its evidence, which the reader may have put in another order
    or taken from further down the search), then the rest of the search's in its order.

    >>> shown_order(Answer.none(0.0), [4, 2, 9])
    [4, 2, 9]
    """
    first = [h.row for h in answer.citations]
    cited = set(first)
    return first + [r for r in ranked if r not in cited]


def _run_mode(pipeline, queries, relevant, mode: str, depth: int, tick) -> tuple[ModeResult, dict]:
    results, rankings, shown = [], {}, {}
    t0 = time.perf_counter()
    for q in queries:
        result, orders = _run_query(pipeline, q, relevant[q.id], mode, depth)
        if orders is not None:
            rankings[q.id], shown[q.id] = orders
        results.append(result)
        tick(mode)
    answerable_relevant = {q.id: relevant[q.id] for q in queries if q.answerable}
    metrics = retrieval_metrics(answerable_relevant, rankings, depth)
    retrieval = {f"recall@{j}": metrics[f"recall@{j}"] for j in RECALL_KS}
    retrieval[f"mrr@{RANK_DEPTH}"] = metrics[f"mrr@{RANK_DEPTH}"]
    retrieval[f"ndcg@{RANK_DEPTH}"] = metrics[f"ndcg@{RANK_DEPTH}"]
    as_shown = retrieval_metrics(answerable_relevant, shown, depth)
    shown_metrics = {key: as_shown[key] for key in retrieval}
    result = ModeResult(
        mode=mode,
        n_queries=len(queries),
        n_answerable=len(answerable_relevant),
        retrieval=retrieval,
        shown=shown_metrics,
        recall_curve=tuple(metrics[f"recall@{j}"] for j in range(1, depth + 1)),
        answer=answer_metrics([r.scores for r in results]),
        by_type=breakdown(results, "type"),
        by_paraphrase=breakdown(results, "paraphrase") if any(q.paraphrase for q in queries) else {},
        seconds=time.perf_counter() - t0,
        per_query=tuple(results),
    )
    return result, rankings


def _abstention() -> Answer:
    return Answer.none(0.0)


def evaluate(pipeline, queries: Sequence[EvalQuery], modes: Sequence[str] = ("hybrid",), k: int = 10,
             progress: ProgressFn | None = None, show_bar: bool = False) -> Evaluation:
    """Run every query in every mode and return the metrics (see :mod:`qa.eval`), every float
    rounded to 4 decimals.

    The :class:`~qa.eval.records.Evaluation` holds one :class:`~qa.eval.records.ModeResult` per
    mode, and for several modes the paired tests between them; its ``to_dict`` is the JSON of
    ``qa eval --json``.
    ``k`` is the retrieval depth (at least 10, so recall@10, MRR@10 and nDCG@10 are defined) and the
    length of the recall@k curve. ``progress(fraction, message)`` is called after each query;
    ``show_bar`` draws a tqdm bar on stderr.
    """
    modes = list(dict.fromkeys(modes))
    unknown = [m for m in modes if m not in MODES]
    if not modes or unknown:
        raise QAError(f"unknown mode(s) {', '.join(unknown) or '(none)'}: use {', '.join(MODES)}")
    if not queries:
        raise QAError("no test queries to evaluate: check the query file")
    if k < 1:
        raise QAError(f"k must be at least 1, got {k}")
    depth = max(int(k), RANK_DEPTH)
    data = pipeline.data
    collapsed = [collapse(p.text) for p in data.passages]
    relevant = {q.id: relevant_passages(q, data, collapsed) for q in queries}

    total = len(modes) * len(queries)
    done = 0
    bar = None
    if show_bar:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="evaluating", unit="query", leave=False)

    def tick(mode: str) -> None:
        nonlocal done
        done += 1
        if bar is not None:
            bar.set_postfix_str(mode, refresh=False)
            bar.update(1)
        if progress is not None:
            progress(done / total, f"evaluating {mode}: {done}/{total}")

    per_mode, runs = {}, {}
    try:
        for mode in modes:
            per_mode[mode], runs[mode] = _run_mode(pipeline, list(queries), relevant, mode, depth, tick)
    finally:
        if bar is not None:
            bar.close()
    notes = tuple(_warnings(list(queries), relevant, data))
    significance = None
    if len(modes) > 1:
        significance = compare_rankings({q.id: relevant[q.id] for q in queries if q.answerable}, runs)
    return _round(Evaluation(k=depth, modes=per_mode, significance=significance, warnings=notes))
