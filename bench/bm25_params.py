"""BM25's k1 and b chosen on held-out data, then checked on the test sets with the paired test.

bm25s' defaults (k1 = 1.5, b = 0.75) were the product's until this script chose k1 = 0.6, b = 0.55
(``qa/index/lexical.py``); Lucene's and Anserini's are k1 = 0.9, b = 0.4. The BM25 index is built from the stored
tokens when an index is loaded, so changing them needs no re-indexing.

Tuning sets (the same as ``bench/fusion.py``'s, the only ones the choice looks at): BEIR SciFact with its **train**
qrels (809 claims, nDCG@10) and 2,000 questions over the last 40 articles of SQuAD v1.1 **train** (MRR@10), one
document per paragraph. For each (k1, b) of the grid: BM25 alone and hybrid (the product's fusion and question
encoder) on both. The rule, fixed before the first run: the pair with the best mean over the two sets of hybrid's
score relative to bm25s' defaults', if it is not below them on either set; otherwise the defaults stay.
``--report`` then scores the chosen pair against bm25s' defaults on the test sets (SciFact test, SQuAD v1.1 dev,
SQuADShifts' three domains; 2,000 seeded questions each) with ranx's paired randomization test.

    python bench/bm25_params.py                  # the grid on the tuning sets, and the choice
    python bench/bm25_params.py --report 0.6 0.55  # a pair against bm25s' defaults on the test sets
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

from fusion import REPORT_SETS, TUNE_SETS, dataset
from perf_common import CACHE, machine, print_table
from question_route import rank

from qa.config import Settings
from qa.eval import retrieval_metrics
from qa.eval.ranking import compare_rankings
from qa.index import lexical
from qa.pipeline import Pipeline

#: bm25s' defaults, the product's before this choice: what every pair is measured against.
DEFAULT = (1.5, 0.75)
K1S = (0.6, 0.9, 1.2, 1.5, 2.0)
BS = (0.3, 0.4, 0.55, 0.75, 0.9)
SCORE = {"scifact-train": "ndcg@10", "squad-train": "mrr@10"}


def pipeline(name: str, args, k1: float, b: float) -> tuple[Pipeline, dict, dict]:
    docs, index, queries, qrels = dataset(name, args)
    lexical.K1, lexical.B = k1, b  # read when the BM25 index is built, at load
    qa = Pipeline(Settings(docs=docs, index=index))
    qa.warm_up()
    return qa, queries, {q: {f"{d}.txt" for d in rel} for q, rel in qrels.items()}


def rankings(qa: Pipeline, queries: dict, mode: str) -> dict[str, list[str]]:
    return rank(qa, queries, mode, spell=False)  # questions searched as typed: the speller is not what is tuned


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--report", type=float, nargs=2, metavar=("K1", "B"), help="score this pair on the test sets")
    ap.add_argument("--sets", nargs="+", default=list(REPORT_SETS[:-1]), choices=list(REPORT_SETS))
    ap.add_argument("--questions", type=int, default=2000)
    ap.add_argument("--train-articles", type=int, default=40)
    ap.add_argument("--train-questions", type=int, default=2000)
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    args.context = False
    rows = []
    if args.report:
        pair = tuple(args.report)
        for name in args.sets:
            runs, relevant = {}, None
            for k1, b in (DEFAULT, pair):
                qa, queries, relevant = pipeline(name, args, k1, b)
                for mode in ("bm25", "hybrid"):
                    runs[(k1, b, mode)] = rankings(qa, queries, mode)
            for mode in ("bm25", "hybrid"):
                a, d = runs[(*pair, mode)], runs[(*DEFAULT, mode)]
                tests = {c.metric: c.p_value for c in compare_rankings(relevant, {"new": a, "default": d}).pairs}
                for (k1, b), run in ((DEFAULT, d), (pair, a)):
                    m = retrieval_metrics(relevant, run, 10)
                    row = {"set": name, "mode": mode, "k1": k1, "b": b, "queries": len(relevant),
                           "nDCG@10": m["ndcg@10"], "MRR@10": m["mrr@10"], "R@1": m["recall@1"], "R@5": m["recall@5"]}
                    if (k1, b) == pair:
                        row.update({"p R@5": tests["recall@5"], "p MRR@10": tests["mrr@10"],
                                    "p nDCG@10": tests["ndcg@10"]})
                    rows.append(row)
                    print(row, file=sys.stderr, flush=True)
        print(machine())
        print_table(rows, ["set", "mode", "k1", "b", "queries", "nDCG@10", "MRR@10", "R@1", "R@5", "p R@5",
                           "p MRR@10", "p nDCG@10"])
    else:
        for k1, b in itertools.product(K1S, BS):
            row = {"k1": k1, "b": b}
            t0 = time.perf_counter()
            for name in TUNE_SETS:
                qa, queries, relevant = pipeline(name, args, k1, b)
                for mode in ("bm25", "hybrid"):
                    row[f"{name} {mode}"] = retrieval_metrics(relevant, rankings(qa, queries, mode), 10)[SCORE[name]]
            row["s"] = time.perf_counter() - t0
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
        base = next(r for r in rows if (r["k1"], r["b"]) == DEFAULT)
        for r in rows:
            r["relative"] = sum(r[f"{n} hybrid"] / base[f"{n} hybrid"] for n in TUNE_SETS) / len(TUNE_SETS)
        rows.sort(key=lambda r: -r["relative"])
        eligible = [r for r in rows if all(r[f"{n} hybrid"] >= base[f"{n} hybrid"] for n in TUNE_SETS)]
        choice = eligible[0] if eligible else base
        print(machine())
        print_table(rows, ["k1", "b", *[f"{n} {m}" for n in TUNE_SETS for m in ("bm25", "hybrid")], "relative"])
        print(f"\nchosen: k1 = {choice['k1']}, b = {choice['b']}"
              f"{' (the default)' if (choice['k1'], choice['b']) == DEFAULT else ''}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
