"""Choose the reader's weights, calibration and abstention threshold by measurement; print tables.

    python bench/tune_reader.py                    # everything below (indexes are cached)
    python bench/tune_reader.py --squad 0          # seeds only

What it measures, for each setting:

* seeds: ``tests/data/seed_queries.jsonl`` (81 questions over the 5 seeds, 8 unanswerable),
  indexed with the bundled model into ``--cache``.
* SQuAD v1.1 dev: a seeded sample of ``--squad`` questions asked in the open over the 646
  paragraphs of the SQuAD 2.0 dev half's 16 articles (every one of them is a v1.1 dev paragraph;
  one file per paragraph, title line first), indexed once into ``--cache``.
* SQuAD 2.0 dev half: two seeded samples of ``--squad`` other questions each (about half
  unanswerable) over the same index, one to fit the calibration on, one to check abstention on.

Columns: EM and F1 (SQuAD normalisation, best gold; answerable questions), ``evid`` = the chosen
sentence contains a gold answer, ``abst_ok`` = unanswerable questions abstained on, ``abst_bad`` =
answerable questions abstained on, ``read_ms`` = median time of the read step (the first pass over
a set tokenises every candidate sentence: a cold cache). Steps: (1) grid over the weights with
abstention off, then over the pool, on both the seeds and SQuAD v1.1, keeping the best mean of
evidence and F1 over the two; (2) fit the logistic calibration of (score, margin) on the first
SQuAD 2.0 sample (label: the best sentence holds a gold answer); (3) pick the threshold with the
best balanced accuracy on the seeds, answerable vs unanswerable; (4) the chosen reader on every
set, abstention on.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.config import Settings
from qa.eval.metrics import best, contains_answer, exact_match, f1
from qa.pipeline import Pipeline
from qa.reader.heuristic import Calibration, SpanReader, Weights
from qa.retrieval import retrieve

ROOT = Path(__file__).resolve().parent.parent
SEED_QUERIES = ROOT / "tests" / "data" / "seed_queries.jsonl"
BENCH = Path("/work/shared/benchmarks")
SQUAD_V1 = BENCH / "squad_v1.1_dev" / "dev-v1.1.json"
SQUAD_V2 = BENCH / "squad_v2_dev_cs224n_half" / "cs224n-dev-v2.0-half.json"
MAX_POOL = 20


@dataclass
class Item:
    question: str
    golds: list[str]  #: empty for an unanswerable question


@dataclass
class Prepared:
    item: Item
    qvec: np.ndarray
    retrieval: object


# ---------------------------------------------------------------------------------------------
# Data


def seed_items() -> list[Item]:
    rows = [json.loads(line) for line in SEED_QUERIES.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Item(r["question"], r["answers"]) for r in rows]


def squad_corpus(cache: Path) -> tuple[Path, set[str]]:
    """Write the 2.0 half's paragraphs as files (once); return the folder and the set of contexts."""
    v2 = json.loads(SQUAD_V2.read_text(encoding="utf-8"))
    folder = cache / "squad_docs"
    contexts = set()
    if not folder.exists():
        tmp = cache / "squad_docs.tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        for a, article in enumerate(v2["data"]):
            title = article["title"].replace("_", " ")
            for p, para in enumerate(article["paragraphs"]):
                (tmp / f"{a:02d}_{p:03d}.txt").write_text(f"{title}\n\n{para['context']}\n", encoding="utf-8")
        tmp.rename(folder)
    for article in v2["data"]:
        contexts.update(p["context"] for p in article["paragraphs"])
    return folder, contexts


def squad_samples(contexts: set[str], n: int, seed: int) -> tuple[list[Item], list[Item], list[Item]]:
    """``n`` v1.1 dev questions on these paragraphs; two disjoint sets of ``n`` other questions of
    the 2.0 half (one to fit the calibration on, one to check abstention on)."""
    v1 = json.loads(SQUAD_V1.read_text(encoding="utf-8"))
    v1_items = [Item(q["question"], [a["text"] for a in q["answers"]])
                for article in v1["data"] for para in article["paragraphs"] if para["context"] in contexts
                for q in para["qas"]]
    rng = random.Random(seed)
    v1_sample = rng.sample(v1_items, n)
    taken = {i.question for i in v1_sample}
    v2 = json.loads(SQUAD_V2.read_text(encoding="utf-8"))
    v2_items = [Item(q["question"], [] if q.get("is_impossible") else [a["text"] for a in q["answers"]])
                for article in v2["data"] for para in article["paragraphs"] for q in para["qas"]
                if q["question"] not in taken]
    v2_sample = rng.sample(v2_items, 2 * n)
    return v1_sample, v2_sample[:n], v2_sample[n:]


def pipeline_for(docs: Path, index: Path, rebuild: bool = False) -> Pipeline:
    qa = Pipeline(Settings(docs=docs, index=index))
    qa.refresh(force=rebuild)  # builds the index on first use, then reuses it
    return qa


def prepare(qa: Pipeline, items: list[Item]) -> list[Prepared]:
    """Encode each question and retrieve its candidate passages once, as ``Pipeline.ask`` does."""
    s, data = qa.settings, qa.data
    out = []
    for item in items:
        qvec = qa.embedder.encode_query(item.question)
        result = retrieve(data, item.question, qvec, MAX_POOL, s.mode, None, s.candidates, s.rrf_k)
        out.append(Prepared(item, qvec, result))
    return out


# ---------------------------------------------------------------------------------------------
# Measuring


def evaluate(reader, prepared: list[Prepared], data, k: int = 5) -> dict[str, float]:
    em, f1s, evid, times = [], [], [], []
    abst_ok = abst_bad = unanswerable = 0
    for p in prepared:
        t = time.perf_counter()
        answer = reader.read(p.item.question, p.qvec, p.retrieval, data, k)
        times.append(time.perf_counter() - t)
        if not p.item.golds:
            unanswerable += 1
            abst_ok += answer.text is None
            continue
        abst_bad += answer.text is None
        em.append(best(exact_match, answer.text, p.item.golds))
        f1s.append(best(f1, answer.text, p.item.golds))
        evid.append(float(answer.sentence is not None and contains_answer(answer.sentence, p.item.golds)))
    return {
        "EM": 100 * statistics.fmean(em), "F1": 100 * statistics.fmean(f1s), "evid": 100 * statistics.fmean(evid),
        "abst_ok": abst_ok, "unans": unanswerable, "abst_bad": abst_bad, "answerable": len(em),
        "read_ms": 1000 * statistics.median(times), "read_ms_p95": 1000 * float(np.percentile(times, 95)),
    }


def features(reader: SpanReader, prepared: list[Prepared], data) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(best score, margin) per question; label 1 when the best sentence holds a gold answer; answerable."""
    x, y, answerable = [], [], []
    for p in prepared:
        ranking = reader.rank(p.item.question, p.qvec, p.retrieval, data)
        if ranking is None:
            x.append((0.0, 0.0))
            y.append(0.0)
        else:
            row = int(ranking.rows[0])
            _, di, s, e = (int(v) for v in data.sentences[row])
            x.append((float(ranking.scores[0]), ranking.margin))
            y.append(float(bool(p.item.golds) and contains_answer(data.documents[di].text[s:e], p.item.golds)))
        answerable.append(bool(p.item.golds))
    return np.array(x), np.array(y), np.array(answerable)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 50) -> Calibration:
    """Logistic regression by Newton's method (two features and a bias)."""
    a = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(a.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-a @ w))
        grad = a.T @ (p - y) + l2 * w
        hess = (a * (p * (1 - p))[:, None]).T @ a + l2 * np.eye(a.shape[1])
        w -= np.linalg.solve(hess, grad)
    return Calibration(score=round(float(w[0]), 2), margin=round(float(w[1]), 2), bias=round(float(w[2]), 2))


def row(name: str, m: dict[str, float]) -> str:
    return (f"{name:<36} {m['EM']:6.1f} {m['F1']:6.1f} {m['evid']:6.1f} "
            f"{m['abst_ok']:>4}/{m['unans']:<4} {m['abst_bad']:>4}/{m['answerable']:<4} {m['read_ms']:7.2f}")


HEADER = f"{'setting':<36} {'EM':>6} {'F1':>6} {'evid':>6} {'abst_ok':>9} {'abst_bad':>9} {'read_ms':>7}"


def label(w: Weights, pool: int) -> str:
    return f"lex {w.lexical:g} rank {w.rank:g} kind {w.kind:g} pool {pool}"


def tune_weights(sets: dict) -> tuple[Weights, int]:
    """Grid over the weights (semantic fixed at 1: only ratios matter), then over the pool; print tables."""
    grid = [(Weights(1.0, lx, rk, kd), 10)
            for lx, rk, kd in itertools.product((0.5, 1.0, 2.0, 3.0, 5.0), (0.0, 0.1, 0.3), (0.0, 0.1, 0.2, 0.3))]
    results = _run_grid(grid, sets)
    weights, _ = max(results, key=lambda key: _objective(results[key]))
    results.update(_run_grid([(weights, pool) for pool in (5, 20, 40)], sets))
    for name in sets:
        print(f"{name}\n{HEADER}")
        for key, ms in results.items():
            print(row(label(*key), ms[name]))
        print()
    chosen = max(results, key=lambda key: (round(_objective(results[key]), 1), -key[1]))
    print(f"chosen: {label(*chosen)} (mean of evidence and F1 over the sets: {_objective(results[chosen]):.1f})\n")
    return chosen


def _run_grid(grid, sets) -> dict:
    no_abstain = Settings(abstain_threshold=0.0)
    return {(w, pool): {name: evaluate(SpanReader(no_abstain, w, pool=pool), prepared, data)
                        for name, (prepared, data) in sets.items()} for w, pool in grid}


def _objective(ms: dict) -> float:
    return statistics.fmean(m["evid"] + m["F1"] for m in ms.values()) / 2


def choose_threshold(reader: SpanReader, calibration: Calibration, prepared, data) -> float:
    """The threshold with the best balanced accuracy, answerable vs unanswerable; print the table."""
    x, y, answerable = features(reader, prepared, data)
    conf = np.array([calibration.confidence(s, m) for s, m in x])
    print(f"{'threshold':>9} {'abst_ok':>8} {'abst_bad':>8} {'bad_with_evidence':>17} {'balanced_acc':>12}")
    scored = []
    for t in np.round(np.arange(0.02, 0.81, 0.02), 2):
        abstain = conf < t
        ok, bad = int((abstain & ~answerable).sum()), int((abstain & answerable).sum())
        balanced = (ok / max((~answerable).sum(), 1) + 1 - bad / max(answerable.sum(), 1)) / 2
        print(f"{t:9.2f} {ok:>4}/{int((~answerable).sum()):<3} {bad:>4}/{int(answerable.sum()):<3} "
              f"{int((abstain & (y == 1)).sum()):>17} {balanced:12.3f}")
        scored.append((round(balanced, 3), -t))
    return -max(scored)[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/qa_reader_bench"), help="where indexes are kept")
    ap.add_argument("--squad", type=int, default=300, help="SQuAD questions per sample (0: seeds only)")
    ap.add_argument("--seed", type=int, default=0, help="sampling seed")
    ap.add_argument("--rebuild", action="store_true", help="re-index the cached corpora")
    args = ap.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)

    seeds_qa = pipeline_for(ROOT / "seeds", args.cache / "seed_index", args.rebuild)
    seeds = (prepare(seeds_qa, seed_items()), seeds_qa.data)
    sets = {"seeds": seeds}
    if args.squad:
        docs, contexts = squad_corpus(args.cache)
        squad_qa = pipeline_for(docs, args.cache / "squad_index", args.rebuild)
        v1, v2_fit, v2_check = (prepare(squad_qa, items) for items in squad_samples(contexts, args.squad, args.seed))
        sets["squad1.1"] = (v1, squad_qa.data)

    print("## 1. weights (abstention off)\n")
    weights, pool = tune_weights(sets)
    reader = SpanReader(Settings(abstain_threshold=0.0), weights, pool=pool)

    print("## 2. calibration: logistic fit of (score, margin) -> best sentence holds a gold answer\n")
    fit_on = (v2_fit, squad_qa.data) if args.squad else seeds
    calibration = fit_logistic(*features(reader, *fit_on)[:2])
    print(f"fitted on {'a SQuAD 2.0 half sample' if args.squad else 'the seeds'}: {calibration}\n")

    print("## 3. abstention threshold on the seeds\n")
    threshold = choose_threshold(reader, calibration, *seeds)
    print(f"\nchosen threshold: {threshold:.2f}\n")

    print("## 4. the chosen reader\n")
    chosen = SpanReader(Settings(abstain_threshold=threshold), weights, calibration, pool=pool)
    print(HEADER)
    for name, (prepared, data) in sets.items():
        print(row(name, evaluate(chosen, prepared, data)))
    if args.squad:
        print(row("squad2.0 half (check sample)", evaluate(chosen, v2_check, squad_qa.data)))
    print(row("seeds, second pass (warm cache)", evaluate(chosen, *seeds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
