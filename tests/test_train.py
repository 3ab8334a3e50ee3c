"""The training command, end to end on a tiny SQuAD-format file: pairs with mined hard negatives,
a one-layer model trained for a few steps, its int8 ONNX export, the record, and re-export from
the saved weights. (Quality is measured by bench/, not here: this checks the recipe runs and
produces a model the reader can load.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")

from qa import train  # noqa: E402
from qa.files import sha256_file  # noqa: E402
from qa.reader import sentence_training  # noqa: E402
from qa.reader import training_data  # noqa: E402
from qa.reader.training_data import load_squad  # noqa: E402
from qa.index.embedding import bundled_model_path  # noqa: E402
from qa.reader.sentence import ReaderModel  # noqa: E402

FACTS = [
    ("Rivers", "The Nile flows north through eleven countries. Its longest tributary is the White Nile. "
     "The river ends in a delta on the Mediterranean Sea.",
     [("Where does the Nile end?", "in a delta"), ("What is the Nile's longest tributary?", "the White Nile")]),
    ("Rivers", "The Amazon carries more water than any other river. It rises in the Andes of Peru. "
     "Manaus is the largest city on its banks.",
     [("Where does the Amazon rise?", "the Andes of Peru"), ("What is the largest city on the Amazon?", "Manaus")]),
    ("Metals", "Copper conducts heat and electricity well. Bronze is an alloy of copper and tin. "
     "The Bronze Age began about 3300 BC in the Near East.",
     [("What is bronze made of?", "copper and tin"), ("When did the Bronze Age begin?", "about 3300 BC")]),
    ("Metals", "Iron rusts when it meets water and air. Steel is iron with a little carbon. "
     "Stainless steel contains chromium, which stops rust.",
     [("What does stainless steel contain?", "chromium"), ("What is steel?", "iron with a little carbon")]),
    ("Birds", "Penguins cannot fly but swim very well. Emperor penguins breed in the Antarctic winter. "
     "The males keep the egg warm on their feet for two months.",
     [("Where do emperor penguins breed?", "in the Antarctic winter"), ("How long do males keep the egg warm?",
                                                                        "two months")]),
    ("Birds", "Swifts spend most of their lives in the air. They even sleep while flying. "
     "A young swift may not land for two years.",
     [("How long may a young swift not land?", "two years"), ("What do swifts do while flying?", "sleep")]),
]


def squad_file(path):
    articles: dict[str, list] = {}
    n = 0
    for title, context, qas in FACTS:
        items = []
        for question, answer in qas:
            n += 1
            items.append({"id": f"q{n}", "question": question,
                          "answers": [{"text": answer, "answer_start": context.index(answer)}]})
        articles.setdefault(title, []).append({"context": context, "qas": items})
    data = {"version": "1.1", "data": [{"title": t, "paragraphs": p} for t, p in articles.items()]}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_pairs_have_the_answer_span_and_a_negative_without_it(tmp_path):
    articles = load_squad(squad_file(tmp_path / "train.json"))
    groups = sentence_training.make_pairs(articles, None, seed=1, progress=False)
    assert len(groups) == 12
    for group in groups:
        positive = group[0]
        start, end = positive.answer
        assert positive.sentence[start:end] == positive.answer_text
        assert len(group) == 2 and group[1].answer is None
        assert positive.answer_text not in group[1].sentence
        assert group[1].sentence != positive.sentence


def test_a_swapped_question_names_what_its_sentence_does_not():
    import random

    paragraph = "The Bronze Age began about 3300 BC in the Near East. Copper came first."
    pool = training_data.swap_pool(paragraph, [training_data.inner_names(
        "Iron rusts. Steel was cheap after 1856 in Britain. Rome used the Iron Age tools.")])
    assert pool == ["1856", "Britain", "Iron"]  # inside sentences only ("Steel", "Rome" start theirs)
    sentence = "The Bronze Age began about 3300 BC in the Near East."
    got = {training_data.swapped("When did the Bronze Age begin in the Near East?", sentence, pool,
                                     random.Random(seed)) for seed in range(20)}
    question = "When did the Bronze Age begin in the Near East?"
    assert got <= {question.replace(name, w, 1) for name in ("Bronze", "Age", "Near", "East")
                   for w in ("Britain", "Iron")}  # a name of the question, for a name (not "1856")
    assert len(got) > 2
    assert training_data.swapped("Why 3300 BC?", sentence, pool, random.Random(0)) == "Why 1856 BC?"
    # nothing of the question in the sentence, or the question's first word only: no swap
    assert training_data.swapped("Where did Iron rust?", sentence, pool, random.Random(0)) is None
    assert training_data.swapped("Bronze is what?", sentence, pool, random.Random(0)) is None


def test_swap_negatives_add_a_third_pair_over_the_answer_sentence(tmp_path):
    def para(context, question, answer):
        return {"context": context, "qas": [{"id": question, "question": question, "answers": [
            {"text": answer, "answer_start": context.index(answer)}]}]}

    articles = [{"title": "Metals", "paragraphs": [
        para("Copper is soft. The Bronze Age began about 3300 BC in the Near East.",
             "When did the Bronze Age begin?", "about 3300 BC"),
        para("Iron rusts. Steel became cheap after 1856 in Britain.", "When did steel become cheap?", "after 1856"),
        para("Tin is rare. Cornwall mined tin for the Romans.", "Who did Cornwall mine tin for?", "the Romans")]}]
    plain = sentence_training.make_pairs(articles, None, seed=1, progress=False)
    groups = sentence_training.make_pairs(articles, None, seed=1, progress=False, swap=1.0)
    third = [g for g in groups if len(g) == 3]
    assert len(third) == 2 and all(len(g) <= 2 for g in plain)  # "steel" is no name: its question has none
    for group in third:
        assert group[2].answer is None and group[2].sentence == group[0].sentence
        assert group[2].question != group[0].question


def span_args(data, out, work) -> list[str]:
    return ["span", "--train", str(data), "--out", str(out), "--work", str(work), "--questions", "10",
            "--layers", "1", "--val-articles", "1", "--val-questions", "4", "--curve", "4", "--batch-questions", "4",
            "--no-bf16", "--threads", "1"]


def test_training_exports_a_model_the_reader_loads(tmp_path):
    data = squad_file(tmp_path / "train.json")
    out, checkpoint = tmp_path / "model", tmp_path / "weights.safetensors"
    code = train.main(span_args(data, out, tmp_path / "work") + ["--checkpoint", str(checkpoint)])
    assert code == 0
    record = json.loads((out / "reader-int8.json").read_text())
    assert record["train_questions"] == 8  # one of the three articles is held out
    assert [p["questions"] for p in record["curve"]] == [4, 8]
    assert len(record["val_titles"]) == 1 and record["model_sha256"] == sha256_file(out / "reader-int8.onnx")

    model = ReaderModel(out / "reader-int8.onnx", bundled_model_path())
    sentences = ["Bronze is an alloy of copper and tin.", "Swifts sleep while flying."]
    probs, spans = model.read_probabilities("What is bronze made of?", sentences)
    assert probs.shape == (2,) and np.all((probs > 0) & (probs < 1))
    for sentence, (start, end) in zip(sentences, spans):
        assert 0 <= start < end <= len(sentence)

    again = tmp_path / "again"
    assert train.main(["export", "--checkpoint", str(checkpoint), "--layers", "1", "--out", str(again)]) == 0
    reloaded = ReaderModel(again / "reader-int8.onnx", bundled_model_path())
    probs2, spans2 = reloaded.read_probabilities("What is bronze made of?", sentences)
    assert spans2 == spans and np.allclose(probs2, probs, atol=0.05)


def passage_args(data, out, work, questions: int) -> list[str]:
    return ["passage", "--train", str(data), "--out", str(out), "--work", str(work), "--questions", str(questions),
            "--batch-questions", "2", "--val-articles", "1", "--val-questions", "2", "--train-tokens", "64",
            "--no-bf16", "--threads", "1", "--save-every", "1", "--validate-every", "2", "--epochs", "1"]


def test_the_passage_command_s_defaults_are_the_shipped_model_s_recipe():
    from qa.reader.passage import MODEL_DIR

    shipped = json.loads((MODEL_DIR / "passage-int8.json").read_text())["args"]
    args = vars(train.parse(["passage", "--train", "squad.json.gz"]))
    for key in ("epochs", "batch_questions", "lr", "head_lr", "train_tokens", "seed", "val_articles", "layers"):
        assert str(args[key]) == shipped[key], key
    assert args["questions"] is None and int(shipped["questions"]) >= 87599  # all of SQuAD v1.1 train
    assert Path(args["init"]).name == Path(shipped["init"]).name


def test_each_pass_over_the_questions_has_an_order_of_its_own():
    from qa.reader.training import plan_passes

    lengths = [7, 3, 9, 1, 4, 8, 2, 6]
    steps = plan_passes(8, 2, 13, lengths, passes=2)
    first, second = steps[:4], steps[4:]
    assert len(steps) == 8 and all(len(s) == 2 for s in steps)
    assert sorted(n for s in first for n in s) == sorted(n for s in second for n in s) == list(range(8))
    assert first != second
    assert plan_passes(8, 2, 13, lengths, passes=2) == steps and plan_passes(8, 2, 13, lengths, passes=1) == first


def test_passage_training_checkpoints_resumes_and_exports_a_model_the_reader_loads(tmp_path, capsys):
    import torch

    from qa.reader.passage import PassageModel

    data, work = squad_file(tmp_path / "train.json"), tmp_path / "work"
    assert train.main(passage_args(data, tmp_path / "first", work, 4)) == 0  # two steps of two questions
    state = torch.load(work / "checkpoint.pt", weights_only=True)
    assert set(state) == {"model", "optimiser", "schedule", "step", "steps", "elapsed", "rng"}
    assert (state["step"], state["steps"]) == (2, 2)
    capsys.readouterr()

    out = tmp_path / "model"
    # a longer plan of the same seed goes on, its steps built ahead by a worker process
    assert train.main(passage_args(data, out, work, 8) + ["--workers", "1"]) == 0
    assert "resumed at step 2 of 4" in capsys.readouterr().err
    log = [json.loads(line) for line in (work / "log.jsonl").read_text().splitlines()]
    assert [(p["step"], p["questions"]) for p in log] == [(2, 4), (4, 8)]
    record = json.loads((out / "passage-int8.json").read_text())
    assert record["steps"] == 4 and record["train_questions"] == 8
    assert record["model_sha256"] == sha256_file(out / "passage-int8.onnx")

    model = PassageModel(out / "passage-int8.onnx", bundled_model_path())
    spans = model.spans("What is bronze made of?", ["Bronze is an alloy of copper and tin.", "Swifts sleep."])
    assert spans and all(0 <= s.start < s.end for s in spans)



def test_span_training_stopped_and_resumed_ends_where_one_unbroken_run_does(tmp_path, capsys):
    from safetensors.torch import load_file

    data = squad_file(tmp_path / "train.json")
    unbroken, broken = tmp_path / "unbroken", tmp_path / "broken"
    assert train.main(span_args(data, unbroken, unbroken / "work")
                      + ["--checkpoint", str(unbroken / "w.safetensors")]) == 0  # two steps of four questions
    capsys.readouterr()

    args = span_args(data, broken, broken / "work") + ["--checkpoint", str(broken / "w.safetensors")]
    assert train.main(args + ["--stop-after", "1"]) == 0
    assert "stopped at step 1 of 2" in capsys.readouterr().err
    assert not (broken / "reader-int8.onnx").exists()  # nothing exported from a run that stopped
    assert json.loads((broken / "work" / "log.jsonl").read_text())["questions"] == 4  # the first curve point
    assert train.main(args) == 0
    assert "resumed at step 1 of 2" in capsys.readouterr().err

    record = json.loads((broken / "reader-int8.json").read_text())
    assert [p["questions"] for p in record["curve"]] == [4, 8]  # the first run's point kept
    assert record["steps"] == 2 and record["done"] is True
    a, b = load_file(str(unbroken / "w.safetensors")), load_file(str(broken / "w.safetensors"))
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)  # dropout's generator restored too
    model = ReaderModel(broken / "reader-int8.onnx", bundled_model_path())
    probs, _ = model.read_probabilities("What is bronze made of?", ["Bronze is an alloy of copper and tin."])
    assert probs.shape == (1,)


def test_weights_read_back_from_an_int8_export_are_the_model_s(tmp_path):
    import torch

    from qa.reader.onnx_weights import export_int8, init_from_onnx, weights_from_onnx
    from qa.reader.sentence_training import build_model

    torch.manual_seed(0)
    model = build_model(bundled_model_path(), 1)
    ids = np.array([[101, 2054, 102, 2009, 102]], dtype=np.int64)
    int8 = export_int8(model, (ids, np.ones_like(ids), np.array([[0, 0, 0, 1, 1]])), tmp_path / "m.onnx")
    weights = weights_from_onnx(int8)
    state = model.state_dict()
    for name in ("encoder.encoder.layer.0.attention.self.query.weight", "span.weight", "has_answer.bias",
                 "encoder.embeddings.word_embeddings.weight"):
        original = state[name].numpy()
        step = np.abs(original).max() / 127  # int8: at most half a quantisation step off
        assert weights[name].shape == original.shape or weights[name].T.shape == original.shape
        assert np.abs(weights[name].reshape(original.shape) - original).max() <= step

    fresh = build_model(bundled_model_path(), 1)
    assert init_from_onnx(fresh, int8) == []
    for name, value in fresh.state_dict().items():
        assert np.allclose(value.numpy(), state[name].numpy(), atol=np.abs(state[name].numpy()).max() / 127 + 1e-6)


def test_the_shipped_models_weights_are_all_read_back():
    from qa.reader.onnx_weights import weights_from_onnx
    from qa.reader.passage import MODEL_DIR

    for name in ("reader-int8.onnx", "passage-int8.onnx"):  # --init takes either
        weights = weights_from_onnx(MODEL_DIR / name)
        assert {"has_answer.weight", "has_answer.bias", "span.weight", "span.bias"} <= set(weights), name
        assert weights["has_answer.weight"].size == 384 and not any(k.endswith("_Transposed") for k in weights)
