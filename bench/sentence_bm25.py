"""The passage's best sentence by BM25, as a third fusion signal: each of hybrid's first 100 passages also scored by
the BM25 score of its best sentence (its sentences from the index, each scored as a document with the passage
index's IDF, k1 and b, the average length that of the sentences scored for the query), z-scored over the candidates
and added to the fused score with weight ``w``. The weight is chosen on squad-train alone; the rule that decides
(written before the run) is in docs/benchmarks.md. Document level (seeds by passage), the product's fusion as it is
otherwise, paired Fisher randomization tests against it. Candidates come from ``bench/fusion.py``'s cache; each set's
index is loaded (built when missing) for its sentences.

    python bench/sentence_bm25.py --sets squad-train scifact-train squad-dev shifts-nw shifts-reddit shifts-amazon \
        seeds scifact-test
"""

from __future__ import annotations

import sys

import numpy as np
from fusion import (REPORT_SETS, TUNE_SETS, candidate_args, candidates, dataset, product_weight, report_sets, runs,
                    set_pipeline)

from qa.config import Settings
from qa.index.lexical import B, K1, tokenize

WEIGHTS = (0.1, 0.2, 0.3, 0.5)


class SentenceBM25:
    """BM25 of a passage's best sentence for a query, the sentences' tokens kept once tokenised."""

    def __init__(self, data):
        self.data = data
        self.bm25 = data.bm25
        self._tokens: dict[int, list[np.ndarray]] = {}

    def sentence_ids(self, p: int) -> list[np.ndarray]:
        if p not in self._tokens:
            d = self.data
            rows = d.sentences[d.sent_lo[p]:d.sent_hi[p]]
            texts = [d.documents[int(di)].text[int(s):int(e)] for _, di, s, e in rows]
            vocab = self.bm25.vocab
            self._tokens[p] = [np.array([vocab.get(t, -1) for t in toks], np.int64) for toks in tokenize(texts)]
        return self._tokens[p]

    def best(self, question: str, passages: list[int]) -> np.ndarray:
        q = np.array(self.bm25.token_ids(tokenize([question])[0]), np.int64)
        sents = [self.sentence_ids(p) for p in passages]
        lengths = [len(t) for ss in sents for t in ss]
        if not len(q) or not lengths:
            return np.zeros(len(passages))
        avg = max(float(np.mean(lengths)), 1.0)
        idf = self.bm25.idf[q]
        out = np.zeros(len(passages))
        for i, ss in enumerate(sents):
            best = 0.0
            for t in ss:
                tf = (t[None, :] == q[:, None]).sum(axis=1)
                score = float((idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * len(t) / avg))).sum())
                best = max(best, score)
            out[i] = best
        return out


def zscores(x: np.ndarray) -> np.ndarray:
    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


def main(argv: list[str] | None = None) -> int:
    args = candidate_args(__doc__, [*TUNE_SETS, *REPORT_SETS]).parse_args(argv)
    from ranx import Qrels, Run, compare

    def rows_of(s: str) -> list[dict]:
        c = candidates(s, args)
        method = {"m": (Settings.fusion, product_weight(s), Settings.candidates)}
        fused = runs(c, method, passages=True)["m"]
        before = runs(c, method)["m"]
        scorer = SentenceBM25(set_pipeline(s, args).data)
        queries = dataset(s, args)[2]
        doc_of = c["doc_of"]
        after = {w: {} for w in WEIGHTS}
        for qid in c["ids"]:
            ids = np.array([p for p, _ in fused[qid]], np.int64)
            base = np.array([x for _, x in fused[qid]])
            extra = zscores(scorer.best(queries[qid], ids.tolist())) if len(ids) else base
            for w in WEIGHTS:
                order = ids[np.argsort(-(base + w * extra), kind="stable")]
                docs = list(dict.fromkeys(doc_of[p] for p in order.tolist()))[:100]
                after[w][qid] = {d: float(len(docs) - r) for r, d in enumerate(docs)} or {"-": 0.0}
        named = [Run(before, name="today"), *(Run(after[w], name=f"w={w}") for w in WEIGHTS)]
        d = compare(Qrels(c["qrels"]), named, metrics=["hit_rate@1", "hit_rate@5", "mrr@10"], stat_test="fisher",
                    make_comparable=True).to_dict()
        return [{"set": s, "queries": len(c["ids"]), "fusion": r.name,
                 **{m: f"{d[r.name]['scores'][m]:.4f}" for m in ("hit_rate@1", "hit_rate@5", "mrr@10")},
                 **{f"p ({m})": f"{d[r.name]['comparisons']['today'][m]:.3f}" if r.name != "today" else ""
                    for m in ("hit_rate@5", "mrr@10")}} for r in named]

    return report_sets(args.sets, rows_of)


if __name__ == "__main__":
    sys.exit(main())
