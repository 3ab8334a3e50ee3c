"""The answer's edges tidied (:func:`qa.reader.answers.tidy_span`: an unpaired quotation mark or bracket, a clause
mark) against the passage reader's raw span, in the gold-paragraph setting of ``bench/passage_reader.py gold``:
EM / F1 of both and how many spans the tidying moved, on SQuAD v1.1 dev and SQuADShifts' test halves (a seeded
sample of ``--limit`` questions each). SQuAD's scoring drops ASCII punctuation only, so a curly quotation mark
could move a score.

    python bench/tidy_spans.py --limit 1000
"""

from __future__ import annotations

import argparse
import statistics
import sys

from passage_reader import DOMAINS, SQUAD_V1, golds, halves, load, questions
from perf_common import machine, print_table

from qa.config import Settings
from qa.eval.metrics import best, exact_match, f1
from qa.index.embedding import bundled_model_path
from qa.reader.answers import tidy_span
from qa.reader.passage import Calibration, PassageModel, choose, model_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=1000, help="questions sampled from each set")
    args = ap.parse_args(argv)
    model = PassageModel(model_path(Settings()), bundled_model_path())
    sets = {"SQuAD v1.1 dev": [p for art in load(SQUAD_V1) for p in art["paragraphs"]]}
    for domain in DOMAINS:
        sets[f"SQuADShifts {domain} (test half)"] = halves(domain)[1]
    print(machine())
    rows = []
    for name, paragraphs in sets.items():
        items = questions(paragraphs, args.limit, 0)
        scores = {"raw": ([], []), "tidied": ([], [])}
        moved = 0
        for i, q in items:
            text = paragraphs[i]["context"]
            sp, _ = choose(model.spans(q["question"], [text]), Calibration())
            tidied = tidy_span(text, sp.start, sp.end)
            moved += tidied != (sp.start, sp.end)
            for key, (a, b) in (("raw", (sp.start, sp.end)), ("tidied", tidied)):
                scores[key][0].append(best(exact_match, text[a:b], golds(q)))
                scores[key][1].append(best(f1, text[a:b], golds(q)))
        rows.append({"set": name, "questions": len(items), "spans tidied": moved,
                     **{f"{m} {k}": 100 * statistics.mean(scores[k][j]) for k in scores
                        for j, m in enumerate(("EM", "F1"))}})
        print(rows[-1], file=sys.stderr, flush=True)
    print_table(rows, list(rows[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
