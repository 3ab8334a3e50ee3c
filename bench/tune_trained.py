"""Choose how the trained reader combines with the heuristic ranking; print the tables.

    python bench/tune_trained.py                   # the shipped model, its held-out articles
    python bench/tune_trained.py --questions 300 --model /tmp/reader-int8.onnx

Tuned only on the SQuAD v1.1 *training* articles the model was not trained on (``val_titles`` in
the model's record, ``qa/models/reader-int8.json``), never on SQuAD dev, SQuADShifts, SciFact or
the seed queries, which stay test sets. Their paragraphs are indexed (one file per paragraph,
title line first, as ``bench/tune_reader.py`` does) and a seeded sample of their questions is asked
twice with the full pipeline (hybrid retrieval, k = 5):

* **answerable**: over all the paragraphs;
* **near miss**: with the question's own paragraph left out of the search (``docs`` filter), so
  the passages are on the same topic but, most often, do not hold the answer: the SQuAD 2.0 kind
  of unanswerable question. Questions whose answer still appears among the candidates are
  dropped from this set.

For every question the heuristic ranks the sentences and the model reads the best 8 once; the
grid then replays the choice (``candidates`` x ``heuristic`` weight, see
:class:`qa.trained.Combination`) without running the model again. The weight and candidates (at most
``--max-candidates``: each sentence read costs about 6 ms on one core) with the best F1 on the
answerable set are kept, then the abstention threshold with the best balanced accuracy between
"should answer" (the chosen sentence holds the answer) and "should not" (a near miss, or an
answerable question whose chosen sentence does not hold the answer).
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import random
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tune_reader import pipeline_for

from qa.eval.metrics import best, contains_answer, exact_match, f1
from qa.retrieval import retrieve
from qa.reader.answers import sentence_at
from qa.reader.sentence import MODEL_DIR, MODEL_FILE, Combination, TrainedReader

TRAIN = Path("/work/shared/benchmarks/training/squad_v1.1_train_rebuilt/train-v1.1.rebuilt.json.gz")
READ = 8  #: sentences the model reads per question here (the grid's largest ``candidates``)


@dataclass
class Read:
    golds: list[str]
    texts: list[str]  #: candidate sentences, heuristic order
    answers: list[str]  #: the model's span in each
    logits: np.ndarray
    heuristic: np.ndarray
    heuristic_answer: str | None  #: the heuristic reader's own answer (abstention off)


def held_out(record: Path, train: Path, cache: Path) -> tuple[Path, list[tuple[str, list[str], str]]]:
    """The held-out articles' paragraphs as files (once), and their (question, answers, doc id)."""
    titles = set(json.loads(record.read_text(encoding="utf-8"))["val_titles"])
    with gzip.open(train, "rt", encoding="utf-8") as f:
        articles = [a for a in json.load(f)["data"] if a["title"] in titles]
    folder = cache / "heldout_docs"
    questions = []
    folder.mkdir(parents=True, exist_ok=True)
    for a, article in enumerate(articles):
        for p, para in enumerate(article["paragraphs"]):
            name = f"{a:02d}_{p:03d}.txt"
            path = folder / name
            if not path.exists():
                path.write_text(f"{article['title'].replace('_', ' ')}\n\n{para['context']}\n", encoding="utf-8")
            questions += [(q["question"], [x["text"] for x in q["answers"]], name) for q in para["qas"]]
    return folder, questions


def read_all(reader: TrainedReader, qa, questions, exclude: bool) -> list[Read]:
    data, s = qa.data, qa.settings
    everything = [d.id for d in data.documents]
    out = []
    for question, golds, doc in questions:
        qvec = qa.embedder.encode_query(question)
        docs = [d for d in everything if d != doc] if exclude else None
        result = retrieve(data, question, qvec, reader.pool, s.mode, docs, s.candidates, s.rrf_k)
        found = reader.candidates(question, qvec, result, data)
        if found is None:
            continue
        ranking, rows, logits, spans = found
        texts = [sentence_at(data, r)[2] for r in rows]
        if exclude and any(contains_answer(t, golds) for t in texts):
            continue
        own = reader.ranker.read(question, qvec, result, data, s.k)
        out.append(Read(golds, texts, [t[a:b] for t, (a, b) in zip(texts, spans)], logits,
                        np.asarray(ranking.scores[: len(rows)]), own.text))
    return out


def choose(r: Read, candidates: int, weight: float) -> int:
    n = min(candidates, len(r.texts))
    return int(np.argmax(r.logits[:n] + weight * r.heuristic[:n]))


def scores(reads: list[Read], candidates: int, weight: float) -> dict[str, float]:
    picks = [(r, choose(r, candidates, weight)) for r in reads]
    return {"EM": 100 * statistics.fmean(best(exact_match, r.answers[i], r.golds) for r, i in picks),
            "F1": 100 * statistics.fmean(best(f1, r.answers[i], r.golds) for r, i in picks),
            "evid": 100 * statistics.fmean(contains_answer(r.texts[i], r.golds) for r, i in picks)}


def probabilities(reads: list[Read], candidates: int, weight: float) -> np.ndarray:
    return np.array([1 / (1 + np.exp(-r.logits[choose(r, candidates, weight)])) for r in reads])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=MODEL_DIR / MODEL_FILE)
    ap.add_argument("--record", type=Path, default=None, help="the model's training record (default: beside it)")
    ap.add_argument("--train", type=Path, default=TRAIN)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/qa_reader_bench"))
    ap.add_argument("--questions", type=int, default=600)
    ap.add_argument("--max-candidates", type=int, default=3,
                    help="largest number of candidates chosen (the time budget: about 6 ms a sentence read)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    record = args.record or args.model.with_suffix(".json")
    folder, questions = held_out(record, args.train, args.cache)
    questions = random.Random(args.seed).sample(questions, min(args.questions, len(questions)))
    qa = pipeline_for(folder, args.cache / "heldout_index")
    reader = TrainedReader(qa.settings, args.model, Combination(candidates=READ))
    answerable = read_all(reader, qa, questions, exclude=False)
    near_miss = read_all(reader, qa, questions, exclude=True)
    print(f"{len(list(folder.glob('*.txt')))} paragraphs; {len(answerable)} answerable, "
          f"{len(near_miss)} near-miss questions\n")

    print("| candidates | heuristic weight | EM | F1 | evidence |\n|---:|---:|---:|---:|---:|")
    grid = {}
    for c, w in itertools.product((1, 2, 3, 5, 8), (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)):
        grid[(c, w)] = m = scores(answerable, c, w)
        print(f"| {c} | {w:g} | {m['EM']:.1f} | {m['F1']:.1f} | {m['evid']:.1f} |")
    c, w = max((key for key in grid if key[0] <= args.max_candidates), key=lambda key: (grid[key]["F1"], -key[0]))
    heuristic_only = scores(answerable, 1, 0.0)  # the heuristic's best sentence, the model's span
    own = [r for r in answerable if r.heuristic_answer is not None]
    print(f"\nheuristic reader (abstention on, {len(own)} answered): "
          f"EM {100 * statistics.fmean(best(exact_match, r.heuristic_answer or '', r.golds) for r in answerable):.1f} "
          f"F1 {100 * statistics.fmean(best(f1, r.heuristic_answer or '', r.golds) for r in answerable):.1f}")
    print(f"chosen: candidates {c}, heuristic weight {w:g}: {grid[(c, w)]}; "
          f"(heuristic's first sentence, model span: {heuristic_only})\n")

    # Should it answer? Yes when the chosen sentence holds the answer; no for a near miss, and no
    # for an answerable question whose chosen sentence does not hold it (a wrong answer).
    right = np.array([contains_answer(r.texts[choose(r, c, w)], r.golds) for r in answerable])
    p_ans, p_near = probabilities(answerable, c, w), probabilities(near_miss, c, w)
    pos, neg = p_ans[right], np.concatenate([p_ans[~right], p_near])
    print(f"| threshold | right sentence answered ({len(pos)}) | wrong sentence or near miss abstained ({len(neg)}) "
          f"| balanced accuracy | answerable answered | near miss abstained |\n|---:|---:|---:|---:|---:|---:|")
    balanced = {}
    for t in np.round(np.arange(0.05, 0.96, 0.05), 2):
        answered, abstained = float(np.mean(pos >= t)), float(np.mean(neg < t))
        balanced[float(t)] = (answered + abstained) / 2
        print(f"| {t:.2f} | {100 * answered:.1f} | {100 * abstained:.1f} | {100 * balanced[float(t)]:.1f} "
              f"| {100 * np.mean(p_ans >= t):.1f} | {100 * np.mean(p_near < t):.1f} |")
    t = max(balanced, key=balanced.get)
    print(f"\nchosen threshold {t:.2f} (balanced accuracy {100 * balanced[t]:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
