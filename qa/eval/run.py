"""Evaluate retrieval and answers against a file of test queries (JSON Lines).

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
``partly_right`` (the answer lies inside a gold answer, or its F1 is at least 0.5);
``abstain_correct`` (share of unanswerable queries where it abstained) and ``abstain_wrong`` (share of
answerable queries where it abstained).

Example::

    from qa.eval import evaluate, load_queries, write_report
    from qa.pipeline import Pipeline

    queries, problems = load_queries("tests/data/seed_queries.jsonl")
    result = evaluate(Pipeline(), queries, modes=("hybrid", "dense", "bm25"))
    write_report(result, "eval-report")
"""

from __future__ import annotations

import html
import json
import itertools  # issue 17: query cap
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..config import MODES, Settings
from ..errors import QAError
from .metrics import best, contains_answer, exact_match, f1, normalize_answer
from ..protocols import ProgressFn
from ..types import Answer, Passage, Span

#: Cut-offs of the recall metrics in every result.
RECALL_KS = (1, 3, 5, 10)
#: Depth of MRR and nDCG.
RANK_DEPTH = 10
#: Metrics compared between modes, and the paired test (Fisher's randomization test, ranx).
COMPARED = ("recall@5", "mrr@10", "ndcg@10")
STAT_TEST = "fisher"
MAX_P = 0.05
#: An answer is *partly right* when it lies inside a gold answer or its token F1 reaches this.
PARTLY_F1 = 0.5


# ---------------------------------------------------------------------------------------------
# Test queries


@dataclass(frozen=True)
class EvalQuery:
    id: str
    question: str
    answers: tuple[str, ...] = ()
    docs: tuple[str, ...] = ()  #: empty: any document counts
    relevant: tuple[Span, ...] = ()
    type: str | None = None
    paraphrase: bool = False
    line: int = 0  #: line number in the file, from 1

    @property
    def answerable(self) -> bool:
        return bool(self.answers or self.relevant)


def _strings(value, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f'"{key}" must be a list of strings')
    return tuple(value)


def _spans(value) -> tuple[Span, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError('"relevant" must be a list of {"doc", "start", "end"} objects')
    spans = []
    for item in value:
        ok = (
            isinstance(item, dict)
            and isinstance(item.get("doc"), str)
            and all(isinstance(item.get(k), int) and not isinstance(item.get(k), bool) for k in ("start", "end"))
        )
        if not ok:
            raise ValueError('each "relevant" entry needs "doc" (text) and integer "start" and "end"')
        if not 0 <= item["start"] < item["end"]:
            raise ValueError(f'"relevant" range {item["start"]}..{item["end"]} is empty or negative')
        spans.append(Span(item["doc"], item["start"], item["end"]))
    return tuple(spans)


def parse_query(obj, line: int) -> EvalQuery:
    """One decoded line as a :class:`EvalQuery`; raises ``ValueError`` saying what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    question = obj.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError('"question" is missing or empty')
    qid = obj.get("id", f"line-{line}")
    if not isinstance(qid, (str, int)) or isinstance(qid, bool):
        raise ValueError('"id" must be text')
    if "answers" not in obj and "relevant" not in obj:
        raise ValueError('give "answers" (an empty list for an unanswerable question) or "relevant"')
    answers = _strings(obj.get("answers"), "answers")
    if any(not a.strip() for a in answers):
        raise ValueError('"answers" holds an empty string')
    kind = obj.get("type")
    return EvalQuery(
        id=str(qid),
        question=question,
        answers=answers,
        docs=_strings(obj.get("docs"), "docs"),
        relevant=_spans(obj.get("relevant")),
        type=kind if isinstance(kind, str) else None,
        paraphrase=obj.get("paraphrase") is True,
        line=line,
    )


# -- cap on the number of queries (issue 17: an evaluation file must not run without bound) -----

def _capped(lines: Iterable[str], max_queries: int | None, source) -> list:
    """The lines, or :class:`QAError` when more than ``max_queries`` of them are not blank."""
    lines = list(lines) if max_queries is None else list(itertools.islice(lines, 50 * max_queries + 1))
    if max_queries is not None:
        count = sum(1 for line in lines if (line.strip() if isinstance(line, (str, bytes)) else line))
        if count > max_queries or len(lines) > 50 * max_queries:
            name = f"query file {str(source)!r}" if isinstance(source, (str, Path)) else "the query list"
            raise QAError(f"{name} holds more than {max_queries:,} queries (QA_MAX_EVAL_QUERIES): "
                          "evaluate a sample, split it, or raise the limit")
    return lines


# -----------------------------------------------------------------------------------------------


def load_queries(source: str | Path | Iterable[str],
                 max_queries: int | None = Settings.max_eval_queries) -> tuple[list[EvalQuery], list[str]]:
    """Read test queries from a path (str or Path) or from an iterable of lines.

    Returns the valid queries and a list of problems, one human-readable string per bad line
    (with its line number); bad lines are skipped, blank lines ignored. More than ``max_queries``
    non-blank lines (``QA_MAX_EVAL_QUERIES``; ``None``: no cap) raise :class:`QAError`.

    >>> qs, problems = load_queries(['{"id": "a", "question": "Who?", "answers": ["Ann"]}', '{oops'])
    >>> [q.id for q in qs], problems
    (['a'], ['line 2: not valid JSON (Expecting property name enclosed in double quotes, column 2)'])
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
        except FileNotFoundError:
            raise QAError(f"query file {str(path)!r} does not exist: pass a JSON Lines file of test queries") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise QAError(f"cannot read query file {str(path)!r} ({exc}): save it as UTF-8 JSON Lines") from None
    else:
        lines = source
    lines = _capped(lines, max_queries, source)
    queries: list[EvalQuery] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for n, text in enumerate(lines, start=1):
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(f"line {n}: not valid JSON ({exc.msg}, column {exc.colno})")
            continue
        try:
            query = parse_query(obj, n)
        except ValueError as exc:
            problems.append(f"line {n}: {exc}")
            continue
        if query.id in first_line:
            problems.append(f"line {n}: duplicate id {query.id!r} (first on line {first_line[query.id]}); skipped")
            continue
        first_line[query.id] = n
        queries.append(query)
    return queries, problems


# ---------------------------------------------------------------------------------------------
# Relevance


def collapse(text: str) -> str:
    """White space runs as one space (case kept), for verbatim answer matching."""
    return " ".join(text.split())


def is_relevant(query: EvalQuery, passage: Passage, collapsed_text: str | None = None) -> bool:
    """Whether the passage answers the query (see the module docstring)."""
    if query.docs and passage.doc not in query.docs:
        return False
    if query.relevant:
        return any(s.doc == passage.doc and s.start < passage.end and passage.start < s.end for s in query.relevant)
    text = collapsed_text if collapsed_text is not None else collapse(passage.text)
    return any(collapse(a) in text for a in query.answers)


def relevant_passages(query: EvalQuery, data, collapsed: Sequence[str] | None = None) -> set[int]:
    """Indices of the index's passages that are relevant to the query."""
    if not query.answerable:
        return set()
    known = [d for d in query.docs if d in data.doc_index]
    if query.docs:
        candidates = data.passage_ids_for(known).tolist() if known else []
    else:
        candidates = range(len(data.passages))
    return {
        int(i) for i in candidates
        if is_relevant(query, data.passages[i], collapsed[i] if collapsed is not None else None)
    }


def first_relevant_rank(ranked: Sequence[int], relevant: set[int]) -> int | None:
    return next((r for r, pid in enumerate(ranked, start=1) if pid in relevant), None)


def document_ranking(hits) -> list[str]:
    """Document ids in the order of their best passage (a document's score is its best passage's)."""
    return list(dict.fromkeys(h.passage.doc for h in hits))


# ---------------------------------------------------------------------------------------------
# Retrieval metrics (ranx)


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
            run[q] = {str(p): float(len(ranked) - i) for i, p in enumerate(ranked)}
    return Qrels(judged), Run(run, name=name)


def retrieval_metrics(relevant: dict[str, set], rankings: dict[str, Sequence], depth: int = RANK_DEPTH) -> dict:
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

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's unsafe-cast notice inside ranx's hit_rate
        per_query = ranx_evaluate(qrels, run, list(names.values()), return_mean=False,
                                  make_comparable=True, save_results_in_run=False)
    return {ours: float(per_query[theirs].sum()) / n for ours, theirs in names.items()}


def compare_rankings(relevant: dict[str, set], runs: dict[str, dict[str, Sequence]]) -> dict:
    """Paired significance of the differences between modes (ranx ``compare``, Fisher's randomization
    test) on :data:`COMPARED`, over the queries that have a relevant passage."""
    from ranx import compare

    qrels = None
    ranx_runs = []
    for mode, rankings in runs.items():
        qrels, run = _ranx_inputs(relevant, rankings, name=mode)
        if qrels is None:
            return {"test": STAT_TEST, "max_p": MAX_P, "pairs": []}
        ranx_runs.append(run)
    names = {ours: ours.replace("recall@", "hit_rate@") for ours in COMPARED}
    with warnings.catch_warnings():
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
                pairs.append({"a": a, "b": b, "metric": ours, "difference": round(float(diff), 4),
                              "p_value": round(p, 4), "significant": p < MAX_P})
    return {"test": STAT_TEST, "max_p": MAX_P, "n_queries": len(qrels.keys()), "pairs": pairs}


# ---------------------------------------------------------------------------------------------
# Answer metrics


def _verbatim(text: str, answers: Iterable[str]) -> bool:
    t = collapse(text)
    return any(collapse(a) in t for a in answers)


def answer_scores(query: EvalQuery, answer: Answer) -> dict:
    """Exact match, F1, evidence hit, abstention, state and correctness of one answer."""
    abstained = answer.text is None
    if not query.answerable:
        return {"exact_match": None, "f1": None, "evidence_hit": None, "abstained": abstained, "correct": abstained,
                "status": answer.status, "partly_right": None}
    em = best(exact_match, answer.text, query.answers)
    tf1 = best(f1, answer.text, query.answers)
    partly = not abstained and bool(query.answers) and (tf1 >= PARTLY_F1 or any(
        normalize_answer(answer.text) and normalize_answer(answer.text) in normalize_answer(g) for g in query.answers))
    evidence = False
    if not abstained and answer.sentence:
        in_docs = not query.docs or answer.doc in query.docs
        if query.answers:
            evidence = in_docs and (contains_answer(answer.sentence, query.answers)
                                    or _verbatim(answer.sentence, query.answers))
        if query.relevant and answer.sentence_start is not None:
            evidence = evidence or any(
                s.doc == answer.doc and s.start < answer.sentence_end and answer.sentence_start < s.end
                for s in query.relevant
            )
    if not query.answers:  # ranges only: no gold text to compare with
        em = tf1 = partly = None
    return {"exact_match": em, "f1": tf1, "evidence_hit": evidence, "abstained": abstained,
            "correct": bool(em) if em is not None else evidence, "status": answer.status, "partly_right": partly}


def _mean(values) -> float | None:
    values = [float(v) for v in values if v is not None]
    return sum(values) / len(values) if values else None


def answer_metrics(records: list[dict]) -> dict:
    """Averages of :func:`answer_scores` over the per-query records."""
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    return {
        "exact_match": _mean(r["exact_match"] for r in answerable),
        "f1": _mean(r["f1"] for r in answerable),
        "partly_right": _mean(r.get("partly_right") for r in answerable),
        "evidence_hit": _mean(r["evidence_hit"] for r in answerable),
        "abstain_correct": _mean(r["abstained"] for r in unanswerable),
        "abstain_wrong": _mean(r["abstained"] for r in answerable),
        **state_metrics(records),
    }


def state_metrics(records: list[dict]) -> dict:
    """Per answer state (``answer``, ``tentative``, ``none``): its share of the queries and its
    accuracy — for an answer or a tentative answer, the share that is right (``correct``: exact
    match, or the evidence for range-only queries; never on an unanswerable query); for ``none``,
    the share of queries that the documents indeed do not answer."""
    out = {}
    for state in ("answer", "tentative", "none"):
        rs = [r for r in records if r.get("status", "none" if r["abstained"] else "answer") == state]
        out[f"share_{state}"] = len(rs) / len(records) if records else None
        if state == "none":
            out[f"accuracy_{state}"] = _mean(not r["answerable"] for r in rs)
        else:
            out[f"accuracy_{state}"] = _mean(bool(r["answerable"] and r["correct"]) for r in rs)
    return out


def _breakdown(records: list[dict], key: str) -> dict:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        if r.get(key) is not None:
            groups[str(r[key]).lower()].append(r)
    out = {}
    for name, rs in sorted(groups.items()):
        answerable = [r for r in rs if r["answerable"]]
        out[name] = {
            "n": len(rs),
            "recall@5": _mean(r["rank"] is not None and r["rank"] <= 5 for r in answerable),
            **answer_metrics(rs),
        }
    return out


# ---------------------------------------------------------------------------------------------
# The evaluation


def _round(value):
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v) for v in value]
    return value


def _warnings(queries: list[EvalQuery], relevant: dict[str, set], data) -> list[str]:
    out = []
    for q in queries:
        unknown = [d for d in q.docs if d not in data.doc_index]
        if unknown:
            out.append(f"{q.id}: unknown document(s) {', '.join(unknown)}")
        if q.answerable and not relevant[q.id]:
            out.append(f"{q.id}: no indexed passage contains an answer; it counts as a retrieval miss")
    return out


def _run_mode(pipeline, queries, relevant, mode: str, depth: int, tick) -> tuple[dict, dict]:
    records, rankings = [], {}
    t0 = time.perf_counter()
    for q in queries:
        record = {"id": q.id, "question": q.question, "type": q.type, "paraphrase": q.paraphrase,
                  "answerable": q.answerable, "gold": list(q.answers), "rank": None, "answer": None,
                  "confidence": None, "doc": None, "sentence": None, "top_docs": []}
        try:
            hits = pipeline.search(q.question, k=depth, mode=mode)
            answer = pipeline.ask(q.question, mode=mode)
        except QAError as exc:
            record.update(error=str(exc), **answer_scores(q, _abstention()))
        else:
            ranked = [h.index for h in hits]
            rankings[q.id] = ranked
            record.update(
                rank=first_relevant_rank(ranked, relevant[q.id]) if q.answerable else None,
                answer=answer.text, confidence=answer.confidence, doc=answer.doc, sentence=answer.sentence,
                top_docs=[h.passage.doc for h in hits[:3]], **answer_scores(q, answer),
            )
        records.append(record)
        tick(mode)
    answerable_relevant = {q.id: relevant[q.id] for q in queries if q.answerable}
    metrics = retrieval_metrics(answerable_relevant, rankings, depth)
    retrieval = {f"recall@{j}": metrics[f"recall@{j}"] for j in RECALL_KS}
    retrieval[f"mrr@{RANK_DEPTH}"] = metrics[f"mrr@{RANK_DEPTH}"]
    retrieval[f"ndcg@{RANK_DEPTH}"] = metrics[f"ndcg@{RANK_DEPTH}"]
    result = {
        "mode": mode,
        "n_queries": len(queries),
        "n_answerable": len(answerable_relevant),
        "retrieval": retrieval,
        "recall_curve": [metrics[f"recall@{j}"] for j in range(1, depth + 1)],
        "answer": answer_metrics(records),
        "by_type": _breakdown(records, "type"),
        "by_paraphrase": _breakdown(records, "paraphrase") if any(q.paraphrase for q in queries) else {},
        "seconds": time.perf_counter() - t0,
        "per_query": records,
    }
    return result, rankings


def _abstention() -> Answer:
    return Answer.none(0.0)


def evaluate(pipeline, queries: Sequence[EvalQuery], modes: Sequence[str] = ("hybrid",), k: int = 10,
             progress: ProgressFn | None = None, show_bar: bool = False) -> dict:
    """Run every query in every mode and return the metrics (see the module docstring).

    One mode gives one result object (``n_queries``, ``retrieval``, ``answer``, ``per_query``, ...);
    several give ``{"n_queries", "k", "modes": {mode: result}, "significance", "warnings"}``.
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
    notes = _warnings(list(queries), relevant, data)
    if len(modes) == 1:
        return _round({**per_mode[modes[0]], "k": depth, "warnings": notes})
    answerable_relevant = {q.id: relevant[q.id] for q in queries if q.answerable}
    return _round({
        "n_queries": len(queries),
        "k": depth,
        "modes": per_mode,
        "significance": compare_rankings(answerable_relevant, runs),
        "warnings": notes,
    })


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


def mode_results(result: dict) -> dict[str, dict]:
    """``{mode: result}`` for both result forms."""
    return result["modes"] if "modes" in result else {result["mode"]: result}


# ---------------------------------------------------------------------------------------------
# Presentation

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


def recall_curve_figure(result: dict):
    """A matplotlib Figure with the recall@k curve of each mode (no pyplot state is touched)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=100)
    ax = fig.add_subplot()
    for mode, res in mode_results(result).items():
        curve = res["recall_curve"]
        ax.plot(range(1, len(curve) + 1), curve, marker="o", markersize=3, label=mode)
    ax.set_xlabel("k (passages retrieved)")
    ax.set_ylabel("recall@k")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("Share of answerable queries with a relevant passage in the top k", fontsize=9)
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


__all__ = [
    "EvalQuery", "Span", "load_queries", "parse_query", "is_relevant", "relevant_passages", "document_ranking",
    "retrieval_metrics",
    "compare_rankings", "answer_scores", "answer_metrics", "evaluate", "mode_results", "format_text",
    "format_markdown", "recall_curve_figure", "write_report", "warm_up",
]
