"""``python -m qa.train``: train and export the reader models and the question encoder.

    python -m qa.train passage --train SQUAD_TRAIN.json.gz    # the passage reader (qa.reader.training)
    python -m qa.train span --train SQUAD_TRAIN.json.gz       # the sentence reader (qa.reader.sentence_training)
    python -m qa.train question --train SQUAD_TRAIN.json.gz   # the question encoder (qa.index.question_training)
    python -m qa.train encoder --train SQUAD_TRAIN.json.gz --claims SCIFACT  # both sides (qa.index.encoder_training)
    python -m qa.train statement --model FOLDER --claims SCIFACT  # its statement encoder (qa.index.statement_training)
    python -m qa.train export --checkpoint W.safetensors      # export saved sentence-model weights again

Each command's defaults reproduce the shipped model (see qa/models/README.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .index import encoder_training, question_training, statement_training
from .reader import sentence_training, training


def parser() -> argparse.ArgumentParser:
    """The command's arguments (``bench/question_claims.py`` reads a training recipe through them too)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["passage", "span", "question", "encoder", "statement", "export"],
                    help="passage: train (or resume) the passage reader of qa.reader.passage and export it; "
                         "question: train (or resume) the question encoder and export it; "
                         "encoder: train (or resume) one encoder for passages and queries and export it; "
                         "statement: train (or resume) the statement encoder of --model (a folder encoder saved) "
                         "and export it into that folder; "
                         "span: train (or resume) the has-answer + span model of qa.reader.sentence and export it; "
                         "export: only export the weights of --checkpoint (of a model of --layers layers)")
    ap.add_argument("--train", type=Path, help="SQuAD v1.1 format training file (.json or .json.gz)")
    ap.add_argument("--out", type=Path, default=None,
                    help="folder for the exported model and its record (default qa/models; encoder: the model folder "
                         "it writes whole, qa/models/encoder, the shipped default model, so name a new one)")
    ap.add_argument("--questions", type=int, default=None,
                    help="training questions (a seeded sample; default: all of the training articles')")
    ap.add_argument("--layers", type=int, default=6, help="encoder layers kept (of 6)")
    ap.add_argument("--lr", type=float, default=None, help="learning rate (passage and span: 1e-4, question: 5e-5)")
    ap.add_argument("--batch-questions", type=int, default=None,
                    help="questions per step, two pairs each (passage: 32, span: 16)")
    ap.add_argument("--val-articles", type=int, default=None,
                    help="articles held out (default 8; question: 40, the last ones, as bench/fusion.py tunes on)")
    ap.add_argument("--val-questions", type=int, default=400)
    ap.add_argument("--curve", type=lambda s: [int(x) for x in s.split(",")], default=[2000, 5000, 10000, 20000, 40000],
                    help="validate after these numbers of training questions")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--checkpoint", type=Path, default=None,
                    help="also keep the float32 weights here (safetensors), written at each curve point")
    ap.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                    help="bfloat16 autocast while training (default: on a GPU, or a CPU with AVX512-BF16/AMX, "
                         "where it is about 2x faster; elsewhere it is 5-20x slower)")
    ap.add_argument("--seed", type=int, default=13)
    training.add_arguments(ap)
    question_training.add_arguments(ap)
    encoder_training.add_arguments(ap)
    statement_training.add_arguments(ap)
    return ap


def parse(argv=None, ap: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    """The arguments with the defaults that depend on what is trained filled in."""
    ap = ap or parser()
    args = ap.parse_args(argv)
    if args.bf16 is None:
        args.bf16 = sentence_training.bf16_is_fast()
    if args.what == "passage" and args.init is None:
        args.init = training.SHIPPED_SENTENCE_MODEL  # the shipped passage model started from it
    # the shipped passage model: two passes over all training questions, 32 a step (5,370 steps: 3.5 minutes on
    # an H200; on the 2-core CPU an estimated 25-30 s a step, about 40 hours, resumable)
    if args.batch_questions is None:
        args.batch_questions = 32 if args.what == "passage" else 16
    if args.epochs is None:
        args.epochs = 2 if args.what == "passage" else 1
    if args.validate_every is None:
        args.validate_every = 1790
    if args.lr is None:
        args.lr = {"question": 5e-5, "encoder": 2e-5}.get(args.what, 1e-4)
    if args.val_articles is None:
        args.val_articles = 40 if args.what in ("question", "encoder") else 8
    if args.negatives is None:
        args.negatives = 1 if args.what == "encoder" else 5
    if args.batch is None:
        args.batch = 256 if args.what == "encoder" else 64
    if args.out is None:
        args.out = Path("qa/models/encoder") if args.what == "encoder" else Path("qa/models")
    if args.work is None:
        args.work = {"question": question_training.DEFAULT_WORK, "encoder": encoder_training.DEFAULT_WORK,
                     "statement": statement_training.DEFAULT_WORK,
                     "span": sentence_training.DEFAULT_WORK}.get(args.what, training.DEFAULT_WORK)
    return args


def main(argv=None) -> int:
    ap = parser()
    args = parse(argv, ap)
    if args.what != "encoder":  # the encoder's folder is written whole at the end (qa.index.encoder_training.run)
        args.out.mkdir(parents=True, exist_ok=True)
    if args.what == "export":
        if not args.checkpoint:
            ap.error("export needs --checkpoint")
        return sentence_training.export_checkpoint(args)
    if args.what == "statement":
        return statement_training.run(args)
    if not args.train and not (args.what == "encoder" and args.prepared):
        ap.error(f"{args.what} needs --train")
    if args.what == "passage":
        return training.run(args)
    if args.what == "question":
        return question_training.run(args)
    if args.what == "encoder":
        return encoder_training.run(args)
    return sentence_training.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
