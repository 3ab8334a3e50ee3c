"""SQuAD as open-domain QA over its own paragraphs, through the ``Pipeline`` facade.

The corpus is the 2,067 paragraphs of SQuAD v1.1 dev, one document each (``<article>_<paragraph>.txt``
= article title line, blank line, paragraph), written once under ``--cache``. It measures:

* retrieval: recall@1/5/20 and MRR@10 of the gold paragraph in each mode (a document's rank is
  its best passage's);
* answers (``--answer-mode``, hybrid by default): EM and F1 (SQuAD normalisation, best gold),
  evidence hit (the supporting sentence is in the gold paragraph and contains a gold answer) and
  the share answered, both *open* (search every paragraph) and *gold* (``ask(..., docs=[gold])``:
  the reader given the gold paragraph, the setting of the published reader numbers);
* with ``--v2``: the SQuAD 2.0 dev half (its 646 paragraphs are all v1.1 dev paragraphs, so the same
  index serves): share abstained on unanswerable questions (NoAns), share answered on answerable
  ones (HasAns), and the SQuAD 2.0 EM/F1 (an abstention scores 1 on NoAns, 0 on HasAns).

    python bench/squad.py /work/shared/benchmarks/squad_v1.1_dev/dev-v1.1.json \\
        --v2 /work/shared/benchmarks/squad_v2_dev_cs224n_half/cs224n-dev-v2.0-half.json
    python bench/squad.py DEV.json --limit 300 --answer-limit 300          # a quick look

``--test-half`` takes a SQuADShifts domain (``.json.gz``) instead: its test half, the paragraphs
``bench/passage_reader.py`` never calibrates on (the same seeded split), one document each:

    python bench/squad.py .../training/squadshifts_v1.0/reddit_v1.0.json.gz --test-half \
        --modes --reader sentence --answer-limit 300
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import subprocess
import sys
import time
from pathlib import Path

from beir import write_docs
from perf_common import CACHE, ROOT, machine, model_suffix, print_table

from qa.config import READERS, Settings
from qa.eval import EvalQuery, answer_metrics, answer_scores, document_ranking, retrieval_metrics
from qa.pipeline import Pipeline

RECALL_AT = (1, 5, 20)


def squad_data(path: Path) -> list[dict]:
    """The ``data`` list of a SQuAD-format file (``.json`` or ``.json.gz``)."""
    with (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8") as f:
        return json.load(f)["data"]


def halves_order(n: int) -> tuple[list[int], list[int]]:
    """SQuADShifts' two halves of ``n`` paragraphs (numbered in file order): shuffled with seed 0, the
    first half for calibration, the second for test — the one split every benchmark uses."""
    order = list(range(n))
    random.Random(0).shuffle(order)
    return order[: n // 2], order[n // 2:]


def load_squad(path: Path, doc_ids: dict[str, str] | None = None,
               test_half: bool = False, calibration_half: bool = False) -> tuple[dict[str, str], list[dict]]:
    """Paragraph documents (name -> text) and questions ``{id, question, answers, doc}``.

    Names are ``<article:02d>_<paragraph:03d>``; the document id in the index (a question's ``doc``)
    is the file name, ``<name>.txt``. ``doc_ids`` maps paragraph text to an existing name (to ask
    SQuAD 2.0 questions over the v1.1 corpus). ``test_half``: only the second half of the
    paragraphs shuffled with seed 0 (SQuADShifts' test half in ``bench/passage_reader.py``);
    ``calibration_half``: only the first (its calibration half).
    """
    data = squad_data(path)
    docs: dict[str, str] = {}
    questions: list[dict] = []
    paragraphs = [(a, p, article, para) for a, article in enumerate(data)
                  for p, para in enumerate(article["paragraphs"])]
    if test_half or calibration_half:
        calibration, test = halves_order(len(paragraphs))
        paragraphs = [paragraphs[i] for i in sorted(test if test_half else calibration)]
    for a, p, article, para in paragraphs:
        title = article["title"].replace("_", " ")
        doc = doc_ids[para["context"]] if doc_ids is not None else f"{a:02d}_{p:03d}"
        docs[doc] = f"{title}\n\n{para['context']}\n"
        for qa in para["qas"]:
            answers = list(dict.fromkeys(x["text"] for x in qa["answers"]))
            questions.append({"id": qa["id"], "question": qa["question"], "answers": answers,
                              "doc": f"{doc}.txt"})
    return docs, questions


def context_ids(docs: dict[str, str]) -> dict[str, str]:
    """Paragraph text -> document name, for :func:`load_squad`'s ``doc_ids``."""
    return {text.split("\n\n", 1)[1][:-1]: doc for doc, text in docs.items()}


def sample(questions: list[dict], limit: int | None, seed: int = 0) -> list[dict]:
    if not limit or limit >= len(questions):
        return questions
    return sorted(random.Random(seed).sample(questions, limit), key=lambda q: q["id"])


def squad_pipeline(docs: dict[str, str], cache: Path, chunk_size: int, chunk_overlap: int,
                   name: str = "squad-v1.1-dev", reader: str = Settings.reader,
                   question_model: str = Settings.question_model, model: str = Settings.model) -> Pipeline:
    """The paragraphs written under ``cache/name`` and indexed with the given passage size and embedding model
    (cached; an index of its own for each)."""
    base = cache / name
    default = (chunk_size, chunk_overlap) == (Settings.chunk_size, Settings.chunk_overlap)
    index = base / (("index" if default else f"index-{chunk_size}-{chunk_overlap}") + model_suffix(model))
    qa = Pipeline(Settings(docs=write_docs(docs, base), index=index, chunk_size=chunk_size,
                           chunk_overlap=chunk_overlap, reader=reader, question_model=question_model, model=model))
    t0 = time.perf_counter()
    qa.warm_up(show_bar=sys.stderr.isatty())
    print(f"index {index} ready in {time.perf_counter() - t0:.0f} s: {len(docs)} documents, "
          f"{len(qa.data.passages)} passages", file=sys.stderr)
    return qa


def retrieval(qa: Pipeline, questions: list[dict], mode: str, depth: int = max(RECALL_AT)) -> dict:
    """Recall@k and MRR@10 of the gold paragraph (ranx), and the mean time per question."""
    per_doc = len(qa.data.passages) / max(len(qa.data.documents), 1)
    k_passages = min(1000, math.ceil(depth * per_doc * 2))
    rankings = {}
    t0 = time.perf_counter()
    for q in questions:
        rankings[q["id"]] = document_ranking(qa.search(q["question"], k=k_passages, mode=mode))[:depth]
    seconds = time.perf_counter() - t0
    metrics = retrieval_metrics({q["id"]: {q["doc"]} for q in questions}, rankings, depth)
    return {**{f"R@{k}": metrics[f"recall@{k}"] for k in RECALL_AT}, "MRR@10": metrics["mrr@10"],
            "ms_per_q": 1000 * seconds / max(len(questions), 1)}


def answers(qa: Pipeline, questions: list[dict], mode: str, gold_only: bool,
            records: list | None = None) -> dict:
    """EM, F1, evidence hit and abstention of ``ask`` over the questions (open or given the gold paragraph);
    each question's scores are also appended to ``records`` when one is given."""
    records = [] if records is None else records
    t0 = time.perf_counter()
    for q in questions:
        query = EvalQuery(q["id"], q["question"], answers=tuple(q["answers"]), docs=(q["doc"],))
        answer = qa.ask(q["question"], mode=mode, docs=[q["doc"]] if gold_only else None)
        records.append(answer_scores(query, answer))
    seconds = time.perf_counter() - t0
    m = answer_metrics(records)
    has = [r for r in records if r.answerable]
    no = [r for r in records if not r.answerable]
    row = {"n": len(records), "EM": m.exact_match, "F1": m.f1, "evidence": m.evidence_hit,
           "answered (HasAns)": None if m.abstain_wrong is None else 1 - m.abstain_wrong,
           "abstained (NoAns)": m.abstain_correct, "ms_per_q": 1000 * seconds / max(len(records), 1),
           "sure": m.share_answer, "possible": m.share_tentative, "none": m.share_none}
    if no:  # SQuAD 2.0 scoring: an abstention is right on NoAns
        row["SQuAD2 EM"] = (sum(r.exact_match for r in has) + sum(r.abstained for r in no)) / len(records)
        row["SQuAD2 F1"] = (sum(r.f1 for r in has) + sum(r.abstained for r in no)) / len(records)
    return row


def reader_version() -> str:
    """The last commit that touched the readers, and whether the working copy differs from it."""
    git = ["git", "-C", str(ROOT)]
    files = ["qa/reader", "qa/models"]
    last = subprocess.run(git + ["log", "-1", "--format=%h %s", "--", *files],
                          capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(git + ["status", "--porcelain", "--", *files], capture_output=True, text=True)
    return last + (" (plus uncommitted changes)" if dirty.stdout.strip() else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("v1", type=Path, help="SQuAD v1.1 dev JSON (dev-v1.1.json), or any SQuAD-format .json(.gz)")
    ap.add_argument("--test-half", action="store_true",
                    help="only the test half of the paragraphs (a SQuADShifts domain; see above)")
    ap.add_argument("--v2", type=Path, help="SQuAD 2.0 dev JSON whose paragraphs are v1.1 dev paragraphs")
    ap.add_argument("--modes", nargs="*", default=["bm25", "dense", "hybrid"], choices=["bm25", "dense", "hybrid"],
                    help="retrieval modes to measure (none: answers only)")
    ap.add_argument("--reader", default=Settings.reader, choices=READERS)
    ap.add_argument("--rerank", type=int, default=0,
                    help="also measure hybrid retrieval with this many passages reranked by the trained model")
    ap.add_argument("--answer-mode", default="hybrid", choices=["bm25", "dense", "hybrid"])
    ap.add_argument("--limit", type=int, help="seeded sample of v1.1 questions for retrieval")
    ap.add_argument("--answer-limit", type=int, help="seeded sample of questions for the answer runs (v1.1 and v2)")
    ap.add_argument("--retrieval-only", action="store_true", help="skip the answer runs")
    ap.add_argument("--chunk-size", type=int, default=Settings.chunk_size)
    ap.add_argument("--chunk-overlap", type=int, default=Settings.chunk_overlap)
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--question-model", default=Settings.question_model,
                    help="question encoder (Settings.question_model): bundled, trained or an .onnx file")
    ap.add_argument("--model", default=Settings.model,
                    help="embedding model (Settings.model): a local sentence-transformers folder; default the bundled")
    ap.add_argument("--abstain-threshold", type=float,
                    help="the reader's possible-answer threshold (Settings.abstain_threshold; default: the "
                         "reader's own); 0 gives every question an answer, to compare the answers themselves")
    ap.add_argument("--read-passages", type=int, default=0,
                    help="passages the passage and combined readers read (Settings.read_passages; 0: their own)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)

    docs, questions = load_squad(args.v1, test_half=args.test_half)
    name = f"{args.v1.name.split('.json')[0]}-test-half" if args.test_half else "squad-v1.1-dev"
    qa = squad_pipeline(docs, args.cache, args.chunk_size, args.chunk_overlap, name=name, reader=args.reader,
                        question_model=args.question_model, model=args.model)
    if args.abstain_threshold is not None:
        qa = Pipeline(qa.settings.replace(abstain_threshold=args.abstain_threshold))
    if args.read_passages:
        qa = Pipeline(qa.settings.replace(read_passages=args.read_passages))
    label = "test half" if args.test_half else "v1.1"
    print(f"{args.v1.name}{' (test half)' if args.test_half else ''} as open-domain QA: {len(docs)} paragraphs, "
          f"{len(qa.data.passages)} passages "
          f"(chunks {args.chunk_size}/{args.chunk_overlap})")
    print(machine())
    print(f"reader: {args.reader}, {reader_version()}"
          + (f", possible-answer threshold {args.abstain_threshold}" if args.abstain_threshold is not None else ""))
    results: dict = {"paragraphs": len(docs), "passages": len(qa.data.passages)}

    asked = sample(questions, args.limit)
    rows = []
    for mode in args.modes or []:
        rows.append({"mode": mode, "questions": len(asked), **retrieval(qa, asked, mode)})
        print(f"retrieval {mode}: {rows[-1]}", file=sys.stderr)
    if args.rerank:
        reranked = Pipeline(qa.settings.replace(rerank=args.rerank))
        rows.append({"mode": f"hybrid + rerank {args.rerank}", "questions": len(asked),
                     **retrieval(reranked, asked, "hybrid")})
        print(f"retrieval hybrid + rerank: {rows[-1]}", file=sys.stderr)
    if rows:
        print(f"\nRetrieval of the gold paragraph ({len(asked)} of {len(questions)} questions)\n")
        print_table(rows, ["mode", "questions", *[f"R@{k}" for k in RECALL_AT], "MRR@10", "ms_per_q"])
        results["retrieval"] = rows

    if not args.retrieval_only:
        answer_columns = ["setting", "n", "EM", "F1", "evidence", "answered (HasAns)", "sure", "possible", "none",
                          "ms_per_q"]
        asked = sample(questions, args.answer_limit)
        rows = [{"setting": f"{label} open ({args.answer_mode})", **answers(qa, asked, args.answer_mode, False)},
                {"setting": f"{label} gold paragraph", **answers(qa, asked, args.answer_mode, True)}]
        print(f"\nAnswers, {args.v1.name} ({len(asked)} of {len(questions)} questions)\n")
        print_table(rows, answer_columns)
        results["answers_v1"] = rows

        if args.v2:
            _, v2_questions = load_squad(args.v2, context_ids(docs))
            asked = sample(v2_questions, args.answer_limit)
            rows = [{"setting": f"v2 half open ({args.answer_mode})", **answers(qa, asked, args.answer_mode, False)},
                    {"setting": "v2 half gold paragraph", **answers(qa, asked, args.answer_mode, True)}]
            n_no = sum(not q["answers"] for q in asked)
            print(f"\nAbstention, SQuAD 2.0 dev half ({len(asked)} of {len(v2_questions)} questions, "
                  f"{n_no} unanswerable)\n")
            print_table(rows, answer_columns[:-1] + ["abstained (NoAns)", "SQuAD2 EM", "SQuAD2 F1", "ms_per_q"])
            results["answers_v2"] = rows
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
