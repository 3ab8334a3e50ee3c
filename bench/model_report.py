"""A model folder against the default on the report sets, question by question, with the paired test.

The sets issue 14 names for a new default, none of them ever trained or chosen on: BEIR SciFact test (claims,
nDCG@10 per claim), SQuAD v1.1 dev open-domain (its 2,067 paragraphs, every question unless ``--questions``), and
the SQuADShifts test halves (New Wikipedia, Reddit, Amazon; each half indexed alone, ``--questions`` seeded
questions each, 2,000 by default). Dense and hybrid retrieval through the product (``Pipeline.search``), each model
with an index of its own (cached); document level (a paragraph or abstract ranks where its best passage does).
Per set and mode: the default's and the candidate's means, the difference, and the paired permutation test (p).

Run it only after ``bench/model_candidate.py`` said yes (the rule in docs/benchmarks.md):

    python bench/model_report.py ~/.cache/qa-train/encoder-20k/out --beir /work/shared/benchmarks/beir_scifact
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from beir import load_beir
from beir import write_docs as write_beir_docs
from passage_reader import DOMAINS, SHIFTS, SQUAD_V1, table
from perf_common import CACHE, machine, model_suffix
from prf import p_value
from squad import load_squad, sample, squad_pipeline

from qa.config import Settings
from qa.eval import document_ranking
from qa.index.embedding import resolve_model
from qa.pipeline import Pipeline

MODES = ("dense", "hybrid")
BEIR_METRICS = {"ndcg@10": "ndcg@10", "recall@10": "recall@10"}
SQUAD_METRICS = {"R@1": "hit_rate@1", "R@5": "hit_rate@5", "MRR@10": "mrr@10"}


def per_query(qa: Pipeline, queries: dict[str, str], relevant: dict[str, dict[str, int]], mode: str, depth: int,
              metrics: dict[str, str]) -> dict[str, np.ndarray]:
    """Per query, ranx's ``metrics`` (our name -> ranx's) of the documents ``mode`` ranks, ``depth`` deep
    (a document ranks where its best passage does; ids without ``.txt``)."""
    from ranx import Qrels, Run, evaluate

    per_doc = len(qa.data.passages) / max(len(qa.data.documents), 1)
    k = min(1000, math.ceil(depth * per_doc * 2))
    run = {}
    for qid, text in queries.items():
        docs = document_ranking(qa.search(text, k=k, mode=mode))[:depth]
        run[qid] = {d.removesuffix(".txt"): float(len(docs) - i) for i, d in enumerate(docs)} or {"-": 0.0}
    scores = evaluate(Qrels(relevant), Run(run), list(metrics.values()), return_mean=False, make_comparable=True)
    return {ours: np.asarray(scores[theirs], dtype=float) for ours, theirs in metrics.items()}


def compare(name: str, before: dict[str, np.ndarray], after: dict[str, np.ndarray], mode: str) -> dict:
    row = {"set": name, "mode": mode, "n": len(next(iter(before.values())))}
    for k in before:
        d = after[k].mean() - before[k].mean()
        row[k] = f"{before[k].mean():.3f} → {after[k].mean():.3f} ({d:+.3f}, p {p_value(after[k], before[k]):.3f})"
    print(row, file=sys.stderr, flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="the candidate: a model folder")
    ap.add_argument("--beir", type=Path, required=True, help="the BEIR SciFact folder")
    ap.add_argument("--default", default="", help="what it is compared with (default: the default model)")
    ap.add_argument("--questions", type=int, default=0, help="seeded SQuAD dev questions (default 0: all)")
    ap.add_argument("--shift-questions", type=int, default=2000, help="seeded questions a SQuADShifts test half")
    ap.add_argument("--sets", nargs="+", default=["scifact", "squad-dev", *DOMAINS])
    ap.add_argument("--cache", type=Path, default=CACHE)
    args = ap.parse_args(argv)
    models = {"default": args.default, "candidate": str(Path(args.model).expanduser())}
    print(machine())
    print("default: " + resolve_model(models["default"])[0] + "; candidate: " + resolve_model(models["candidate"])[0])
    rows = []
    for name in args.sets:
        if name == "scifact":
            corpus, queries, qrels = load_beir(args.beir, "test")
            judged = {q: qrels[q] for q in queries}
            base = args.cache / "scifact"
            scores = {}
            for who, model in models.items():
                qa = Pipeline(Settings(docs=write_beir_docs(corpus, base), index=base / ("index" + model_suffix(model)),
                                       model=model))
                qa.warm_up(show_bar=sys.stderr.isatty())
                scores[who] = {m: per_query(qa, queries, judged, m, 100, BEIR_METRICS) for m in MODES}
        else:
            path, index_name, limit = (
                (SQUAD_V1, "squad-v1.1-dev", args.questions) if name == "squad-dev"
                else (SHIFTS / f"{name}_v1.0.json.gz", f"{name}_v1.0-test-half", args.shift_questions))
            docs, questions = load_squad(path, test_half=name != "squad-dev")
            asked = sample(questions, limit, 0)
            texts = {q["id"]: q["question"] for q in asked}
            gold = {q["id"]: {q["doc"].removesuffix(".txt"): 1} for q in asked}
            scores = {}
            for who, model in models.items():
                qa = squad_pipeline(docs, args.cache, Settings.chunk_size, Settings.chunk_overlap, name=index_name,
                                    model=model)
                scores[who] = {m: per_query(qa, texts, gold, m, 10, SQUAD_METRICS) for m in MODES}
        for mode in MODES:
            rows.append(compare(name, scores["default"][mode], scores["candidate"][mode], mode))
    for metrics in (("ndcg@10", "recall@10"), ("R@1", "R@5", "MRR@10")):
        part = [r for r in rows if metrics[0] in r]
        if part:
            print(table(part))
    return 0


if __name__ == "__main__":
    sys.exit(main())
