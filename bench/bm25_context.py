"""BM25 over passages with their document title and section heading in front (the text ``QA_EMBED_CONTEXT``
embeds, :func:`qa.ingest.chunking.embedding_text`), the dense side unchanged: the product's hybrid fusion with
each BM25, per set, at the document level (seeds by passage), with a paired Fisher randomization test.

Candidates: the dense side and the plain BM25 side come from ``bench/fusion.py``'s cache (computed there when
missing); the BM25 side with context is computed here over the same index's passages.

    python bench/bm25_context.py --sets scifact-train squad-train
    python bench/bm25_context.py --sets squad-dev shifts-nw shifts-reddit shifts-amazon seeds
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from fusion import REPORT_SETS, TUNE_SETS, dataset, candidates, runs
from perf_common import CACHE, machine, model_suffix, print_table

from qa.config import Settings
from qa.index.lexical import BM25Index
from qa.ingest.chunking import embedding_text
from qa.pipeline import Pipeline


def with_context_bm25(name: str, c: dict, args) -> dict:
    """The cached candidates of ``name`` with BM25's side from an index over the passages with their context."""
    docs, index, queries, _ = dataset(name, args)
    qa = Pipeline(Settings(docs=docs, index=index.with_name(index.name + model_suffix(args.model)),
                           question_model=args.question_model, model=args.model))
    qa.warm_up()
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
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="+", default=list(TUNE_SETS), choices=[*TUNE_SETS, *REPORT_SETS])
    ap.add_argument("--depth", type=int, default=100)
    ap.add_argument("--questions", type=int, default=2000)
    ap.add_argument("--train-articles", type=int, default=40)
    ap.add_argument("--train-questions", type=int, default=2000)
    ap.add_argument("--question-model", default=Settings.question_model)
    ap.add_argument("--model", default=Settings.model)
    ap.add_argument("--cache", type=Path, default=CACHE)
    args = ap.parse_args(argv)
    args.context = False
    from ranx import Qrels, Run, compare

    print(machine())
    rows = []
    for s in args.sets:
        plain = candidates(s, args)
        context = with_context_bm25(s, plain, args)
        weight = Settings.statement_fusion_weight if s.startswith("scifact") else Settings.fusion_weight
        methods = {"bm25": ("bm25", 0.0, Settings.candidates),
                   "hybrid": (Settings.fusion, weight, Settings.candidates)}
        got = {(side, m): run for side, c in (("plain", plain), ("context", context))
               for m, run in runs(c, methods).items()}
        qrels = Qrels(plain["qrels"])
        for m in methods:
            report = compare(qrels, [Run(got[("plain", m)], name="plain"), Run(got[("context", m)], name="context")],
                             metrics=["ndcg@10", "mrr@10", "hit_rate@5"], stat_test="fisher", make_comparable=True)
            d = report.to_dict()
            for side in ("plain", "context"):
                rows.append({"set": s, "queries": len(plain["ids"]), "method": m, "BM25 over": side,
                             **{k: d[side]["scores"][k] for k in ("ndcg@10", "mrr@10", "hit_rate@5")},
                             "p (MRR@10)": d["context"]["comparisons"]["plain"]["mrr@10"] if side == "context" else "",
                             "p (nDCG@10)": d["context"]["comparisons"]["plain"]["ndcg@10"] if side == "context" else ""})
        print_table(rows[-4:], list(rows[-1]))
        sys.stdout.flush()
    print("\nAll sets:")
    print_table(rows, list(rows[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
