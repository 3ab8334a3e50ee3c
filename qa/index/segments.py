"""Segments: the immutable folders the index is made of.

A segment is written once, every file fsynced, with a marker file saying this program wrote it, and
never changed after: an update writes a new segment and a new manifest (see :mod:`qa.index.store`).
Layout of a segment folder ``seg-<id>/``::

    .qa-segment            the marker
    documents.jsonl        id, title, author, date, kind, sha256, page offsets and the full (extracted)
                           text of each document, sorted by id
    passages.jsonl         doc, ordinal, start, end, section and page of each passage, by document
    passage_vectors.npy, sentence_vectors.npy   float32, unit rows
    sentences.npy          int64 rows (passage, doc, start, end), rows of this segment, by passage
    dense.faiss            FAISS inner-product index over the passage vectors (``faiss`` backend; with
                           ``qdrant``, a collection named after the segment)
    tokens.npy, token_offsets.npy, vocab.json   the passages' BM25 tokens (:class:`TokenTable`)

The one folder of a format-1 index (``gen-<id>/``, marker ``.qa-generation``) has ``bm25/`` (bm25s'
arrays) instead of the token files. Nothing is pickled: arrays are ``.npy`` loaded with
``allow_pickle=False``, metadata is JSON, and every file's checksum is verified before it is used.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import weakref
from pathlib import Path

import numpy as np

from ..errors import IndexProblem
from ..files import atomic_write_bytes, fsync_dir, sha256_file
from ..types import Document, Passage
from .lexical import BM25Index, TokenTable
from .manifest import REBUILD, SEGMENT, current_segments
from .vectors import EXACT_LIMIT, FaissVectors, VectorSettings

#: A file inside every segment folder this program writes. Only folders that hold it (or the one the
#: replaced manifest named) are ever deleted, so a user's own ``seg-...`` or ``gen-...`` folder never is.
MARKER = ".qa-segment"
MARKER_TEXT = b"written by qa: this index segment is deleted when no manifest names it any more\n"
#: The marker of the generation folders of format 1.
LEGACY_MARKER = ".qa-generation"


# ---------------------------------------------------------------------------------------------
# Files


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _write_jsonl(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, array, allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())


def write_segment(folder: Path, name: str, documents: list[Document], passages: list[Passage],
                  passage_vectors: np.ndarray, sentences: np.ndarray, sentence_vectors: np.ndarray,
                  tokens: TokenTable, vectors: VectorSettings, exact_limit: int = EXACT_LIMIT) -> tuple[dict, dict]:
    """Write segment ``folder/name`` (documents sorted by id, their passages in that order, sentence
    rows by passage) and fsync it; return its manifest entry and the vector backend's entry."""
    seg = folder / name
    seg.mkdir()
    with open(seg / MARKER, "wb") as fh:
        fh.write(MARKER_TEXT)
    _write_jsonl(seg / "documents.jsonl", (d.to_dict() for d in documents))
    _write_jsonl(seg / "passages.jsonl", (p.to_dict(with_text=False) for p in passages))
    _save_npy(seg / "passage_vectors.npy", np.ascontiguousarray(passage_vectors, dtype=np.float32))
    _save_npy(seg / "sentences.npy", np.ascontiguousarray(sentences, dtype=np.int64))
    _save_npy(seg / "sentence_vectors.npy", np.ascontiguousarray(sentence_vectors, dtype=np.float32))
    vector_entry = vectors.build(seg, passage_vectors, [p.doc for p in passages], exact_limit)
    tokens.save(seg, _save_npy)
    files, checked = {}, {}
    for path in sorted(seg.rglob("*")):
        if path.is_file():
            _fsync_file(path)
            rel = path.relative_to(seg).as_posix()
            files[rel] = file_digest(path)
            checked[f"{name}/{rel}"] = [*_signature(path)[1:], files[rel]]
    fsync_dir(seg)
    _remember_verified(folder, checked)  # written here, so verified
    entry = {"name": name, "passages": len(passages), "sentences": int(len(sentences)),
             "index_type": vector_entry.pop("index_type"), "files": files}
    return entry, vector_entry


# ---------------------------------------------------------------------------------------------
# Checksums, verified once per file version in a process


_digests: dict[tuple, str] = {}

#: In the index folder: the checksum of each segment file as last verified, with the file's
#: signature then (device, inode, size, modification and change times), so that a new process need
#: not read every byte again: a file written since has another change time (which no program can set
#: back) and is hashed again. A cache only: any problem reading or writing it means hashing.
VERIFIED = "verified.json"


def _signature(path: Path) -> tuple:
    st = path.stat()
    return (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def file_digest(path: Path) -> str:
    """sha256 of a file, remembered while the file is unchanged (same inode, size and times)."""
    key = _signature(path)
    digest = _digests.get(key)
    if digest is None:
        digest = _digests[key] = sha256_file(path)
    return digest


def _recorded(known: dict[str, list], seg: Path, name: str) -> tuple[str | None, list]:
    """The checksum ``known`` records for file ``name`` of segment ``seg`` if the file's signature
    is still the recorded one (else ``None``), and the file's record entry as it is now, less the
    checksum."""
    now = list(_signature(seg / name)[1:])
    entry = known.get(f"{seg.name}/{name}")
    return (entry[5] if entry is not None and entry[:5] == now else None), now


def recorded_digest(path: Path) -> str:
    """The checksum of a segment's file: as recorded when it was last verified, if it has not
    changed since, else hashed."""
    digest, _ = _recorded(_read_verified(path.parent.parent), path.parent, path.name)
    return digest or file_digest(path)


def _read_verified(folder: Path) -> dict[str, list]:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads((folder / VERIFIED).read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("version") == 1 and isinstance(data.get("files"), dict):
            return {k: v for k, v in data["files"].items()
                    if isinstance(v, list) and len(v) == 6 and isinstance(v[5], str)}
    return {}


def _remember_verified(folder: Path, checked: dict[str, list]) -> None:
    """Add ``checked`` (relative path: signature and digest) to the folder's record, dropping the
    files that are gone; best effort (a read-only index folder is hashed at every start)."""
    merged = {k: v for k, v in _read_verified(folder).items() if k not in checked and (folder / k).is_file()}
    merged.update(checked)
    with contextlib.suppress(OSError):
        atomic_write_bytes(folder / VERIFIED, json.dumps({"version": 1, "files": merged}).encode("utf-8"))


def verify_files(seg: Path, files: dict[str, str], fully: bool = False) -> None:
    """Every file of the segment is listed in the manifest and matches its checksum (hashed, or
    found unchanged since it was last verified; ``fully``: hashed whatever the record says)."""
    on_disk = {p.relative_to(seg).as_posix() for p in seg.rglob("*") if p.is_file()}
    if set(files) - on_disk:
        raise FileNotFoundError(seg / sorted(set(files) - on_disk)[0])
    if on_disk - set(files):
        raise IndexProblem(f"damaged index: unexpected file(s) {', '.join(sorted(on_disk - set(files)))}; {REBUILD}")
    known = {} if fully else _read_verified(seg.parent)
    checked = {}
    for name, digest in files.items():
        recorded, now = _recorded(known, seg, name)
        if recorded != digest:  # not recorded as verified: hashed
            found = sha256_file(seg / name) if fully else file_digest(seg / name)
            if found != digest:
                raise IndexProblem(f"damaged index: {name} does not match its checksum; {REBUILD}")
        checked[f"{seg.name}/{name}"] = [*now, digest]
    if any(known.get(rel) != value for rel, value in checked.items()):
        _remember_verified(seg.parent, checked)


# ---------------------------------------------------------------------------------------------
# Loading


#: The documents of each segment file read by this process, with the file's signature: an update
#: reads them to skip unchanged files, then loads the segment (entries of removed segments are dropped).
_documents: dict[str, tuple[tuple, list[Document]]] = {}


def read_documents(seg: Path) -> list[Document]:
    path = seg / "documents.jsonl"
    key = _signature(path)
    hit = _documents.get(str(path))
    if hit is None or hit[0] != key:
        for gone in [k for k in _documents if not Path(k).exists()]:
            del _documents[gone]
        hit = _documents[str(path)] = (key, [Document.from_dict(d) for d in _read_jsonl(path)])
    return list(hit[1])


def _read_passages(path: Path, documents: list[Document], doc_index: dict[str, int]) -> list[Passage]:
    """The rows of ``passages.jsonl``, parsed as one JSON array (twice as fast as line by line)."""
    with open(path, encoding="utf-8") as fh:
        rows = json.loads("[" + ",".join(line for line in fh.read().split("\n") if line.strip()) + "]")
    return [Passage.from_dict(row, document=documents[doc_index[row["doc"]]]) for row in rows]


class Segment:
    """One segment's data as loaded (arrays memory-mapped); shared by every index that names it."""

    def __init__(self, path: Path, mmap: bool) -> None:
        self.path, self.name, self.mmap = path, path.name, mmap
        self.documents = read_documents(path)
        self.doc_index = {d.id: i for i, d in enumerate(self.documents)}
        self.passages = _read_passages(path / "passages.jsonl", self.documents, self.doc_index)
        mode = "r" if mmap else None
        self.passage_vectors = np.load(path / "passage_vectors.npy", allow_pickle=False, mmap_mode=mode)
        self.sentences = np.load(path / "sentences.npy", allow_pickle=False)
        self.sentence_vectors = np.load(path / "sentence_vectors.npy", allow_pickle=False, mmap_mode=mode)
        legacy = (path / "bm25").is_dir()
        self.tokens = None if legacy else TokenTable.load(path, mmap=mmap)
        self.bm25 = BM25Index.load(path / "bm25", mmap=mmap) if legacy else None
        self._dense: FaissVectors | None = None
        # rows of each document: passages doc_passages[i]:doc_passages[i + 1], the same for sentences
        passage_doc = np.fromiter((self.doc_index[p.doc] for p in self.passages), np.int64, len(self.passages))
        if len(passage_doc) and np.any(np.diff(passage_doc) < 0):
            raise ValueError("passages are not in document order")
        n = len(self.documents)
        self.doc_passages = np.searchsorted(passage_doc, np.arange(n + 1), side="left")
        if len(self.sentences):
            if self.sentences.ndim != 2 or self.sentences.shape[1] != 4 or np.any(np.diff(self.sentences[:, 0]) < 0):
                raise ValueError("sentence rows are not in passage order")
            self.doc_sentences = np.searchsorted(self.sentences[:, 0], self.doc_passages, side="left")
        else:
            self.doc_sentences = np.zeros(n + 1, dtype=np.int64)

    def dense(self) -> FaissVectors:
        """The segment's FAISS index (opened once)."""
        if self._dense is None:
            self._dense = FaissVectors.load(self.path / "dense.faiss", self.mmap)
        return self._dense

    def check(self, entry: dict, dim: int) -> None:
        """Raise :class:`IndexProblem` when the data disagree with the manifest's entry."""
        n = len(self.passages)
        consistent = (
            n == entry["passages"]
            and self.passage_vectors.shape == (n, dim)
            and self.sentences.ndim == 2 and self.sentences.shape[1] == 4
            and len(self.sentences) == len(self.sentence_vectors)
            and self.sentence_vectors.shape[1:] == (dim,)
            and entry["sentences"] in (-1, len(self.sentences))
            and (self.tokens is None or len(self.tokens) == n)
            and (self.bm25 is None or self.bm25.num_docs == max(n, 1))
        )
        if not consistent:
            raise IndexProblem(f"damaged index: the data files disagree with the manifest; {REBUILD}")


_loaded: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
#: The segments of the index this process opened last, kept loaded while no index holds them: an
#: update opens the index, writes a segment, and the load that follows reuses the others.
_held: list[Segment] = []


def hold(segments: list[Segment]) -> None:
    _held[:] = segments


def open_segment(folder: Path, entry: dict, dim: int, mmap: bool = True, fully: bool = False) -> Segment:
    """The segment ``entry`` of the manifest, verified (checksums) and checked (shapes); loaded once
    per process while any index holds it and its files do not change. Raises
    :class:`FileNotFoundError` when it is gone (a writer replaced it), :class:`IndexProblem` on damage."""
    seg = folder / entry["name"]
    verify_files(seg, entry["files"], fully)
    key = (str(seg.resolve()), mmap, tuple(_signature(seg / name) for name in sorted(entry["files"])))
    segment = _loaded.get(key)
    if segment is None:
        try:
            segment = Segment(seg, mmap)
        except (FileNotFoundError, IndexProblem):
            raise
        except Exception as exc:  # noqa: BLE001 - any parse failure means damage
            raise IndexProblem(f"damaged index: {type(exc).__name__}: {exc}; {REBUILD}") from None
        _loaded[key] = segment
    segment.check(entry, dim)
    return segment


# ---------------------------------------------------------------------------------------------
# Removing what no manifest names


def is_own_segment(path: Path, previous: set[str] = frozenset()) -> bool:
    """Whether this program wrote the folder: it holds a marker, is a segment the replaced manifest
    named (generations written before the marker existed), or is an empty ``seg-*``/``gen-*``
    folder left by a writer killed just after making it."""
    if path.is_symlink() or not path.is_dir() or not SEGMENT.fullmatch(path.name):
        return False
    if path.name in previous or (path / MARKER).is_file() or (path / LEGACY_MARKER).is_file():
        return True
    with contextlib.suppress(OSError):
        return not any(path.iterdir())
    return False


def remove_leftovers(folder: Path, keep: set[str], vectors: VectorSettings = VectorSettings(),
                     previous: set[str] = frozenset()) -> None:
    """Remove every segment this program wrote but those in ``keep`` (folders and Qdrant collections;
    ``previous`` names the segments of the manifest just replaced), and temporary files of writers
    that died. Folders it did not write are never touched (see :func:`is_own_segment`). Call with the
    write lock held (readers of an old manifest retry with the new one). A segment's folder is made
    before its collection and removed after it, so the folders name every collection this index
    wrote (a server may hold other indexes')."""
    old = [path for path in sorted(folder.iterdir()) if path.name not in keep and is_own_segment(path, previous)]
    vectors.drop([path.name for path in old])
    for path in old:
        shutil.rmtree(path, ignore_errors=True)
    gone = tuple(f"{path}{os.sep}" for path in old)
    for key in [key for key in _digests if key[0].startswith(gone)]:
        del _digests[key]  # checksums of files removed with their segment
    if old:
        _remember_verified(folder, {})  # the record drops them too
    for pattern in (".manifest.json.*.tmp", f".{VERIFIED}.*.tmp"):
        for path in folder.glob(pattern):
            path.unlink(missing_ok=True)


def discard(seg: Path, vectors: VectorSettings) -> None:
    """Remove a segment this call was writing (it has the marker, or is still empty), unless the
    manifest already names it (interrupted just after the switch: it is part of the index now)."""
    if seg.name in current_segments(seg.parent):
        return
    with contextlib.suppress(Exception):
        vectors.drop([seg.name])
    if seg.is_dir() and ((seg / MARKER).exists() or not any(seg.iterdir())):
        shutil.rmtree(seg, ignore_errors=True)
