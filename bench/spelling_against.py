"""Typo correction of SQuAD v1.1 dev's questions by this tree's speller against another version of
``qa/index/spelling.py`` (loaded from a file beside it, over the same index): how many questions each corrects, the
ones corrected differently, and the gold paragraph's hybrid rank for each corrected form (searched as corrected,
spelling off). All 10,570 questions over the 2,067 dev paragraphs (``bench/fusion.py``'s squad-dev set).

    git show d102b4f:qa/index/spelling.py > /tmp/old_spelling.py
    python bench/spelling_against.py /tmp/old_spelling.py
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys

from fusion import candidate_args, dataset, set_pipeline
from perf_common import machine

from qa.index.spelling import Speller, count_words, name_words


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("other", help="another version of qa/index/spelling.py")
    args = ap.parse_args(argv)
    spec = importlib.util.spec_from_file_location("other_spelling", args.other)
    other = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(other)
    sets = candidate_args("", ["squad-dev"]).parse_args(["--questions", "100000"])
    qa = set_pipeline("squad-dev", sets)
    _, _, queries, qrels = dataset("squad-dev", sets)
    data = qa.data

    def texts():
        return (d.text for d in data.documents)

    spellers = {"other": other.Speller(lambda: count_words(texts()), indexed=data.bm25.knows),
                "this": Speller(lambda: count_words(texts()), indexed=data.bm25.knows, names=lambda: name_words(texts()))}
    if "names" in getattr(other.Speller.__init__, "__code__").co_varnames:  # a version that knows names
        spellers["other"] = other.Speller(lambda: count_words(texts()), indexed=data.bm25.knows,
                                          names=lambda: name_words(texts()))
    asked = {q: " ".join(t.split()) for q, t in queries.items()}
    fixed = {name: {q: s.correct(t) for q, t in asked.items()} for name, s in spellers.items()}
    differ = [q for q in asked if fixed["other"][q] != fixed["this"][q]]

    def rank(text: str, q: str) -> int | None:
        docs = list(dict.fromkeys(h.passage.doc.removesuffix(".txt")
                                  for h in qa.search(text, k=100, mode="hybrid", spell=False)))
        return next((i + 1 for i, d in enumerate(docs) if d in qrels[q]), None)

    print(machine())
    print(f"{len(asked)} questions; corrected: other {sum(fixed['other'][q] != t for q, t in asked.items())}, "
          f"this {sum(fixed['this'][q] != t for q, t in asked.items())}; corrected differently: {len(differ)}")
    top5 = {"other": 0, "this": 0}
    for q in differ:
        ranks = {name: rank(fixed[name][q], q) for name in fixed}
        for name, r in ranks.items():
            top5[name] += bool(r and r <= 5)
        print(json.dumps({"question": asked[q], **{name: fixed[name][q] for name in fixed},
                          **{f"rank {name}": r for name, r in ranks.items()}}, ensure_ascii=False))
    print(f"gold paragraph in the top 5 among those: other {top5['other']}, this {top5['this']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
