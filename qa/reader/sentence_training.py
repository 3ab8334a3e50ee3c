"""Train the reader model of :mod:`qa.reader.sentence` on SQuAD v1.1 train, export it to int8 ONNX.

    python -m qa.train span \\
        --train /work/shared/benchmarks/training/squad_v1.1_train_rebuilt/train-v1.1.rebuilt.json.gz

(the shipped model: the defaults are its settings, one pass over every training question). The
same command resumes from the checkpoint in ``--work`` (default ``~/.cache/qa-train/span``,
:class:`qa.reader.checkpoint.Checkpoint`, written every ``--save-every`` steps) when one is there,
``--stop-after N`` stops a run after N steps of it (saved, nothing exported), and a CUDA device is
used when one is present.

One model, two heads (see :mod:`qa.reader.sentence`): has-answer logit (binary cross-entropy)
and start/end logits over the sentence's tokens (cross-entropy, answerable pairs only). Each
training question gives two pairs: the sentence of its paragraph that holds the answer
(positive), and a hard negative: the sentence, among those of its paragraph and of two other
paragraphs of the same article that do not contain the answer, sharing the most words with the
question. Sentences are cut by the project's own splitter (:func:`qa.ingest.chunking.split_sentences`).

``--val-articles`` articles (a seeded choice) are held out; the model is scored on their
questions at each ``--curve`` point (number of training questions seen) and at the end: span EM/F1
given the gold sentence, has-answer accuracy on positives and negatives, and how often the
positive outranks its negative. The curve, the arguments and the data's checksum are written to
``reader-int8.json`` next to the model. One pass over the data, AdamW (heads at 10x the encoder's
rate), linear warm-up and decay, fixed seed, bfloat16 autocast; the bundled model's word
embeddings are frozen (half its weights).

The SQuAD file and the held-out articles come from :mod:`qa.reader.training_data`; the int8 ONNX
export is :func:`qa.reader.onnx_weights.export_int8`, shared with the passage reader's training,
which also starts from :func:`build_model`.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..eval.metrics import contains_answer, exact_match, f1
from ..files import sha256_file, write_model_record
from ..ingest.chunking import split_sentences
from .checkpoint import Checkpoint, stopped
from .onnx_weights import export_int8, init_from_onnx
from .sentence import MODEL_FILE, best_spans, encode_pairs, load_tokenizer
from .training_data import inner_names, load_squad, split_articles, swap_pool, swapped

DEFAULT_WORK = Path.home() / ".cache" / "qa-train" / "span"


@dataclass
class Pair:
    question: str
    sentence: str
    answer: tuple[int, int] | None  #: answer's character span in the sentence; None: a negative
    answer_text: str = ""


# ---------------------------------------------------------------------------------------------
# Data


def make_pairs(articles: list[dict], n_questions: int | None, seed: int, progress: bool = True,
               swap: float = 0.0) -> list[list[Pair]]:
    """Up to ``n_questions`` seeded questions (all when ``None``), each as [positive, hard
    negative] (or [positive] when no negative is found); questions whose answer crosses a sentence
    boundary are skipped.

    The hard negative is mined by the project's own lexical retriever: the sentence of the
    question's article that BM25 (:class:`qa.index.lexical.BM25Index`, over all the article's sentences)
    ranks highest for the question, among those that do not contain the answer. With ``swap`` > 0,
    that share of the questions also gives a third pair: the question with a name or number
    swapped (:func:`swapped`) over its own answer sentence, a negative."""
    from tqdm import tqdm

    from ..index.lexical import BM25Index

    rng = random.Random(seed)
    refs = [(a, p, q) for a, art in enumerate(articles) for p, para in enumerate(art["paragraphs"])
            for q in range(len(para["qas"]))]
    rng.shuffle(refs)
    if n_questions is None:
        n_questions = len(refs)
    spans: dict[tuple[int, int], list[tuple[int, int]]] = {}
    by_article: dict[int, tuple[list[tuple[int, int, int]], BM25Index]] = {}
    pools: dict[tuple[int, int], list[str]] = {}
    names: dict[int, list[set[str]]] = {}

    def sentences(a: int, p: int) -> list[tuple[int, int]]:
        if (a, p) not in spans:
            spans[(a, p)] = split_sentences(articles[a]["paragraphs"][p]["context"])
        return spans[(a, p)]

    def article_index(a: int):
        if a not in by_article:
            rows = [(p, s, e) for p in range(len(articles[a]["paragraphs"])) for s, e in sentences(a, p)]
            texts = [articles[a]["paragraphs"][p]["context"][s:e] for p, s, e in rows]
            by_article[a] = (rows, BM25Index.build(texts))
        return by_article[a]

    out: list[list[Pair]] = []
    bar = tqdm(total=n_questions, desc="pairs", disable=not progress, file=sys.stderr)
    for a, p, q in refs:
        if len(out) >= n_questions:
            break
        paragraphs = articles[a]["paragraphs"]
        context = paragraphs[p]["context"]
        qa = paragraphs[p]["qas"][q]
        ans = qa["answers"][0]
        a_start, a_end = ans["answer_start"], ans["answer_start"] + len(ans["text"])
        holder = next(((s, e) for s, e in sentences(a, p) if s <= a_start and a_end <= e), None)
        if holder is None:
            continue
        s, e = holder
        pairs = [Pair(qa["question"], context[s:e], (a_start - s, a_end - s), ans["text"])]
        rows, index = article_index(a)
        scores = index.scores(qa["question"])
        for i in np.argsort(-scores, kind="stable")[:20]:
            p2, s2, e2 = rows[int(i)]
            text = paragraphs[p2]["context"][s2:e2]
            if (p2, s2, e2) != (p, s, e) and not contains_answer(text, [ans["text"]]):
                pairs.append(Pair(qa["question"], text, None))
                break
        if swap and rng.random() < swap:
            if (a, p) not in pools:
                if a not in names:
                    names[a] = [inner_names(para["context"]) for para in paragraphs]
                pools[(a, p)] = swap_pool(context, [w for n, w in enumerate(names[a]) if n != p])
            changed = swapped(qa["question"], context[s:e], pools[(a, p)], rng)
            if changed:
                pairs.append(Pair(changed, context[s:e], None))
        out.append(pairs)
        bar.update()
    bar.close()
    return out


def batches(groups: list[list[Pair]], batch_questions: int, seed: int, bucket: int = 50) -> list[list[list[Pair]]]:
    """Steps of ``batch_questions`` questions; within each run of ``bucket`` steps the questions
    are sorted by length, so that a step pads little (then the steps are shuffled)."""
    rng = random.Random(seed)
    size = batch_questions * bucket
    out = []
    for i in range(0, len(groups), size):
        run = sorted(groups[i: i + size], key=lambda g: len(g[0].question) + max(len(p.sentence) for p in g))
        steps = [run[j: j + batch_questions] for j in range(0, len(run), batch_questions)]
        rng.shuffle(steps)
        out += steps
    return out


def span_targets(batch, pairs: list[Pair]) -> tuple[np.ndarray, np.ndarray]:
    """Token index of each answer's first and last token; -100 (ignored) for negatives and for
    answers cut off by truncation."""
    starts = np.full(len(pairs), -100, dtype=np.int64)
    ends = np.full(len(pairs), -100, dtype=np.int64)
    for i, pair in enumerate(pairs):
        if pair.answer is None:
            continue
        a_s, a_e = pair.answer
        toks = [t for t in range(batch.context.shape[1]) if batch.context[i, t]]
        first = [t for t in toks if batch.offsets[i][t][1] > a_s]
        last = [t for t in toks if batch.offsets[i][t][0] < a_e]
        if first and last and first[0] <= last[-1] and batch.offsets[i][last[-1]][1] >= a_e:
            starts[i], ends[i] = first[0], last[-1]
    return starts, ends


# ---------------------------------------------------------------------------------------------
# Model


def build_model(base: Path, layers: int, attention: str = "eager"):
    """The bundled encoder cut to its first ``layers`` layers, with a has-answer head on the mean
    of the pair's token vectors (the pooling the encoder was trained with) and a start/end head on
    every token."""
    import torch
    from transformers import AutoModel

    class SpanModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(base), local_files_only=True, add_pooling_layer=False,
                                                     attn_implementation=attention)
            self.encoder.encoder.layer = self.encoder.encoder.layer[:layers]
            self.encoder.config.num_hidden_layers = layers
            hidden = self.encoder.config.hidden_size
            self.span = torch.nn.Linear(hidden, 2)
            self.has_answer = torch.nn.Linear(hidden, 1)

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state
            start, end = self.span(h).unbind(-1)
            mask = attention_mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return start, end, self.has_answer(pooled).squeeze(-1)

    return SpanModel()


def _tensors(batch, device=None):
    import torch

    return tuple(torch.from_numpy(x).to(device or "cpu")
                 for x in (batch.input_ids, batch.attention_mask, batch.token_type_ids))


def predict(model, tokenizer, pairs: list[Pair], bf16: bool, batch_size: int = 64):
    """Has-answer probabilities and predicted answer strings (torch, for validation)."""
    import torch

    probs, answers = [], []
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        for i in range(0, len(pairs), batch_size):
            chunk = pairs[i: i + batch_size]
            batch = encode_pairs(tokenizer, [p.question for p in chunk], [p.sentence for p in chunk])
            start, end, has = (x.float().cpu() for x in model(*_tensors(batch, device)))
            probs += torch.sigmoid(has).tolist()
            for row, (s, e, _) in enumerate(best_spans(start.numpy(), end.numpy(), batch.context)):
                answers.append(chunk[row].sentence[batch.offsets[row][s][0]: batch.offsets[row][e][1]])
    model.train()
    return np.array(probs), answers


def validate(model, tokenizer, val: list[list[Pair]], bf16: bool) -> dict[str, float]:
    flat = [p for group in val for p in group]
    probs, answers = predict(model, tokenizer, flat, bf16)
    pos = [i for i, p in enumerate(flat) if p.answer is not None]
    neg = [i for i, p in enumerate(flat) if p.answer is None]
    ranked, k = [], 0
    for group in val:
        if len(group) == 2:
            ranked.append(probs[k] > probs[k + 1])
        k += len(group)
    return {
        "span_EM": 100 * float(np.mean([exact_match(answers[i], flat[i].answer_text) for i in pos])),
        "span_F1": 100 * float(np.mean([f1(answers[i], flat[i].answer_text) for i in pos])),
        "has_answer_acc_pos": 100 * float(np.mean(probs[pos] >= 0.5)),
        "has_answer_acc_neg": 100 * float(np.mean(probs[neg] < 0.5)),
        "positive_ranked_first": 100 * float(np.mean(ranked)),
    }


def train(args) -> dict:
    import torch
    from tqdm import tqdm

    from ..index.embedding import bundled_model_path

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    base = bundled_model_path()
    tokenizer = load_tokenizer(base)
    train_articles, val_articles = split_articles(load_squad(args.train), args.val_articles, args.seed)
    val = make_pairs(val_articles, args.val_questions, args.seed + 1, progress=False)
    groups = make_pairs(train_articles, args.questions, args.seed, swap=args.swap_negatives)
    model = build_model(base, args.layers)
    if args.init:
        missing = init_from_onnx(model, args.init)
        tqdm.write(f"initialised from {args.init} (not set: {missing or 'none'})", file=sys.stderr)
    model.to(device)
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    heads = [*model.span.parameters(), *model.has_answer.parameters()]
    encoder = [p for p in model.encoder.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW([{"params": encoder, "lr": args.lr}, {"params": heads, "lr": 10 * args.lr}],
                                  weight_decay=0.01)
    plan = batches(groups, args.batch_questions, args.seed)
    steps = len(plan)
    warm = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(steps - warm, 1))))
    checkpoint = Checkpoint(args.work, steps, args.restart)
    start = checkpoint.resume(model, optimiser, schedule, device, say=lambda m: tqdm.write(m, file=sys.stderr))
    stop = steps if not args.stop_after else min(steps, start + args.stop_after)
    seen = sum(len(chunk) for chunk in plan[:start])
    curve_at = sorted({c for c in args.curve if seen < c < len(groups)} | {len(groups)})
    model.train()
    bar = tqdm(range(start, stop), desc="train", file=sys.stderr, initial=start, total=steps)
    for step in bar:
        chunk = plan[step]
        pairs = [p for g in chunk for p in g]
        batch = encode_pairs(tokenizer, [p.question for p in pairs], [p.sentence for p in pairs])
        starts, ends = span_targets(batch, pairs)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16):
            start_log, end_log, has = (x.float() for x in model(*_tensors(batch, device)))
        masked = torch.from_numpy(~batch.context).to(device)
        start_log, end_log = start_log.masked_fill(masked, -1e4), end_log.masked_fill(masked, -1e4)
        labels = torch.tensor([float(p.answer is not None) for p in pairs], device=device)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(has, labels)
        if (starts >= 0).any():
            ce = torch.nn.functional.cross_entropy
            loss = loss + (ce(start_log, torch.from_numpy(starts).to(device), ignore_index=-100)
                           + ce(end_log, torch.from_numpy(ends).to(device), ignore_index=-100)) / 2
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        seen += len(chunk)
        bar.set_postfix(loss=f"{loss.item():.3f}")
        done = step + 1
        if done % args.save_every == 0 or done in (stop, steps):
            checkpoint.save(model, optimiser, schedule, done)
        if curve_at and seen >= curve_at[0]:
            curve_at.pop(0)
            point = {"questions": seen, "minutes": round(checkpoint.minutes(), 1),
                     **{k: round(v, 1) for k, v in validate(model, tokenizer, val, args.bf16).items()}}
            checkpoint.log(point)
            tqdm.write(json.dumps(point), file=sys.stderr)
            if args.checkpoint:
                save_checkpoint(model, args.checkpoint)
    return {"model": model.cpu(), "tokenizer": tokenizer, "curve": checkpoint.curve(), "train_questions": len(groups),
            "val_questions": len(val), "steps": steps, "done": stop == steps, "reached": stop,
            "val_titles": [a["title"] for a in val_articles], "minutes": round(checkpoint.minutes(), 1),
            "device": device.type}


def save_checkpoint(model, path: Path) -> None:
    """The model's float32 weights as safetensors (no pickle), for re-export or further work."""
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))


def export(model, out: Path, tokenizer) -> Path:
    """ONNX (opset 17) of the model, then int8 dynamic quantisation; returns the int8 file."""
    batch = encode_pairs(tokenizer, ["what is it?", "who?"], ["It is a test sentence.", "Nobody at all."])
    return export_int8(model, (batch.input_ids, batch.attention_mask, batch.token_type_ids), out / MODEL_FILE)


def export_checkpoint(args) -> int:
    """Export saved weights (``--checkpoint``) to ``--out``, without training."""
    from safetensors.torch import load_file

    from ..index.embedding import bundled_model_path

    base = bundled_model_path()
    model = build_model(base, args.layers)
    model.load_state_dict(load_file(str(args.checkpoint)))
    int8 = export(model, args.out, load_tokenizer(base))
    print(json.dumps({"model": str(int8), "model_sha256": sha256_file(int8),
                      "model_mb": round(int8.stat().st_size / 2**20, 1)}))
    return 0


def bf16_is_fast() -> bool:
    """Whether bfloat16 autocast pays: a CUDA device, or a CPU with native bfloat16 instructions."""
    import torch

    if torch.cuda.is_available():
        return True
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def run(args) -> int:
    """Train the sentence model, export ``reader-int8.onnx`` and its record into ``--out``."""
    result = train(args)
    if stopped(result):
        return 0
    model = result.pop("model")
    if args.checkpoint:
        save_checkpoint(model, args.checkpoint)
    int8 = export(model, args.out, result.pop("tokenizer"))
    write_model_record(int8, args, result)
    return 0
