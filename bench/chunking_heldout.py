"""Passage size and overlap chosen on held-out data: whole articles split as the product splits them.

``bench/chunking_sweep.py`` measured the seeds (and SQuAD paragraphs, which are shorter than most passages
and so barely split). Here each *article* is one document (its title, then its paragraphs separated by
blank lines), so the passage size decides what retrieval ranks and what the reader reads, as in use.
For each ``SIZE/OVERLAP`` the documents are indexed (cached under ``--cache``) and every question is asked
as the product asks it (hybrid, the default reader):

* answer passage R@1 / R@5 / MRR@10: the first retrieved passage whose characters hold a gold answer
  where the question's annotator marked it;
* EM / F1 of ``ask`` counting sure and possible answers ("none" scores 0), and the share answered or
  possible.

Sets (``--sets``):

* ``shifts-nw`` (choosing): SQuADShifts New Wikipedia, all 48 articles as documents, the questions of its
  *calibration* half of paragraphs (the split of ``bench/passage_reader.py``); never trained on.
* ``squad-train`` (choosing): the last ``--train-articles`` SQuAD v1.1 train articles (``bench/fusion.py``'s
  held-out retrieval set; the readers were trained on all of SQuAD train, so their answers there are
  optimistic for every setting alike).
* ``shifts-nw-test`` (report): the same articles, the questions of the *test* half.
* ``squad-dev`` (report): SQuAD v1.1 dev, its 48 articles as documents.

    python bench/chunking_heldout.py                               # choosing sets, 4 settings
    python bench/chunking_heldout.py --sets shifts-nw-test squad-dev --settings 1000/200 1500/300
    python bench/chunking_heldout.py --fresh --questions 1500 --settings 700/140 1000/200

``--fresh`` asks questions that the default 400-question sample (seed 0) did not hold, drawn with seed 1, so
a second look at the choosing sets is not the first one again. Every setting is also compared with the
default question by question: the mean F1 difference per set and over all sets, with a paired permutation
test (scipy).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import permutation_test

from beir import write_docs
from perf_common import CACHE, ROOT, machine, print_table
from squad import answers, halves_order, sample, squad_data

from qa.config import Settings
from qa.pipeline import Pipeline

BENCH = ROOT.parent / "shared" / "benchmarks"
SHIFTS_NW = BENCH / "training" / "squadshifts_v1.0" / "new_wiki_v1.0.json.gz"
TRAIN = BENCH / "training" / "squad_v1.1_train_rebuilt" / "train-v1.1.rebuilt.json.gz"
DEV = BENCH / "squad_v1.1_dev" / "dev-v1.1.json"
DEFAULT_SETTINGS = ("500/100", "700/140", "1000/200", "1500/300")
SETS = ("shifts-nw", "squad-train", "shifts-nw-test", "squad-dev")


def articles_as_documents(data: list[dict], keep: set[tuple[int, int]] | None = None
                          ) -> tuple[dict[str, str], list[dict]]:
    """Documents (name -> text: title, blank line, paragraphs separated by blank lines) and the
    questions ``{id, question, answers, doc, spans}`` of the paragraphs in ``keep`` (all when None);
    ``spans`` are the gold answers' character spans in the document's text."""
    docs, questions = {}, []
    for a, article in enumerate(data):
        name = f"a{a:03d}"
        head = article["title"].replace("_", " ") + "\n\n"
        parts, offset = [head], len(head)
        for p, para in enumerate(article["paragraphs"]):
            context = para["context"]
            if keep is None or (a, p) in keep:
                for q in para["qas"]:
                    spans = sorted({(offset + x["answer_start"], offset + x["answer_start"] + len(x["text"]))
                                    for x in q["answers"]})
                    questions.append({"id": q["id"], "question": q["question"], "doc": f"{name}.txt",
                                      "answers": list(dict.fromkeys(x["text"] for x in q["answers"])),
                                      "spans": spans})
            parts.append(context + "\n\n")
            offset += len(context) + 2
        docs[name] = "".join(parts)
    return docs, questions


def half(data: list[dict], which: int) -> set[tuple[int, int]]:
    """The (article, paragraph) pairs of a SQuADShifts half: paragraphs shuffled with seed 0, the
    first half calibration (0), the second test (1): ``squad.halves_order``, as every benchmark splits it."""
    pairs = [(a, p) for a, article in enumerate(data) for p in range(len(article["paragraphs"]))]
    return {pairs[i] for i in halves_order(len(pairs))[which]}


def dataset(name: str, args) -> tuple[dict[str, str], list[dict]]:
    if name.startswith("shifts-nw"):
        data = squad_data(SHIFTS_NW)
        return articles_as_documents(data, half(data, 1 if name.endswith("-test") else 0))
    if name == "squad-train":
        return articles_as_documents(squad_data(TRAIN)[-args.train_articles:])
    return articles_as_documents(squad_data(DEV))


def pipeline(docs: dict[str, str], base: Path, size: int, overlap: int) -> Pipeline:
    qa = Pipeline(Settings(docs=write_docs(docs, base), index=base / f"index-{size}-{overlap}",
                           chunk_size=size, chunk_overlap=overlap))
    t0 = time.perf_counter()
    qa.warm_up(show_bar=sys.stderr.isatty())
    print(f"{base.name} {size}/{overlap}: {len(qa.data.passages)} passages, ready in "
          f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return qa


def answer_passage(qa: Pipeline, questions: list[dict], k: int = 10) -> dict:
    """R@1, R@5 and MRR@10 of the first passage that holds a gold answer span (hybrid)."""
    ranks = []
    for q in questions:
        hits = qa.search(q["question"], k=k, mode="hybrid")
        rank = next((i + 1 for i, h in enumerate(hits)
                     if h.passage.doc == q["doc"] and any(h.passage.start <= s and e <= h.passage.end
                                                                for s, e in q["spans"])), None)
        ranks.append(rank)
    n = max(len(ranks), 1)
    return {"R@1": sum(r == 1 for r in ranks if r) / n, "R@5": sum(r <= 5 for r in ranks if r) / n,
            "MRR@10": sum(1 / r for r in ranks if r) / n}


def questions_asked(questions: list[dict], limit: int, fresh: bool) -> list[dict]:
    """The seeded sample of ``limit`` questions; with ``fresh``, drawn (seed 1) from those the default
    400-question sample (seed 0) left out."""
    if not fresh:
        return sample(questions, limit)
    seen = {q["id"] for q in sample(questions, 400)}
    return sample([q for q in questions if q["id"] not in seen], limit, seed=1)


def paired(a: list[float], b: list[float]) -> tuple[float, float]:
    """Mean of ``a - b`` (in points) and the two-sided p-value of a paired permutation test."""
    x, y = np.asarray(a), np.asarray(b)
    if np.allclose(x, y):
        return 0.0, 1.0
    test = permutation_test((x, y), lambda u, v: np.mean(u - v), permutation_type="samples",
                            n_resamples=9999, random_state=0)
    return 100 * float(np.mean(x - y)), float(test.pvalue)


def check_offsets(qa: Pipeline, questions: list[dict]) -> int:
    """How many gold spans do not read as their answer in the indexed documents' text (0 expected)."""
    texts = {d.id: d.text for d in qa.data.documents}
    return sum(texts[q["doc"]][s:e] not in q["answers"] for q in questions for s, e in q["spans"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--settings", nargs="+", default=list(DEFAULT_SETTINGS), metavar="SIZE/OVERLAP")
    ap.add_argument("--sets", nargs="+", choices=SETS, default=["shifts-nw", "squad-train"])
    ap.add_argument("--questions", type=int, default=400, help="seeded sample of questions per set")
    ap.add_argument("--fresh", action="store_true",
                    help="questions outside the default 400-question sample (seed 1 among the rest)")
    ap.add_argument("--train-articles", type=int, default=40)
    ap.add_argument("--cache", type=Path, default=CACHE / "chunking-articles")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args(argv)
    print(machine())
    results, f1s = {}, {}
    default = f"{Settings.chunk_size}/{Settings.chunk_overlap}"
    for name in args.sets:
        docs, questions = dataset(name, args)
        asked = questions_asked(questions, args.questions, args.fresh)
        rows = []
        for setting in args.settings:
            size, overlap = (int(x) for x in setting.split("/"))
            qa = pipeline(docs, args.cache / name, size, overlap)
            bad = check_offsets(qa, asked)
            if bad:
                print(f"warning: {bad} gold spans do not match the indexed text", file=sys.stderr)
            passages = qa.data.passages
            row = {"size/overlap": setting, "passages": len(passages),
                   "mean chars": sum(len(p.text) for p in passages) / len(passages), **answer_passage(qa, asked)}
            records: list = []
            got = answers(qa, asked, "hybrid", gold_only=False, records=records)
            f1s.setdefault(setting, []).extend(r.f1 for r in records)
            f1s.setdefault((name, setting), []).extend(r.f1 for r in records)
            row.update({"EM": got["EM"], "F1": got["F1"], "answered or possible": got["sure"] + got["possible"],
                        "ms/q": got["ms_per_q"]})
            rows.append(row)
            print(row, file=sys.stderr)
        print(f"\n{name}: {len(docs)} articles as documents, {len(asked)} of {len(questions)} questions\n")
        print_table(rows, list(rows[0]))
        results[name] = rows
    if default in args.settings:
        compare = []
        for setting in (x for x in args.settings if x != default):
            row = {"size/overlap": f"{setting} - {default}"}
            for key in [*args.sets, "all"]:
                diff, p = paired(f1s[setting if key == "all" else (key, setting)],
                                 f1s[default if key == "all" else (key, default)])
                row[f"{key}: F1 diff"], row[f"{key}: p"] = diff, p
            compare.append(row)
        if compare:
            print(f"\nF1 against {default}, question by question (paired permutation test)\n")
            print_table(compare, list(compare[0]))
            results["paired"] = compare
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
