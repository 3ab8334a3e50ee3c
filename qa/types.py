"""Small frozen value types that flow through the pipeline.

Offsets are always character offsets into the original document text:
``document.text[passage.start:passage.end] == passage.text``.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping


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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (as the index's ``documents.jsonl`` stores them; the text last)."""
        return {"id": self.id, "title": self.title, "author": self.author, "date": self.date, "kind": self.kind,
                "sha256": self.sha256, "pages": list(self.pages), "text": self.text}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Document":
        """The document :meth:`to_dict` wrote (missing optional fields take their defaults)."""
        return cls(d["id"], d["title"], d["text"], author=d.get("author"), date=d.get("date"),
                   sha256=d.get("sha256", ""), kind=d.get("kind", "text"), pages=tuple(d.get("pages") or ()))


@dataclass(frozen=True, kw_only=True)
class DocumentInfo:
    """An indexed document as ``qa list`` shows it (:meth:`qa.pipeline.Pipeline.documents`)."""

    id: str
    title: str
    author: str | None = None
    date: str | None = None
    kind: str = "text"
    pages: int | None = None  #: number of pages; ``None`` for a document without pages
    passages: int = 0
    chars: int = 0  #: characters of extracted text
    indexed: str | None = None  #: when it was indexed, ISO 8601

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (``qa list --json``)."""
        return {"id": self.id, "title": self.title, "author": self.author, "date": self.date, "kind": self.kind,
                "pages": self.pages, "passages": self.passages, "chars": self.chars, "indexed": self.indexed}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "DocumentInfo":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


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

    def to_dict(self, with_text: bool = True) -> dict[str, Any]:
        """JSON-ready fields; without ``title`` and ``text`` when not ``with_text`` (as the index's
        ``passages.jsonl`` stores them: both come from the passage's document)."""
        d = {"doc": self.doc, "title": self.title, "ordinal": self.ordinal, "start": self.start, "end": self.end,
             "text": self.text, "section": self.section, "page": self.page}
        if not with_text:
            del d["title"], d["text"]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], document: Document | None = None) -> "Passage":
        """The passage :meth:`to_dict` wrote; with ``document``, its title and text come from the
        document (what ``to_dict(with_text=False)`` leaves out)."""
        start, end = d["start"], d["end"]
        title, text = (document.title, document.text[start:end]) if document is not None else (d["title"], d["text"])
        return cls(d["doc"], title, d["ordinal"], start, end, text, d.get("section"), d.get("page"))


def shown_section(section: str | None, title: str | None) -> str | None:
    """The section heading worth showing beside the document's title: ``None`` when it only repeats
    the title (a plain-text document's title line is also the heading of its first passages).

    >>> shown_section("Results", "A study"), shown_section("A study", "A study"), shown_section(None, "A study")
    ('Results', None, None)
    """
    if not section or " ".join(section.split()).casefold() == " ".join((title or "").split()).casefold():
        return None
    return section


@dataclass(frozen=True)
class Sentence:
    doc: str
    passage: int  #: row of the passage (in the loaded index) the sentence belongs to
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
    row: int = -1  #: the passage's row in the loaded index (``data.passages[row]``); -1: not from one

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields: the passage's flattened in, the score to 6 decimals. ``row`` (the
        passage's row in the loaded index) is left out: it means nothing outside that index."""
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

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Hit":
        """The hit :meth:`to_dict` wrote (``row`` -1: not a row of a loaded index)."""
        return cls(Passage.from_dict(d), float(d["score"]), int(d["rank"]), d["mode"],
                   {str(k): int(v) for k, v in (d.get("ranks") or {}).items()})


def untitled(title: str, doc_id: str) -> bool:
    """Whether a document has no title of its own: its title is its file name (shown as "(untitled)", the name once).

    >>> untitled("002_7b4c.txt", "002_7b4c.txt"), untitled("Prisoners Of Assad", "001.txt")
    (True, False)
    """
    return title == doc_id


def plain_quote(sentence: str) -> str:
    """An answer's sentence as quoted in text: on one line, without the Markdown heading marks it may start with
    (a heading read as the answer's sentence was quoted as "#### Assad as the guarantor ...").

    >>> plain_quote("#### Assad as the guarantor\\nand the manager")
    'Assad as the guarantor and the manager'
    """
    return re.sub(r"\A#{1,6} +", "", " ".join(sentence.split()))


def short_title(title: str, limit: int = 90) -> str:
    """``title`` cut at a word boundary to at most ``limit`` characters, with an ellipsis.

    >>> short_title("A very long title about many things", 20)
    'A very long title…'
    """
    title = " ".join(str(title).split())
    if len(title) <= limit:
        return title
    cut = title[:limit - 1].rsplit(" ", 1)[0] or title[:limit - 1]
    return cut.rstrip(" ,;:-\u2013") + "\u2026"


def confidence_text(confidence: float) -> str:
    """A confidence as shown, to two decimals rounded down, so that a possible answer just under the answer
    threshold never reads as the threshold (0.497 is 0.49, not 0.50) and nothing reads as a certain 1.00.

    >>> confidence_text(0.497), confidence_text(0.5), confidence_text(0.57), confidence_text(0.9999)
    ('0.49', '0.50', '0.57', '0.99')
    """
    return f"{math.floor(confidence * 100 + 1e-9) / 100:.2f}"


#: The three states of an answer: sure enough to state, the best guess below that (shown as a
#: possible answer), or nothing (only the closest passages).
ANSWER, TENTATIVE, NONE = "answer", "tentative", "none"
STATES = (ANSWER, TENTATIVE, NONE)


@dataclass(frozen=True)
class Span:
    """A character range ``[start, end)`` of a document's text: ``document.text[start:end]``."""

    doc: str
    start: int
    end: int


def _part(span: str, part: str) -> property:
    """A read-only property: ``part`` of the :class:`Span` attribute ``span``, or ``None`` without one."""
    def get(self):
        where = getattr(self, span)
        return None if where is None else getattr(where, part)

    return property(get, doc=f"``{span}.{part}``, or ``None`` without an answer")


@dataclass(frozen=True, kw_only=True)
class Answer:
    """An extractive answer in one of three states (``status``): ``answer``, ``tentative`` (a
    possible answer, below the answer threshold) or ``none`` (``text`` is ``None``; the
    citations are the closest passages; made by :meth:`none`)."""

    text: str | None
    confidence: float  #: a probability in [0, 1] (calibrated by each reader), never a logit
    span: Span | None = None  #: where the answer is in its document
    sentence: str | None = None  #: the sentence(s) around the answer, for context and highlighting
    sentence_span: Span | None = None  #: where those sentence(s) are
    citations: tuple[Hit, ...] = ()
    cited: int | None = None  #: 1-based number of the citation the answer comes from
    #: shown when there is no answer, or why a possible answer is not stated as sure whatever its confidence
    message: str | None = None
    #: Seconds each stage took (``embed``, ``read``, ``total``, ...), set by :meth:`qa.pipeline.Pipeline.ask`.
    timings: dict[str, float] = field(default_factory=dict)
    status: str = ""  #: ``answer``, ``tentative`` or ``none``; empty: from ``text``
    title: str | None = None  #: the answer's document title
    section: str | None = None  #: the section heading above the answer
    page: int | None = None  #: 1-based page that holds the answer's first character (documents with pages)
    #: The question as searched, when its typos were corrected (:meth:`qa.pipeline.Pipeline.correct`);
    #: ``None`` when it was searched as asked.
    searched_for: str | None = None
    #: From further down the list: the first passages gave no sure answer, so the reader read those retrieved
    #: below them (``Settings.read_deeper``) and the answer is from one of those.
    found_deeper: bool = False

    def __post_init__(self) -> None:
        status = self.status or (NONE if self.text is None else ANSWER)
        if status not in STATES:
            raise ValueError(f"status must be one of {STATES}, not {status!r}")
        if (status == NONE) != (self.text is None):
            raise ValueError("an answer has text exactly when its status is not 'none'")
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "citations", tuple(self.citations))

    @classmethod
    def none(cls, confidence: float, citations=(), message: str | None = None) -> "Answer":
        """No answer: the closest passages only."""
        return cls(text=None, confidence=confidence, citations=tuple(citations), message=message, status=NONE)

    # The offsets, flat (as :meth:`to_dict` writes them); ``None`` without an answer.
    doc = _part("span", "doc")
    start = _part("span", "start")
    end = _part("span", "end")
    sentence_start = _part("sentence_span", "start")
    sentence_end = _part("sentence_span", "end")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, offsets flat; ``answer`` is the answer text (``None`` when there is none)."""
        return {
            "answer": self.text,
            "confidence": round(float(self.confidence), 4),
            "doc": self.doc,
            "start": self.start,
            "end": self.end,
            "sentence": self.sentence,
            "sentence_start": self.sentence_start,
            "sentence_end": self.sentence_end,
            # ``number``: the citation's place in this list, which ``cited`` names (the answer's passage is listed
            # first, so its retrieval ``rank`` may differ)
            "citations": [{"number": n, **h.to_dict()} for n, h in enumerate(self.citations, start=1)],
            "cited": self.cited,
            "message": self.message,
            "timings": dict(self.timings),
            "status": self.status,
            "title": self.title,
            "section": self.section,
            "page": self.page,
            "searched_for": self.searched_for,
            "found_deeper": self.found_deeper,
        }

    def to_api(self) -> dict[str, Any]:
        """What ``qa ask --json`` prints and the HTTP ``/ask`` returns: :meth:`to_dict` with the
        answer text also under ``text``, the name clients read before ``answer`` (kept for them)."""
        d = self.to_dict()
        return {"answer": d.pop("answer"), "text": self.text, **d}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Answer":
        """The answer :meth:`to_dict` (or :meth:`to_api`) wrote."""
        text = d["answer"] if "answer" in d else d.get("text")
        doc = d.get("doc")

        def span(start: str, end: str) -> Span | None:
            return Span(doc, d[start], d[end]) if doc is not None and d.get(start) is not None else None

        return cls(text=text, confidence=float(d["confidence"]), span=span("start", "end"),
                   sentence=d.get("sentence"), sentence_span=span("sentence_start", "sentence_end"),
                   citations=tuple(Hit.from_dict(h) for h in d.get("citations") or ()), cited=d.get("cited"),
                   message=d.get("message"), timings=dict(d.get("timings") or {}), status=d.get("status") or "",
                   title=d.get("title"), section=d.get("section"), page=d.get("page"),
                   searched_for=d.get("searched_for"), found_deeper=bool(d.get("found_deeper")))
