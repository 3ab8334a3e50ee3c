"""Reports of an evaluation: the table ``qa eval`` prints, a Markdown summary, the recall@k curve."""

from __future__ import annotations

import html
import json
from pathlib import Path

from .run import mode_results


_COLUMNS = [
    ("R@1", "retrieval", "recall@1"), ("R@3", "retrieval", "recall@3"), ("R@5", "retrieval", "recall@5"),
    ("R@10", "retrieval", "recall@10"), ("MRR@10", "retrieval", "mrr@10"), ("nDCG@10", "retrieval", "ndcg@10"),
    ("EM", "answer", "exact_match"), ("F1", "answer", "f1"),
    ("partly", "answer", "partly_right"), ("evidence", "answer", "evidence_hit"),
    ("abstain ok", "answer", "abstain_correct"), ("abstain wrong", "answer", "abstain_wrong"),
    ("sure", "answer", "share_answer"), ("sure right", "answer", "accuracy_answer"),
    ("possible", "answer", "share_tentative"), ("possible right", "answer", "accuracy_tentative"),
    ("none", "answer", "share_none"),
]


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def table_rows(result: dict) -> tuple[list[str], list[list[str]]]:
    """Header and one row per mode of the main metrics."""
    header = ["mode"] + [label for label, _, _ in _COLUMNS]
    rows = [[mode] + [_fmt(r[group][key]) for _, group, key in _COLUMNS] for mode, r in mode_results(result).items()]
    return header, rows


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


def _heading(result: dict) -> str:
    any_mode = next(iter(mode_results(result).values()))
    n, a = any_mode["n_queries"], any_mode["n_answerable"]
    return (f"{n} queries ({a} answerable, {n - a} unanswerable), top {result['k']} passages; "
            f"recall@k = share of answerable queries with a relevant passage in the top k")


def _significance_lines(result: dict) -> list[str]:
    sig = result.get("significance")
    if not sig or not sig["pairs"]:
        return []
    lines = [f"Paired {sig['test']} randomization test over {sig.get('n_queries', 0)} queries "
             f"(* = p < {sig['max_p']}):"]
    for p in sig["pairs"]:
        mark = "*" if p["significant"] else " "
        lines.append(f"  {p['a']} vs {p['b']}  {p['metric']:<9} {p['difference']:+.3f}  p={p['p_value']:.3f} {mark}")
    return lines


def _misses(result: dict) -> list[tuple[str, list[str]]]:
    return [(mode, [r["id"] for r in res["per_query"] if r["answerable"] and r["rank"] is None])
            for mode, res in mode_results(result).items()]


def format_text(result: dict) -> str:
    """The human-readable table printed by ``qa eval``."""
    header, rows = table_rows(result)
    parts = [_heading(result), "", _text_table(header, rows)]
    sig = _significance_lines(result)
    if sig:
        parts += [""] + sig
    misses = [f"not in the top {result['k']} ({mode}): {', '.join(missed)}"
              for mode, missed in _misses(result) if missed]
    if misses:
        parts += [""] + misses
    if result.get("warnings"):
        parts += ["", "warnings:"] + [f"  {w}" for w in result["warnings"]]
    return "\n".join(parts)


def format_markdown(result: dict) -> str:
    """A Markdown summary of the evaluation (all text HTML-escaped)."""
    header, rows = table_rows(result)
    parts = ["# Evaluation", "", _md_cell(_heading(result)), "", _md_table(header, rows)]
    sig = _significance_lines(result)
    if sig:
        parts += ["", "## Differences between modes", "", "```", *sig, "```"]
    for mode, res in mode_results(result).items():
        if res["by_type"]:
            type_rows = [[name] + [str(g["n"])] + [_fmt(g[key]) for key in ("recall@5", "exact_match", "f1",
                                                                              "evidence_hit", "abstain_correct")]
                         for name, g in res["by_type"].items()]
            parts += ["", f"## By question type ({mode})", "",
                      _md_table(["type", "n", "R@5", "EM", "F1", "evidence", "abstain ok"], type_rows)]
    for mode, missed in _misses(result):
        if missed:
            parts += ["", f"Not in the top {result['k']} ({_md_cell(mode)}): {_md_cell(', '.join(missed))}"]
    if result.get("warnings") or result.get("problems"):
        parts += ["", "## Warnings", ""] + [f"- {_md_cell(w)}" for w in
                                            result.get("problems", []) + result.get("warnings", [])]
    return "\n".join(parts) + "\n"


#: What the recall@k curve shows, its axes and title (the PNG report and the app's plot).
CURVE_X, CURVE_Y = "k (passages retrieved)", "recall@k"
CURVE_TITLE = "Share of answerable queries with a relevant passage in the top k"


def recall_curve_points(result: dict) -> dict[str, list[tuple[int, float]]]:
    """Each mode's recall@k curve as ``(k, recall)`` points, k from 1."""
    return {mode: list(enumerate(res["recall_curve"], start=1)) for mode, res in mode_results(result).items()}


def recall_curve_figure(result: dict):
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


def write_report(result: dict, folder: str | Path) -> list[Path]:
    """Write ``evaluation.json``, ``evaluation.md`` and ``recall_at_k.png`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "evaluation.json", folder / "evaluation.md", folder / "recall_at_k.png"]
    paths[0].write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    paths[1].write_text(format_markdown(result), encoding="utf-8")
    recall_curve_figure(result).savefig(paths[2], format="png")
    return paths
