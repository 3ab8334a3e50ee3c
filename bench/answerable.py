"""Does the evidence hold what the question asks about? The question's words missing from the
answer's sentence and passage, as a feature of the answer's confidence next to the reader's score.

    python bench/answerable.py read      # read the SQuADShifts halves once (cached), with features
    python bench/answerable.py fit       # fit each feature set on the calibration half, report on the test half

**read** asks, through the product (the sentence reader, hybrid retrieval, no threshold), the same
questions and near misses as ``bench/sentence_reader.py calibrate`` on both halves of SQuADShifts
and records for each answer the reader's has-answer logit, its F1, and the question's content terms
(:func:`qa.reader.heuristic.question_terms`) with their IDF in the index and whether each is in the
answer's sentence, its passage and any of the passages shown.

**fit** fits P(right) by logistic regression on the calibration half's answerable questions (with
``--with-near`` its near misses too, never right), for each feature set; the possible-answer
threshold is the highest at which 90 % of answerable questions get an answer or a possible answer
(as the product's rule); it prints, per half, the share of near misses left with none at that
threshold and the ROC AUC of right answers against near misses.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import sentence_reader
from passage_reader import DOMAINS, answering_threshold, table
from perf_common import CACHE

from qa.index.lexical import tokenize
from qa.reader.heuristic import question_terms
from qa.reader.sentence import MODEL_DIR, MODEL_FILE

READS = CACHE / "answerable-reads.json"


def evidence(pipeline, question: str, answer) -> dict:
    """The question's terms, their IDF, and whether each is in the answer's sentence, passage and
    any passage shown."""
    data = pipeline.data
    terms = question_terms(question)
    idf = [data.bm25.idf_of(t) for t in terms]
    cited = answer.citations[answer.cited - 1].passage.text if answer.cited else ""
    shown = " ".join(h.passage.text for h in answer.citations)
    bags = [set(t) for t in tokenize([answer.sentence or "", cited, shown])]
    return {"terms": terms, "idf": idf, "docs": int(data.bm25.num_docs),
            "sentence": [t in bags[0] for t in terms], "passage": [t in bags[1] for t in terms],
            "shown": [t in bags[2] for t in terms]}


def read(args) -> None:
    out = {}
    for half, seed in (("calibration", args.seed), ("test", args.seed + 1)):
        for d in DOMAINS:
            got, near = sentence_reader.read_half(d, half, args.questions, seed, args.model, args.cache,
                                                        evidence)
            out[f"{half}/{d}"] = {"answerable": got, "near": near}
            READS.write_text(json.dumps(out))
    print(f"written {READS}", file=sys.stderr)


def features(r: dict, names: list[str]) -> list[float]:
    e = r["evidence"]
    idf = np.asarray(e["idf"], dtype=float)
    total = idf.sum()
    out = []
    for name in names:
        if name == "logit":
            out.append(r["logit"])
            continue
        where, what = name.split(":")
        present = np.asarray(e[where], dtype=bool)
        if not len(idf):
            out.append(0.0)
        elif what == "missing":  # IDF-weighted share of the terms absent
            out.append(float(idf[~present].sum() / total))
        elif what == "rarest":  # the rarest absent term's IDF over the rarest term's
            out.append(float(idf[~present].max() / idf.max()) if (~present).any() else 0.0)
        elif what == "count":
            out.append(float((~present).sum()))
    return out


SETS = {
    "logit (today)": ["logit"],
    "+ sentence missing": ["logit", "sentence:missing"],
    "+ passage missing": ["logit", "passage:missing"],
    "+ shown missing": ["logit", "shown:missing"],
    "+ passage rarest": ["logit", "passage:rarest"],
    "+ sentence & passage missing": ["logit", "sentence:missing", "passage:missing"],
    "+ passage missing & rarest": ["logit", "passage:missing", "passage:rarest"],
    "+ all": ["logit", "sentence:missing", "passage:missing", "shown:missing", "passage:rarest",
              "sentence:rarest", "passage:count"],
}


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg]))


def fit(args) -> None:
    from sklearn.linear_model import LogisticRegression

    reads = json.loads(READS.read_text())

    def half(h):
        ans = [r for d in DOMAINS for r in reads[f"{h}/{d}"]["answerable"]]
        near = [r for d in DOMAINS for r in reads[f"{h}/{d}"]["near"]]
        return ans, near

    cal, cal_near = half("calibration")
    test, test_near = half("test")
    rows = []
    for name, names in SETS.items():
        fitted_on = cal + (cal_near if args.with_near else [])
        x = np.array([features(r, names) for r in fitted_on])
        y = np.r_[[r["f1"] >= 0.5 for r in cal], np.zeros(len(fitted_on) - len(cal), dtype=bool)]
        lr = LogisticRegression(C=1.0).fit(x, y)
        row = {"features": name, "weights": " ".join(f"{w:+.2f}" for w in (*lr.coef_[0], lr.intercept_[0]))}
        p_cal = lr.predict_proba(np.array([features(r, names) for r in cal]))[:, 1]
        t = answering_threshold(p_cal, args.answered)
        for h, ans, near in (("cal", cal, cal_near), ("test", test, test_near)):
            p = lr.predict_proba(np.array([features(r, names) for r in ans]))[:, 1]
            q = lr.predict_proba(np.array([features(r, names) for r in near]))[:, 1]
            right = np.array([r["f1"] >= 0.5 for r in ans])
            row[f"{h} answered"] = float(np.mean(p >= t))
            row[f"{h} near none"] = float(np.mean(q < t))
            row[f"{h} AUC right/near"] = auc(p[right], q)
        row["threshold"] = t
        rows.append(row)
    print(f"calibration half: {len(cal)} answerable, {len(cal_near)} near misses; test half: {len(test)}, "
          f"{len(test_near)}\n\n" + table(rows))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["read", "fit"])
    ap.add_argument("--model", type=Path, default=MODEL_DIR / MODEL_FILE)
    ap.add_argument("--questions", type=int, default=400, help="questions per domain and half")
    ap.add_argument("--answered", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--with-near", action="store_true", help="fit on the near misses too (never right)")
    ap.add_argument("--cache", type=Path, default=CACHE)
    args = ap.parse_args(argv)
    {"read": read, "fit": fit}[args.what](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
