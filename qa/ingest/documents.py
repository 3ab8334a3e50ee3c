"""Load a folder of documents.

Every ``.txt``, ``.md``, ``.pdf`` and ``.html`` file below the folder (recursively) becomes a
:class:`Document` whose id is its path relative to the folder; files linked into the collection
(see :mod:`qa.ingest.collection`) join them. Files that cannot be read as text (empty, binary, not UTF-8,
a scanned or damaged PDF, unreadable, too large, links that lead out of the folder, links to folders) are skipped
and reported by name. Plain text is kept exactly as decoded (a UTF-8 byte-order mark is dropped,
line endings are kept); PDF and HTML text is extracted by :mod:`qa.ingest.formats`. Either way the
document's text is what the index stores, so character offsets into it always slice the same
text back, and a file whose bytes did not change is taken from the index instead of being read
again. The index builder reads the others in a worker process (:mod:`qa.ingest.parsing`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from ..config import Settings
from ..errors import NoDocumentsError
from .formats import EXTRACTORS, Limits, content_hash, extract
from .links import linked_files
from .titles import title_from_text
from ..types import Document

SUFFIXES = {".txt": "text", ".md": "markdown", ".markdown": "markdown", ".pdf": "pdf", ".html": "html",
            ".htm": "html"}

#: A front-matter key. Front matter is parsed line by line with string methods, not one regular
#: expression over the text: a pattern like ``(.*?)\s*$`` backtracks quadratically on a line that
#: holds a long run of spaces (a 200 kB title line froze the program for minutes).
_FM_KEY = re.compile(r"[A-Za-z_][\w-]*")
#: Front matter is looked for in this many characters at the start of a document.
FRONT_MATTER_CHARS = 1024 * 1024


@dataclass
class LoadReport:
    documents: list[Document] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  #: (relative path, reason)

    def warnings(self) -> list[str]:
        return [f"skipped {name}: {reason}" for name, reason in self.skipped]


def parse_front_matter(text: str) -> tuple[dict[str, str], int]:
    """Return the ``key: value`` pairs of a leading ``---`` block and the offset where the body starts.

    >>> parse_front_matter("---\\ntitle : A\\n---\\nbody")
    ({'title': 'A'}, 18)
    """
    if not text.startswith("---"):
        return {}, 0
    lines = text[:FRONT_MATTER_CHARS].splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n").strip(" \t") != "---":
        return {}, 0
    offset = len(lines[0])
    body: list[str] = []
    for line in lines[1:]:
        bare = line.rstrip("\r\n")
        if bare.rstrip(" \t") in ("---", "...") and bare[:3] in ("---", "..."):
            return _front_matter_pairs(body), offset + len(line)
        body.append(bare)
        offset += len(line)
    return {}, 0


def _front_matter_pairs(lines: list[str]) -> dict[str, str]:
    meta: dict[str, str] = {}
    for line in lines:
        key, colon, value = line.partition(":")
        key = key.rstrip()
        if not colon or not _FM_KEY.fullmatch(key):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        meta[key.lower()] = value
    return meta


def make_document(doc_id: str, text: str, sha256: str = "", kind: str = "text", meta: dict[str, str] | None = None,
                  pages: tuple[int, ...] = ()) -> Document:
    """Build a document from its text: title from ``meta`` (by default, the text's front matter),
    else the first non-empty line."""
    if meta is None:
        meta, body_start = parse_front_matter(text)
    else:
        body_start = 0
    title = meta.get("title", "").strip()
    title = title or title_from_text(text[body_start:], kind)  # qa/ingest/titles.py; else the file name
    if len(title) > 200:
        title = title[:197].rstrip() + "..."
    return Document(
        id=doc_id,
        title=title or doc_id,
        text=text,
        author=meta.get("author") or None,
        date=meta.get("date") or None,
        sha256=sha256 or hashlib.sha256(text.encode("utf-8")).hexdigest(),
        kind=kind,
        pages=tuple(pages),
    )


#: Leading bytes of binary formats that are sometimes saved under a text name.
_MAGIC = {b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image",
          b"PK\x03\x04": "a ZIP archive (or a Word/OpenDocument file)", b"\x1f\x8b": "a gzip archive",
          b"\x7fELF": "a program", b"MZ": "a Windows program", b"\xd0\xcf\x11\xe0": "an old Office document",
          b"%PDF-": "a PDF", b"7z\xbc\xaf": "a 7-Zip archive", b"Rar!": "a RAR archive"}
#: Share of control bytes (other than tab, line and page breaks) above which a file is not text.
MAX_CONTROL_SHARE = 0.10
_UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff")


def sniff(kind: str, data: bytes) -> None:
    """Check that the bytes look like the kind of file their name says; ``ValueError`` if not.

    >>> sniff("html", b"\\x89PNG\\r\\n\\x1a\\n...")
    Traceback (most recent call last):
    ValueError: binary file (looks like a PNG image), not html: give it the right name, or export it as text
    """
    head = data[:64 * 1024]
    if kind == "pdf":
        if b"%PDF-" not in data[:1024]:
            raise ValueError("damaged PDF or not a PDF (it does not start with %PDF-): give it the right name, "
                             "or export a new PDF")
        return
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise ValueError(f"binary file (looks like {what}), not {kind}: give it the right name, "
                             "or export it as text")
    if head.startswith(_UTF16_32_BOMS):
        return  # UTF-16 and UTF-32 text holds NUL bytes
    if b"\x00" in data:
        raise ValueError("binary file (contains NUL bytes)")
    controls = sum(head.count(bytes([c])) for c in range(32) if c not in (9, 10, 12, 13)) + head.count(b"\x7f")
    if controls > MAX_CONTROL_SHARE * len(head):
        raise ValueError(f"binary file ({controls:,} control bytes in the first {len(head):,}), not {kind}: "
                         "give it the right name, or export it as text")


def read_document(path: Path, doc_id: str, max_bytes: int, limits: Limits = Limits()) -> Document:
    """Read one file. Raises ``ValueError`` with a short reason when it is not usable text, or when
    its text or reading time is over ``limits``."""
    size = path.stat().st_size
    if size == 0:
        raise ValueError("empty file")
    if size > max_bytes:
        raise ValueError(f"file is {size / 2**20:.0f} MB, over the {max_bytes / 2**20:.0f} MB limit")
    data = path.read_bytes()
    kind = SUFFIXES[path.suffix.lower()]
    if kind in EXTRACTORS:
        sha256 = content_hash(kind, data)
        sniff(kind, data)
        extracted = extract(kind, data, sha256, limits)
        return make_document(doc_id, extracted.text, sha256, kind, extracted.meta, extracted.pages)
    sniff(kind, data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid UTF-8 (byte {exc.start}); save it as UTF-8") from None
    if not text.strip():
        raise ValueError("no text (only white space)")
    if len(text) > limits.max_chars:
        raise limits.too_long(len(text))
    return make_document(doc_id, text, hashlib.sha256(data).hexdigest(), kind)


def file_hash(kind: str, data: bytes) -> str:
    """The hash a document of this ``kind`` with these bytes is stored under."""
    return content_hash(kind, data) if kind in EXTRACTORS else hashlib.sha256(data).hexdigest()


def unchanged(path: Path, previous: Document | None, max_bytes: int, limits: Limits = Limits()) -> Document | None:
    """``previous`` (the document as the index stored it) when the file still holds the same bytes
    and its text is within ``limits``, so it need not be read again; else ``None``. Only reads and
    hashes the bytes: no parser runs on them here."""
    if previous is None or len(previous.text) > limits.max_chars:
        return None
    kind = SUFFIXES[path.suffix.lower()]
    if previous.kind != kind or not 0 < path.stat().st_size <= max_bytes:
        return None
    return previous if file_hash(kind, path.read_bytes()) == previous.sha256 else None


def why_skipped(exc: Exception) -> str:
    """The reason given for a file that :func:`read_document` refused."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "file not found (moved or deleted?)"
    return str(exc)


def iter_files(root: Path) -> list[tuple[Path, str]]:
    """Files below ``root`` with a known suffix, as (path, id), sorted by id.

    Hidden files and folders are skipped; symbolic links to files are listed (:func:`link_problem` says
    which are followed); symbolic links to folders are never followed (:func:`folder_link_problem`).
    """
    return _walk(root)[0]


def _walk(root: Path) -> tuple[list[tuple[Path, str]], list[tuple[str, str]]]:
    """:func:`iter_files`, and the symbolic links to folders below ``root`` (hidden ones aside) as (id, why it
    is not followed), sorted by id."""
    root = root.resolve()
    found: list[tuple[Path, str]] = []
    links: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in dirnames:  # os.walk lists a link to a folder here, and does not go into it
            path = Path(dirpath) / name
            if path.is_symlink():
                links.append((path.relative_to(root).as_posix(), folder_link_problem(path, root)))
        for name in filenames:
            if name.startswith(".") or Path(name).suffix.lower() not in SUFFIXES:
                continue
            path = Path(dirpath) / name
            found.append((path, path.relative_to(root).as_posix()))
    return sorted(found, key=lambda pair: pair[1]), sorted(links)


def _link_target(path: Path) -> tuple[Path | None, str | None]:
    """Where a symbolic link leads, or why it cannot be followed (a loop, a dangling link)."""
    try:
        return path.resolve(strict=True), None
    except RuntimeError:  # Python < 3.13 reports a loop this way
        return None, "symbolic link loop (not followed)"
    except FileNotFoundError:
        return None, "broken symbolic link: its target does not exist (not followed)"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, "symbolic link loop (not followed)"
        return None, f"symbolic link cannot be followed ({exc.strerror or exc})"


def link_problem(path: Path, real_root: Path) -> str | None:
    """Why a symbolic link in the document folder is not followed (a loop, a dangling link, a link
    out of the folder), or ``None`` for a link to a file inside it."""
    target, problem = _link_target(path)
    if target is None:
        return problem
    if not target.is_relative_to(real_root):
        return "symbolic link to a file outside the document folder (not followed)"
    if not target.is_file():
        return "symbolic link to something that is not a file (not followed)"
    return None


def folder_link_problem(path: Path, real_root: Path) -> str:
    """Why a symbolic link to a folder below the document folder is not followed: folder links never are.
    One out of the folder would read files from elsewhere, one back to a folder that holds it would loop, and
    one to a folder inside would read the same files again under other ids (they are indexed where they are)."""
    target, problem = _link_target(path)
    if target is None:
        return problem
    if not target.is_relative_to(real_root):
        return "symbolic link to a folder outside the document folder (not followed)"
    if path.parent.resolve().is_relative_to(target):
        return "symbolic link loop: it leads back to a folder that holds it (not followed)"
    if any(part.startswith(".") for part in target.relative_to(real_root).parts):
        return "symbolic link to a hidden folder (not followed; hidden folders are not indexed)"
    return ("symbolic link to a folder inside the document folder (not followed: its files are indexed where "
            "they are, once)")


#: Reads one file as a document (path, id); raises ``ValueError`` (or ``OSError``) to skip it.
ReadFn = Callable[[Path, str], Document]


def load_folder(root: Path | str, max_bytes: int = Settings.max_file_bytes,
                known: Mapping[str, Document] | None = None, limits: Limits = Limits(),
                read: ReadFn | None = None, progress: Callable[[float, str], None] | None = None) -> LoadReport:
    """Load every document below ``root``. Raises :class:`NoDocumentsError` when none is usable.

    ``known`` holds documents as the index stored them, by id: a file whose bytes did not change
    is not read again (see :func:`unchanged`). The others are read by ``read`` (by default
    :func:`read_document` in this process; :class:`qa.ingest.parsing.Parser` reads them in a worker
    process); ``limits`` bounds the text and the parsing time of each document.
    """
    root = Path(root)
    check_folder(root)
    if read is None:
        def read(path: Path, doc_id: str) -> Document:
            return read_document(path, doc_id, max_bytes, limits=limits)

    report = LoadReport()
    real_root = root.resolve()
    linked, report.skipped = linked_files(root, SUFFIXES)
    in_folder, folder_links = _walk(root)
    report.skipped = folder_links + report.skipped  # no folder link is followed: each is named, with why
    files = in_folder + linked
    for i, (path, doc_id) in enumerate(files):
        if progress is not None:
            progress(i / len(files), "reading documents")
        try:
            problem = link_problem(path, real_root) if path.is_symlink() else None
            if problem:
                raise ValueError(problem)
            report.documents.append(unchanged(path, (known or {}).get(doc_id), max_bytes, limits)
                                    or read(path, doc_id))
        except (ValueError, OSError, RuntimeError) as exc:
            report.skipped.append((doc_id, why_skipped(exc)))
    if not report.documents:
        raise no_documents(root, report.skipped)
    return report


def check_folder(root: Path) -> None:
    """Raise :class:`NoDocumentsError` when the document folder ``root`` is not there."""
    if not Path(root).is_dir():
        raise NoDocumentsError(f"document folder {str(root)!r} does not exist: create it or pass --docs DIR")


def no_documents(root: Path, skipped: list[tuple[str, str]]) -> NoDocumentsError:
    """The error for a folder without one usable document."""
    detail = " (" + "; ".join(f"skipped {name}: {why}" for name, why in skipped) + ")" if skipped else ""
    return NoDocumentsError(f"no readable documents ({', '.join(sorted(SUFFIXES))}) in {str(root)!r}{detail}: "
                            "add documents (`qa add FILE`) or pass --docs DIR")
