"""Cold start: ``qa --help``, the first ``qa search`` in a fresh process, and ``python app.py`` until it serves.

Every measurement starts a new Python process (wall-clock time, median of ``--runs``), with an index
already built (the seed copy under ``--base``; ``--base /tmp/qa-bench/scifact`` for SciFact). A
breakdown, also in a fresh process, splits the first search into: importing ``qa.pipeline``,
loading the question encoder, ``refresh()`` (document folder scan and hashing, index check, index
load with checksum verification), and the first and second search; and gives the checksum cost
alone (SHA-256 of every index file).

    python bench/cold_start.py
    python bench/cold_start.py --base /tmp/qa-bench/scifact
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from perf_common import CACHE, ROOT, machine, print_table, seed_docs, stats_ms

from qa.config import Settings
from qa.pipeline import Pipeline

QUESTION = "When did Russia first signal that it was reconsidering its commitment to Assad?"

BREAKDOWN = r"""
import json, sys, time
t0 = time.perf_counter()
from qa.config import Settings
from qa.pipeline import Pipeline
from qa import store
out = {"import qa.pipeline": time.perf_counter() - t0}
qa = Pipeline(Settings.from_env(docs=sys.argv[1], index=sys.argv[2]))
t = time.perf_counter(); qa.embedder.warm_up(); out["load encoder"] = time.perf_counter() - t
t = time.perf_counter(); qa.refresh(); out["refresh (scan docs, check, load index)"] = time.perf_counter() - t
t = time.perf_counter(); qa.search(sys.argv[3]); out["first search"] = time.perf_counter() - t
t = time.perf_counter(); qa.search(sys.argv[3]); out["second search"] = time.perf_counter() - t
t = time.perf_counter(); store.load(qa.settings.index); out["store.load alone"] = time.perf_counter() - t
gen = qa.settings.index / qa.data.generation
t = time.perf_counter()
for name in qa.data.manifest["files"]:
    store.sha256_file(gen / name)
out["sha256 of index files"] = time.perf_counter() - t
out["index MB"] = sum((gen / n).stat().st_size for n in qa.data.manifest["files"]) / 2**20
out["torch imported"] = "torch" in sys.modules
out["total"] = time.perf_counter() - t0
print(json.dumps(out))
"""


def wall(cmd: list[str], runs: int, env: dict | None = None) -> dict[str, float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return stats_ms(times)


def import_times() -> tuple[float, list[tuple[str, float]]]:
    """Total import time of ``qa --help`` and its heaviest top-level imports, in ms."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-m", "qa", "--help"], cwd=ROOT,
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


def app_ready_seconds(docs: Path, index: Path, env: dict, timeout: float = 300) -> float:
    """Start ``python app.py`` and return the seconds until its page answers HTTP 200."""
    port = free_port()
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
                        return time.perf_counter() - t
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("app.py did not serve in time")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=Path, default=CACHE / "seeds", help="folder with docs/ and index/")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--encoders", nargs="+", default=["torch", "onnx"])
    ap.add_argument("--no-app", action="store_true")
    args = ap.parse_args()
    docs = args.base / "docs" if (args.base / "docs").exists() else seed_docs(args.base)
    index = args.base / "index"
    Pipeline(Settings(docs=docs, index=index)).index()  # the index exists before anything is timed
    print(f"# cold start  ({machine()})")
    print(f"# index: {index}")

    rows = [{"what": "python -c pass", **wall([sys.executable, "-c", "pass"], 5)},
            {"what": "qa --help (python -m qa --help)", **wall([sys.executable, "-m", "qa", "--help"], 5)}]
    total, heaviest = import_times()
    print(f"# -X importtime of qa --help: {total:.0f} ms in top-level imports; heaviest: "
          + ", ".join(f"{n} {ms:.0f} ms" for n, ms in heaviest))
    for encoder in args.encoders:
        env = {**os.environ, "QA_ENCODER": encoder}
        cmd = [sys.executable, "-m", "qa", "search", QUESTION, "--docs", str(docs), "--index", str(index)]
        rows.append({"what": f"first qa search, encoder {encoder}", **wall(cmd, args.runs, env)})
        out = subprocess.run([sys.executable, "-c", BREAKDOWN, str(docs), str(index), QUESTION], cwd=ROOT, env=env,
                             capture_output=True, text=True, check=True)
        parts = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"# breakdown, encoder {encoder}: " + ", ".join(
            f"{k} {v * 1000:.0f} ms" if isinstance(v, float) and k != "index MB" else f"{k} {v}"
            for k, v in parts.items()))
        if not args.no_app and (ROOT / "app.py").exists():
            times = [app_ready_seconds(docs, index, env) for _ in range(args.runs)]
            rows.append({"what": f"python app.py until it serves, encoder {encoder}", **stats_ms(times)})
    print_table(rows, ["what", "median", "p95", "n"])


if __name__ == "__main__":
    main()
