"""Evaluation: retrieval and answers measured against a file of test queries (JSON Lines).

One query per line::

    {"id": "q1", "question": "...", "answers": ["short answer", "alt"], "docs": ["a.txt"], "type": "date"}

``answers`` appear verbatim in the documents; an empty list marks an unanswerable question. ``docs``
is optional (without it any document counts). A passage is *relevant* when its text contains one of
the answers (white space collapsed, case kept) and it comes from one of ``docs``. Instead, a line may
give character ranges, ``"relevant": [{"doc": "a.txt", "start": 10, "end": 80}]``: a passage is then
relevant when it overlaps one of them. Other keys (``type``, ``paraphrase``) are kept for breakdowns.

Retrieval metrics (over answerable queries, computed with ranx):

- ``recall@k``: the share of queries with at least one relevant passage in the top k (ranx
  ``hit_rate@k``; "top-k accuracy" in open-domain QA). Passage-level recall in the IR sense would
  punish an answer for appearing in two overlapping passages.
- ``mrr@10`` and ``ndcg@10`` (binary relevance, every relevant passage of the index in the ideal).

Answer metrics (one ``Pipeline.ask`` per query and mode, with the pipeline's own ``k``): exact match
and token F1 with SQuAD's normalisation against the best gold answer, over answerable queries;
``evidence_hit`` (the supporting sentence contains a gold answer, or overlaps a relevant range);
``partly_right`` (the answer lies inside a gold answer, or its F1 is at least 0.5 and it gives no other number);
``abstain_correct`` (share of unanswerable queries where it abstained) and ``abstain_wrong`` (share of
answerable queries where it abstained).

Example::

    from qa.eval import evaluate, load_queries, write_report
    from qa.pipeline import Pipeline

    queries, problems = load_queries("tests/data/seed_queries.jsonl")
    result = evaluate(Pipeline(), queries, modes=("hybrid", "dense", "bm25"))
    print(result.modes["hybrid"].retrieval["recall@5"], result.modes["hybrid"].answer.f1)
    write_report(result, "eval-report")

The package by job: :mod:`.queries` (the query file), :mod:`.relevance` (which passages answer a
query), :mod:`.ranking` (retrieval metrics and paired tests, through ranx), :mod:`.metrics` and
:mod:`.answers` (answer scores and the answer-state metrics), :mod:`.run` (the evaluation loop),
:mod:`.records` (the results as typed records, and their JSON) and :mod:`.report` (text, Markdown
and the recall curve).
"""

from .answers import answer_metrics, answer_scores, state_metrics
from .queries import EvalQuery, load_queries, parse_query
from .ranking import compare_rankings, retrieval_metrics, warm_up
from .records import (
    AnswerMetrics, AnswerScores, Comparison, Evaluation, GroupMetrics, ModeResult, QueryResult, Significance,
)
from .relevance import document_ranking, is_relevant, relevant_passages
from .report import (
    CURVE_TITLE, CURVE_X, CURVE_Y, format_markdown, format_text, plain_summary, recall_curve_figure, recall_curve_points,
    table_rows, write_report,
)
from .run import evaluate

__all__ = [
    "EvalQuery", "load_queries", "parse_query", "is_relevant", "relevant_passages", "document_ranking",
    "retrieval_metrics", "compare_rankings", "warm_up", "answer_scores", "answer_metrics", "state_metrics",
    "evaluate", "table_rows", "format_text", "format_markdown", "plain_summary", "recall_curve_figure",
    "recall_curve_points", "CURVE_X", "CURVE_Y", "CURVE_TITLE", "write_report", "Evaluation", "ModeResult",
    "QueryResult", "AnswerScores", "AnswerMetrics", "GroupMetrics", "Significance", "Comparison",
]
