"""Choose how hybrid retrieval fuses BM25 and dense scores, on held-out data, and report it everywhere.

For every query of every dataset the candidates of both retrievers (the top ``--depth`` passages
of each, with their scores) are computed once through the ``Pipeline`` and cached as ``.npz``
under ``--cache``; every fusion is then scored offline, at the document level (a document ranks
where its best passage does), with ranx.

Tuning sets (the fusion default is chosen on these only):
  * ``scifact-train``: BEIR SciFact with its *train* qrels (same corpus as its test): the 200 claims the
    statement encoder (``python -m qa.train question --claims``) was not trained on (all 809 before it);
  * ``squad-train``: held-out SQuAD v1.1 *train* articles (the last ``--train-articles``, one document
    per paragraph, ``--train-questions`` questions sampled).
Report sets (never used to choose): ``scifact-test``, ``squad-dev`` (a sample of v1.1 dev questions over
all 2,067 dev paragraphs), ``shifts-nw`` / ``shifts-reddit`` / ``shifts-amazon`` (SQuADShifts paragraphs as
documents) and ``seeds`` (tests/data/seed_queries.jsonl over seeds/).

    python bench/fusion.py                      # everything, the paired tests and the choice
    python bench/fusion.py --sets scifact-train squad-train --tune-only
    python bench/fusion.py --context            # passages embedded with title and section (issue: context)
    python bench/fusion.py --question-model trained   # questions encoded by the encoder trained here
    python bench/fusion.py --candidate-depths 20 30 75 100   # also candidates per side (QA_CANDIDATES)
    python bench/fusion.py --routes             # a weight per route of question_model=auto (see below)
    python bench/fusion.py --model FOLDER       # another embedding model (an index of its own per set)

``--routes``: ``auto`` encodes questions and other queries (claims) with different encoders, so the dense side's
share is chosen apart for each, within the product's fusion (``Settings.fusion``): for questions on
``squad-train`` alone (``Settings.fusion_weight``), for the rest (claims and keyword queries) on ``scifact-train``
and ``squad-train-keywords`` (the same held-out SQuAD questions as keyword queries, ``question_route.keywords``),
the best mean of each set's score relative to its better single retriever (``Settings.statement_fusion_weight``).
The report gives SciFact's sets and the keyword sets (``squad-dev-keywords`` too) the second and the others
(questions) the first.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
from beir import load_beir, write_docs
from perf_common import CACHE, SEED_QUERIES, SEEDS, machine, model_suffix, print_table

from qa.config import FUSIONS, Settings
from qa.index.lexical import B, K1
from qa.pipeline import Pipeline
from qa.retrieval import Ranked, bm25_search, dense_search, fuse

BENCH = Path("/work/shared/benchmarks")
TRAIN = BENCH / "training/squad_v1.1_train_rebuilt/train-v1.1.rebuilt.json.gz"
DEV = BENCH / "squad_v1.1_dev/dev-v1.1.json"
SHIFTS = BENCH / "training/squadshifts_v1.0"
TUNE_SETS = ("scifact-train", "squad-train")
#: with ``--routes``: SQuAD's questions as keyword queries (a tuning set of the statement route, and a report set)
KEYWORD_SETS = ("squad-train-keywords", "squad-dev-keywords")
REPORT_SETS = ("scifact-test", "squad-dev", "shifts-nw", "shifts-reddit", "shifts-amazon", "seeds")
METRICS = ("ndcg@10", "mrr@10", "hit_rate@1", "hit_rate@5")


# ---------------------------------------------------------------------------------------------
# datasets: documents, queries {id: text}, qrels {id: {doc: grade}}


def squad_like(articles: list[dict], prefix: str) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, int]]]:
    docs, queries, qrels = {}, {}, {}
    for a, article in enumerate(articles):
        title = article.get("title", "").replace("_", " ")
        for p, para in enumerate(article["paragraphs"]):
            name = f"{prefix}{a:03d}_{p:04d}"
            docs[name] = f"{title}\n\n{para['context']}\n"
            for q in para["qas"]:
                queries[q["id"]] = q["question"]
                qrels[q["id"]] = {name: 1}
    return docs, queries, qrels


def sample(queries: dict, qrels: dict, n: int | None) -> tuple[dict, dict]:
    if not n or n >= len(queries):
        return queries, qrels
    keep = sorted(random.Random(0).sample(sorted(queries), n))
    return {q: queries[q] for q in keep}, {q: qrels[q] for q in keep}


def held_out_claims() -> list[str]:
    """The SciFact train claims that the statement encoder's training held out (its defaults)."""
    from qa.index.claim_training import Claims
    from qa.train import parse

    recipe = parse(["question", "--claims", str(BENCH / "beir_scifact")])
    return Claims(BENCH / "beir_scifact", recipe.claims_held_out, recipe.seed, passages=False).held_out


def dataset(name: str, args) -> tuple[Path, Path, dict, dict]:
    """(docs folder, index folder, queries, qrels) of a named set; documents written once under the cache."""
    if name.startswith("scifact"):
        corpus, queries, qrels = load_beir(BENCH / "beir_scifact", name.split("-")[1])
        if name == "scifact-train":
            held = set(held_out_claims())
            queries, qrels = {q: t for q, t in queries.items() if q in held}, {q: qrels[q] for q in held}
        base = args.cache / "scifact"
        return write_docs(corpus, base), base / "index", queries, qrels
    if name == "seeds":
        queries, qrels = {}, {}
        for line in SEED_QUERIES.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("docs") and row.get("answers"):
                queries[row["id"]] = row["question"]
                qrels[row["id"]] = {d.removesuffix(".txt"): 1 for d in row["docs"]}
        return SEEDS, args.cache / "seeds-fusion" / "index", queries, qrels
    if name.endswith("-keywords"):
        from question_route import keywords

        docs, index, queries, qrels = dataset(name.removesuffix("-keywords"), args)
        asked_as = {q: k for q, t in queries.items() if (k := keywords(t))}  # not a question of stopwords alone
        return docs, index, asked_as, {q: qrels[q] for q in asked_as}
    if name == "squad-train":
        articles = json.load(gzip.open(TRAIN))["data"][-args.train_articles:]
        docs, queries, qrels = squad_like(articles, "t")
        queries, qrels = sample(queries, qrels, args.train_questions)
    elif name == "squad-dev":
        docs, queries, qrels = squad_like(json.loads(DEV.read_text())["data"], "d")
        queries, qrels = sample(queries, qrels, args.questions)
    else:
        file = {"shifts-nw": "new_wiki", "shifts-reddit": "reddit", "shifts-amazon": "amazon_reviews"}[name]
        docs, queries, qrels = squad_like(json.load(gzip.open(SHIFTS / f"{file}_v1.0.json.gz"))["data"], "s")
        queries, qrels = sample(queries, qrels, args.questions)
    base = args.cache / f"fusion-{name}"
    return write_docs(docs, base), base / "index", queries, qrels


# ---------------------------------------------------------------------------------------------
# candidates, computed once


def question_model_key(question_model: str) -> str:
    """A short name of a question encoder's file (its checksum), so candidates of each are cached apart."""
    from qa.files import sha256_file
    from qa.index.embedding import statement_model_path, trained_question_model_path

    if question_model == "trained":
        return sha256_file(trained_question_model_path())[:10]
    if question_model == "auto":  # the trained file for questions, the statement encoder for the rest
        other = statement_model_path()
        return "auto-" + sha256_file(trained_question_model_path())[:10] + (
            "-" + sha256_file(other)[:6] if other.exists() else "")
    return sha256_file(Path(question_model))[:10]


def embedding_model_key(model: str) -> str:
    """A short name of the embedding model (its id: for a folder trained here, the checksum of its weights), so the
    candidates of each model, the default included, are cached apart."""
    import hashlib

    from qa.index.embedding import MODEL_RECORD, model_record_id, resolve_model

    model_id, folder = resolve_model(model)
    if (folder / MODEL_RECORD).exists():
        model_id = model_record_id(folder)
    return hashlib.sha256(model_id.encode()).hexdigest()[:8]


def candidates(name: str, args) -> dict:
    """Per query: dense and BM25 candidates (passage ids, scores), passage -> document, the qrels."""
    tag = "-context" if args.context else ""
    questions = "" if args.question_model == "bundled" else f"-q{question_model_key(args.question_model)}"
    questions += f"-m{embedding_model_key(args.model)}"
    bm25 = f"-k{K1:g}-b{B:g}"  # BM25's parameters move its candidates and scores
    subset = "-held" if name == "scifact-train" else ""  # the claims the statement encoder did not train on
    out = args.cache / f"fusion-candidates-{name}{subset}-{args.depth}{tag}{questions}{bm25}.npz"
    meta = out.with_suffix(".json")
    if out.exists() and meta.exists():
        arrays = np.load(out, allow_pickle=False)
        info = json.loads(meta.read_text())
        return {"arrays": arrays, **info}
    docs, index, queries, qrels = dataset(name, args)
    qa = Pipeline(Settings(docs=docs, index=index.with_name(index.name + tag + model_suffix(args.model)),
                           embed_context=args.context, question_model=args.question_model, model=args.model))
    t0 = time.perf_counter()
    qa.warm_up(show_bar=sys.stderr.isatty())
    data = qa.data
    print(f"{name}: index ready in {time.perf_counter() - t0:.0f} s, {len(data.passages)} passages, "
          f"{len(queries)} queries", file=sys.stderr)
    ids = sorted(queries)
    d_ids = np.full((len(ids), args.depth), -1, np.int64)
    d_sc = np.zeros((len(ids), args.depth), np.float32)
    b_ids, b_sc = d_ids.copy(), d_sc.copy()
    for i, qid in enumerate(ids):
        q = queries[qid]
        dense = dense_search(data, qa.embedder.encode_query(q), args.depth)
        lexical = bm25_search(data, q, args.depth)
        d_ids[i, :len(dense.ids)], d_sc[i, :len(dense.ids)] = dense.ids, dense.scores
        b_ids[i, :len(lexical.ids)], b_sc[i, :len(lexical.ids)] = lexical.ids, lexical.scores
    doc_of = [p.doc.removesuffix(".txt") for p in data.passages]
    if name == "seeds":  # five long documents: judged by passage, as `qa eval` does (a passage holding an answer)
        from qa.eval import load_queries, relevant_passages

        by_id = {q.id: q for q in load_queries(SEED_QUERIES)[0]}
        qrels = {q: {str(p): 1 for p in relevant_passages(by_id[q], data)} for q in ids}
        doc_of = [str(i) for i in range(len(data.passages))]
    np.savez(out, d_ids=d_ids, d_sc=d_sc, b_ids=b_ids, b_sc=b_sc)
    info = {"ids": ids, "doc_of": doc_of, "qrels": {q: qrels[q] for q in ids}}
    meta.write_text(json.dumps(info))
    return {"arrays": np.load(out, allow_pickle=False), **info}


def candidate_args(description: str, sets: list[str]) -> argparse.ArgumentParser:
    """The options of a script that scores one change over this module's cached candidates, ``--sets`` defaulting
    to ``sets``; its parsed ``args`` serve :func:`candidates`, :func:`set_pipeline` and :func:`product_weight`."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="+", default=sets, choices=[*TUNE_SETS, *REPORT_SETS])
    ap.add_argument("--depth", type=int, default=100, help="candidates per retriever cached (passages)")
    ap.add_argument("--questions", type=int, default=2000)
    ap.add_argument("--train-articles", type=int, default=40)
    ap.add_argument("--train-questions", type=int, default=2000)
    ap.add_argument("--question-model", default=Settings.question_model)
    ap.add_argument("--model", default=Settings.model)
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.set_defaults(context=False)
    return ap


def set_pipeline(name: str, args) -> Pipeline:
    """The pipeline over a set's documents and cached index (built when missing), as :func:`candidates` uses it."""
    docs, index, _, _ = dataset(name, args)
    qa = Pipeline(Settings(docs=docs, index=index.with_name(index.name + model_suffix(args.model)),
                           question_model=args.question_model, model=args.model))
    qa.warm_up()
    return qa


def product_weight(name: str) -> float:
    """The dense side's share the product gives the set's queries: SciFact's claims, the others questions."""
    return Settings.statement_fusion_weight if name.startswith("scifact") else Settings.fusion_weight


def report_sets(sets: list[str], rows_of) -> int:
    """Print the machine, then each set's rows (``rows_of(set)``, a list of dicts) as soon as they are known, then
    every set's in one table."""
    print(machine())
    rows = []
    for s in sets:
        rows += (got := rows_of(s))
        print_table(got, list(got[-1]))
        sys.stdout.flush()
    print("\nAll sets:")
    print_table(rows, list(rows[-1]))
    return 0


def ranked(ids: np.ndarray, scores: np.ndarray) -> Ranked:
    keep = ids >= 0
    return Ranked(ids[keep], scores[keep])


def runs(c: dict, methods: dict, bm25_zeros: bool = True, passages: bool = False) -> dict[str, dict]:
    """A ranx-style run (query -> document -> score) per method. ``bm25_zeros``: BM25's scale counts the passages
    it did not return, as the product does (``fuse``'s ``searched``); off, the scale of its returned scores only
    (the product before 2026-12-06). ``passages``: each query's fused ``(passage id, score)`` pairs instead
    (query -> list, best first; the single retrievers' scores are their own)."""
    a = c["arrays"]
    doc_of = c["doc_of"]
    searched = len(doc_of) if bm25_zeros else None
    out = {m: {} for m in methods}
    for i, qid in enumerate(c["ids"]):
        dense = ranked(a["d_ids"][i], a["d_sc"][i])
        lexical = ranked(a["b_ids"][i], a["b_sc"][i])
        for m, (kind, weight, depth) in methods.items():
            if kind == "bm25":
                scored = list(zip(lexical.ids.tolist(), lexical.scores.tolist()))
            elif kind == "dense":
                scored = list(zip(dense.ids.tolist(), dense.scores.tolist()))
            else:  # as the product does with ``candidates=depth``: each side's first ``depth`` only
                scored = [(p, s) for p, s, _ in fuse(Ranked(dense.ids[:depth], dense.scores[:depth]),
                                                     Ranked(lexical.ids[:depth], lexical.scores[:depth]),
                                                     100, kind, weight, depth=depth, searched=searched)]
            if passages:
                out[m][qid] = scored
                continue
            order = [p for p, _ in scored]
            docs = list(dict.fromkeys(doc_of[p] for p in order))[:100]
            out[m][qid] = {d: float(len(docs) - r) for r, d in enumerate(docs)} or {"-": 0.0}
    return out


def score(c: dict, run: dict) -> dict[str, float]:
    from ranx import Qrels, Run, evaluate

    res = evaluate(Qrels(c["qrels"]), Run(run), list(METRICS), make_comparable=True)
    return {m: float(res[m]) for m in METRICS}


def methods_grid(depths: tuple[int, ...] = ()) -> dict[str, tuple[str, float, int]]:
    """name -> (fusion, dense weight, candidates per side); every method takes
    ``Settings.candidates`` candidates from each side, and the score-based ones also each of
    ``depths`` (named ``... d=N``)."""
    d0 = Settings.candidates
    grid = {"bm25": ("bm25", 0.0, d0), "dense": ("dense", 1.0, d0), "rrf": ("rrf", 0.5, d0)}
    for w in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        grid[f"rrf w={w}"] = ("rrf", w, d0)
    for kind in FUSIONS:
        if kind == "rrf":
            continue
        for w in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
            grid[f"{kind} w={w}"] = (kind, w, d0)
            for d in depths:
                if d != d0:
                    grid[f"{kind} w={w} d={d}"] = (kind, w, d)
    return grid


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="+", default=[*TUNE_SETS, *REPORT_SETS],
                    choices=[*TUNE_SETS, *REPORT_SETS, *KEYWORD_SETS])
    ap.add_argument("--tune-only", action="store_true", help="only the tuning sets and the choice")
    ap.add_argument("--depth", type=int, default=100, help="candidates per retriever (passages)")
    ap.add_argument("--questions", type=int, default=2000, help="questions sampled from each SQuAD-like report set")
    ap.add_argument("--train-articles", type=int, default=40)
    ap.add_argument("--train-questions", type=int, default=2000)
    ap.add_argument("--candidate-depths", type=int, nargs="*", default=[],
                    help="also try these numbers of candidates per side (Settings.candidates) for the score-based "
                         "fusions, e.g. 20 30 75 100 (at most --depth)")
    ap.add_argument("--choose",
                    help="the method to report against BM25 and dense (default: best on the tuning sets)")
    ap.add_argument("--routes", action="store_true",
                    help="choose the dense weight for questions on squad-train and for claims on scifact-train")
    ap.add_argument("--context", action="store_true", help="passages embedded with their title and section")
    ap.add_argument("--question-model", default=Settings.question_model,
                    help="question encoder (Settings.question_model): auto, bundled, trained or an .onnx file")
    ap.add_argument("--model", default=Settings.model,
                    help="embedding model: a local folder (default: the default model)")
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    sets = [s for s in args.sets if s in TUNE_SETS] if args.tune_only else args.sets
    if args.routes:
        sets = list(dict.fromkeys([*sets, *(KEYWORD_SETS[:1] if args.tune_only else KEYWORD_SETS)]))
    grid = methods_grid(tuple(args.candidate_depths))
    if args.choose and args.choose not in grid:
        ap.error(f"--choose: unknown method {args.choose!r}")
    cands = {s: candidates(s, args) for s in sets}
    results = {s: {m: score(cands[s], r) for m, r in runs(cands[s], grid).items()} for s in sets}

    tune = [s for s in sets if s in TUNE_SETS]
    key = {"scifact-train": "ndcg@10", "squad-train": "mrr@10", "squad-train-keywords": "mrr@10"}
    def relative(m: str, sets_: list[str]) -> float:
        """The mean over ``sets_`` of each set's score relative to its better single retriever."""
        return float(np.mean([results[t][m][key[t]] / max(results[t]["bm25"][key[t]], results[t]["dense"][key[t]])
                              for t in sets_]))

    def gain(m: str) -> float:  # the choice: the best relative score over the tuning sets
        return relative(m, tune)
    chosen = args.choose or (max((m for m in grid if grid[m][0] not in ("bm25", "dense")), key=gain) if tune else "rrf")
    print(machine())
    if tune:
        rows = [{"method": m, **{f"{s} {key[s]}": results[s][m][key[s]] for s in tune}, "relative": gain(m)}
                for m in grid]
        rows.sort(key=lambda r: -r["relative"])
        print("\nTuning sets (relative = mean of score / best single retriever):")
        print_table(rows[:15], ["method", *[f"{s} {key[s]}" for s in tune], "relative"])
    print(f"\nChosen: {chosen}\n")
    chosen_for = dict.fromkeys(sets, chosen)
    if args.routes and tune:
        own = [m for m in grid if m.startswith(f"{Settings.fusion} w=") and " " not in m.split("w=")[1]]
        statement_sets = [t for t in ("scifact-train", "squad-train-keywords") if t in results]
        best = {"questions": max(own, key=lambda m: relative(m, ["squad-train"])),
                "others": max(own, key=lambda m: relative(m, statement_sets))}
        print("Per route (relative to the better single retriever):")
        print_table([{"method": m, "questions (squad-train)": relative(m, ["squad-train"]),
                      **{t: relative(m, [t]) for t in statement_sets},
                      "others (mean)": relative(m, statement_sets)} for m in own],
                    ["method", "questions (squad-train)", *statement_sets, "others (mean)"])
        for s in sets:
            other = s.startswith("scifact") or s.endswith("-keywords")
            chosen_for[s] = best["others" if other else "questions"]
        print(f"\nChosen per route: questions {best['questions']}, claims and keywords {best['others']}\n")

    from ranx import Qrels, Run, compare

    rows = []
    for s in sets:
        c = cands[s]
        default = f"{Settings.fusion} w={Settings.fusion_weight}"
        chosen = chosen_for[s]
        shown = dict.fromkeys(("bm25", "dense", "rrf", default, chosen))
        chosen_runs = runs(c, {m: grid[m] for m in shown})
        qrels = Qrels(c["qrels"])
        report = compare(qrels, [Run(chosen_runs[m], name=m) for m in chosen_runs], metrics=["mrr@10", "ndcg@10"],
                         max_p=0.05, stat_test="fisher", make_comparable=True)
        d = report.to_dict()
        for m in chosen_runs:
            row = {"set": s, "queries": len(c["ids"]), "method": m, **results[s][m]}
            if m == chosen:
                for other in ("bm25", "dense", "rrf", default):
                    if other != m:
                        row[f"p vs {'default' if other == default else other}"] = d[m]["comparisons"][other]["mrr@10"]
            rows.append(row)
    print_table(rows, ["set", "queries", "method", *METRICS, "p vs bm25", "p vs dense", "p vs rrf", "p vs default"])
    if args.json:
        args.json.write_text(json.dumps({"chosen": chosen_for, "results": results, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
