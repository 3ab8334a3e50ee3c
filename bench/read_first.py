"""Reading the first passage first: stop there when its answer is sure enough, else read the rest.

Until 2026-12-04 the passage reader read the top 3 retrieved passages (``READ_PASSAGES``) in one
padded batch; its time is the reading (``bench/query_latency.py``), proportional to the tokens read. A span from a later
passage must beat the first passage's best by ``Calibration.rank`` per place to be chosen, so when
the first passage already gives a confident answer the others rarely change it. This measures,
for each exit threshold ``t``, what reading passage 1 alone first — and passages 2-3 only when its
answer's confidence is below ``t`` — does to the answers and to the time, against reading all 3.

Data: each SQuADShifts domain's half (the split of ``bench/passage_reader.py``), every question asked
over the 3 paragraphs of its domain-half that BM25 ranks highest, as ``calibrate`` asks them (the
gold paragraph may be missing, as in use). ``--half calibration`` chooses; ``--half test`` reports.
Numbers per threshold: F1 counting sure and possible answers (none scores 0), the share that gets
an answer or a possible answer, the share sure, the share of questions that stopped after
passage 1, and the reading time per question (model calls timed as run, one thread). The first row
reads the passages as the product did until 2026-12-04, every window in one padded batch; the
others read each window on its own (:func:`qa.reader.runtime.run_rows`).

The rule (chosen on the calibration half): the lowest threshold at which neither F1 nor the share
answered falls below reading all passages; the test half then reports it.

    python bench/read_first.py --half calibration --questions 400
    python bench/read_first.py --half test --questions 400
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from passage_reader import DOMAINS, bm25_top, golds, halves, questions, table  # noqa: E402

from qa.eval.metrics import best, f1  # noqa: E402
from qa.index.embedding import bundled_model_path  # noqa: E402
from qa.index.lexical import BM25Index  # noqa: E402
from qa.reader.passage import (MAX_WINDOWS, MODEL_DIR, MODEL_FILE, Calibration, PassageModel,  # noqa: E402
                               choose, window_spans)
from qa.reader.windows import encode  # noqa: E402

THRESHOLDS = (1.01, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def batched_spans(model: PassageModel, question: str, texts: list[str]):
    """``PassageModel.spans`` as it was until 2026-12-04: all windows in one padded batch."""
    windows = encode(model.tokenizer, [question], texts, max_windows=MAX_WINDOWS)
    start, end, has = model.session.run(["start_logits", "end_logits", "has_answer"], windows.feed())
    return window_spans(windows, start, end, has.reshape(-1))


def reads(model: PassageModel, half: int, n: int, seed: int, k: int):
    """Per question: (passages, spans of all k read together, per passage the spans of it read
    alone, the times [together, passage 1 alone, ...], gold answers, domain)."""
    out = []
    for domain in DOMAINS:
        paragraphs = halves(domain)[half]
        index = BM25Index.build([p["context"] for p in paragraphs])
        for _, q in questions(paragraphs, n, seed):
            texts = [paragraphs[j]["context"] for j in bm25_top(index, q["question"], k)]
            t0 = time.perf_counter()
            together = batched_spans(model, q["question"], texts)
            alone, seconds = [], [time.perf_counter() - t0]
            for i, text in enumerate(texts):
                t2 = time.perf_counter()
                alone.append([replace(sp, passage=i) for sp in model.spans(q["question"], [text])])
                seconds.append(time.perf_counter() - t2)
            out.append((texts, together, alone, seconds, golds(q), domain))
    return out


def outcome(texts, spans, cal: Calibration, gold) -> tuple[float, float]:
    """(F1 counting sure and possible answers, confidence) of the span chosen among ``spans``."""
    sp, conf = choose(spans, cal)
    if sp is None or conf < cal.tentative:
        return 0.0, conf
    return best(f1, texts[sp.passage][sp.start: sp.end], gold), conf


def summarise(got, cal: Calibration, exit_at: float | None) -> dict:
    """The numbers of one way of reading (``exit_at`` None: all passages in one batch; 1.01: each
    passage alone, all read; else passage 1 alone, then the others one by one when its answer's
    confidence is below ``exit_at``)."""
    scores, confs, stopped, seconds = [], [], [], []
    for texts, together, alone, times, gold, _ in got:
        if exit_at is None:
            s, c = outcome(texts, together, cal, gold)
            stop, t = False, times[0]
        else:
            _, c1 = choose(alone[0], cal)
            stop = c1 >= exit_at
            s, c = outcome(texts, alone[0] if stop else [sp for a in alone for sp in a], cal, gold)
            t = times[1] if stop else sum(times[1:])
        scores.append(s), confs.append(c), stopped.append(stop), seconds.append(t)
    confs = np.asarray(confs)
    name = ("all in one batch" if exit_at is None else "each alone, all read" if exit_at > 1
            else f"first; the rest below {exit_at}")
    return {"read": name,
            "F1 (sure + possible)": 100 * float(np.mean(scores)),
            "answer or possible": float(np.mean(confs >= cal.tentative)),
            "sure": float(np.mean(confs >= cal.answer)),
            "stopped after 1": float(np.mean(stopped)),
            "read ms median": 1000 * float(np.median(seconds)),
            "read ms mean": 1000 * float(np.mean(seconds)),
            "read ms p95": 1000 * float(np.percentile(seconds, 95))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--half", choices=["calibration", "test"], default="calibration")
    ap.add_argument("--questions", type=int, default=400, help="questions per domain")
    ap.add_argument("--read", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--write", action="store_true",
                    help="calibration half: store the chosen threshold beside the model (calibration.stop)")
    args = ap.parse_args(argv)
    model_file = MODEL_DIR / MODEL_FILE
    model = PassageModel(model_file, bundled_model_path(), threads=args.threads)
    cal = Calibration.beside(model_file)
    got = reads(model, int(args.half == "test"), args.questions, args.seed, args.read)
    print(f"## {args.half} half: {len(got)} questions ({args.questions} per domain, seed {args.seed}), "
          f"BM25 top {args.read}, calibration {cal}\n")
    rows = [summarise(got, cal, None)] + [summarise(got, cal, t) for t in THRESHOLDS]
    print(table(rows) + "\n")
    full = rows[1]  # each alone, all read
    keeps = [t for t, row in zip(THRESHOLDS[1:], rows[2:])
             if row["F1 (sure + possible)"] >= full["F1 (sure + possible)"] - 1e-9
             and row["answer or possible"] >= full["answer or possible"] - 1e-9]
    chosen = min(keeps) if keeps else 2.0  # none: always read all
    print(f"Lowest threshold that loses neither F1 nor answered questions against reading all: {chosen}\n")
    if args.write and args.half == "calibration":
        record_file = model_file.with_suffix(".json")
        record = json.loads(record_file.read_text(encoding="utf-8"))
        record["calibration"] = {**record["calibration"], "stop": chosen,
                                 "stop_by": f"python bench/read_first.py --questions {args.questions} --write"}
        record_file.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        print(f"calibration.stop = {chosen} written to {record_file}", file=sys.stderr)
    for domain in DOMAINS:
        part = [g for g in got if g[-1] == domain]
        print(f"### {domain} ({len(part)})\n")
        print(table([summarise(part, cal, None)] + [summarise(part, cal, t) for t in THRESHOLDS]) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
