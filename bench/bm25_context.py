"""BM25 over passages with their document title and section heading in front (the text ``QA_EMBED_CONTEXT``
embeds, :func:`qa.ingest.chunking.embedding_text`), the dense side unchanged: the product's hybrid fusion with
each BM25, per set, at the document level (seeds by passage), with a paired Fisher randomization test.

Candidates: the dense side and the plain BM25 side come from ``bench/fusion.py``'s cache (computed there when
missing); the BM25 side with context is computed here over the same index's passages.

    python bench/bm25_context.py --sets scifact-train squad-train
    python bench/bm25_context.py --sets squad-dev shifts-nw shifts-reddit shifts-amazon seeds
"""

from __future__ import annotations

import sys

import numpy as np
from fusion import (TUNE_SETS, candidate_args, candidates, dataset, product_weight, report_sets, runs,
                    set_pipeline)

from qa.config import Settings
from qa.index.lexical import BM25Index
from qa.ingest.chunking import embedding_text


def with_context_bm25(name: str, c: dict, args) -> dict:
    """The cached candidates of ``name`` with BM25's side from an index over the passages with their context."""
    queries = dataset(name, args)[2]
    qa = set_pipeline(name, args)
    bm25 = BM25Index.build([embedding_text(p) for p in qa.data.passages])
    a = c["arrays"]
    b_ids = np.full_like(a["b_ids"], -1)
    b_sc = np.zeros_like(a["b_sc"])
    for i, qid in enumerate(c["ids"]):
        scores = bm25.scores(queries[qid])
        top = np.argsort(-scores, kind="stable")[: b_ids.shape[1]]
        top = top[scores[top] > 0]
        b_ids[i, : len(top)], b_sc[i, : len(top)] = top, scores[top]
    return {**c, "arrays": {**{k: a[k] for k in ("d_ids", "d_sc")}, "b_ids": b_ids, "b_sc": b_sc}}


def main(argv: list[str] | None = None) -> int:
    args = candidate_args(__doc__, list(TUNE_SETS)).parse_args(argv)
    from ranx import Qrels, Run, compare

    def rows_of(s: str) -> list[dict]:
        plain = candidates(s, args)
        context = with_context_bm25(s, plain, args)
        methods = {"bm25": ("bm25", 0.0, Settings.candidates),
                   "hybrid": (Settings.fusion, product_weight(s), Settings.candidates)}
        got = {(side, m): run for side, c in (("plain", plain), ("context", context))
               for m, run in runs(c, methods).items()}
        qrels = Qrels(plain["qrels"])
        rows = []
        for m in methods:
            report = compare(qrels, [Run(got[("plain", m)], name="plain"), Run(got[("context", m)], name="context")],
                             metrics=["ndcg@10", "mrr@10", "hit_rate@5"], stat_test="fisher", make_comparable=True)
            d = report.to_dict()
            for side in ("plain", "context"):
                rows.append({"set": s, "queries": len(plain["ids"]), "method": m, "BM25 over": side,
                             **{k: d[side]["scores"][k] for k in ("ndcg@10", "mrr@10", "hit_rate@5")},
                             "p (MRR@10)": d["context"]["comparisons"]["plain"]["mrr@10"] if side == "context" else "",
                             "p (nDCG@10)": d["context"]["comparisons"]["plain"]["ndcg@10"] if side == "context" else ""})
        return rows

    return report_sets(args.sets, rows_of)

if __name__ == "__main__":
    sys.exit(main())
