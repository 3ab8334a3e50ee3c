"""A word found in one passage alone, put first: when a query word (BM25's tokens) occurs in exactly one passage of
the collection, that passage leads the hybrid ranking. Per set: how often it fires, how often the passage it lifts
is relevant against the hybrid's own first passage on those queries, and the set's scores with and without it
(document level, seeds by passage; paired Fisher randomization test on MRR@10 and nDCG@10).

Candidates come from ``bench/fusion.py``'s cache (computed there when missing); document frequencies from a BM25
token table over the same index's passages.

    python bench/rare_term.py --sets squad-train scifact-train
"""

from __future__ import annotations

import sys
from collections import Counter

from fusion import (TUNE_SETS, candidate_args, candidates, dataset, product_weight, report_sets, runs,
                    set_pipeline)

from qa.config import Settings
from qa.index.lexical import tokenize


def lifted(name: str, c: dict, args) -> dict[str, list[int]]:
    """Per query: the passages holding one of its words that no other passage holds, in BM25's order."""
    queries = dataset(name, args)[2]
    qa = set_pipeline(name, args)
    tokens = tokenize([p.text.lower() for p in qa.data.passages])
    df = Counter(t for toks in tokens for t in set(toks))
    holder = {t: i for i, toks in enumerate(tokens) for t in set(toks) if df[t] == 1}
    out = {}
    for i, qid in enumerate(c["ids"]):
        words = {t for toks in tokenize(queries[qid].lower().split()) for t in toks}
        rows = {holder[t] for t in words if t in holder}
        order = [int(p) for p in c["arrays"]["b_ids"][i] if p in rows]
        out[qid] = order + sorted(rows - set(order))
    return out


def main(argv: list[str] | None = None) -> int:
    args = candidate_args(__doc__, list(TUNE_SETS)).parse_args(argv)
    from ranx import Qrels, Run, compare

    def rows_of(s: str) -> list[dict]:
        c = candidates(s, args)
        base = runs(c, {"hybrid": (Settings.fusion, product_weight(s), Settings.candidates)})["hybrid"]
        lift = lifted(s, c, args)
        doc_of = c["doc_of"]
        after, fired, lift_right, own_right = {}, 0, 0, 0
        for qid in c["ids"]:
            docs = list(dict.fromkeys(doc_of[p] for p in lift[qid]))
            ranked = sorted(base[qid], key=lambda d: -base[qid][d])
            if docs:
                fired += 1
                relevant = c["qrels"][qid]
                lift_right += docs[0] in relevant
                own_right += bool(ranked) and ranked[0] in relevant
            order = list(dict.fromkeys([*docs, *ranked]))[:100]
            after[qid] = {d: float(len(order) - r) for r, d in enumerate(order)} or {"-": 0.0}
        report = compare(Qrels(c["qrels"]), [Run(base, name="hybrid"), Run(after, name="lifted")],
                         metrics=["ndcg@10", "mrr@10", "hit_rate@1", "hit_rate@5"], stat_test="fisher",
                         make_comparable=True)
        d = report.to_dict()
        return [{"set": s, "queries": len(c["ids"]), "fires on": fired,
                 "its passage relevant": lift_right if m == "lifted" else "",
                 "hybrid's first relevant": own_right if m == "lifted" else "", "ranking": m,
                 **{k: d[m]["scores"][k] for k in ("hit_rate@1", "hit_rate@5", "mrr@10", "ndcg@10")},
                 "p (MRR@10)": d["lifted"]["comparisons"]["hybrid"]["mrr@10"] if m == "lifted" else "",
                 "p (nDCG@10)": d["lifted"]["comparisons"]["hybrid"]["ndcg@10"] if m == "lifted" else ""}
                for m in ("hybrid", "lifted")]

    return report_sets(args.sets, rows_of)

if __name__ == "__main__":
    sys.exit(main())
