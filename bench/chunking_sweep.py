"""Effect of passage size and overlap on retrieval (and answers) over the seeds and SQuAD v1.1 dev.

For each ``SIZE/OVERLAP`` (characters) it indexes, once per setting and cached under ``--cache``:

* the seeds (a copy of seeds/): ``qa.eval.evaluate`` on tests/data/seed_queries.jsonl in hybrid
  and dense mode: passage recall@5 and MRR@10, and the hybrid answers' EM, F1 and evidence hit;
* with ``--squad``: the 2,067 SQuAD v1.1 dev paragraphs (as bench/squad.py): recall@5 and MRR@10 of
  the gold paragraph on a seeded sample of ``--squad-limit`` questions.

Passage-level recall on the seeds favours long passages (a longer passage contains the answer more
often); the answer columns and the mean passage length show what that costs.

    python bench/chunking_sweep.py --squad /work/shared/benchmarks/squad_v1.1_dev/dev-v1.1.json
    python bench/chunking_sweep.py --settings 800/150 1000/200          # seeds only
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from perf_common import CACHE, SEED_QUERIES, machine, print_table, seed_docs
from squad import load_squad, retrieval, sample, squad_pipeline

from qa.config import Settings
from qa.eval import evaluate, load_queries
from qa.pipeline import Pipeline

DEFAULT_SETTINGS = ("500/100", "800/150", "1000/200", "1500/300")
MODES = ("hybrid", "dense")


def parse_setting(text: str) -> tuple[int, int]:
    size, overlap = (int(x) for x in text.split("/"))
    return size, overlap


def seed_row(base: Path, size: int, overlap: int) -> dict:
    """Retrieval per mode and hybrid answers on the seed queries with one passage size."""
    default = (size, overlap) == (Settings.chunk_size, Settings.chunk_overlap)
    index = base / ("index" if default else f"index-{size}-{overlap}")
    qa = Pipeline(Settings(docs=seed_docs(base), index=index, chunk_size=size, chunk_overlap=overlap))
    qa.warm_up()
    queries, _ = load_queries(SEED_QUERIES)
    result = evaluate(qa, queries, modes=MODES)
    row = {"size/overlap": f"{size}/{overlap}", "passages": len(qa.data.passages),
           "mean chars": sum(len(p.text) for p in qa.data.passages) / len(qa.data.passages)}
    for mode, res in result.modes.items():
        row[f"{mode} R@5"] = res.retrieval["recall@5"]
        row[f"{mode} MRR@10"] = res.retrieval["mrr@10"]
    hybrid = result.modes["hybrid"].answer
    row.update({"EM": hybrid.exact_match, "F1": hybrid.f1, "evidence": hybrid.evidence_hit})
    return row


def squad_row(docs: dict, questions: list[dict], cache: Path, size: int, overlap: int) -> dict:
    qa = squad_pipeline(docs, cache, size, overlap)
    row = {"size/overlap": f"{size}/{overlap}", "passages": len(qa.data.passages)}
    for mode in MODES:
        scores = retrieval(qa, questions, mode)
        row[f"{mode} R@5"] = scores["R@5"]
        row[f"{mode} MRR@10"] = scores["MRR@10"]
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--settings", nargs="+", default=list(DEFAULT_SETTINGS), metavar="SIZE/OVERLAP")
    ap.add_argument("--squad", type=Path, help="SQuAD v1.1 dev JSON; without it only the seeds are swept")
    ap.add_argument("--squad-limit", type=int, default=2000, help="seeded sample of SQuAD questions (default 2000)")
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    settings = [parse_setting(s) for s in args.settings]
    print(machine())

    seed_rows = []
    for size, overlap in settings:
        seed_rows.append(seed_row(args.cache / "seeds", size, overlap))
        print(seed_rows[-1], file=sys.stderr)
    print("\nSeeds: 81 queries (73 answerable), passage-level retrieval; answers in hybrid mode\n")
    seed_columns = ["size/overlap", "passages", "mean chars"]
    seed_columns += [f"{m} {x}" for m in MODES for x in ("R@5", "MRR@10")] + ["EM", "F1", "evidence"]
    print_table(seed_rows, seed_columns)
    results = {"seeds": seed_rows}

    if args.squad:
        docs, questions = load_squad(args.squad)
        asked = sample(questions, args.squad_limit)
        squad_rows = []
        for size, overlap in settings:
            squad_rows.append(squad_row(docs, asked, args.cache, size, overlap))
            print(squad_rows[-1], file=sys.stderr)
        print(f"\nSQuAD v1.1 dev: gold-paragraph retrieval, {len(asked)} of {len(questions)} questions\n")
        print_table(squad_rows, ["size/overlap", "passages"] + [f"{m} {x}" for m in MODES for x in ("R@5", "MRR@10")])
        results["squad"] = squad_rows
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
