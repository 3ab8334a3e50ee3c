"""The Evaluate tab's work without the UI framework: check a query file, run it, show one query,
and save answers marked right or wrong as test queries (the ``qa eval`` JSON Lines format)."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from ..errors import QAError
from ..pipeline import Pipeline
from ..types import Answer
from .render import _e, rank_cell, render_answer, render_evidence

if TYPE_CHECKING:
    from ..eval import EvalQuery, Evaluation

#: The test queries shipped with the seed documents.
SEED_QUERIES = Path(__file__).resolve().parent.parent.parent / "tests" / "data" / "seed_queries.jsonl"
#: Largest query file accepted for upload.
MAX_QUERY_FILE_BYTES = 1024 * 1024
SHIPPED, MARKED, UPLOADED = "Shipped seed queries", "Answers marked in this app", "Upload a file"

_write_lock = threading.Lock()



def verdict(record) -> str:
    """The answer's verdict as the table gives it: correct, partly right, wrong, or none (an unanswerable
    question's answer is correct when there is none).

    >>> from types import SimpleNamespace as N
    >>> verdict(N(answer="3 km", scores=N(correct=False, partly_right=True)))
    'partly right'
    """
    if record.scores.correct:
        return "correct"
    if record.scores.partly_right:
        return "partly right"
    return "wrong" if record.answer is not None else "missing (no answer given)"

def check_query_file(path: str | Path | None) -> Path:
    """An uploaded query file after checking its type and size; raises QAError saying what to fix."""
    if not path:
        raise QAError("no query file: upload a .jsonl file of test queries, or use the shipped ones")
    path = Path(path)
    if path.suffix.lower() != ".jsonl":
        raise QAError(f"{path.name!r} is not a .jsonl file: upload JSON Lines, one query per line")
    size = path.stat().st_size
    if size > MAX_QUERY_FILE_BYTES:
        raise QAError(f"the query file is {size:,} bytes; the limit is {MAX_QUERY_FILE_BYTES:,}: upload fewer queries")
    return path


@dataclass(frozen=True, kw_only=True)
class EvaluationRun:
    """An evaluation run in the app: its result, the query file's problems and the queries by id
    (to show what was retrieved for one of them)."""

    result: Evaluation
    problems: tuple[str, ...] = ()
    queries: Mapping[str, EvalQuery]


def run_evaluation(pipeline: Pipeline, path: Path, modes: list[str], progress=None) -> EvaluationRun:
    """Evaluate ``pipeline`` on a query file."""
    from ..eval import evaluate, load_queries

    queries, problems = load_queries(path)
    if not modes:
        raise QAError("no retrieval mode chosen: tick at least one")
    result = evaluate(pipeline, queries, modes=modes, progress=progress)
    return EvaluationRun(result=result, problems=tuple(problems), queries={q.id: q for q in queries})


def render_query_detail(pipeline: Pipeline, run: EvaluationRun, query_id: str, mode: str) -> str:
    """What the pipeline retrieved for one evaluated query, relevant passages marked."""
    from ..eval import is_relevant

    query = run.queries[query_id]
    record = next(r for r in run.result.modes[mode].per_query if r.id == query_id)
    answer = pipeline.ask(query.question, k=run.result.k, mode=mode)
    relevant = {n for n, h in enumerate(answer.citations, start=1) if is_relevant(query, h.passage)}
    gold = ", ".join(query.answers) or "none (unanswerable)"
    head = (
        f'<section class="qa-detail"><h2 class="qa-label">{_e(query_id)} · {_e(mode)}</h2>'
        f'<p class="qa-detail-q">{_e(query.question)}</p>'
        f'<p class="qa-source">expected: {_e(gold)} · first relevant passage: {_e(rank_cell(record))} · '
        f'answer {verdict(record)}</p></section>'
    )
    data = pipeline.data
    # no "Open" control: it would open the Ask tab's answer's citation of the same number, not this one
    return head + render_answer(answer, data, openable=False) + render_evidence(
        answer.citations, query.question, answer, data, relevant, openable=False)


# -- marks --------------------------------------------------------------------------------------

def marks_path(settings) -> Path:
    """Where marked answers are saved: beside the index folder, ``<index>-marks.jsonl``."""
    index = Path(settings.index)
    return index.parent / f"{index.name}-marks.jsonl"


def mark_record(question: str, answer: Answer, right: bool, correction: str = "") -> dict:
    """A test query from an answer marked right or wrong.

    Right: the answer (or, for "not found", no answer) is the gold. Wrong: ``correction`` (a span
    copied from the evidence) is the gold, and the document it is found in is the relevant one; a
    wrong "not found" needs a correction, a wrong answer without one means the documents do not
    answer this.
    """
    correction = " ".join(correction.split())
    if right:
        answers = [answer.text] if answer.text is not None else []
        docs = [answer.doc] if answer.doc else []
    elif correction:
        answers = [correction]
        # the whole words: "90" is not the fee when a passage only says "290"
        holds = re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, correction.split())) + r"(?!\w)", re.I)
        docs = sorted({h.passage.doc for h in answer.citations if holds.search(h.passage.text)})
    elif answer.text is not None:
        answers, docs = [], []
    else:
        raise QAError("marked wrong without the right answer: copy it from a passage into the box first")
    qid = "mark-" + hashlib.sha256(question.encode("utf-8")).hexdigest()[:10]
    record = {"id": qid, "question": question, "answers": answers}
    if docs:
        record["docs"] = docs
    record["type"] = "marked"
    return record


def mark_lines(record: dict, right: bool, marks: int, file_name: str) -> list[str]:
    """What the page says of a saved mark: what it expects, a warning when a correction is in no passage shown
    (mistyped, or from elsewhere), and how many marks the file holds."""
    gold = ", ".join(record["answers"]) or "no answer in the documents"
    lines = [f"saved as a test query (expected: {gold})"]
    if not right and not record["answers"]:  # a wrong answer marked with the box empty
        lines.append("if the documents do answer it, copy the right answer from a passage into the box and mark it "
                     "wrong again: that replaces this one")
    if not right and record["answers"] and not record.get("docs"):
        lines.append(f"no passage shown holds \u201c{record['answers'][0]}\u201d word for word: was it copied "
                     "from one? If no document holds it, evaluation finds no relevant passage for it")
    lines.append(f"{marks} marked answer{'s' if marks != 1 else ''} in {file_name}; run them in the Evaluate tab")
    return lines


def save_mark(path: Path, record: dict) -> int:
    """Add ``record`` to the JSON Lines file at ``path``, replacing an earlier mark of the same
    question; returns how many marks the file holds."""
    with _write_lock:
        lines = []
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    try:
                        if json.loads(line).get("id") == record["id"]:
                            continue
                    except json.JSONDecodeError:
                        pass
                    lines.append(line)
        lines.append(json.dumps(record, ensure_ascii=False))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".jsonl.tmp")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(path)
        return len(lines)
