"""Train a question encoder for the bundled model's passage vectors (SQuAD v1.1 train); export int8 ONNX.

    python -m qa.train question \\
        --train ../shared/benchmarks/training/squad_v1.1_train_rebuilt/train-v1.1.rebuilt.json.gz

(the defaults are the shipped model's settings). Only the question side is trained: passages keep the
vectors the bundled all-MiniLM-L6-v2 gives them, so an index serves the trained encoder and the bundled
one alike and switching rebuilds nothing. Each SQuAD paragraph is embedded once by the bundled model (the
vectors are cached in ``--work``); the trained model encodes questions, and its loss is the
sentence-transformers ranking loss with the passage side fixed:

- ranking: cross-entropy of each question's own paragraph against every other paragraph of the step (the
  batch's own paragraphs, in-batch negatives, and for each question ``--negatives`` paragraphs that BM25
  (:class:`qa.index.lexical.BM25Index`) ranks highest over all of SQuAD train without holding the answer),
  cosine similarities times ``--scale``; with ``--corpus-negatives N``, against the N training paragraphs
  nearest the question by the encoder being trained instead (every paragraph is scored each step: the passage
  side is fixed, so the whole corpus costs one product of the step's question vectors with the cached
  paragraph vectors, no memory for more passages through the model), less the paragraphs of the question's
  own article that hold one of its answers (likely right too); N as many as the paragraphs: all of them;
- anchor: ``--anchor`` x (1 - cosine) between the question's new vector and the bundled model's, so
  questions unlike SQuAD's (claims, keywords, other domains) stay near where the bundled model put them;
- statements (off unless ``--statement-anchor`` is given: it measured no better, docs/benchmarks.md):
  ``--statement-anchor`` x (1 - cosine) between the new and the bundled vector of a sentence of a
  training paragraph (one a question, cycled; pysbd's sentences of ``--statement-paragraphs`` paragraphs): the
  encoder learns what SQuAD's questions teach it while text that is not a question (a claim, a title, a
  sentence pasted from a paper) keeps the bundled model's vector.

The exported weights are ``--blend`` of the way from the bundled model's to the trained ones (weight-space
ensembling, Wortsman et al. 2022, "Robust fine-tuning of zero-shot models"): fine-tuning on SQuAD's questions
costs the bundled model some of what it did off SQuAD, and a blend is the usual remedy. ``bench/question_blend.py``
measures blends on data held out from training (SciFact *train* claims and the held-out SQuAD articles); none kept
SciFact at the bundled model's level, so the default, 1, exports the trained weights as they are.

With ``--claims`` (a BEIR SciFact folder) a second stage, :mod:`qa.index.claim_training`, goes on from the
trained model on SciFact's train claims and is exported beside it as ``statement-int8.onnx``, the encoder
``question_model="auto"`` gives queries that are not questions; ``question-int8.onnx`` stays the first stage's.

With ``--model FOLDER`` (a model folder of one's own, such as the default model that ``python -m qa.train
encoder`` trained for both sides on 6,000 questions), the same recipe trains *that* folder's question side against
the folder's own passage vectors, which stay fixed, anchored to the folder's own question vectors: the questions the
both-sides run had no time for, at the cost of encoding questions only (an index the folder built stays valid). The
export is ``question-int8.onnx`` in ``--out`` (never ``qa/models``), to be scored by ``bench/question_candidate.py``
before it takes the place of the folder's ``encoder-int8.onnx``.

The training loop is sentence-transformers' trainer (checkpoints every ``--save-every`` steps in
``--work``; the same command resumes from the last one; a CUDA device is used when present). The last
``--val-articles`` articles of the file are held out (the articles ``bench/fusion.py`` tunes fusion on):
before and after training, their questions are searched among their paragraphs by dense vectors alone.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from ..files import sha256_file, weights_file, write_model_record
from .fixed_passages import embed_cached, fixed_passage_loss  # noqa: F401 - both stages use them

QUESTION_MODEL_FILE = "question-int8.onnx"
STATEMENT_MODEL_FILE = "statement-int8.onnx"  #: with ``--claims``: the second stage's model
DEFAULT_WORK = Path.home() / ".cache" / "qa-train" / "question"
#: the exported weights' place between the bundled model (0) and the trained one (1): see bench/question_blend.py
DEFAULT_BLEND = 1.0


class Squad:
    """Questions and paragraphs of some SQuAD articles: ``gold[i]`` is question ``i``'s paragraph."""

    def __init__(self, articles: list[dict]):
        self.paragraphs: list[str] = []
        self.questions: list[str] = []
        self.answers: list[list[str]] = []
        self.gold: list[int] = []
        self.article: list[int] = []  #: each paragraph's article
        for n, article in enumerate(articles):
            for para in article["paragraphs"]:
                for qa in para["qas"]:
                    self.questions.append(qa["question"].strip())
                    self.answers.append([a["text"] for a in qa["answers"]])
                    self.gold.append(len(self.paragraphs))
                self.paragraphs.append(para["context"])
                self.article.append(n)


def load_articles(path: Path, val_articles: int) -> tuple[list[dict], list[dict]]:
    """(training, held-out) articles of a SQuAD v1.1 file: the last ``val_articles`` are held out."""
    with (gzip.open if str(path).endswith(".gz") else open)(path, "rt", encoding="utf-8") as f:
        articles = json.load(f)["data"]
    return articles[:-val_articles], articles[-val_articles:]


def mine_negatives(data: Squad, k: int, depth: int = 30) -> np.ndarray:
    """For each question, the ``k`` paragraphs BM25 ranks highest among the first ``depth`` that are not its
    own and do not hold any of its answers (a paragraph that does is likely a right answer too); short of
    ``k``, the row is filled with its own paragraph, which the loss ignores as a negative."""
    from .lexical import BM25Index

    if k == 0:
        return np.empty((len(data.questions), 0), dtype=np.int64)
    bm25 = BM25Index.build(data.paragraphs)
    lowered = [p.lower() for p in data.paragraphs]
    out = np.empty((len(data.questions), k), dtype=np.int64)
    for i, question in enumerate(data.questions):
        scores = bm25.scores(question)
        top = np.argpartition(-scores, depth)[:depth] if depth < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        answers = [a.lower() for a in data.answers[i] if a.strip()]
        picked = [int(j) for j in top if j != data.gold[i] and not any(a in lowered[j] for a in answers)][:k]
        out[i] = picked + [data.gold[i]] * (k - len(picked))
    return out


def answer_paragraphs(data: Squad, limit: int = 8) -> np.ndarray:
    """For each question, up to ``limit`` other paragraphs of its article that hold one of its answers
    (``--corpus-negatives`` leaves them out of its negatives), the row filled with its own paragraph."""
    lowered = [p.lower() for p in data.paragraphs]
    by_article: dict[int, list[int]] = {}
    for j, a in enumerate(data.article):
        by_article.setdefault(a, []).append(j)
    out = np.empty((len(data.questions), limit), dtype=np.int64)
    for i, gold in enumerate(data.gold):
        answers = [a.lower() for a in data.answers[i] if a.strip()]
        held = [j for j in by_article[data.article[gold]] if j != gold and any(a in lowered[j] for a in answers)]
        out[i] = held[:limit] + [gold] * (limit - len(held[:limit]))
    return out


def statements(paragraphs: list[str], n: int, seed: int) -> list[str]:
    """Every sentence (pysbd, as the index splits them) of ``n`` seeded paragraphs of 5 to 30 words (claims
    and titles are short; a long sentence would pad every step's batch of statements to its length)."""
    from ..ingest.chunking import split_sentences

    picked = np.random.default_rng(seed).permutation(len(paragraphs))[:n]
    out = []
    for i in sorted(picked.tolist()):
        text = paragraphs[i]
        out += [text[a:b].strip() for a, b in split_sentences(text) if 5 <= len(text[a:b].split()) <= 30]
    return out


def dense_scores(questions: np.ndarray, paragraphs: np.ndarray, gold: list[int]) -> dict[str, float]:
    """Recall@1, @5 and MRR@10 of searching ``paragraphs`` with ``questions`` (unit vectors)."""
    sims = questions @ paragraphs.T
    own = sims[np.arange(len(gold)), gold]
    rank = (sims > own[:, None]).sum(axis=1)  # 0: the own paragraph first
    return {"R@1": round(float((rank < 1).mean()), 4), "R@5": round(float((rank < 5).mean()), 4),
            "MRR@10": round(float(np.where(rank < 10, 1 / (rank + 1), 0).mean()), 4)}


class SquadInputs:
    """What both stages of training read of the SQuAD file: its training and held-out questions
    (:class:`Squad`), the bundled model's vectors of their paragraphs and questions (cached in ``work``), and
    each training question's BM25-mined negatives (cached too)."""

    def __init__(self, args, bundled, work: Path):
        train_articles, val_articles = load_articles(args.train, args.val_articles)
        self.data, self.val = Squad(train_articles), Squad(val_articles)
        data, val = self.data, self.val
        # every paragraph and question of the file embedded once (cached), whichever articles are held out
        self.passages, self.val_passages = np.split(
            embed_cached(bundled, data.paragraphs + val.paragraphs, work, "paragraphs"), [len(data.paragraphs)])
        self.anchors, self.val_anchors = np.split(
            embed_cached(bundled, data.questions + val.questions, work, "questions"), [len(data.questions)])
        negatives_file = work / f"negatives-{args.negatives}-{len(val_articles)}-{len(data.questions)}.npy"
        if negatives_file.exists():
            self.negatives = np.load(negatives_file, allow_pickle=False)
        else:
            t0 = time.perf_counter()
            self.negatives = mine_negatives(data, args.negatives)
            np.save(negatives_file, self.negatives)
            print(f"mined {args.negatives} BM25 negatives a question in {time.perf_counter() - t0:.0f} s", flush=True)

    def held_out_scores(self, model) -> dict[str, float]:
        """Dense recall and MRR of ``model`` (a SentenceTransformer) on the held-out articles' questions."""
        return dense_scores(model.encode(self.val.questions, batch_size=128, normalize_embeddings=True,
                                         convert_to_numpy=True), self.val_passages, self.val.gold)


def train(args) -> dict:
    import torch
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.training_args import SentenceTransformerTrainingArguments
    from transformers.trainer_utils import get_last_checkpoint

    from .embedding import SentenceTransformerEmbedder, bundled_model_path

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    base = base_model(args)
    work = Path(args.work) if base is None else Path(args.work) / f"base-{sha256_file(weights_file(base))[:12]}"
    work.mkdir(parents=True, exist_ok=True)
    # the model whose passage vectors stay fixed and whose question vectors anchor the trained ones
    start = SentenceTransformerEmbedder(str(base or ""), backend="torch", index_threads=args.threads)
    squad = SquadInputs(args, start, work)
    data, val = squad.data, squad.val
    val_before = dense_scores(squad.val_anchors, squad.val_passages, val.gold)
    print(f"held out, {'the base model' if base else 'bundled model'}:", val_before, flush=True)

    order = np.random.default_rng(args.seed).permutation(len(data.questions))[: args.questions or None]
    if args.corpus_negatives and args.statement_anchor > 0:
        raise SystemExit("--corpus-negatives and --statement-anchor cannot be combined")
    others = answer_paragraphs(data)[order] if args.corpus_negatives else squad.negatives[order]
    labels = np.concatenate([order[:, None], np.asarray(data.gold)[order][:, None], others], axis=1)
    columns = {"question": [data.questions[i] for i in order]}
    fixed = None
    if args.statement_anchor > 0:
        texts = statements(data.paragraphs, args.statement_paragraphs, args.seed)
        fixed = embed_cached(start, texts, work, "statements")
        cycle = np.arange(len(order)) % len(texts)
        columns["statement"] = [texts[i] for i in cycle]
        labels = np.concatenate([labels, cycle[:, None]], axis=1)
    dataset = Dataset.from_dict({**columns, "label": labels.tolist()})

    model = SentenceTransformer(str(base or bundled_model_path()), device="cuda" if torch.cuda.is_available() else "cpu",
                                local_files_only=True)
    loss = fixed_passage_loss(model, squad.passages, squad.anchors, args.scale, args.anchor, fixed,
                              args.statement_anchor, corpus=args.corpus_negatives)
    # one folder of checkpoints per recipe (a longer plan of the same recipe resumes; another recipe starts anew)
    recipe = json.dumps([args.lr, args.anchor, args.scale, args.batch, args.negatives, args.statement_anchor,
                         args.statement_paragraphs if fixed is not None else 0, args.val_articles, args.seed]
                        + ([f"corpus-{args.corpus_negatives}"] if args.corpus_negatives else []))
    checkpoints = work / f"checkpoints-{hashlib.sha256(recipe.encode()).hexdigest()[:10]}"
    training_args = SentenceTransformerTrainingArguments(
        output_dir=str(checkpoints), num_train_epochs=1, per_device_train_batch_size=args.batch,
        learning_rate=args.lr, warmup_steps=0.1, use_cpu=not torch.cuda.is_available(), lr_scheduler_type="linear", weight_decay=0.01,
        bf16=args.bf16, seed=args.seed, data_seed=args.seed, dataloader_drop_last=True,
        save_strategy="steps", save_steps=args.save_every, save_total_limit=2,
        logging_steps=25, report_to="none", disable_tqdm=False)
    trainer = SentenceTransformerTrainer(model=model, args=training_args, train_dataset=dataset, loss=loss)
    last = get_last_checkpoint(training_args.output_dir) if Path(training_args.output_dir).is_dir() else None
    t0 = time.perf_counter()
    trainer.train(resume_from_checkpoint=last)
    minutes = (time.perf_counter() - t0) / 60
    model.eval()
    val_after = squad.held_out_scores(model)
    print("held out, trained:", val_after, flush=True)
    held_out = {"articles": args.val_articles, "questions": len(val.questions), "paragraphs": len(val.paragraphs),
                "base" if base else "bundled": val_before, "trained": val_after}
    model.save(str(work / "final"))  # the question encoder (bench/question_claims.py goes on from it)
    claims = None
    if args.claims:
        from .claim_training import train_claims

        claims = train_claims(args, model, squad, start, work)
        claims["held_out_squad"] = squad.held_out_scores(model)
        print("held out, after the claims:", claims["held_out_squad"], flush=True)
        model.save(str(work / "statement"))
    return {"check": val.questions[:200], "val": (val.questions, squad.val_passages, val.gold), "work": work,
            "questions": int(len(order)), "minutes_this_run": round(minutes, 1),
            "resumed_from": str(last) if last else None, "statements": 0 if fixed is None else len(fixed),
            "held_out": held_out, **({"claims": claims} if claims else {})}


def base_model(args) -> Path | None:
    """With ``--model FOLDER`` (a model folder of one's own, e.g. ``python -m qa.train encoder``'s), the folder
    whose question side is trained against its own passage vectors; ``None`` for the bundled model."""
    if not getattr(args, "model", None):
        return None
    base = Path(args.model).expanduser()
    if not base.is_dir():
        raise SystemExit(f"{base} is not a folder: name a sentence-transformers model folder")
    weights_file(base)  # a clear message when the folder holds no weights
    if args.claims or args.blend < 1.0:
        raise SystemExit("--model trains the folder's question side alone: the claims stage of a folder is "
                         "`python -m qa.train statement --model FOLDER`, and blends are towards the bundled model")
    if Path(args.out).resolve() in (Path("qa/models").resolve(), Path(__file__).resolve().parent.parent / "models"):
        raise SystemExit("--model: name --out (qa/models holds the bundled model's question encoder)")
    return base


def blend(model_dir: Path, weight: float, out: Path) -> Path:
    """A copy of the sentence-transformers folder ``model_dir`` whose transformer weights are
    ``bundled + weight x (trained - bundled)``, written to the folder ``out`` (made anew)."""
    import shutil

    from safetensors.torch import load_file, save_file

    from .embedding import bundled_model_path

    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"blend weight {weight} is not between 0 and 1")
    trained = load_file(str(model_dir / "model.safetensors"))
    bundled = load_file(str(bundled_model_path() / "model.safetensors"))
    missing = set(trained) - set(bundled)
    if missing:
        raise ValueError(f"{model_dir} is not the bundled model's architecture (no {sorted(missing)[0]})")
    mixed = {k: (bundled[k] + weight * (v - bundled[k])).contiguous() if v.is_floating_point() else v
             for k, v in trained.items()}
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(model_dir, out)
    save_file(mixed, str(out / "model.safetensors"), metadata={"format": "pt"})
    return out


def export(model_dir: Path, out: Path, check: list[str], name: str = QUESTION_MODEL_FILE) -> tuple[Path, float]:
    """The transformer of the sentence-transformers folder ``model_dir`` as int8 ONNX with the bundled model's
    inputs and ``last_hidden_state`` output (what :class:`qa.index.embedding.OnnxEncoder` runs), and the least
    cosine between its question vectors and torch's over the questions ``check``."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel

    from .embedding import OnnxEncoder

    reference = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True).encode(
        check, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    transformer = AutoModel.from_pretrained(str(model_dir), local_files_only=True, add_pooling_layer=False,
                                            attn_implementation="eager").eval()  # eager: plain ONNX ops

    class Hidden(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    from transformers import AutoTokenizer

    enc = AutoTokenizer.from_pretrained(str(model_dir))(["what is it?", "who wrote the first one of them?"],
                                                        padding=True, return_tensors="pt")
    int8 = out / name
    fp32 = int8.with_name(int8.name + ".fp32.tmp")
    axes = {0: "batch", 1: "tokens"}
    torch.onnx.export(Hidden(), (enc["input_ids"], enc["attention_mask"], enc["token_type_ids"]), str(fp32),
                      input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                      dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                    "last_hidden_state": axes})
    # int8 weights (the word embeddings too: 21.9 MB, not 56) with a scale per output column: least cosine
    # with torch 0.98-0.99 where one scale per matrix gave 0.95; 2.3 ms a question on one thread, 5.3 ms for
    # the bundled export.
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Gather"])
    fp32.unlink()
    encoder = OnnxEncoder(int8, model_dir)
    encoder.load()
    cosines = [float(encoder.encode([q])[0] @ r) for q, r in zip(check, reference)]
    return int8, round(min(cosines), 4)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--negatives", type=int, default=None,
                    help="question, encoder: BM25-mined negatives per question (default 5; encoder: 1)")
    ap.add_argument("--corpus-negatives", type=int, default=0,
                    help="question: rank each question's paragraph against the N training paragraphs nearest it "
                         "by the encoder being trained (less the paragraphs of its article that hold an answer; "
                         "100000: all of them) instead of the step's and BM25's; 0 (default): off")
    ap.add_argument("--anchor", type=float, default=0.1,
                    help="question: weight of staying near the bundled model's question vector")
    ap.add_argument("--scale", type=float, default=20.0, help="question: similarity scale of the ranking loss")
    ap.add_argument("--batch", type=int, default=None, help="question, encoder: questions per step (64; encoder: 256)")
    ap.add_argument("--statement-anchor", type=float, default=0.0,
                    help="question: weight of keeping the bundled model's vector of statements (default 0: off; "
                         "1.0 measured in docs/benchmarks.md, no better)")
    ap.add_argument("--statement-paragraphs", type=int, default=4000,
                    help="question: training paragraphs whose sentences are the statements kept")
    ap.add_argument("--claims", type=Path, default=None,
                    help="question: a BEIR SciFact folder; its train claims are a second stage of training "
                         "(qa.index.claim_training)")
    ap.add_argument("--claims-held-out", type=int, default=200,
                    help="question: SciFact train claims never trained on (the second stage is chosen on them)")
    ap.add_argument("--claim-lr", type=float, default=1e-4, help="question: learning rate of the claims stage")
    ap.add_argument("--claim-epochs", type=int, default=16, help="question: passes over the claims")
    ap.add_argument("--claim-replay", type=float, default=1.0,
                    help="question: SQuAD questions replayed in the claims stage, per claim seen")
    ap.add_argument("--blend", type=float, default=DEFAULT_BLEND,
                    help="question: how far from the bundled weights to the trained ones the exported model is "
                         f"(0-1; default {DEFAULT_BLEND}: no blend measured by bench/question_blend.py did better)")


def run(args) -> int:
    """Train (or resume), export ``question-int8.onnx`` and its record into ``--out``; with ``--claims``,
    ``statement-int8.onnx`` (the claims stage's model) and its record too."""
    result = train(args)
    claims = result.pop("claims", None)
    check = result.pop("check")
    questions, passages, gold = result.pop("val")
    final = result.pop("work") / "final"  # with --model, in the folder's own part of --work
    result["blend"] = args.blend
    if args.blend < 1.0:
        from sentence_transformers import SentenceTransformer

        final = blend(final, args.blend, Path(args.work) / "blended")
        model = SentenceTransformer(str(final), device="cpu", local_files_only=True)
        result["held_out"]["blended"] = dense_scores(model.encode(questions, batch_size=128, normalize_embeddings=True,
                                                                  convert_to_numpy=True), passages, gold)
        print("held out, blended:", result["held_out"]["blended"], flush=True)
    int8, cosine = export(final, args.out, check)
    result["onnx_int8_min_cosine"] = cosine
    write_model_record(int8, args, result)
    if claims:
        int8, cosine = export(Path(args.work) / "statement", args.out, check, STATEMENT_MODEL_FILE)
        write_model_record(int8, args, {"claims": claims, "onnx_int8_min_cosine": cosine})
    return 0
