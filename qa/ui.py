"""The app, as it was imported before it moved to :mod:`qa.web` (kept so existing imports work).

Rendering lives in :mod:`qa.web.render` and :mod:`qa.web.highlight` (no Gradio), the Gradio
wiring in :mod:`qa.web.app`, the Evaluate tab's work in :mod:`qa.web.evaluate`.
"""

from __future__ import annotations

from .web.app import CSS, EXAMPLES, MAX_K, THEME, UPLOAD_TYPES, build_app, launch
from .web.evaluate import (
    MARKED, MAX_QUERY_FILE_BYTES, SEED_QUERIES, SHIPPED, UPLOADED, check_query_file, mark_record, marks_path,
    render_query_detail, run_evaluation, save_mark,
)
from .web.highlight import highlight, question_stems, term_spans
from .web.render import (
    DOCUMENT_HEADERS, PER_QUERY_HEADERS, answer_as_text, document_choices, document_rows, per_query_rows,
    render_answer, render_changes, render_error, render_evidence, render_header, render_hit, render_source,
    render_summary, render_timings, short_title,
)

__all__ = [
    "build_app", "launch", "highlight", "render_answer", "render_evidence", "EXAMPLES", "CSS", "THEME", "MAX_K",
    "UPLOAD_TYPES", "MARKED", "MAX_QUERY_FILE_BYTES", "SEED_QUERIES", "SHIPPED", "UPLOADED", "check_query_file",
    "mark_record", "marks_path", "render_query_detail", "run_evaluation", "save_mark", "question_stems",
    "term_spans", "DOCUMENT_HEADERS", "PER_QUERY_HEADERS", "answer_as_text", "document_choices", "document_rows",
    "per_query_rows", "render_changes", "render_error", "render_header", "render_hit", "render_source",
    "render_summary", "render_timings", "short_title",
]
