"""Does the passage reader's score order the evidence better than retrieval does, and is reading the top 10 worth it?

SQuAD v1.1 dev open-domain (one document a paragraph, the index of ``bench/squad.py``), the passage reader
(``QA_READER=passage``), hybrid retrieval, 5 passages shown. For each setting: recall@1 and @5 of the gold
paragraph among the documents shown (the cited passage's first; a paragraph cut into two passages counts
once, where it first appears), MRR@5, EM / F1 of the answer (sure and possible
answers count; none scores 0), and ms a question:

- read 3 (the reader's default), 5 and 10 passages;
- each in retrieval order (the answer's passage first, the rest as retrieved: the default) and in the reader's
  order (the passages read by their best confidence, the answer's passage first, the rest as retrieved).

    python bench/reader_order.py /work/shared/benchmarks/squad_v1.1_dev/dev-v1.1.json --limit 300
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from perf_common import CACHE, machine, print_table
from squad import load_squad, sample, squad_pipeline

from qa.config import Settings
from qa.eval import EvalQuery, answer_metrics, answer_scores, document_ranking, retrieval_metrics
from qa.pipeline import Pipeline

SHOWN = 5


def measure(qa, questions: list[dict]) -> dict:
    """Recall@1/@5 and MRR of the gold paragraph among the passages shown, EM / F1, ms a question."""
    shown, records = {}, []
    t0 = time.perf_counter()
    for q in questions:
        answer = qa.ask(q["question"], k=SHOWN, mode="hybrid")
        shown[q["id"]] = document_ranking(answer.citations)[:SHOWN]
        records.append(answer_scores(EvalQuery(q["id"], q["question"], answers=tuple(q["answers"]),
                                               docs=(q["doc"],)), answer))
    seconds = time.perf_counter() - t0
    ranking = retrieval_metrics({q["id"]: {q["doc"]} for q in questions}, shown, SHOWN)
    m = answer_metrics(records)
    return {"R@1": ranking["recall@1"], "R@5": ranking["recall@5"], "MRR@5": ranking["mrr@10"],
            "EM": 100 * m.exact_match, "F1": 100 * m.f1, "ms_per_q": 1000 * seconds / max(len(questions), 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("v1", type=Path, help="SQuAD v1.1 dev JSON")
    ap.add_argument("--limit", type=int, default=300, help="seeded sample of questions")
    ap.add_argument("--cache", type=Path, default=CACHE)
    args = ap.parse_args(argv)

    docs, questions = load_squad(args.v1)
    questions = sample(questions, args.limit)
    base = squad_pipeline(docs, args.cache, Settings.chunk_size, Settings.chunk_overlap, reader="passage").settings
    rows = []
    for read, ordered in ((3, False), (3, True), (5, False), (5, True), (10, False), (10, True)):
        qa = Pipeline(base.replace(read_passages=read))
        qa.reader.order_evidence = ordered
        rows.append({"read": read, "evidence order": "reader" if ordered else "retrieval", **measure(qa, questions)})
        print(rows[-1], file=sys.stderr, flush=True)
    print(f"\nSQuAD v1.1 dev, {len(questions)} questions, passage reader, hybrid, {SHOWN} passages shown")
    print(machine())
    print_table(rows, list(rows[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
