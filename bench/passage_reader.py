"""The passage reader: calibrate its confidence on half of SQuADShifts, report on the other half
and on SQuAD; print tables for docs/benchmarks.md and the model card.

    python bench/passage_reader.py calibrate --write      # fit, choose, store in qa/models/passage-int8.json
    python bench/passage_reader.py gold                   # gold-paragraph numbers (all questions)
    python bench/passage_reader.py gold --limit 2000      # a seeded sample of each set

**Halves.** Each SQuADShifts domain (New Wikipedia, Reddit, Amazon reviews) is split by
paragraph: the paragraphs in a seeded order (``random.Random(0)``), the first half for
*calibration*, the second for *test*. A question belongs to its paragraph's half. SQuADShifts is
never trained on.

**calibrate** (on the calibration half, ``--questions`` per domain) first chooses the weight of the
retrieval's order in choosing the span (``rank``: a span's score less ``rank`` per place its passage
stands below the first, :func:`qa.reader.passage.choose`): the weight of :data:`RANKS` with the best
F1 of the chosen span, each question asked over its BM25 top ``--read`` paragraphs as they come
(the test half's F1 printed beside). Then each question is asked as
the product asks it — over the ``--read`` paragraphs of its domain-half that BM25 ranks highest —
twice: as it is (answerable: the label is "the best span is right", F1 >= 0.5 against a gold
answer) and as a near miss (its own paragraph with the answer's sentence(s) cut out, other
paragraphs that hold an answer dropped: the label is always "wrong"). A logistic regression on
(has-answer logit, span score) gives P(right); ``answer`` is 0.5 (more likely right than wrong)
and ``tentative`` the highest threshold at which ``--answered`` (90 %) of the answerable
questions, asked over the paragraphs BM25 gives them (the gold one may be missing, as in use), get
an answer or a possible answer: the issue's goal, what a user meets (``--rule keep-right``: the
highest that keeps ``--keep-right`` of the right answers, the rule until 2026-12-03; both, and the
threshold with the best balanced accuracy against near misses, are printed). For the fit the
gold paragraph is always among those read (its rank replaces the last when BM25 missed it).
``--compare-read 3,5`` also compares numbers of passages read.

**gold**: the question and its own paragraph (all windows), the setting of published reader
numbers: SQuAD v1.1 dev EM/F1, SQuADShifts test-half F1 per domain, and F1 on answers longer
than five words. ``--half calibration`` reads the calibration halves instead (no SQuAD dev): held-out
data on which to choose between two models (``--reader sentence --model other.onnx``).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.ingest.chunking import split_sentences  # noqa: E402
from qa.index.embedding import bundled_model_path  # noqa: E402
from qa.index.lexical import BM25Index  # noqa: E402
from qa.eval.metrics import best, contains_answer, exact_match, f1  # noqa: E402
from qa.reader.passage import MODEL_DIR, MODEL_FILE, Calibration, PassageModel, choose  # noqa: E402
from squad import halves_order, squad_data as load  # noqa: E402

BENCH = ROOT.parent / "shared" / "benchmarks"
SHIFTS = BENCH / "training" / "squadshifts_v1.0"
DOMAINS = ("new_wiki", "reddit", "amazon_reviews")
SQUAD_V1 = BENCH / "squad_v1.1_dev" / "dev-v1.1.json"
TRAIN = BENCH / "training" / "squad_v1.1_train_rebuilt" / "train-v1.1.rebuilt.json.gz"


def halves(domain: str) -> tuple[list[dict], list[dict]]:
    """(calibration, test) paragraphs of a SQuADShifts domain (see the module's notes)."""
    paragraphs = [p for art in load(SHIFTS / f"{domain}_v1.0.json.gz") for p in art["paragraphs"]]
    calibration, test = halves_order(len(paragraphs))
    return [paragraphs[i] for i in calibration], [paragraphs[i] for i in test]


def questions(paragraphs: list[dict], n: int | None, seed: int = 0) -> list[tuple[int, dict]]:
    items = [(i, q) for i, p in enumerate(paragraphs) for q in p["qas"]]
    if n and n < len(items):
        items = random.Random(seed).sample(items, n)
    return items


def golds(q: dict) -> list[str]:
    return list(dict.fromkeys(a["text"] for a in q["answers"]))


def near_miss(context: str, q: dict) -> str | None:
    """The paragraph without the sentence(s) that hold the first answer (None when it cannot be cut)."""
    a = q["answers"][0]
    s0, e0 = a["answer_start"], a["answer_start"] + len(a["text"])
    kept = [context[s:e] for s, e in split_sentences(context) if e <= s0 or s >= e0]
    text = " ".join(kept)
    return text if len(text) >= 40 and not contains_answer(text, golds(q)) else None


def read(model: PassageModel, question: str, passages: list[str], rank: float = 0.0):
    """(answer text, has-answer logit, span score) of the span the reader chooses (``rank``: the
    weight of the passages' order, :func:`qa.reader.passage.choose`), or None."""
    spans = model.spans(question, passages)
    if not spans:
        return None
    sp, _ = choose(spans, Calibration(rank=rank))
    return passages[sp.passage][sp.start: sp.end], sp.has_answer, sp.score


def bm25_top(index: BM25Index, question: str, k: int) -> list[int]:
    """The ``k`` paragraphs BM25 ranks highest for the question, best first."""
    return [int(j) for j in np.argsort(-index.scores(question), kind="stable")[:k]]


RANKS = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)


def rank_weight(model: PassageModel, args) -> float:
    """The weight of the retrieval's order (see :func:`qa.reader.passage.choose`) with the best F1
    of the chosen span on the calibration half, each question asked over its BM25 top ``--read``
    as retrieval gives them (the gold paragraph may be missing, as in use); the test half's F1 for
    each weight is printed beside it."""
    def reads(half: int, seed: int):
        out = []
        for domain in DOMAINS:
            paragraphs = halves(domain)[half]
            index = BM25Index.build([p["context"] for p in paragraphs])
            for _, q in questions(paragraphs, args.questions, seed):
                texts = [paragraphs[j]["context"] for j in bm25_top(index, q["question"], args.read)]
                out.append((texts, model.spans(q["question"], texts), golds(q)))
        return out

    def mean_f1(got, rank: float) -> float:
        scores = []
        for texts, spans, gold in got:
            sp, _ = choose(spans, Calibration(rank=rank))
            scores.append(best(f1, texts[sp.passage][sp.start: sp.end], gold) if sp else 0.0)
        return 100 * float(np.mean(scores))

    cal, test = reads(0, args.seed), reads(1, args.seed + 1)
    rows = [{"rank weight": r, "F1 calibration half": mean_f1(cal, r), "F1 test half": mean_f1(test, r)}
            for r in RANKS]
    chosen = max(rows, key=lambda row: (round(row["F1 calibration half"], 6), -row["rank weight"]))["rank weight"]
    print(f"## Weight of the retrieval's order (read {args.read}, BM25 order; chosen on the calibration half: "
          f"{chosen})\n\n" + table(rows) + "\n")
    return chosen


def open_examples(model, paragraphs, items, read_k: int, rank: float = 0.0, force_gold: bool = True):
    """Features and labels of each question asked over its BM25 top ``read_k`` (answerable) and
    as a near miss; returns (x, y, kind) with kind 1 for answerable, 0 for near miss.
    ``force_gold``: the gold paragraph replaces the last one read when BM25 missed it; without
    it the question is asked over what BM25 gives, as in use, and no near miss is made."""
    index = BM25Index.build([p["context"] for p in paragraphs])
    xs, ys, kinds = [], [], []
    for i, q in items:
        top = bm25_top(index, q["question"], read_k)
        if force_gold and i not in top:
            top = top[:-1] + [i]
        texts = [paragraphs[j]["context"] for j in top]
        got = read(model, q["question"], texts, rank)
        if got:
            xs.append(got[1:])
            ys.append(best(f1, got[0], golds(q)) >= 0.5)
            kinds.append(1)
        cut = near_miss(paragraphs[i]["context"], q) if force_gold else None
        if cut is None:
            continue
        missing = [cut if j == i else paragraphs[j]["context"] for j in top]
        missing = [t for t in missing if t is cut or not contains_answer(t, golds(q))]
        got = read(model, q["question"], missing, rank)
        if got:
            xs.append(got[1:])
            ys.append(False)
            kinds.append(0)
    return np.asarray(xs, dtype=float), np.asarray(ys, dtype=bool), np.asarray(kinds)


def fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1.0).fit(x, y)
    return float(lr.coef_[0][0]), float(lr.coef_[0][1]), float(lr.intercept_[0])


def balanced_threshold(conf: np.ndarray, right: np.ndarray, kind: np.ndarray) -> float:
    """The confidence threshold with the best balanced accuracy between right answers (kept) and
    near misses (dropped)."""
    pos, neg = conf[(kind == 1) & right], conf[kind == 0]
    grid = np.linspace(0.02, 0.98, 49)
    scores = [(np.mean(pos >= t) + np.mean(neg < t)) / 2 for t in grid]
    return float(grid[int(np.argmax(scores))])


def answering_threshold(conf: np.ndarray, share: float) -> float:
    """The highest threshold (0.01 steps) at which ``share`` of the answerable questions get an
    answer or a possible answer, right or not (the issue's goals: 90 % where unanswerable questions
    are asked too, 95 % where all are answerable)."""
    grid = np.round(np.arange(0.01, 1.0, 0.01), 2)
    kept = [t for t in grid if np.mean(conf >= t) >= share]
    return float(max(kept)) if kept else 0.01


def keeping_threshold(conf: np.ndarray, right: np.ndarray, kind: np.ndarray, keep: float) -> float:
    """The highest threshold (0.01 steps) that keeps ``keep`` of the right answers."""
    pos = conf[(kind == 1) & right]
    grid = np.round(np.arange(0.01, 1.0, 0.01), 2)
    kept = [t for t in grid if np.mean(pos >= t) >= keep]
    return float(max(kept)) if kept else 0.01


def reliability(conf: np.ndarray, right: np.ndarray, bins: int = 10) -> tuple[list[dict], float]:
    """Accuracy per confidence bin, and the expected calibration error."""
    rows, ece = [], 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        sel = (conf >= lo) & ((conf < hi) if b < bins - 1 else (conf <= hi))
        if sel.any():
            rows.append({"bin": f"{lo:.1f}-{hi:.1f}", "n": int(sel.sum()), "mean confidence": float(conf[sel].mean()),
                         "accuracy": float(right[sel].mean())})
            ece += sel.mean() * abs(conf[sel].mean() - right[sel].mean())
    return rows, float(ece)


def table(rows: list[dict]) -> str:
    cols = list(rows[0])
    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    return "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
                     + ["| " + " | ".join(fmt(r[c]) for c in cols) + " |" for r in rows])


def as_retrieved(model, cal: Calibration, rank: float, half: int, seed: int, args) -> np.ndarray:
    """The confidence of each answerable question of a half asked over its BM25 top ``--read``
    as BM25 gives them (the gold paragraph may be missing, as in use)."""
    xs = []
    for domain in DOMAINS:
        paragraphs = halves(domain)[half]
        x, _, _ = open_examples(model, paragraphs, questions(paragraphs, args.questions, seed), args.read, rank,
                                force_gold=False)
        xs.append(x)
    return np.array([cal.confidence(h, s) for h, s in np.concatenate(xs)])


def calibrate(model: PassageModel, args) -> dict:
    rank = rank_weight(model, args)
    per_k = {}
    for read_k in sorted(set(args.compare_read) | {args.read}):
        xs, ys, kinds, seconds = [], [], [], 0.0
        for domain in DOMAINS:
            cal, _ = halves(domain)
            t0 = time.perf_counter()
            x, y, kind = open_examples(model, cal, questions(cal, args.questions, args.seed), read_k, rank)
            seconds += time.perf_counter() - t0
            xs.append(x), ys.append(y), kinds.append(kind)
        x, y, kind = np.concatenate(xs), np.concatenate(ys), np.concatenate(kinds)
        per_k[read_k] = (x, y, kind)
        n_ans = int((kind == 1).sum())
        print(f"read {read_k}: answerable right {y[kind == 1].mean():.3f} (n={n_ans}), "
              f"{1000 * seconds / max(len(kind), 1):.0f} ms per read", file=sys.stderr, flush=True)
    x, y, kind = per_k[args.read]
    w_has, w_span, bias = fit(x, y)
    cal = Calibration(w_has, w_span, bias, rank=rank)
    conf = np.array([cal.confidence(h, s) for h, s in x])
    balanced = balanced_threshold(conf, y, kind)
    open_conf = as_retrieved(model, cal, rank, half=0, seed=args.seed, args=args)
    rules = {f"keep {args.keep_right:.0%} of right answers": keeping_threshold(conf, y, kind, args.keep_right),
             f"{args.answered:.0%} of answerable questions get one": answering_threshold(open_conf, args.answered),
             "best balanced accuracy": balanced}
    chosen_rule = list(rules)[0 if args.rule == "keep-right" else 1]
    tentative = rules[chosen_rule]
    print(f"tentative threshold {tentative} ({chosen_rule}); the rules: {rules}", file=sys.stderr)
    rows, ece = reliability(conf, y)
    result = {"has_answer": w_has, "span": w_span, "bias": bias, "answer": 0.5, "tentative": tentative, "rank": rank}
    print("## Thresholds (calibration half)\n")
    pos, neg = conf[(kind == 1) & y], conf[kind == 0]
    print(table([{"rule": rule + (" (chosen)" if rule == chosen_rule else ""), "threshold": t,
                  "right answers kept": float(np.mean(pos >= t)),
                  "answerable, as retrieved: answer or possible": float(np.mean(open_conf >= t)),
                  "near misses: none": float(np.mean(neg < t))} for rule, t in rules.items()]) + "\n")
    print(json.dumps(result), file=sys.stderr)
    print("## Calibration half (fitted here)\n")
    print(f"{len(kind)} reads ({int((kind == 1).sum())} answerable, {int((kind == 0).sum())} near misses), "
          f"read {args.read} passages; ECE {ece:.3f}\n")
    print(table(rows) + "\n")
    k_rows = [{"passages read": k, "right (answerable)": float(v[1][v[2] == 1].mean())} for k, v in per_k.items()]
    print(table(k_rows) + "\n")
    # the test half: reliability of the fitted calibration
    xs, ys, kinds = [], [], []
    for domain in DOMAINS:
        _, test = halves(domain)
        x, y, kind = open_examples(model, test, questions(test, args.questions, args.seed + 1), args.read, rank)
        xs.append(x), ys.append(y), kinds.append(kind)
    x, y, kind = np.concatenate(xs), np.concatenate(ys), np.concatenate(kinds)
    conf = np.array([cal.confidence(h, s) for h, s in x])
    rows, ece = reliability(conf, y)
    states = {
        "answerable: answer": float(np.mean(conf[kind == 1] >= 0.5)),
        "answerable: answer or tentative": float(np.mean(conf[kind == 1] >= tentative)),
        "answerable, as retrieved: answer or tentative": float(np.mean(
            as_retrieved(model, cal, rank, half=1, seed=args.seed + 1, args=args) >= tentative)),
        "near miss: none": float(np.mean(conf[kind == 0] < tentative)),
        "answers right": float(y[(kind == 1) & (conf >= 0.5)].mean()),
        "tentative right": float(y[(kind == 1) & (conf >= tentative) & (conf < 0.5)].mean()),
    }
    print("## Test half (never fitted on)\n")
    print(f"{len(kind)} reads; ECE {ece:.3f}\n")
    print(table(rows) + "\n")
    print(table([states]) + "\n")
    return result


class SentenceModel:
    """The sentence reader's model read the way bench/trained_reader.py reads a paragraph: every
    sentence, the answer from the most likely one."""

    def __init__(self, threads: int, path: Path | None = None):
        from qa.reader.sentence import MODEL_DIR as SENTENCE_DIR
        from qa.reader.sentence import MODEL_FILE as SENTENCE_FILE
        from qa.reader.sentence import ReaderModel

        self.model = ReaderModel(path or SENTENCE_DIR / SENTENCE_FILE, bundled_model_path(), threads=threads)

    def read(self, question: str, context: str):
        sentences = split_sentences(context)
        texts = [context[s:e] for s, e in sentences]
        logits, spans = self.model.read_logits(question, texts)
        i = int(np.argmax(logits))
        return texts[i][spans[i][0]: spans[i][1]], float(logits[i]), 0.0


def gold(model: PassageModel, args) -> None:
    sets = {"SQuAD v1.1 dev": [p for art in load(SQUAD_V1) for p in art["paragraphs"]]} if args.half == "test" else {}
    for domain in DOMAINS:
        sets[f"SQuADShifts {domain} ({args.half} half)"] = halves(domain)[args.half == "test"]
    rows = []
    sentence = SentenceModel(args.threads, args.model) if args.reader == "sentence" else None
    for name, paragraphs in sets.items():
        items = questions(paragraphs, args.limit, args.seed)
        ems, f1s, long_f1, times = [], [], [], []
        for i, q in items:
            t0 = time.perf_counter()
            if sentence:
                got = sentence.read(q["question"], paragraphs[i]["context"])
            else:
                got = read(model, q["question"], [paragraphs[i]["context"]])
            times.append(time.perf_counter() - t0)
            text = got[0] if got else ""
            ems.append(best(exact_match, text, golds(q)))
            f1s.append(best(f1, text, golds(q)))
            if len(q["answers"][0]["text"].split()) > 5:
                long_f1.append(f1s[-1])
        rows.append({"set": name, "questions": len(items), "EM": 100 * statistics.mean(ems),
                     "F1": 100 * statistics.mean(f1s), "answers > 5 words": len(long_f1),
                     "F1 (> 5 words)": 100 * statistics.mean(long_f1) if long_f1 else float("nan"),
                     "ms/question": 1000 * statistics.median(times)})
        print(rows[-1], file=sys.stderr, flush=True)
    print(f"## Gold paragraph ({args.reader} reader)\n\n" + table(rows))


class Memo:
    """A model whose ``logits`` are computed once per (question, texts): the weights' grid re-scores them."""

    def __init__(self, model):
        self.model, self.cache = model, {}
        self.tokenizer = model.tokenizer

    def logits(self, question, texts, *rest):
        key = (question, tuple(texts), rest)
        if key not in self.cache:
            self.cache[key] = self.model.logits(question, texts, *rest)
        return self.cache[key]


ALPHAS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.7)
SENTENCE_WEIGHTS = (0.5, 1.0, 2.0)


def tune(args) -> dict:
    """The combined reader's weights (alpha, sentence weight) with the best mean F1 of the chosen
    span given the gold paragraph, over held-out SQuAD training articles (the 8 neither model trained
    on) and each domain's calibration half, ``--questions`` questions each; SQuAD dev and the test
    halves are not looked at."""
    from qa.reader.combined import CombinedModel, Weights
    from qa.reader.sentence import MODEL_FILE as SENTENCE_FILE
    from qa.reader.sentence import ReaderModel
    from qa.reader.training_data import load_squad, split_articles

    tokenizer = bundled_model_path()
    passage = Memo(PassageModel(MODEL_DIR / MODEL_FILE, tokenizer, threads=args.threads))
    sentence = Memo(ReaderModel(MODEL_DIR / SENTENCE_FILE, tokenizer, threads=args.threads))
    stored = Weights.read()  # the sentences read stay as stored (``sentences``)
    _, held_out = split_articles(load_squad(TRAIN), 8, 13)
    sets = {"SQuAD train, held-out articles": [p for art in held_out for p in art["paragraphs"]]}
    for domain in DOMAINS:
        sets[f"{domain} (calibration half)"] = halves(domain)[0]
    items = {name: questions(paragraphs, args.questions, args.seed) for name, paragraphs in sets.items()}
    rows = []
    for alpha in ALPHAS:
        for weight in SENTENCE_WEIGHTS:
            model = CombinedModel(passage, sentence, Weights(alpha, weight, stored.read_sentences))
            row = {"alpha": alpha, "sentence weight": weight}
            for name, paragraphs in sets.items():
                got = [read(model, q["question"], [paragraphs[i]["context"]]) for i, q in items[name]]
                row[name] = 100 * statistics.mean(best(f1, g[0] if g else "", golds(q))
                                                  for g, (_, q) in zip(got, items[name]))
            row["mean"] = statistics.mean(row[name] for name in sets)
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
    chosen = max(rows, key=lambda r: round(r["mean"], 6))
    print(f"## The combined reader's weights (gold paragraph, {args.questions} questions a set; chosen: alpha "
          f"{chosen['alpha']}, sentence weight {chosen['sentence weight']})\n\n" + table(rows) + "\n")
    return {"alpha": chosen["alpha"], "sentence_weight": chosen["sentence weight"]}


READ_SENTENCES = (0, 4, 6, 8, 12)


def sentences_read(args) -> int:
    """How many sentences the combined reader's sentence model reads (``Weights.read_sentences``):
    each value of :data:`READ_SENTENCES` (0: every sentence of the passages read) with the stored
    weights and rank weight, each calibration-half question over its BM25 top ``--read`` as
    retrieval gives them; the fewest whose F1 of the chosen span is within 0.5 of reading every
    sentence (the reading time grows with the sentences read)."""
    from dataclasses import replace

    from qa.reader.combined import RECORD

    model = combined_model(args.threads)
    model.passage = Memo(model.passage)
    cal = Calibration.read(RECORD)
    reads = []
    for domain in DOMAINS:
        paragraphs = halves(domain)[0]
        index = BM25Index.build([p["context"] for p in paragraphs])
        for _, q in questions(paragraphs, args.questions, args.seed):
            texts = [paragraphs[j]["context"] for j in bm25_top(index, q["question"], args.read)]
            reads.append((q["question"], texts, [split_sentences(t) for t in texts], golds(q)))
    rows = []
    for n in READ_SENTENCES:
        model.weights = replace(model.weights, read_sentences=n)
        scores, times = [], []
        for question, texts, bounds, gold in reads:
            t0 = time.perf_counter()
            spans = model.spans(question, texts, bounds)
            times.append(time.perf_counter() - t0)
            sp, _ = choose(spans, cal)
            scores.append(best(f1, texts[sp.passage][sp.start: sp.end], gold) if sp else 0.0)
        rows.append({"sentences read": n or "all", "F1 calibration half": 100 * float(np.mean(scores)),
                     "ms per question (median)": 1000 * statistics.median(times)})
        print(rows[-1], file=sys.stderr, flush=True)
    top = rows[0]["F1 calibration half"]
    chosen = next((n for n, r in zip(READ_SENTENCES, rows) if n and r["F1 calibration half"] >= top - 0.5), 0)
    print(f"## Sentences the sentence model reads (read {args.read} passages, BM25 order, {len(reads)} questions of "
          f"the calibration halves; chosen: {chosen or 'all'})\n\n" + table(rows) + "\n")
    return chosen


def combined_model(threads: int):
    """The combined reader's model as the product builds it (the stored weights)."""
    from qa.config import Settings
    from qa.reader.combined import CombinedReader

    return CombinedReader(Settings(query_threads=threads)).model


def write_record(record_file: Path, key: str, value: dict) -> None:
    record = json.loads(record_file.read_text(encoding="utf-8")) if record_file.exists() else {}
    record[key] = value
    record_file.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"{key} written to {record_file}", file=sys.stderr)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["calibrate", "gold", "tune", "sentences"])
    ap.add_argument("--model", type=Path, default=None,
                    help="the reader's model (default: the shipped one; with --reader sentence, the sentence model)")
    ap.add_argument("--questions", type=int, default=400, help="calibrate: questions per domain and half")
    ap.add_argument("--read", type=int, default=3, help="calibrate: passages read per question")
    ap.add_argument("--compare-read", type=lambda s: [int(x) for x in s.split(",")], default=[],
                    help="calibrate: also measure these numbers of passages read (e.g. 3,8)")
    ap.add_argument("--limit", type=int, default=None, help="gold: seeded sample per set (default: all)")
    ap.add_argument("--half", choices=["test", "calibration"], default="test",
                    help="gold: SQuADShifts half (calibration: held-out data to choose between models on; "
                         "SQuAD v1.1 dev is read with the test half only)")
    ap.add_argument("--reader", choices=["passage", "sentence", "combined"], default="passage",
                    help="the passage model; the sentence model sentence by sentence (gold only, for "
                         "comparison); or both (qa.reader.combined: tune, calibrate, gold)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", action="store_true", help="calibrate: store the result beside the model")
    ap.add_argument("--rule", choices=["answered", "keep-right"], default="answered",
                    help="calibrate: how the tentative threshold is chosen: the highest at which --answered of "
                         "the answerable questions, asked over what BM25 retrieves, get an answer or a possible "
                         "answer (the issue's goal), or the highest that keeps --keep-right of right answers")
    ap.add_argument("--answered", type=float, default=0.9,
                    help="calibrate: share of answerable questions that get an answer or a possible answer "
                         "(the issue's goal where unanswerable questions are asked too)")
    ap.add_argument("--keep-right", type=float, default=0.9,
                    help="calibrate: the tentative threshold keeps this share of right answers (a possible "
                         "answer costs a reader little; 'not found' with the answer on screen costs a lot)")
    args = ap.parse_args(argv)
    from qa.reader.combined import RECORD

    if args.what == "tune":
        if args.reader != "combined":
            ap.error("tune is for --reader combined")
        weights = tune(args)
        if args.write:
            stored = json.loads(RECORD.read_text(encoding="utf-8")).get("weights", {}) if RECORD.exists() else {}
            write_record(RECORD, "weights", {**stored, **weights, "fitted_by": "python bench/passage_reader.py tune "
                                             "--reader combined --write", "questions_per_set": args.questions})
        return 0
    if args.what == "sentences":
        n = sentences_read(args)
        if args.write:
            weights = json.loads(RECORD.read_text(encoding="utf-8")).get("weights", {})
            write_record(RECORD, "weights", {**weights, "read_sentences": n,
                                             "read_sentences_by": "python bench/passage_reader.py sentences --write"})
        return 0
    if args.what == "gold" and args.reader == "sentence":
        gold(None, args)
        return 0
    if args.reader == "combined":
        model, record_file = combined_model(args.threads), RECORD
    else:
        path = args.model or MODEL_DIR / MODEL_FILE
        model = PassageModel(path, bundled_model_path(), threads=args.threads)
        record_file = path.with_suffix(".json")
    if args.what == "gold":
        gold(model, args)
        return 0
    result = calibrate(model, args)
    if args.write:
        kept = json.loads(record_file.read_text(encoding="utf-8")).get("calibration", {}) if record_file.exists() else {}
        kept = {k: kept[k] for k in ("stop", "stop_by") if k in kept}  # bench/read_first.py's, chosen after this fit
        write_record(record_file, "calibration", {
            **kept, **result, "fitted_by": f"python bench/passage_reader.py calibrate --reader {args.reader} --write",
            "questions_per_domain": args.questions, "read": args.read})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
