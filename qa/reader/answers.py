"""Building answers: a span at document offsets with its sentence(s) and citation, or none; and
the one lookup of an index sentence row (:func:`sentence_at`)."""

from __future__ import annotations

import numpy as np

from ..ingest.chunking import section_at
from ..types import ANSWER, TENTATIVE, Answer, Span
from .windows import in_table

NO_ANSWER = "The documents do not seem to answer this."
#: Why an answer read from a table is only a possible one, however high its confidence: the readers were trained
#: on prose and often take a neighbouring row's or column's cell.
FROM_A_TABLE = ("read from a table, where the reader often takes the cell of a neighbouring row or column, so it "
                "is not stated as sure; check the row and the column in the passage.")


def abstain(confidence: float, citations) -> Answer:
    """No answer; the citations are the closest passages."""
    return Answer.none(confidence, citations, message=NO_ANSWER)


def state(confidence: float, answer_at_or_above: float, tentative_at_or_above: float) -> str | None:
    """``answer``, ``tentative`` or ``None`` (no answer) for a confidence and the two thresholds."""
    if confidence >= answer_at_or_above:
        return ANSWER
    if confidence >= tentative_at_or_above:
        return TENTATIVE
    return None


def cite_first(hits, k: int, source: int) -> tuple[tuple, int]:
    """``hits[source]`` (the answer's passage) first, then the others of the first ``k`` in their
    order (so ``k + 1`` citations when the source ranked below ``k``). Returns (citations, 1)."""
    rest = [h for n, h in enumerate(hits[:k]) if n != source]
    return (hits[source], *rest), 1


#: Marks that open or close a quotation or an aside, and their partners.
_PAIRS = {"“": "”", '"': '"', "‘": "’", "(": ")", "[": "]", "«": "»"}
_CLOSERS = {c: o for o, c in _PAIRS.items()}
_LOOSE = ",;:"  # a clause mark at either edge belongs to the text around the answer


def _more(span: str, mark: str, partner: str) -> bool:
    """Whether ``span`` holds a ``mark`` without its ``partner`` (a straight quotation mark: an odd number)."""
    return span.count(mark) % 2 == 1 if mark == partner else span.count(mark) > span.count(partner)


def tidy_span(text: str, start: int, end: int) -> tuple[int, int]:
    """``start:end`` of ``text`` without the edge marks that are not the answer's: a quotation mark or bracket
    whose partner is not in the span (“we became their prisoners → we became their prisoners), a clause mark, and
    the white space they leave. The span is kept as it is when nothing would remain.

    >>> t = "Komer said “we became their prisoners rather than they ours” then"
    >>> s, e = tidy_span(t, t.index("“"), t.index("ours") + 4); t[s:e]
    'we became their prisoners rather than they ours'
    >>> s, e = tidy_span(t, t.index("“"), t.index("”") + 1); t[s:e]
    '“we became their prisoners rather than they ours”'

    A bracket or quotation opened inside the span (not at its edge) and closed right after it is closed with it,
    and likewise one closed inside and opened right before:

    >>> t = "Iran has a lot of interest [in Syria] and they brought their own people"
    >>> s, e = tidy_span(t, 0, t.index("]")); t[s:e]
    'Iran has a lot of interest [in Syria]'
    """
    s, e = start, end
    if e < len(text) and (o := _CLOSERS.get(text[e])) and text[s] != o and _more(text[s:e], o, text[e]):
        e += 1  # "interest [in Syria" + "]"
    if s > 0 and (c := _PAIRS.get(text[s - 1])) and text[e - 1] != c and _more(text[s:e], c, text[s - 1]):
        s -= 1  # "(" + "AQAP) in Yemen"
    while e - s > 1:
        first, last = text[s], text[e - 1]
        inner = text[s + 1:e - 1]
        if first in _LOOSE or first.isspace() or first in _PAIRS and _PAIRS[first] != last and _PAIRS[first] not in inner:
            s += 1
        elif last in _LOOSE or last.isspace() or last in _CLOSERS and _CLOSERS[last] != first and _CLOSERS[last] not in inner:
            e -= 1
        else:
            break
    return (s, e) if text[s:e].strip() else (start, end)


#: A sentence's last character when it ends there; the index cuts a sentence longer than
#: :data:`~qa.ingest.chunking.MAX_SENTENCE_CHARS` after a clause mark or between words, never at these.
_SENTENCE_ENDS = ".!?…\"”’)]»"
#: Longest quote that a long sentence's parts are joined into.
MAX_QUOTE_CHARS = 2000


def whole_sentence(data, passage_row: int, text: str, start: int, end: int) -> tuple[int, int]:
    """``start:end`` (the answer's sentence, document offsets) widened over the neighbouring parts of its sentence
    when the index cut a long sentence into parts (:func:`qa.ingest.chunking.split_sentences`): a part at least
    half the cut's length that ends without a sentence end continues into the next. The quote then says what the
    answer is about ("... the removal of many senior intelligence officers, ..., for a total of 150 in April alone."
    rather than its last part alone); at most :data:`MAX_QUOTE_CHARS`."""
    from ..ingest.chunking import MAX_SENTENCE_CHARS

    lo, hi = int(data.sent_lo[passage_row]), int(data.sent_hi[passage_row])
    if hi <= lo:
        return start, end
    rows = data.sentences[data.sentences[:, 1] == data.sentences[lo, 1]][:, 2:4].astype(np.int64)
    rows = np.unique(rows[(rows[:, 1] > start - MAX_QUOTE_CHARS) & (rows[:, 0] < end + MAX_QUOTE_CHARS)], axis=0)
    parts: list[list[int]] = []  # the document's sentence parts near the answer: a part that two passages
    for a, b in rows.tolist():  # clipped at their edges is listed once per passage, overlapping: joined again
        if parts and a < parts[-1][1]:
            parts[-1][1] = max(parts[-1][1], b)
        else:
            parts.append([a, b])
    inside = [n for n, (a, b) in enumerate(parts) if b > start and a < end]
    if not inside:
        return start, end
    first, last = inside[0], inside[-1]

    def runs_on(n: int) -> bool:  # part n is a cut part, and the next part follows it after white space alone
        (a, b), (c, _) = parts[n], parts[n + 1]
        return (b - a >= MAX_SENTENCE_CHARS // 2 and text[b - 1] not in _SENTENCE_ENDS
                and 0 <= c - b <= 3 and not text[b:c].strip())

    while first > 0 and runs_on(first - 1) and end - parts[first - 1][0] <= MAX_QUOTE_CHARS:
        first -= 1
    start = min(start, parts[first][0])
    while last < len(parts) - 1 and runs_on(last) and parts[last + 1][1] - start <= MAX_QUOTE_CHARS:
        last += 1
    return start, max(end, parts[last][1])


def answer_in(data, hits, k: int, hit_pos: int, start: int, end: int, context: tuple[int, int],
              confidence: float, status: str = ANSWER) -> Answer:
    """The answer ``start:end`` (document offsets, tidied by :func:`tidy_span`) of passage ``hits[hit_pos]``, with
    ``context`` (document offsets of the sentence(s) around it); that passage is cited first. An answer in a table
    is at most a possible one (:data:`FROM_A_TABLE`, its ``message``)."""
    hit = hits[hit_pos]
    doc = data.document(hit.passage.doc)
    start, end = tidy_span(doc.text, start, end)
    message = None
    if in_table(doc.text, start):
        status, message = TENTATIVE, FROM_A_TABLE
    s, e = whole_sentence(data, hit.row, doc.text, *context)
    citations, cited = cite_first(hits, k, hit_pos)
    return Answer(text=doc.text[start:end], confidence=confidence, span=Span(doc.id, start, end),
                  sentence=doc.text[s:e], sentence_span=Span(doc.id, s, e), citations=citations, cited=cited,
                  message=message, status=status, title=doc.title,
                  section=section_at(doc, start) or hit.passage.section, page=doc.page_at(start))


def sentence_at(data, row: int) -> tuple[int, int, str]:
    """Sentence ``row`` of the index ``data``: its document offsets (start, end) and its text."""
    _, di, s, e = (int(x) for x in data.sentences[row])
    return s, e, data.documents[di].text[s:e]


def answer_at(data, hits, k: int, row: int, hit_pos: int, start: int, end: int, confidence: float,
              status: str = ANSWER) -> Answer:
    """The answer ``start:end`` (document offsets) in sentence ``row``, from the passage
    ``hits[hit_pos]``, which is cited first."""
    s, e, _ = sentence_at(data, row)
    return answer_in(data, hits, k, hit_pos, start, end, (s, e), confidence, status)

