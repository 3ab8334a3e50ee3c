"""What is embedded for a document, and embedding it while the rest of the folder is still read.

:func:`embedding_inputs` turns a document's passages and sentence spans into what the embedder
reads: the passages' texts (with the title and section when context is embedded) and, per
passage, where its sentences lie in that text. The indexer uses it for every new document.

:class:`EmbedAhead` overlaps reading with embedding: the parser reads and splits each file in its
worker process while a thread of this process embeds the documents already read (torch releases
the GIL while it computes), on every core but the worker's, in slices of :data:`AHEAD_PASSAGES`
passages, until reading is done. The indexer takes those vectors instead of embedding the same texts
again, and embeds what was not reached (on every core), unchanged documents aside; after a failure
it embeds everything itself, so the index is the same either way.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from dataclasses import dataclass

import numpy as np

from ..ingest.chunking import embedding_text
from ..ingest.parsing import Split
from ..types import Document, Passage

log = logging.getLogger("qa")

AHEAD_PASSAGES = 64  #: passages gathered before the thread embeds them (a few batches, sorted by length)
#: Passages the thread embeds in one call: when reading is done it stops after the call under way, and the indexer
#: embeds the rest with its progress shown (a call of a few hundred passages left the start-up page on "reading
#: document 9 of 9" for 13-26 s).
AHEAD_SLICE = 16


@dataclass
class Inputs:
    """One document's passages as the embedder reads them."""

    texts: list[str]  #: per passage, the text embedded
    sentences: list[tuple[int, int, int, int]]  #: (passage row, document row, start, end) of each sentence
    spans: list[list[tuple[int, int]]]  #: per passage, its sentences' (start, end) in its embedded text
    owners: list[list[int]]  #: per passage, the slot (in ``sentence_texts``) of each of its sentences
    slots: list[int]  #: per sentence row, its slot
    sentence_texts: list[str]  #: each distinct sentence once (one in the overlap of two passages is one)


def assign_sentences(spans, passages: list[Passage], base: int, doc_index: int) -> list[tuple[int, int, int, int]]:
    """Give each passage the sentences that overlap it (a sentence on a boundary goes to both),
    clipped to the passage so the sentence text is always inside the passage shown."""
    rows = []
    j = 0
    for pi, p in enumerate(passages):
        while j < len(spans) and spans[j][1] <= p.start:
            j += 1
        k = j
        while k < len(spans) and spans[k][0] < p.end:
            s, e = max(spans[k][0], p.start), min(spans[k][1], p.end)
            if e - s >= 2:
                rows.append((base + pi, doc_index, s, e))
            k += 1
    return rows


def embedding_inputs(doc: Document, passages: list[Passage], spans, embed_context: bool,
                     base: int = 0, doc_index: int = 0) -> Inputs:
    """What embedding ``doc`` takes: see :class:`Inputs` (``base``: the row of its first passage)."""
    texts = [embedding_text(p) if embed_context else p.text for p in passages]
    sentences = assign_sentences(spans, passages, base, doc_index)
    out = Inputs(texts, sentences, [[] for _ in passages], [[] for _ in passages], [], [])
    seen: dict[tuple[int, int], int] = {}
    for pi, _, s, e in sentences:
        if (s, e) not in seen:
            seen[(s, e)] = len(out.sentence_texts)
            out.sentence_texts.append(doc.text[s:e])
        out.slots.append(seen[(s, e)])
        # where the sentence lies in the text embedded for its passage (after any title line)
        k = pi - base
        shift = len(texts[k]) - len(passages[k].text) - passages[k].start
        out.spans[k].append((s + shift, e + shift))
        out.owners[k].append(out.slots[-1])
    return out


class EmbedAhead:
    """Embeds documents as they are read, in a thread, with an embedder that pools sentences
    (``encode_passages``). ``indexed``: document id -> content hash of what the index holds (those
    documents, when unchanged, are not embedded); ``None`` embeds every document read.

    ``reader(parser)`` gives the ``read`` function for :func:`~qa.ingest.documents.load_folder`;
    after loading, :meth:`finish` waits for the thread; :attr:`splits` holds each read document's
    split (or the ``ValueError`` that skips it) and :meth:`vectors` what was embedded.
    """

    def __init__(self, embedder, batch_size: int, embed_context: bool, indexed: dict[str, str] | None,
                 chunk: int | None = None):
        self.embedder = embedder
        self.batch_size = batch_size
        self.embed_context = embed_context
        self.indexed = indexed
        self.chunk = chunk or AHEAD_PASSAGES
        self.splits: dict[str, Split | ValueError] = {}
        self._done: dict[str, tuple[Inputs, np.ndarray, list[np.ndarray]]] = {}
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def reader(self, parser):
        def read(path, doc_id: str) -> Document:
            doc = parser.read(path, doc_id)
            try:
                self.splits[doc.id] = split = parser.split(doc)
            except ValueError as exc:  # skipped later, where the other reasons are gathered
                self.splits[doc.id] = exc
                return doc
            if self.indexed is None or self.indexed.get(doc.id) != doc.sha256:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="qa-embed-ahead", daemon=True)
                    self._thread.start()
                self._queue.put((doc, split))
            return doc

        return read

    def _run(self) -> None:
        pending: list[tuple[str, Inputs]] = []
        while not self._stop.is_set():
            item = self._queue.get()
            if item is not None:
                doc, (passages, spans) = item
                pending.append((doc.id, embedding_inputs(doc, passages, spans, self.embed_context)))
            if pending and sum(len(x.texts) for _, x in pending) >= self.chunk and not self._stop.is_set():
                if self.error is None:
                    try:
                        self._embed(pending)
                    except Exception as exc:  # noqa: BLE001 - the indexer embeds them itself
                        self.error = exc
                        log.warning("embedding while reading failed (%s); embedding after reading instead", exc)
                pending = []
            if item is None:
                return

    def _embed(self, pending: list[tuple[str, Inputs]]) -> None:
        """Embed the pending documents, :data:`AHEAD_SLICE` passages a call, until :meth:`finish` asks to stop;
        a document is kept only when all its passages were embedded."""
        texts = [t for _, x in pending for t in x.texts]
        spans = [s for _, x in pending for s in x.spans]
        # one core less: the parser's worker has it while files are still being read
        threads = max(1, (os.cpu_count() or 2) - 1)
        vectors, pooled = [], []
        for i in range(0, len(texts), AHEAD_SLICE):
            if self._stop.is_set():
                break
            v, p = self.embedder.encode_passages(texts[i:i + AHEAD_SLICE], spans[i:i + AHEAD_SLICE],
                                                 batch_size=self.batch_size, threads=threads)
            vectors.append(np.asarray(v))
            pooled.extend(p)
        done = sum(len(v) for v in vectors)
        vectors = np.concatenate(vectors) if vectors else np.zeros((0, 0), np.float32)
        at = 0
        for doc_id, x in pending:
            n = len(x.texts)
            if at + n > done:
                break
            self._done[doc_id] = (x, vectors[at : at + n], pooled[at : at + n])
            at += n

    def finish(self, progress=None) -> None:
        """Stop when the call under way (:data:`AHEAD_SLICE` passages at most) is done: what is left is embedded
        by the indexer, on every core and with its progress shown, once reading is over. While the thread is
        still loading the embedding model (its first call: torch and the weights, seconds), ``progress`` is told
        so, not left on the last file read."""
        if self._thread is not None:
            if progress is not None and self._thread.is_alive() and not getattr(self.embedder, "loaded", True):
                progress(0.0, "loading the embedding model")
            self._stop.set()
            self._queue.put(None)
            self._thread.join()

    def vectors(self, doc_id: str, texts: list[str], spans: list[list[tuple[int, int]]]):
        """``(passage vectors, pooled sentence vectors per passage)`` embedded ahead for exactly these
        texts and spans, or ``None``."""
        done = self._done.get(doc_id)
        if done is None or done[0].texts != texts or done[0].spans != spans:
            return None
        return done[1], done[2]
