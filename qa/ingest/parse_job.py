"""One document's reading and splitting, from plain data to plain data: the job that
:class:`qa.ingest.parsing.Parser` runs in its worker process (or, when told to, in the calling process).

A job names a file by path (it is read, checked and its text extracted, as
:func:`qa.ingest.documents.read_document` does) or carries a document's fields (its stored text); with
``chunk_size`` set, the text is also split into passages and sentences. The answer is
``{"skip": reason}`` for a file that cannot be used, or ``{"document": fields, "sections":
[heading, ...], "passages": [[start, end, section number or None, page], ...], "sentences":
[[start, end], ...]}``: offsets into the text, which the caller slices itself.

Every parser is imported with this module, so that a worker forked after it (see
:mod:`qa.ingest.worker`) spends none of a document's time budget importing them.
"""

from __future__ import annotations

from pathlib import Path

import bs4  # noqa: F401 - loaded before the first document (HTML)
import langchain_text_splitters  # noqa: F401 - (passages)
import lxml.etree  # noqa: F401 - (HTML)
import pypdf  # noqa: F401 - (PDF)
import pysbd  # noqa: F401 - (sentences)

from .chunking import split_passages, split_sentences
from .documents import read_document, why_skipped
from .formats import Limits
from ..types import Document


def handle(job: dict) -> dict:
    """Read (``job["path"]``) or take (``job["document"]``) one document, and split it when
    ``job["chunk_size"]`` is set."""
    limits = Limits(job["max_chars"], job["max_seconds"])
    answer: dict = {}
    if "path" in job:
        try:
            doc = read_document(Path(job["path"]), job["id"], job["max_bytes"], limits=limits)
        except (ValueError, OSError, RuntimeError) as exc:
            return {"skip": why_skipped(exc)}
        answer["document"] = doc.to_dict()  # plain data, as it crosses to the parent
    else:
        fields = job["document"]
        doc = Document(**{**fields, "pages": tuple(fields["pages"])})
    if job.get("chunk_size"):
        passages = split_passages(doc, job["chunk_size"], job["chunk_overlap"])
        # each heading once: a long one above many passages would otherwise be sent once per passage
        sections = {s: i for i, s in enumerate(dict.fromkeys(p.section for p in passages if p.section is not None))}
        answer["sections"] = list(sections)
        answer["passages"] = [[p.start, p.end, sections.get(p.section), p.page] for p in passages]
        answer["sentences"] = [list(span) for span in split_sentences(doc.text)]
    return answer


__all__ = ["handle"]
