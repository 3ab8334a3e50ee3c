"""BM25 over passages with bm25s (English stop words, Snowball stemming).

Each segment of the index stores its passages already tokenised (:class:`TokenTable`: token ids as
``.npy``, the vocabulary as JSON; never pickle); at load, one bm25s index is built over the tokens of
every live passage, so corpus statistics (IDF, average length) are those of the whole index, as if it
had been built in one go. Indexes of format 1 hold bm25s' own arrays instead (:meth:`BM25Index.load`).
The same tokenizer is used for documents, questions and the reader's word overlap.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

#: BM25's term-frequency saturation and length normalisation, chosen on held-out data (SciFact train claims and
#: held-out SQuAD train articles, hybrid retrieval; ``bench/bm25_params.py``, docs/benchmarks.md) over bm25s'
#: defaults of 1.5 and 0.75. The BM25 index is built from the stored tokens at load, so no re-indexing follows.
K1 = 0.6
B = 0.55


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stop words removed, stemmed word tokens for each text."""
    import bm25s

    return bm25s.tokenize(
        list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
    )


#: Stands in for the vocabulary of a corpus made of stop words alone (bm25s needs one token).
PLACEHOLDER = "\u2400"


@dataclass(frozen=True)
class TokenTable:
    """The tokens of a run of passages: passage ``i`` is ``vocab[ids[offsets[i]:offsets[i + 1]]]``."""

    ids: np.ndarray  #: int32 indices into ``vocab``, every passage's tokens in order
    offsets: np.ndarray  #: int64, one more than the passages
    vocab: list[str]

    FILES = ("tokens.npy", "token_offsets.npy", "vocab.json")

    @classmethod
    def of(cls, texts: Sequence[str]) -> "TokenTable":
        vocab: dict[str, int] = {}
        tokens = tokenize(texts)
        ids = np.fromiter((vocab.setdefault(t, len(vocab)) for doc in tokens for t in doc), dtype=np.int32)
        offsets = np.zeros(len(tokens) + 1, dtype=np.int64)
        np.cumsum([len(doc) for doc in tokens], out=offsets[1:])
        return cls(ids, offsets, list(vocab))

    @classmethod
    def concat(cls, runs: Sequence[tuple["TokenTable", int, int]]) -> "TokenTable":
        """Passages ``lo:hi`` of each table, one after the other, over the union of the vocabularies."""
        vocab: dict[str, int] = {}
        ids, lengths = [], []
        remaps: dict[int, np.ndarray] = {}
        for table, lo, hi in runs:
            remap = remaps.get(id(table))
            if remap is None:
                remap = remaps[id(table)] = np.fromiter((vocab.setdefault(t, len(vocab)) for t in table.vocab),
                                                        dtype=np.int32, count=len(table.vocab))
            ids.append(remap[table.ids[table.offsets[lo]:table.offsets[hi]]])
            lengths.append(np.diff(table.offsets[lo:hi + 1]))
        offsets = np.zeros(sum(len(n) for n in lengths) + 1, dtype=np.int64)
        if lengths:
            np.cumsum(np.concatenate(lengths), out=offsets[1:])
        flat = np.concatenate(ids).astype(np.int32, copy=False) if ids else np.zeros(0, np.int32)
        return cls(flat, offsets, list(vocab))

    def save(self, folder: Path, save_npy) -> None:
        """Write the three files into ``folder`` (``save_npy(path, array)`` writes an array)."""
        save_npy(folder / "tokens.npy", np.ascontiguousarray(self.ids, dtype=np.int32))
        save_npy(folder / "token_offsets.npy", np.ascontiguousarray(self.offsets, dtype=np.int64))
        (folder / "vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> "TokenTable":
        mode = "r" if mmap else None
        ids = np.load(folder / "tokens.npy", allow_pickle=False, mmap_mode=mode)
        offsets = np.load(folder / "token_offsets.npy", allow_pickle=False)
        vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        ok = (ids.ndim == 1 and ids.dtype == np.int32 and offsets.ndim == 1 and offsets.dtype == np.int64
              and len(offsets) >= 1 and offsets[0] == 0 and offsets[-1] == len(ids)
              and bool(np.all(np.diff(offsets) >= 0)) and isinstance(vocab, list)
              and all(isinstance(t, str) for t in vocab) and (len(ids) == 0 or 0 <= int(ids.min()) <= int(ids.max()) < len(vocab)))
        if not ok:
            raise ValueError("the token files of a segment disagree with each other")
        return cls(ids, offsets, vocab)

    def __len__(self) -> int:
        return len(self.offsets) - 1


class _FlatIds:
    """Token ids of every passage as one flat array and offsets (what :class:`_BM25` indexes)."""

    def __init__(self, ids: np.ndarray, offsets: np.ndarray) -> None:
        self.ids, self.offsets = ids, offsets


#: Token count from which the counts of :func:`token_passage_counts` are made by scipy (2-3x faster
#: than a sort, but importing scipy costs about 0.2 s: more than the sort of a small index).
SPARSE_FROM = 2_000_000


def token_passage_counts(ids: np.ndarray, offsets: np.ndarray, n_vocab: int):
    """The distinct (token, passage) pairs of passages ``ids[offsets[i]:offsets[i + 1]]`` with their
    counts, sorted by token then passage (the order of bm25s' compressed sparse columns), as
    (passages per token, passage of each pair, count of each pair)."""
    n_docs = len(offsets) - 1
    if len(ids) < SPARSE_FROM:
        pairs, tf = np.unique(ids.astype(np.int64) * n_docs
                              + np.repeat(np.arange(n_docs, dtype=np.int64), np.diff(offsets)), return_counts=True)
        return np.bincount(pairs // n_docs, minlength=n_vocab), pairs % n_docs, tf
    import scipy.sparse

    # the tokens are already the rows of a passage x token matrix: scipy sums repeats within each
    # row and transposes in linear time
    rows = scipy.sparse.csr_matrix((np.ones(len(ids), dtype=np.int32), ids, offsets), shape=(n_docs, n_vocab),
                                   copy=True)  # summing sorts the indices in place: not the caller's ids
    rows.sum_duplicates()
    counts = rows.tocsc()
    counts.sort_indices()
    return np.diff(counts.indptr), counts.indices, counts.data


def _bm25s_model():
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every build at DEBUG

    class BM25(bm25s.BM25):
        """bm25s, with its score matrix built by array operations instead of a Python loop per passage
        (bm25s' documented extension point); the scores are bm25s' own: its IDF and term-frequency
        functions, the same float types, the same sparse layout."""

        def build_index_from_ids(self, unique_token_ids, corpus_token_ids, show_progress=True,
                                 leave_progress=False):
            if not isinstance(corpus_token_ids, _FlatIds):
                return super().build_index_from_ids(unique_token_ids, corpus_token_ids, show_progress,
                                                    leave_progress)
            from bm25s.scoring import _build_idf_array, _select_idf_scorer, _select_tfc_scorer

            if self.method not in ("robertson", "lucene", "atire"):
                raise ValueError(f"BM25 method {self.method!r} is not supported")
            self.nonoccurrence_array = None  # only BM25L and BM25+ have one
            ids, offsets = corpus_token_ids.ids, corpus_token_ids.offsets
            n_docs, n_vocab = len(offsets) - 1, len(unique_token_ids)
            doc_len = np.diff(offsets)
            avg_doc_len = np.array(doc_len).mean()
            df, doc_idx, tf = token_passage_counts(ids, offsets, n_vocab)
            voc_idx = np.repeat(np.arange(n_vocab, dtype=np.int64), df)
            idf = _build_idf_array(dict(enumerate(df.tolist())), n_docs, _select_idf_scorer(self.idf_method),
                                   self.dtype)
            tfc = _select_tfc_scorer(self.method)(tf_array=tf.astype(self.dtype), l_d=doc_len[doc_idx],
                                                  l_avg=avg_doc_len, k1=self.k1, b=self.b, delta=self.delta)
            data = (idf[voc_idx] * tfc).astype(self.dtype)
            indptr = np.zeros(n_vocab + 1, dtype=np.int64)
            np.cumsum(df, out=indptr[1:])
            indices = doc_idx.astype(self.int_dtype)
            return {"data": data, "indices": indices, "indptr": indptr, "num_docs": n_docs}

    return BM25(k1=K1, b=B)


class BM25Index:
    def __init__(self, model):
        self._model = model
        indptr = np.asarray(model.scores["indptr"])
        n = int(model.scores["num_docs"])
        df = np.diff(indptr).astype(np.float64)
        #: Robertson-Sparck Jones IDF of each vocabulary id (as bm25s' "lucene" method uses).
        self.idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        self.vocab: dict[str, int] = model.vocab_dict
        self.num_docs = n

    @classmethod
    def build(cls, texts: Sequence[str]) -> "BM25Index":
        return cls.from_tokens(TokenTable.of(texts))

    @classmethod
    def from_tokens(cls, table: TokenTable) -> "BM25Index":
        """The index of these tokenised passages: the same scores bm25s gives when it indexes their
        texts itself, with only the tokens that occur in a vocabulary."""
        from bm25s.tokenization import Tokenized

        ids = np.asarray(table.ids)
        used = np.flatnonzero(np.bincount(ids, minlength=len(table.vocab)))
        compact = np.zeros(len(table.vocab), dtype=np.int32)
        compact[used] = np.arange(len(used), dtype=np.int32)
        ids = compact[ids]
        vocab = {table.vocab[t]: i for i, t in enumerate(used.tolist())}
        offsets = np.asarray(table.offsets, dtype=np.int64)
        if not vocab:  # bm25s needs a non-empty vocabulary: a corpus of stop words alone gets a placeholder
            vocab, ids = {PLACEHOLDER: 0}, np.zeros(1, np.int64)
            offsets = np.concatenate([[0], np.maximum(offsets[1:], 1)]) if len(offsets) > 1 else np.array([0, 1])
        model = _bm25s_model()
        model.index(Tokenized(ids=_FlatIds(ids.ravel(), offsets), vocab=vocab), show_progress=False)
        return cls(model)

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> "BM25Index":
        import bm25s

        return cls(bm25s.BM25.load(str(folder), mmap=mmap, load_corpus=False))

    def knows(self, words: Sequence[str]) -> list[bool]:
        """For each word: whether BM25 matches it (its stem is in the vocabulary) or leaves it out
        (a stop word)."""
        return [all(t in self.vocab for t in tokens) for tokens in tokenize(words)]

    def token_ids(self, tokens: Sequence[str]) -> list[int]:
        return [self.vocab[t] for t in tokens if t in self.vocab]

    def scores(self, question: str) -> np.ndarray:
        """BM25 score of every passage for the question (zeros when no word is known)."""
        ids = self.token_ids(tokenize([question])[0])
        if not ids:
            return np.zeros(self.num_docs, dtype=np.float32)
        return np.asarray(self._model.get_scores_from_ids(ids), dtype=np.float32)

    def idf_of(self, token: str) -> float:
        i = self.vocab.get(token)
        return float(self.idf[i]) if i is not None else math.log(1.0 + (self.num_docs + 0.5) / 0.5)
