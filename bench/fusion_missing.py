"""What a hybrid candidate only one retriever returned should get from the other: its floor or its real score?

Hybrid retrieval takes each side's first ``Settings.candidates`` passages and fuses their z-scores. A passage only
one side returned gets, from the other side, either that side's lowest candidate score (``fusion_missing=floor``) or
its real score there (``score``: its BM25 score, 0 when it shares no word; its vector's similarity to the query).
Both run through the product (``Pipeline.search``, hybrid, 100 passages, the route's weight), on the sets of
``bench/fusion.py``; document level (a document ranks where its best passage does), ranx, paired Fisher
randomization test on MRR@10 and R@5 (hit_rate@5).

Tuning sets choose (``squad-train``, ``scifact-train``, ``squad-train-keywords``); the others report.

    python bench/fusion_missing.py --model FOLDER
    python bench/fusion_missing.py --sets squad-train scifact-train squad-train-keywords
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from fusion import KEYWORD_SETS, REPORT_SETS, TUNE_SETS, dataset
from perf_common import CACHE, SEED_QUERIES, machine, model_suffix, print_table

from qa.config import FUSION_MISSING, Settings
from qa.pipeline import Pipeline

METRICS = ("hit_rate@1", "hit_rate@5", "mrr@10", "ndcg@10")


def run_set(name: str, args) -> list[dict]:
    from ranx import Qrels, Run, compare

    docs, index, queries, qrels = dataset(name, args)
    qa = Pipeline(Settings(docs=docs, index=index.with_name(index.name + model_suffix(args.model)), model=args.model))
    qa.warm_up(show_bar=False)
    data = qa.data
    doc_of = [p.doc.removesuffix(".txt") for p in data.passages]
    ids = sorted(queries)
    if name == "seeds":  # judged by passage, as `qa eval` does (a passage holding an answer)
        from qa.eval import load_queries, relevant_passages

        by_id = {q.id: q for q in load_queries(SEED_QUERIES)[0]}
        qrels = {q: {str(p): 1 for p in relevant_passages(by_id[q], data)} for q in ids}
        doc_of = [str(i) for i in range(len(data.passages))]
    runs: dict[str, dict] = {m: {} for m in FUSION_MISSING}
    t0 = time.perf_counter()
    base = qa.settings
    for qid in ids:
        for m in FUSION_MISSING:
            qa.settings = base.replace(fusion_missing=m)
            hits = qa.search(queries[qid], k=100, mode="hybrid")
            docs_ = list(dict.fromkeys(doc_of[h.row] for h in hits))
            runs[m][qid] = {d: float(len(docs_) - r) for r, d in enumerate(docs_)} or {"-": 0.0}
    qr = Qrels({q: qrels[q] for q in ids})
    report = compare(qr, [Run(runs[m], name=m) for m in FUSION_MISSING], metrics=list(METRICS),
                     stat_test="fisher", make_comparable=True).to_dict()
    print(f"{name}: {len(ids)} queries, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    rows = []
    for m in FUSION_MISSING:
        row = {"set": name, "queries": len(ids), "fusion_missing": m, **{k: report[m]["scores"][k] for k in METRICS}}
        if m == "score":
            row["p MRR@10"] = report[m]["comparisons"]["floor"]["mrr@10"]
            row["p R@5"] = report[m]["comparisons"]["floor"]["hit_rate@5"]
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    every = [*TUNE_SETS, KEYWORD_SETS[0], *REPORT_SETS, KEYWORD_SETS[1]]
    ap.add_argument("--sets", nargs="+", default=every, choices=every)
    ap.add_argument("--questions", type=int, default=2000, help="questions sampled from each SQuAD-like report set")
    ap.add_argument("--train-articles", type=int, default=40)
    ap.add_argument("--train-questions", type=int, default=2000)
    ap.add_argument("--model", default=Settings.model, help="embedding model: a local folder (default: the default)")
    ap.add_argument("--cache", type=Path, default=CACHE)
    args = ap.parse_args(argv)
    print(machine())
    rows = [row for name in args.sets for row in run_set(name, args)]
    print_table(rows, ["set", "queries", "fusion_missing", *METRICS, "p MRR@10", "p R@5"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
