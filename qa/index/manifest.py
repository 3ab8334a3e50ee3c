"""``manifest.json``: what the index holds, and whether this program can use it.

The manifest names the index's segments in order (immutable folders, see :mod:`qa.index.segments`),
with the checksum of every file in them, and every live document with the segment that holds it: a
segment's passages of a document the manifest gives to another segment (or no longer lists) are
removed (tombstoned). It is replaced atomically; the previous one stays in force until then.

Format 1 (an index written before segments) named one ``gen-*`` folder and its files; it is read as
an index of that one segment, and the next update rewrites it in format 2.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from dataclasses import replace
from pathlib import Path

from ..errors import IndexProblem
from ..files import atomic_write_bytes
from ..types import Document
from .vectors import manifest_backend

FORMAT_VERSION = 2
#: Formats this program reads (1: one generation folder, no segments).
READABLE = (1, FORMAT_VERSION)
MANIFEST = "manifest.json"
#: What to do about an index that cannot be used.
REBUILD = "run `qa index` with the documents to rebuild it"

GENERATION = re.compile(r"gen-[A-Za-z0-9-]+")
#: Segment folders: ``seg-*``; the one folder of a format-1 index is its ``gen-*`` generation.
SEGMENT = re.compile(r"(seg|gen)-[A-Za-z0-9-]+")


def _safe_name(name: object) -> bool:
    """A relative file name that stays inside its folder."""
    return isinstance(name, str) and bool(name) and not name.startswith("/") and ".." not in name.split("/")


def _files(v) -> bool:
    return isinstance(v, dict) and all(isinstance(h, str) and _safe_name(n) for n, h in v.items())


def _segment(v) -> bool:
    return (isinstance(v, dict) and isinstance(v.get("name"), str) and SEGMENT.fullmatch(v["name"]) is not None
            and _files(v.get("files")) and isinstance(v.get("passages"), int) and isinstance(v.get("sentences"), int))


_COMMON = {
    "generation": lambda v: isinstance(v, str) and GENERATION.fullmatch(v) is not None,
    "faiss_version": lambda v: isinstance(v, str),
    "model": lambda v: isinstance(v, dict) and isinstance(v.get("id"), str) and isinstance(v.get("dim"), int),
    "splitter": lambda v: isinstance(v, dict),
    "passage_count": lambda v: isinstance(v, int),
    "documents": lambda v: isinstance(v, dict)
    and all(isinstance(d, dict) and isinstance(d.get("sha256"), str) for d in v.values()),
}
_FIELDS = {
    1: {**_COMMON, "files": _files},
    FORMAT_VERSION: {**_COMMON, "segments": lambda v: isinstance(v, list) and bool(v) and all(map(_segment, v))},
}


def read_manifest(folder: Path) -> dict | None:
    """The manifest, ``None`` when there is no index yet; :class:`IndexProblem` when unreadable.

    A manifest of a format this program reads must have every field in the expected shape; one of
    another format is returned as it is (:func:`check_compatible` says why it cannot be used).
    """
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexProblem(f"damaged index: {path} cannot be read ({exc}); {REBUILD}") from None
    if not isinstance(manifest, dict) or "format" not in manifest:
        raise IndexProblem(f"damaged index: {path} is not a manifest of this program; {REBUILD}")
    fields = _FIELDS.get(manifest["format"]) if isinstance(manifest["format"], int) else None
    if fields:
        bad = [name for name, ok in fields.items() if not ok(manifest.get(name))]
        if not bad and manifest["format"] == FORMAT_VERSION:
            names = [s["name"] for s in manifest["segments"]]
            if len(set(names)) != len(names) or any(d.get("segment") not in names
                                                    for d in manifest["documents"].values()):
                bad = ["segments"]
        if bad:
            raise IndexProblem(f"damaged index: {path} has missing or malformed {', '.join(bad)}; {REBUILD}")
    return manifest


def segments(manifest: dict) -> list[dict]:
    """The manifest's segments, oldest first: name, files, passages and sentences (all rows, removed
    ones too); a format-1 index is one segment, its generation folder."""
    if manifest["format"] == 1:
        return [{"name": manifest["generation"], "files": manifest["files"], "passages": manifest["passage_count"],
                 "sentences": manifest.get("sentence_count", -1), "index_type": manifest.get("index_type")}]
    return manifest["segments"]


def titled(manifest: dict, doc: Document) -> Document:
    """``doc`` (as a segment stored it) with the title the manifest gives it, which is newer: the
    titles of unchanged documents are found again without writing their segment anew."""
    title = manifest.get("documents", {}).get(doc.id, {}).get("title")
    return replace(doc, title=title) if isinstance(title, str) and title and title != doc.title else doc


def segment_of(manifest: dict, doc_id: str) -> str:
    """The segment holding the live passages of a document of the index."""
    return manifest["documents"][doc_id].get("segment") or manifest["generation"]


def version_problem(manifest: dict) -> str | None:
    """Why this program cannot read the index at all (format or faiss version), or ``None``."""
    import faiss

    if manifest.get("format") not in READABLE:
        return f"index format {manifest.get('format')} differs from this program's {FORMAT_VERSION}"
    if manifest["faiss_version"].split(".")[0] != faiss.__version__.split(".")[0]:
        return f"index was written by faiss {manifest['faiss_version']}, this is faiss {faiss.__version__}"
    return None


def backend_problem(manifest: dict, backend: str) -> str | None:
    """Why the index's vectors are in another backend than ``backend``, or ``None``."""
    built = manifest_backend(manifest)
    if built != backend:
        return f"index was built for the {built} vector backend, settings name {backend}"
    return None


def check_compatible(manifest: dict, model_id: str, splitter: dict) -> str | None:
    """Why the index cannot be reused as it is for these settings, or ``None`` when it can."""
    problem = version_problem(manifest)
    if problem:
        return problem
    if manifest["model"]["id"] != model_id:
        return f"index was built with model {manifest['model']['id']!r}, settings name {model_id!r}"
    if manifest["splitter"] != splitter:
        old = manifest["splitter"]
        changed = ", ".join(f"{k}: {old.get(k, 'none')} -> {splitter.get(k, 'none')}"
                            for k in sorted(set(old) | set(splitter), key=str) if old.get(k) != splitter.get(k))
        return f"splitter settings changed ({changed})"
    return None


def new_name(prefix: str) -> str:
    """A fresh name for a generation (``gen``: one version of the manifest) or a segment (``seg``)."""
    return f"{prefix}-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"


def write_manifest(folder: Path, manifest: dict) -> None:
    """Replace the manifest atomically: readers see the old one or this one, whole."""
    atomic_write_bytes(folder / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False).encode("utf-8"))


def current_segments(folder: Path) -> set[str]:
    """The segments the manifest in ``folder`` names (none when it cannot be read)."""
    with contextlib.suppress(IndexProblem, OSError, KeyError, TypeError):
        manifest = read_manifest(folder)
        if manifest and manifest.get("format") in READABLE:
            return {s["name"] for s in segments(manifest)}
    return set()
