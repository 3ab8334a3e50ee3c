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

import argparse
import sys
from pathlib import Path

from fusion import REPORT_SETS, TUNE_SETS, candidates, runs
from perf_common import CACHE, machine, print_table

from qa.config import Settings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="+", default=["squad-train", *REPORT_SETS], choices=[*TUNE_SETS, *REPORT_SETS])
    ap.add_argument("--depth", type=int, default=100, help="candidates per retriever cached (passages)")
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
        c = candidates(s, args)
        weight = Settings.statement_fusion_weight if s.startswith("scifact") else Settings.fusion_weight
        method = {"m": (Settings.fusion, weight, Settings.candidates)}
        matches = (c["arrays"]["b_ids"][:, :Settings.candidates] >= 0).sum(axis=1)
        before = runs(c, method, bm25_zeros=False)["m"]
        after = runs(c, method, bm25_zeros=True)["m"]
        moved = sum(before[q] != after[q] for q in c["ids"])
        report = compare(Qrels(c["qrels"]), [Run(before, name="before"), Run(after, name="after")],
                         metrics=["mrr@10", "hit_rate@1", "hit_rate@5"], stat_test="fisher", make_comparable=True)
        d = report.to_dict()
        for name in ("before", "after"):
            rows.append({"set": s, "queries": len(c["ids"]),
                         f"BM25 < {Settings.candidates} passages": int((matches < Settings.candidates).sum()),
                         "ranking moved": moved, "scale": name,
                         **{m: d[name]["scores"][m] for m in ("hit_rate@1", "hit_rate@5", "mrr@10")},
                         "p (MRR@10)": d["after"]["comparisons"]["before"]["mrr@10"] if name == "after" else ""})
        print_table(rows[-2:], list(rows[-1]))
        sys.stdout.flush()
    print("\nAll sets:")
    print_table(rows, list(rows[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
