"""Query-path latency, stage by stage, against the floor of one forward pass plus one FAISS search.

For every question of tests/data/seed_queries.jsonl (``--repeat`` passes, after a warm-up) it
times, in the same loop so that all share the machine's load:

* the floor: ``SentenceTransformer.encode([question])`` plus ``faiss_index.search`` (top 50);
* ``Pipeline.search_timed`` (hybrid): question embedding, dense search, BM25, fusion, total;
* ``Pipeline.ask``: the same stages plus the reader (``Answer.timings``), reading deeper when unsure;
* ``first``: ``Pipeline.ask(deeper=False)``, the answer the app shows at once; ``app.final``: the app's last
  answer (the first, then, when :meth:`Pipeline.reads_deeper`, the question asked again in full, which reads only
  the passages below). The reader's memory of passages read is emptied before each ``ask`` and ``first``.

Each configuration (``--encoders`` x ``--threads``) loads its own pipeline over the seed index,
which is built once in ``--base`` (a copy of seeds/, never the repository's vectorstore/).

    python bench/query_latency.py                       # torch and onnx, 1 and 2 threads
    python bench/query_latency.py --profile             # pyinstrument profile of ask (torch, 1 thread)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from perf_common import CACHE, machine, print_table, seed_docs, seed_questions, stats_ms

from qa.config import READERS, Settings
from qa.index.embedding import bundled_model_path
from qa.pipeline import Pipeline

STAGES = ("embed", "dense_search", "bm25", "fusion", "rerank", "read", "total")


def floor_encoder(threads: int):
    """The bare model: sentence-transformers with ``threads`` torch threads."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    return SentenceTransformer(str(bundled_model_path()), device="cpu", local_files_only=True)


def measure(qa: Pipeline, model, threads: int, questions: list[str], repeat: int) -> dict[str, list[float]]:
    """Per-stage durations (seconds) of floor, search_timed and ask, interleaved question by question."""
    import torch

    index = qa.data.vectors.index  # the FAISS index (default backend)
    out: dict[str, list[float]] = {}
    for q in questions[:5]:  # warm-up: first calls allocate
        qa.ask(q)
    for _ in range(repeat):
        for q in questions:
            torch.set_num_threads(threads)
            t = time.perf_counter()
            vec = model.encode([q], normalize_embeddings=True, convert_to_numpy=True)
            index.search(np.ascontiguousarray(vec, dtype=np.float32), 50)
            out.setdefault("floor", []).append(time.perf_counter() - t)
            _, timings = qa.search_timed(q)
            for stage, sec in timings.items():
                out.setdefault(f"search.{stage}", []).append(sec)
            forget(qa)
            answer = qa.ask(q)
            for stage, sec in answer.timings.items():
                out.setdefault(f"ask.{stage}", []).append(sec)
            forget(qa)
            first = qa.ask(q, deeper=False)  # what the app shows first
            for stage, sec in first.timings.items():
                out.setdefault(f"first.{stage}", []).append(sec)
            # the app's last answer: the first, then (when it reads deeper) the question asked again in full, the
            # passages read for the first not read again
            deeper = qa.reads_deeper(q, first)
            final = first.timings["total"] + (qa.ask(q).timings["total"] if deeper else 0.0)
            out.setdefault("app.final", []).append(final)
            out.setdefault("app.reads deeper", []).append(float(deeper))
    return out


def forget(qa: Pipeline) -> None:
    """The reader's memory of passages read lately emptied, so each question is timed as asked afresh."""
    kept = getattr(qa.reader, "_read", None)
    if kept is not None:
        kept.clear()


def profile_ask(qa: Pipeline, questions: list[str]) -> None:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(3):
        for q in questions:
            qa.ask(q)
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=Path, default=CACHE / "seeds", help="where the seed copy and its index live")
    ap.add_argument("--encoders", nargs="+", default=["torch", "onnx"])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--read-threads", nargs="+", type=int, default=[Settings.read_threads],
                    help="threads of the reader model (Settings.read_threads)")
    ap.add_argument("--readers", nargs="+", default=[Settings.reader], choices=READERS)
    ap.add_argument("--question-models", nargs="+", default=[Settings.question_model],
                    help="question encoders (Settings.question_model): auto, bundled, trained or an .onnx file")
    ap.add_argument("--rerank", type=int, default=0, help="passages reranked by the trained model in search")
    ap.add_argument("--read-passages", type=int, default=0,
                    help="passages the passage and combined readers read (Settings.read_passages; 0: their own)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="profile ask with pyinstrument instead")
    args = ap.parse_args()

    settings = Settings(docs=seed_docs(args.base), index=args.base / "index", read_passages=args.read_passages)
    report = Pipeline(settings).index()
    questions = seed_questions()
    print(f"# query latency  ({machine()})")
    print(f"# {len(questions)} questions x {args.repeat}, index: {report.passages} passages")
    if args.profile:
        qa = Pipeline(settings.replace(query_threads=1))
        qa.warm_up()
        profile_ask(qa, questions)
        return
    rows = []
    for threads in args.threads:
        model = floor_encoder(threads)
        for encoder in args.encoders:
            for reader, question_model, read_threads in ((r, q, t) for r in args.readers
                                                         for q in args.question_models for t in args.read_threads):
                qa = Pipeline(settings.replace(encoder=encoder, query_threads=threads, reader=reader,
                                               rerank=args.rerank, question_model=question_model,
                                               read_threads=read_threads))
                qa.warm_up()
                times = measure(qa, model, threads, questions, args.repeat)
                print(f"# {encoder}, {reader}, {threads} thread(s): reads deeper for "
                      f"{np.mean(times['app.reads deeper']):.0%} of the questions")
                floor = stats_ms(times["floor"])
                for key in (["floor"] + [f"{p}.{s}" for p in ("search", "ask", "first") for s in STAGES]
                            + ["app.final"]):
                    if key in times:
                        st = stats_ms(times[key])
                        rows.append({"encoder": encoder, "questions": question_model, "reader": reader,
                                     "threads": threads, "read threads": read_threads, "stage": key,
                                     "median ms": st["median"], "p95 ms": st["p95"],
                                     "x floor (median)": st["median"] / floor["median"]})
    print_table(rows, ["encoder", "questions", "reader", "threads", "read threads", "stage", "median ms", "p95 ms",
                       "x floor (median)"])


if __name__ == "__main__":
    main()
