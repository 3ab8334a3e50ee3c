"""Typo-tolerant questions: recall@5 of questions with two typos each, searched as typed and corrected.

Typos are made deterministically (seeded): one random character edit (delete, insert, substitute,
or swap two neighbours) in each of two different words of the question. Only lower-case alphabetic
words of at least five letters are edited, so names (capitalised), acronyms and numbers never are.

Seeds (the check; nothing is tuned on them)::

    python bench/typos.py                 # writes tests/data/seed_typo_queries.jsonl when missing

prints hybrid recall@5 and answer F1 of the 20 variants in ``tests/data/seed_typo_queries.jsonl``
(each a seed question with two typos) and of the same 20 questions without typos, searched as typed
(``QA_SPELLING=off``) and corrected (the default), and the same for typo variants of all 81 seeds.

SQuAD (the choices: whether English words count as known, whether the dense encoder and the reader
get the corrected question)::

    python bench/typos.py --squad /work/shared/benchmarks/squad_v1.1_dev/dev-v1.1.json --limit 1000 --answers 300

measures recall@5 of the gold paragraph over SQuAD v1.1 dev's 2,067 paragraphs (index cached under
``QA_BENCH_CACHE``, as bench/squad.py does), and answers with the reader reading the corrected or the
typed question.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import string
import sys
from pathlib import Path

from perf_common import CACHE, ROOT, SEED_QUERIES, SEEDS, machine, print_table

import qa.pipeline as pipeline_module
from qa.config import Settings
from qa.eval import evaluate, load_queries
from qa.pipeline import Pipeline

SEED_TYPOS = ROOT / "tests" / "data" / "seed_typo_queries.jsonl"
#: How many seed variants are written to SEED_TYPOS, typos per question, and the random seed.
VARIANTS = 20
TYPOS = 2
SEED = 14
_WORD = re.compile(r"\w+")


def typo(word: str, rng: random.Random) -> str:
    """``word`` with one random character edit (never the word itself)."""
    while True:
        i = rng.randrange(len(word))
        op = rng.choice(("delete", "insert", "substitute", "swap"))
        if op == "delete":
            out = word[:i] + word[i + 1:]
        elif op == "insert":
            out = word[:i] + rng.choice(string.ascii_lowercase) + word[i:]
        elif op == "substitute":
            out = word[:i] + rng.choice(string.ascii_lowercase) + word[i + 1:]
        else:
            i = min(i, len(word) - 2)
            out = word[:i] + word[i + 1] + word[i] + word[i + 2:]
        if out != word:
            return out


def editable(question: str) -> list[re.Match]:
    """Words a typo may go in: lower-case letters only, five or more (no names, acronyms, numbers)."""
    return [m for m in _WORD.finditer(question) if len(m.group()) >= 5 and m.group().isalpha()
            and m.group().islower()]


def with_typos(question: str, rng: random.Random, n: int = TYPOS) -> str | None:
    """The question with one typo in each of ``n`` different words; ``None`` with fewer such words."""
    words = editable(question)
    if len(words) < n:
        return None
    chosen = sorted(rng.sample(words, n), key=lambda m: m.start())
    out, last = [], 0
    for m in chosen:
        out += [question[last:m.start()], typo(m.group(), rng)]
        last = m.end()
    return "".join(out) + question[last:]


def variants(rows: list[dict], limit: int | None, seed: int = SEED) -> list[dict]:
    """Typo variants of ``limit`` questions drawn at random (all with ``None``), in file order."""
    rng = random.Random(seed)
    pool = [r for r in rows if r.get("answers") and len(editable(r["question"])) >= TYPOS]
    chosen = pool if limit is None else sorted(rng.sample(pool, limit), key=pool.index)
    out = []
    for r in chosen:
        out.append({**r, "id": f"{r['id']}-typo", "question": with_typos(r["question"], rng), "clean": r["question"]})
    return out


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _jsonl(rows: list[dict]) -> list[str]:
    return [json.dumps(r, ensure_ascii=False) for r in rows]


def _measure(qa: Pipeline, rows: list[dict], spelling: bool, dense: bool = True, read: bool = True) -> dict:
    """Hybrid recall@5 and answer F1 of ``rows`` with spelling on or off (and where the correction goes)."""
    queries, problems = load_queries(_jsonl(rows))
    assert not problems, problems
    saved = pipeline_module.DENSE_CORRECTED, pipeline_module.READ_CORRECTED
    pipeline_module.DENSE_CORRECTED, pipeline_module.READ_CORRECTED = dense, read
    try:
        p = Pipeline(qa.settings.replace(spelling=spelling), embedder=qa.embedder, reader=qa.reader)
        p._data = qa.data  # the same loaded index
        result = evaluate(p, queries, modes=("hybrid",), k=10)
        changed = sum(p.correct(q.question) is not None for q in queries)
    finally:
        pipeline_module.DENSE_CORRECTED, pipeline_module.READ_CORRECTED = saved
    hybrid = result.modes["hybrid"]
    return {"R@5": hybrid.retrieval["recall@5"], "F1": hybrid.answer.f1, "EM": hybrid.answer.exact_match,
            "corrected": f"{changed}/{len(queries)}" if spelling else "-"}


def seeds(args) -> int:
    rows = _rows(SEED_QUERIES)
    if not SEED_TYPOS.exists() or args.rewrite:
        SEED_TYPOS.write_text("\n".join(_jsonl(variants(rows, VARIANTS))) + "\n", encoding="utf-8")
        print(f"wrote {SEED_TYPOS.relative_to(ROOT)}", file=sys.stderr)
    typo_rows = _rows(SEED_TYPOS)
    clean_rows = [{**r, "id": r["id"].removesuffix("-typo"), "question": r["clean"]} for r in typo_rows]
    all_typos = variants(rows, None)
    all_clean = [{**r, "question": r["clean"]} for r in all_typos]
    qa = Pipeline(Settings(docs=args.docs, index=args.index))
    qa.warm_up()
    print(machine())
    table = []
    for name, data in ((f"{len(typo_rows)} variants", (clean_rows, typo_rows)),
                       (f"all {len(all_typos)} seeds", (all_clean, all_typos))):
        clean, typos = data
        table += [
            {"questions": name, "asked": "clean, spelling off", **_measure(qa, clean, False)},
            {"questions": name, "asked": "clean, spelling on", **_measure(qa, clean, True)},
            {"questions": name, "asked": "typos, spelling off", **_measure(qa, typos, False)},
            {"questions": name, "asked": "typos, corrected for BM25 only", **_measure(qa, typos, True, False, False)},
            {"questions": name, "asked": "typos, corrected (BM25 + dense + reader)", **_measure(qa, typos, True)},
        ]
    print_table(table, ["questions", "asked", "corrected", "R@5", "EM", "F1"])
    return 0


def squad(args) -> int:
    from squad import load_squad, sample, squad_pipeline

    from qa.index import spelling
    from qa.eval import document_ranking, retrieval_metrics

    docs, questions = load_squad(args.squad)
    qa = squad_pipeline(docs, args.cache, Settings.chunk_size, Settings.chunk_overlap)
    asked = sample(questions, args.limit)
    rng = random.Random(SEED)
    typo_q = {q["id"]: with_typos(q["question"], rng) for q in asked}
    asked = [q for q in asked if typo_q[q["id"]]]
    print(machine())
    print(f"SQuAD v1.1 dev: {len(asked)} questions with two typos each, over {len(docs)} paragraphs")
    relevant = {q["id"]: {q["doc"]} for q in asked}
    counts = spelling.count_words(d.text for d in qa.data.documents)
    indexed = {"indexed": qa.data.bm25.knows}  # as Pipeline.speller makes it
    options = {"documents' words only": {"english": {}, **indexed},
               "+ English words known": {"english_candidates": False, **indexed},
               "+ English words as candidates, the most frequent first (until 2026-12-03)":
                   {"searchable_first": False, **indexed},
               "+ English words as candidates": indexed}

    def recall(question_of, spelling_on: bool, english="+ English words as candidates", dense_corrected=True,
               mode="hybrid") -> dict:
        saved = pipeline_module.DENSE_CORRECTED
        pipeline_module.DENSE_CORRECTED = dense_corrected
        p = Pipeline(qa.settings.replace(spelling=spelling_on), embedder=qa.embedder)
        p._data = qa.data
        p._speller = (qa.data, spelling.Speller(counts, **options[english]))
        try:
            rankings, changed = {}, 0
            for q in asked:
                text = question_of(q)
                changed += spelling_on and p.correct(text) is not None
                rankings[q["id"]] = document_ranking(p.search(text, k=20, mode=mode))[:5]
        finally:
            pipeline_module.DENSE_CORRECTED = saved
        return {"R@5": retrieval_metrics(relevant, rankings, 5)["recall@5"], "changed": changed}

    clean = lambda q: q["question"]  # noqa: E731
    typod = lambda q: typo_q[q["id"]]  # noqa: E731
    table = []
    for mode in ("bm25", "hybrid"):
        for name, question_of in (("clean", clean), ("typos", typod)):
            table.append({"mode": mode, "asked": name, "spelling": "off", **recall(question_of, False, mode=mode)})
            for english in options:
                table.append({"mode": mode, "asked": name, "spelling": f"on ({english})",
                              **recall(question_of, True, english, mode=mode)})
    for name, question_of in (("clean", clean), ("typos", typod)):
        table.append({"mode": "hybrid", "asked": name, "spelling": "on, dense embeds the question as typed",
                      **recall(question_of, True, dense_corrected=False)})
    print_table(table, ["mode", "asked", "spelling", "changed", "R@5"])

    if args.answers:  # does the reader do better with the corrected question or the typed one?
        from squad import answers

        subset = sample(asked, args.answers)
        typed = [{**q, "question": typo_q[q["id"]]} for q in subset]
        rows = []
        for read, english in ((False, "+ English words as candidates"), (True, "+ English words known"),
                              (True, "+ English words as candidates")):
            saved = pipeline_module.READ_CORRECTED
            pipeline_module.READ_CORRECTED = read
            try:
                p = Pipeline(qa.settings, embedder=qa.embedder, reader=qa.reader)
                p._data = qa.data
                p._speller = (qa.data, spelling.Speller(counts, **options[english]))
                rows.append({"reader reads": "corrected" if read else "as typed", "spelling": f"on ({english})",
                             **answers(p, typed, "hybrid", gold_only=False)})
            finally:
                pipeline_module.READ_CORRECTED = saved
        print(f"\nAnswers to {len(subset)} questions with typos (hybrid; BM25 and dense get the corrected question)\n")
        print_table(rows, ["reader reads", "spelling", "n", "EM", "F1", "evidence", "ms_per_q"])
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=Path, default=SEEDS)
    ap.add_argument("--index", type=Path, default=CACHE / "seeds-typos" / "index")
    ap.add_argument("--rewrite", action="store_true", help=f"write {SEED_TYPOS.name} again")
    ap.add_argument("--squad", type=Path, help="SQuAD v1.1 dev JSON: measure there instead of the seeds")
    ap.add_argument("--limit", type=int, default=1000, help="SQuAD questions sampled")
    ap.add_argument("--answers", type=int, default=300, help="SQuAD questions also answered (0: none)")
    ap.add_argument("--cache", type=Path, default=CACHE)
    args = ap.parse_args(argv)
    return squad(args) if args.squad else seeds(args)


if __name__ == "__main__":
    sys.exit(main())
