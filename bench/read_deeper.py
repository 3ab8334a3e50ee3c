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

Rule 3 (the default since 2026-12-06; docs/benchmarks.md, "Reading deeper for questions"): questions only, chosen on
the Shifts calibration halves, its answers' confidence fitted apart, judged on questions no run had read:

    python bench/read_deeper.py --sets shifts-nw shifts-reddit shifts-amazon --half calibration --questions-only
    python bench/read_deeper.py --choose "shifts-nw calibration" "shifts-reddit calibration" \
        "shifts-amazon calibration" --questions-only --ceiling 2.5
    python bench/read_deeper.py --calibrate --policy "deeper 10 below 0.2 take 0.06" --write
    python bench/read_deeper.py --sets shifts-nw shifts-reddit shifts-amazon --half test --unseen 1000 \
        --policy "deeper 10 below 0.2 take 0.06 calibrated"
    python bench/read_deeper.py --sets squad-dev --unseen 0 --policy "deeper 10 below 0.2 take 0.06 calibrated"
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


def deeper(row: dict, cal: Calibration, depth: int, below: float, take: float | None, rank: float | None,
           calibrated: bool = False, asked: bool = True):
    """As the product, then deeper as the policy says; ``asked``: the query is worded as a question (with
    ``--questions-only`` a query that is not reads as the product does); ``calibrated``: a deeper answer's
    confidence is its own fit's (``Calibration.deeper_confidence``), the one it is taken and shown by."""
    sp, conf, read = product(row, cal)
    n = min(depth, len(row["top"]))
    if not asked or conf >= below or n <= 3:
        return sp, conf, read
    if rank is not None:
        new, new_conf = choose(spans_of(row, range(n)), replace(cal, rank=rank))
        return (new, new_conf, n) if new is not None else (sp, conf, n)
    deep = spans_of(row, range(3, n))
    if deep:
        sure = cal.deeper_confidence if calibrated else cal.confidence
        d = max(deep, key=lambda s: sure(s.has_answer, s.score))
        dc = sure(d.has_answer, d.score)
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


def policy_of(label: str) -> tuple:
    """The policy a label names; "... calibrated": a take-policy with the deeper answers' own confidence."""
    base = label.removesuffix(" calibrated")
    return (*policies()[base], True) if base != label else policies()[label]


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
    r = read_all(name, args, model)
    c, got = r["c"], r["got"]
    keep = in_half(name, args.half)
    if keep is not None:
        got = {q: row for q, row in got.items() if q in keep}
    doc_of, qrels = c["doc_of"], c["qrels"]
    asked = asked_of(name, args, got)
    pols = {"product": None, args.policy: policy_of(args.policy)} if args.policy else policies()
    return score(set_label(name, args.half), got, pols, cal, doc_of, qrels, answers_of(name), asked)


def asked_of(name: str, args, got: dict) -> dict[str, bool]:
    """Per question id: whether deeper reading may apply (worded as a question, or every query without
    ``--questions-only``)."""
    if not args.questions_only:
        return dict.fromkeys(got, True)
    from qa.index.question_form import is_question

    queries = dataset(name, args)[2]
    return {q: is_question(queries[q]) for q in got}


def score(label_of_set: str, got: dict, pols: dict, cal: Calibration, doc_of, qrels, gold, asked) -> list[dict]:
    """One row a policy: document R@1 / R@5 / MRR@5 of the five shown with paired tests against ``product``,
    F1, share answered and passages read (``got``: per question the rows :func:`read_all` gives)."""
    from ranx import Qrels, Run, compare

    rows, run_of = [], {}
    for label, p in pols.items():
        run, scores, answered, read = {}, [], [], []
        for qid, row in got.items():
            sp, conf, n = product(row, cal) if p is None else deeper(row, cal, *p, asked=asked[qid])
            docs, f, ans = outcome(row, sp, conf, cal, doc_of, gold.get(qid))
            run[qid] = {d: float(SHOWN - i) for i, d in enumerate(docs)} or {"-": 0.0}
            answered.append(ans), read.append(n)
            if f is not None:
                scores.append(f)
        run_of[label] = Run(run, name=label)
        rows.append({"set": label_of_set, "queries": len(got), "reading": label,
                     "F1": 100 * float(np.mean(scores)) if scores else float("nan"),
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


def unseen_ids(name: str, args) -> tuple[dict, dict]:
    """Queries and qrels of ``name`` that no sample of :mod:`fusion` holds: SQuAD dev's questions outside the
    2,000 sample (``--unseen 0``: all of them, else that many drawn), a Shifts set's outside its sample in
    ``--half``'s paragraphs (``--unseen`` drawn)."""
    import random

    full = replace_args(args, questions=None)
    _, _, queries, qrels = dataset(name, full)
    seen = set(dataset(name, args)[2])
    keep = in_half(name, args.half)
    ids = sorted(q for q in queries if q not in seen and (keep is None or q in keep))
    if args.unseen and args.unseen < len(ids):
        ids = sorted(random.Random(1).sample(ids, args.unseen))
    return {q: queries[q] for q in ids}, {q: qrels[q] for q in ids}


def replace_args(args, **changes):
    import argparse

    return argparse.Namespace(**{**vars(args), **changes})


def read_policy(name: str, args, model: PassageModel, cal: Calibration, policy: tuple) -> dict:
    """Questions no sample held, retrieved by the product (``Pipeline.search``, its fused top :data:`READ`) and
    read only as far as ``product`` and ``policy`` need (the others' spans left empty); cached."""
    from qa.index.question_form import is_question

    queries, qrels = unseen_ids(name, args)
    depth, below = policy[0], policy[1]
    out = args.cache / f"read-deeper-unseen-{set_label(name, args.half).replace(' ', '-')}-{len(queries)}-d{depth}-t{below}.json"
    qa = set_pipeline(name, args)
    doc_of = [p.doc.removesuffix(".txt") for p in qa.data.passages]
    if out.exists():
        return {"doc_of": doc_of, "qrels": qrels, **json.loads(out.read_text())}
    got, asked = {}, {}
    for n, (qid, q) in enumerate(queries.items()):
        hits = qa.search(q, k=READ)
        texts = [h.passage.text for h in hits]
        spans: list[list] = [[] for _ in hits]

        def read(places):
            for i in places:
                spans[i] = [(sp.start, sp.end, sp.score, sp.has_answer) for sp in model.spans(q, [texts[i]])]

        row = {"top": [h.row for h in hits], "spans": spans, "texts": texts}
        read(range(min(1, len(hits))))
        _, conf, _ = product(row, cal)
        if conf < cal.stop:
            read(range(1, min(3, len(hits))))
        asked[qid] = is_question(q)
        _, conf, _ = product(row, cal)
        if asked[qid] and conf < below:
            read(range(3, min(depth, len(hits))))
        got[qid] = row
        if n % 500 == 0:
            print(f"{name} unseen: {n} of {len(queries)}", file=sys.stderr, flush=True)
    out.write_text(json.dumps({"got": got, "asked": asked}))
    return {"doc_of": doc_of, "qrels": qrels, "got": got, "asked": asked}


def report_unseen(name: str, args, model: PassageModel, cal: Calibration) -> list[dict]:
    """``product`` against the one policy ``--policy`` names, on questions no earlier run read."""
    label = args.policy
    pol = policy_of(label)
    r = read_policy(name, args, model, cal, pol)
    return score(f"{set_label(name, args.half)} unseen", r["got"], {"product": None, label: pol}, cal,
                 r["doc_of"], r["qrels"], answers_of(name), r["asked"])


def deeper_answers(name: str, args, cal: Calibration, half: str) -> tuple[np.ndarray, np.ndarray]:
    """The answers ``--policy`` takes from the deeper passages in ``half`` of a Shifts set's sample: their
    (has-answer logit, span score) and whether each is right (F1 >= 0.5, the calibration's label)."""
    c = candidates(name, args)
    got = json.loads((args.cache / f"read-deeper-{name}-{len(c['ids'])}-{READ}.json").read_text())["got"]
    keep, gold, pol = in_half(name, half), answers_of(name), policy_of(args.policy)
    xs, ys = [], []
    for qid, row in got.items():
        if qid in keep:
            sp, _, _ = product(row, cal)
            d, _, _ = deeper(row, cal, *pol)
            if d is not None and d != sp:
                xs.append((d.has_answer, d.score))
                ys.append(best(f1, row["texts"][d.passage][d.start:d.end], gold[qid]) >= 0.5)
    return np.asarray(xs, float).reshape(-1, 2), np.asarray(ys, bool)


def calibrate_deeper(args, cal: Calibration) -> int:
    """Fit the confidence of the answers found by reading deeper (logistic regression, as the reader's own) on
    the three Shifts calibration halves; report its reliability there and on the test halves; ``--write``
    stores it beside the model (``calibration.deeper_*``)."""
    from passage_reader import fit, reliability, write_record

    sets = ("shifts-nw", "shifts-reddit", "shifts-amazon")
    parts = {h: [deeper_answers(n, args, cal, h) for n in sets] for h in ("calibration", "test")}
    x = {h: np.concatenate([p[0] for p in v]) for h, v in parts.items()}
    y = {h: np.concatenate([p[1] for p in v]) for h, v in parts.items()}
    a, b, c = fit(x["calibration"], y["calibration"])
    fitted = replace(cal, has_answer=a, span=b, bias=c)
    for h in ("calibration", "test"):
        for label, cc in (("the reader's calibration", cal), ("refitted for deeper answers", fitted)):
            conf = np.array([cc.confidence(*v) for v in x[h]])
            rows, ece = reliability(conf, y[h], bins=5)
            print(f"\n{h} half: {len(conf)} answers taken from deeper passages, right {y[h].mean():.3f}; {label}: "
                  f"ECE {ece:.3f}, sure (>= {cal.answer}) {np.mean(conf >= cal.answer):.3f}, "
                  f"none (< {cal.tentative}) {np.mean(conf < cal.tentative):.3f}")
            print_table(rows, list(rows[0]))
    print(f"\ndeeper: has_answer {a:.4f} span {b:.4f} bias {c:.4f}")
    if args.write:
        model_file = MODEL_DIR / MODEL_FILE
        record = json.loads(model_file.with_suffix(".json").read_text())["calibration"]
        write_record(model_file.with_suffix(".json"), "calibration", {
            **record, "deeper_has_answer": a, "deeper_span": b, "deeper_bias": c,
            "deeper_by": f"python bench/read_deeper.py --calibrate --policy '{args.policy}' --write",
            "deeper_answers": int(len(y["calibration"]))})
        print(f"written to {model_file.with_suffix('.json')}")
    return 0


def rows_name(label: str, args) -> str:
    return label.replace(" ", "-") + ("-questions" if args.questions_only else "")


def choose_rule(args) -> int:
    """The rule fixed before the run on the tuning sets' rows: eligible when no tuning set's R@5 or MRR@5 and no
    answer set's F1 falls and the answer sets read at most 1.5 passages more a question; the highest mean R@5 gain,
    ties to fewer passages read."""
    sets = {lab: {r["reading"]: r for r in json.loads((args.cache / f"read-deeper-rows-{rows_name(lab, args)}.json")
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
                    and all(d[lab]["F1"] >= 0 for lab in answer_sets) and extra <= args.ceiling)
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
    ap.add_argument("--ceiling", type=float, default=1.5,
                    help="--choose: most passages read a question above the product's (mean over the answer sets)")
    ap.add_argument("--questions-only", action="store_true",
                    help="read deeper only for queries worded as questions (the rows stored with a '-questions' name)")
    ap.add_argument("--policy", help="the one policy scored against the product (the sample's rows are then not stored)")
    ap.add_argument("--calibrate", action="store_true",
                    help="fit the confidence of --policy's deeper answers on the Shifts calibration halves")
    ap.add_argument("--write", action="store_true", help="--calibrate: store the fit beside the model")
    ap.add_argument("--unseen", type=int, metavar="N",
                    help="score --policy on questions outside the samples (N drawn; 0: all; --half for Shifts)")
    args = ap.parse_args(argv)
    if args.choose:
        return choose_rule(args)
    model_file = MODEL_DIR / MODEL_FILE
    model = PassageModel(model_file, bundled_model_path(), threads=2)
    cal = Calibration.beside(model_file)
    print(machine())
    print(f"calibration {cal}")
    if args.calibrate:
        return calibrate_deeper(args, cal)
    cols = ["set", "queries", "reading", "R@1", "R@5", "MRR@5", "p R@5", "p MRR@5", "F1", "answered", "read / q", "read > 3"]
    for s in args.sets:
        if args.unseen is not None:
            print_table(report_unseen(s, args, model, cal), cols)
            continue
        rows = evaluate(s, args, model, cal)
        if args.policy:
            print_table(rows, cols)
            continue
        shown = rows if args.all_rows else [rows[0]] + sorted(rows[1:], key=lambda r: -r["R@5"])[:12]
        print_table(shown, cols)
        out = args.cache / f"read-deeper-rows-{rows_name(set_label(s, args.half), args)}.json"
        out.write_text(json.dumps(rows))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
