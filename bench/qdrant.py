"""Index and query time of the Qdrant backend (local mode) next to FAISS, on cached indexes.

Reuses the passage vectors of indexes already built under ``QA_BENCH_CACHE`` (default
``/tmp/qa-bench``): the seeds (``seeds/index``) and SciFact (``scifact/index``, or the
1,000-document subset ``scifact-1000/index``) when present; nothing is embedded. Each backend
builds its vector index from those vectors in a temporary folder (the cached index is only read),
then answers the same questions: passage vectors of random passages with noise added, so no
model is loaded. Both are exact here (FAISS ``IndexFlatIP`` below 20,000 passages, Qdrant local
mode is brute force); the top-10 of both are compared.

    python bench/qdrant.py [--queries 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perf_common import CACHE, machine, stats_ms  # noqa: E402

from qa.index import store  # noqa: E402
from qa.index.vectors import VectorSettings  # noqa: E402

CORPORA = {"seeds": ("seeds",), "scifact": ("scifact", "scifact-1000")}


def cached_index(names: tuple[str, ...]) -> Path | None:
    """The first cached index folder with a manifest among ``names``."""
    for name in names:
        folder = CACHE / name / "index"
        if (folder / store.MANIFEST).exists():
            return folder
    return None


def questions(vectors: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Unit vectors near random passages (a stand-in for encoded questions)."""
    rng = np.random.default_rng(seed)
    q = vectors[rng.integers(0, len(vectors), n)] + rng.normal(0, 0.05, (n, vectors.shape[1]))
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def measure(backend: VectorSettings, data: store.IndexData, qs: np.ndarray, folder: Path) -> dict:
    """Build, open and query one backend; times in seconds and milliseconds."""
    gen = folder / data.generation
    gen.mkdir(parents=True)
    vectors = np.ascontiguousarray(data.passage_vectors, dtype=np.float32)
    t = time.perf_counter()
    entry = backend.build(gen, vectors, [p.doc for p in data.passages])
    built = time.perf_counter() - t
    manifest = {"generation": data.generation, "passage_count": len(data.passages), "vectors": entry}
    t = time.perf_counter()
    index = backend.open(gen, manifest, mmap=True)
    opened = time.perf_counter() - t
    docs = [data.documents[0].id]
    allowed = data.passage_ids_for(docs)
    top, plain, filtered = [], [], []
    for q in qs:
        t = time.perf_counter()
        ids, _ = index.search(q, 10)
        plain.append(time.perf_counter() - t)
        top.append(ids)
        t = time.perf_counter()
        index.search(q, 10, allowed, docs)
        filtered.append(time.perf_counter() - t)
    index.close()
    return {"build_s": built, "open_s": opened, "query_ms": stats_ms(plain), "filtered_query_ms": stats_ms(filtered),
            "top10": top}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    print(machine())
    results = {}
    for corpus, names in CORPORA.items():
        folder = cached_index(names)
        if folder is None:
            print(f"{corpus}: no cached index under {CACHE} ({' or '.join(names)}); skipped")
            continue
        data = store.load(folder, vectors=None)
        qs = questions(np.asarray(data.passage_vectors), args.queries)
        with tempfile.TemporaryDirectory() as tmp:
            faiss = measure(VectorSettings("faiss"), data, qs, Path(tmp) / "faiss")
            qdrant = measure(VectorSettings("qdrant", Path(tmp) / "qdrant"), data, qs, Path(tmp) / "qdrant-gen")
        same = float(np.mean([np.array_equal(a, b) for a, b in zip(faiss.pop("top10"), qdrant.pop("top10"))]))
        results[corpus] = {"index": str(folder), "passages": len(data.passages), "documents": len(data.documents),
                           "faiss": faiss, "qdrant_local": qdrant, "same_top10": same}
        for name, r in (("faiss", faiss), ("qdrant local", qdrant)):
            print(f"| {corpus} ({folder.parent.name}) | {len(data.passages):,} | {name} | {r['build_s']:.3f} | "
                  f"{r['open_s']:.3f} | {r['query_ms']['median']:.2f} / {r['query_ms']['p95']:.2f} | "
                  f"{r['filtered_query_ms']['median']:.2f} | {same:.0%} |")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "queries": args.queries, "results": results},
                                        indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
