"""The ONNX int8 question encoder against torch: agreement, retrieval quality, speed.

* Cosine between the torch and ONNX vectors of the same question (seed questions, SciFact test
  queries).
* Retrieval with each encoder over the same index (passages embedded by torch): document-level
  nDCG@10 (ranx) on the 300 BEIR SciFact test queries and on the seed questions (a document's
  rank is that of its best passage), dense and hybrid; and how often both encoders give the same
  top passage / how many of the top 10 passages they share.
* Speed: one question at a time (``--threads``), and batches of 64 passages (2 threads), the
  index-time workload.

Uses the SciFact index shared with bench/beir.py (``--scifact-index``, whole corpus; built here if
absent) and the seed index of bench/query_latency.py under ``--seeds``.

    python bench/encoder_onnx.py
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from perf_common import CACHE, SEED_QUERIES, machine, print_table, scifact_docs, scifact_test_queries, seed_docs
from perf_common import stats_ms

from qa.config import Settings
from qa.pipeline import Pipeline


def doc_ranking(hits, strip_suffix: bool) -> dict[str, float]:
    """Documents in the order of their best passage, scored so that ranx keeps that order."""
    ranking: dict[str, float] = {}
    for h in hits:
        doc = h.passage.doc.removesuffix(".txt") if strip_suffix else h.passage.doc
        if doc not in ranking:
            ranking[doc] = float(len(hits) - len(ranking))
    return ranking


def ndcg10(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> float:
    from ranx import Qrels, Run, evaluate

    return float(evaluate(Qrels(qrels), Run({q: r or {"-": 0.0} for q, r in run.items()}), "ndcg@10"))


def compare_retrieval(pipes: dict[str, Pipeline], queries: dict[str, str], qrels, strip_suffix: bool,
                      label: str) -> list[dict]:
    rows = []
    for mode in ("dense", "hybrid"):
        runs, top = {}, {}
        for name, qa in pipes.items():
            runs[name], top[name] = {}, {}
            for qid, text in queries.items():
                hits = qa.search(text, k=100, mode=mode)
                runs[name][qid] = doc_ranking(hits, strip_suffix)
                top[name][qid] = [h.row for h in hits[:10]]
        same_top = np.mean([top["torch"][q][:1] == top["onnx"][q][:1] for q in queries])
        overlap = np.mean([len(set(top["torch"][q]) & set(top["onnx"][q])) for q in queries])
        rows.append({"queries": label, "mode": mode, "nDCG@10 torch": ndcg10(qrels, runs["torch"]),
                     "nDCG@10 onnx": ndcg10(qrels, runs["onnx"]), "same top passage": float(same_top),
                     "top-10 overlap": float(overlap)})
        print(rows[-1], flush=True)
    return rows


def question_speed(pipes: dict[str, Pipeline], questions: list[str], threads: int) -> dict[str, dict]:
    out = {}
    for name, qa in pipes.items():
        qa.embedder.threads = threads
        for q in questions[:10]:
            qa.embedder.encode_query(q)
        times = []
        for q in questions:
            t = time.perf_counter()
            qa.embedder.encode_query(q)
            times.append(time.perf_counter() - t)
        out[name] = stats_ms(times)
    return out


def batch_speed(pipes: dict[str, Pipeline], passages: list[str]) -> dict[str, float]:
    """Passages per second with batches of 64 (sorted by length, as sentence-transformers does)."""
    import torch

    torch.set_num_threads(2)
    texts = sorted(passages, key=len)
    t = time.perf_counter()
    pipes["torch"].embedder.encode(texts, batch_size=64)
    torch_pps = len(texts) / (time.perf_counter() - t)
    onnx = pipes["onnx"].embedder
    onnx.threads = 2
    from qa.index.embedding import OnnxEncoder

    encoder = OnnxEncoder(onnx._onnx.model_file, onnx.path, threads=2)
    encoder.load()
    t = time.perf_counter()
    for i in range(0, len(texts), 64):
        encoder.encode(texts[i : i + 64])
    return {"torch": torch_pps, "onnx": len(texts) / (time.perf_counter() - t)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scifact-index", type=Path, default=CACHE / "scifact" / "index",
                    help="e.g. /tmp/qa-bench/scifact-1000/index (bench/indexing.py): part of the corpus")
    ap.add_argument("--seeds", type=Path, default=CACHE / "seeds")
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    args = ap.parse_args()
    print(f"# onnx vs torch question encoder  ({machine()})", flush=True)

    rows, agreement = [], []
    seed_rows = [json.loads(line) for line in SEED_QUERIES.read_text().splitlines() if line.strip()]
    seed_queries = {r["id"]: r["question"] for r in seed_rows}
    seed_qrels = {r["id"]: {d: 1 for d in r["docs"]} for r in seed_rows}
    sci_queries, sci_qrels = scifact_test_queries()
    for label, index, docs, queries, qrels, strip in (
        ("seeds", args.seeds / "index", seed_docs(args.seeds), seed_queries, seed_qrels, False),
        ("SciFact test", args.scifact_index, scifact_docs(args.scifact_index.parent), sci_queries, sci_qrels, True),
    ):
        settings = Settings(docs=docs, index=index)
        pipes = {name: Pipeline(settings.replace(encoder=name)) for name in ("torch", "onnx")}
        pipes["torch"].index()
        for qa in pipes.values():
            qa.warm_up()
        present = {d.id.removesuffix(".txt") if strip else d.id for d in pipes["torch"].data.documents}
        kept = {q: rel for q, rel in qrels.items() if set(rel) <= present}
        if len(kept) < len(qrels):  # an index of part of the corpus: only queries it can answer fully
            label = f"{label} ({len(kept)} of {len(qrels)} queries, {len(present)} documents)"
            qrels, queries = kept, {q: queries[q] for q in kept}
        texts = list(queries.values())
        a = np.stack([pipes["torch"].embedder.encode_query(q) for q in texts])
        b = np.stack([pipes["onnx"].embedder.encode_query(q) for q in texts])
        cos = (a * b).sum(axis=1)
        agreement.append({"queries": label, "n": len(texts), "cosine min": float(cos.min()),
                          "cosine mean": float(cos.mean()), "cosine p5": float(np.percentile(cos, 5))})
        print(agreement[-1], flush=True)
        rows.extend(compare_retrieval(pipes, queries, qrels, strip, label))
        if label.startswith("SciFact"):
            speed_rows = []
            for threads in args.threads:
                for name, st in question_speed(pipes, texts, threads).items():
                    speed_rows.append({"encoder": name, "threads": threads, "median ms": st["median"],
                                       "p95 ms": st["p95"]})
            passages = [p.text for p in pipes["torch"].data.passages[:1024]]
            batch = batch_speed(pipes, passages)
    print_table(agreement, ["queries", "n", "cosine min", "cosine p5", "cosine mean"])
    print_table(rows, ["queries", "mode", "nDCG@10 torch", "nDCG@10 onnx", "same top passage", "top-10 overlap"])
    print_table(speed_rows, ["encoder", "threads", "median ms", "p95 ms"])
    print(f"# batches of 64 SciFact passages, 2 threads: torch {batch['torch']:.1f} passages/s, "
          f"onnx int8 {batch['onnx']:.1f} passages/s")


if __name__ == "__main__":
    main()
