"""Split documents into passages, sections and sentences, with exact character offsets.

Passages come from langchain's ``RecursiveCharacterTextSplitter`` (``add_start_index``); each
offset is checked against the document text, so ``doc.text[p.start:p.end] == p.text`` always
holds. Sentences come from pysbd, run on blocks of text cut at paragraph breaks; a block of a
hard-wrapped paragraph spans several lines and stays one block, so wrapped sentences stay whole.
"""

from __future__ import annotations

import bisect
import re
from functools import lru_cache

from .types import Document, Passage

#: Longest sentence kept in one piece; longer runs (tables, text without punctuation) are cut.
MAX_SENTENCE_CHARS = 600

_MD_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)
_TERMINAL = ".!?:;,\"”’')]"


@lru_cache(maxsize=8)
def _splitter(chunk_size: int, chunk_overlap: int):
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        add_start_index=True,
        separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""],
        keep_separator="end",
    )


def headings(doc: Document) -> list[tuple[int, str]]:
    """Section headings as (offset, heading text), in document order.

    Markdown documents use ``#`` headings. Plain text uses short standalone lines that look like
    titles: at most 12 words, starting with a capital, not ending in punctuation, and following a
    blank line or a line that ends a sentence (so lines of hard-wrapped paragraphs never count).
    """
    text = doc.text
    if doc.kind == "markdown" or _MD_HEADING.search(text):
        return [(m.start(1), m.group(1).strip()) for m in _MD_HEADING.finditer(text)]
    found: list[tuple[int, str]] = []
    prev = ""
    offset = 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        prev_ends = (not prev) or prev[-1] in ".!?\"”:"
        if (
            stripped
            and prev_ends
            and len(stripped) <= 90
            and len(stripped.split()) <= 12
            and stripped[0].isupper()
            and stripped[-1] not in _TERMINAL
            and not stripped.startswith("[")
            and offset > 0
        ):
            found.append((offset + line.index(stripped[0]), stripped))
        if stripped:
            prev = stripped
        elif prev:
            prev = "."  # a blank line ends the paragraph above
        offset += len(line)
    return found


def split_passages(doc: Document, chunk_size: int, chunk_overlap: int) -> list[Passage]:
    """Cut a document into passages with exact offsets and the section heading above each."""
    splitter = _splitter(chunk_size, chunk_overlap)
    heads = headings(doc)
    head_offsets = [o for o, _ in heads]
    passages: list[Passage] = []
    search_from = 0
    for chunk in splitter.create_documents([doc.text]):
        piece = chunk.page_content
        if not piece.strip():
            continue
        start = chunk.metadata.get("start_index", -1)
        if start < 0 or doc.text[start : start + len(piece)] != piece:
            start = doc.text.find(piece, search_from)
            if start < 0:
                start = doc.text.find(piece)
        if start < 0:  # pragma: no cover - the splitter only returns substrings
            raise AssertionError(f"passage text not found in {doc.id}")
        search_from = start + 1
        end = start + len(piece)
        i = bisect.bisect_right(head_offsets, start) - 1
        section = heads[i][1] if i >= 0 else None
        passages.append(
            Passage(doc.id, doc.title, len(passages), start, end, piece, section)
        )
    return passages


def _blocks(text: str) -> list[tuple[int, int]]:
    """Spans of paragraph-like blocks: cut at blank lines, and at a line break after a line that
    ends a sentence or is short (a heading, a list item), but not inside hard-wrapped paragraphs."""
    spans: list[tuple[int, int]] = []
    block_start = None
    offset = 0
    lines = text.splitlines(keepends=True)
    widths = sorted(len(line.rstrip()) for line in lines if line.strip())
    wrap_width = widths[int(len(widths) * 0.9)] if widths else 0
    for line in lines:
        stripped = line.rstrip()
        if not stripped.strip():
            if block_start is not None:
                spans.append((block_start, offset))
                block_start = None
        else:
            if block_start is None:
                block_start = offset + (len(line) - len(line.lstrip()))
            short = wrap_width and len(stripped) < 0.75 * wrap_width
            if wrap_width > 150 or short or stripped[-1] in ".!?\"”":
                spans.append((block_start, offset + len(stripped)))
                block_start = None
        offset += len(line)
    if block_start is not None:
        spans.append((block_start, len(text)))
    return spans


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=False)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) in ``text``, trimmed of surrounding white space."""
    seg = _segmenter()
    spans: list[tuple[int, int]] = []
    for b_start, b_end in _blocks(text):
        block = text[b_start:b_end]
        pieces = seg.segment(block) if len(block) > 40 else [block]
        cursor = 0
        for piece in pieces:
            piece = piece.strip()
            if not piece:
                continue
            at = block.find(piece, cursor)
            if at < 0:
                continue
            cursor = at + len(piece)
            for s in range(at, at + len(piece), MAX_SENTENCE_CHARS):
                e = min(at + len(piece), s + MAX_SENTENCE_CHARS)
                spans.append((b_start + s, b_start + e))
    return spans
