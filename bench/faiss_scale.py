"""FAISS at 10^4..10^6 vectors of dimension 384: exact IndexFlatIP against HNSW.

Data (synthetic, seeded): a two-level Gaussian mixture on the unit sphere, so that neighbours mean
something: ``n/1000`` (at least 10) coarse centres, ``n/20`` fine centres around them (noise 0.5),
points around the fine centres (noise 0.35), every level normalised to unit length (noise is a
Gaussian vector of that norm). Queries are data points moved by noise of norm 0.1, normalised.

For each size: build time (HNSW with ``--build-threads``), memory (the serialised size, which is
what the index holds in memory: n x 384 x 4 bytes for flat, plus the graph for HNSW), single-threaded query latency (``faiss.omp_set_num_threads(1)``,
one query at a time, k=10) median and p95, and recall@10 of HNSW against the exact top 10, for
several ``efSearch`` values.

    python bench/faiss_scale.py                        # 1e4, 1e5, 1e6
    python bench/faiss_scale.py --sizes 10000 100000   # quicker
    python bench/faiss_scale.py --sizes --real /tmp/qa-bench/scifact/index   # real vectors only

``--real INDEX`` repeats the comparison on real all-MiniLM-L6-v2 vectors: the sentence vectors of a
built index as the data, 1000 of its passage vectors as the queries.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import faiss
import numpy as np
from perf_common import CACHE, machine, print_table, stats_ms

DIM = 384


def unit(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def around(centres: np.ndarray, which: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors near ``centres[which]``: the centre plus a random vector of norm ``noise``."""
    out = np.empty((len(which), centres.shape[1]), dtype=np.float32)
    for lo in range(0, len(which), 100_000):
        part = which[lo : lo + 100_000]
        step = unit(rng.standard_normal((len(part), centres.shape[1]), dtype=np.float32)) * noise
        out[lo : lo + len(part)] = unit(centres[part] + step)
    return out


def make_data(n: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    coarse = unit(rng.standard_normal((max(10, n // 1000), DIM), dtype=np.float32))
    fine = around(coarse, rng.integers(0, len(coarse), max(1, n // 20)), 0.5, rng)
    data = around(fine, rng.integers(0, len(fine), n), 0.35, rng)
    q = around(data, rng.choice(n, queries, replace=False), 0.1, rng)
    return data, q


def timed_search(index, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, list[float]]:
    faiss.omp_set_num_threads(1)
    ids = np.empty((len(queries), k), dtype=np.int64)
    times = []
    for i, q in enumerate(queries):
        t = time.perf_counter()
        _, found = index.search(q.reshape(1, -1), k)
        times.append(time.perf_counter() - t)
        ids[i] = found[0]
    return ids, times


def recall_at_10(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found.tolist(), exact.tolist())]))


def real_data(index_dir: Path, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sentence vectors of a built index, and some of its passage vectors as queries."""
    from qa.index import store

    data = store.load(index_dir)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(data.passage_vectors), min(queries, len(data.passage_vectors)), replace=False)
    return np.ascontiguousarray(data.sentence_vectors), np.ascontiguousarray(data.passage_vectors[np.sort(pick)])


def run_size(n: int, args, real: Path | None = None) -> list[dict]:
    rows = []
    t = time.perf_counter()
    data, queries = real_data(real, args.queries) if real else make_data(n, args.queries)
    n = len(data)
    print(f"# n={n:,}: data ready in {time.perf_counter() - t:.1f} s", flush=True)

    faiss.omp_set_num_threads(args.build_threads)
    t = time.perf_counter()
    flat = faiss.IndexFlatIP(DIM)
    flat.add(data)
    flat_build = time.perf_counter() - t
    _, exact = flat.search(queries, 10)  # ground truth, all threads
    found, times = timed_search(flat, queries[: args.timed])
    st = stats_ms(times)
    label = f"{n} (real)" if real else n
    rows.append({"n": label, "index": "flat", "params": "", "build s": flat_build,
                 "memory MB": n * DIM * 4 / 2**20, "median ms": st["median"], "p95 ms": st["p95"],
                 "recall@10": recall_at_10(found, exact[: args.timed])})
    print(rows[-1], flush=True)
    del flat

    faiss.omp_set_num_threads(args.build_threads)
    t = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(DIM, args.M, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = args.ef_construction
    hnsw.add(data)
    hnsw_build = time.perf_counter() - t
    memory_mb = len(faiss.serialize_index(hnsw)) / 2**20
    print(f"# n={n:,}: HNSW M={args.M} efConstruction={args.ef_construction} built in {hnsw_build:.1f} s "
          f"with {args.build_threads} threads", flush=True)
    for ef in args.ef_search:
        hnsw.hnsw.efSearch = ef
        found, times = timed_search(hnsw, queries)
        st = stats_ms(times)
        rows.append({"n": label, "index": "hnsw", "params": f"M={args.M} efC={args.ef_construction} efS={ef}",
                     "build s": hnsw_build, "memory MB": memory_mb, "median ms": st["median"],
                     "p95 ms": st["p95"], "recall@10": recall_at_10(found, exact)})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="*", type=int, default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--real", type=Path, help="an index folder whose real vectors to use as well")
    ap.add_argument("--queries", type=int, default=1000, help="queries for recall (HNSW latency uses all)")
    ap.add_argument("--timed", type=int, default=300, help="queries timed on the exact index")
    ap.add_argument("--M", type=int, default=32)
    ap.add_argument("--ef-construction", type=int, default=80)
    ap.add_argument("--ef-search", nargs="+", type=int, default=[16, 32, 64, 128, 256])
    ap.add_argument("--build-threads", type=int, default=2)
    args = ap.parse_args()
    print(f"# faiss {faiss.__version__} scale  ({machine()})", flush=True)
    rows = []
    jobs = [(n, None) for n in args.sizes] + ([(0, args.real)] if args.real else [])
    for n, real in jobs:
        rows.extend(run_size(n, args, real))
        CACHE.mkdir(parents=True, exist_ok=True)
        (CACHE / "faiss_scale.json").write_text(json.dumps(rows, indent=1))
    print_table(rows, ["n", "index", "params", "build s", "memory MB", "median ms", "p95 ms",
                       "recall@10"])


if __name__ == "__main__":
    main()
