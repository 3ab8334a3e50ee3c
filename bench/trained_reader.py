"""The trained reader (qa/trained.py) against the heuristic one; print tables for docs/benchmarks.md.

    python bench/trained_reader.py                       # everything (indexes cached as in tune_reader.py)
    python bench/trained_reader.py --gold 500 --open 300 --shifts 200

Two settings:

* **gold paragraph**: the question and its own paragraph, no retrieval. The trained model reads
  every sentence of the paragraph (the project's splitter) and answers from the one with the
  highest has-answer probability (the usual SQuAD setup; published readers read the whole
  paragraph at once). SQuAD v1.1 dev (``--gold`` questions), the SQuAD 2.0 dev half (``--gold``
  questions: HasAns EM/F1, HasAns answered, NoAns abstained) and SQuADShifts New-Wikipedia,
  Reddit, Amazon (``--shifts`` questions each).
* **open**: the full pipeline (hybrid retrieval, k=5) over an index; both readers on the same
  retrieved passages. The seed questions (tests/data/seed_queries.jsonl), and ``--open`` SQuAD
  v1.1 dev questions and SQuAD 2.0 half questions asked over the 646 paragraphs of the 2.0 half's
  articles (the index and samples of ``bench/tune_reader.py``). Columns as there: EM, F1, evidence
  (the answer's sentence holds a gold answer), unanswerable abstained on, answerable abstained on,
  read time (median and p95, ms, one thread).

Samples are seeded (``--seed``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from tune_reader import BENCH, ROOT, SQUAD_V1, SQUAD_V2, Item, evaluate, pipeline_for, prepare, seed_items
from tune_reader import squad_corpus, squad_samples

from qa.ingest.chunking import split_sentences
from qa.config import Settings
from qa.index.embedding import bundled_model_path
from qa.eval.metrics import best, exact_match, f1
from qa.reader import SpanReader
from qa.reader.sentence import ANSWER_FROM as ABSTAIN_BELOW, MODEL_DIR, MODEL_FILE, ReaderModel, TrainedReader

SHIFTS = BENCH / "training" / "squadshifts_v1.0"


def paragraph_items(path: Path, n: int, seed: int) -> list[tuple[Item, str]]:
    """A seeded sample of ``n`` (question, its paragraph) from a SQuAD-format file."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        data = json.load(f)["data"]
    items = [(Item(q["question"], [] if q.get("is_impossible") else [a["text"] for a in q["answers"]]), p["context"])
             for art in data for p in art["paragraphs"] for q in p["qas"]]
    return random.Random(seed).sample(items, min(n, len(items)))


def read_paragraph(model: ReaderModel, question: str, context: str, sentences: list[tuple[int, int]]):
    """The answer from the paragraph's most likely sentence, and its has-answer probability."""
    texts = [context[s:e] for s, e in sentences]
    probs, spans = model.read_probabilities(question, texts)
    i = int(np.argmax(probs))
    return texts[i][spans[i][0]: spans[i][1]], float(probs[i])


def gold_paragraph(model: ReaderModel, items: list[tuple[Item, str]]) -> dict:
    em, f1s, answered, abstained_ok, unanswerable, times = [], [], 0, 0, 0, []
    splits: dict[str, list[tuple[int, int]]] = {}
    for item, context in items:
        sentences = splits.setdefault(context, split_sentences(context))
        t = time.perf_counter()
        text, prob = read_paragraph(model, item.question, context, sentences)
        times.append(time.perf_counter() - t)
        if not item.golds:
            unanswerable += 1
            abstained_ok += prob < ABSTAIN_BELOW
            continue
        answered += prob >= ABSTAIN_BELOW
        em.append(best(exact_match, text, item.golds))
        f1s.append(best(f1, text, item.golds))
    return {"n": len(items), "EM": 100 * statistics.fmean(em), "F1": 100 * statistics.fmean(f1s),
            "answered": f"{answered}/{len(em)}", "abstained": f"{abstained_ok}/{unanswerable}",
            "ms": 1000 * statistics.median(times)}


def open_eval(reader, prepared, data, k: int = 5) -> dict:
    m = evaluate(reader, prepared, data, k)
    return {"EM": m["EM"], "F1": m["F1"], "evid": m["evid"], "abstained": f"{m['abst_ok']}/{m['unans']}",
            "abst_bad": f"{m['abst_bad']}/{m['answerable']}", "ms_p50": m["read_ms"], "ms_p95": m["read_ms_p95"]}


def table(rows: list[dict]) -> str:
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(f"{v:.1f}" if isinstance(v, float) else str(v) for v in r.values()) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/qa_reader_bench"), help="indexes of tune_reader.py")
    ap.add_argument("--gold", type=int, default=1000, help="SQuAD v1.1 / 2.0 questions, gold paragraph given")
    ap.add_argument("--shifts", type=int, default=300, help="SQuADShifts questions per domain")
    ap.add_argument("--open", type=int, default=300, help="SQuAD questions asked over the index (0: seeds only)")
    ap.add_argument("--model", type=Path, default=MODEL_DIR / MODEL_FILE)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    settings = Settings()
    model = ReaderModel(args.model, bundled_model_path(), threads=settings.query_threads)

    if args.gold:
        rows = [{"set": "SQuAD v1.1 dev", **gold_paragraph(model, paragraph_items(SQUAD_V1, args.gold, args.seed))},
                {"set": "SQuAD 2.0 dev half", **gold_paragraph(model, paragraph_items(SQUAD_V2, args.gold, args.seed))}]
        for name in ("new_wiki", "reddit", "amazon_reviews"):
            items = paragraph_items(SHIFTS / f"{name}_v1.0.json.gz", args.shifts, args.seed)
            rows.append({"set": f"SQuADShifts {name}", **gold_paragraph(model, items)})
        print("## gold paragraph (trained reader)\n\n" + table(rows) + "\n", flush=True)

    readers = {"heuristic": SpanReader(settings), "trained": TrainedReader(settings, args.model)}
    readers["trained"].warm_up(None, None)
    seeds_qa = pipeline_for(ROOT / "seeds", args.cache / "seed_index")
    sets = {"seeds": (prepare(seeds_qa, seed_items()), seeds_qa.data)}
    if args.open:
        docs, contexts = squad_corpus(args.cache)
        squad_qa = pipeline_for(docs, args.cache / "squad_index")
        v1, _, v2 = squad_samples(contexts, args.open, args.seed)
        sets["SQuAD v1.1 dev, 646 paragraphs"] = (prepare(squad_qa, v1), squad_qa.data)
        sets["SQuAD 2.0 half, 646 paragraphs"] = (prepare(squad_qa, v2), squad_qa.data)
    rows = []
    for name, (prepared, data) in sets.items():
        for reader_name, reader in readers.items():
            open_eval(reader, prepared, data)  # first pass warms the heuristic's sentence cache
            rows.append({"set": name, "reader": reader_name, **open_eval(reader, prepared, data)})
            print(rows[-1], file=sys.stderr, flush=True)
    print("## open (hybrid retrieval, k=5)\n\n" + table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
