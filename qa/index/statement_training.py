"""The statement encoder of a model folder of one's own: claims, statements and keywords against its passages.

    python -m qa.train statement --model FOLDER --claims ../shared/benchmarks/beir_scifact

A folder that ``python -m qa.train encoder`` saved embeds passages and, by its ``encoder-int8.onnx``, questions.
Queries not worded as questions are another matter (the bundled model's statement encoder gained 0.1 nDCG@10 on
held-out claims over its question encoder, docs/benchmarks.md), so the product routes them, with
``question_model="auto"``, to the folder's ``statement-int8.onnx`` when it holds one
(:mod:`qa.index.embedding`). This trains that file as :mod:`qa.index.claim_training` trains the bundled model's:
the folder's weights, query side only, on BEIR SciFact **train** claims less ``--claims-held-out`` (the same
seeded split), each against the passage of a supporting abstract nearest by the folder's own vectors, with BM25's
negatives, ranked against the folder's passage vectors, which stay fixed, so an index the folder built stays
valid. ``--claim-lr`` and ``--claim-epochs`` as there (1e-4, 16 passes: the bundled model's recipe, chosen on the
held-out claims); no SQuAD question is replayed: questions never reach this encoder.

The vectors are cached and the checkpoints kept in ``--work``/<the folder's weights' checksum>; the same command
resumes. The export and its record are written into the folder; one already there is never replaced (rename it
first). Score it on the held-out claims with ``python bench/beir.py SCIFACT --held-out-claims --model FOLDER``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..files import sha256_file, weights_file, write_model_record
from .embedding import OWN_EXPORT, STATEMENT_FILE

DEFAULT_WORK = Path.home() / ".cache" / "qa-train" / "statement"


def run(args) -> int:
    if not args.model or not args.claims:
        raise SystemExit("statement needs --model (a model folder of one's own) and --claims (a BEIR SciFact folder)")
    model_dir = Path(args.model).expanduser()
    target = model_dir / STATEMENT_FILE
    if not model_dir.is_dir():
        raise SystemExit(f"{model_dir} is not a folder: name the folder python -m qa.train encoder saved")
    if not (model_dir / OWN_EXPORT).is_file():
        raise SystemExit(f"{model_dir} holds no {OWN_EXPORT}: queries are routed to a statement encoder only beside "
                         "the folder's own question export (python -m qa.train encoder writes it)")
    if target.exists():
        raise SystemExit(f"{target} exists: rename or move it first (it is not replaced)")
    train_into(model_dir, args)
    return 0


#: The statement command's own settings where the encoder command's differ (``qa.train.parse``'s defaults).
STAGE_SETTINGS = {"negatives": 5, "batch": 64}


def stage_args(args, model_dir: Path):
    """The arguments of ``python -m qa.train statement --model model_dir`` for the statement stage that
    ``python -m qa.train encoder`` runs after its own: this command's defaults where the encoder's differ (5 BM25
    negatives a claim, 64 a step), its work in the encoder's (``statement``), the rest (seed, threads, claims and
    their split, learning rate and passes) as given."""
    return argparse.Namespace(**{**vars(args), **STAGE_SETTINGS, "what": "statement", "model": model_dir,
                                 "work": Path(args.work) / "statement"})


def train_into(model_dir: Path, args) -> None:
    """Train the statement encoder of ``model_dir`` and write it and its record into the folder."""
    import torch
    from sentence_transformers import SentenceTransformer

    from .claim_training import Claims, train_claims
    from .embedding import SentenceTransformerEmbedder
    from .question_training import export

    target = model_dir / STATEMENT_FILE
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    weights_sha256 = sha256_file(weights_file(model_dir))
    work = Path(args.work) / weights_sha256[:12]
    work.mkdir(parents=True, exist_ok=True)
    args.claim_replay = 0.0  # recorded as trained: no questions
    embedder = SentenceTransformerEmbedder(str(model_dir), backend="torch", index_threads=args.threads)
    model = SentenceTransformer(str(model_dir), device="cuda" if torch.cuda.is_available() else "cpu",
                                local_files_only=True)
    info = train_claims(args, model, None, embedder, work)
    trained = work / "statement"
    model.save(str(trained))
    claims = Claims(Path(args.claims), args.claims_held_out, args.seed, passages=False)
    int8, cosine = export(trained, work, [claims.text[q] for q in claims.held_out], STATEMENT_FILE)
    if target.exists():  # made while this ran
        raise SystemExit(f"{target} appeared while training: the export is left at {int8}")
    int8.replace(target)
    write_model_record(target, args, {"claims": info, "onnx_int8_min_cosine": cosine,
                                      "model_weights_sha256": weights_sha256})


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--model", type=Path, default=None,
                    help="statement: the model folder of one's own (with its encoder-int8.onnx) to train a "
                         "statement encoder for; question: the model folder whose question side is trained "
                         "against its own passage vectors (default: the bundled model)")
