"""Load on the app's HTTP API: many clients asking at once.

Starts the app (``qa.web.app.build_app``) over the seed index on a free loopback port, then sends
``--questions`` questions from ``--clients`` concurrent ``gradio_client`` clients
(``client.predict(question, api_name="/ask")``). The questions are those of
tests/data/seed_queries.jsonl in turn (some of which the documents do not answer).

Every answer is checked: no request fails; an answer's quoted span is exactly the text at its
offsets in the cited document; each answer is the one the pipeline gives to the same question
asked alone, before the load (so concurrency mixes nothing up). It also counts the questions with
a known source document whose citations include it. It prints the throughput and the client-side
latency (median, 95th percentile), and exits 1 if any check failed.

    python bench/load.py                          # 200 questions, 20 clients
    python bench/load.py --questions 40 --clients 4
"""

from __future__ import annotations

import argparse
import itertools
import json
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from perf_common import CACHE, SEED_QUERIES, machine, seed_docs, stats_ms

from qa.config import Settings
from qa.pipeline import Pipeline

@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wrong_span: list[str] = field(default_factory=list)
    differs: list[str] = field(default_factory=list)
    missed_source: list[str] = field(default_factory=list)
    abstained: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def workload(n: int) -> list[tuple[str, str | None]]:
    """``n`` (question, source document or None for questions the documents do not answer), the
    seed questions in turn."""
    seeds = [json.loads(line) for line in SEED_QUERIES.read_text(encoding="utf-8").splitlines() if line.strip()]
    items = [(row["question"], row["docs"][0] if row["docs"] else None) for row in seeds]
    return [item for _, item in zip(range(n), itertools.cycle(items))]


def essence(answer: dict) -> tuple:
    """What must not change between asking alone and asking under load (not the timings)."""
    return (answer.get("answer"), answer.get("doc"), answer.get("start"), answer.get("end"),
            tuple((c["doc"], c["start"], c["end"]) for c in answer.get("citations", [])))


def check(answer: dict, source: str | None, question: str, qa: Pipeline, alone: dict[str, tuple],
          tally: Tally) -> None:
    """Record what is wrong with one answer, if anything."""
    if answer.get("text") is None:
        tally.abstained += 1
    else:
        doc = qa.data.document(answer["doc"])
        if doc.text[answer["start"]:answer["end"]] != answer["text"]:
            tally.wrong_span.append(question)
    if essence(answer) != alone[question]:
        tally.differs.append(question)
    if source is not None and source not in {c["doc"] for c in answer.get("citations", [])}:
        tally.missed_source.append(question)


def client_loop(url: str, work: queue.Queue, qa: Pipeline, alone: dict[str, tuple], tally: Tally) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False, analytics_enabled=False)
    while True:
        try:
            question, source = work.get_nowait()
        except queue.Empty:
            return
        t = time.perf_counter()
        try:
            answer = client.predict(question, api_name="/ask")
        except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
            with tally.lock:
                tally.errors.append(f"{question!r}: {type(exc).__name__}: {exc}")
            continue
        elapsed = time.perf_counter() - t
        with tally.lock:
            tally.latencies.append(elapsed)
            check(answer, source, question, qa, alone, tally)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=Path, default=CACHE / "seeds", help="where the seed copy and its index live")
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--clients", type=int, default=20)
    args = ap.parse_args()

    from qa.web.app import build_app, launch

    settings = Settings.from_env(docs=seed_docs(args.base), index=args.base / "index", host="127.0.0.1",
                                 port=free_port())
    qa = Pipeline(settings)
    qa.warm_up()
    questions = workload(args.questions)
    t = time.perf_counter()
    alone = {q: essence(qa.ask(q).to_dict()) for q in dict(questions)}
    alone_rate = len(alone) / (time.perf_counter() - t)
    app = build_app(qa)
    _, url, _ = launch(app, settings, prevent_thread_lock=True, quiet=True)
    work: queue.Queue = queue.Queue()
    for item in questions:
        work.put(item)
    tally = Tally()
    try:
        started = time.perf_counter()
        clients = [threading.Thread(target=client_loop, args=(url, work, qa, alone, tally)) for _ in range(args.clients)]
        for t in clients:
            t.start()
        for t in clients:
            t.join()
        wall = time.perf_counter() - started
    finally:
        app.close()

    import gradio
    import gradio_client

    lat = stats_ms(tally.latencies)
    known = sum(1 for _, source in questions if source)
    print(f"# load  ({machine()})")
    print(f"# gradio {gradio.__version__}, gradio_client {gradio_client.__version__}, encoder {settings.encoder}")
    print(f"questions {args.questions}, clients {args.clients}, answered {len(tally.latencies)}, "
          f"errors {len(tally.errors)}, abstained {tally.abstained}")
    print(f"throughput {len(tally.latencies) / wall:.1f} answers/s over {wall:.1f} s "
          f"(Pipeline.ask in process, one question after another: {alone_rate:.1f} answers/s)")
    print(f"latency per question: median {lat['median']:.0f} ms, p95 {lat['p95']:.0f} ms, mean {lat['mean']:.0f} ms")
    print(f"answers that differ from the answer given alone: {len(tally.differs)}; "
          f"spans that do not slice their document: {len(tally.wrong_span)}")
    print(f"source document cited for {known - len(tally.missed_source)}/{known} questions with a known source "
          f"({len(set(tally.missed_source))} distinct questions missed)")
    for line in tally.errors[:5] + [f"differs: {q}" for q in tally.differs[:5]]:
        print("  " + line)
    return 1 if tally.errors or tally.wrong_span or tally.differs else 0


if __name__ == "__main__":
    raise SystemExit(main())
