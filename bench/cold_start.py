"""Cold start: ``qa --help``, the first ``qa ask`` and ``qa search`` in a fresh process, and ``python app.py``
until it serves.

Every measurement starts a new Python process, with an index already built (the seed copy under
``--base``; ``--base /tmp/qa-bench/scifact`` for SciFact), and gives the median of ``--runs`` of its
wall-clock time and of its CPU time (user + system, of the process and its children). On a machine
shared with other jobs the wall time is mostly waiting for a core (more so under ``nice``); the CPU
time is close to what the wall time would be on an idle machine for these mostly single-threaded
starts. A breakdown, also in a fresh process, splits the first ask into: importing ``qa.pipeline``,
loading the question encoder, ``refresh()`` (document folder scan and hashing, index check, index
load with checksum verification), loading the reader, and the first and second ask; it lists the
heavy libraries imported by then (none of torch, transformers, numba, scipy, gradio ... is expected
with the default ONNX encoder) and gives the checksum cost alone (SHA-256 of every index file).
The app counts as started when its page answers HTTP 200: it loads the encoder, the index and the
reader before it serves, so it answers from then on.

    python bench/cold_start.py                       # default encoder (onnx)
    python bench/cold_start.py --encoders onnx torch --runs 5
    python bench/cold_start.py --base /tmp/qa-bench/scifact --no-app
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from perf_common import CACHE, ROOT, machine, print_table, seed_docs, stats_ms

from qa.config import Settings
from qa.pipeline import Pipeline

QUESTION = "When did Russia first signal that it was reconsidering its commitment to Assad?"

HEAVY = ("torch", "sentence_transformers", "transformers", "numba", "scipy", "gradio", "matplotlib", "ranx",
         "pandas", "tqdm", "IPython")

BREAKDOWN = r"""
import json, sys, time
t0 = time.perf_counter()
from qa.config import Settings
from qa.pipeline import Pipeline
from qa.index import store
out = {"import qa.pipeline": time.perf_counter() - t0}
qa = Pipeline(Settings.from_env(docs=sys.argv[1], index=sys.argv[2]))
t = time.perf_counter(); qa.embedder.warm_up(); out["load encoder"] = time.perf_counter() - t
t = time.perf_counter(); qa.refresh(); out["refresh (scan docs, check, load index)"] = time.perf_counter() - t
t = time.perf_counter(); qa.reader.warm_up(qa.data, qa.embedder); out["load reader"] = time.perf_counter() - t
t = time.perf_counter(); qa.ask(sys.argv[3]); out["first ask"] = time.perf_counter() - t
t = time.perf_counter(); qa.ask(sys.argv[3]); out["second ask"] = time.perf_counter() - t
t = time.perf_counter(); store.load(qa.settings.index); out["store.load alone"] = time.perf_counter() - t
files = [qa.settings.index / s["name"] / n for s in store.segments(qa.data.manifest) for n in s["files"]]
t = time.perf_counter()
for path in files:
    store.sha256_file(path)
out["sha256 of index files"] = time.perf_counter() - t
out["index MB"] = sum(path.stat().st_size for path in files) / 2**20
out["total"] = time.perf_counter() - t0
out["encoder"] = qa.embedder.backend
out["heavy modules imported"] = [m for m in sys.argv[4].split(",") if m in sys.modules] or "none"
print(json.dumps(out))
"""


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def with_cpu(times: list[float], cpu: list[float]) -> dict[str, float]:
    return {**stats_ms(times), "cpu median": statistics.median(cpu) * 1000 if cpu else float("nan")}


def wall(cmd: list[str], runs: int, env: dict | None = None) -> dict[str, float]:
    times, cpu = [], []
    for _ in range(runs):
        c, t = children_cpu(), time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
        cpu.append(children_cpu() - c)
    return with_cpu(times, cpu)


def import_times(args: list[str], env: dict | None = None) -> tuple[float, list[tuple[str, float]]]:
    """Total import time of ``qa ARGS`` and its heaviest top-level imports, in ms."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-m", "qa", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True).stderr
    top = []
    for line in err.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line[len("import time:"):].split("|")
        if not name.startswith("  "):  # top level: one space after the bar
            top.append((name.strip(), int(cumulative) / 1000))
    return sum(ms for _, ms in top), sorted(top, key=lambda x: -x[1])[:6]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_ready_seconds(docs: Path, index: Path, env: dict, timeout: float = 600) -> tuple[float, float]:
    """Start ``python app.py``; return the seconds until its page answers HTTP 200, and the CPU seconds
    the app used until then (measured when it has been stopped right after)."""
    port = free_port()
    c = children_cpu()
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py", "--docs", str(docs), "--index", str(index), "--port",
                             str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while time.perf_counter() - t < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    if r.status == 200:
                        ready = time.perf_counter() - t
                        break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("app.py did not serve in time")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return ready, children_cpu() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=Path, default=CACHE / "seeds", help="folder with docs/ and index/")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--encoders", nargs="+", default=["onnx"], help="question encoders to measure (onnx torch)")
    ap.add_argument("--no-app", action="store_true")
    args = ap.parse_args()
    docs = args.base / "docs" if (args.base / "docs").exists() else seed_docs(args.base)
    index = args.base / "index"
    Pipeline(Settings(docs=docs, index=index)).index()  # the index exists before anything is timed
    print(f"# cold start  ({machine()})")
    print(f"# index: {index}")

    rows = [{"what": "python -c pass", **wall([sys.executable, "-c", "pass"], 5)},
            {"what": "qa --help (python -m qa --help)", **wall([sys.executable, "-m", "qa", "--help"], 5)}]
    total, heaviest = import_times(["--help"])
    print(f"# -X importtime of qa --help: {total:.0f} ms in top-level imports; heaviest: "
          + ", ".join(f"{n} {ms:.0f} ms" for n, ms in heaviest))
    for encoder in args.encoders:
        env = {**os.environ, "QA_ENCODER": encoder}
        where = ["--docs", str(docs), "--index", str(index)]
        total, heaviest = import_times(["ask", QUESTION, *where], env)
        print(f"# -X importtime of qa ask, encoder {encoder}: {total:.0f} ms in top-level imports; heaviest: "
              + ", ".join(f"{n} {ms:.0f} ms" for n, ms in heaviest))
        for command in ("ask", "search"):
            cmd = [sys.executable, "-m", "qa", command, QUESTION, *where]
            rows.append({"what": f"first qa {command}, encoder {encoder}", **wall(cmd, args.runs, env)})
            print(f"# {rows[-1]}", flush=True)
        out = subprocess.run([sys.executable, "-c", BREAKDOWN, str(docs), str(index), QUESTION, ",".join(HEAVY)],
                             cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        parts = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"# breakdown, encoder {encoder}: " + ", ".join(
            f"{k} {v * 1000:.0f} ms" if isinstance(v, float) and k != "index MB" else f"{k} {v}"
            for k, v in parts.items()), flush=True)
        if not args.no_app and (ROOT / "app.py").exists():
            runs, failed = [], 0
            while len(runs) < args.runs and failed < args.runs:
                try:
                    runs.append(app_ready_seconds(docs, index, env))
                except RuntimeError as exc:  # e.g. Gradio's own 3 s check of its page, on a busy machine
                    failed += 1
                    print(f"# app run failed: {str(exc).strip().splitlines()[-1][:300]}", flush=True)
            rows.append({"what": f"python app.py until it serves, encoder {encoder}" + (
                f" ({failed} failed starts)" if failed else ""), **with_cpu([r[0] for r in runs], [r[1] for r in runs])})
            print(f"# {rows[-1]}", flush=True)
    print(f"# wall ms (median, p95) and CPU ms (user + system, median); n runs each  ({machine()})")
    print_table(rows, ["what", "median", "p95", "cpu median", "n"])


if __name__ == "__main__":
    main()
