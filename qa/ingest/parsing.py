"""Read and split documents without putting the process that serves questions at risk.

A :class:`Parser` sends each document, by path, to a worker process (:mod:`qa.ingest.worker`) that reads
it, extracts its text and splits it into passages and sentences (:mod:`qa.ingest.parse_job`), and gets
back plain data: the text and offsets into it. A document still being read or split after
``QA_MAX_PARSE_SECONDS`` is skipped with a message that says so, the worker is killed, and the next
document gets a new one; a document that crashes the worker is skipped the same way. Nothing a
parser does there can hold this process's GIL, so questions are answered meanwhile. One worker
serves a whole index build (and, for ``qa add``, the checks before it); it is stopped when the
parser is closed.

``in_process=True`` (``QA_PARSE_WORKER=0``) runs the same job in this process instead, for tests
and debugging: the time budget is then only checked between the steps of reading a PDF or HTML
file, and cannot stop a step that hangs.

>>> with Parser(Limits(), max_bytes=10 << 20, chunking=(1000, 200)) as parser:   # doctest: +SKIP
...     doc = parser.read(Path("docs/report.pdf"), "report.pdf")
...     passages, sentences = parser.split(doc)
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from ..config import Settings
from .formats import Limits
from ..types import Document, Passage
from .worker import JobFailed, JobTimeout, Worker, WorkerCrashed, WorkerStartError

log = logging.getLogger("qa")

#: The job the worker runs.
JOB = "qa.ingest.parse_job:handle"
#: The libraries it uses, imported once by the server the workers are forked from (qa's own
#: modules are not: the server may find another copy of qa than this process did).
PRELOAD = ("pypdf", "bs4", "lxml.etree", "langchain_text_splitters", "pysbd")

#: Passages (with their sentence spans) of one document, as :meth:`Parser.split` returns them.
Split = tuple[list[Passage], list[tuple[int, int]]]


class Parser:
    """Reads documents within ``limits`` (characters of text, seconds per document) and files up to
    ``max_bytes``; splits them into passages of ``chunking`` = (size, overlap) characters. Use it
    from one thread at a time, and close it (or use ``with``) to stop its worker. ``job`` names
    the function the worker runs (``"module:function"``, by default :data:`JOB`)."""

    def __init__(self, limits: Limits = Limits(), max_bytes: int = Settings.max_file_bytes,
                 chunking: tuple[int, int] | None = None, in_process: bool = False, job: str | None = None):
        self.limits = limits
        self.max_bytes = max_bytes
        self.chunking = chunking
        # an answer holds the text (at most 4 UTF-8 bytes a character, 6 for an escaped control) and offsets
        self._worker = None if in_process else Worker(job or JOB, PRELOAD,
                                                      max_answer_bytes=16 * limits.max_chars + (64 << 20))
        #: passages and sentence spans found when a document was read, by id, until split() takes them
        self._split: dict[str, tuple[str, dict]] = {}

    def __enter__(self) -> "Parser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def in_process(self) -> bool:
        return self._worker is None

    @property
    def pid(self) -> int | None:
        """The worker process's id while one runs."""
        return self._worker.pid if self._worker is not None else None

    def close(self) -> None:
        """Stop the worker (a new one starts if the parser is used again)."""
        if self._worker is not None:
            self._worker.stop()
        self._split.clear()

    def check(self, path: Path, doc_id: str) -> Document:
        """Read one file (not split): the document, or ``ValueError`` with the reason to skip it."""
        return self._read(path, doc_id, split=False)

    def read(self, path: Path, doc_id: str) -> Document:
        """Read one file, and split it when the parser has ``chunking`` (:meth:`split` then takes
        the result); ``ValueError`` with the reason to skip it."""
        return self._read(path, doc_id, split=self.chunking is not None)

    def split(self, doc: Document) -> Split:
        """The passages of ``doc`` and the (start, end) spans of its sentences; ``ValueError`` with
        the reason to skip it when splitting runs past the time budget."""
        if self.chunking is None:
            raise ValueError("this parser was made without chunking settings")
        sha256, answer = self._split.pop(doc.id, (None, None))
        if sha256 != doc.sha256:  # not read by this parser: a stored text, split again
            answer = self._run({"document": doc.to_dict(), **self._job_settings(split=True)})
        try:
            return _passages(doc, answer["passages"], answer["sections"]), _spans(doc, answer["sentences"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"the parser returned malformed data ({exc})") from None

    # -- running jobs ------------------------------------------------------------------------------
    def _job_settings(self, split: bool) -> dict:
        size, overlap = self.chunking if (split and self.chunking) else (0, 0)
        return {"max_bytes": self.max_bytes, "max_chars": self.limits.max_chars,
                "max_seconds": self.limits.max_seconds, "chunk_size": size, "chunk_overlap": overlap}

    def _read(self, path: Path, doc_id: str, split: bool) -> Document:
        answer = self._run({"path": os.path.abspath(path), "id": doc_id, **self._job_settings(split)})
        if "skip" in answer:
            raise ValueError(str(answer["skip"])[:2000])
        try:
            doc = _document(answer["document"], doc_id)
            if split:
                self._split[doc.id] = (doc.sha256, answer)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"the parser returned malformed data ({exc})") from None
        return doc

    def _run(self, job: dict) -> dict:
        if self._worker is None:
            from .parse_job import handle

            return handle(job)
        try:
            answer = self._worker.call(job, self.limits.max_seconds)
        except JobTimeout:
            raise self.limits.too_slow() from None
        except WorkerCrashed as exc:
            raise ValueError(f"reading it stopped the parser ({exc}): save it again in a simpler form") from None
        except JobFailed as exc:
            log.warning("reading %s failed in the parse worker:\n%s", job.get("id", "a document"), exc.details)
            raise ValueError(f"cannot read it ({exc})") from None
        except WorkerStartError as exc:
            log.warning("%s: reading documents in this process instead", exc)
            self._worker = None
            return self._run(job)
        if not isinstance(answer, dict):
            raise ValueError("the parser returned malformed data")
        return answer


def _text(value, name: str, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} is not text")
    return value


def _document(fields: dict, doc_id: str) -> Document:
    """A document from the worker's answer, checked to be made of the right types."""
    text = _text(fields["text"], "text")
    pages = fields["pages"]
    if not isinstance(pages, list) or not all(type(p) is int and 0 <= p <= len(text) for p in pages):
        raise ValueError("bad page offsets")
    if fields["id"] != doc_id:
        raise ValueError("another document's id")
    return Document(doc_id, _text(fields["title"], "title"), text, _text(fields["author"], "author", True),
                    _text(fields["date"], "date", True), _text(fields["sha256"], "sha256"),
                    _text(fields["kind"], "kind"), tuple(pages))


def _offsets(start, end, text: str) -> tuple[int, int]:
    if type(start) is not int or type(end) is not int or not 0 <= start <= end <= len(text):
        raise ValueError("offsets outside the text")
    return start, end


def _passages(doc: Document, rows: list, sections: list) -> list[Passage]:
    passages = []
    for row in rows:
        start, end = _offsets(row[0], row[1], doc.text)
        if row[2] is not None and (type(row[2]) is not int or row[2] < 0):
            raise ValueError("bad section number")
        section = None if row[2] is None else _text(sections[row[2]], "section")
        page = row[3]
        if page is not None and type(page) is not int:
            raise ValueError("page is not a number")
        passages.append(Passage(doc.id, doc.title, len(passages), start, end, doc.text[start:end], section, page))
    return passages


def _spans(doc: Document, rows: list) -> list[tuple[int, int]]:
    return [_offsets(row[0], row[1], doc.text) for row in rows]


@contextmanager
def using(parser: Parser | None, make: Callable[[], Parser]) -> Iterator[Parser]:
    """``parser`` for the block, or a new one from ``make`` that is closed after it."""
    if parser is not None:
        yield parser
        return
    with make() as made:
        yield made


__all__ = ["Parser", "Split", "using", "JOB"]
