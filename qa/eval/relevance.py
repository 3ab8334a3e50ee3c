"""Relevance: which passages answer a test query, and where the first of them ranks."""

from __future__ import annotations

from typing import Sequence

from ..types import Passage
from .queries import EvalQuery


def collapse(text: str) -> str:
    """White space runs as one space (case kept), for verbatim answer matching."""
    return " ".join(text.split())


def is_relevant(query: EvalQuery, passage: Passage, collapsed_text: str | None = None) -> bool:
    """Whether the passage answers the query (see :mod:`qa.eval`)."""
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
