"""A candidate question encoder routed as ``auto`` routes, against the shipped one, on hybrid retrieval.

``auto`` sends queries worded as questions to the model's question encoder (the default model's
``encoder-int8.onnx``; with ``--model all-MiniLM-L6-v2``, ``qa/models/question-int8.onnx``) and the rest to its
statement encoder; here the first is swapped for ``CANDIDATE`` (an ``.onnx`` file of ``python -m qa.train question``,
with ``--model FOLDER`` for a folder's own), the rest unchanged. Document level (a paragraph ranks where its best passage
does), ``--questions`` seeded questions a set: R@1, R@5, MRR@10, and the paired permutation test of R@5 and
MRR@10.

Choosing sets: the SQuADShifts *calibration* halves (each domain indexed alone). Report sets: the test halves and
SQuAD v1.1 dev (2,067 paragraphs). The rule that uses these numbers is written in docs/benchmarks.md before the run.

    python bench/question_candidate.py /tmp/qtrain-lr1e4/question-int8.onnx --questions 600
    python bench/question_candidate.py CANDIDATE --sets new_wiki-calibration reddit-calibration amazon_reviews-calibration
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from passage_reader import DOMAINS, SHIFTS, SQUAD_V1, table
from perf_common import CACHE, machine
from prf import p_value
from squad import load_squad, sample, squad_pipeline

from qa.config import Settings


def sets() -> dict[str, tuple]:
    out = {}
    for half in ("calibration", "test"):
        for d in DOMAINS:
            out[f"{d}-{half}"] = (SHIFTS / f"{d}_v1.0.json.gz", f"{d}_v1.0-{half}-half", half)
    out["squad-dev"] = (SQUAD_V1, "squad-v1.1-dev", None)
    return out


def ranks(qa, questions: list[dict]) -> np.ndarray:
    """Rank of the gold paragraph among the documents of a hybrid search (11: not in the top 10)."""
    out = []
    for q in questions:
        docs = list(dict.fromkeys(h.passage.doc for h in qa.search(q["question"], k=50, mode="hybrid")))[:10]
        out.append(docs.index(q["doc"]) + 1 if q["doc"] in docs else 11)
    return np.asarray(out)


def metrics(r: np.ndarray) -> dict[str, np.ndarray]:
    return {"R@1": (r == 1).astype(float), "R@5": (r <= 5).astype(float), "MRR@10": np.where(r <= 10, 1.0 / r, 0.0)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("candidate", type=Path)
    ap.add_argument("--questions", type=int, default=600)
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--model", default=Settings.model,
                    help="the embedding model whose question encoder the candidate is set against (default: the "
                         "default model)")
    ap.add_argument("--sets", nargs="+", choices=list(sets()), default=list(sets()),
                    help="the sets to run (default: all; the choosing sets are the *-calibration ones)")
    args = ap.parse_args(argv)
    print(machine())
    rows = []
    for name, (path, index_name, half) in sets().items():
        if name not in args.sets:
            continue
        docs, questions = load_squad(path, test_half=half == "test", calibration_half=half == "calibration")
        asked = sample(questions, args.questions, 0)
        shipped = squad_pipeline(docs, args.cache, Settings.chunk_size, Settings.chunk_overlap, name=index_name,
                                 model=args.model)
        before = metrics(ranks(shipped, asked))
        trial = squad_pipeline(docs, args.cache, Settings.chunk_size, Settings.chunk_overlap, name=index_name,
                               model=args.model)
        assert trial.embedder.routes, "auto routing expected"
        trial.embedder.question_file, trial.embedder._onnx = args.candidate, None  # loaded again, from the candidate
        q0 = asked[0]["question"]
        assert not np.allclose(trial.embedder.encode_query(q0), shipped.embedder.encode_query(q0)), "same encoder"
        after = metrics(ranks(trial, asked))
        row = {"set": name, "questions": len(asked)}
        for k in before:
            row[k] = f"{before[k].mean():.3f} → {after[k].mean():.3f}"
        for k in ("R@5", "MRR@10"):
            row[f"{k} diff (p)"] = f"{after[k].mean() - before[k].mean():+.3f} ({p_value(after[k], before[k]):.2f})"
        rows.append(row)
        print(row, file=sys.stderr, flush=True)
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
