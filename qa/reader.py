"""Extractive reader: picks the answer sentence among the retrieved passages.

(First version: the sentence most similar to the question; span extraction and calibrated
abstention come next.)
"""

from __future__ import annotations

import numpy as np

from .types import Answer

NO_ANSWER = "The documents do not seem to answer this."


class SentenceReader:
    needs_vector = True

    def __init__(self, settings):
        self.settings = settings
        self.pool = max(settings.k, 10)

    def warm_up(self, data, embedder) -> None:
        pass

    def read(self, question, qvec, retrieval, data, k) -> Answer:
        hits = retrieval.hits
        citations = tuple(hits[:k])
        best = None
        for n, hit in enumerate(hits[: self.pool]):
            lo, hi = int(data.sent_lo[hit.index]), int(data.sent_hi[hit.index])
            if hi <= lo:
                continue
            sims = np.asarray(data.sentence_vectors[lo:hi]) @ qvec
            j = int(np.argmax(sims))
            if best is None or sims[j] > best[0]:
                best = (float(sims[j]), lo + j, n)
        if best is None or best[0] < self.settings.abstain_threshold:
            return Answer(None, 0.0 if best is None else max(best[0], 0.0), None, None, None, None, None, None,
                          citations, message=NO_ANSWER)
        score, row, n = best
        _, di, s, e = (int(x) for x in data.sentences[row])
        doc = data.documents[di]
        if n >= k:
            citations = citations + (hits[n],)
        cited = next(i for i, h in enumerate(citations, start=1) if h.index == hits[n].index)
        text = doc.text[s:e]
        return Answer(text, min(max(score, 0.0), 1.0), doc.id, s, e, text, s, e, citations, cited)


def make_reader(settings):
    return SentenceReader(settings)
