"""Is a model folder (``python -m qa.train encoder --out FOLDER``) a candidate for the default? The rule of
docs/benchmarks.md ("A statement encoder for a model of one's own"), on held-out data only:

* held-out SQuAD dense MRR@10 (the trainers' 40 held-out SQuAD train articles: 7,846 questions among their
  1,676 paragraphs), read from the records: the folder's ``encoder-int8.json`` (the blend it saved), and for the
  bundled model the shipped question encoder's ``qa/models/question-int8.json``;
* held-out SciFact train claims (the 200 every trainer holds out), dense and hybrid nDCG@10 through the product
  (``bench/beir.py --held-out-claims``: its own index per model, cached).

The candidate must be at least the default on all three; the report sets come after, and only then.

    python bench/model_candidate.py ~/.cache/qa-train/encoder-20k/out --beir /work/shared/benchmarks/beir_scifact
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import beir

from qa.index.embedding import DEFAULT_MODEL_ID, resolve_model

QUESTION_RECORD = Path(__file__).resolve().parent.parent / "qa" / "models" / "question-int8.json"


def held_out_squad(model: str) -> float:
    """Held-out SQuAD dense MRR@10 of a model setting, from its training record."""
    model_id, path = resolve_model(model)
    if model_id == DEFAULT_MODEL_ID:  # the bundled passages, questions by the question encoder trained for them
        return json.loads(QUESTION_RECORD.read_text(encoding="utf-8"))["held_out"]["trained"]["MRR@10"]
    record = json.loads((path / "encoder-int8.json").read_text(encoding="utf-8"))
    blend = record.get("blend", 1.0)
    return record["held_out"]["blends"][str(float(blend))]["squad_MRR@10"]


def held_out_claims(model: str, scifact: Path) -> dict[str, float]:
    """Held-out claims nDCG@10, dense and hybrid, through ``bench/beir.py``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "claims.json"
        beir.main([str(scifact), "--held-out-claims", "--modes", "dense", "hybrid", "--model", model,
                   "--json", str(out)])
        rows = json.loads(out.read_text(encoding="utf-8"))["rows"]
    return {row["mode"]: round(row["ndcg@10"], 4) for row in rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="the candidate: a model folder")
    ap.add_argument("--beir", type=Path, required=True, help="the BEIR SciFact folder")
    ap.add_argument("--default", default="", help="what it is compared with (default: the default model)")
    args = ap.parse_args(argv)
    rows = {}
    for name, model in (("default", args.default), ("candidate", str(Path(args.model).expanduser()))):
        claims = held_out_claims(model, args.beir)
        rows[name] = {"held-out SQuAD MRR@10": held_out_squad(model), "held-out claims dense nDCG@10":
                      claims["dense"], "held-out claims hybrid nDCG@10": claims["hybrid"]}
    print(f"\n| | {' | '.join(rows['default'])} |\n|---|{'---:|' * len(rows['default'])}")
    for name, row in rows.items():
        print(f"| {name} ({resolve_model(args.default if name == 'default' else args.model)[0]}) | "
              + " | ".join(f"{v:.4f}" for v in row.values()) + " |")
    print("\ncandidate for the default: " + verdict(rows["default"], rows["candidate"]))
    return 0


def verdict(default: dict[str, float], candidate: dict[str, float]) -> str:
    """The rule: at least the default on every number (a tie passes), else which numbers fall short."""
    short = [k for k in default if candidate[k] < default[k]]
    return "yes (at least the default on each)" if not short else "no: below the default on " + ", ".join(short)


if __name__ == "__main__":
    sys.exit(main())
