"""A BEIR retrieval benchmark (SciFact by default) through the ``Pipeline`` facade; prints a Markdown
table next to the published numbers.

Every corpus entry becomes one document, ``<id>.txt`` = title line, blank line, text, written once
under ``--cache`` (the layout bench/perf_common.py uses for SciFact, so the two share the folder
and its index). Passages are ranked by ``Pipeline.search`` in each mode; a document's score is its
best passage's. Metrics (ranx) over the queries of the chosen qrels split: nDCG@10, recall@10,
recall@100 (the IR recall: share of a query's relevant documents found) and MRR@10.

    python bench/beir.py /work/shared/benchmarks/beir_scifact                # passages of 1000/200
    python bench/beir.py /work/shared/benchmarks/beir_scifact --whole-docs   # one passage per document
    python bench/beir.py /work/shared/benchmarks/beir_scifact --limit 30 --modes bm25
    python bench/beir.py /work/shared/benchmarks/beir_scifact --held-out-claims  # the trainers' held-out claims

``--held-out-claims``: the SciFact **train** claims that the encoder trainers hold out and never train on (the
same seeded split, ``qa.index.claim_training.Claims``): where encoders for claims are chosen; test is for reports.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

from perf_common import CACHE, machine, model_suffix, print_table

from qa.config import Settings
from qa.eval import document_ranking
from qa.pipeline import Pipeline

#: Published SciFact test numbers (see /work/shared/benchmarks/REFERENCE_NUMBERS.md).
REFERENCES = {
    "scifact": {
        "bm25": "0.665 (BEIR paper, Elasticsearch); Anserini flat 0.679, R@100 0.925",
        "dense": "0.645 (all-MiniLM-L6-v2, MTEB)",
        "hybrid": "no published number",
        "rerank": "BM25 + MiniLM cross-encoder rerank of the top 100: 0.688 (BEIR paper)",
    }
}
METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
DEPTH = 100  #: documents ranked per query


def load_beir(folder: Path, split: str = "test") -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, int]]]:
    """A BEIR dataset folder: documents (id -> "title\\n\\ntext\\n"), the split's queries, and its qrels."""
    qrels: dict[str, dict[str, int]] = {}
    lines = (folder / "qrels" / f"{split}.tsv").read_text(encoding="utf-8").splitlines()
    for line in lines[1:]:
        if line.strip():
            qid, did, score = line.split("\t")
            if int(score) > 0:
                qrels.setdefault(qid, {})[did] = int(score)
    queries: dict[str, str] = {}
    with open(folder / "queries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["_id"] in qrels:
                queries[row["_id"]] = row["text"]
    corpus: dict[str, str] = {}
    with open(folder / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            corpus[row["_id"]] = f"{row['title']}\n\n{row['text']}\n"
    return corpus, queries, qrels


def write_docs(corpus: dict[str, str], base: Path) -> Path:
    """``base/docs/<id>.txt`` for every document, written once (``base/docs.complete`` marks it done)."""
    docs, done = base / "docs", base / "docs.complete"
    if not done.exists():
        docs.mkdir(parents=True, exist_ok=True)
        for doc_id, text in corpus.items():
            (docs / f"{doc_id}.txt").write_text(text, encoding="utf-8")
        done.write_text("ok\n")
    return docs


def run_mode(qa: Pipeline, queries: dict[str, str], qrels: dict, mode: str, k_passages: int) -> dict:
    """Rank documents for every query in one mode; ranx metrics and the mean time per query."""
    from ranx import Qrels, Run, evaluate

    run: dict[str, dict[str, float]] = {}
    t0 = time.perf_counter()
    for qid, text in queries.items():
        docs = document_ranking(qa.search(text, k=k_passages, mode=mode))[:DEPTH]
        if docs:
            run[qid] = {d.removesuffix(".txt"): float(len(docs) - i) for i, d in enumerate(docs)}
    seconds = time.perf_counter() - t0
    scores = evaluate(Qrels({q: qrels[q] for q in queries}), Run(run), list(METRICS), make_comparable=True)
    return {**{m: float(scores[m]) for m in METRICS}, "ms_per_query": 1000 * seconds / max(len(queries), 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, help="BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/)")
    ap.add_argument("--split", default="test", help="qrels split (default test)")
    ap.add_argument("--modes", nargs="+", default=["bm25", "dense", "hybrid"], choices=["bm25", "dense", "hybrid"])
    ap.add_argument("--chunk-size", type=int, default=Settings.chunk_size)
    ap.add_argument("--chunk-overlap", type=int, default=Settings.chunk_overlap)
    ap.add_argument("--whole-docs", action="store_true", help="one passage per document (no chunking)")
    ap.add_argument("--limit", type=int, help="evaluate a seeded random sample of this many queries")
    ap.add_argument("--cache", type=Path, default=CACHE, help="where documents and indexes are kept")
    ap.add_argument("--rerank", type=int, default=0,
                    help="also measure hybrid with this many passages reranked by the trained model")
    ap.add_argument("--question-model", default=Settings.question_model,
                    help="question encoder (Settings.question_model): bundled, trained or an .onnx file")
    ap.add_argument("--model", default=Settings.model,
                    help="embedding model (Settings.model): a local sentence-transformers folder; default: the shipped "
                         "qa/models/encoder when there is one, else the bundled all-MiniLM-L6-v2")
    ap.add_argument("--held-out-claims", type=int, nargs="?", const=200, default=0, metavar="N",
                    help="the N (default 200) SciFact train claims the encoder trainers hold out (their seed): "
                         "the selection set, instead of --split")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    if args.held_out_claims:
        from qa.index.claim_training import Claims
        from qa.train import parser

        args.split = "train"

    name = args.data.name.removeprefix("beir_")
    corpus, queries, qrels = load_beir(args.data, args.split)
    if args.held_out_claims:
        seed = parser().get_default("seed")  # the trainers' split
        queries = {q: queries[q] for q in Claims(args.data, args.held_out_claims, seed, passages=False).held_out}
    if args.limit:
        keep = sorted(random.Random(0).sample(sorted(queries), min(args.limit, len(queries))))
        queries = {q: queries[q] for q in keep}
    base = args.cache / name
    if args.whole_docs:
        chunk_size, overlap = max(len(t) for t in corpus.values()) + 1, 0
        index = base / "index-whole"
    else:
        chunk_size, overlap = args.chunk_size, args.chunk_overlap
        default = (chunk_size, overlap) == (Settings.chunk_size, Settings.chunk_overlap)
        index = base / ("index" if default else f"index-{chunk_size}-{overlap}")
    index = index.with_name(index.name + model_suffix(args.model))
    qa = Pipeline(Settings(docs=write_docs(corpus, base), index=index, chunk_size=chunk_size,
                           chunk_overlap=overlap, question_model=args.question_model, model=args.model))
    t0 = time.perf_counter()
    qa.warm_up(show_bar=sys.stderr.isatty())
    n_passages = len(qa.data.passages)
    print(f"index ready in {time.perf_counter() - t0:.0f} s: {len(corpus)} documents, {n_passages} passages")
    # enough passages to fill DEPTH distinct documents
    k_passages = min(1000, DEPTH if n_passages == len(corpus) else math.ceil(DEPTH * n_passages / len(corpus) * 2))

    rows = []
    for mode in args.modes:
        scores = run_mode(qa, queries, qrels, mode, k_passages)
        rows.append({"mode": mode, **scores, "reference nDCG@10": REFERENCES.get(name, {}).get(mode, "")})
        print(f"{mode}: " + ", ".join(f"{m} {scores[m]:.4f}" for m in METRICS), file=sys.stderr)
    if args.rerank:
        qa = Pipeline(qa.settings.replace(rerank=args.rerank))
        scores = run_mode(qa, queries, qrels, "hybrid", k_passages)
        rows.append({"mode": f"hybrid + rerank {args.rerank}", **scores,
                     "reference nDCG@10": REFERENCES.get(name, {}).get("rerank", "")})
        print("hybrid + rerank: " + ", ".join(f"{m} {scores[m]:.4f}" for m in METRICS), file=sys.stderr)

    chunking = "whole documents" if args.whole_docs else f"chunks {chunk_size}/{overlap}"
    split = f"{args.split} split (held-out claims)" if args.held_out_claims else f"{args.split} split"
    print(f"\nBEIR {name}, {split}, {len(queries)} queries, {len(corpus)} documents, {n_passages} "
          f"passages ({chunking}), {k_passages} passages searched per query")
    print(machine())
    print_table(rows, ["mode", *METRICS, "ms_per_query", "reference nDCG@10"])
    if args.json:
        args.json.write_text(json.dumps({"dataset": name, "split": args.split, "queries": len(queries),
                                         "passages": n_passages, "chunking": chunking, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
