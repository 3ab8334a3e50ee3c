"""Abbreviations a document defines, matched by BM25 in either form (``qa.index.acronyms``): does it help?

Each set's index (as the product builds it) is searched twice in hybrid mode: with BM25 over the passages
as they are, and with BM25 over :func:`qa.index.acronyms.token_texts` (each passage's text plus the other
form of every abbreviation its document defines that it uses in one form only); the dense side is the same.

Choosing sets:

* ``scifact-train``: BEIR SciFact's 809 train claims over its 5,183 abstracts (title + text, passages of
  1000/200; ``bench/beir.py`` builds the index); nDCG@10 of the documents (ranx), as ``bench/beir.py``,
  hybrid and BM25 alone. The statement encoder was trained on these claims (hybrid nDCG@10 0.933 here,
  0.73 on the test claims), so on this set the change is judged by BM25 alone, hybrid only checked for
  losses.
* ``shifts-nw`` and ``squad-train``: the whole-article sets of ``bench/chunking_heldout.py`` (its indexes at
  1000/200), every question; R@1 / R@5 / MRR@10 of the first passage holding a gold answer where its
  annotator marked it.

Report sets, never used to choose: ``scifact-test`` (300 claims), ``shifts-nw-test`` and ``squad-dev``
(articles), and the seeds (``tests/data/seed_queries.jsonl``, passage relevance as ``qa eval`` judges it;
all of them and the paraphrased ones).

**Rule, fixed before the results:** abbreviations are indexed by default only if on at least one choosing
set the main number (BM25 nDCG@10 for SciFact train, R@5 or MRR@10 for the article sets) rises by 0.005 or more with a
paired permutation test p < 0.05, and no choosing set loses more than 0.003 on any of its numbers.

    python bench/beir.py /work/shared/benchmarks/beir_scifact --modes hybrid --split train   # its index, once
    python bench/chunking_heldout.py --settings 1000/200 --sets shifts-nw squad-train shifts-nw-test squad-dev
    python bench/acronyms.py
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from beir import DEPTH, load_beir, write_docs
from chunking_heldout import dataset, pipeline
from perf_common import CACHE, ROOT, machine, print_table
from scipy.stats import permutation_test

from qa.config import Settings
from qa.eval import document_ranking
from qa.eval.queries import load_queries
from qa.eval.relevance import first_relevant_rank, relevant_passages
from qa.index.acronyms import defined, token_texts
from qa.index.lexical import BM25Index
from qa.pipeline import Pipeline

BENCH = ROOT.parent / "shared" / "benchmarks"
SCIFACT = BENCH / "beir_scifact"
CHOOSING = ("scifact-train", "shifts-nw", "squad-train")
REPORT = ("scifact-test", "shifts-nw-test", "squad-dev", "seeds")


def with_acronyms(qa: Pipeline) -> tuple[object, int, int]:
    """The index's data with BM25 over the passages' texts plus their abbreviations' other forms; the
    number of documents that define one and of passages that gained words."""
    data = qa.data
    texts, defining, grown, order = [], 0, 0, []
    for doc in data.documents:
        rows = data.passage_ids_for([doc.id])
        order.extend(int(r) for r in rows)
        pairs = defined(doc.text)
        defining += bool(pairs)
        mine = token_texts([data.passages[int(r)].text for r in rows], pairs)
        grown += sum(t != data.passages[int(r)].text for t, r in zip(mine, rows))
        texts.extend(mine)
    assert order == list(range(len(data.passages))), "passages are not in document order"
    return replace(data, bm25=BM25Index.build(texts)), defining, grown


def ndcg_per_query(qa: Pipeline, queries: dict[str, str], qrels: dict, mode: str = "hybrid") -> np.ndarray:
    from ranx import Qrels, Run, evaluate

    run = {}
    for qid, text in queries.items():
        docs = document_ranking(qa.search(text, k=DEPTH, mode=mode))[:DEPTH]
        run[qid] = {d.removesuffix(".txt"): float(len(docs) - i) for i, d in enumerate(docs)} or {"-": 0.0}
    scores = evaluate(Qrels({q: qrels[q] for q in queries}), Run(run), "ndcg@10", return_mean=False,
                      make_comparable=True)
    return np.asarray(scores, dtype=np.float64)


def p_value(a: np.ndarray, b: np.ndarray) -> float:
    if np.allclose(a, b):
        return 1.0
    return float(permutation_test((a, b), lambda u, v: np.mean(u - v), permutation_type="samples",
                                  n_resamples=9999, random_state=0).pvalue)


def rank_metrics(ranks: np.ndarray) -> dict[str, np.ndarray]:
    return {"R@1": (ranks == 1).astype(float), "R@5": (ranks <= 5).astype(float),
            "MRR@10": np.where(ranks <= 10, 1.0 / ranks, 0.0)}


def measure(name: str, args) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], str]:
    """Per-query numbers without and with abbreviations, and a note on the set."""
    if name.startswith("scifact"):
        corpus, queries, qrels = load_beir(SCIFACT, name.split("-")[1])
        qa = Pipeline(Settings(docs=write_docs(corpus, args.cache / "scifact"), index=args.cache / "scifact" / "index"))
        score = lambda: {"nDCG@10": ndcg_per_query(qa, queries, qrels),  # noqa: E731
                         "BM25 nDCG@10": ndcg_per_query(qa, queries, qrels, "bm25")}
    elif name == "seeds":
        qa = Pipeline(Settings(docs=args.cache / "seeds" / "docs", index=args.cache / "seeds" / "index"))
        queries = [q for q in load_queries(ROOT / "tests" / "data" / "seed_queries.jsonl")[0] if q.answerable]

        def score():
            ranks = []
            for q in queries:
                hits = qa.search(q.question, k=10, mode="hybrid")
                r = first_relevant_rank([h.row for h in hits], relevant_passages(q, qa.data))
                ranks.append(r or 11)
            ranks = np.asarray(ranks)
            para = np.asarray([q.paraphrase for q in queries])
            return {"R@5": (ranks <= 5).astype(float), "MRR@10": rank_metrics(ranks)["MRR@10"],
                    "paraphrased R@5": (ranks[para] <= 5).astype(float)}
    else:
        docs, questions = dataset(name, args)
        qa = pipeline(docs, args.cache / "chunking-articles" / name, Settings.chunk_size, Settings.chunk_overlap)
        score = lambda: rank_metrics(fast_ranks(qa, questions))  # noqa: E731
    qa.data  # noqa: B018 - loaded (built when missing)
    before = score()
    expanded, defining, grown = with_acronyms(qa)
    qa._data = expanded
    after = score()
    note = f"{defining} of {len(expanded.documents)} documents define abbreviations; {grown} of {len(expanded.passages)} passages gained words"
    print(f"{name}: {note}", file=sys.stderr, flush=True)
    return before, after, note


def fast_ranks(qa: Pipeline, questions: list[dict]) -> np.ndarray:
    out = []
    for q in questions:
        hits = qa.search(q["question"], k=10, mode="hybrid")
        out.append(next((i + 1 for i, h in enumerate(hits) if h.passage.doc == q["doc"] and any(
            h.passage.start <= s and e <= h.passage.end for s, e in q["spans"])), 11))
    return np.asarray(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", nargs="+", default=[*CHOOSING, *REPORT], choices=[*CHOOSING, *REPORT])
    ap.add_argument("--train-articles", type=int, default=40)
    ap.add_argument("--cache", type=Path, default=CACHE)
    args = ap.parse_args(argv)
    print(machine())
    rows, verdict = [], []
    for name in args.sets:
        before, after, note = measure(name, args)
        row = {"set": name + (" (choosing)" if name in CHOOSING else ""), "questions": len(next(iter(before.values())))}
        for key in before:
            a, b = after[key], before[key]
            row[key] = f"{b.mean():.3f} → {a.mean():.3f} (p {p_value(a, b):.2f})"
            if name in CHOOSING:
                verdict.append((name, key, float(a.mean() - b.mean()), p_value(a, b)))
        row["documents / passages"] = note
        rows.append(row)
    for row in rows:
        print_table([row], list(row))
        print()
    if verdict:
        main_keys = {("scifact-train", "BM25 nDCG@10"), ("shifts-nw", "R@5"), ("shifts-nw", "MRR@10"),
                     ("squad-train", "R@5"), ("squad-train", "MRR@10")}
        gains = [v for v in verdict if v[:2] in main_keys and v[2] >= 0.005 and v[3] < 0.05]
        losses = [v for v in verdict if v[2] < -0.003]
        print("rule:", "ADOPT" if gains and not losses else "do not adopt", "| gains:", gains, "| losses:", losses)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
