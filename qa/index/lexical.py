"""BM25 over passages with bm25s (English stop words, Snowball stemming).

Persisted as bm25s' own ``.npy`` arrays and JSON (never pickle), loaded memory-mapped.
The same tokenizer is used for documents, questions and the reader's word overlap.
"""

from __future__ import annotations

import logging
import math
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

K1 = 1.5
B = 0.75


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
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every build at DEBUG
        model = bm25s.BM25(k1=K1, b=B)
        tokens = tokenize(texts)
        # bm25s needs a non-empty vocabulary; a corpus of stop words alone gets a placeholder.
        if not any(tokens):
            tokens = [["\u2400"]] + tokens[1:] if tokens else [["\u2400"]]
        model.index(tokens, show_progress=False)
        return cls(model)

    def save(self, folder: Path) -> None:
        self._model.save(str(folder))

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
