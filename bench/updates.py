"""Updates that cost what changed: adding and removing one document in a large index.

    nice -n 19 python bench/updates.py --sizes 1000 10000 100000

For each size, a synthetic collection is made in a temporary folder: text files of generated words
(100 passages of about 900 characters each, 6 sentences a passage) and an index of them written with
random unit vectors (384 dimensions, as all-MiniLM-L6-v2) instead of embeddings: embedding 10^5
passages would take hours on a CPU. Then, each in a fresh process as ``qa add`` / ``qa remove`` run:

* add one document: the update (``Pipeline.index()``) alone, then the update and loading the new
  index (``Pipeline.refresh()``, what ``qa add`` does), embedding with a stand-in encoder (its cost, the
  new document's own text, is left out); each update runs on a copy of the index that one process
  has loaded since it was copied, as any index built or used on this machine (the first load after
  copying an index hashes every file: reported as "first load of a copy");
* remove one document, the same way;
* a merge: the same removal with every update forced to rewrite the index as one segment (what
  happens when segments pile up or removed rows pass 20 %, and what every update cost before);
* the files each update wrote or removed in the index folder;
* the resident memory (RSS) of a process that loaded the index and answered 20 hybrid searches, and
  the peak RSS of each process above.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DIM = 384
PER_DOC = 100
SENTENCES = 6
CHUNK, OVERLAP = 1000, 200
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "pa", "de", "gor", "bel", "tun", "sar", "fi"]


class RandomEmbedder:
    """A stand-in encoder: a unit vector drawn from a seed made of the text (no model)."""

    model_id = "bench/random-384"
    dim = DIM

    def warm_up(self) -> None:
        pass

    def encode(self, texts, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            v = np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(self.dim)
            out[i] = v / np.linalg.norm(v)
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


def _words(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` pseudo-words from a Zipf-like vocabulary of 50,000."""
    ranks = np.minimum(rng.zipf(1.15, n), 50_000)
    out = []
    for r in ranks.tolist():
        w, r = "", int(r)
        while True:
            w += SYLLABLES[r % len(SYLLABLES)]
            r //= len(SYLLABLES)
            if not r:
                break
        out.append(w + "n")
    return out


def document_text(rng: np.random.Generator, title: str, passages: int = PER_DOC, words: int = 24):
    """The text of a document (sentences of ``words`` words) and, per passage, (start, end,
    [(sentence start, end)])."""
    parts, spans, pos = [f"{title}\n\n"], [], len(title) + 2
    for _ in range(passages):
        start, sents = pos, []
        for _ in range(SENTENCES):
            sentence = " ".join(_words(rng, words)).capitalize() + ". "
            sents.append((pos, pos + len(sentence) - 1))
            parts.append(sentence)
            pos += len(sentence)
        spans.append((start, pos - 1, sents))
        parts.append("\n\n")
        pos += 2
    return "".join(parts), spans


def synthetic_collection(docs: Path, index: Path, passages: int, dim: int = DIM, per_doc: int = PER_DOC,
                         model_id: str = RandomEmbedder.model_id, seed: int = 0, words: int = 24) -> None:
    """Write ``passages // per_doc`` text files into ``docs`` and an index of them into ``index``
    (random unit vectors, every document's passages and sentences as the indexer stores them)."""
    from qa.index import store
    from qa.index.indexer import splitter_settings
    from qa.ingest.documents import file_hash
    from qa.types import Document, Passage

    rng = np.random.default_rng(seed)
    docs.mkdir(parents=True, exist_ok=True)
    documents, rows, sentences = [], [], []
    for di in range(max(passages // per_doc, 1)):
        doc_id = f"doc{di:05d}.txt"
        text, spans = document_text(rng, f"Document {di}", per_doc, words)
        data = text.encode("utf-8")
        (docs / doc_id).write_bytes(data)
        doc = Document(doc_id, f"Document {di}", text, sha256=file_hash("text", data), kind="text")
        documents.append(doc)
        for ordinal, (start, end, sents) in enumerate(spans):
            sentences.extend((len(rows), di, s, e) for s, e in sents)
            rows.append(Passage(doc_id, doc.title, ordinal, start, end, text[start:end]))
    unit = lambda n: (lambda v: v / np.linalg.norm(v, axis=1, keepdims=True))(  # noqa: E731
        rng.standard_normal((n, dim), dtype=np.float32))
    store.save(index, documents, rows, unit(len(rows)), np.array(sentences, dtype=np.int64), unit(len(sentences)),
               {"id": model_id, "dim": dim}, splitter_settings(CHUNK, OVERLAP))


def files(index: Path) -> dict[str, tuple[int, int]]:
    """Every file of the index folder: (inode, mtime) by relative path."""
    return {p.relative_to(index).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in index.rglob("*") if p.is_file()}


def touched(before: dict, after: dict) -> dict[str, list[str]]:
    """Files written (new or changed) and removed, by folder."""
    def folders(names):
        out: dict[str, int] = {}
        for n in names:
            top = n.split("/")[0] if "/" in n else n
            out[top] = out.get(top, 0) + 1
        return [f"{k} ({v} files)" if v > 1 else k for k, v in sorted(out.items())]

    return {"written": folders([n for n in after if before.get(n) != after[n]]),
            "removed": folders([n for n in before if n not in after])}


def rss_mb() -> tuple[float, float]:
    """This process's resident memory now and at its peak, MB."""
    status = Path("/proc/self/status").read_text()
    get = lambda key: int(next(line.split()[1] for line in status.splitlines() if line.startswith(key))) / 1024  # noqa: E731
    return get("VmRSS:"), get("VmHWM:")


# ---------------------------------------------------------------------------------------------
# steps, each run in a fresh process (``--step``)


def step_update(docs: Path, index: Path, refresh: bool, full: bool) -> dict:
    from qa.config import Settings
    from qa.index import store
    from qa.pipeline import Pipeline

    if full:
        store.MAX_REMOVED = -1.0  # every update rewrites the index as one segment
    qa = Pipeline(Settings(docs=docs, index=index, chunk_size=CHUNK, chunk_overlap=OVERLAP, parse_worker=False),
                  embedder=RandomEmbedder())
    t, c = time.perf_counter(), time.process_time()
    report = qa.refresh() if refresh else qa.index()
    out = {"seconds": time.perf_counter() - t, "cpu": time.process_time() - c, "passages": report.passages,
           "embedded": report.embedded_passages + report.embedded_sentences}
    out["rss"], out["peak"] = rss_mb()
    return out


def step_serve(index: Path) -> dict:
    from qa.index import store
    from qa.retrieval import retrieve

    base, _ = rss_mb()
    t = time.perf_counter()
    data = store.load(index)
    loaded = time.perf_counter() - t
    rng = np.random.default_rng(1)
    for i in range(20):
        q = rng.standard_normal(DIM).astype(np.float32)
        retrieve(data, " ".join(_words(rng, 8)), q / np.linalg.norm(q), 10, "hybrid", None, 100, 60, "rrf", 0.5)
    rss, peak = rss_mb()
    return {"load_seconds": loaded, "rss_before_load": base, "rss": rss, "peak": peak}


def step_load(index: Path) -> dict:
    from qa.index import store

    t = time.perf_counter()
    store.load(index)
    return {"seconds": time.perf_counter() - t}


def step_build(docs: Path, index: Path, passages: int) -> dict:
    t = time.perf_counter()
    synthetic_collection(docs, index, passages)
    return {"seconds": time.perf_counter() - t, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_step(*args: str) -> dict:
    result = subprocess.run([sys.executable, __file__, "--step", *args], capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------


def measure(size: int, work: Path) -> dict:
    docs, index, fresh = work / "docs", work / "index", work / "pristine"
    row: dict = {"passages": size}
    build = run_step("build", str(docs), str(fresh), str(size))
    row["build_s"], row["build_peak_mb"] = build["seconds"], build["peak"]

    def copy() -> None:
        shutil.rmtree(index, ignore_errors=True)
        shutil.copytree(fresh, index)
        row["first_load_s"] = run_step("load", str(index))["seconds"]  # records the copy's files as verified
    rng = np.random.default_rng(size)
    new_doc = "zz-new.txt"
    for label, refresh in (("index", False), ("refresh", True)):
        for what in ("add", "remove"):
            copy()
            if what == "add":
                (docs / new_doc).write_text(document_text(rng, "A new document")[0], encoding="utf-8")
            else:
                gone = docs / "doc00001.txt"
                kept = gone.read_bytes()
                (docs / new_doc).unlink(missing_ok=True)
                gone.unlink()
            before = files(index)
            r = run_step("update", str(docs), str(index), str(int(refresh)), "0")
            row[f"{what}_{label}_s"], row[f"{what}_{label}_cpu"] = r["seconds"], r["cpu"]
            row[f"{what}_{label}_peak_mb"] = r["peak"]
            row[f"{what}_files"] = touched(before, files(index))
            if what == "remove":
                (docs / "doc00001.txt").write_bytes(kept)
    # a merge: the removal, rewriting the whole index
    copy()
    kept = (docs / "doc00001.txt").read_bytes()
    (docs / "doc00001.txt").unlink()
    r = run_step("update", str(docs), str(index), "0", "1")
    (docs / "doc00001.txt").write_bytes(kept)
    row["merge_s"], row["merge_cpu"], row["merge_peak_mb"] = r["seconds"], r["cpu"], r["peak"]
    # serving: the index with one document added (two segments)
    copy()
    (docs / new_doc).write_text(document_text(rng, "A new document")[0], encoding="utf-8")
    run_step("update", str(docs), str(index), "0", "0")
    row["serve"] = run_step("serve", str(index))
    (docs / new_doc).unlink()
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--step", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        kind, *rest = args.step
        if kind == "build":
            out = step_build(Path(rest[0]), Path(rest[1]), int(rest[2]))
        elif kind == "load":
            out = step_load(Path(rest[0]))
        elif kind == "update":
            out = step_update(Path(rest[0]), Path(rest[1]), rest[2] == "1", rest[3] == "1")
        else:
            out = step_serve(Path(rest[0]))
        print(json.dumps(out))
        return
    rows = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="qa-updates-") as tmp:
            row = measure(size, Path(tmp))
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print("| passages | add: update | add: update + load | remove: update | remove: update + load | merge (full rewrite) "
          "| serving RSS | build peak RSS | add peak RSS | merge peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        s = lambda k: f"{r[k + '_s']:.2f} s ({r[k + '_cpu']:.2f} s CPU)"  # noqa: E731
        print(f"| {r['passages']:,} | {s('add_index')} | {s('add_refresh')} | {s('remove_index')} | "
              f"{s('remove_refresh')} | {s('merge')} | {r['serve']['rss']:.0f} MB "
              f"({r['serve']['rss_before_load']:.0f} MB before loading) | {r['build_peak_mb']:.0f} MB | "
              f"{r['add_refresh_peak_mb']:.0f} MB | {r['merge_peak_mb']:.0f} MB |")
    print()
    for r in rows:
        print(f"{r['passages']:,} passages: add writes {', '.join(r['add_files']['written'])}; removes "
              f"{', '.join(r['add_files']['removed']) or 'nothing'}. Remove writes "
              f"{', '.join(r['remove_files']['written'])}; removes {', '.join(r['remove_files']['removed']) or 'nothing'}. "
              f"Load {r['serve']['load_seconds']:.2f} s; first load of a copy (every file hashed) "
              f"{r['first_load_s']:.2f} s.")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
