"""Evaluation against a file of test queries (``qa eval``, the app's Evaluate tab)."""

from .run import (
    EvalQuery, answer_metrics, answer_scores, compare_rankings, document_ranking, evaluate, format_markdown,
    format_text, is_relevant, load_queries, mode_results, parse_query, recall_curve_figure, relevant_passages,
    retrieval_metrics, state_metrics, table_rows, warm_up, write_report,
)
