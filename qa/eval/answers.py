"""Answer scores of one query (exact match, F1, evidence, abstention, state) and their averages."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Iterable, Sequence

from ..types import Answer
from .metrics import best, contains_answer, exact_match, f1, normalize_answer
from .queries import EvalQuery
from .records import AnswerMetrics, AnswerScores, GroupMetrics, QueryResult
from .relevance import collapse

#: An answer is *partly right* when it lies inside a gold answer or its token F1 reaches this.
PARTLY_F1 = 0.5


def _verbatim(text: str, answers: Iterable[str]) -> bool:
    t = collapse(text)
    return any(collapse(a) in t for a in answers)


#: A number as written in an answer ("5.7", "8,000", "1897").
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def partly_right(text: str, gold: str) -> bool:
    """Whether an answer is partly right against one gold answer: it lies inside it, or their token F1 is at least
    :data:`PARTLY_F1` and it does not give another number than the gold does ("3.2 billion cubic metres" is not
    partly "5.7 billion cubic metres": the words around the number are the same, the fact is not).

    >>> partly_right("3.2 billion cubic metres", "5.7 billion cubic metres")
    False
    >>> partly_right("some 8,000 fighters", "8,000"), partly_right("the Black Sea coast", "the Black Sea")
    (True, True)
    """
    said, wanted = normalize_answer(text), normalize_answer(gold)
    if said and said in wanted:
        return True
    numbers, gold_numbers = set(_NUMBER.findall(text)), set(_NUMBER.findall(gold))
    if numbers and gold_numbers and not numbers & gold_numbers:
        return False
    return f1(text, gold) >= PARTLY_F1


def answer_scores(query: EvalQuery, answer: Answer) -> AnswerScores:
    """Exact match, F1, evidence hit, abstention, state and correctness of one answer."""
    abstained = answer.text is None
    if not query.answerable:
        return AnswerScores(answerable=False, exact_match=None, f1=None, evidence_hit=None, abstained=abstained,
                            correct=abstained, status=answer.status, partly_right=None)
    em = best(exact_match, answer.text, query.answers)
    tf1 = best(f1, answer.text, query.answers)
    partly = not abstained and bool(query.answers) and any(partly_right(answer.text, g) for g in query.answers)
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
    return AnswerScores(answerable=True, exact_match=em, f1=tf1, evidence_hit=evidence, abstained=abstained,
                        correct=bool(em) if em is not None else evidence, status=answer.status, partly_right=partly)


def _mean(values) -> float | None:
    values = [float(v) for v in values if v is not None]
    return sum(values) / len(values) if values else None


def answer_metrics(scores: Sequence[AnswerScores]) -> AnswerMetrics:
    """Averages of :func:`answer_scores` over queries."""
    answerable = [s for s in scores if s.answerable]
    unanswerable = [s for s in scores if not s.answerable]
    return AnswerMetrics(
        exact_match=_mean(s.exact_match for s in answerable),
        f1=_mean(s.f1 for s in answerable),
        partly_right=_mean(s.partly_right for s in answerable),
        evidence_hit=_mean(s.evidence_hit for s in answerable),
        abstain_correct=_mean(s.abstained for s in unanswerable),
        abstain_wrong=_mean(s.abstained for s in answerable),
        **state_metrics(scores),
    )


def state_metrics(scores: Sequence[AnswerScores]) -> dict[str, float | None]:
    """Per answer state (``answer``, ``tentative``, ``none``): its share of the queries and its
    accuracy — for an answer or a tentative answer, the share that is right (``correct``: exact
    match, or the evidence for range-only queries; never on an unanswerable query); for ``none``,
    the share of queries that the documents indeed do not answer. By the names of the
    :class:`~qa.eval.records.AnswerMetrics` fields (``share_answer``, ``accuracy_answer``, ...)."""
    out = {}
    for state in ("answer", "tentative", "none"):
        rs = [s for s in scores if s.status == state]
        out[f"share_{state}"] = len(rs) / len(scores) if scores else None
        if state == "none":
            out[f"accuracy_{state}"] = _mean(not s.answerable for s in rs)
        else:
            out[f"accuracy_{state}"] = _mean(bool(s.answerable and s.correct) for s in rs)
    return out


def breakdown(results: Sequence[QueryResult], key: str) -> dict[str, GroupMetrics]:
    """The metrics of each group of queries by ``key`` (``type`` or ``paraphrase``; queries
    without one are left out), by group name in lower case."""
    groups: dict[str, list[QueryResult]] = defaultdict(list)
    for r in results:
        if getattr(r, key) is not None:
            groups[str(getattr(r, key)).lower()].append(r)
    return {
        name: GroupMetrics(n=len(rs),
                           recall_at_5=_mean(r.rank is not None and r.rank <= 5 for r in rs if r.answerable),
                           shown_recall_at_5=_mean(r.shown_rank is not None and r.shown_rank <= 5
                                                   for r in rs if r.answerable),
                           answer=answer_metrics([r.scores for r in rs]))
        for name, rs in sorted(groups.items())
    }
