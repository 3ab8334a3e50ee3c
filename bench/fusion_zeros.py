"""BM25's zeros in hybrid's score scale: the product's fusion with BM25's scale counting the passages of its first
``candidates`` that it did not return (they share no word with the query: score 0), against the scale of its
returned scores alone (the product before 2026-12-06, under which a name found in one passage alone added nothing).

Per set, at the document level (seeds by passage), the product's weight for the set's queries (questions
``Settings.fusion_weight``, SciFact's claims ``Settings.statement_fusion_weight``), with a paired Fisher
randomization test on MRR@10, and how many queries BM25 returned fewer than ``candidates`` passages for (the only
ones that can move). Candidates come from ``bench/fusion.py``'s cache (computed there when missing).

    python bench/fusion_zeros.py --sets squad-train squad-dev shifts-nw shifts-reddit shifts-amazon seeds
"""

from __future__ import annotations

import sys

from fusion import REPORT_SETS, candidate_args, candidates, product_weight, report_sets, runs

from qa.config import Settings


def main(argv: list[str] | None = None) -> int:
    args = candidate_args(__doc__, ["squad-train", *REPORT_SETS]).parse_args(argv)
    from ranx import Qrels, Run, compare

    def rows_of(s: str) -> list[dict]:
        c = candidates(s, args)
        method = {"m": (Settings.fusion, product_weight(s), Settings.candidates)}
        matches = (c["arrays"]["b_ids"][:, :Settings.candidates] >= 0).sum(axis=1)
        before = runs(c, method, bm25_zeros=False)["m"]
        after = runs(c, method, bm25_zeros=True)["m"]
        moved = sum(before[q] != after[q] for q in c["ids"])
        report = compare(Qrels(c["qrels"]), [Run(before, name="before"), Run(after, name="after")],
                         metrics=["mrr@10", "hit_rate@1", "hit_rate@5"], stat_test="fisher", make_comparable=True)
        d = report.to_dict()
        return [{"set": s, "queries": len(c["ids"]),
                 f"BM25 < {Settings.candidates} passages": int((matches < Settings.candidates).sum()),
                 "ranking moved": moved, "scale": name,
                 **{m: d[name]["scores"][m] for m in ("hit_rate@1", "hit_rate@5", "mrr@10")},
                 "p (MRR@10)": d["after"]["comparisons"]["before"]["mrr@10"] if name == "after" else ""}
                for name in ("before", "after")]

    return report_sets(args.sets, rows_of)

if __name__ == "__main__":
    sys.exit(main())
