"""Split documents into passages, sections and sentences, with exact character offsets.

Passages come from langchain's ``RecursiveCharacterTextSplitter``; each is located in the
document text after the previous one, so ``doc.text[p.start:p.end] == p.text`` always holds. Sentences come from pysbd, run on blocks of text cut at paragraph breaks; a block of a
hard-wrapped paragraph spans several lines and stays one block, so wrapped sentences stay whole.
"""

from __future__ import annotations

import bisect
import re
from functools import lru_cache

from ..types import Document, Passage
from .titles import is_full_date

#: Raised whenever passage or sentence boundaries change for the same text, so that an index built
#: before is rebuilt instead of being mixed with new passages.
SPLITTER_VERSION = 5  # 3: a piece its neighbour holds whole is dropped; 4: a heading starts its section's passage;
# 5: a lone date line is not a heading, an overlong sentence is cut between words
#: Longest sentence kept in one piece; longer runs (tables, text without punctuation) are cut.
MAX_SENTENCE_CHARS = 600
#: Longest text given to pysbd at once: its time grows with the square of the length (a 300 kB
#: line without sentence ends took minutes), so longer blocks are cut at sentence ends first.
MAX_SEGMENT_CHARS = 2000
#: Text whose lines are mostly at most this long is taken to be hard-wrapped.
WRAPPED_MAX_WIDTH = 150

#: A Markdown heading line. The closing ``#``s and spaces are stripped with ``rstrip``, not by the
#: pattern: ``(.+?)[ \t#]*$`` backtracks quadratically on a heading holding a long run of spaces or
#: ``#`` (an HTML ``<h1>`` of 200,000 ``#`` took 105 s); ``(.+)$`` is linear.
MD_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.+)$", re.M)
_TERMINAL = ".!?:;,\"”’')]"


@lru_cache(maxsize=8)
def _splitter(chunk_size: int, chunk_overlap: int):
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""],
        keep_separator="end",
    )


def wrap_width(lines: list[str]) -> int:
    """The width text is hard-wrapped at: the 90th percentile of the lengths of non-blank lines."""
    widths = sorted(len(line.rstrip()) for line in lines if line.strip())
    return widths[int(len(widths) * 0.9)] if widths else 0


def headings(doc: Document) -> list[tuple[int, str]]:
    """Section headings as (offset, heading text), in document order.

    Markdown documents (and HTML, whose headings are extracted as ``#`` lines) use ``#`` headings.
    Plain text uses short standalone lines that look like titles: at most 12 words, starting with a capital, not ending in punctuation, and following a
    blank line or a line that ends a sentence. In hard-wrapped text a heading must also be
    followed by a blank line, so a wrapped line that starts a sentence never counts. A line that is a date
    alone ("November 11, 2021", an article's dateline) is a heading only in a document with two or more (a diary,
    minutes, a log: a series of dated entries).
    """
    text = doc.text
    if doc.kind in ("markdown", "html") or MD_HEADING.search(text):
        return [(m.start(1), _heading_text(m.group(1))) for m in MD_HEADING.finditer(text)]
    found: list[tuple[int, str]] = []
    prev = ""
    offset = 0
    lines = text.splitlines(keepends=True)
    wrapped = wrap_width(lines) <= WRAPPED_MAX_WIDTH
    for i, line in enumerate(lines):
        stripped = line.strip()
        prev_ends = (not prev) or prev[-1] in ".!?\"”:"
        standalone = not wrapped or i + 1 == len(lines) or not lines[i + 1].strip()
        if (
            stripped
            and prev_ends
            and standalone
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
    dates = [h for h in found if is_full_date(h[1])]
    return found if len(dates) > 1 else [h for h in found if h not in dates]


@lru_cache(maxsize=32)
def _heading_index(doc: Document) -> tuple[list[int], list[str]]:
    heads = headings(doc)
    return [o for o, _ in heads], [h for _, h in heads]


def section_at(doc: Document, offset: int) -> str | None:
    """The heading of the section holding ``offset`` (the last heading starting at or before it), or ``None``.
    A passage's section is the one it starts in; an answer further down may sit under a later heading.

    >>> from qa.ingest.documents import make_document
    >>> doc = make_document("v.md", "# Kerrigan\\n\\nA volcano.\\n\\n## Eruptions\\n\\nIt erupted in 1783.", kind="markdown")
    >>> section_at(doc, doc.text.index("1783")), section_at(doc, doc.text.index("volcano"))
    ('Eruptions', 'Kerrigan')
    """
    offsets, texts = _heading_index(doc)
    i = bisect.bisect_right(offsets, offset) - 1
    return texts[i] if i >= 0 else None


def _heading_text(line: str) -> str:
    """A heading's text without its closing ``#``s (``# Title ##``), as CommonMark reads it."""
    bare = line.rstrip(" \t#\r")
    return (bare or line[:1]).strip()


def _offsets(text: str, pieces: list[str], chunk_overlap: int) -> list[int]:
    """Start offset of each passage (a substring of ``text``, in order).

    A forward pass finds the earliest place each passage can start (consecutive passages overlap
    by at most ``chunk_overlap`` characters). Where a passage's text repeats, a backward pass then
    moves it to the earliest copy from there that reaches the next passage, so no text is left
    uncovered. (langchain's ``start_index`` can land on a copy that is too early.)
    """
    lowest: list[int] = []
    for piece in pieces:
        bound = max(lowest[-1] + 1, lowest[-1] + len(pieces[len(lowest) - 1]) - chunk_overlap) if lowest else 0
        found = text.find(piece, bound)
        lowest.append(found if found >= 0 else text.find(piece))
    starts = list(lowest)
    next_start = len(text)
    for i in range(len(pieces) - 1, -1, -1):
        reach = next_start  # where the text before the next passage ends
        while reach > 0 and text[reach - 1].isspace():
            reach -= 1
        size = len(pieces[i])
        found = text.find(pieces[i], max(lowest[i], reach - size), next_start - 1 + size)
        if found >= 0:
            starts[i] = found
        next_start = starts[i]
    return starts


def _drop_contained(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans without those a neighbour holds whole. langchain's merge can return a piece that its
    neighbour holds (the same start, shorter): a passage inside another adds no text, only a
    duplicate in the evidence."""
    kept: list[tuple[int, int]] = []
    for start, end in spans:
        while kept and start <= kept[-1][0] and kept[-1][1] <= end:
            kept.pop()
        if not (kept and kept[-1][0] <= start and end <= kept[-1][1]):
            kept.append((start, end))
    return kept


def _heading_leads(text: str, spans: list[tuple[int, int]], head_offsets: list[int],
                   chunk_size: int) -> list[tuple[int, int]]:
    """Spans where a section heading starts the passage after it instead of ending the one before.

    The splitter packs a short heading line with the text above it, so a passage could end with the
    next section's heading ("... the end of the argument.\n\nConclusion"). Such a passage now ends
    before the heading's line, and the next passage starts at it — when the next one does not hold
    the heading already and still fits ``chunk_size`` with it; otherwise both stay as they were, so
    every character stays in some passage.
    """
    spans = list(spans)
    for i in range(len(spans) - 1):
        start, end = spans[i]
        next_start, next_end = spans[i + 1]
        cuts = []  # where each heading line at the passage's end starts, the last one first
        k = bisect.bisect_left(head_offsets, end) - 1  # the last heading starting inside the span
        while k >= 0 and head_offsets[k] > start:
            line = text.rfind("\n", 0, head_offsets[k]) + 1  # where the heading's line starts
            if line <= start or "\n" in text[line:cuts[-1] if cuts else end].strip():
                break  # text follows the heading's line
            cuts.append(line)
            k -= 1
        # as many of them as the next passage has room for; none if they are all this passage holds
        fits = [c for c in cuts if text[start:c].strip() and (next_start <= c or next_end - c <= chunk_size)]
        if not fits:
            continue
        cut = fits[-1]
        spans[i] = (start, start + len(text[start:cut].rstrip()))
        spans[i + 1] = (min(next_start, cut), next_end)
    return spans


def split_passages(doc: Document, chunk_size: int, chunk_overlap: int) -> list[Passage]:
    """Cut a document into passages with exact offsets and the section heading above each."""
    splitter = _splitter(chunk_size, chunk_overlap)
    heads = headings(doc)
    head_offsets = [o for o, _ in heads]
    passages: list[Passage] = []
    pieces = [piece for piece in splitter.split_text(doc.text) if piece.strip()]
    spans: list[tuple[int, int]] = []
    for piece, start in zip(pieces, _offsets(doc.text, pieces, chunk_overlap)):
        if start < 0:  # pragma: no cover - the splitter only returns substrings
            raise AssertionError(f"passage text not found in {doc.id}")
        spans.append((start, start + len(piece)))
    spans = _drop_contained(_heading_leads(doc.text, _drop_contained(spans), head_offsets, chunk_size))
    for start, end in spans:
        piece = doc.text[start:end]
        # the section is the last heading above the passage, or the one on its first line
        i = bisect.bisect_right(head_offsets, start + len(piece.split("\n", 1)[0])) - 1
        section = heads[i][1] if i >= 0 else None
        passages.append(
            Passage(doc.id, doc.title, len(passages), start, end, piece, section, doc.page_at(start))
        )
    return passages


def embedding_text(passage: Passage) -> str:
    """What is embedded for a passage when context is on: its document's title and its section
    heading, then its text. The passage's own text and offsets are unchanged; a title the passage
    already starts with is not repeated.

    >>> p = Passage("a.md", "Volcanoes", 2, 900, 1400, "It erupted in 1815.", section="Tambora")
    >>> embedding_text(p)
    'Volcanoes — Tambora\\n\\nIt erupted in 1815.'
    """
    head = [part for part in (passage.title, passage.section) if part and not passage.text.startswith(part)]
    return " — ".join(dict.fromkeys(head)) + "\n\n" + passage.text if head else passage.text


def _blocks(text: str) -> list[tuple[int, int]]:
    """Spans of paragraph-like blocks: cut at blank lines, and at a line break after a line that
    ends a sentence or is short (a heading, a list item), but not inside hard-wrapped paragraphs.
    A blank line inside a sentence (a page break: the text goes on in lower case) does not cut."""
    spans: list[tuple[int, int]] = []
    block_start = block_end = None
    gap = False  # a blank line follows the open block
    offset = 0
    lines = text.splitlines(keepends=True)
    width = wrap_width(lines)
    for line in lines:
        stripped = line.rstrip()
        if not stripped.strip():
            gap = block_start is not None
        else:
            first = stripped.lstrip()[0]
            if gap and not (first.islower() and text[block_end - 1] not in ".!?\"”:"):
                spans.append((block_start, block_end))
                block_start = None
            gap = False
            if block_start is None:
                block_start = offset + (len(line) - len(line.lstrip()))
            block_end = offset + len(stripped)
            short = width and len(stripped) < 0.75 * width
            if width > WRAPPED_MAX_WIDTH or short or stripped[-1] in ".!?\"”":
                spans.append((block_start, block_end))
                block_start = None
        offset += len(line)
    if block_start is not None:
        spans.append((block_start, block_end))
    return spans


def _windows(block: str, limit: int = MAX_SEGMENT_CHARS) -> list[tuple[int, int]]:
    """Cut a long block into spans of at most ``limit`` characters, each ending at the last
    sentence end in it (else the last space), so pysbd's time stays linear in the text's length."""
    spans: list[tuple[int, int]] = []
    start = 0
    while len(block) - start > limit:
        window = block[start : start + limit]
        cut = max(window.rfind(". "), window.rfind("? "), window.rfind("! "))
        if cut < limit // 2:
            cut = window.rfind(" ")
        cut = cut + 1 if cut > 0 else limit
        spans.append((start, start + cut))
        start += cut
    spans.append((start, len(block)))
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
        # pysbd ends a sentence at every line break; inside a block a line break is a wrap, so
        # segment with line breaks as spaces (same length, so offsets stay those of ``text``)
        block = text[b_start:b_end].replace("\r", " ").replace("\n", " ")
        for w_start, w_end in _windows(block):
            window = block[w_start:w_end]
            pieces = seg.segment(window) if len(window) > 40 else [window]
            cursor = 0
            for piece in pieces:
                piece = piece.strip()
                if not piece:
                    continue
                at = window.find(piece, cursor)
                if at < 0:
                    continue
                cursor = at + len(piece)
                base = b_start + w_start
                for s, e in _sentence_parts(window, at, at + len(piece)):
                    part = window[s:e]
                    if part.strip():  # a cut may fall on white space: trim both ends
                        lead = len(part) - len(part.lstrip())
                        spans.append((base + s + lead, base + s + len(part.rstrip())))
    return spans


def _sentence_parts(text: str, start: int, end: int, limit: int = MAX_SENTENCE_CHARS) -> list[tuple[int, int]]:
    """``text[start:end]`` cut into parts of at most ``limit`` characters: after the last clause mark (``, ; :``)
    in a part's second half, else at its last space, so no word is cut; a run without spaces is cut at ``limit``."""
    parts = []
    while end - start > limit:
        window = text[start:start + limit + 1]  # a space just past the limit ends a whole part
        cut = max(window.rfind(mark, 0, limit) for mark in (", ", "; ", ": "))
        cut = cut + 1 if cut >= limit // 2 else window.rfind(" ")
        cut = cut if cut > 0 else limit
        parts.append((start, start + cut))
        start += cut
    parts.append((start, end))
    return parts
