"""Each side's first shown: hybrid's first ``k`` passages (the evidence shown) always hold BM25's first and dense
retrieval's first. A side's first that fusion put below place ``k`` takes place ``k`` (both: ``k-1`` and ``k``, in
their fused order), the passages it displaces moving down one place; nothing else moves. Scored against the
product's fusion as it is, at the document level (seeds by passage), with the product's weight for the set's
queries and BM25's zeros, with paired Fisher randomization tests on hit_rate@5 and MRR@10. The rule that decides
(written before the run) is in docs/benchmarks.md. Candidates come from ``bench/fusion.py``'s cache.

    python bench/firsts_kept.py --sets squad-train scifact-train squad-dev shifts-nw shifts-reddit shifts-amazon \
        seeds scifact-test
"""

from __future__ import annotations

import sys

from fusion import REPORT_SETS, TUNE_SETS, candidate_args, candidates, product_weight, report_sets, runs

from qa.config import Settings


def keep_firsts(order: list[int], firsts: list[int], k: int) -> list[int]:
    """``order`` with each of ``firsts`` not in its first ``k`` moved up to the end of the first ``k``."""
    place = {p: r for r, p in enumerate(order)}
    missing = sorted({p for p in firsts if place.get(p, k) >= k}, key=lambda p: place.get(p, len(order)))
    if not missing:
        return order
    head = order[:k - len(missing)]
    return head + missing + [p for p in order if p not in head and p not in missing]


def doc_run(c: dict, fused_run: dict, k: int) -> dict:
    """The fused passage order of each query with the sides' firsts kept in its first ``k``, as documents."""
    a, doc_of = c["arrays"], c["doc_of"]
    out = {}
    for i, qid in enumerate(c["ids"]):
        firsts = [int(ids[0]) for ids in (a["d_ids"][i], a["b_ids"][i]) if ids[0] >= 0]
        order = keep_firsts([p for p, _ in fused_run[qid]], firsts, k)
        docs = list(dict.fromkeys(doc_of[p] for p in order))[:100]
        out[qid] = {d: float(len(docs) - r) for r, d in enumerate(docs)} or {"-": 0.0}
    return out


def hits_at(run: dict, qrels: dict, k: int) -> set[str]:
    """The queries with a relevant document among the run's first ``k``."""
    return {q for q, docs in run.items() if set(sorted(docs, key=docs.get, reverse=True)[:k]) & set(qrels[q])}


def main(argv: list[str] | None = None) -> int:
    ap = candidate_args(__doc__, [*TUNE_SETS, *REPORT_SETS])
    ap.add_argument("--k", type=int, default=Settings.k, help="passages shown (Settings.k)")
    args = ap.parse_args(argv)
    from ranx import Qrels, Run, compare

    def rows_of(s: str) -> list[dict]:
        c = candidates(s, args)
        method = {"m": (Settings.fusion, product_weight(s), Settings.candidates)}
        passages = runs(c, method, passages=True)["m"]
        before = runs(c, method)["m"]
        after = doc_run(c, passages, args.k)
        moved = sum(before[q] != after[q] for q in c["ids"])
        report = compare(Qrels(c["qrels"]), [Run(before, name="before"), Run(after, name="after")],
                         metrics=["hit_rate@1", "hit_rate@5", "mrr@10"], stat_test="fisher",
                         make_comparable=True)
        d = report.to_dict()
        was, now = hits_at(before, c["qrels"], 5), hits_at(after, c["qrels"], 5)
        return [{"set": s, "queries": len(c["ids"]), "ranking moved": moved, "firsts kept": name == "after",
                 **{m: f"{d[name]['scores'][m]:.4f}" for m in ("hit_rate@1", "hit_rate@5", "mrr@10")},
                 "R@5 gained / lost": f"{len(now - was)} / {len(was - now)}" if name == "after" else "",
                 **{f"p ({m})": d["after"]["comparisons"]["before"][m] if name == "after" else ""
                    for m in ("hit_rate@5", "mrr@10")}}
                for name in ("before", "after")]

    return report_sets(args.sets, rows_of)


if __name__ == "__main__":
    sys.exit(main())
