"""Answer scores of one query (exact match, F1, evidence, abstention, state) and their averages."""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from ..types import Answer
from .metrics import best, contains_answer, exact_match, f1, normalize_answer
from .queries import EvalQuery
from .relevance import collapse

#: An answer is *partly right* when it lies inside a gold answer or its token F1 reaches this.
PARTLY_F1 = 0.5


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


def breakdown(records: list[dict], key: str) -> dict:
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
