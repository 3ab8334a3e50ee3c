"""Reports of an evaluation: the table ``qa eval`` prints, a Markdown summary, the recall@k curve."""

from __future__ import annotations

import html
import json
import textwrap
from pathlib import Path

from .records import Evaluation, ModeResult

#: The table's columns: label, and the metric's value in a mode's result.
_COLUMNS = [
    ("R@1", lambda r: r.retrieval["recall@1"]), ("R@3", lambda r: r.retrieval["recall@3"]),
    ("R@5", lambda r: r.retrieval["recall@5"]), ("R@10", lambda r: r.retrieval["recall@10"]),
    ("MRR@10", lambda r: r.retrieval["mrr@10"]), ("nDCG@10", lambda r: r.retrieval["ndcg@10"]),
    ("EM", lambda r: r.answer.exact_match), ("F1", lambda r: r.answer.f1),
    ("partly", lambda r: r.answer.partly_right), ("evidence", lambda r: r.answer.evidence_hit),
    ("abstain ok", lambda r: r.answer.abstain_correct), ("abstain wrong", lambda r: r.answer.abstain_wrong),
    ("sure", lambda r: r.answer.share_answer), ("sure right", lambda r: r.answer.accuracy_answer),
    ("possible", lambda r: r.answer.share_tentative), ("possible right", lambda r: r.answer.accuracy_tentative),
    ("none", lambda r: r.answer.share_none),
]


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def table_rows(result: Evaluation) -> tuple[list[str], list[list[str]]]:
    """Header and one row per mode of the main metrics."""
    header = ["mode"] + [label for label, _ in _COLUMNS]
    rows = [[mode] + [_fmt(value(r)) for _, value in _COLUMNS] for mode, r in result.modes.items()]
    return header, rows


def _share(n: int, of: int) -> str:
    return f"{n} of {of} ({round(100 * n / of)} %)" if of else f"{n} of {of}"


def plain_summary(result: Evaluation) -> list[str]:
    """One sentence a mode, in words and counts: how often the answer's passage was among the first five, how many
    answers were right, partly right or missing, and how many questions the documents do not answer were left
    without one. Empty for a result without its per-query records."""
    lines = []
    for mode, res in result.modes.items():
        records = res.per_query
        if not records:
            continue
        top = min(5, result.k)
        answerable = [r for r in records if r.answerable]
        unanswerable = [r for r in records if not r.answerable]
        parts = []
        if answerable:
            found = sum(r.rank is not None and r.rank <= top for r in answerable)
            shown = sum(r.shown_rank is not None and r.shown_rank <= top for r in answerable)
            # the reader reorders the evidence and may take a passage from further down: say so when it counts
            as_shown = (f" ({shown} among the first {top} the answer shows, after reading)"
                        if shown != found and any(r.shown_rank is not None for r in answerable) else "")
            right = sum(bool(r.scores.correct) for r in answerable)
            partly = sum(bool(r.scores.partly_right) and not r.scores.correct for r in answerable)
            none = sum(r.answer is None for r in answerable)
            missing = f"{none} got no answer" if none else "none went without an answer"
            rest = f"partly right for {partly} more, and {missing}" if partly else f"and {missing}"  # no "0 more"
            ranged = sum(r.scores.exact_match is None for r in answerable)  # gold as places only, no text
            by_place = (f" ({ranged} of them given as a place in a document, not a text: right when the answer's "
                        "sentence overlaps it; the EM column leaves them out)" if ranged else "")
            parts.append(f"of {len(answerable)} questions the documents answer, {_share(found, len(answerable))} had "
                         f"a passage holding the answer among the first {top}{as_shown}; the answer was right for "
                         f"{_share(right, len(answerable))}{by_place}, {rest}")
        if unanswerable:
            left = sum(r.answer is None for r in unanswerable)
            parts.append(f"of {len(unanswerable)} they do not answer, {left} {'was' if left == 1 else 'were'} left "
                         "without an answer")
        lines.append(f"{mode}: " + "; ".join(parts) + ".")
    return lines


def shown_lines(result: Evaluation) -> list[str]:
    """A line a mode with the retrieval metrics of the evidence as the answer shows it (the reader puts the
    answer's passage first and may take one from further down the search); none for a result without them.

    The table's retrieval columns score the search's own order."""
    lines = []
    for mode, res in result.modes.items():
        if res.shown:
            values = "  ".join(f"{label} {_fmt(res.shown.get(key))}" for label, key in
                               (("R@1", "recall@1"), ("R@5", "recall@5"), ("MRR@10", "mrr@10")))
            lines.append(f"{mode}, the evidence as the answer shows it: {values}")
    return lines


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = ["  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in [header] + rows]
    return "\n".join(lines)


def _md_cell(text) -> str:
    return html.escape(str(text)).replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _heading(result: Evaluation) -> str:
    any_mode: ModeResult = next(iter(result.modes.values()))
    n, a = any_mode.n_queries, any_mode.n_answerable
    return (f"{n} quer{'y' if n == 1 else 'ies'} ({a} answerable, {n - a} unanswerable), top {result.k} passages; "
            f"recall@k = share of answerable queries with a relevant passage in the top k")


def _significance_lines(result: Evaluation) -> list[str]:
    sig = result.significance
    if not sig or not sig.pairs:
        return []
    lines = [f"Paired {sig.test} randomization test over {sig.n_queries or 0} queries (* = p < {sig.max_p}):"]
    for p in sig.pairs:
        mark = "*" if p.significant else " "
        lines.append(f"  {p.a} vs {p.b}  {p.metric:<9} {p.difference:+.3f}  p={p.p_value:.3f} {mark}")
    return lines


def _misses(result: Evaluation) -> list[tuple[str, list[str]]]:
    return [(mode, [r.id for r in res.per_query if r.answerable and r.rank is None])
            for mode, res in result.modes.items()]


def format_text(result: Evaluation) -> str:
    """The human-readable table printed by ``qa eval``."""
    header, rows = table_rows(result)
    parts = [_heading(result), "", _text_table(header, rows), *shown_lines(result)]
    plain = plain_summary(result)
    if plain:
        parts += [""] + [textwrap.fill(line, 116, subsequent_indent="  ") for line in plain]
    sig = _significance_lines(result)
    if sig:
        parts += [""] + sig
    misses = [f"not in the top {result.k} ({mode}): {', '.join(missed)}"
              for mode, missed in _misses(result) if missed]
    if misses:
        parts += [""] + misses
    if result.warnings:
        parts += ["", "warnings:"] + [f"  {w}" for w in result.warnings]
    return "\n".join(parts)


def format_markdown(result: Evaluation) -> str:
    """A Markdown summary of the evaluation (all text HTML-escaped)."""
    header, rows = table_rows(result)
    parts = ["# Evaluation", "", _md_cell(_heading(result)), "", _md_table(header, rows)]
    parts += [""] + [_md_cell(line) for line in shown_lines(result)]
    parts += [""] + [_md_cell(line) for line in plain_summary(result)]
    sig = _significance_lines(result)
    if sig:
        parts += ["", "## Differences between modes", "", "```", *sig, "```"]
    for mode, res in result.modes.items():
        if res.by_type:
            type_rows = [[name, str(g.n)] + [_fmt(v) for v in (g.recall_at_5, g.shown_recall_at_5, g.answer.exact_match,
                                                                g.answer.f1, g.answer.evidence_hit,
                                                                g.answer.abstain_correct)]
                         for name, g in res.by_type.items()]
            parts += ["", f"## By question type ({mode})", "",
                      _md_table(["type", "n", "R@5", "R@5 shown", "EM", "F1", "evidence", "abstain ok"], type_rows)]
        if res.by_paraphrase:
            rows_p = [[name, str(g.n), _fmt(g.recall_at_5), _fmt(g.shown_recall_at_5), _fmt(g.answer.f1)]
                      for name, g in res.by_paraphrase.items()]
            parts += ["", f"## Paraphrased or not ({mode})", "",
                      _md_table(["paraphrase", "n", "R@5", "R@5 shown", "F1"], rows_p)]
    for mode, missed in _misses(result):
        if missed:
            parts += ["", f"Not in the top {result.k} ({_md_cell(mode)}): {_md_cell(', '.join(missed))}"]
    notes = [*(result.problems or ()), *result.warnings]
    if notes:
        parts += ["", "## Warnings", ""] + [f"- {_md_cell(w)}" for w in notes]
    return "\n".join(parts) + "\n"


#: What the recall@k curve shows, its axes and title (the PNG report and the app's plot).
CURVE_X, CURVE_Y = "k (passages retrieved)", "recall@k"
CURVE_TITLE = "Share of answerable queries with a relevant passage in the top k"


def recall_curve_points(result: Evaluation) -> dict[str, list[tuple[int, float]]]:
    """Each mode's recall@k curve as ``(k, recall)`` points, k from 1. Modes with the same curve share one
    line, named ``"dense = hybrid"``: drawn apart, the later line would hide the earlier one."""
    same: dict[tuple, list[str]] = {}
    for mode, res in result.modes.items():
        same.setdefault(tuple(res.recall_curve), []).append(mode)
    return {" = ".join(modes): list(enumerate(curve, start=1)) for curve, modes in same.items()}


def recall_curve_figure(result: Evaluation):
    """A matplotlib Figure with the recall@k curve of each mode (no pyplot state is touched)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=100)
    ax = fig.add_subplot()
    for mode, points in recall_curve_points(result).items():
        ax.plot([k for k, _ in points], [y for _, y in points], marker="o", markersize=3, label=mode)
    ax.set_xlabel(CURVE_X)
    ax.set_ylabel(CURVE_Y)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(CURVE_TITLE, fontsize=9)
    fig.tight_layout()
    return fig


def write_report(result: Evaluation, folder: str | Path) -> list[Path]:
    """Write ``evaluation.json``, ``evaluation.md`` and ``recall_at_k.png`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "evaluation.json", folder / "evaluation.md", folder / "recall_at_k.png"]
    paths[0].write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    paths[1].write_text(format_markdown(result), encoding="utf-8")
    recall_curve_figure(result).savefig(paths[2], format="png")
    return paths
