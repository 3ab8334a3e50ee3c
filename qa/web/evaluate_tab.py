"""The app's Evaluate tab: run a query file and read the metrics, the recall curve and each
query's evidence. Built by :func:`qa.web.app.build_app`; the work itself is in :mod:`qa.web.evaluate`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import gradio as gr

from ..config import MODES
from ..errors import QAError
from ..pipeline import Pipeline
from . import render as r
from .evaluate import (
    MARKED, MAX_QUERY_FILE_BYTES, SEED_QUERIES, SHIPPED, UPLOADED, EvaluationRun, check_query_file, marks_path,
    render_query_detail, run_evaluation,
)
from .warmup import Warmup

if TYPE_CHECKING:
    from ..eval import Evaluation

log = logging.getLogger("qa")


def recall_curve_frame(result: Evaluation):
    """The recall@k curves as a table for the app's line plot: one row per mode and k."""
    import pandas as pd

    from ..eval import recall_curve_points

    rows = [(mode, k, recall) for mode, points in recall_curve_points(result).items() for k, recall in points]
    return pd.DataFrame(rows, columns=["mode", "k", "recall"])


class EvaluationStopped(Exception):
    """An evaluation whose page was closed before it ended."""


def _evaluate_tab(pipeline: Pipeline, warmup: Warmup, ready_or_error, evaluations: dict[str, bool]) -> gr.Radio:
    """The Evaluate tab: run a query file (the shipped one, the answers marked in this app, or an
    upload), read the metrics with what each means, the recall curve and each query's evidence.
    An evaluation stops at its next query once its page is closed (``evaluations[session]`` turns true)."""
    from ..eval import CURVE_TITLE, CURVE_X, CURVE_Y, table_rows

    s = pipeline.settings

    def evaluate_page(source: str, upload: str | None, modes: list[str], request: gr.Request,
                      progress=gr.Progress()):
        hidden = gr.update(visible=False)
        session = getattr(request, "session_hash", None) or ""
        evaluations[session] = False

        def tick(fraction: float, message: str) -> None:
            if evaluations.get(session):  # the page was closed: nobody is waiting for the rest
                raise EvaluationStopped(message)
            progress(fraction, desc=message)

        try:
            ready_or_error()
            if source == SHIPPED:
                path = SEED_QUERIES
            elif source == MARKED:
                path = marks_path(s)
                if not path.exists():
                    raise QAError("no answer has been marked yet: mark answers right or wrong in the Ask tab")
            else:
                path = check_query_file(upload)
            if not warmup.wait_metrics(0):
                progress(0, desc="preparing the metrics")
                warmup.wait_metrics(120)
            run = run_evaluation(pipeline, path, list(modes), progress=tick)
        except EvaluationStopped as stopped:
            log.info("evaluation stopped at %s: the page was closed", stopped)
            return r.render_error("the page was closed", "Evaluation stopped."), hidden, hidden, hidden, None, ""
        except QAError as exc:
            return r.render_error(str(exc), "Cannot evaluate."), hidden, hidden, hidden, None, ""
        finally:
            evaluations.pop(session, None)
        result = run.result
        header, rows = table_rows(result)
        name = {SHIPPED: "the shipped seed queries", MARKED: "the answers marked in this app"}.get(source, path.name)
        return (
            r.render_summary(result, run.problems, name),
            gr.Dataframe(value={"headers": header, "data": rows}, visible=True),
            gr.LinePlot(value=recall_curve_frame(result), visible=True),
            gr.Dataframe(value={"headers": r.PER_QUERY_HEADERS, "data": r.per_query_rows(result)}, visible=True),
            run,
            "",
        )

    def show_query(run: EvaluationRun | None, evt: gr.SelectData) -> str:
        if not run or not evt.row_value:
            return ""
        try:
            return render_query_detail(pipeline, run, str(evt.row_value[0]), str(evt.row_value[1]))
        except QAError as exc:
            return r.render_error(str(exc))

    gr.Markdown(
        "Measure retrieval and answers on test queries: a JSON Lines file, one query per line, e.g. "
        '`{"id": "q1", "question": "...", "answers": ["..."], "docs": ["a.txt"]}`. '
        "Answers marked right or wrong in the Ask tab are saved in this format and can be run here."
    )
    sources = [SHIPPED, UPLOADED] if SEED_QUERIES.exists() else [UPLOADED]
    with gr.Row(equal_height=False, elem_classes="qa-ask-row", elem_id="qa-eval-row"):
        source = gr.Radio(sources, value=sources[0], label="Queries", scale=2, elem_id="qa-eval-source")
        upload = gr.File(file_types=[".jsonl"], type="filepath", scale=2, height=140, elem_id="qa-query-file",
                         label=f"Query file (.jsonl, up to {MAX_QUERY_FILE_BYTES // 1024:,} KB)")
        modes = gr.CheckboxGroup(list(MODES), value=["hybrid"], label="Retrieval modes", scale=2)
        run_button = gr.Button("Evaluate", variant="primary", scale=1, min_width=120)
    summary = gr.HTML(elem_id="qa-eval-summary")
    metrics = gr.Dataframe(label="Metrics per retrieval mode (what each means is listed above)",
                           interactive=False, elem_id="qa-metrics", visible=False)
    # drawn by the browser in the theme's colours, light or dark
    # what the curve shows is said in its label, which wraps (a title inside the plot was cut off on a phone)
    curve = gr.LinePlot(x="k", y="recall", color="mode", x_title=CURVE_X, y_title=CURVE_Y,
                        color_title="mode", x_axis_format="d", y_lim=[0, 1], tooltip="all",
                        label=f"Recall@k: {CURVE_TITLE[0].lower()}{CURVE_TITLE[1:]}", elem_id="qa-curve", visible=False)
    per_query = gr.Dataframe(
        label="Per query (select a row to see what was retrieved)", interactive=False, max_height=640, wrap=True,
        # px, as the Documents table: a phone scrolls the table instead of squeezing a column to a letter a line;
        # the gold and answer columns as wide as the question's (at 110 px a long answer wrapped a word a line)
        column_widths=[64, 80, 56, 84, 76, 108, 196, 160, 176], elem_id="qa-per-query",
        visible=False,
    )
    detail = gr.HTML(elem_id="qa-eval-detail")
    run_state = gr.State()
    upload.upload(lambda: UPLOADED, None, source, api_visibility="private", show_progress="hidden")
    run_button.click(evaluate_page, [source, upload, modes], [summary, metrics, curve, per_query, run_state, detail],
                     api_visibility="private", show_progress_on=[summary])
    per_query.select(show_query, [run_state], detail, api_visibility="private")
    return source
