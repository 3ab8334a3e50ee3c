"""Does the best-matching sentence of a passage help rank it? The question's similarity to each
candidate passage's closest sentence (the index's sentence vectors, already computed for the
readers), z-scored over the candidates and added to the hybrid fusion's score with a weight.

    python bench/sentence_signal.py                 # read every set once (cached), then the weight grid

Tuning sets (the weight is chosen on these only): the SQuADShifts *calibration* halves (each domain
indexed alone, as ``bench/sentence_reader.py`` does). Report sets: the SQuADShifts test halves and
SQuAD v1.1 dev (all 2,067 paragraphs). Document-level: a paragraph ranks where its best passage does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from passage_reader import DOMAINS, SHIFTS, SQUAD_V1, table
from perf_common import CACHE
from squad import load_squad, sample, squad_pipeline

from qa.config import Settings
from qa.eval import retrieval_metrics

GRID = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)


def sets(args) -> dict[str, tuple]:
    out = {}
    for half in ("calibration", "test"):
        for d in DOMAINS:
            out[f"{d}-{half}"] = (SHIFTS / f"{d}_v1.0.json.gz", f"{d}_v1.0-{half}-half", half)
    out["squad-dev"] = (SQUAD_V1, "squad-v1.1-dev", None)
    return out


def read_set(name: str, path: Path, index_name: str, half, args) -> dict:
    cached = args.cache / f"sentence-signal-{name}-{args.questions}-{args.depth}.npz"
    if cached.exists():
        return dict(np.load(cached, allow_pickle=False))
    docs, questions = load_squad(path, test_half=half == "test", calibration_half=half == "calibration")
    qa = squad_pipeline(docs, args.cache, Settings.chunk_size, Settings.chunk_overlap, name=index_name)
    data = qa.data
    doc_of = np.array([data.doc_index[p.doc] for p in data.passages])
    asked = sample(questions, args.questions, 0)
    fused = np.full((len(asked), args.depth), np.nan)
    maxsim = np.full((len(asked), args.depth), np.nan)
    doc = np.full((len(asked), args.depth), -1, np.int64)
    gold = np.array([data.doc_index[q["doc"]] for q in asked])
    vectors = np.asarray(data.sentence_vectors)
    for i, q in enumerate(asked):
        qvec, result, _ = qa._retrieve(q["question"], args.depth, "hybrid", None, data, pool=args.depth,
                                       need_vector=True)
        qvec = np.asarray(qvec, dtype=np.float32)
        for j, hit in enumerate(result.hits):
            lo, hi = int(data.sent_lo[hit.row]), int(data.sent_hi[hit.row])
            fused[i, j] = hit.score
            doc[i, j] = doc_of[hit.row]
            maxsim[i, j] = float((vectors[lo:hi] @ qvec).max()) if hi > lo else np.nan
    print(f"{name}: {len(asked)} questions read", file=sys.stderr, flush=True)
    np.savez(cached, fused=fused, maxsim=maxsim, doc=doc, gold=gold)
    return {"fused": fused, "maxsim": maxsim, "doc": doc, "gold": gold}


def z(x: np.ndarray) -> np.ndarray:
    m = np.nanmean(x, axis=1, keepdims=True)
    s = np.nanstd(x, axis=1, keepdims=True)
    return np.where(s > 0, (x - m) / np.where(s > 0, s, 1), 0.0)


def metrics(r: dict, w: float) -> dict:
    ms = np.where(np.isnan(r["maxsim"]), np.nanmin(r["maxsim"], axis=1, keepdims=True), r["maxsim"])
    score = z(r["fused"]) + w * z(ms)  # NaN only where no hit: those rows get -inf below
    score = np.where(r["doc"] < 0, -np.inf, score)
    rankings, qrels = {}, {}
    for i in range(len(score)):
        order = np.argsort(-score[i], kind="stable")
        docs = list(dict.fromkeys(int(r["doc"][i, j]) for j in order if r["doc"][i, j] >= 0))[:10]
        rankings[str(i)] = [str(d) for d in docs]
        qrels[str(i)] = {str(int(r["gold"][i]))}
    m = retrieval_metrics(qrels, rankings, 10)
    return {"R@1": m["recall@1"], "R@5": m["recall@5"], "MRR@10": m["mrr@10"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions", type=int, default=600)
    ap.add_argument("--depth", type=int, default=50, help="fused candidates re-scored per question")
    ap.add_argument("--cache", type=Path, default=CACHE)
    args = ap.parse_args(argv)
    reads = {name: read_set(name, *spec, args) for name, spec in sets(args).items()}
    rows = []
    for w in GRID:
        row = {"weight": w}
        for name, r in reads.items():
            m = metrics(r, w)
            row[f"{name} R@1"], row[f"{name} R@5"] = m["R@1"], m["R@5"]
        rows.append(row)
    tune = [n for n in reads if n.endswith("-calibration")]
    best = max(rows, key=lambda row: np.mean([row[f"{n} R@5"] + row[f"{n} R@1"] for n in tune]))
    print(table(rows) + f"\n\nchosen on the calibration halves: weight {best['weight']}")
    print(json.dumps(best), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
