"""Building answers: a span at document offsets with its sentence and citation, or an abstention."""

from __future__ import annotations

from ..types import Answer

NO_ANSWER = "The documents do not seem to answer this."


def abstain(confidence: float, citations) -> Answer:
    return Answer(None, confidence, None, None, None, None, None, None, citations, message=NO_ANSWER)


def answer_at(data, hits, k: int, row: int, hit_pos: int, start: int, end: int, confidence: float) -> Answer:
    """The answer ``start:end`` (document offsets) in sentence ``row``, from the passage
    ``hits[hit_pos]``, which is cited (appended to the first ``k`` citations when ranked below)."""
    _, di, s, e = (int(x) for x in data.sentences[row])
    doc = data.documents[di]
    citations = tuple(hits[:k])
    if hit_pos >= k:
        citations = citations + (hits[hit_pos],)
    cited = next(i for i, h in enumerate(citations, start=1) if h.index == hits[hit_pos].index)
    return Answer(doc.text[start:end], confidence, doc.id, start, end, doc.text[s:e], s, e, citations, cited)


