"""Load a folder of documents.

Every ``.txt``, ``.md``, ``.pdf`` and ``.html`` file below the folder (recursively) becomes a
:class:`Document` whose id is its path relative to the folder; files linked into the collection
(see :mod:`qa.collection`) join them. Files that cannot be read as text (empty, binary, not UTF-8,
a scanned or damaged PDF, unreadable, too large, links that lead out of the folder) are skipped
and reported by name. Plain text is kept exactly as decoded (a UTF-8 byte-order mark is dropped,
line endings are kept); PDF and HTML text is extracted by :mod:`qa.formats`. Either way the
document's text is what the index stores, so character offsets into it always slice the same
text back.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .config import Settings
from .errors import NoDocumentsError
from .formats import EXTRACTORS, content_hash, extract
from .titles import title_from_text
from .types import Document

SUFFIXES = {".txt": "text", ".md": "markdown", ".markdown": "markdown", ".pdf": "pdf", ".html": "html",
            ".htm": "html"}

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_FM_LINE = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*$")


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
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, 0
    meta: dict[str, str] = {}
    for line in m.group(1).splitlines():
        lm = _FM_LINE.match(line)
        if lm:
            value = lm.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            meta[lm.group(1).lower()] = value
    return meta, m.end()


def make_document(doc_id: str, text: str, sha256: str = "", kind: str = "text", meta: dict[str, str] | None = None,
                  pages: tuple[int, ...] = ()) -> Document:
    """Build a document from its text: title from ``meta`` (by default, the text's front matter),
    else the first non-empty line."""
    if meta is None:
        meta, body_start = parse_front_matter(text)
    else:
        body_start = 0
    title = meta.get("title", "").strip()
    title = title or title_from_text(text[body_start:], kind)  # qa/titles.py; else the file name
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


def read_document(path: Path, doc_id: str, max_bytes: int, previous: Document | None = None) -> Document:
    """Read one file. Raises ``ValueError`` with a short reason when it is not usable text.

    ``previous`` is the document as the index stored it: a PDF or HTML file whose content hash
    still matches is not parsed again.
    """
    size = path.stat().st_size
    if size == 0:
        raise ValueError("empty file")
    if size > max_bytes:
        raise ValueError(f"file is {size / 2**20:.0f} MB, over the {max_bytes / 2**20:.0f} MB limit")
    data = path.read_bytes()
    kind = SUFFIXES[path.suffix.lower()]
    if kind in EXTRACTORS:
        sha256 = content_hash(kind, data)
        if previous is not None and previous.sha256 == sha256:
            return previous
        extracted = extract(kind, data, sha256)
        return make_document(doc_id, extracted.text, sha256, kind, extracted.meta, extracted.pages)
    if b"\x00" in data:
        raise ValueError("binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid UTF-8 (byte {exc.start}); save it as UTF-8") from None
    if not text.strip():
        raise ValueError("no text (only white space)")
    return make_document(doc_id, text, hashlib.sha256(data).hexdigest(), kind)


def iter_files(root: Path) -> list[tuple[Path, str]]:
    """Files below ``root`` with a known suffix, as (path, id), sorted by id.

    Hidden files and folders are skipped; symbolic links are followed only when they stay inside
    ``root``.
    """
    root = root.resolve()
    found: list[tuple[Path, str]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith(".") or Path(name).suffix.lower() not in SUFFIXES:
                continue
            path = Path(dirpath) / name
            found.append((path, path.relative_to(root).as_posix()))
    return sorted(found, key=lambda pair: pair[1])


def load_folder(root: Path | str, max_bytes: int = Settings.max_file_bytes,
                known: Mapping[str, Document] | None = None) -> LoadReport:
    """Load every document below ``root``. Raises :class:`NoDocumentsError` when none is usable.

    ``known`` holds documents as the index stored them, by id (see :func:`read_document`).
    """
    root = Path(root)
    if not root.is_dir():
        raise NoDocumentsError(f"document folder {str(root)!r} does not exist: create it or pass --docs DIR")
    from .collection import linked_files  # imported here: the collection module uses this one

    report = LoadReport()
    real_root = root.resolve()
    linked, report.skipped = linked_files(root)
    for path, doc_id in iter_files(root) + linked:
        try:
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(real_root):
                    raise ValueError("symbolic link to a file outside the document folder (not followed)")
            report.documents.append(read_document(path, doc_id, max_bytes, (known or {}).get(doc_id)))
        except PermissionError:
            report.skipped.append((doc_id, "permission denied"))
        except FileNotFoundError:
            report.skipped.append((doc_id, "file not found (moved or deleted?)"))
        except (ValueError, OSError) as exc:
            report.skipped.append((doc_id, str(exc)))
    if not report.documents:
        detail = ""
        if report.skipped:
            detail = " (" + "; ".join(report.warnings()) + ")"
        raise NoDocumentsError(
            f"no readable documents ({', '.join(sorted(SUFFIXES))}) in {str(root)!r}{detail}: "
            "add documents (`qa add FILE`) or pass --docs DIR"
        )
    return report
