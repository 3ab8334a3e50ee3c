"""Reading deeper when unsure: when the passage reader has no sure answer in the passages it reads (the top 3), read
the retrieved passages below them too, down to ``depth``, and take an answer found there — its passage then cited
first, so a paragraph that retrieval ranked 6th to 10th can enter the five shown.

Per question the hybrid fusion's first 10 passages (``bench/fusion.py``'s cached candidates, the product's fusion)
are each read alone by the passage model once and cached; every way of reading is then scored offline:

* ``product``: as the product reads (passage 1; passages 2-3 when its answer is below ``Calibration.stop``; the span
  chosen by score less ``Calibration.rank`` a place; sure / possible / none by the calibrated thresholds);
* ``deeper D below T take X``: as the product, then, when its confidence is below ``T``, passages 4..D read too;
  the best of them by confidence replaces the answer when it is at least ``X`` and above the product's confidence;
* ``deeper D below T rank r``: the same passages, the span chosen among all read as the product chooses, with ``r``
  taken off a span's score a place.

Numbers: document-level R@1 / R@5 / MRR@5 of the passages shown (5: the answer's passage first, then the others in
retrieval order; seeds by passage, as ``qa eval``), F1 of the answer where the set has answers (sure and possible
count; none scores 0), share answered, and passages read a question (the time: ``bench/read_first.py`` measured
about 14 ms a passage on two threads here). Paired randomization tests (ranx, R@5 and MRR@5) against ``product``.

    python bench/read_deeper.py --sets shifts-nw shifts-reddit shifts-amazon --half calibration   # tuning sets
    python bench/read_deeper.py --sets scifact-train
    python bench/read_deeper.py --choose "shifts-nw calibration" "shifts-reddit calibration" \
        "shifts-amazon calibration" scifact-train                            # the rule (docs/benchmarks.md)
    python bench/read_deeper.py --sets shifts-nw shifts-reddit shifts-amazon --half test             # report sets
    python bench/read_deeper.py --sets squad-dev scifact-test seeds squad-train
"""

from __future__ import annotations

import gzip
import json
import sys
from dataclasses import replace

import numpy as np
from fusion import (DEV, SHIFTS, TRAIN, TUNE_SETS, candidate_args, candidates, dataset, product_weight,
                    runs, set_pipeline)
from perf_common import SEED_QUERIES, machine, print_table

from qa.config import Settings
from qa.eval.metrics import best, f1
from qa.index.embedding import bundled_model_path
from qa.reader.passage import MODEL_DIR, MODEL_FILE, Calibration, PassageModel, WindowSpan, choose

READ = 10
SHOWN = 5
DEPTHS = (5, 7, 10)
BELOW = (0.2, 0.5, 0.8)
TAKE = (0.06, 0.2, 0.5, 0.8)
RANKS = (2.0, 1.0, 0.5)


def answers_of(name: str) -> dict[str, list[str]]:
    """Gold answers by question id (none for SciFact's claims)."""
    if name.startswith("scifact"):
        return {}
    if name == "seeds":
        rows = [json.loads(x) for x in SEED_QUERIES.read_text(encoding="utf-8").splitlines() if x.strip()]
        return {r["id"]: list(r.get("answers") or []) for r in rows}
    if name == "squad-train":
        data = json.load(gzip.open(TRAIN))["data"]
    elif name == "squad-dev":
        data = json.loads(DEV.read_text())["data"]
    else:
        file = {"shifts-nw": "new_wiki", "shifts-reddit": "reddit", "shifts-amazon": "amazon_reviews"}[name]
        data = json.load(gzip.open(SHIFTS / f"{file}_v1.0.json.gz"))["data"]
    return {q["id"]: [a["text"] for a in q["answers"]] for a in data for p in a["paragraphs"] for q in p["qas"]}


def read_all(name: str, args, model: PassageModel) -> dict:
    """Per question: the first :data:`READ` fused passages and each one's window spans (read alone), cached."""
    c = candidates(name, args)
    out = args.cache / f"read-deeper-{name}-{len(c['ids'])}-{READ}.json"
    if out.exists():
        return {"c": c, **json.loads(out.read_text())}
    fused = runs(c, {"m": (Settings.fusion, product_weight(name), Settings.candidates)}, passages=True)["m"]
    data = set_pipeline(name, args).data
    queries = dataset(name, args)[2]
    got = {}
    for n, qid in enumerate(c["ids"]):
        top = [p for p, _ in fused[qid][:READ]]
        spans = [[(sp.start, sp.end, sp.score, sp.has_answer) for sp in model.spans(queries[qid], [data.passages[p].text])]
                 for p in top]
        got[qid] = {"top": top, "spans": spans, "texts": [data.passages[p].text for p in top]}
        if n % 200 == 0:
            print(f"{name}: {n} of {len(c['ids'])}", file=sys.stderr, flush=True)
    out.write_text(json.dumps({"got": got}))
    return {"c": c, "got": got}


def spans_of(row: dict, places: range) -> list[WindowSpan]:
    return [WindowSpan(i, s, e, sc, h) for i in places for s, e, sc, h in row["spans"][i]]


def product(row: dict, cal: Calibration) -> tuple[WindowSpan | None, float, int]:
    """The product's reading: (span, confidence, passages read)."""
    spans = spans_of(row, range(1))
    sp, conf = choose(spans, cal)
    read = 1
    n = min(3, len(row["top"]))
    if n > 1 and conf < cal.stop:
        spans = spans_of(row, range(n))
        sp, conf = choose(spans, cal)
        read = n
    return sp, conf, read


def deeper(row: dict, cal: Calibration, depth: int, below: float, take: float | None, rank: float | None):
    sp, conf, read = product(row, cal)
    n = min(depth, len(row["top"]))
    if conf >= below or n <= 3:
        return sp, conf, read
    if rank is not None:
        new, new_conf = choose(spans_of(row, range(n)), replace(cal, rank=rank))
        return (new, new_conf, n) if new is not None else (sp, conf, n)
    deep = spans_of(row, range(3, n))
    if deep:
        d = max(deep, key=lambda s: cal.confidence(s.has_answer, s.score))
        dc = cal.confidence(d.has_answer, d.score)
        if dc >= take and dc > conf:
            return d, dc, n
    return sp, conf, n


def outcome(row, sp, conf, cal: Calibration, doc_of, golds):
    """(document ranking shown, F1 or None, answered)."""
    answered = sp is not None and conf >= cal.tentative
    places = list(range(len(row["top"])))[:SHOWN]
    if answered:
        places = [sp.passage] + [i for i in places if i != sp.passage]
    docs = list(dict.fromkeys(doc_of[row["top"][i]] for i in places))[:SHOWN]
    score = None
    if golds:
        score = best(f1, row["texts"][sp.passage][sp.start:sp.end], golds) if answered else 0.0
    return docs, score, answered


def policies() -> dict:
    out = {"product": None}
    for d in DEPTHS:
        for t in BELOW:
            for x in TAKE:
                out[f"deeper {d} below {t} take {x}"] = (d, t, x, None)
            for r in RANKS:
                out[f"deeper {d} below {t} rank {r}"] = (d, t, None, r)
    return out


def in_half(name: str, half: str) -> set[str] | None:
    """The question ids of a SQuADShifts set whose paragraph is in ``half`` of ``bench/passage_reader.halves``
    (``calibration``: the half the reader's confidence was fitted on); ``None``: every question."""
    if half == "all" or not name.startswith("shifts"):
        return None
    from passage_reader import halves

    domain = {"shifts-nw": "new_wiki", "shifts-reddit": "reddit", "shifts-amazon": "amazon_reviews"}[name]
    return {q["id"] for p in halves(domain)[half == "test"] for q in p["qas"]}


def set_label(name: str, half: str) -> str:
    return name if in_half(name, half) is None else f"{name} {half}"


def evaluate(name: str, args, model: PassageModel, cal: Calibration) -> list[dict]:
    from ranx import Qrels, Run, compare

    r = read_all(name, args, model)
    c, got = r["c"], r["got"]
    keep = in_half(name, args.half)
    if keep is not None:
        got = {q: row for q, row in got.items() if q in keep}
    doc_of, qrels = c["doc_of"], c["qrels"]
    gold = answers_of(name)
    rows, run_of = [], {}
    for label, p in policies().items():
        run, scores, answered, read = {}, [], [], []
        for qid, row in got.items():
            sp, conf, n = product(row, cal) if p is None else deeper(row, cal, *p)
            docs, score, ans = outcome(row, sp, conf, cal, doc_of, gold.get(qid))
            run[qid] = {d: float(SHOWN - i) for i, d in enumerate(docs)} or {"-": 0.0}
            answered.append(ans), read.append(n)
            if score is not None:
                scores.append(score)
        run_of[label] = Run(run, name=label)
        rows.append({"set": set_label(name, args.half), "queries": len(got), "reading": label, "F1": 100 * float(np.mean(scores)) if scores else float("nan"),
                     "answered": float(np.mean(answered)), "read / q": float(np.mean(read)),
                     "read > 3": float(np.mean(np.asarray(read) > 3))})
    metrics = ["hit_rate@1", "hit_rate@5", "mrr@5"]
    qrels = {q: qrels[q] for q in got}
    for row in rows:
        pair = [run_of["product"]] + ([run_of[row["reading"]]] if row["reading"] != "product" else [])
        res = compare(Qrels(qrels), pair, metrics=metrics, make_comparable=True, stat_test="fisher",
                      random_seed=0, n_permutations=2000).to_dict()[row["reading"]]
        for m, short in zip(metrics, ("R@1", "R@5", "MRR@5")):
            row[short] = res["scores"][m]
        row["p R@5"] = res["comparisons"].get("product", {}).get("hit_rate@5", 1.0)
        row["p MRR@5"] = res["comparisons"].get("product", {}).get("mrr@5", 1.0)
    return rows


def choose_rule(args) -> int:
    """The rule fixed before the run on the tuning sets' rows: eligible when no tuning set's R@5 or MRR@5 and no
    answer set's F1 falls and the answer sets read at most 1.5 passages more a question; the highest mean R@5 gain,
    ties to fewer passages read."""
    sets = {lab: {r["reading"]: r for r in json.loads((args.cache / f"read-deeper-rows-{lab.replace(' ', '-')}.json")
                                                      .read_text())} for lab in args.choose}
    answer_sets = [lab for lab, rows in sets.items() if rows["product"]["F1"] == rows["product"]["F1"]]  # not NaN
    out = []
    for label in next(iter(sets.values())):
        if label == "product":
            continue
        d = {lab: {m: rows[label][m] - rows["product"][m] for m in ("R@5", "MRR@5", "F1", "read / q")}
             for lab, rows in sets.items()}
        extra = float(np.mean([d[lab]["read / q"] for lab in answer_sets]))
        eligible = (all(v["R@5"] >= 0 and v["MRR@5"] >= 0 for v in d.values())
                    and all(d[lab]["F1"] >= 0 for lab in answer_sets) and extra <= 1.5)
        out.append({"reading": label, "eligible": eligible,
                    "mean R@5 gain": float(np.mean([v["R@5"] for v in d.values()])),
                    "answer sets R@5 gain": float(np.mean([d[lab]["R@5"] for lab in answer_sets])),
                    "answer sets F1 gain": float(np.mean([d[lab]["F1"] for lab in answer_sets])),
                    "extra read / q": extra})
    out.sort(key=lambda r: (not r["eligible"], -r["mean R@5 gain"], r["extra read / q"]))
    print_table(out[:15], list(out[0]))
    chosen = out[0] if out and out[0]["eligible"] else None
    print(f"\nChosen: {chosen['reading'] if chosen else 'none eligible'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = candidate_args(__doc__, [*TUNE_SETS])
    ap.add_argument("--all-rows", action="store_true", help="print every policy (else the product and the best 12)")
    ap.add_argument("--half", choices=["all", "calibration", "test"], default="all",
                    help="SQuADShifts sets: only the questions of this half's paragraphs (bench/passage_reader.halves)")
    ap.add_argument("--choose", nargs="+", metavar="ROWS",
                    help="apply the rule (docs/benchmarks.md) to these sets' stored rows (set labels) and stop")
    args = ap.parse_args(argv)
    if args.choose:
        return choose_rule(args)
    model_file = MODEL_DIR / MODEL_FILE
    model = PassageModel(model_file, bundled_model_path(), threads=2)
    cal = Calibration.beside(model_file)
    print(machine())
    print(f"calibration {cal}")
    cols = ["set", "queries", "reading", "R@1", "R@5", "MRR@5", "p R@5", "p MRR@5", "F1", "answered", "read / q", "read > 3"]
    for s in args.sets:
        rows = evaluate(s, args, model, cal)
        shown = rows if args.all_rows else [rows[0]] + sorted(rows[1:], key=lambda r: -r["R@5"])[:12]
        print_table(shown, cols)
        out = args.cache / f"read-deeper-rows-{set_label(s, args.half).replace(' ', '-')}.json"
        out.write_text(json.dumps(rows))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
