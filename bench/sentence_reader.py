"""The sentence reader (the default): calibrate its confidence on half of SQuADShifts, report on the
other half.

    python bench/sentence_reader.py calibrate --write   # fit, choose, store in qa/models/reader-int8.json

**Halves** are :mod:`bench.passage_reader`'s: each SQuADShifts domain (New Wikipedia, Reddit,
Amazon reviews) split by paragraph in a seeded order, the first half for *calibration*, the second
for *test*; SQuADShifts is never trained on.

**calibrate**: each domain-half is indexed as a collection of its own (one document per paragraph,
the product's passages, cached under ``QA_BENCH_CACHE``, as bench/squad.py does) and
``--questions`` seeded questions of it are asked through the product, open-domain (hybrid
retrieval over the whole half, the default settings), with the reader's raw confidence (the
has-answer probability of the answer's sentence) and no threshold, so every question gets its
answer. The label is "the answer is right" (F1 >= 0.5 against a gold answer). A logistic
regression of the label on the has-answer logit (Platt scaling) gives P(right); the answer
threshold is 0.5 (more likely right than wrong) and the possible-answer threshold the highest at
which ``--answered`` (90 %) of the questions get an answer or a possible answer: the issue's goal
where unanswerable questions are asked too, the highest threshold that meets it leaving the most
of those without an answer. Near misses measure that side: half as many other questions, one per
paragraph, asked over a copy of the half in which their paragraph lost the sentences that hold
the answer (a question whose answer another paragraph holds is left out); each should get none.
On the test half it prints the reliability of P(right) (and of the has-answer probability as it
comes), each rule's shares, and, counting what a user sees (sure and possible answers; none
scores 0), EM / F1 and each state's share with the fitted thresholds and with the uncalibrated
ones (has-answer probability 0.85 / 0.5), per domain.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from passage_reader import DOMAINS, SHIFTS, answering_threshold, fit, reliability, table
from perf_common import CACHE
from squad import load_squad, sample, squad_pipeline

from qa.config import Settings
from qa.eval.metrics import best, contains_answer, exact_match, f1, normalize_answer
from qa.ingest.chunking import split_sentences
from qa.reader.answers import state
from qa.reader.calibration import Calibration
from qa.reader.sentence import MODEL_DIR, MODEL_FILE, UNCALIBRATED, TrainedReader
from qa.types import ANSWER, TENTATIVE

#: No threshold and the has-answer probability as it comes: every question gets its answer.
RAW = Calibration(answer=0.0, tentative=0.0)


def cut_answer(context: str, golds: list[str]) -> str | None:
    """The paragraph without its sentences that hold a gold answer (None when too little is left,
    or the answer is still there)."""
    kept = " ".join(context[a:b] for a, b in split_sentences(context) if not contains_answer(context[a:b], golds))
    return kept if len(kept) >= 40 and not contains_answer(kept, golds) else None


def read_half(domain: str, half: str, n: int, seed: int, model: Path, cache: Path,
              evidence=None) -> tuple[list[dict], list[dict]]:
    """``n`` seeded questions of a domain-half asked through the product over that half (the
    answer's text, its has-answer logit, EM and F1 against the gold answers), and near misses:
    ``n // 2`` other questions, one per paragraph, asked over the same half with their paragraph's
    answer sentences cut out (questions whose answer another paragraph holds are left out)."""
    path = SHIFTS / f"{domain}_v1.0.json.gz"
    docs, questions = load_squad(path, test_half=half == "test", calibration_half=half == "calibration")
    reader = lambda qa: TrainedReader(qa.settings, model, calibration=RAW)  # noqa: E731
    qa = squad_pipeline(docs, cache, Settings.chunk_size, Settings.chunk_overlap,
                        name=f"{domain}_v1.0-{half}-half", reader="sentence")
    qa._reader = reader(qa)
    asked = sample(questions, n, seed)
    ids = {q["id"] for q in asked}
    normalized = {d: f" {normalize_answer(t)} " for d, t in docs.items()}
    cut_docs, missing, seen_docs = dict(docs), [], set()
    for q in sample([q for q in questions if q["id"] not in ids], n, seed + 100):
        name = q["doc"].removesuffix(".txt")
        if name in seen_docs or len(missing) >= n // 2:
            continue
        title, context = docs[name].split("\n\n", 1)
        cut = cut_answer(context, q["answers"])
        golds = [f" {normalize_answer(g)} " for g in q["answers"] if normalize_answer(g)]
        if cut is None or any(g in t for d, t in normalized.items() if d != name for g in golds):
            continue
        cut_docs[name] = f"{title}\n\n{cut}\n"
        seen_docs.add(name)
        missing.append(q)
    near = squad_pipeline(cut_docs, cache, Settings.chunk_size, Settings.chunk_overlap,
                          name=f"{domain}_v1.0-{half}-half-near-misses-{n}-{seed}", reader="sentence")
    near._reader = reader(near)

    def ask(pipeline, q):
        answer = pipeline.ask(q["question"], mode="hybrid")
        p = min(max(answer.confidence, 1e-9), 1 - 1e-9)
        text = answer.text or ""
        out = {"logit": math.log(p / (1 - p)), "em": best(exact_match, text, q["answers"]),
               "f1": best(f1, text, q["answers"]), "domain": domain}
        if evidence:  # (pipeline, question, answer) -> dict, recorded with each read (bench/answerable.py)
            out["evidence"] = evidence(pipeline, q["question"], answer)
        return out

    out = [ask(qa, q) for q in asked]
    misses = [ask(near, q) for q in missing]
    print(f"{domain} {half}: {len(out)} questions, {len(misses)} near misses", file=sys.stderr, flush=True)
    return out, misses


def seen(reads: list[dict], conf: np.ndarray, answer_at: float, tentative_at: float) -> dict:
    """EM / F1 counting sure and possible answers (none scores 0) and each state's share."""
    states = [state(float(c), answer_at, tentative_at) for c in conf]
    shown = np.array([s is not None for s in states])
    return {"EM": 100 * float(np.mean([r["em"] for r in reads] * shown)),
            "F1": 100 * float(np.mean([r["f1"] for r in reads] * shown)),
            "sure": float(np.mean([s == ANSWER for s in states])),
            "possible": float(np.mean([s == TENTATIVE for s in states])),
            "none": float(np.mean(~shown)),
            "sure right": float(np.mean([r["f1"] >= 0.5 for r, s in zip(reads, states) if s == ANSWER] or [np.nan])),
            "possible right": float(np.mean([r["f1"] >= 0.5 for r, s in zip(reads, states) if s == TENTATIVE]
                                            or [np.nan]))}


def thresholds(conf: np.ndarray, args) -> dict[str, float]:
    """The possible-answer threshold by each rule: the highest at which ``--answered`` (or 90 %) of
    the answerable questions get an answer or a possible answer."""
    return {f"{share:.0%} of answerable questions get one": answering_threshold(conf, share)
            for share in sorted({args.answered, 0.95, 0.9}, reverse=True)}


def rule_rows(conf: np.ndarray, near: np.ndarray, rules: dict[str, float], chosen: str) -> list[dict]:
    return [{"rule": rule + (" (chosen)" if rule == chosen else ""), "threshold": t,
             "answerable: answer or possible": float(np.mean(conf >= t)),
             "near misses: none": float(np.mean(near < t))} for rule, t in rules.items()]


def calibrate(args) -> dict:
    cal, cal_near = [], []
    for d in DOMAINS:
        got, near = read_half(d, "calibration", args.questions, args.seed, args.model, args.cache)
        cal += got
        cal_near += near
    y = np.array([r["f1"] >= 0.5 for r in cal])
    w_has, _, bias = fit(np.array([[r["logit"], 0.0] for r in cal]), y)  # the has-answer logit alone (span 0)
    fitted = Calibration(has_answer=w_has, bias=bias, answer=0.5)
    conf = np.array([fitted.confidence(r["logit"], 0.0) for r in cal])
    near = np.array([fitted.confidence(r["logit"], 0.0) for r in cal_near])
    rules = thresholds(conf, args)
    chosen = f"{args.answered:.0%} of answerable questions get one"
    fitted = Calibration(has_answer=fitted.has_answer, bias=fitted.bias, answer=0.5, tentative=rules[chosen])
    # the uncalibrated threshold (has-answer probability 0.5, logit 0) in the calibrated scale
    rules[f"until now: has-answer probability {UNCALIBRATED.tentative}"] = round(
        fitted.confidence(math.log(UNCALIBRATED.tentative / (1 - UNCALIBRATED.tentative)), 0.0), 3)
    rows, ece = reliability(conf, y)
    print(f"## Calibration half (fitted here)\n\n{len(cal)} questions ({args.questions} of each domain), "
          f"answers right {y.mean():.3f}; {len(cal_near)} near misses; P(right) = sigmoid({fitted.has_answer:.3f} x "
          f"has-answer logit {fitted.bias:+.3f}); answer from 0.5, possible answer from {fitted.tentative}; "
          f"ECE {ece:.3f}\n\n" + table(rule_rows(conf, near, rules, chosen)) + "\n\n" + table(rows) + "\n")

    test, test_near = {}, []
    for d in DOMAINS:
        test[d], near = read_half(d, "test", args.questions, args.seed + 1, args.model, args.cache)
        test_near += near
    every = [r for d in DOMAINS for r in test[d]]
    conf = np.array([fitted.confidence(r["logit"], 0.0) for r in every])
    near = np.array([fitted.confidence(r["logit"], 0.0) for r in test_near])
    right = np.array([r["f1"] >= 0.5 for r in every])
    rows, ece = reliability(conf, right)
    _, raw_ece = reliability(1 / (1 + np.exp(-np.array([r["logit"] for r in every]))), right)
    print(f"## Test half (never fitted on)\n\n{len(every)} questions, {len(test_near)} near misses; ECE {ece:.3f} "
          f"(the has-answer probability as it comes: {raw_ece:.3f})\n\n"
          + table(rule_rows(conf, near, rules, chosen)) + "\n\n" + table(rows) + "\n")
    out = []
    for d in (*DOMAINS, "all"):
        reads = every if d == "all" else test[d]
        logits = np.array([r["logit"] for r in reads])
        calibrated = np.array([fitted.confidence(v, 0.0) for v in logits])
        settings = [("uncalibrated 0.85 / 0.5", 1 / (1 + np.exp(-logits)), UNCALIBRATED)]
        settings += [(f"calibrated 0.5 / {t} ({rule.split(' of')[0]})", calibrated, replace(fitted, tentative=t))
                     for rule, t in rules.items() if not rule.startswith("until now")]
        settings += [("every question answered", np.ones(len(reads)), RAW)]
        for name, c, t in settings:
            out.append({"domain": d, "thresholds": name, "n": len(reads), **seen(reads, c, t.answer, t.tentative)})
    print("## Test half: what a user sees (sure and possible answers; none scores 0)\n\n" + table(out) + "\n")
    return {"has_answer": fitted.has_answer, "span": 0.0, "bias": fitted.bias, "answer": fitted.answer,
            "tentative": fitted.tentative}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["calibrate"])
    ap.add_argument("--model", type=Path, default=MODEL_DIR / MODEL_FILE)
    ap.add_argument("--questions", type=int, default=400, help="questions per domain and half")
    ap.add_argument("--answered", type=float, default=0.9,
                    help="share of answerable questions that get an answer or a possible answer on the "
                         "calibration half (the issue's goal where unanswerable questions are asked too)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--write", action="store_true", help="store the result beside the model")
    args = ap.parse_args(argv)
    result = calibrate(args)
    print(json.dumps(result), file=sys.stderr)
    if args.write:
        record_file = args.model.with_suffix(".json")
        record = json.loads(record_file.read_text(encoding="utf-8")) if record_file.exists() else {}
        record["calibration"] = {**result, "fitted_by": "python bench/sentence_reader.py calibrate --write",
                                 "questions_per_domain": args.questions}
        record_file.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        print(f"calibration written to {record_file}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
