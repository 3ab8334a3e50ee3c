"""Small frozen value types that flow through the pipeline.

Offsets are always character offsets into the original document text:
``document.text[passage.start:passage.end] == passage.text``.
"""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Document:
    id: str  #: path relative to the document folder, with forward slashes
    title: str
    text: str
    author: str | None = None
    date: str | None = None
    sha256: str = ""  #: hash of the file's bytes, used to detect changes
    kind: str = "text"  #: "text", "markdown", "pdf" or "html"
    #: Offset in ``text`` where each page starts (PDF); empty for documents without pages.
    pages: tuple[int, ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The 1-based page that holds ``offset``, or ``None`` for a document without pages.

        >>> Document("a.pdf", "A", "one\\n\\ntwo", pages=(0, 5)).page_at(6)
        2
        """
        return max(bisect.bisect_right(self.pages, offset), 1) if self.pages else None


@dataclass(frozen=True)
class Passage:
    doc: str
    title: str
    ordinal: int  #: position of the passage within its document, from 0
    start: int
    end: int
    text: str
    section: str | None = None
    page: int | None = None  #: 1-based page where the passage starts (documents with pages)


@dataclass(frozen=True)
class Sentence:
    doc: str
    passage: int  #: index of the passage (in the store) the sentence belongs to
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float
    rank: int  #: 1-based
    mode: str  #: "dense", "bm25" or "hybrid"
    #: Rank in each retriever before fusion (hybrid only), for explanation.
    ranks: dict[str, int] = field(default_factory=dict)
    index: int = -1  #: passage index in the store

    def to_dict(self) -> dict[str, Any]:
        p = self.passage
        return {
            "rank": self.rank,
            "score": round(float(self.score), 6),
            "mode": self.mode,
            "doc": p.doc,
            "title": p.title,
            "section": p.section,
            "page": p.page,
            "ordinal": p.ordinal,
            "start": p.start,
            "end": p.end,
            "text": p.text,
            "ranks": dict(self.ranks),
        }


#: The three states of an answer: sure enough to state, the best guess below that (shown as a
#: possible answer), or nothing (only the closest passages).
ANSWER, TENTATIVE, NONE = "answer", "tentative", "none"
STATES = (ANSWER, TENTATIVE, NONE)


@dataclass(frozen=True)
class Answer:
    """An extractive answer in one of three states (``status``): ``answer``, ``tentative`` (a
    possible answer, below the answer threshold) or ``none`` (``text`` is ``None``; the
    citations are the closest passages)."""

    text: str | None
    confidence: float
    doc: str | None
    start: int | None  #: span offsets into the document text
    end: int | None
    sentence: str | None  #: the sentence(s) around the answer, for context and highlighting
    sentence_start: int | None
    sentence_end: int | None
    citations: tuple[Hit, ...] = ()
    cited: int | None = None  #: 1-based number of the citation the answer comes from
    message: str | None = None  #: shown when there is no answer
    timings: dict[str, float] = field(default_factory=dict)
    status: str = ""  #: ``answer``, ``tentative`` or ``none``; empty: from ``text``
    title: str | None = None  #: the answer's document title
    section: str | None = None  #: the section heading above the answer
    page: int | None = None  #: 1-based page that holds the answer's first character (documents with pages)
    #: The question as searched, when its typos were corrected (:meth:`qa.pipeline.Pipeline.correct`);
    #: ``None`` when it was searched as asked.
    searched_for: str | None = None

    def __post_init__(self) -> None:
        status = self.status or (NONE if self.text is None else ANSWER)
        if status not in STATES:
            raise ValueError(f"status must be one of {STATES}, not {status!r}")
        if (status == NONE) != (self.text is None):
            raise ValueError("an answer has text exactly when its status is not 'none'")
        object.__setattr__(self, "status", status)

    @classmethod
    def none(cls, confidence: float, citations=(), message: str | None = None) -> "Answer":
        """No answer: the closest passages only."""
        return cls(None, confidence, None, None, None, None, None, None, tuple(citations), message=message,
                   status=NONE)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields; ``answer`` is the answer text (``None`` when there is none), also kept as ``text``."""
        d = {"answer": self.text, **asdict(self)}
        d["citations"] = [h.to_dict() for h in self.citations]
        d["confidence"] = round(float(self.confidence), 4)
        return d
