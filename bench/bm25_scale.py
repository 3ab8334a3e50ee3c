"""BM25 (bm25s, through qa.index.lexical) at 10^5 and 10^6 short synthetic documents.

Documents (seeded): 15 to 40 words each, drawn from a Zipfian vocabulary (exponent 1.07) of
100,000 made-up words (letter strings, so stemming and stop words behave as on text). Questions
are 3 to 6 words taken from a random document, so every question has matches.

For each size: build time (``BM25Index.build``: tokenise, stem, index), peak memory of the build,
size on disk, then in a fresh process: load time and resident memory with and without ``mmap``,
and single-threaded questions per second through ``qa.retrieval.bm25_search`` (top 50), the
function the query path uses.

    python bench/bm25_scale.py                      # 1e5 and 1e6
    python bench/bm25_scale.py --sizes 100000
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from perf_common import CACHE, machine, peak_rss_mb, print_table, stats_ms

from qa.index.lexical import BM25Index
from qa.retrieval import bm25_search

VOCAB = 100_000
LETTERS = np.array(list("bcdfghjklmnprstvwz")), np.array(list("aeiou"))


def vocabulary(rng: np.random.Generator) -> list[str]:
    """Unique pronounceable words of 2 to 5 consonant-vowel syllables."""
    words: set[str] = set()
    while len(words) < VOCAB:
        syllables = rng.integers(2, 6)
        words.add("".join(rng.choice(LETTERS[0]) + rng.choice(LETTERS[1]) for _ in range(syllables)))
    return sorted(words)


def corpus(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    words = np.array(vocabulary(rng))
    p = 1.0 / np.arange(1, VOCAB + 1) ** 1.07
    lengths = rng.integers(15, 41, n)
    draws = words[rng.choice(VOCAB, int(lengths.sum()), p=p / p.sum())]
    ends = np.cumsum(lengths)
    docs = [" ".join(draws[e - l : e]) for e, l in zip(ends.tolist(), lengths.tolist())]
    questions = []
    for d in rng.choice(n, 1000, replace=False):
        tokens = docs[d].split()
        size = int(rng.integers(3, 7))
        start = int(rng.integers(0, len(tokens) - size + 1))
        questions.append(" ".join(tokens[start : start + size]))
    return docs, questions


def memory() -> dict[str, float]:
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key = line.split(":")[0]
            if key in ("RssAnon", "RssFile"):
                out[key] = int(line.split()[1]) / 1024
    return out


def serve(folder: Path, mmap: bool) -> dict:
    """Load a saved index and answer the questions (run in a fresh process)."""
    import bm25s  # noqa: F401 - imported before the baseline, so only the index is measured

    questions = json.loads((folder.parent / "questions.json").read_text())
    bm25_search(SimpleNamespace(bm25=BM25Index.build(["warm up the tokenizer"])), "warm up", 1)
    before = memory()
    t = time.perf_counter()
    index = SimpleNamespace(bm25=BM25Index.load(folder, mmap=mmap))
    load_s = time.perf_counter() - t
    loaded = memory()
    for q in questions[:20]:
        bm25_search(index, q, 50)
    times = []
    for q in questions:
        t = time.perf_counter()
        bm25_search(index, q, 50)
        times.append(time.perf_counter() - t)
    after = memory()
    st = stats_ms(times)
    return {"load s": load_s, "anon MB after load": loaded["RssAnon"] - before["RssAnon"],
            "anon MB after queries": after["RssAnon"] - before["RssAnon"],
            "file MB after queries": after["RssFile"] - before["RssFile"],
            "median ms": st["median"], "p95 ms": st["p95"], "qps": 1000.0 / st["mean"]}


def run_size(n: int, base: Path) -> list[dict]:
    t = time.perf_counter()
    docs, questions = corpus(n)
    print(f"# n={n:,}: corpus made in {time.perf_counter() - t:.1f} s "
          f"({sum(len(d.split()) for d in docs) / n:.1f} words a document)", flush=True)
    folder = base / f"bm25-{n}" / "bm25"
    shutil.rmtree(folder.parent, ignore_errors=True)
    folder.parent.mkdir(parents=True)
    (folder.parent / "questions.json").write_text(json.dumps(questions))
    peak_before = peak_rss_mb()
    t = time.perf_counter()
    index = BM25Index.build(docs)
    build_s = time.perf_counter() - t
    peak = peak_rss_mb()
    index.save(folder)
    del index, docs
    disk_mb = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20
    rows = []
    for mmap in (True, False):
        out = subprocess.run([sys.executable, __file__, "--serve", str(folder)] + (["--mmap"] if mmap else []),
                             capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append({"n": n, "build s": build_s, "build docs/s": n / build_s,
                     "build peak MB": max(peak - peak_before, 0.0), "disk MB": disk_mb, "mmap": mmap, **result})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", type=int, default=[100_000, 1_000_000])
    ap.add_argument("--base", type=Path, default=CACHE / "bm25-scale")
    ap.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--mmap", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        print(json.dumps(serve(args.serve, args.mmap)))
        return
    print(f"# bm25 scale  ({machine()})", flush=True)
    rows = []
    for n in args.sizes:
        rows.extend(run_size(n, args.base))
    print_table(rows, ["n", "build s", "build docs/s", "build peak MB", "disk MB", "mmap", "load s",
                       "anon MB after load", "anon MB after queries", "file MB after queries", "median ms",
                       "p95 ms", "qps"])


if __name__ == "__main__":
    main()
