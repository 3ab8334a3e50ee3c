"""bench/model_candidate.py: the rule that decides whether a trained model folder may become the default reads the
held-out SQuAD number of the blend the folder saved, and passes a candidate only when it is at least the default on
every number."""

from __future__ import annotations

import json

import pytest

from conftest import bench_script


@pytest.fixture(scope="module")
def bench():
    with bench_script("model_candidate") as module:
        yield module


def test_held_out_squad_reads_the_blend_the_folder_saved(bench, tmp_path):
    (tmp_path / "qa-model.json").write_text(json.dumps({"id": "qa-encoder-0123456789ab"}), encoding="utf-8")
    (tmp_path / "encoder-int8.json").write_text(json.dumps({"blend": 0.75, "held_out": {"blends": {
        "0.5": {"squad_MRR@10": 0.70}, "0.75": {"squad_MRR@10": 0.81}, "1.0": {"squad_MRR@10": 0.80}}}}),
        encoding="utf-8")
    assert bench.held_out_squad(str(tmp_path)) == 0.81


def test_held_out_squad_of_the_bundled_model_is_its_trained_question_encoders_not_its_own(
        bench, tmp_path, monkeypatch):
    record = tmp_path / "question-int8.json"
    record.write_text(json.dumps({"held_out": {"bundled": {"MRR@10": 0.78}, "trained": {"MRR@10": 0.79}}}),
                      encoding="utf-8")
    monkeypatch.setattr(bench, "QUESTION_RECORD", record)
    assert bench.held_out_squad("all-MiniLM-L6-v2") == 0.79
    # the shipped record holds both numbers, the trained one above the bundled model's
    monkeypatch.undo()
    shipped = json.loads(bench.QUESTION_RECORD.read_text(encoding="utf-8"))["held_out"]
    assert bench.held_out_squad("all-MiniLM-L6-v2") == shipped["trained"]["MRR@10"] > shipped["bundled"]["MRR@10"]


def test_held_out_squad_of_the_default_is_the_shipped_folders_own_record(bench, monkeypatch):
    from qa.index import embedding

    record = json.loads((embedding.SHIPPED_MODEL_DIR / "encoder-int8.json").read_text(encoding="utf-8"))
    saved = record["held_out"]["blends"][str(float(record["blend"]))]["squad_MRR@10"]
    bundled = bench.held_out_squad("all-MiniLM-L6-v2")
    assert bench.held_out_squad("") == saved > bundled  # the default since it was shipped: above the bundled's
    monkeypatch.setattr(embedding, "SHIPPED_MODEL_DIR", embedding.SHIPPED_MODEL_DIR.with_name("none-shipped"))
    assert bench.held_out_squad("") == bundled  # none shipped: the default is the bundled model


def test_a_candidate_must_reach_the_default_on_every_number(bench):
    default = {"squad": 0.79, "claims dense": 0.82, "claims hybrid": 0.84}
    assert bench.verdict(default, dict(default)).startswith("yes")
    assert bench.verdict(default, {"squad": 0.90, "claims dense": 0.85, "claims hybrid": 0.90}).startswith("yes")
    assert bench.verdict(default, {"squad": 0.81, "claims dense": 0.819, "claims hybrid": 0.85}) == \
        "no: below the default on claims dense"
