"""The trash: where removed documents go, so that a removal can be undone.

A file removed from the document folder is moved (never unlinked) to
``<index>/trash/<time>/<its id>``; a linked file is only forgotten (the file itself is never
touched). Each removal is recorded in ``<index>/trash/trash.json``, so :func:`restore` can put the
file back where it was (or link it again). Restoring never overwrites: a file of the same name in
the document folder makes it refuse, and nothing is restored.

>>> entries = move_to_trash(Path("docs"), Path("vectorstore"), ["notes.txt"])   # doctest: +SKIP
>>> entries[0].file                                                               # doctest: +SKIP
'/.../vectorstore/trash/20260101-120000-1a2b3c/notes.txt'
>>> restore(Path("docs"), Path("vectorstore"), ["notes.txt"])                     # doctest: +SKIP
['notes.txt']
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

from ..errors import QAError
from ..files import atomic_write_bytes

#: The trash folder, inside the index folder, and its record.
TRASH = "trash"
RECORD = "trash.json"


@dataclass(frozen=True)
class TrashEntry:
    """One removed document."""

    id: str  #: the id it had (``qa list``)
    removed: str  #: when, ISO 8601
    file: str | None = None  #: where the file is now (a copied document); ``None`` for a linked one
    link: str | None = None  #: the linked file's path (left where it was); ``None`` for a copied one

    def line(self) -> str:
        """What happened to it, and how to undo it, in one line."""
        if self.link:
            return (f"forgot linked file {self.id} (the file itself was not touched); "
                    f"`qa restore {self.id}` links it again")
        return f"moved {self.id} to the trash: {self.file}; `qa restore {self.id}` puts it back"

    def to_dict(self) -> dict:
        return asdict(self)


def trash_dir(index: Path) -> Path:
    return Path(index) / TRASH


def _read(index: Path) -> list[dict]:
    path = trash_dir(index) / RECORD
    if not path.exists():
        return []
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise QAError(f"cannot read the trash record {str(path)!r} ({exc}): the removed files are still in "
                      f"{str(trash_dir(index))!r}; copy back what you need by hand") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("id"), str) for r in rows):
        raise QAError(f"the trash record {str(path)!r} is damaged: the removed files are still in "
                      f"{str(trash_dir(index))!r}; copy back what you need by hand")
    return rows


def _write(index: Path, rows: list[dict]) -> None:
    folder = trash_dir(index)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / RECORD, json.dumps(rows, indent=1, ensure_ascii=False).encode("utf-8"))


def _entry(index: Path, row: dict) -> TrashEntry:
    file = str(trash_dir(index) / row["path"]) if row.get("path") else None
    return TrashEntry(row["id"], row.get("removed", ""), file, row.get("link"))


def trashed(index: Path) -> list[TrashEntry]:
    """Documents that can be restored, oldest first."""
    return [_entry(index, row) for row in _read(index)]


def move_to_trash(docs: Path, index: Path, ids: Iterable[str], link_paths: dict[str, str] | None = None) -> list[TrashEntry]:
    """Move the files of ``ids`` from the document folder into the trash and record them;
    ``link_paths`` maps the ids of linked documents to their paths (recorded, never moved)."""
    link_paths = link_paths or {}
    rows = _read(index)
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    removed = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    new: list[dict] = []
    try:
        for doc_id in ids:
            if doc_id in link_paths:
                new.append({"id": doc_id, "removed": removed, "link": link_paths[doc_id]})
                continue
            rel = f"{stamp}/{doc_id}"
            target = trash_dir(index) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(Path(docs) / doc_id), str(target))  # a rename, or a copy across file systems
            new.append({"id": doc_id, "removed": removed, "path": rel})
        _write(index, rows + new)
    except BaseException:
        _put_back(docs, index, new)  # nothing half-removed
        raise
    return [_entry(index, row) for row in new]


def _put_back(docs: Path, index: Path, rows: list[dict]) -> None:
    for row in rows:
        if row.get("path"):
            source, target = trash_dir(index) / row["path"], Path(docs) / row["id"]
            if source.exists() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(source), str(target))
                _prune(source.parent, trash_dir(index))


def _prune(folder: Path, top: Path) -> None:
    """Remove empty folders from ``folder`` up to (not including) ``top``."""
    while folder != top and folder.is_relative_to(top):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def restore(docs: Path, index: Path, ids: Iterable[str]) -> tuple[list[str], list[str]]:
    """Put trashed documents back (the latest removal of each id): files into the document folder,
    links into the list of linked files. Returns (restored file ids, restored link paths).

    Raises :class:`QAError`, and restores nothing, when an id is not in the trash or when its place
    in the document folder is taken.
    """
    ids = list(dict.fromkeys(ids))
    if not ids:
        raise QAError("no document to restore: give one or more ids (see `qa trash`)")
    rows = _read(index)
    latest = {row["id"]: i for i, row in enumerate(rows)}
    unknown = [i for i in ids if i not in latest]
    if unknown:
        raise QAError(f"not in the trash: {', '.join(unknown)}; see `qa trash` for what can be restored")
    chosen = [rows[latest[i]] for i in ids]
    for row in chosen:
        if row.get("link"):
            if not Path(row["link"]).is_file():
                raise QAError(f"cannot restore {row['id']}: the linked file {row['link']!r} is gone "
                              "(nothing was restored)")
        else:
            target = Path(docs) / row["id"]
            if os.path.lexists(target):
                raise QAError(f"cannot restore {row['id']}: a file of that name is already in the document "
                              "folder; rename or remove it first (nothing was restored)")
            if not (trash_dir(index) / row["path"]).is_file():
                raise QAError(f"cannot restore {row['id']}: its file is no longer in the trash "
                              f"({str(trash_dir(index) / row['path'])!r}); nothing was restored")
    files = [row for row in chosen if not row.get("link")]
    _put_back(docs, index, files)
    chosen_ids = {id(row) for row in chosen}
    _write(index, [row for row in rows if id(row) not in chosen_ids])
    return [row["id"] for row in files], [row["link"] for row in chosen if row.get("link")]


__all__ = ["TrashEntry", "trashed", "move_to_trash", "restore", "trash_dir", "TRASH", "RECORD"]
