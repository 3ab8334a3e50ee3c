"""Text out of PDF and HTML files, ready to index.

Each extractor takes the file's bytes and returns an :class:`Extracted`: the text that is indexed
and stored with the index (so character offsets always slice the exact text a citation quotes),
the metadata found in the file, and for PDFs the offset where each page starts. A file that holds
no usable text raises ``ValueError`` with a short reason that says what to do.

- PDF (pypdf): the text layer of every page, pages joined by a blank line; title, author and date
  from the document information. A PDF without a text layer (a scan) is refused, not indexed empty.
- HTML (BeautifulSoup with lxml): the main text only; scripts, styles, navigation, headers,
  footers, asides and forms are dropped. Paragraphs and list items are separated by blank lines,
  ``<br>`` becomes a line break, and headings become Markdown ``#`` headings so that they name the
  sections of the passages below them.

>>> extract_html(b"<title>T</title><h1>Tides</h1><p>High water<br>twice a day.</p>").text
'# Tides\\n\\nHigh water\\ntwice a day.'
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Callable

# pypdf logs a warning for every oddity it works around ("EOF marker not found"); a file it cannot
# read is reported by name with a reason instead, so only its errors are worth showing.
logging.getLogger("pypdf").setLevel(logging.ERROR)

#: Characters that are not text in an extracted page: controls other than tab and newline.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
#: Metadata titles that name the program or the file instead of the document.
_JUNK_TITLE = re.compile(r"^(untitled|microsoft (word|powerpoint) - .*|.*\.(docx?|pptx?|odt|pdf|tex|dvi|indd))$", re.I)


#: Most characters of text taken from one document (``QA_MAX_TEXT_CHARS``): a file's size does
#: not bound its text (an 18 KB PDF can inflate to 5 million characters).
MAX_TEXT_CHARS = 2_000_000
#: Most seconds spent reading and splitting one document (``QA_MAX_PARSE_SECONDS``): enforced by
#: :mod:`qa.ingest.parsing`, which stops its worker process; checked here too, between steps.
MAX_PARSE_SECONDS = 60.0
#: A PDF page's decompressed content stream is refused unread above this many bytes per character
#: of the text budget (text operators take at least a byte a character; layout adds the rest).
CONTENT_BYTES_PER_CHAR = 10


@dataclass(frozen=True)
class Limits:
    """The work allowed for one document: characters of extracted text and seconds of parsing."""

    max_chars: int = MAX_TEXT_CHARS
    max_seconds: float = MAX_PARSE_SECONDS

    def too_long(self, chars: int | str) -> ValueError:
        return ValueError(f"its text is over {self.max_chars:,} characters (QA_MAX_TEXT_CHARS): split it "
                          "into smaller documents, or raise the limit")

    def too_slow(self) -> ValueError:
        return ValueError(f"parsing took longer than {self.max_seconds:g} s (QA_MAX_PARSE_SECONDS): "
                          "save it again in a simpler form, or raise the limit")


class _Budget:
    """Counts characters and time spent on one document; raises ``ValueError`` past the limits."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.chars = 0
        self.deadline = time.monotonic() + limits.max_seconds

    def spend(self, chars: int) -> None:
        self.chars += chars
        if self.chars > self.limits.max_chars:
            raise self.limits.too_long(self.chars)
        if time.monotonic() > self.deadline:
            raise self.limits.too_slow()


@dataclass(frozen=True)
class Extracted:
    text: str
    #: ``title``, ``author`` and ``date`` when the file says them.
    meta: dict[str, str] = field(default_factory=dict)
    #: Offset in ``text`` where each page starts (PDF only; page ``n`` starts at ``pages[n - 1]``).
    pages: tuple[int, ...] = ()


# -- PDF --------------------------------------------------------------------------------------

def _clean_page(text: str) -> str:
    """A page's text with ligatures and compatibility forms unfolded (NFKC, so "ﬁ" is searchable
    as "fi"), controls removed, trailing spaces dropped and surrounding blank lines trimmed."""
    text = _CONTROL.sub("", unicodedata.normalize("NFKC", text))
    return "\n".join(line.rstrip() for line in text.splitlines()).strip()


def _pdf_meta(info) -> dict[str, str]:
    """Title, author and date from a PDF's document information, when they look real."""
    if info is None:
        return {}
    meta = {}
    title = " ".join(str(info.title or "").split())
    if title and not _JUNK_TITLE.match(title):
        meta["title"] = title
    author = " ".join(str(info.author or "").split())
    if author:
        meta["author"] = author
    try:
        created = info.creation_date
    except ValueError:  # a malformed date string
        created = None
    if created is not None:
        meta["date"] = created.date().isoformat()
    return meta


def _open_pdf(data: bytes):
    """A ``PdfReader`` ready to read pages; ``ValueError`` for a damaged or locked file."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):  # many PDFs lock editing only, not reading
            raise ValueError("encrypted PDF (needs a password): save an unlocked copy and add that")
        return reader
    except DependencyError as exc:
        raise ValueError(f"encrypted PDF this installation cannot open ({exc})") from None
    except PdfReadError as exc:
        raise ValueError(f"damaged PDF ({exc}): open and save it again, or export a new PDF") from None


def _page_text(page, budget: _Budget) -> str:
    """One page's text, stopped as soon as the document's budget is spent (an inflated content
    stream is refused before it is parsed, and its text before it is all extracted)."""
    contents = page.get_contents()
    size = len(contents.get_data()) if contents is not None else 0
    if size > budget.limits.max_chars * CONTENT_BYTES_PER_CHAR:
        raise budget.limits.too_long(size)
    budget.spend(0)

    def visit(text, *_):
        budget.spend(len(text))

    text = page.extract_text(visitor_text=visit) or ""
    budget.chars -= len(text)  # counted again, exactly, once cleaned
    return text


def extract_pdf(data: bytes, limits: Limits = Limits()) -> Extracted:
    """The text layer of a PDF, page by page. Raises ``ValueError`` for a scan, a locked or a
    damaged file, and for one whose text or reading time is over ``limits``."""
    reader = _open_pdf(data)
    budget = _Budget(limits)
    parts: list[str] = []
    pages: list[int] = []
    offset = 0
    try:
        for page in reader.pages:
            text = _clean_page(_page_text(page, budget))
            budget.spend(len(text))
            if text and parts:
                offset += 2  # the blank line between pages
            pages.append(offset)
            if text:
                parts.append(text)
                offset += len(text)
        meta = _pdf_meta(reader.metadata)
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds of errors on damaged files
        raise ValueError(f"damaged PDF ({type(exc).__name__}: {exc}): open and save it again, "
                         "or export a new PDF") from None
    if not pages:
        raise ValueError("PDF has no pages")
    if not parts:
        raise ValueError(f"no text layer in {len(pages)} page{'s' if len(pages) != 1 else ''}: "
                         "scanned PDF? run OCR first")
    return Extracted("\n\n".join(parts), meta, tuple(pages))


# -- HTML -------------------------------------------------------------------------------------

#: Elements that are not the page's main text.
DROPPED = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
           "head", "iframe", "object", "embed", "svg", "canvas", "button", "select", "textarea", "dialog")
#: Elements that start and end a paragraph-like block.
BLOCKS = ("p", "div", "section", "article", "main", "blockquote", "pre", "ul", "ol", "dl", "dt", "dd",
          "table", "caption", "figure", "figcaption", "address", "details", "summary", "hr",
          "fieldset", "center")
HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
#: Marks for a paragraph break and a line break while the text is assembled. Both are removed
#: from the page's own text first, so a page cannot fake them.
_PARA, _LINE = "\x1f", "\x1e"
_SPACES = re.compile(r"[^\S\x1e\x1f]+")


def _html_meta(soup) -> dict[str, str]:
    """Title from ``<title>`` (else the first ``<h1>``), author and date from ``<meta>`` tags."""
    meta: dict[str, str] = {}
    for tag in (soup.title, soup.find("h1")):
        title = " ".join(tag.get_text(" ").split()) if tag is not None else ""
        if title:
            meta["title"] = title
            break
    for key, names in (("author", ("author", "dc.creator", "article:author")),
                       ("date", ("date", "dc.date", "article:published_time"))):
        for tag in soup.find_all("meta"):
            name = (tag.get("name") or tag.get("property") or "").lower()
            content = " ".join(str(tag.get("content") or "").split())
            if name in names and content:
                meta[key] = content
                break
    return meta


def _marked_text(root) -> str:
    """The text below ``root`` with break marks around blocks, headings and list items, and for
    ``<br>`` and ``<pre>`` lines.

    One walk over the tree with an explicit stack, so time is linear in the size of the page and
    depth costs no recursion (inserting marks into the tree instead was quadratic in the depth:
    100,000 nested ``<div>`` took minutes).
    """
    from bs4 import CData, NavigableString, Tag

    out: list[str] = []
    stack: list = [(root, False)]
    in_pre = 0
    while stack:
        node, leaving = stack.pop()
        if leaving:
            if node.name == "pre":
                in_pre -= 1
            if node.name == "tr":  # a table's row, one line: a header row of n cells is followed by |---| n times
                cells = node.find_all(("td", "th"), recursive=False)
                header = cells and all(cell.name == "th" for cell in cells)
                out.append(_LINE + ("|" + "---|" * len(cells) + _LINE if header else ""))
                continue
            out.append(_CLOSE.get(node.name, ""))
            continue
        if isinstance(node, Tag):
            if node.name == "br":
                out.append(_LINE)
                continue
            if node.name == "pre":
                in_pre += 1
            if node.name != "tr" or node.find(("td", "th"), recursive=False) is not None:  # no empty row "|"
                out.append(_OPEN.get(node.name, ""))
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.contents))
        elif type(node) in (NavigableString, CData):  # not comments, doctypes, processing instructions
            string = str(node).replace(_PARA, " ").replace(_LINE, " ")
            out.append(string.replace("\n", _LINE) if in_pre else string)
    return "".join(out)


#: Marks written before and after the text of an element. A table's rows are Markdown rows ("| a | b |", the header
#: row underlined), so its cells stay apart: the reader never answers across two cells or with a column's name.
_OPEN = {**{name: _PARA for name in BLOCKS}, **{h: f"{_PARA}{'#' * int(h[1])} " for h in HEADINGS},
         "li": f"{_PARA}- ", "tr": f"{_LINE}| "}
_CLOSE = {**{name: _PARA for name in BLOCKS}, **{h: _PARA for h in HEADINGS}, "li": _PARA, "td": " | ", "th": " | "}


def _assemble(marked: str) -> str:
    """Plain text from marked text: runs of white space become one space, marks become breaks."""
    blocks = []
    for block in _SPACES.sub(" ", marked).split(_PARA):
        lines = [line.strip() for line in block.split(_LINE)]
        text = "\n".join(line for line in lines if line)
        if text.strip("#- "):
            blocks.append(text)
    return "\n\n".join(blocks)


def extract_html(data: bytes, limits: Limits = Limits()) -> Extracted:
    """The main text of an HTML page. Raises ``ValueError`` when nothing readable is left, or when
    its text or reading time is over ``limits`` (every step is linear in the page's size)."""
    budget = _Budget(limits)
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "lxml")  # bytes: the page's own charset declaration is honoured
    meta = _html_meta(soup)
    for tag in soup.find_all(DROPPED):
        tag.decompose()
    root = soup.find("main") or soup.body or soup
    text = unicodedata.normalize("NFC", _assemble(_marked_text(root)))
    budget.spend(len(text))
    if not text:
        raise ValueError("no text in the page (after dropping scripts, navigation and forms)")
    return Extracted(text, meta)


#: Raised, for its kind, whenever the text extracted from the same bytes changes: a document's content hash
#: includes it, so documents indexed with text extracted the old way are extracted, split and
#: embedded again (their stored passages point into the old text). HTML 2: a table's rows are Markdown rows.
EXTRACTION_VERSIONS = {"pdf": 1, "html": 2}


def content_hash(kind: str, data: bytes) -> str:
    """A hash that changes with the file's bytes and with the way its text is extracted."""
    h = hashlib.sha256(f"{kind} text, extraction {EXTRACTION_VERSIONS.get(kind, 1)}\n".encode())
    h.update(data)
    return h.hexdigest()


#: Extractor for each kind of document that is not plain text.
EXTRACTORS: dict[str, Callable[[bytes, Limits], Extracted]] = {"pdf": extract_pdf, "html": extract_html}
#: Files whose extracted text is remembered, by content hash.
CACHE_SIZE = 256
_cache: dict[str, Extracted] = {}
_cache_lock = threading.Lock()


def extract(kind: str, data: bytes, sha256: str, limits: Limits = Limits()) -> Extracted:
    """The text of a file of this ``kind`` (a key of :data:`EXTRACTORS`) whose :func:`content_hash`
    is ``sha256``.

    The text of the last ``CACHE_SIZE`` files is remembered, so a file checked when it is added
    to the collection is not parsed again to index it (pypdf takes about 8 ms a page).
    """
    key = sha256
    with _cache_lock:
        found = _cache.get(key)
    if found is not None:
        return found
    extracted = EXTRACTORS[kind](data, limits)
    with _cache_lock:
        _cache[key] = extracted
        while len(_cache) > CACHE_SIZE:
            del _cache[next(iter(_cache))]  # the oldest
    return extracted


__all__ = ["Extracted", "Limits", "MAX_TEXT_CHARS", "MAX_PARSE_SECONDS", "extract", "extract_pdf", "extract_html", "content_hash", "EXTRACTORS", "EXTRACTION_VERSIONS"]
