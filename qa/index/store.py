"""The persisted index: documents, passages, sentences, their vectors, FAISS and BM25.

Layout of the index folder::

    manifest.json          what is indexed, with what settings, and a checksum of every data file
    gen-<id>/              one complete generation of data files
        documents.jsonl    id, title, author, date, kind, sha256, page offsets and the full (extracted) text
                           of each document
        passages.jsonl     doc, ordinal, start, end, section and page of each passage
        passage_vectors.npy, sentence_vectors.npy   float32, unit rows
        sentences.npy      int64 rows (passage, doc, start, end)
        dense.faiss        FAISS inner-product index over the passage vectors (``faiss`` backend;
                           with ``qdrant`` they are in a collection named after the generation,
                           see :mod:`qa.index.vectors`)
        bm25/              bm25s arrays (.npy) and JSON
    .lock                  held while writing

A new index is written to a fresh ``gen-*`` folder (each file fsynced), then ``manifest.json`` is
replaced atomically to point at it, then older generations are removed. A crash at any moment
leaves the previous manifest and generation intact. Nothing is pickled: arrays are ``.npy`` loaded
with ``allow_pickle=False`` and metadata is JSON.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import IndexProblem, IndexWriteError
from ..files import atomic_write_bytes, fsync_dir, sha256_file
from ..types import Document, Passage
from .vectors import EXACT_LIMIT, VectorIndex, VectorSettings, manifest_backend

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: A file inside every generation folder this program writes. Only folders that hold it (or the one
#: the replaced manifest named) are ever deleted, so a user's own ``gen-...`` folder never is.
MARKER = ".qa-generation"
MARKER_TEXT = b"written by qa: this index generation is deleted when a newer one replaces it\n"
#: errno values that mean "this folder cannot be written".
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)
_FULL = (errno.ENOSPC, errno.EDQUOT)


# ---------------------------------------------------------------------------------------------
# Files


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _write_jsonl(path: Path, rows: list[dict]) -> None:
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


# ---------------------------------------------------------------------------------------------
# Lock


@contextlib.contextmanager
def write_lock(folder: Path, timeout: float = 600.0) -> Iterator[None]:
    """Hold ``folder/.lock`` exclusively; wait up to ``timeout`` seconds for another writer."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise write_problem(folder, exc) from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise IndexProblem(
                        f"another process is writing the index in {str(folder)!r} "
                        f"(waited {timeout:.0f} s); try again when it has finished"
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)  # closing releases the lock


def write_problem(folder: Path, exc: OSError, needed: int | None = None) -> IndexWriteError:
    """A clear :class:`IndexWriteError` for an ``OSError`` met while writing the index."""
    where = str(folder)
    if exc.errno in _FULL:
        return IndexWriteError(f"disk full: {_space(folder, needed)} in {where!r}; the previous index is "
                               "unchanged and still answers: free some space, then run `qa index` again")
    if exc.errno in _READ_ONLY:
        return IndexWriteError(f"the index folder {where!r} is read-only ({exc.strerror or exc}): questions "
                               "are answered from the index as it is; to update it, make the folder writable "
                               "or pass --index DIR")
    return IndexWriteError(f"cannot write the index in {where!r} ({exc.strerror or exc}); the previous index "
                           "is unchanged and still answers")


def _space(folder: Path, needed: int | None) -> str:
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    mb = lambda n: f"{n / 2**20:,.1f} MB"  # noqa: E731
    need = f"about {mb(needed)} needed" if needed else "more space needed"
    return need + (f", {mb(free)} free" if free is not None else "")


def estimate_bytes(documents: list[Document], passages: list[Passage], *arrays: np.ndarray) -> int:
    """About how many bytes a generation of these documents takes on disk (texts twice: the
    documents file and BM25; passage vectors twice: the arrays and the vector index)."""
    text = sum(len(d.text.encode("utf-8", "surrogatepass")) for d in documents)
    return int(2.2 * text + 200 * len(passages) + sum(a.nbytes for a in arrays) + (arrays[0].nbytes if arrays else 0)
               + (1 << 20))


# ---------------------------------------------------------------------------------------------
# In-memory index


@dataclass
class IndexData:
    """Everything a query needs, loaded once. Never mutated after construction."""

    documents: list[Document]
    passages: list[Passage]
    passage_vectors: np.ndarray
    sentences: np.ndarray  #: int64 (m, 4): passage, doc index, start, end
    sentence_vectors: np.ndarray
    vectors: VectorIndex | None  #: ``None`` when loaded without it (the indexer reuses only the arrays)
    bm25: object
    manifest: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.doc_index = {d.id: i for i, d in enumerate(self.documents)}
        passage_doc = np.fromiter((self.doc_index[p.doc] for p in self.passages), dtype=np.int64,
                                  count=len(self.passages))
        self.passage_doc = passage_doc
        # sentences of passage i are rows sent_lo[i]:sent_hi[i] (sentences are sorted by passage)
        if len(self.sentences):
            sp = self.sentences[:, 0]
            idx = np.arange(len(self.passages))
            self.sent_lo = np.searchsorted(sp, idx, side="left")
            self.sent_hi = np.searchsorted(sp, idx, side="right")
        else:
            self.sent_lo = self.sent_hi = np.zeros(len(self.passages), dtype=np.int64)

    @property
    def generation(self) -> str:
        return self.manifest.get("generation", "")

    def close(self) -> None:
        """Release the vector index (a Qdrant client); call once no query uses this index."""
        if self.vectors is not None:
            self.vectors.close()

    def document(self, doc_id: str) -> Document:
        return self.documents[self.doc_index[doc_id]]

    def passage_ids_for(self, doc_ids) -> np.ndarray:
        wanted = np.array([self.doc_index[d] for d in doc_ids if d in self.doc_index], dtype=np.int64)
        return np.flatnonzero(np.isin(self.passage_doc, wanted))


# ---------------------------------------------------------------------------------------------
# Manifest


#: What to do about an index that cannot be used.
REBUILD = "run `qa index` with the documents to rebuild it"

_GENERATION = re.compile(r"gen-[A-Za-z0-9-]+")
_MANIFEST_FIELDS = {
    "generation": lambda v: isinstance(v, str) and _GENERATION.fullmatch(v) is not None,
    "faiss_version": lambda v: isinstance(v, str),
    "model": lambda v: isinstance(v, dict) and isinstance(v.get("id"), str) and isinstance(v.get("dim"), int),
    "splitter": lambda v: isinstance(v, dict),
    "passage_count": lambda v: isinstance(v, int),
    "documents": lambda v: isinstance(v, dict)
    and all(isinstance(d, dict) and isinstance(d.get("sha256"), str) for d in v.values()),
    "files": lambda v: isinstance(v, dict)
    and all(isinstance(h, str) and _safe_name(n) for n, h in v.items()),
}


def _safe_name(name: object) -> bool:
    """A relative file name that stays inside the generation folder."""
    return isinstance(name, str) and bool(name) and not name.startswith("/") and ".." not in name.split("/")


def read_manifest(folder: Path) -> dict | None:
    """The manifest, ``None`` when there is no index yet; :class:`IndexProblem` when unreadable.

    A manifest of this program's format must have every field in the expected shape; one of
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
    if manifest["format"] == FORMAT_VERSION:
        bad = [name for name, ok in _MANIFEST_FIELDS.items() if not ok(manifest.get(name))]
        if bad:
            raise IndexProblem(f"damaged index: {path} has missing or malformed {', '.join(bad)}; {REBUILD}")
    return manifest


def version_problem(manifest: dict) -> str | None:
    """Why this program cannot read the index at all (format or faiss version), or ``None``."""
    import faiss

    if manifest.get("format") != FORMAT_VERSION:
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
        return f"splitter settings changed ({manifest['splitter']} -> {splitter})"
    return None


def load(folder: Path, mmap: bool = True, vectors: VectorSettings | None = VectorSettings()) -> IndexData:
    """Load and verify the index in ``folder``. Raises :class:`IndexProblem` on any damage.

    ``vectors`` names the backend expected; ``None`` loads everything but the vector index.
    """
    for attempt in range(3):
        manifest = read_manifest(folder)
        if manifest is None:
            raise IndexProblem(f"no index in {str(folder)!r}: run `qa index`")
        problem = version_problem(manifest)
        problem = problem or (vectors and backend_problem(manifest, vectors.backend))
        if problem:
            raise IndexProblem(f"the index in {str(folder)!r} cannot be used: {problem}; {REBUILD}")
        try:
            return _load_generation(folder, manifest, mmap, vectors)
        except FileNotFoundError:
            # a writer may have switched generations between reading the manifest and the files
            newer = read_manifest(folder)
            if newer is None or newer.get("generation") == manifest.get("generation") or attempt == 2:
                raise IndexProblem(
                    f"damaged index: files of generation {manifest.get('generation')!r} are missing; {REBUILD}"
                ) from None
    raise AssertionError("unreachable")


def _verify_files(gen: Path, files: dict[str, str]) -> None:
    """Every file of the generation is listed in the manifest and matches its checksum."""
    on_disk = {p.relative_to(gen).as_posix() for p in gen.rglob("*") if p.is_file()}
    if set(files) - on_disk:
        raise FileNotFoundError(gen / sorted(set(files) - on_disk)[0])
    if on_disk - set(files):
        raise IndexProblem(f"damaged index: unexpected file(s) {', '.join(sorted(on_disk - set(files)))}; {REBUILD}")
    for name, digest in files.items():
        if sha256_file(gen / name) != digest:
            raise IndexProblem(f"damaged index: {name} does not match its checksum; {REBUILD}")


def _read_documents(gen: Path) -> list[Document]:
    return [Document.from_dict(d) for d in _read_jsonl(gen / "documents.jsonl")]


def stored_documents(folder: Path) -> dict[str, Document]:
    """The documents of the index in ``folder`` by id, from its documents file alone (checked
    against the manifest), so that files which did not change need not be parsed again; empty
    when there is no usable index."""
    try:
        manifest = read_manifest(folder)
        if manifest is None or manifest.get("format") != FORMAT_VERSION:
            return {}
        gen = folder / manifest["generation"]
        if sha256_file(gen / "documents.jsonl") != manifest["files"].get("documents.jsonl"):
            return {}
        return {d.id: d for d in _read_documents(gen)}
    except (IndexProblem, OSError, ValueError, KeyError, TypeError):  # no index, or one being replaced
        return {}


def _load_generation(folder: Path, manifest: dict, mmap: bool, vectors: VectorSettings | None) -> IndexData:
    from .lexical import BM25Index

    gen = folder / manifest["generation"]
    try:
        _verify_files(gen, manifest["files"])
        docs = _read_documents(gen)
        by_id = {d.id: d for d in docs}
        passages = []
        for row in _read_jsonl(gen / "passages.jsonl"):
            passages.append(Passage.from_dict(row, document=by_id[row["doc"]]))
        mode = "r" if mmap else None
        pvec = np.load(gen / "passage_vectors.npy", allow_pickle=False, mmap_mode=mode)
        sents = np.load(gen / "sentences.npy", allow_pickle=False)
        svec = np.load(gen / "sentence_vectors.npy", allow_pickle=False, mmap_mode=mode)
        bm25 = BM25Index.load(gen / "bm25", mmap=mmap)
        vindex = vectors.open(gen, manifest, mmap) if vectors else None
        dim = manifest["model"]["dim"]
        consistent = (
            len(passages) == manifest["passage_count"]
            and pvec.shape == (len(passages), dim)
            and (vindex is None or vindex.count == len(passages))
            and bm25.num_docs == max(len(passages), 1)
            and sents.ndim == 2 and sents.shape[1] == 4 and len(sents) == len(svec)
        )
        if not consistent:
            if vindex is not None:
                vindex.close()
            raise IndexProblem(f"damaged index: the data files disagree with the manifest; {REBUILD}")
        return IndexData(docs, passages, pvec, sents, svec, vindex, bm25, manifest)
    except (FileNotFoundError, IndexProblem):
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure means damage
        raise IndexProblem(f"damaged index: {type(exc).__name__}: {exc}; {REBUILD}") from None


def save(
    folder: Path,
    documents: list[Document],
    passages: list[Passage],
    passage_vectors: np.ndarray,
    sentences: np.ndarray,
    sentence_vectors: np.ndarray,
    model: dict,
    splitter: dict,
    exact_limit: int = EXACT_LIMIT,
    indexed: dict[str, str] | None = None,
    vectors: VectorSettings = VectorSettings(),
) -> dict:
    """Write a new generation and switch the manifest to it. Call with :func:`write_lock` held.

    ``indexed`` gives the time each document was indexed (default: now, for every document).
    Raises :class:`IndexWriteError` (disk full, read-only) after removing what it wrote: the
    previous generation stays whole and in use.
    """
    folder.mkdir(parents=True, exist_ok=True)
    previous = _current_generation(folder)
    needed = estimate_bytes(documents, passages, passage_vectors, sentence_vectors, sentences)
    with contextlib.suppress(OSError):
        if shutil.disk_usage(folder).free < needed:
            raise write_problem(folder, OSError(errno.ENOSPC, "No space left on device"), needed)
    generation = f"gen-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    gen = folder / generation
    try:
        manifest = _write_generation(folder, gen, documents, passages, passage_vectors, sentences,
                                     sentence_vectors, model, splitter, exact_limit, indexed, vectors)
    except OSError as exc:
        _discard(gen, vectors)  # a failed update cleans up after itself: the next one starts clean
        raise write_problem(folder, exc, needed) from None
    except BaseException:
        _discard(gen, vectors)
        raise
    remove_leftovers(folder, keep=generation, vectors=vectors, previous=previous)
    return manifest


def _current_generation(folder: Path) -> str | None:
    with contextlib.suppress(IndexProblem, OSError):
        manifest = read_manifest(folder)
        if manifest and isinstance(manifest.get("generation"), str) and _GENERATION.fullmatch(manifest["generation"]):
            return manifest["generation"]
    return None


def _discard(gen: Path, vectors: VectorSettings) -> None:
    """Remove a generation this call was writing (it has the marker, or is still empty), unless the
    manifest already names it (interrupted just after the switch: it is the index now)."""
    if _current_generation(gen.parent) == gen.name:
        return
    with contextlib.suppress(Exception):
        vectors.drop([gen.name])
    if gen.is_dir() and ((gen / MARKER).exists() or not any(gen.iterdir())):
        shutil.rmtree(gen, ignore_errors=True)


def _write_generation(folder, gen, documents, passages, passage_vectors, sentences, sentence_vectors, model,
                      splitter, exact_limit, indexed, vectors) -> dict:
    import faiss

    from .lexical import BM25Index

    generation = gen.name
    gen.mkdir()
    with open(gen / MARKER, "wb") as fh:
        fh.write(MARKER_TEXT)
    _write_jsonl(gen / "documents.jsonl", [d.to_dict() for d in documents])
    _write_jsonl(gen / "passages.jsonl", [p.to_dict(with_text=False) for p in passages])
    _save_npy(gen / "passage_vectors.npy", np.ascontiguousarray(passage_vectors, dtype=np.float32))
    _save_npy(gen / "sentences.npy", np.ascontiguousarray(sentences, dtype=np.int64))
    _save_npy(gen / "sentence_vectors.npy", np.ascontiguousarray(sentence_vectors, dtype=np.float32))
    vector_entry = vectors.build(gen, passage_vectors, [p.doc for p in passages], exact_limit)
    BM25Index.build([p.text for p in passages]).save(gen / "bm25")
    files = {}
    for path in sorted(gen.rglob("*")):
        if path.is_file():
            _fsync_file(path)
            files[path.relative_to(gen).as_posix()] = sha256_file(path)
    fsync_dir(gen)
    per_doc: dict[str, int] = {}
    for p in passages:
        per_doc[p.doc] = per_doc.get(p.doc, 0) + 1
    created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    indexed = indexed or {}
    manifest = {
        "format": FORMAT_VERSION,
        "generation": generation,
        "created": created,
        "faiss_version": faiss.__version__,
        "index_type": vector_entry.pop("index_type"),
        "vectors": vector_entry,
        "model": model,
        "splitter": splitter,
        "passage_count": len(passages),
        "sentence_count": int(len(sentences)),
        "documents": {
            d.id: {"sha256": d.sha256, "title": d.title, "passages": per_doc.get(d.id, 0),
                   "indexed": indexed.get(d.id, created)}
            for d in documents
        },
        "files": files,
    }
    atomic_write_bytes(folder / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False).encode("utf-8"))
    return manifest


def is_own_generation(path: Path, previous: str | None = None) -> bool:
    """Whether this program wrote the folder: it holds the marker, is the generation the replaced
    manifest named (indexes written before the marker existed), or is an empty ``gen-*`` folder
    left by a writer killed just after making it."""
    if path.is_symlink() or not path.is_dir() or not _GENERATION.fullmatch(path.name):
        return False
    if path.name == previous or (path / MARKER).is_file():
        return True
    with contextlib.suppress(OSError):
        return not any(path.iterdir())
    return False


def remove_leftovers(folder: Path, keep: str, vectors: VectorSettings = VectorSettings(),
                     previous: str | None = None) -> None:
    """Remove every generation this program wrote but ``keep`` (folders and Qdrant collections;
    ``previous`` names the generation of the manifest just replaced), and temporary files of
    writers that died. Folders it did not write are never touched (see :func:`is_own_generation`).
    Call with :func:`write_lock` held (readers of an old generation retry with the new manifest).
    A generation's folder is made before its collection and removed after it, so the folders name
    every collection this index wrote (a server may hold other indexes')."""
    old = [path for path in folder.glob("gen-*") if path.name != keep and is_own_generation(path, previous)]
    vectors.drop([path.name for path in old])
    for path in old:
        shutil.rmtree(path, ignore_errors=True)
    for path in folder.glob(f".{MANIFEST}.*.tmp"):
        path.unlink(missing_ok=True)
