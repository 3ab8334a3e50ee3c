"""The question encoder's second stage: claims (BEIR SciFact **train**), after SQuAD's questions.

    python -m qa.train question --train SQUAD_TRAIN.json.gz --claims ../shared/benchmarks/beir_scifact

Trained on SQuAD's questions alone, the encoder ranks question-worded queries better and scientific claims
worse than the bundled model (docs/benchmarks.md), so the product routed claims to the bundled model. This
stage continues from the SQuAD-trained weights on the SciFact train claims, each against the passage of a
supporting abstract that the bundled model finds closest (abstracts are split into passages as the index
splits them, 1000/200 characters), with ``--negatives`` passages of other abstracts that BM25 ranks highest
as hard negatives, and as many SQuAD questions replayed a step as claims (``--claim-replay``), so that what
the first stage learnt is kept. The passage side stays the bundled model's, as in the first stage.

``--claims-held-out`` claims of the train split (a seeded sample) are never trained on: the choice of this
stage's settings (``bench/question_claims.py``) is made on them and on the held-out SQuAD articles; SciFact's
**test** claims are only for reporting.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

#: chunking of the SciFact abstracts: the index's defaults (qa.config.Settings)
CHUNK_SIZE, CHUNK_OVERLAP = 1000, 200


class Claims:
    """SciFact train claims split into the ones trained on (``fit``) and ``held_out``, and the corpus's
    passages (unless ``passages`` is false: the split alone): ``passages[i]`` is a text of abstract
    ``passage_doc[i]``."""

    def __init__(self, folder: Path, held_out: int, seed: int, passages: bool = True):
        from ..ingest.chunking import split_passages
        from ..ingest.documents import make_document

        qrels: dict[str, set[str]] = {}
        for line in (folder / "qrels" / "train.tsv").read_text(encoding="utf-8").splitlines()[1:]:
            if line.strip():
                qid, did, score = line.split("\t")
                if int(score) > 0:
                    qrels.setdefault(qid, set()).add(did)
        self.text: dict[str, str] = {}
        with open(folder / "queries.jsonl", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                if row["_id"] in qrels:
                    self.text[row["_id"]] = row["text"].strip()
        self.gold = qrels
        ids = sorted(self.text, key=int)
        order = np.random.default_rng(seed).permutation(len(ids))
        self.held_out = sorted((ids[i] for i in order[:held_out]), key=int)
        self.fit = sorted((ids[i] for i in order[held_out:]), key=int)
        self.passages: list[str] = []
        self.passage_doc: list[str] = []
        if not passages:
            return
        with open(folder / "corpus.jsonl", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                doc = make_document(row["_id"], f"{row['title']}\n\n{row['text']}\n", meta={"title": row["title"]})
                for p in split_passages(doc, CHUNK_SIZE, CHUNK_OVERLAP):
                    self.passages.append(p.text)
                    self.passage_doc.append(row["_id"])


def claim_rows(claims: Claims, claim_vectors: np.ndarray | None, passage_vectors: np.ndarray | None, negatives: int,
               depth: int = 30) -> np.ndarray:
    """One row per (trained claim, supporting abstract): ``[claim, positive passage, negatives...]``, the
    claim an index into ``claims.fit``, passages into ``claims.passages``. The positive is the abstract's
    passage closest to the claim by the given vectors (without them: the one BM25 ranks highest); the negatives
    are the passages BM25 ranks highest among the first ``depth`` that belong to no supporting abstract (the row
    is filled with the positive when short, which the fixed-passage loss ignores as a negative)."""
    from .lexical import BM25Index

    bm25 = BM25Index.build(claims.passages)
    doc = np.asarray(claims.passage_doc)
    rows = []
    for i, qid in enumerate(claims.fit):
        gold = claims.gold[qid]
        scores = bm25.scores(claims.text[qid])
        top = np.argpartition(-scores, depth)[:depth] if depth < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        picked = [int(j) for j in top if doc[j] not in gold][:negatives]
        closeness = scores if claim_vectors is None else passage_vectors @ claim_vectors[i]
        for d in sorted(gold):
            own = np.flatnonzero(doc == d)
            if not len(own):
                continue
            positive = int(own[np.argmax(closeness[own])])
            rows.append([i, positive] + picked + [positive] * (negatives - len(picked)))
    return np.asarray(rows, dtype=np.int64)


def recipe_folder(work: Path, args) -> Path:
    """The checkpoints of this stage's recipe (another recipe starts anew, the same one resumes)."""
    recipe = json.dumps([args.claim_lr, args.claim_epochs, args.claim_replay, args.claims_held_out, args.anchor,
                         args.scale, args.batch, args.negatives, args.seed])
    return work / f"claims-{hashlib.sha256(recipe.encode()).hexdigest()[:10]}"


def train_claims(args, model, squad, bundled, work: Path) -> dict:
    """Continue training ``model`` (a SentenceTransformer trained on the questions of ``squad``, the
    first stage's :class:`qa.index.question_training.SquadInputs`) on the claims of ``args.claims``, against
    the passage vectors of ``bundled`` (the embedder whose index the encoder serves); returns what the model's
    record says of it. ``squad`` None: the claims alone (no questions replayed)."""
    import torch
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.training_args import SentenceTransformerTrainingArguments
    from transformers.trainer_utils import get_last_checkpoint

    from .fixed_passages import embed_cached, fixed_passage_loss

    claims = Claims(Path(args.claims), args.claims_held_out, args.seed)
    passage_vectors = embed_cached(bundled, claims.passages, work, "scifact-passages")
    claim_vectors = embed_cached(bundled, [claims.text[q] for q in claims.fit], work, "scifact-claims")
    rows = claim_rows(claims, claim_vectors, passage_vectors, args.negatives)
    rng = np.random.default_rng(args.seed)
    replay = np.empty((0, rows.shape[1]), dtype=np.int64)
    if squad is None:
        questions, passages, anchors = [], passage_vectors, claim_vectors
    else:  # one index space: SQuAD's questions then the claims, SQuAD's paragraphs then the abstracts' passages
        rows[:, 0] += len(squad.data.questions)
        rows[:, 1:] += len(squad.data.paragraphs)
        questions = squad.data.questions
        passages = np.concatenate([squad.passages, passage_vectors])
        anchors = np.concatenate([squad.anchors, claim_vectors])
    if squad is not None and args.claim_replay > 0:
        n = int(round(args.claim_replay * len(rows) * args.claim_epochs))
        picked = rng.permutation(len(squad.data.questions))[:n]
        replay = np.concatenate([picked[:, None], np.asarray(squad.data.gold)[picked][:, None],
                                 squad.negatives[picked]], axis=1)
    # every epoch of claims once, each shuffled with its share of replayed questions
    labels = np.concatenate([np.tile(rows, (args.claim_epochs, 1)), replay])
    labels = labels[rng.permutation(len(labels))]
    texts = questions + [claims.text[q] for q in claims.fit]
    dataset = Dataset.from_dict({"question": [texts[i] for i in labels[:, 0]], "label": labels.tolist()})
    loss = fixed_passage_loss(model, passages, anchors, args.scale, args.anchor)
    folder = recipe_folder(work, args)
    training_args = SentenceTransformerTrainingArguments(
        output_dir=str(folder), num_train_epochs=1, per_device_train_batch_size=args.batch,
        learning_rate=args.claim_lr, warmup_steps=0.1, use_cpu=not torch.cuda.is_available(),
        lr_scheduler_type="linear", weight_decay=0.01, bf16=args.bf16, seed=args.seed, data_seed=args.seed,
        dataloader_drop_last=True, save_strategy="steps", save_steps=args.save_every, save_total_limit=2,
        logging_steps=10, report_to="none", disable_tqdm=False)
    trainer = SentenceTransformerTrainer(model=model, args=training_args, train_dataset=dataset, loss=loss)
    last = get_last_checkpoint(str(folder)) if folder.is_dir() else None
    t0 = time.perf_counter()
    trainer.train(resume_from_checkpoint=last)
    model.eval()
    return {"claims": len(claims.fit), "claims_held_out": len(claims.held_out), "rows": int(len(rows)),
            "epochs": args.claim_epochs, "replayed_questions": int(len(replay)), "steps": int(len(labels) // args.batch),
            "passages": len(claims.passages), "minutes_this_run": round((time.perf_counter() - t0) / 60, 1),
            "resumed_from": str(last) if last else None}
