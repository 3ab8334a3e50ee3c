"""The collection: the documents in the document folder, and the files linked into it.

``add`` copies files (or every accepted file below a folder) into the document folder, under
sanitised names that always stay inside it; each file is checked first (type, size, readable
text), so nothing unusable is copied. With ``link=True`` files stay where they are: their
absolute paths are recorded in ``.links.json`` inside the document folder, and they are indexed
with the id ``.link:<absolute path>`` (no file of the folder can have an id that starts with a
dot, since hidden files are never loaded, so the two kinds of id cannot collide). Only paths a
user names are ever recorded; paths mentioned inside documents are never followed.

A file whose name is already taken by a different document is kept beside it as
``name (2).ext`` unless ``replace=True``. ``remove`` moves a copied file into the trash (see
:mod:`qa.ingest.trash`; ``qa restore`` puts it back), or forgets a linked one (the file itself is never
touched). Indexing is not done here: :class:`qa.pipeline.Pipeline` calls these and refreshes its index.

>>> report = add_files(Path("docs"), [Path("~/papers/report.pdf").expanduser()])  # doctest: +SKIP
>>> report.added                                                                    # doctest: +SKIP
['report.pdf']
"""

from __future__ import annotations

import errno
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from . import links
from ..config import Settings
from .documents import SUFFIXES, ReadFn, iter_files, read_document
from ..errors import QAError
from .formats import Limits
from .links import LINK_PREFIX, LINKS_FILE, read_links, write_links
from ..files import atomic_write_bytes, sha256_file
from .trash import TrashEntry, move_to_trash

#: Longest file name written, in characters (file systems allow 255 bytes).
MAX_NAME_CHARS = 120

_UNSAFE = re.compile(r"[^\w.\- ()]+")


@dataclass
class AddReport:
    added: list[str] = field(default_factory=list)  #: ids of new documents
    replaced: list[str] = field(default_factory=list)  #: ids whose file was replaced by a different one
    unchanged: list[str] = field(default_factory=list)  #: ids already in the collection with the same content
    skipped: list[tuple[str, str]] = field(default_factory=list)  #: (path given, reason)
    linked: bool = False  #: the files were linked, not copied
    #: (id whose name was taken, id the new file got): kept both, as ``replace`` was not asked for
    renamed: list[tuple[str, str]] = field(default_factory=list)
    #: (name given, id): names holding characters a file name here may not (``R&D <i>.txt`` is ``R_D i.txt``)
    sanitised: list[tuple[str, str]] = field(default_factory=list)
    #: the bytes each replaced file had, so a failed index update can put them back
    previous: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.replaced)

    def lines(self, index_report=None, skipped: bool = True,
              to_replace: str = "use --replace to replace it") -> list[str]:
        """What was done to the collection, one line each, then the lines of the
        :class:`~qa.index.indexer.IndexReport` of the index update that followed, if any; ``skipped=False`` leaves
        out the files that were not added (``qa add`` says them on stderr). ``to_replace``: how a user replaces a
        document that a new one of the same name was kept beside (the CLI's option, or the app's way)."""
        out = [f"skipped {name}: {why}" for name, why in self.skipped] if skipped else []
        out += [f"kept both: {taken} already holds another document, so the new one is {new} ({to_replace})"
                for taken, new in self.renamed]
        out += [f"saved {given} as {doc_id}: {renamed_why(given, doc_id)}" for given, doc_id in self.sanitised]
        groups = (("linked" if self.linked else "copied", self.added), ("replaced", self.replaced),
                  ("already there", self.unchanged))
        for label, ids in groups:
            if ids:
                out.append(f"{label} {len(ids)}: {', '.join(ids)}")
        return out + (index_report.lines(said={*self.added, *self.replaced}) if index_report is not None else [])


def sanitise_name(name: str) -> str:
    """A safe file name from an untrusted one: no folders, no leading dots, only word characters,
    spaces and ``.-()``, at most ``MAX_NAME_CHARS`` long, the suffix kept.

    >>> sanitise_name("../../etc/My Report: <final>.PDF")
    'My Report_ _final.pdf'
    """
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = suffix, ""
    stem = _UNSAFE.sub("_", stem).strip(" ._") or "document"
    suffix = _UNSAFE.sub("", suffix).lower()
    stem = stem[: MAX_NAME_CHARS - len(suffix) - 1].rstrip(" ._") or "document"
    return f"{stem}.{suffix}" if suffix else stem


def renamed_why(given: str, doc_id: str) -> str:
    """Why a file was saved under another name than it was given: its characters, its length, its extension's case.

    >>> renamed_why("a" * 130 + ".md", "a" * 116 + ".md")
    'a file name here is at most 120 characters long'
    >>> renamed_why("R&D.TXT", "R_D.txt")
    'a file name here holds only letters, digits, spaces and - _ . ( ), and its extension is in lower case'
    """
    name = unicodedata.normalize("NFC", given.replace("\\", "/").rsplit("/", 1)[-1])
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = suffix, ""
    why = []
    if _UNSAFE.search(stem) or _UNSAFE.search(suffix) or stem != stem.strip(" ._") or not stem:
        why.append("holds only letters, digits, spaces and - _ . ( )")
    if len(name) > MAX_NAME_CHARS:
        why.append(f"is at most {MAX_NAME_CHARS} characters long")
    if suffix != suffix.lower():
        why.append("its extension is in lower case")
    return "a file name here " + (", and ".join(why) if why else "is safe in every folder")


def linked_files(docs: Path) -> tuple[list[tuple[Path, str]], list[tuple[str, str]]]:
    """Linked files with an accepted suffix as (path, id), and problems as (name, reason)."""
    return links.linked_files(docs, SUFFIXES)


def _resolved(path: Path) -> Path | None:
    """The real path, or ``None`` for a symbolic link loop."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return None


def _sources(path: Path) -> list[tuple[Path, str]]:
    """The accepted files a user named: the file itself, or every accepted file below a folder
    (relative to the folder's parent, so the folder's name is kept)."""
    if path.is_dir():
        root = path.resolve()
        return [(p, f"{root.name}/{rel}") for p, rel in iter_files(root)
                if (real := _resolved(p)) is not None and real.is_relative_to(root)]  # links out: not followed
    return [(path, path.name)]


def _target(docs: Path, rel: str) -> Path:
    """Where a file named ``rel`` goes in the document folder: every part sanitised, and the
    result checked to be inside the folder even where its sub-folders are symbolic links."""
    parts = [sanitise_name(part) for part in rel.split("/") if part not in ("", ".", "..")]
    target = docs.joinpath(*parts)
    if not target.parent.resolve().is_relative_to(docs.resolve()):
        raise ValueError("its folder in the collection leads outside the document folder")
    return target


def add_files(docs: Path, paths: Iterable[Path | str], max_bytes: int = Settings.max_file_bytes,
              link: bool = False, replace: bool = False, limits: Limits = Limits(),
              read: ReadFn | None = None) -> AddReport:
    """Copy (or link) files into the collection; each is checked first and skipped with a reason
    when it is not an accepted, readable document within ``max_bytes`` and ``limits`` (read by
    ``read``: by default in this process; :meth:`qa.ingest.parsing.Parser.check` reads in a worker). A
    name taken by a different document keeps both (``name (2).ext``) unless ``replace``."""
    docs = Path(docs)
    docs.mkdir(parents=True, exist_ok=True)
    report = AddReport(linked=link)
    links = read_links(docs) if link else []
    for given in map(Path, paths):
        if not given.exists():
            why = "symbolic link loop or broken link" if given.is_symlink() else "no such file or folder"
            report.skipped.append((str(given), why))
            continue
        sources = _sources(given)
        if given.is_dir() and not sources:
            report.skipped.append((str(given), f"no {', '.join(sorted(SUFFIXES))} files in the folder"))
        for source, rel in sources:
            try:
                if source.suffix.lower() not in SUFFIXES:
                    raise ValueError(f"not an accepted type: use one of {', '.join(sorted(SUFFIXES))}")
                if _resolved(source) is None:
                    raise ValueError("symbolic link loop (not followed)")
                if _inside(docs, source):
                    raise ValueError("already in the document folder")
                if read is None:
                    read_document(source, rel, max_bytes, limits=limits)  # readable text within the limits?
                else:
                    read(source, rel)
                if link:
                    _link(source, links, report)
                else:
                    _copy(docs, source, rel, report, replace)
            except PermissionError:
                report.skipped.append((str(source), "permission denied"))
            except OSError as exc:
                full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
                report.skipped.append((str(source), "disk full: free some space, then add it again" if full
                                       else f"cannot copy it ({exc.strerror or exc})"))
            except ValueError as exc:
                report.skipped.append((str(source), str(exc)))
    if link:
        write_links(docs, links)
    return report


def _inside(docs: Path, source: Path) -> bool:
    """Whether ``source`` already lies in the document folder (adding it again would copy it twice)."""
    return source.resolve().is_relative_to(docs.resolve())


def _link(source: Path, links: list[str], report: AddReport) -> None:
    path = str(source.resolve())
    if path in links:
        report.unchanged.append(LINK_PREFIX + path)
    else:
        links.append(path)
        report.added.append(LINK_PREFIX + path)


def _copy(docs: Path, source: Path, rel: str, report: AddReport, replace: bool = False) -> None:
    target = _target(docs, rel)
    taken = target.relative_to(docs).as_posix()
    digest = sha256_file(source)
    if not replace:
        n = 2
        while os.path.lexists(target) and not (target.is_file() and sha256_file(target) == digest):
            target = target.with_name(f"{_stem(target.name)} ({n}){Path(target.name).suffix}")
            n += 1
    doc_id = target.relative_to(docs).as_posix()
    if target.is_file() and sha256_file(target) == digest:
        report.unchanged.append(doc_id)
        return
    if doc_id != taken:
        report.renamed.append((taken, doc_id))
    if taken != rel:
        report.sanitised.append((rel, doc_id))
    if target.exists():
        report.previous[doc_id] = target.read_bytes()
        report.replaced.append(doc_id)
    else:
        report.added.append(doc_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, source.read_bytes())  # the indexer never sees half a file


def _stem(name: str) -> str:
    """``name`` without its suffix and without a `` (n)`` a copy got before."""
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return re.sub(r" \(\d{1,6}\)\Z", "", stem)


def undo_add(docs: Path, report: AddReport) -> None:
    """Take back what :func:`add_files` did (the index update after it failed): new copies are
    deleted, replaced files get their old bytes back, new links are forgotten."""
    docs = Path(docs)
    if report.linked:
        gone = {i[len(LINK_PREFIX):] for i in report.added}
        write_links(docs, [p for p in read_links(docs) if p not in gone])
        return
    for doc_id in report.added:
        (docs / doc_id).unlink(missing_ok=True)
    for doc_id, data in report.previous.items():
        atomic_write_bytes(docs / doc_id, data)


def relink(docs: Path, paths: Iterable[str]) -> None:
    """Record linked files again (a restored removal)."""
    write_links(docs, read_links(docs) + list(paths))


def collection_ids(docs: Path) -> set[str]:
    """Ids of every document in the collection: files in the folder and linked files."""
    docs = Path(docs)
    folder = {doc_id for _, doc_id in iter_files(docs)} if docs.is_dir() else set()
    return folder | {doc_id for _, doc_id in linked_files(docs)[0]}


def remove_documents(docs: Path, ids: Iterable[str], index: Path) -> list[TrashEntry]:
    """Move copied files into the trash of the index in ``index`` and forget linked ones (the
    linked file is never touched); every removal is recorded there, so ``qa restore`` can undo it.
    Raises :class:`QAError` (and removes nothing) when an id is not in the collection, or when
    nothing would be left."""
    docs = Path(docs)
    ids = list(dict.fromkeys(ids))
    known = collection_ids(docs)
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise QAError(f"not in the collection: {', '.join(unknown)}; see `qa list` for the ids")
    if not ids:
        raise QAError("no document to remove: give one or more ids (see `qa list`)")
    if known <= set(ids):
        raise QAError("that would leave the collection empty: add other documents first, then remove these")
    linked = {i: i[len(LINK_PREFIX):] for i in ids if i.startswith(LINK_PREFIX)}
    entries = move_to_trash(docs, index, ids, linked)  # a known id is a file found inside the folder
    if linked:
        gone = set(linked.values())
        write_links(docs, [p for p in read_links(docs) if p not in gone])
    return entries


__all__ = ["AddReport", "add_files", "undo_add", "relink", "remove_documents", "collection_ids", "linked_files", "read_links",
           "sanitise_name", "LINKS_FILE", "LINK_PREFIX"]
