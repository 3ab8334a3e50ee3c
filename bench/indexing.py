"""Indexing throughput on SciFact abstracts, next to the bare model in the same run.

1. A full build (``Pipeline.index(force=True)``) into ``--base``/index, with the embedder wrapped
   to time its calls, so the build splits into passage embedding (with the sentence vectors pooled
   from the same pass), sentences embedded alone (those past the model's token limit) and
   everything else (reading, splitting, BM25, FAISS, writing with fsync and checksums).
2. The bare model, same process, same threads: ``SentenceTransformer.encode`` of the same passages;
   then, because the machine's load drifts over minutes, a paired check: the bare model and the
   indexer's embedding path (``encode_passages``, pooling the passages' sentences) alternately on
   the same 256 passages, 3 rounds.
3. Splitting alone: passages (langchain) and sentences (pysbd) of every document.
4. An incremental update: one document changed, then changed back (what was re-embedded, time).
5. Peak memory (``VmHWM``) of this indexing process, and of a fresh serving process (index
   loaded, 50 questions) with each question encoder.

``--reuse`` skips the build and the bare run (an index must exist) and does steps 2 (paired), 4, 5.

The first ``--docs`` SciFact abstracts (default 1,000: about 2,500 passages; the whole corpus,
5,183, takes over an hour on 2 busy cores) are written once as ``<id>.txt`` (title line, blank
line, abstract) under ``--base``/docs, and indexed into ``--base``/index.

    python bench/indexing.py
    python bench/indexing.py --docs 5183 --base /tmp/qa-bench/scifact-all
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from perf_common import CACHE, ROOT, machine, peak_rss_mb, print_table, scifact_docs, scifact_test_queries

from qa.index import store
from qa.ingest.chunking import split_passages, split_sentences
from qa.config import Settings
from qa.ingest.documents import load_folder
from qa.index.embedding import SentenceTransformerEmbedder
from qa.pipeline import Pipeline


class TimedEmbedder:
    """Wraps an embedder and records (number of texts, seconds) of every ``encode`` call, and the
    seconds of every ``encode_passages`` call (passages with their sentences pooled)."""

    def __init__(self, inner):
        self.inner = inner
        self.calls: list[tuple[int, float]] = []
        self.pooling: list[float] = []

    @property
    def pools_sentences(self):
        return getattr(self.inner, "pools_sentences", False)

    def encode_passages(self, texts, spans, batch_size=64, threads=0):
        t = time.perf_counter()
        out = self.inner.encode_passages(texts, spans, batch_size=batch_size, threads=threads)
        self.pooling.append(time.perf_counter() - t)
        return out

    @property
    def model_id(self):
        return self.inner.model_id

    @property
    def dim(self):
        return self.inner.dim

    def warm_up(self):
        self.inner.warm_up()

    def encode(self, texts, batch_size=64, progress=False):
        t = time.perf_counter()
        out = self.inner.encode(texts, batch_size=batch_size, progress=progress)
        self.calls.append((len(texts), time.perf_counter() - t))
        return out

    def encode_query(self, text):
        return self.inner.encode_query(text)

    def split(self, first: int) -> tuple[float, float]:
        """Seconds spent on the passages (the first ``first`` texts embedded, unless they were
        embedded with their sentences pooled) and on sentences embedded alone."""
        if self.pooling:
            return sum(self.pooling), sum(sec for _, sec in self.calls)
        done, a, b = 0, 0.0, 0.0
        for n, sec in self.calls:
            if done < first:
                a += sec
            else:
                b += sec
            done += n
        return a, b


SERVE = r"""
import json, sys, time
from qa.config import Settings
from qa.pipeline import Pipeline
qa = Pipeline(Settings.from_env(docs=sys.argv[1], index=sys.argv[2]))
qa.warm_up()
for q in json.loads(sys.argv[3]):
    qa.ask(q)
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({**{k: int(status[k].split()[0]) / 1024 for k in ("VmHWM", "RssAnon", "RssFile")},
                  "torch imported": "torch" in sys.modules}))
"""


def full_build(qa: Pipeline, emb: TimedEmbedder, settings: Settings) -> list[dict]:
    """Steps 1-3: the timed build, the bare model on the same passages, splitting alone."""
    report = qa.index(force=True)
    pass_s, sent_s = emb.split(report.embedded_passages)
    kb = sum(f.stat().st_size for f in Path(settings.docs).rglob("*") if f.is_file()) / 1000
    print(f"# build: {report.lines()[-1]}; {kb:,.0f} KB of files, {kb / report.seconds:.1f} KB/s; "
          f"peak RSS so far {peak_rss_mb():.0f} MB", flush=True)
    texts = [p.text for p in store.load(settings.index).passages]
    t = time.perf_counter()
    emb.inner._model.encode(texts, batch_size=settings.batch_size, normalize_embeddings=True,
                            convert_to_numpy=True)
    bare_s = time.perf_counter() - t
    n = len(texts)
    rows = [
        {"what": "bare SentenceTransformer.encode of the passages", "seconds": bare_s, "passages/s": n / bare_s,
         "ratio to bare": 1.0},
        {"what": "passage embedding inside the index build", "seconds": pass_s, "passages/s": n / pass_s,
         "ratio to bare": bare_s / pass_s},
        {"what": f"sentences embedded alone inside the build ({report.embedded_sentences} sentences)",
         "seconds": sent_s},
        {"what": "everything else (read, split, BM25, FAISS, write)", "seconds": report.seconds - pass_s - sent_s},
        {"what": "whole index build", "seconds": report.seconds, "passages/s": n / report.seconds,
         "ratio to bare": bare_s / report.seconds},
    ]
    loaded = load_folder(settings.docs).documents
    t = time.perf_counter()
    for d in loaded:
        split_passages(d, settings.chunk_size, settings.chunk_overlap)
    rows.append({"what": "  of which: split passages (langchain)", "seconds": time.perf_counter() - t})
    t = time.perf_counter()
    for d in loaded:
        split_sentences(d.text)
    rows.append({"what": "  of which: split sentences (pysbd)", "seconds": time.perf_counter() - t})
    return rows


def paired(emb: TimedEmbedder, settings: Settings, size: int = 256, rounds: int = 3) -> list[dict]:
    """The bare model and the indexer's embedding path, alternately on the same passages."""
    data = store.load(settings.index)
    passages = data.passages[:size]
    texts = [p.text for p in passages]
    spans: list[list[tuple[int, int]]] = [[] for _ in passages]
    for row, _, s, e in data.sentences.tolist():
        if row < size:
            spans[row].append((s - passages[row].start, e - passages[row].start))
    bare, indexer = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        emb.inner._model.encode(texts, batch_size=settings.batch_size, normalize_embeddings=True,
                                convert_to_numpy=True)
        bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        emb.inner.encode_passages(texts, spans, batch_size=settings.batch_size)
        indexer.append(time.perf_counter() - t)
    b, i = float(np.median(bare)), float(np.median(indexer))
    return [{"what": f"paired, {size} passages x {rounds}: bare encode (median)", "seconds": b,
             "passages/s": size / b, "ratio to bare": 1.0},
            {"what": f"paired, {size} passages x {rounds}: indexer embedding path (median)", "seconds": i,
             "passages/s": size / i, "ratio to bare": b / i}]


def incremental(qa: Pipeline, docs: Path) -> list[dict]:
    """Step 4: change one document, update; change it back, update."""
    target = sorted(docs.glob("*.txt"))[0]
    original = target.read_bytes()
    try:
        target.write_bytes(original + b"\nAn added closing sentence about the study.\n")
        changed = qa.index()
    finally:
        target.write_bytes(original)
    restored = qa.index()
    return [{"what": f"{label} ({r.embedded_passages} passages, {r.embedded_sentences} sentences embedded, "
                     f"{r.passages} in the index)", "seconds": r.seconds}
            for label, r in (("incremental: one document changed", changed), ("incremental: changed back", restored))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1000, help="how many SciFact abstracts")
    ap.add_argument("--base", type=Path, help="default: /tmp/qa-bench/scifact-<docs>")
    ap.add_argument("--reuse", action="store_true", help="skip the full build and the bare run")
    args = ap.parse_args()
    base = args.base or CACHE / f"scifact-{args.docs}"
    settings = Settings(docs=scifact_docs(base, limit=args.docs), index=base / "index")
    print(f"# indexing  ({machine()})", flush=True)

    emb = TimedEmbedder(SentenceTransformerEmbedder(settings.model, threads=settings.query_threads))
    emb.warm_up()  # model load is not indexing throughput
    qa = Pipeline(settings, embedder=emb)
    rows = [] if args.reuse else full_build(qa, emb, settings)
    rows += paired(emb, settings)
    rows += incremental(qa, settings.docs)
    import torch

    print(f"# torch threads {torch.get_num_threads()}, indexing process peak RSS {peak_rss_mb():.0f} MB")
    print_table(rows, ["what", "seconds", "passages/s", "ratio to bare"])

    queries, _ = scifact_test_queries()
    questions = json.dumps(list(queries.values())[:50])
    for encoder in ("torch", "onnx"):
        out = subprocess.run([sys.executable, "-c", SERVE, str(settings.docs), str(settings.index), questions],
                             cwd=ROOT, env={**os.environ, "QA_ENCODER": encoder}, capture_output=True, text=True,
                             check=True)
        print(f"# serving memory (MB), encoder {encoder}: {out.stdout.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()
