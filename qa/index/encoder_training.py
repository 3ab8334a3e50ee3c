"""Train one encoder for both sides, passages and queries, from all-MiniLM-L6-v2; export int8 ONNX.

    python -m qa.train encoder \\
        --train ../shared/benchmarks/training/squad_v1.1_train_rebuilt/train-v1.1.rebuilt.json.gz \\
        --claims ../shared/benchmarks/beir_scifact

The question encoders (:mod:`qa.index.question_training`, :mod:`qa.index.claim_training`) move only the query
side towards the bundled model's passage vectors; their held-out score stopped rising near MRR@10 0.79
(docs/benchmarks.md). Here the passage side is trained too, so an index built with this model is a new index.
Data, the same as the question encoder's with the claims mixed in rather than a second stage:

- SQuAD v1.1 train questions of all but the last ``--val-articles`` articles, each with its paragraph and
  ``--negatives`` paragraphs that BM25 ranks highest over SQuAD train without holding an answer
  (:func:`qa.index.question_training.mine_negatives`);
- BEIR SciFact **train** claims but ``--claims-held-out`` (a seeded sample, never trained on), each with the
  passage of a supporting abstract that BM25 ranks highest (abstracts split as the index splits them) and BM25's
  best passages of other abstracts; repeated ``--claim-repeat`` times, so claims are not drowned by questions.

Loss: sentence-transformers' ``MultipleNegativesRankingLoss`` (in-batch and hard negatives, scale ``--scale``),
its trainer, batches without duplicate texts, bfloat16 on a GPU. With ``--anchor-repeat`` N, batches of a second
kind keep the passage side near the initial model on scientific text: every passage of the abstracts the training
claims are trained against (less those a held-out claim cites), N times, with the initial model's own vectors of
them as targets (sentence-transformers' ``EmbedDistillLoss``, Euclidean distance; Kim et al. 2023, EmbedDistill).
The data is prepared once (BM25 mining) and cached in ``--work``, with checkpoints every ``--save-every`` steps;
the same command resumes.

Held out, before and after training, for every weight-space blend of ``--held-out-blends`` between the
initial and the trained weights (Wortsman et al. 2022): the held-out SQuAD articles' questions searched among
their paragraphs, and the held-out claims searched among all SciFact passages (an abstract scores its best
passage), both by dense vectors alone. ``--blend`` is the blend saved (``--work``/final, a sentence-transformers
folder) and, with ``--export`` (the default), written as a model folder into ``--out`` (new or empty; default
``qa/models/encoder``, where the shipped default model lies, so name another to compare): the weights in float16,
``encoder-int8.onnx`` (its questions) and ``statement-int8.onnx`` (its claims, statements and keywords: the statement
stage of :mod:`qa.index.statement_training`, run here with ``--claims``), each with its record, and ``qa-model.json``
(the model's id for index manifests). ``QA_MODEL`` can name that folder; a new index is built for it.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np

from ..files import sha256_file, weights_file, write_model_record
from .embedding import OWN_EXPORT
from .question_training import Squad, dense_scores, load_articles, mine_negatives

DEFAULT_WORK = Path.home() / ".cache" / "qa-train" / "encoder"


def prepare(args, work: Path) -> dict:
    """The training rows and the held-out sets (a JSON object: ``texts``, each text once, and rows of indices
    into it), built once and cached in ``work`` under the data files' checksums and the settings that shape
    them; or read from ``--prepared`` (a file an earlier run wrote, on this machine or another)."""
    if args.prepared:
        with gzip.open(args.prepared, "rt", encoding="utf-8") as f:
            return json.load(f)
    train_sha256 = sha256_file(args.train)
    key = hashlib.sha256(json.dumps([train_sha256, sha256_file(Path(args.claims) / "qrels" / "train.tsv"),
                                     args.val_articles, args.negatives, args.claims_held_out, args.seed]).encode())
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"prepared-{key.hexdigest()[:12]}.json.gz"
    if path.exists():
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return json.load(f)
    from . import claim_training

    t0 = time.perf_counter()
    train_articles, val_articles = load_articles(args.train, args.val_articles)
    data, val = Squad(train_articles), Squad(val_articles)
    negatives = mine_negatives(data, args.negatives)
    claims = claim_training.Claims(Path(args.claims), args.claims_held_out, args.seed)
    texts = data.paragraphs + data.questions + claims.passages + [claims.text[q] for q in claims.fit]
    questions, passages = len(data.paragraphs), len(data.paragraphs) + len(data.questions)
    rows = [[questions + i, g, *negs] for i, (g, negs) in enumerate(zip(data.gold, negatives.tolist()))]
    # the claims' rows as the statement encoder's stage makes them (the positive: BM25's best passage of the
    # abstract), less those short of negatives: a positive repeated as its own negative would be a false one here
    claim_text = passages + len(claims.passages)
    claim_rows = [[claim_text + claim, passages + positive, *(passages + n for n in others)]
                  for claim, positive, *others in claim_training.claim_rows(claims, None, None, args.negatives).tolist()
                  if positive not in others]
    prepared = {
        "train_sha256": train_sha256, "texts": texts, "rows": rows, "claim_rows": claim_rows,
        "val": {"questions": val.questions, "paragraphs": val.paragraphs, "gold": val.gold},
        "claims_held_out": {"claims": [claims.text[q] for q in claims.held_out],
                            "gold": [sorted(claims.gold[q]) for q in claims.held_out],
                            "passages": list(range(passages, passages + len(claims.passages))),
                            "passage_doc": claims.passage_doc},
    }
    with gzip.open(path, "wt", encoding="utf-8") as f:
        json.dump(prepared, f)
    print(f"prepared {len(rows)} question rows and {len(claim_rows)} claim rows in {time.perf_counter() - t0:.0f} s",
          flush=True)
    return prepared


def held_out_scores(model, prepared: dict, sets=("squad", "claims"), batch_size: int = 256) -> dict[str, float]:
    """Dense scores of ``model`` (a SentenceTransformer) on the held-out ``sets``: SQuAD's recall@1, @5 and
    MRR@10, and the claims' nDCG@10 over SciFact's abstracts (scikit-learn's ``ndcg_score``) and recall@10."""
    from sklearn.metrics import ndcg_score

    def enc(texts):
        return model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)

    out = {}
    if "squad" in sets:
        val = prepared["val"]
        out.update({f"squad_{k}": v for k, v in dense_scores(enc(val["questions"]), enc(val["paragraphs"]),
                                                             val["gold"]).items()})
    if "claims" not in sets:
        return out
    held = prepared["claims_held_out"]
    sims = enc(held["claims"]) @ enc([prepared["texts"][i] for i in held["passages"]]).T
    docs, where = np.unique(np.asarray(held["passage_doc"]), return_inverse=True)
    best = np.full((len(sims), len(docs)), -np.inf, dtype=np.float32)
    np.maximum.at(best.T, where, sims.T)  # an abstract scores its best passage
    relevant = np.zeros_like(best)
    column = {d: i for i, d in enumerate(docs.tolist())}
    for r, gold in enumerate(held["gold"]):
        relevant[r, [column[d] for d in gold if d in column]] = 1
    top10 = np.argsort(-best, axis=1)[:, :10]
    out["claims_nDCG@10"] = round(float(ndcg_score(relevant, best, k=10)), 4)
    out["claims_R@10"] = round(float(np.mean([relevant[r, top10[r]].sum() / max(relevant[r].sum(), 1)
                                              for r in range(len(best))])), 4)
    return out


def anchor_passages(prepared: dict) -> list[int]:
    """Text indices of the passages the passage side is kept near the initial model on (``--anchor-repeat``): every
    passage of the abstracts that the training claims' rows take as positives, less the abstracts any held-out claim
    cites (no held-out claim's evidence is seen, not even without its claim)."""
    held = prepared["claims_held_out"]
    doc_of = dict(zip(held["passages"], held["passage_doc"]))
    docs = {doc_of[row[1]] for row in prepared["claim_rows"]} - {d for gold in held["gold"] for d in gold}
    return [p for p in held["passages"] if doc_of[p] in docs]


def initial_scores(model, prepared: dict, sets, work: Path, init: Path) -> dict[str, float]:
    """The initial model's held-out scores, kept in ``work`` once measured: a resumed run does not measure them
    again (minutes on a CPU). Keyed by the initial weights' checksum, the sets and the held-out texts themselves
    (other held-out articles or claims of the same number are measured anew)."""

    held = {}
    if "squad" in sets:
        held["squad"] = prepared["val"]
    if "claims" in sets:
        claims = prepared["claims_held_out"]
        held["claims"] = {**claims, "texts": [prepared["texts"][i] for i in claims["passages"]]}
    key = hashlib.sha256(json.dumps([sha256_file(weights_file(init)), sorted(sets), held],
                                    sort_keys=True).encode()).hexdigest()[:12]
    path = work / f"initial-held-out-{key}.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    scores = held_out_scores(model, prepared, sets)
    path.write_text(json.dumps(scores) + "\n", encoding="utf-8")
    return scores


def sample(rows: list, n: int | None, start: int, rng: np.random.Generator) -> list:
    """``n`` rows (all: None) from ``start`` on in one seeded order of ``rows`` (in their own order): a second stage
    that starts where the first's ``n`` ended sees none of its rows."""
    if not n and not start:
        return rows
    picked = rng.permutation(len(rows))[start:][: n or None]
    return [rows[i] for i in sorted(picked.tolist())]


def blend_state(initial: dict, trained: dict, weight: float) -> dict:
    """Weights ``initial + weight x (trained - initial)`` (floating tensors; the rest as trained)."""
    return {k: (initial[k] + weight * (v - initial[k])) if v.is_floating_point() else v for k, v in trained.items()}


def train(args) -> dict:
    import torch
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.losses import EmbedDistillLoss, MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.training_args import (BatchSamplers,
                                                                          SentenceTransformerTrainingArguments)
    from transformers.trainer_utils import get_last_checkpoint

    from .embedding import bundled_model_path

    if not args.claims and not args.prepared:
        raise SystemExit("encoder needs --claims (a BEIR SciFact folder: its train claims are trained on)")
    torch.manual_seed(args.seed)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    prepared = prepare(args, work)
    init = Path(args.init) if args.init else bundled_model_path()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = SentenceTransformer(str(init), device=device, local_files_only=True)
    model.float()
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.eval()
    before = initial_scores(model, prepared, args.held_out_sets, work, init)
    print("held out, initial model:", before, flush=True)

    rng = np.random.default_rng(args.seed)
    questions = sample(prepared["rows"], args.questions, args.questions_from, rng)
    rows = questions + prepared["claim_rows"] * args.claim_repeat
    order = rng.permutation(len(rows))
    texts = prepared["texts"]
    columns = ["anchor", "positive"] + [f"negative_{i + 1}" for i in range(len(rows[0]) - 2)]
    dataset = Dataset.from_dict({c: [texts[rows[i][n]] for i in order] for n, c in enumerate(columns)})
    loss = MultipleNegativesRankingLoss(model, scale=args.scale)
    anchors = [texts[i] for i in anchor_passages(prepared)] * args.anchor_repeat
    if anchors:
        # the passage side kept near the initial model on scientific abstracts: its own vectors of them, before
        # training, are the targets of sentence-transformers' embedding distillation (Euclidean distance, as in
        # EmbedDistill), in batches of their own beside the question and claim rows'
        targets = model.encode(anchors, batch_size=256, normalize_embeddings=True, convert_to_numpy=True)
        anchor_order = rng.permutation(len(anchors))
        dataset = {"pairs": dataset, "anchors": Dataset.from_dict({"text": [anchors[i] for i in anchor_order],
                                                                   "label": targets[anchor_order].tolist()})}
        loss = {"pairs": loss, "anchors": EmbedDistillLoss(model, distance_metric="l2")}
    recipe = json.dumps([prepared["train_sha256"], len(rows), len(rows[0]) - 2, str(init), args.lr, args.scale,
                         args.batch, args.claim_repeat, args.epochs, args.seed]
                        + ([args.questions_from] if args.questions_from else [])
                        + (["anchors", len(anchors)] if anchors else []))
    checkpoints = work / f"checkpoints-{hashlib.sha256(recipe.encode()).hexdigest()[:10]}"
    training_args = SentenceTransformerTrainingArguments(
        output_dir=str(checkpoints), num_train_epochs=args.epochs, per_device_train_batch_size=args.batch,
        learning_rate=args.lr, warmup_steps=0.1, use_cpu=device == "cpu", lr_scheduler_type="linear",
        weight_decay=0.01, bf16=args.bf16, seed=args.seed, data_seed=args.seed, dataloader_drop_last=True,
        batch_sampler=BatchSamplers.NO_DUPLICATES, dataloader_num_workers=args.workers or 0,
        save_strategy="steps", save_steps=args.save_every, save_total_limit=2, logging_steps=25,
        report_to="none", disable_tqdm=False)
    model.train()
    trainer = SentenceTransformerTrainer(model=model, args=training_args, train_dataset=dataset, loss=loss)
    last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    t0 = time.perf_counter()
    trainer.train(resume_from_checkpoint=last)
    minutes = (time.perf_counter() - t0) / 60
    model.eval()
    trained = {k: v.detach().clone() for k, v in model.state_dict().items()}
    blends = {}
    for weight in args.held_out_blends:
        model.load_state_dict(blend_state(initial, trained, weight))
        blends[str(weight)] = held_out_scores(model, prepared, args.held_out_sets)
        print(f"held out, blend {weight}:", blends[str(weight)], flush=True)
    model.load_state_dict(blend_state(initial, trained, args.blend))
    final = work / "final"
    model.save(str(final))
    return {"final": final, "check": prepared["val"]["questions"][:200], "train_sha256": prepared["train_sha256"],
            "rows": len(questions), "questions_from": args.questions_from, "claim_rows": len(prepared["claim_rows"]),
            "claim_repeat": args.claim_repeat, "anchor_passages": len(anchors),
            "steps": (len(rows) // args.batch + len(anchors) // args.batch) * args.epochs,
            "minutes_this_run": round(minutes, 1),
            "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
            "resumed_from": str(last) if last else None, "blend": args.blend,
            "held_out": {"initial": before, "blends": blends}}


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--claim-repeat", type=int, default=8,
                    help="encoder: times each SciFact train claim's rows are in the training data")
    ap.add_argument("--anchor-repeat", type=int, default=0,
                    help="encoder: keep the passage side near the initial model on the training claims' abstracts "
                         "(their passages, this many times each, with the initial model's vectors as targets; 0: off)")
    ap.add_argument("--questions-from", type=int, default=0,
                    help="encoder: skip this many questions of the seeded order before taking --questions (a second "
                         "stage from --init on questions the first did not see: the first's --questions)")
    ap.add_argument("--held-out-blends", type=lambda s: [float(x) for x in s.split(",")], default=[0.5, 0.75, 1.0],
                    help="encoder: blends of the initial and trained weights scored on the held-out sets")
    ap.add_argument("--held-out-sets", type=lambda s: s.split(","), default=["squad", "claims"],
                    help="encoder: held-out sets scored, squad and/or claims (claims embeds all 14,854 SciFact "
                         "passages: about 13 minutes on a 2-core CPU)")
    ap.add_argument("--prepared", type=Path, default=None,
                    help="encoder: the prepared data an earlier run wrote in its --work (prepared-*.json.gz), "
                         "instead of preparing it from --train and --claims")
    ap.add_argument("--export", action=argparse.BooleanOptionalAction, default=True,
                    help="encoder: write the model folder into --out (weights, int8 ONNX exports, records)")


def write_folder(final: Path, out: Path) -> str:
    """The saved model as a folder to ship into ``out``: its files but the generated model card, the weights in
    float16 (half the size; sentence-transformers loads them as float32 again, vectors within cosine 0.99999 of the
    float32 model's); returns the checksum of the weights written."""
    from safetensors.torch import load_file, save_file

    for item in final.iterdir():
        if item.name in ("model.safetensors", "README.md", OWN_EXPORT):
            continue
        (shutil.copytree if item.is_dir() else shutil.copyfile)(item, out / item.name)
    state = load_file(str(final / "model.safetensors"))
    save_file({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, str(out / "model.safetensors"),
              metadata={"format": "pt"})
    return sha256_file(out / "model.safetensors")


def run(args) -> int:
    """Train (or resume), then write the model folder ``--out``: the weights, ``encoder-int8.onnx`` (questions)
    with its record, ``statement-int8.onnx`` (claims, statements, keywords; with ``--claims``) with its record, and
    :data:`~qa.index.embedding.MODEL_RECORD`: a folder that ``QA_MODEL`` can name, or that ships as the default
    (``qa/models/encoder``). ``--out`` must be new or empty: nothing is replaced."""
    from . import statement_training
    from .embedding import DEFAULT_MODEL_ID, MODEL_RECORD
    from .question_training import export

    out = Path(args.out)
    # written beside, then moved into place: an interrupted export never leaves a half folder at --out
    partial = out.with_name(out.name + ".partial")
    if args.export and out.is_dir() and any(out.iterdir()):
        raise SystemExit(f"{out} is not empty: name a new or empty --out (the model folder is written there whole, "
                         "and nothing is replaced)")
    if args.export and partial.exists():
        raise SystemExit(f"{partial} exists (left by an interrupted export?): remove it, then run this again "
                         "(training resumes from its checkpoints)")
    result = train(args)
    final = result.pop("final")
    check = result.pop("check")
    if args.export:
        partial.mkdir(parents=True)
        weights = write_folder(final, partial)
        int8, cosine = export(partial, partial, check, OWN_EXPORT)
        result.update(onnx_int8_min_cosine=cosine, model_weights_sha256=weights)
        write_model_record(int8, args, result)
        if args.claims:
            statement_training.train_into(partial, statement_training.stage_args(args, partial))
        else:
            print(f"no --claims: {out} has no statement encoder (python -m qa.train statement --model {out} "
                  "--claims <BEIR SciFact folder>)", flush=True)
        record = {"id": f"qa-encoder-{weights[:12]}", "base": str(args.init) if args.init else DEFAULT_MODEL_ID,
                  "weights_sha256": weights,
                  "trained": time.strftime("%Y-%m-%d"), "statement_encoder": bool(args.claims),
                  "made_by": "python -m qa.train encoder (qa/index/encoder_training.py)"}
        (partial / MODEL_RECORD).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        if out.is_dir():
            out.rmdir()  # empty (checked before training)
        partial.rename(out)
        print(f"model folder written: {out} (QA_MODEL={out})", flush=True)
    else:
        print(json.dumps(result, indent=1))
    (Path(args.work) / "result.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0
