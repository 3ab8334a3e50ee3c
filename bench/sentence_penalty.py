"""Gold-paragraph F1 of the passage reader for each sentence penalty: what a span across a sentence start loses from
its score (``qa.reader.windows.SENTENCE_PENALTY``; docs/benchmarks.md, "An answer stays inside one sentence").

Each question's logits are computed once (the paragraph's sentence starts from the index's own splitter) and decoded
with every penalty; F1 of the span chosen, and how many answers run across a sentence start.

    python bench/sentence_penalty.py --half calibration --penalties 0,1,2,4,8,16,inf   # choose (SQuADShifts)
    python bench/sentence_penalty.py --half test --penalties 0,2                       # check (+ SQuAD v1.1 dev)
"""

from __future__ import annotations

import argparse
import statistics

import passage_reader as pr

import qa.reader.windows as windows
from qa.eval.metrics import best, f1
from qa.index.embedding import bundled_model_path
from qa.ingest.chunking import split_sentences
from qa.reader.passage import MODEL_DIR, MODEL_FILE, Calibration, PassageModel, choose, window_spans


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--half", choices=["calibration", "test"], default="calibration")
    ap.add_argument("--penalties", type=lambda s: [float(x) for x in s.split(",")], default=[0.0, 2.0])
    ap.add_argument("--limit", type=int, default=1000, help="questions per set (seeded sample)")
    args = ap.parse_args(argv)
    model = PassageModel(MODEL_DIR / MODEL_FILE, bundled_model_path(), threads=2)
    sets = ({"SQuAD v1.1 dev": [p for art in pr.load(pr.SQUAD_V1) for p in art["paragraphs"]]}
            if args.half == "test" else {})
    for domain in pr.DOMAINS:
        sets[f"SQuADShifts {domain} ({args.half} half)"] = pr.halves(domain)[args.half == "test"]
    ps = args.penalties
    print("| set | questions | " + " | ".join(f"F1 P={p:g}" for p in ps) + " | answers across a sentence, each P |")
    print("|---|---:|" + "---:|" * len(ps) + "---|")
    for name, paragraphs in sets.items():
        items = pr.questions(paragraphs, args.limit, 0)
        f1s: dict[float, list[float]] = {p: [] for p in ps}
        across = dict.fromkeys(ps, 0)
        for i, q in items:
            ctx = paragraphs[i]["context"]
            starts = [s for s, _ in split_sentences(ctx)]
            logits = model.logits(q["question"], [ctx], sentences=[starts])
            for p in ps:
                windows.SENTENCE_PENALTY = p
                spans = window_spans(*logits)
                text = ""
                if spans:
                    sp, _ = choose(spans, Calibration())
                    text = ctx[sp.start:sp.end]
                    across[p] += any(sp.start < s < sp.end for s in starts)
                f1s[p].append(best(f1, text, pr.golds(q)))
        print(f"| {name} | {len(items)} | " + " | ".join(f"{100 * statistics.mean(f1s[p]):.2f}" for p in ps)
              + " | " + " / ".join(str(across[p]) for p in ps) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
