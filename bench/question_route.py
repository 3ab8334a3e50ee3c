"""Question encoders compared on every retrieval benchmark, with the paired test: ``bundled`` (the model
itself), ``auto`` (the encoder trained here for queries worded as questions, the bundled model for the
rest; ``qa/index/question_form.py``) and, with ``--with-trained``, ``trained`` for every query.

Sets (none was used to train the encoder or to write the routing rule):

- BEIR SciFact, test and train claims, documents ranked by their best passage (nDCG@10, R@1, R@5, MRR@10);
- SQuAD v1.1 dev, 2,067 paragraphs, and the test halves of SQuADShifts New Wikipedia, Reddit and Amazon
  reviews (the paragraphs ``bench/passage_reader.py`` never calibrates on), one document per paragraph,
  ``--limit`` seeded questions each (R@1, R@5, MRR@10 of the gold paragraph).

For each set and mode: the share of queries routed to the trained encoder, each encoder's scores, and
the paired randomization test (ranx, Fisher) of ``auto`` against ``bundled`` on recall@5, MRR@10 and nDCG@10.
``--candidate FILE`` adds an ONNX question encoder for every query (say, one of ``bench/question_claims.py``),
tested against ``auto``; ``--beir-splits test`` leaves out SciFact's train claims (the claims stage trains on them).
``--keywords`` also asks each SQuAD-like set's questions as keyword queries (:func:`keywords`: the question's words
less stopwords and question words), which ``auto`` sends to the statement encoder, with ``trained`` beside them.

    python bench/question_route.py --beir ../shared/benchmarks/beir_scifact \\
        --squad ../shared/benchmarks/squad_v1.1_dev/dev-v1.1.json \\
        --shifts ../shared/benchmarks/training/squadshifts_v1.0 --limit 2000
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from beir import load_beir, write_docs
from perf_common import CACHE, machine, print_table
from squad import load_squad, sample, squad_pipeline

from qa.config import Settings
from qa.eval import document_ranking, retrieval_metrics
from qa.eval.ranking import compare_rankings
from qa.index.question_form import is_question
from qa.pipeline import Pipeline

SHIFTS = ("new_wiki", "reddit", "amazon_reviews")


#: dropped from a question to make its keyword query (with bm25s' English stopwords)
QUESTION_WORDS = {"what", "who", "whom", "whose", "when", "where", "why", "which", "how", "many", "much", "did", "do",
                  "does", "was", "were", "is", "are", "can", "could", "would", "should", "has", "have", "had"}


def keywords(question: str) -> str:
    """A question as a person might type it into a search box: its words less stopwords and question words.

    >>> keywords("How many NDF members were incorporated into the army by the end of the year?")
    'NDF members incorporated army end year'
    """
    import re

    from bm25s.stopwords import STOPWORDS_EN

    drop = set(STOPWORDS_EN) | QUESTION_WORDS
    return " ".join(w for w in re.findall(r"[\w'-]+", question) if w.lower() not in drop)


def rank(qa: Pipeline, queries: dict[str, str], mode: str, depth: int = 10,
         spell: bool | None = None) -> dict[str, list[str]]:
    """Each query's documents, best first (a document ranks where its best passage does), from twice as many
    passages as ``depth`` documents hold on average (at most 1,000); ``spell`` as :meth:`Pipeline.search`."""
    per_doc = len(qa.data.passages) / max(len(qa.data.documents), 1)
    k = min(1000, math.ceil(depth * per_doc * 2))
    return {qid: document_ranking(qa.search(text, k=k, mode=mode, spell=spell))[:depth]
            for qid, text in queries.items()}


def compare(name: str, pipelines: dict[str, Pipeline], queries: dict[str, str], relevant: dict[str, set],
            modes: list[str]) -> list[dict]:
    """Each encoder's scores; ``auto`` tested against ``bundled``, a ``candidate`` against ``auto``."""
    rows = []
    routed = sum(map(is_question, queries.values())) / max(len(queries), 1)
    for mode in modes:
        runs = {}
        for encoder, qa in pipelines.items():
            t0 = time.perf_counter()
            runs[encoder] = rank(qa, queries, mode)
            ms = 1000 * (time.perf_counter() - t0) / max(len(queries), 1)
            m = retrieval_metrics(relevant, runs[encoder], 10)
            rows.append({"set": name, "mode": mode, "encoder": encoder, "queries": len(queries),
                         "routed": round(routed, 4), "nDCG@10": round(m["ndcg@10"], 4), "R@1": round(m["recall@1"], 4),
                         "R@5": round(m["recall@5"], 4), "MRR@10": round(m["mrr@10"], 4), "ms": round(ms, 1)})
        against = {"auto": "bundled", "candidate": "auto"}
        for row in rows[-len(pipelines):]:
            if row["encoder"] in against:
                other = against[row["encoder"]]
                tests = compare_rankings(relevant, {row["encoder"]: runs[row["encoder"]], other: runs[other]})
                p = {c.metric: c.p_value for c in tests.pairs}
                row.update({"p R@5": p["recall@5"], "p MRR@10": p["mrr@10"], "p nDCG@10": p["ndcg@10"]})
            print(row, file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--beir", type=Path, help="the BEIR SciFact folder")
    ap.add_argument("--squad", type=Path, help="SQuAD v1.1 dev JSON")
    ap.add_argument("--shifts", type=Path, help="the SQuADShifts folder (*_v1.0.json.gz)")
    ap.add_argument("--limit", type=int, default=2000, help="seeded questions per SQuAD-like set")
    ap.add_argument("--modes", nargs="+", default=["hybrid", "dense"], choices=["hybrid", "dense", "bm25"])
    ap.add_argument("--with-trained", action="store_true", help="also the trained encoder for every query")
    ap.add_argument("--keywords", action="store_true", help="also each SQuAD-like set's questions as keyword queries")
    ap.add_argument("--candidate", type=Path, help="an ONNX question encoder for every query, tested against auto")
    ap.add_argument("--beir-splits", nargs="+", default=["test", "train"], choices=["test", "train"])
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    encoders = {"bundled": "bundled", "auto": "auto", **({"trained": "trained"} if args.with_trained else {}),
                **({"candidate": str(args.candidate)} if args.candidate else {})}

    def pipelines(first: Pipeline) -> dict[str, Pipeline]:
        out = {}
        for encoder, setting in encoders.items():
            qa = Pipeline(first.settings.replace(question_model=setting))
            qa.warm_up()
            out[encoder] = qa
        return out

    rows: list[dict] = []
    if args.beir:
        for split in args.beir_splits:
            corpus, queries, qrels = load_beir(args.beir, split)
            base = args.cache / "scifact"
            first = Pipeline(Settings(docs=write_docs(corpus, base), index=base / "index"))
            relevant = {q: {f"{d}.txt" for d in qrels[q]} for q in queries}
            rows += compare(f"SciFact {split}", pipelines(first), queries, relevant, args.modes)
    sets = ([(args.squad, "squad-v1.1-dev", False, "SQuAD v1.1 dev")] if args.squad else []) + (
        [(args.shifts / f"{d}_v1.0.json.gz", f"{d}_v1.0-test-half", True, f"SQuADShifts {d} (test half)")
         for d in SHIFTS] if args.shifts else [])
    for path, name, half, label in sets:
        docs, questions = load_squad(path, test_half=half)
        first = squad_pipeline(docs, args.cache, Settings.chunk_size, Settings.chunk_overlap, name=name)
        asked = sample(questions, args.limit)
        queries = {q["id"]: q["question"] for q in asked}
        relevant = {q["id"]: {q["doc"]} for q in asked}
        ready = pipelines(first)
        rows += compare(label, ready, queries, relevant, args.modes)
        if args.keywords:
            asked_as = {i: k for i, t in queries.items() if (k := keywords(t))}  # not a question of stopwords alone
            rows += compare(f"{label} as keywords", ready, asked_as, {i: relevant[i] for i in asked_as}, args.modes)

    print(machine())
    print_table(rows, ["set", "mode", "encoder", "queries", "routed", "nDCG@10", "R@1", "R@5", "MRR@10",
                       "p R@5", "p MRR@10", "p nDCG@10", "ms"])
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
