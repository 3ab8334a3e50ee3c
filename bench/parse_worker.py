"""The parse worker (issue 17): what it costs, and what it buys.

1. Cost: the seeds indexed with a stand-in embedder (no model, so reading and splitting are most of
   the work), each run in a fresh process, alternating the worker (``QA_PARSE_WORKER=1``) and this
   process (``0``), ``--runs`` times: the first build of a process (with the worker, the fork
   server starts and imports the parsers), a forced rebuild (a new worker is forked), and an
   update with nothing to do. Medians and ranges, in seconds.
2. The hostile documents of issue 17 read and split through the worker with the default limits,
   and in this process: seconds for each.
3. Questions asked while a document's parsing is stuck in C code holding the GIL (a backtracking
   regular expression), one every 50 ms: with the worker (``QA_MAX_PARSE_SECONDS=2``, the document
   is skipped at the budget) and in this process (a stall of a few seconds, ``--stall-chars``;
   nothing can stop it there): the build's seconds and the longest gap between two answers.
4. Memory (Linux): resident size of the fork server and of one worker.

    python bench/parse_worker.py
    python bench/parse_worker.py --runs 7 --stall-chars 38
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from perf_common import ROOT, SEEDS, machine

sys.path.insert(0, str(ROOT / "tests"))
from sample_files import inflating_pdf  # noqa: E402

from qa.config import Settings  # noqa: E402
from qa.ingest.formats import Limits  # noqa: E402
from qa.index.indexer import update_index  # noqa: E402
from qa.ingest.parsing import Parser  # noqa: E402
from qa.pipeline import Pipeline  # noqa: E402

QUESTION = "Which river flows through ten countries?"
RIVERS = "Rivers of Europe\n\nThe Danube flows through ten countries and ends in the Black Sea.\n"


class StandIn:
    """An embedder that costs nothing: every text gets the same unit vector."""

    model_id, dim = "bench/stand-in", 8

    def warm_up(self) -> None:
        pass

    def encode(self, texts, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        return np.tile(np.eye(self.dim, dtype=np.float32)[0], (len(texts), 1))

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


def child_builds(worker: bool) -> dict:
    """In a fresh process: first build, forced rebuild, update with nothing to do (seconds)."""
    base = Path(tempfile.mkdtemp())
    docs = base / "docs"
    shutil.copytree(SEEDS, docs)
    out = {}
    for step, force in (("first", False), ("rebuild", True), ("no-op", False)):
        t = time.perf_counter()
        with Parser(Limits(), chunking=(1000, 200), in_process=not worker) as parser:
            update_index(docs, base / "index", StandIn(), 1000, 200, force=force, parser=parser)
        out[step] = time.perf_counter() - t
    shutil.rmtree(base)
    return out


def costs(runs: int) -> None:
    results: dict[str, dict[str, list[float]]] = {"worker": {}, "in process": {}}
    for _ in range(runs):
        for name, flag in (("worker", "1"), ("in process", "0")):
            done = subprocess.run([sys.executable, __file__, "--child", flag], capture_output=True, text=True,
                                  check=True, cwd=ROOT)
            for step, seconds in json.loads(done.stdout.splitlines()[-1]).items():
                results[name].setdefault(step, []).append(seconds)
    print(f"\n1. Seeds ({len(list(SEEDS.iterdir()))} documents, "
          f"{sum(p.stat().st_size for p in SEEDS.iterdir()) // 1024} KB), stand-in embedder, {runs} fresh processes each:")
    for name, steps in results.items():
        print(f"  {name:10}  " + "   ".join(f"{step} {statistics.median(v):.2f} s ({min(v):.2f}-{max(v):.2f})"
                                           for step, v in steps.items()))


def hostile(base: Path) -> None:
    depth = 100_000
    files = {
        "bomb.pdf (18 KB, 5 million characters)": ("bomb.pdf", inflating_pdf(5_000_000)),
        "100,000 nested <div> (1.1 MB)": ("nested.html", b"<html><body>" + b"<div>" * depth
                                          + b"<h2>Deep</h2><p>Text at the bottom.</p>" + b"</div>" * depth),
        "200 KB Markdown, spaces in a heading": ("spaces.md", ("# Field notes" + " " * 200_000
                                                               + "x\n\nGrey seals rest on the reefs.\n").encode()),
        "<h1> of 200,000 #": ("hashes.html", ("<h1>" + "#" * 200_000 + "</h1><p>Tides are high.</p>").encode()),
    }
    base.mkdir(parents=True, exist_ok=True)
    (base / "ok.txt").write_text(RIVERS)
    for _, (name, data) in files.items():
        (base / name).write_bytes(data)
    print("\n2. Hostile documents, default limits (seconds to read and split, or to refuse):")
    for where in ("worker", "in process"):
        with Parser(Limits(), chunking=(1000, 200), in_process=where != "worker") as parser:
            parser.check(base / "ok.txt", "ok.txt")  # the worker is up
            cells = []
            for label, (name, _) in files.items():
                t = time.perf_counter()
                try:
                    parser.split(parser.read(base / name, name))
                    what = "indexed"
                except ValueError as exc:
                    what = "skipped: " + str(exc).split(":")[0]
                cells.append(f"{label}: {time.perf_counter() - t:.2f} s ({what})")
        print(f"  {where}:\n    " + "\n    ".join(cells))


def stuck(base: Path, chars: int) -> None:
    from qa.ingest import parse_job, parsing

    print("\n3. Questions while a document's parsing is stuck in C code (one asked every 50 ms):")
    real = parse_job.handle

    def stall_here(job):  # in this process: a backtracking regular expression, GIL held
        if os.path.basename(job.get("path", "")).startswith("stall"):
            re.match(r"(a|aa)+$", "a" * chars + "b")
        return real(job)

    for where in ("worker", "in process"):
        docs = base / where / "docs"
        docs.mkdir(parents=True)
        (docs / "rivers.txt").write_text(RIVERS)
        settings = Settings(docs=docs, index=base / where / "index", chunk_size=200, chunk_overlap=40,
                            reader="heuristic", max_parse_seconds=2, parse_worker=where == "worker")
        qa = Pipeline(settings, embedder=StandIn())
        qa.refresh()
        qa.ask(QUESTION)
        (docs / "stall.md").write_text("# Stuck\n\nNever read.\n")
        if where == "worker":
            parsing.JOB = "stall_job:handle"  # tests/stall_job.py: stalls for hours in the worker
        else:
            parse_job.handle = stall_here
        out: dict = {}

        def build():
            t = time.perf_counter()
            out["report"] = qa.refresh()
            out["seconds"] = time.perf_counter() - t

        thread = threading.Thread(target=build)
        gaps, last = [], time.perf_counter()
        thread.start()
        while thread.is_alive():
            qa.ask(QUESTION)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now
            time.sleep(0.05)
        thread.join()
        parsing.JOB, parse_job.handle = "qa.ingest.parse_job:handle", real
        skipped = dict(out["report"].skipped).get("stall.md", "not skipped")
        print(f"  {where}: build {out['seconds']:.2f} s, {len(gaps)} answers, longest gap "
              f"{max(gaps) * 1000:.0f} ms, median {statistics.median(gaps) * 1000:.0f} ms; stall.md: {skipped[:60]}")


def memory(base: Path) -> None:
    if not Path("/proc/self/status").exists():
        return
    from multiprocessing import forkserver

    def rss(pid: int) -> float:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    base.mkdir(parents=True, exist_ok=True)
    (base / "ok.txt").write_text(RIVERS)
    with Parser(Limits(), chunking=(1000, 200)) as parser:
        parser.read(base / "ok.txt", "ok.txt")
        server = forkserver._forkserver._forkserver_pid  # noqa: SLF001 - for the measurement only
        print(f"\n4. Memory: fork server {rss(server):.0f} MB resident, a worker {rss(parser.pid):.0f} MB "
              "(mostly pages shared with the server)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stall-chars", type=int, default=37, help="length of the in-process stall (exponential)")
    parser.add_argument("--child", choices=["0", "1"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_builds(args.child == "1")))
        return
    print(machine())
    costs(args.runs)
    base = Path(tempfile.mkdtemp())
    try:
        hostile(base / "hostile")
        stuck(base / "stuck", args.stall_chars)
        memory(base / "memory")
    finally:
        shutil.rmtree(base)


if __name__ == "__main__":
    main()
