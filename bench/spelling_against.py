"""Typo correction of SQuAD v1.1 dev's questions by this tree's speller against another version of
``qa/index/spelling.py`` (loaded from a file beside it, over the same index): how many questions each corrects, the
ones corrected differently, and the gold paragraph's hybrid rank for each corrected form (searched as corrected,
spelling off). All the questions of a ``bench/fusion.py`` set: by default squad-dev (10,570 questions over the
2,067 dev paragraphs); SciFact test's claims, SQuADShifts' sets.

    git show d102b4f:qa/index/spelling.py > /tmp/old_spelling.py
    python bench/spelling_against.py /tmp/old_spelling.py --sets squad-dev scifact-test shifts-nw shifts-reddit \
        shifts-amazon
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys

from fusion import candidate_args, dataset, set_pipeline
from perf_common import machine

from qa.index.spelling import Speller, word_counts


def compare(set_name: str, other, sets) -> None:
    """Print how the two spellers correct the set's questions, and the gold document's rank where they differ."""
    qa = set_pipeline(set_name, sets)
    _, _, queries, qrels = dataset(set_name, sets)
    data = qa.data
    counts, names = word_counts(d.text for d in data.documents)
    knows_names = "names" in other.Speller.__init__.__code__.co_varnames  # a version that corrects to names
    spellers = {"other": other.Speller(counts, indexed=data.bm25.knows, **({"names": names} if knows_names else {})),
                "this": Speller(counts, indexed=data.bm25.knows, names=names)}
    asked = {q: " ".join(t.split()) for q, t in queries.items()}
    fixed = {who: {q: s.correct(t) for q, t in asked.items()} for who, s in spellers.items()}
    differ = [q for q in asked if fixed["other"][q] != fixed["this"][q]]

    def rank(text: str, q: str) -> int | None:
        docs = list(dict.fromkeys(h.passage.doc.removesuffix(".txt")
                                  for h in qa.search(text, k=100, mode="hybrid", spell=False)))
        return next((i + 1 for i, d in enumerate(docs) if d in qrels[q]), None)

    corrected = {who: sum(fixed[who][q] != t for q, t in asked.items()) for who in fixed}
    print(f"{set_name}: {len(asked)} questions; corrected: other {corrected['other']}, this {corrected['this']}; "
          f"corrected differently: {len(differ)}")
    top5 = {"other": 0, "this": 0}
    for q in differ:
        ranks = {who: rank(fixed[who][q], q) for who in fixed}
        for who, r in ranks.items():
            top5[who] += bool(r and r <= 5)
        print(json.dumps({"question": asked[q], **{who: fixed[who][q] for who in fixed},
                          **{f"rank {who}": r for who, r in ranks.items()}}, ensure_ascii=False))
    print(f"{set_name}: gold document in the top 5 among those: other {top5['other']}, this {top5['this']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("other", help="another version of qa/index/spelling.py")
    ap.add_argument("--sets", nargs="+", default=["squad-dev"],
                    choices=["squad-dev", "scifact-test", "shifts-nw", "shifts-reddit", "shifts-amazon"])
    args = ap.parse_args(argv)
    spec = importlib.util.spec_from_file_location("other_spelling", args.other)
    other = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(other)
    sets = candidate_args("", ["squad-dev"]).parse_args(["--questions", "1000000"])
    print(machine())
    for set_name in args.sets:
        compare(set_name, other, sets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
