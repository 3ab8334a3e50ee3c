"""Train the passage reader (:mod:`qa.reader.passage`) on SQuAD v1.1 train; export int8 ONNX.

    python -m qa.train passage \\
        --train ../shared/benchmarks/training/squad_v1.1_train_rebuilt/train-v1.1.rebuilt.json.gz

(the shipped model: the defaults are its settings). The same command resumes from the checkpoint
in ``--work`` (default ``~/.cache/qa-train/passage``) when one is there, and uses a CUDA device
when one is present.

The model is the bundled all-MiniLM-L6-v2 (6 layers) with a has-answer head (mean of the window's
token vectors) and a start/end head over every token — the shape of the sentence model
(:mod:`qa.reader.sentence_training`), whose shipped weights it starts from (``--init``; the int8
weights are de-quantised, then trained on). Each training question gives two windows of
``[CLS] question [SEP] passage [SEP]`` (at most 384 tokens):

- its own paragraph (for one longer than a window, a window that holds the answer), and
- a negative, in turn one of: the paragraph of its article that BM25 (:class:`qa.index.lexical.BM25Index`)
  ranks highest without the answer; or its own paragraph with the answer's sentence(s) cut out
  (a near miss, like SQuAD 2.0's unanswerable questions, which are not available here).

Losses: has-answer, binary cross-entropy per window; span, cross-entropy of the start (and of the
end) over the context tokens of *both* windows together (shared normalisation, Clark & Gardner
2018), so that span scores from different passages are comparable and the best span over
everything read wins. AdamW, linear warm-up and decay, bfloat16 autocast, the word embeddings
frozen. ``--val-articles`` articles are held out (the same seeded choice as the sentence model's,
so neither model has seen them); the held-out score is logged at each checkpoint.

The examples are built in :mod:`qa.reader.training_data`; the shipped weights are read out of
their int8 ONNX file, and the trained model written back to one, by :mod:`qa.reader.onnx_weights`.
This module holds the held-out scoring, the step plan, the losses, the training loop with its
checkpoints, the export and the command's arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

import numpy as np

from ..eval.metrics import exact_match, f1
from ..files import write_model_record
from .checkpoint import Checkpoint, stopped
from .onnx_weights import export_int8, init_from_onnx
from .sentence_training import build_model
from .training_data import Example, Questions, collate, encode_group, load_squad, split_articles
from .windows import best_spans, char_span, encode, load_tokenizer

PASSAGE_MODEL_FILE = "passage-int8.onnx"
SHIPPED_SENTENCE_MODEL = Path(__file__).resolve().parent.parent / "models" / "reader-int8.onnx"
DEFAULT_WORK = Path.home() / ".cache" / "qa-train" / "passage"


# ---------------------------------------------------------------------------------------------
# Validation


def read_examples(model, tokenizer, examples: list[Example], device, bf16: bool, batch: int = 32):
    """Has-answer logit (best window) and best span text of each example (whole passage, all windows)."""
    import torch

    has, spans = [], []
    model.eval()
    with torch.no_grad():
        for i in range(0, len(examples), batch):
            chunk = examples[i: i + batch]
            win = encode(tokenizer, [e.question for e in chunk], [e.passage for e in chunk])
            tens = [torch.from_numpy(x).to(device) for x in (win.input_ids, win.attention_mask, win.token_type_ids)]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                s, e, h = (x.float().cpu().numpy() for x in model(*tens))
            best = best_spans(s, e, win.context)
            for k in range(len(chunk)):
                ws = np.flatnonzero(win.owner == k)
                top = max(ws, key=lambda w: best[w][2])
                a, b = char_span(win, top, best[top][0], best[top][1])
                spans.append(chunk[k].passage[a:b])
                has.append(float(h[ws].max()))
    model.train()
    return np.asarray(has), spans


def validate(model, tokenizer, val: Questions, n: int, device, bf16: bool) -> dict[str, float]:
    pos = [val.positive(i) for i in range(min(n, len(val)))]
    negs = [x for x in (val.near_miss(i) for i in range(min(n, len(val)))) if x is not None]
    h_pos, spans = read_examples(model, tokenizer, pos, device, bf16)
    h_neg, _ = read_examples(model, tokenizer, negs, device, bf16)
    golds = [[a["text"] for a in val.articles[val.refs[i][0]]["paragraphs"][val.refs[i][1]]["qas"][val.refs[i][2]]
              ["answers"]] for i in range(len(pos))]
    return {
        "EM": 100 * float(np.mean([max(exact_match(s, g) for g in gs) for s, gs in zip(spans, golds)])),
        "F1": 100 * float(np.mean([max(f1(s, g) for g in gs) for s, gs in zip(spans, golds)])),
        "has_answer_pos": 100 * float(np.mean(h_pos > 0)),
        "no_answer_near_miss": 100 * float(np.mean(h_neg <= 0)),
    }


# ---------------------------------------------------------------------------------------------
# Training


def plan(n_questions: int, batch: int, seed: int, lengths: list[int], bucket: int = 50) -> list[list[int]]:
    """Steps of ``batch`` question numbers; within runs of ``bucket`` steps sorted by length (little
    padding), then the steps shuffled."""
    rng = random.Random(seed)
    out = []
    size = batch * bucket
    for i in range(0, n_questions, size):
        run = sorted(range(i, min(i + size, n_questions)), key=lambda n: lengths[n])
        steps = [run[j: j + batch] for j in range(0, len(run), batch)]
        rng.shuffle(steps)
        out += steps
    return out


def plan_passes(n_questions: int, batch: int, seed: int, lengths: list[int], passes: int) -> list[list[int]]:
    """``passes`` plans one after the other, pass ``e`` with seed ``seed + e``: each pass over the questions in
    an order of its own, the same for the same arguments (so a resumed run sees the same plan)."""
    return [step for e in range(passes) for step in plan(n_questions, batch, seed + e, lengths)]


def shared_norm_loss(logits, ctx, targets, sizes, which: int):
    """Cross-entropy of the gold start (``which`` 0) or end (1) token over the context tokens of
    all windows of the same question together; questions without an answer token are skipped."""
    import torch

    logits = logits.masked_fill(~ctx, -1e4)
    width = logits.shape[1]
    losses, k = [], 0
    for size in sizes:
        group = logits[k: k + size].reshape(-1)
        gold = [(w, t[which]) for w, t in enumerate(targets[k: k + size]) if t[which] >= 0]
        if gold:
            w, tok = gold[0]
            losses.append(torch.logsumexp(group, 0) - group[w * width + tok])
        k += size
    return torch.stack(losses).mean() if losses else logits.sum() * 0.0


class StepBatches:
    """A step's training arrays by step number (a map-style dataset, so a ``DataLoader``'s worker
    processes build the steps ahead of the accelerator, in the plan's order)."""

    def __init__(self, data: Questions, tokenizer, steps: list[list[int]], tokens: int):
        self.data, self.tokenizer, self.steps, self.tokens = data, tokenizer, steps, tokens

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, step: int):
        return collate([encode_group(self.tokenizer, self.data.pair(n), self.tokens) for n in self.steps[step]])


def _as_is(batch):
    return batch


def train(args) -> dict:
    import torch
    from tqdm import tqdm

    from ..index.embedding import bundled_model_path

    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    base = bundled_model_path()
    tokenizer = load_tokenizer(base)
    train_articles, val_articles = split_articles(load_squad(args.train), args.val_articles, args.seed)
    data = Questions(train_articles, args.seed)
    val = Questions(val_articles, args.seed + 1)
    n_questions = min(args.questions or len(data), len(data))
    lengths = [len(data.articles[a]["paragraphs"][p]["context"]) for a, p, _ in data.refs[:n_questions]]
    steps = plan_passes(n_questions, args.batch_questions, args.seed, lengths, args.epochs)

    model = build_model(base, 6, attention="sdpa")  # exported with "eager" (see run)
    if args.init:
        missing = init_from_onnx(model, args.init)
        tqdm.write(f"initialised from {args.init} (not set: {missing or 'none'})", file=sys.stderr)
    model.to(device)
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    heads = {id(p) for p in [*model.span.parameters(), *model.has_answer.parameters()]}
    optimiser = torch.optim.AdamW([{"params": [p for p in params if id(p) not in heads], "lr": args.lr},
                                   {"params": [p for p in params if id(p) in heads], "lr": args.lr * args.head_lr}],
                                  weight_decay=0.01)
    warm = max(1, len(steps) // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warm, max(0.0, (len(steps) - s) / max(len(steps) - warm, 1))))
    checkpoint = Checkpoint(args.work, len(steps), args.restart)
    start = checkpoint.resume(model, optimiser, schedule, device, say=lambda m: tqdm.write(m, file=sys.stderr))
    stop = len(steps) if not args.stop_after else min(len(steps), start + args.stop_after)

    workers = args.workers
    if workers is None:
        workers = min(8, (os.cpu_count() or 1) - 1) if device.type == "cuda" else 0
    batches = torch.utils.data.DataLoader(StepBatches(data, tokenizer, steps, args.train_tokens), batch_size=None,
                                          sampler=range(start, stop), num_workers=workers, collate_fn=_as_is)
    model.train()
    bar = tqdm(zip(range(start, stop), batches), desc="train", file=sys.stderr, initial=start, total=len(steps))
    for step, (ids, mask, types, ctx, targets, sizes) in bar:
        tens = [torch.from_numpy(x).to(device) for x in (ids, mask, types)]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16):
            s_log, e_log, has = (x.float() for x in model(*tens))
        ctx_t = torch.from_numpy(ctx).to(device)
        labels = torch.tensor([float(t[0] >= 0) for t in targets], device=device)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(has, labels)
        loss = loss + (shared_norm_loss(s_log, ctx_t, targets, sizes, 0)
                       + shared_norm_loss(e_log, ctx_t, targets, sizes, 1)) / 2
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        bar.set_postfix(loss=f"{loss.item():.3f}")
        done = step + 1
        if done % args.save_every == 0 or done in (stop, len(steps)):
            checkpoint.save(model, optimiser, schedule, done)
        if done % args.validate_every == 0 or done == len(steps):
            point = {"step": done, "questions": sum(len(s) for s in steps[:done]),
                     "minutes": round(checkpoint.minutes(), 1),
                     **{k: round(v, 1) for k, v in validate(model, tokenizer, val, args.val_questions, device,
                                                            args.bf16).items()}}
            tqdm.write(json.dumps(point), file=sys.stderr)
            checkpoint.log(point)
    return {"model": model.cpu(), "tokenizer": tokenizer, "curve": checkpoint.curve(), "train_questions": n_questions,
            "steps": len(steps), "done": stop == len(steps), "reached": stop,
            "val_titles": [a["title"] for a in val_articles], "minutes": round(checkpoint.minutes(), 1),
            "device": device.type}


def export(model, out: Path, tokenizer, name: str = PASSAGE_MODEL_FILE) -> Path:
    """ONNX (opset 17), then int8 dynamic quantisation; returns the int8 file."""
    win = encode(tokenizer, ["what is it?", "who?"], ["It is a test passage.", "Nobody at all, here or there."])
    return export_int8(model, (win.input_ids, win.attention_mask, win.token_type_ids), out / name)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--init", type=Path, default=None,
                    help="start from this exported reader's weights (passage: default the shipped sentence model; "
                         "span: default none, the bundled encoder with new heads)")
    ap.add_argument("--swap-negatives", type=float, default=0.0,
                    help="span: the share of questions that also give a negative with a name or number swapped "
                         "(qa.reader.training_data.swapped; default 0, the shipped recipe)")
    ap.add_argument("--work", type=Path, default=None,
                    help="checkpoint and log folder; a run resumes from the checkpoint found there "
                         "(default: ~/.cache/qa-train/passage, .../span or .../question)")
    ap.add_argument("--restart", action="store_true", help="ignore a checkpoint in --work")
    ap.add_argument("--head-lr", type=float, default=2.0, help="heads' learning rate, as a multiple of --lr")
    ap.add_argument("--train-tokens", type=int, default=256,
                    help="window length while training (a positive's window is one that holds its answer)")
    ap.add_argument("--save-every", type=int, default=25, help="steps between checkpoints")
    ap.add_argument("--validate-every", type=int, default=None,
                    help="passage: steps between held-out scores (default 1790, three in the shipped run; span: --curve)")
    ap.add_argument("--epochs", type=int, default=None, help="passage: passes over the training questions (default 2)")
    ap.add_argument("--workers", type=int, default=None,
                    help="passage: processes that build the training steps ahead (default: 0 on the CPU, which "
                         "trains in the same process; up to 8 with a CUDA device, which would otherwise wait)")
    ap.add_argument("--stop-after", type=int, default=None,
                    help="stop (saved) after this many steps of this run, without exporting; the same command "
                         "goes on from there (passage and span; for runs longer than a sitting)")


def run(args) -> int:
    """Train (or resume), export ``passage-int8.onnx`` and its record into ``--out``."""
    from ..index.embedding import bundled_model_path

    result = train(args)
    if stopped(result):
        return 0
    model = build_model(bundled_model_path(), 6)  # eager attention exports to plain ONNX ops
    model.load_state_dict(result.pop("model").state_dict())
    int8 = export(model, args.out, result.pop("tokenizer"))
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(Path(args.work) / "final.safetensors"))
    write_model_record(int8, args, result)
    return 0
