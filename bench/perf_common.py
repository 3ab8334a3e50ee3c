"""Helpers shared by the performance benchmarks: the machine, percentiles, peak memory, and the
seed and SciFact document folders (built once and cached under ``QA_BENCH_CACHE``, default
``/tmp/qa-bench``)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_QUERIES = ROOT / "tests" / "data" / "seed_queries.jsonl"
SCIFACT = Path("/work/shared/benchmarks/beir_scifact")
CACHE = Path(os.environ.get("QA_BENCH_CACHE", "/tmp/qa-bench"))


def machine() -> str:
    """One line: date, CPU, cores, memory, load average and the commit measured."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{time.strftime('%Y-%m-%d %H:%M')}  {cpu}, {os.cpu_count()} cores, {mem_gb:.0f} GiB, "
            f"load average {load}, commit {commit}")


def stats_ms(seconds) -> dict[str, float]:
    """Median, 95th percentile and mean of durations given in seconds, in milliseconds."""
    a = np.asarray(list(seconds), dtype=np.float64) * 1000.0
    if a.size == 0:
        return {"median": float("nan"), "p95": float("nan"), "mean": float("nan"), "n": 0}
    return {"median": float(np.median(a)), "p95": float(np.percentile(a, 95)), "mean": float(a.mean()),
            "n": int(a.size)}


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (``VmHWM``; unlike ``ru_maxrss`` it is
    not inherited from the parent of a freshly started process)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """Current resident memory of this process, in MiB."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def seed_questions() -> list[str]:
    return [json.loads(line)["question"] for line in SEED_QUERIES.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def seed_docs(base: Path) -> Path:
    """A copy of seeds/ under ``base`` (the benchmarks never write into the repository)."""
    docs = base / "docs"
    if not docs.exists():
        shutil.copytree(SEEDS, docs)
    return docs


def scifact_docs(base: Path = CACHE / "scifact", limit: int | None = None) -> Path:
    """The SciFact corpus (its first ``limit`` abstracts, when given) as one ``<id>.txt`` per
    abstract (title line, blank line, text), written once under ``base``/docs."""
    docs = base / "docs"
    done = base / "docs.complete"
    if not done.exists():
        docs.mkdir(parents=True, exist_ok=True)
        with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as fh:
            for n, line in enumerate(fh):
                if limit is not None and n >= limit:
                    break
                row = json.loads(line)
                (docs / f"{row['_id']}.txt").write_text(f"{row['title']}\n\n{row['text']}\n", encoding="utf-8")
        done.write_text("ok\n")
    return docs


def scifact_test_queries() -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """The 300 BEIR SciFact test queries and their relevance judgements."""
    qrels: dict[str, dict[str, int]] = {}
    for line in (SCIFACT / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        if line.strip():
            qid, did, score = line.split("\t")
            qrels.setdefault(qid, {})[did] = int(score)
    queries = {}
    with open(SCIFACT / "queries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["_id"] in qrels:
                queries[row["_id"]] = row["text"]
    return queries, qrels


def print_table(rows: list[dict], columns: list[str]) -> None:
    """A Markdown table, ready to paste into docs/benchmarks.md."""
    def fmt(v):
        return f"{v:.3f}" if isinstance(v, float) and abs(v) < 10 else (f"{v:.1f}" if isinstance(v, float) else str(v))

    print("| " + " | ".join(columns) + " |")
    print("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        print("| " + " | ".join(fmt(row.get(c, "")) for c in columns) + " |")


def model_suffix(model: str) -> str:
    """The index folder's suffix for an embedding model other than the bundled one (none for it): ``""`` is the
    default model, the folder shipped in qa/models/encoder, which gets the suffix of its folder."""
    from qa.index.embedding import DEFAULT_MODEL_ID, resolve_model

    model_id, folder = resolve_model(model)
    if model_id == DEFAULT_MODEL_ID:
        return ""
    return "-model-" + hashlib.sha256(str(folder.expanduser().resolve()).encode()).hexdigest()[:8]
