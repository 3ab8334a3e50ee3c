"""Files linked into the collection (``qa add --link``): the list of their absolute paths,
``.links.json`` inside the document folder, and the ids they are indexed under
(``.link:<absolute path>``; see :mod:`qa.ingest.collection`).

Both the loading of the document folder (:mod:`qa.ingest.documents`) and the collection
(:mod:`qa.ingest.collection`) use these, so they live apart from both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Collection

from ..files import atomic_write_bytes

#: The list of linked files, inside the document folder (hidden, so it is never loaded as a document).
LINKS_FILE = ".links.json"
#: Id prefix of linked documents.
LINK_PREFIX = ".link:"


def links_path(docs: Path) -> Path:
    return Path(docs) / LINKS_FILE


def read_links(docs: Path) -> list[str]:
    """The absolute paths linked into the collection; ``ValueError`` when the list is damaged."""
    path = links_path(docs)
    if not path.exists():
        return []
    try:
        links = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the list of linked files ({exc})") from None
    if not isinstance(links, list) or not all(isinstance(p, str) and p.startswith("/") for p in links):
        raise ValueError("the list of linked files is not a JSON list of absolute paths")
    return links


def write_links(docs: Path, links: list[str]) -> None:

    atomic_write_bytes(links_path(docs), json.dumps(sorted(set(links)), indent=1, ensure_ascii=False).encode())


def linked_files(docs: Path, suffixes: Collection[str]) -> tuple[list[tuple[Path, str]], list[tuple[str, str]]]:
    """Linked files with one of the ``suffixes`` (lower case, with the dot) as (path, id), and
    problems as (name, reason)."""
    try:
        links = read_links(docs)
    except ValueError as exc:
        return [], [(LINKS_FILE, f"{exc}: add the files again with `qa add --link`")]
    return [(Path(p), LINK_PREFIX + p) for p in links if Path(p).suffix.lower() in suffixes], []
