"""``python -m qa.train encoder``: one encoder trained on both sides (passages and queries), on a tiny SQuAD file
and a tiny BEIR folder: the prepared rows, the held-out scores, the blends, checkpoints and the int8 export."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

pytest.importorskip("onnx")

from test_question_encoder import beir_folder  # noqa: E402
from test_train import squad_file  # noqa: E402

from qa import train  # noqa: E402
from qa.files import sha256_file  # noqa: E402
from qa.index import encoder_training  # noqa: E402
from qa.index.embedding import OnnxEncoder, SentenceTransformerEmbedder, bundled_model_path  # noqa: E402
from qa.index.encoder_training import blend_state, held_out_scores, prepare  # noqa: E402


def encoder_args(tmp_path, *extra: str) -> list[str]:
    return ["encoder", "--train", str(squad_file(tmp_path / "train.json")), "--claims",
            str(beir_folder(tmp_path / "scifact")), "--work", str(tmp_path / "work"), "--val-articles", "1",
            "--claims-held-out", "1", "--negatives", "1", "--batch", "4", "--claim-repeat", "2", "--no-bf16",
            "--save-every", "1", "--lr", "1e-4", *extra]


def test_prepared_rows_point_at_their_own_passage_and_a_negative_without_the_answer(tmp_path, monkeypatch):
    args = train.parse(encoder_args(tmp_path))
    prepared = prepare(args, args.work)
    texts = prepared["texts"]
    assert len(texts) == len(set(texts))  # each text once; rows are indices
    assert len(prepared["rows"]) == 8  # the questions of the training articles (the last article held out)
    squad = json.loads((tmp_path / "train.json").read_text())["data"]
    answer_of = {qa["question"]: (p["context"], qa["answers"][0]["text"])
                 for article in squad[:-1] for p in article["paragraphs"] for qa in p["qas"]}
    for question, positive, negative in prepared["rows"]:
        context, answer = answer_of[texts[question]]
        assert texts[positive] == context
        assert negative != positive and answer.lower() not in texts[negative].lower()
    held = prepared["val"]
    assert held["questions"] == [qa["question"] for p in squad[-1]["paragraphs"] for qa in p["qas"]]
    assert [held["paragraphs"][g] for g in held["gold"]] == [p["context"] for p in squad[-1]["paragraphs"]
                                                            for _ in p["qas"]]
    claims = prepared["claims_held_out"]
    assert len(claims["claims"]) == 1 and len(claims["passages"]) == len(claims["passage_doc"])
    doc_of = dict(zip(claims["passages"], claims["passage_doc"]))
    gold = {"Vitamin D deficiency causes bone loss.": {"11", "15"}, "Sleep helps memory.": {"12", "15"},
            "Statins lower cholesterol.": {"13"}, "A malaria vaccine protects children.": {"14"},
            "Coffee causes heart disease.": {"16"}}
    assert claims["claims"][0] in gold and [set(g) for g in claims["gold"]] == [gold[claims["claims"][0]]]
    trained = {texts[row[0]] for row in prepared["claim_rows"]}
    assert claims["claims"][0] not in trained and len(trained) == 4  # the held-out claim is never trained on
    for claim, positive, negative in prepared["claim_rows"]:
        assert doc_of[positive] in gold[texts[claim]] and doc_of[negative] not in gold[texts[claim]]
    # prepared once: a second call reads the cache and mines nothing
    monkeypatch.setattr(encoder_training, "mine_negatives", lambda *a: pytest.fail("mined again"))
    assert prepare(args, args.work) == prepared
    (cached,) = args.work.glob("prepared-*.json.gz")
    with gzip.open(cached, "rt", encoding="utf-8") as f:
        assert json.load(f)["train_sha256"] == sha256_file(args.train)


class FixedModel:
    """Encodes each text as the vector given for it."""

    def __init__(self, vectors: dict[str, list[float]]):
        self.vectors = vectors

    def encode(self, texts, **_):
        rows = np.asarray([self.vectors[t] for t in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_held_out_scores_rank_questions_among_paragraphs_and_abstracts_by_their_best_passage():
    prepared = {
        "texts": ["a1", "a2", "b1", "c1"],
        "val": {"questions": ["q1", "q2"], "paragraphs": ["p1", "p2"], "gold": [0, 0]},
        "claims_held_out": {"claims": ["c"], "gold": [["A"]], "passages": [0, 1, 2, 3],
                            "passage_doc": ["A", "A", "B", "C"]},
    }
    model = FixedModel({"q1": [1, 0], "q2": [0, 1], "p1": [1, 0.1], "p2": [0.1, 1],
                        "c": [1, 0], "a1": [0, 1], "a2": [1, 0.05], "b1": [1, 0.2], "c1": [-1, 0.1]})
    scores = held_out_scores(model, prepared)
    # q1's paragraph first, q2's second: R@1 0.5, MRR 0.75
    assert scores["squad_R@1"] == 0.5 and scores["squad_R@5"] == 1.0 and scores["squad_MRR@10"] == 0.75
    # abstract A scores its best passage (a2, nearer than b1) and comes first: its weak passage a1 does not count
    assert scores["claims_nDCG@10"] == 1.0 and scores["claims_R@10"] == 1.0
    model.vectors["a2"] = [0, 1]  # now B is first, A second
    assert held_out_scores(model, prepared)["claims_nDCG@10"] == pytest.approx(1 / np.log2(3), abs=1e-4)
    assert set(held_out_scores(model, prepared, ["squad"])) == {"squad_R@1", "squad_R@5", "squad_MRR@10"}


def test_the_initial_models_held_out_scores_are_measured_once_and_read_again_on_resuming(tmp_path):
    from qa.index.encoder_training import initial_scores

    prepared = {"train_sha256": "abc", "texts": [],
                "val": {"questions": ["q1", "q2"], "paragraphs": ["p1", "p2"], "gold": [0, 1]}}
    init = tmp_path / "init"
    init.mkdir()
    (init / "model.safetensors").write_bytes(b"weights")
    model = FixedModel({"q1": [1, 0], "q2": [0, 1], "p1": [1, 0.1], "p2": [0.1, 1]})
    first = initial_scores(model, prepared, ["squad"], tmp_path, init)
    assert first["squad_R@1"] == 1.0

    class Refuses:
        def encode(self, *a, **k):
            raise AssertionError("measured again")

    assert initial_scores(Refuses(), prepared, ["squad"], tmp_path, init) == first  # read back, not measured
    other_articles = {**prepared, "val": {**prepared["val"], "questions": ["q3", "q4"]}}  # as many, not the same
    with pytest.raises(AssertionError, match="measured again"):
        initial_scores(Refuses(), other_articles, ["squad"], tmp_path, init)
    (init / "model.safetensors").write_bytes(b"other weights")  # another initial model: measured anew
    with pytest.raises(AssertionError, match="measured again"):
        initial_scores(Refuses(), prepared, ["squad"], tmp_path, init)


def test_a_blend_is_the_given_share_of_the_way_from_the_initial_weights():
    torch = pytest.importorskip("torch")
    initial = {"w": torch.zeros(2), "steps": torch.tensor([0])}
    trained = {"w": torch.tensor([2.0, -4.0]), "steps": torch.tensor([7])}
    mixed = blend_state(initial, trained, 0.25)
    assert mixed["w"].tolist() == [0.5, -1.0] and mixed["steps"].tolist() == [7]  # integers are not blended


@pytest.mark.integration
def test_encoder_training_scores_held_out_blends_checkpoints_and_exports_an_encoder_for_both_sides(tmp_path,
                                                                                                  monkeypatch):
    from qa.index import statement_training

    # the statement stage's own settings are the statement command's defaults (checked), made small for the tiny data
    defaults = train.parse(["statement", "--model", "m", "--claims", "c"])
    assert statement_training.STAGE_SETTINGS == {"negatives": defaults.negatives, "batch": defaults.batch}
    monkeypatch.setattr(statement_training, "STAGE_SETTINGS", {"negatives": 1, "batch": 4})
    model = tmp_path / "model"
    model.mkdir()
    (model / "mine.txt").write_text("a file of the user's")
    argv = encoder_args(tmp_path, "--out", str(model), "--held-out-blends", "0.5,1", "--claim-epochs", "2")
    with pytest.raises(SystemExit, match="is not empty"):  # refused before any training: nothing is replaced
        train.main(argv)
    assert [p.name for p in model.iterdir()] == ["mine.txt"] and not (tmp_path / "work").exists()
    (model / "mine.txt").unlink()
    (tmp_path / "model.partial").mkdir()  # as an interrupted export leaves it: never removed unasked
    with pytest.raises(SystemExit, match="model.partial exists"):
        train.main(argv)
    (tmp_path / "model.partial").rmdir()
    assert train.main(argv) == 0
    record = json.loads((tmp_path / "model" / "encoder-int8.json").read_text())
    held = record["held_out"]
    assert set(held["blends"]) == {"0.5", "1.0"}
    assert set(held["initial"]) == {"squad_R@1", "squad_R@5", "squad_MRR@10", "claims_nDCG@10", "claims_R@10"}
    (prepared,) = (tmp_path / "work").glob("prepared-*.json.gz")
    with gzip.open(prepared, "rt", encoding="utf-8") as f:
        claim_rows = len(json.load(f)["claim_rows"])
    assert record["rows"] == 8 and record["claim_rows"] == claim_rows >= 4 and record["claim_repeat"] == 2
    assert record["steps"] == (8 + claim_rows * 2) // 4 and record["resumed_from"] is None
    assert record["model_sha256"] == sha256_file(tmp_path / "model" / "encoder-int8.onnx")
    assert record["onnx_int8_min_cosine"] > 0.97
    assert list((tmp_path / "work").glob("checkpoints-*/checkpoint-*"))  # the same command resumes from these
    # the exported model encodes queries and passages alike, and training moved it from the bundled model
    encoder = OnnxEncoder(tmp_path / "model" / "encoder-int8.onnx", bundled_model_path(), threads=1)
    encoder.load()
    text = "Where does the Nile end?"
    vector = encoder.encode([text])[0]
    bundled = SentenceTransformerEmbedder(backend="torch", threads=1).encode([text])[0]
    assert 0.8 < float(vector @ bundled) < 0.9999

    # the folder written is a model to name or ship: float16 weights, both exports with their records, its id
    from safetensors import safe_open

    from qa.index.embedding import model_record_id, resolve_model

    with safe_open(str(model / "model.safetensors"), "pt") as f:
        assert {str(f.get_tensor(k).dtype) for k in f.keys() if "embeddings" in k} == {"torch.float16"}
    assert not (model / "README.md").exists() and not (tmp_path / "model.partial").exists()
    shipped = json.loads((model / "qa-model.json").read_text())
    assert shipped["weights_sha256"] == sha256_file(model / "model.safetensors") == record["model_weights_sha256"]
    assert model_record_id(model) == shipped["id"] == "qa-encoder-" + shipped["weights_sha256"][:12]
    assert shipped["base"] == "sentence-transformers/all-MiniLM-L6-v2" and shipped["statement_encoder"] is True
    statement = json.loads((model / "statement-int8.json").read_text())
    assert statement["model_sha256"] == sha256_file(model / "statement-int8.onnx")
    assert statement["model_weights_sha256"] == shipped["weights_sha256"]  # trained against these passage vectors
    assert statement["args"]["negatives"] == "1" and statement["args"]["batch"] == "4"  # the stage's settings
    assert statement["claims"]["replayed_questions"] == 0 and statement["claims"]["claims_held_out"] == 1
    assert resolve_model(str(model)) == (str(model.resolve()), model)  # named by path: its path, as any folder

    # named as the model, it encodes questions with its export and claims with its statement encoder, no torch
    own = SentenceTransformerEmbedder(model=str(model), question_model="auto", threads=1)
    assert own.backend == "onnx" and own.routing
    question = own.encode_query(text)
    claim = own.encode_query("Vitamin D deficiency causes bone loss.")
    assert own._model is None and own.encodes_as_statement("Vitamin D deficiency causes bone loss.")
    assert float(question @ own.encode([text])[0]) > 0.97
    assert claim.shape == question.shape == (384,)

    # the prepared data alone (as another machine would get it) trains the same recipe: it resumes
    again = ["encoder", "--prepared", str(prepared), "--work", str(tmp_path / "work"), "--no-export", "--batch", "4",
             "--claim-repeat", "2", "--no-bf16", "--lr", "1e-4", "--held-out-sets", "squad", "--held-out-blends", "1"]
    assert train.main(again) == 0
    result = json.loads((tmp_path / "work" / "result.json").read_text())
    assert result["resumed_from"] and set(result["held_out"]["blends"]["1.0"]) == {"squad_R@1", "squad_R@5",
                                                                                   "squad_MRR@10"}


def test_a_model_of_ones_own_encodes_questions_by_torch_unless_its_folder_holds_an_export(tmp_path):
    folder = own_folder(tmp_path, export=False)
    plain = SentenceTransformerEmbedder(model=str(folder))
    assert plain.backend == "torch" and plain.question_file is None and not plain.routing
    (folder / "encoder-int8.onnx").write_bytes(b"not a model")  # damaged: a warning, then torch
    damaged = SentenceTransformerEmbedder(model=str(folder), threads=1)
    assert damaged.backend == "onnx" and not damaged.routing
    with pytest.warns(RuntimeWarning, match="encoder-int8.onnx"):
        vector = damaged.encode_query("Where does the Nile end?")
    assert damaged.backend == "torch" and vector.shape == (384,)  # never the bundled model's export instead


def own_folder(tmp_path, export: bool = True):
    """A model folder of one's own: the bundled model's files (linked), with its int8 export unless ``export`` is
    false."""
    from qa.index.embedding import onnx_model_path

    folder = tmp_path / "own"
    folder.mkdir()
    for item in bundled_model_path().iterdir():
        (folder / item.name).symlink_to(item)
    if export:
        (folder / "encoder-int8.onnx").write_bytes(onnx_model_path().read_bytes())
    return folder


@pytest.mark.integration
def test_documents_are_removed_and_restored_with_a_model_of_ones_own_not_loaded_to_do_it(tmp_path, tiny_docs):
    from qa.config import Settings
    from qa.index import store
    from qa.pipeline import Pipeline

    settings = Settings(docs=tiny_docs, index=tmp_path / "index", model=str(own_folder(tmp_path)))
    Pipeline(settings).index()
    dim = store.read_manifest(settings.index)["model"]["dim"]
    fresh = Pipeline(settings)  # its model not loaded: the vectors' size is the index's
    before = {d.id for d in fresh.documents()}
    fresh.remove(["volcanoes.md"])
    assert {d.id for d in fresh.documents()} == before - {"volcanoes.md"} and not (tiny_docs / "volcanoes.md").exists()
    assert store.read_manifest(settings.index)["model"]["dim"] == dim == 384
    Pipeline(settings).restore(["volcanoes.md"])
    assert {d.id for d in Pipeline(settings).documents()} == before
    assert Pipeline(settings).search("When did the volcano erupt?", k=1)[0].passage.doc == "volcanoes.md"


@pytest.mark.integration
def test_a_statement_encoder_is_trained_for_a_model_of_ones_own_and_gets_its_claims(tmp_path):
    folder = own_folder(tmp_path)
    argv = ["statement", "--model", str(folder), "--claims", str(beir_folder(tmp_path / "scifact")), "--work",
            str(tmp_path / "work"), "--claims-held-out", "1", "--negatives", "1", "--batch", "4", "--claim-epochs",
            "3", "--claim-lr", "1e-4", "--no-bf16", "--save-every", "1"]
    assert train.main(argv) == 0
    statement = folder / "statement-int8.onnx"
    record = json.loads((folder / "statement-int8.json").read_text())
    assert record["model_sha256"] == sha256_file(statement) and record["onnx_int8_min_cosine"] > 0.97
    assert record["claims"]["replayed_questions"] == 0 and record["claims"]["claims_held_out"] == 1
    assert record["claims"]["claims"] == 4 and record["claims"]["steps"] >= 3

    claim, question = "Vitamin D deficiency causes bone loss.", "What causes bone loss?"
    by_statement, by_export = OnnxEncoder(statement, folder, threads=1), OnnxEncoder(folder / "encoder-int8.onnx",
                                                                                     folder, threads=1)
    by_statement.load()
    by_export.load()
    assert not np.allclose(by_statement.encode([claim])[0], by_export.encode([claim])[0], atol=1e-3)  # it moved
    auto = SentenceTransformerEmbedder(model=str(folder), question_model="auto", threads=1)
    assert auto.routing
    assert np.allclose(auto.encode_query(claim), by_statement.encode([claim])[0], atol=1e-6)
    assert auto.encodes_as_statement(claim)  # the statements' fusion weight
    assert np.allclose(auto.encode_query(question), by_export.encode([question])[0], atol=1e-6)
    assert not auto.encodes_as_statement(question) and auto._model is None  # no torch for either
    assert not SentenceTransformerEmbedder(model=str(folder), question_model="bundled").routing

    # a second run never replaces the file; a folder without its own export gets no statement encoder
    before = statement.read_bytes()
    with pytest.raises(SystemExit, match="exists: rename or move it first"):
        train.main(argv)
    assert statement.read_bytes() == before
    (folder / "encoder-int8.onnx").unlink()
    with pytest.raises(SystemExit, match="holds no encoder-int8.onnx"):
        train.main(argv)
    with pytest.raises(SystemExit, match="is not a folder"):
        train.main(["statement", "--model", str(tmp_path / "absent")] + argv[3:])
    assert not SentenceTransformerEmbedder(model=str(folder), question_model="auto").routing


def test_a_damaged_statement_encoder_of_ones_own_falls_back_to_the_folders_export(tmp_path):
    folder = own_folder(tmp_path)
    (folder / "statement-int8.onnx").write_bytes(b"not a model")
    auto = SentenceTransformerEmbedder(model=str(folder), question_model="auto", threads=1)
    assert auto.routing
    claim = "Vitamin D deficiency causes bone loss."
    with pytest.warns(RuntimeWarning, match="statement onnx encoder.*own export"):
        vector = auto.encode_query(claim)
    export = OnnxEncoder(folder / "encoder-int8.onnx", folder, threads=1)
    export.load()
    assert np.allclose(vector, export.encode([claim])[0], atol=1e-6)
    assert not auto.encodes_as_statement(claim) and auto._model is None  # never the bundled model's, nor torch
    # asked for torch: torch encodes every query of the folder's, never the bundled model's question encoder
    by_torch = SentenceTransformerEmbedder(model=str(folder), backend="torch", question_model="auto")
    assert by_torch.backend == "torch" and by_torch.question_file is None and not by_torch.routing


def test_a_second_stage_takes_the_questions_after_the_first_stages_in_the_same_seeded_order():
    from qa.index.encoder_training import sample

    rows = [[i, 100 + i] for i in range(20)]
    first = sample(rows, 6, 0, np.random.default_rng(13))
    second = sample(rows, 4, 6, np.random.default_rng(13))
    assert len(first) == 6 and len(second) == 4 and not {r[0] for r in first} & {r[0] for r in second}
    both = sample(rows, 10, 0, np.random.default_rng(13))
    assert sorted(first + second) == both  # the two stages together: the first 10 of the order
    assert sample(rows, None, 0, np.random.default_rng(13)) == rows
    assert sample(rows, None, 18, np.random.default_rng(13)) == [r for r in rows if r not in sample(
        rows, 18, 0, np.random.default_rng(13))]


def test_anchor_passages_are_the_training_claims_abstracts_whole_less_any_a_held_out_claim_cites(tmp_path):
    from qa.index.encoder_training import anchor_passages

    args = train.parse(encoder_args(tmp_path))
    prepared = prepare(args, args.work)
    held = prepared["claims_held_out"]
    doc_of = dict(zip(held["passages"], held["passage_doc"]))
    anchors = anchor_passages(prepared)
    positives = {doc_of[row[1]] for row in prepared["claim_rows"]}
    held_docs = {d for gold in held["gold"] for d in gold}
    assert anchors and {doc_of[p] for p in anchors} == positives - held_docs
    # an abstract anchored is anchored whole (the long one is several passages), and no held-out evidence is in
    assert all(p in anchors for p in held["passages"] if doc_of[p] in positives - held_docs)
    assert not held_docs & {doc_of[p] for p in anchors}
    # a held-out claim's abstract that a training claim also cites is left out too
    held["gold"] = [sorted(positives)[:1]]
    assert sorted(positives)[0] not in {doc_of[p] for p in anchor_passages(prepared)}


@pytest.mark.integration
def test_anchored_training_adds_batches_of_anchor_passages_and_keeps_them_nearer_the_initial_model(tmp_path):
    from sentence_transformers import SentenceTransformer

    from qa.index.encoder_training import anchor_passages

    common = ["--no-export", "--held-out-sets", "squad", "--held-out-blends", "1", "--epochs", "3"]
    argv = encoder_args(tmp_path, *common)
    plain_work, anchored_work = tmp_path / "plain", tmp_path / "anchored"
    argv[argv.index("--work") + 1] = str(plain_work)
    assert train.main(argv) == 0
    argv[argv.index("--work") + 1] = str(anchored_work)
    assert train.main(argv + ["--anchor-repeat", "4"]) == 0
    plain = json.loads((plain_work / "result.json").read_text())
    anchored = json.loads((anchored_work / "result.json").read_text())
    prepared = prepare(train.parse(argv), anchored_work)
    n = len(anchor_passages(prepared)) * 4
    assert plain["anchor_passages"] == 0 and anchored["anchor_passages"] == n
    assert anchored["steps"] == plain["steps"] + n // 4 * 3  # --batch 4, three epochs
    # the anchored model's passage vectors of those abstracts stay nearer the bundled model's than the plain one's
    texts = [prepared["texts"][i] for i in anchor_passages(prepared)]
    bundled = SentenceTransformer(str(bundled_model_path()), device="cpu").encode(texts, normalize_embeddings=True)

    def drift(work):
        vectors = SentenceTransformer(str(work / "final"), device="cpu").encode(texts, normalize_embeddings=True)
        return float(np.mean(1 - np.sum(vectors * bundled, axis=1)))

    assert drift(anchored_work) < drift(plain_work)
    # a recipe of its own: the anchored run's checkpoints are not the plain run's
    plain_runs = {p.name for p in plain_work.glob("checkpoints-*")}
    assert plain_runs and plain_runs.isdisjoint(p.name for p in anchored_work.glob("checkpoints-*"))


def test_a_model_folder_shipped_in_qa_models_is_the_default_and_the_bundled_model_can_still_be_named(
        tmp_path, monkeypatch):
    from qa.errors import ModelError
    from qa.index import embedding
    from qa.index.embedding import DEFAULT_MODEL_ID, resolve_model

    shipped = tmp_path / "models" / "encoder"
    monkeypatch.setattr(embedding, "SHIPPED_MODEL_DIR", shipped)
    assert resolve_model("") == (DEFAULT_MODEL_ID, bundled_model_path())  # none shipped: the bundled model
    shipped.mkdir(parents=True)  # an empty folder (an export that never finished) is not a model
    assert resolve_model("")[0] == DEFAULT_MODEL_ID

    folder = own_folder(tmp_path)
    for item in folder.iterdir():
        (shipped / item.name).symlink_to(item.resolve())
    (shipped / "qa-model.json").write_text(json.dumps({"id": "qa-encoder-0123456789ab"}))
    assert resolve_model("") == ("qa-encoder-0123456789ab", shipped)  # the same id wherever qa is installed
    for name in ("all-MiniLM-L6-v2", DEFAULT_MODEL_ID):
        assert resolve_model(name) == (DEFAULT_MODEL_ID, bundled_model_path())
    default = SentenceTransformerEmbedder(question_model="auto", threads=1)
    assert default.model_id == "qa-encoder-0123456789ab" and default.question_file == shipped / "encoder-int8.onnx"
    assert not default.routing  # no statement encoder in this folder: every query by its export
    assert SentenceTransformerEmbedder(model="all-MiniLM-L6-v2", question_model="auto").routing  # the bundled's own

    (shipped / "qa-model.json").write_text("{not json")
    with pytest.raises(ModelError, match="qa-model.json.*cannot be read.*QA_MODEL=all-MiniLM-L6-v2"):
        resolve_model("")
    (shipped / "qa-model.json").unlink()
    with pytest.raises(ModelError, match="cannot be read"):  # weights without their record: never a silent guess
        resolve_model("")


@pytest.mark.integration
def test_the_shipped_model_is_whole_loads_offline_and_encodes_each_kind_of_query_with_its_own_file(monkeypatch):
    """qa/models/encoder as installed: its record names its weights, each export its own record, and with no hub
    reachable (offline variables set, no network needed) it embeds passages by torch and queries by ONNX."""
    from qa.index.embedding import MODEL_RECORD, SHIPPED_MODEL_DIR, resolve_model

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    record = json.loads((SHIPPED_MODEL_DIR / MODEL_RECORD).read_text())
    weights = sha256_file(SHIPPED_MODEL_DIR / "model.safetensors")
    assert record["weights_sha256"] == weights and record["id"] == "qa-encoder-" + weights[:12]
    for export in ("encoder-int8", "statement-int8"):
        made = json.loads((SHIPPED_MODEL_DIR / f"{export}.json").read_text())
        assert made["model_sha256"] == sha256_file(SHIPPED_MODEL_DIR / f"{export}.onnx")
        assert made["model_weights_sha256"] == weights  # exported from, and trained against, these weights
    assert resolve_model("") == (record["id"], SHIPPED_MODEL_DIR)

    embedder = SentenceTransformerEmbedder(question_model="auto", threads=1)
    embedder.warm_up()
    assert embedder.routing and embedder._model is None  # queries need no torch
    question, claim = "Where does the Nile end?", "Vitamin D deficiency causes bone loss."
    q = embedder.encode_query(question)
    assert not embedder.encodes_as_statement(question) and embedder.encodes_as_statement(claim)
    c = embedder.encode_query(claim)
    passages = embedder.encode([question, claim])  # torch, the index's side
    assert passages.shape == (2, 384) and np.allclose(np.linalg.norm(passages, axis=1), 1, atol=1e-4)
    assert float(q @ passages[0]) > 0.97  # its int8 export agrees with its torch weights
    assert 0.5 < float(c @ passages[1]) < 0.999  # the statement encoder: the same space, its own weights
