"""The trained reader (shipped int8 ONNX model) on hand-made documents: spans with exact offsets,
abstention on an unrelated question, and the fallback to the heuristic reader."""

from __future__ import annotations

import json

import pytest

from conftest import FakeEmbedder, write_docs
from qa.reader import sentence as trained
from qa.config import Settings
from qa.index.embedding import bundled_model_path
from qa.errors import ModelError, SettingsError
from qa.pipeline import Pipeline
from qa.reader import NO_ANSWER, SpanReader, make_reader
from qa.reader.calibration import Calibration
from qa.reader.sentence import ReaderModel, TrainedReader, unavailable

needs_model = pytest.mark.skipif(unavailable(Settings()) is not None,
                                 reason=f"trained reader unavailable: {unavailable(Settings())}")

DOCS = {
    "bridges.txt": "Bridges of Seville\n\nSantiago Calatrava designed the Alamillo Bridge for the Expo. "
    "The Alamillo Bridge opened on 14 March 1992 after four years of work. The builders cast the steel pylon in "
    "one piece because the river bank could not carry a crane.\n",
    "coffee.txt": "Coffee history\n\nCoffee was first cultivated in Yemen in the 15th century. Sufi monks "
    "drank it because it kept them awake during night prayers. Traders later carried the beans to Venice by ship.\n",
}


@pytest.fixture(scope="module")
def model() -> ReaderModel:
    return ReaderModel(trained.MODEL_DIR / trained.MODEL_FILE, bundled_model_path())


@pytest.fixture
def qa(tmp_path) -> Pipeline:
    docs = write_docs(tmp_path / "docs", DOCS)
    return Pipeline(Settings(docs=docs, index=tmp_path / "index", chunk_size=200, chunk_overlap=40, reader="trained"),
                    embedder=FakeEmbedder())


@needs_model
def test_model_marks_the_answer_span_in_a_sentence(model):
    sentence = "The Eiffel Tower was designed by the engineer Gustave Eiffel and opened in 1889."
    probs, spans = model.read_probabilities("In what year did the Eiffel Tower open?", [sentence, "Bananas are yellow."])
    assert sentence[spans[0][0]:spans[0][1]] == "1889"
    assert probs[0] > 0.5 > probs[1]


@needs_model
@pytest.mark.parametrize("question, expected, doc", [
    ("Who designed the Alamillo Bridge?", "Santiago Calatrava", "bridges.txt"),
    ("Where was coffee first cultivated?", "Yemen", "coffee.txt"),
    ("Where did traders carry the coffee beans?", "Venice", "coffee.txt"),
])
def test_trained_reader_answers_with_exact_offsets(qa, question, expected, doc):
    assert isinstance(qa.reader, TrainedReader)
    answer = qa.ask(question)
    assert answer.text == expected and answer.doc == doc
    text = qa.data.document(doc).text
    assert text[answer.start:answer.end] == answer.text
    assert text[answer.sentence_start:answer.sentence_end] == answer.sentence
    assert answer.sentence_start <= answer.start < answer.end <= answer.sentence_end
    cited = answer.citations[answer.cited - 1].passage
    assert cited.doc == doc and cited.start <= answer.start and answer.end <= cited.end


@needs_model
def test_abstains_when_the_passages_do_not_answer(qa):
    answer = qa.ask("What is the boiling point of liquid nitrogen?")
    assert answer.text is None and answer.message == NO_ANSWER
    assert answer.citations  # the passages looked at are still listed


def test_missing_model_files_fall_back_to_the_heuristic_reader_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setattr(trained, "MODEL_DIR", tmp_path)
    with pytest.warns(RuntimeWarning, match="trained reader is unavailable.*missing"):
        reader = make_reader(Settings(reader="trained"))
    assert type(reader) is SpanReader


def test_unknown_reader_is_a_settings_error():
    with pytest.raises(SettingsError, match="unknown reader"):
        Settings(reader="neural")


def test_a_named_reader_model_that_is_missing_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="reader_model .*nowhere.onnx.* cannot be used: no such file"):
        make_reader(Settings(reader="trained", reader_model=str(tmp_path / "nowhere.onnx")))


@pytest.mark.parametrize("content", [b"", b"\x00\xffnot a model at all"])
def test_a_named_reader_model_that_is_not_onnx_is_a_clear_error(tmp_path, content):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(content)
    with pytest.raises(ModelError, match="cannot load the reader model"):  # found when the reader is made
        make_reader(Settings(reader="trained", reader_model=str(bad)))


@needs_model
def test_a_named_reader_model_is_used(tmp_path):
    copy = tmp_path / "my-reader.onnx"
    copy.write_bytes((trained.MODEL_DIR / trained.MODEL_FILE).read_bytes())
    reader = make_reader(Settings(reader="trained", reader_model=str(copy)))
    assert isinstance(reader, TrainedReader) and reader.model_file == copy
    reader.warm_up(None, None)


def test_an_onnx_model_of_another_kind_is_refused(tmp_path):
    """A valid ONNX model with other inputs and outputs is refused."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    path = tmp_path / "identity.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    with pytest.raises(ModelError, match="not a reader model"):
        make_reader(Settings(reader="trained", reader_model=str(path)))


@needs_model
def test_rerank_puts_the_answering_passage_first_and_says_so(tmp_path):
    docs = write_docs(tmp_path / "docs", DOCS)
    base = Settings(docs=docs, index=tmp_path / "index", chunk_size=200, chunk_overlap=40)
    plain = Pipeline(base, embedder=FakeEmbedder())
    reranked = Pipeline(base.replace(rerank=5), embedder=FakeEmbedder())
    question = "Who designed the Alamillo Bridge for the Expo?"
    before, after = plain.search(question, k=3), reranked.search(question, k=3)
    assert all("reranker" not in h.ranks for h in before)
    assert len(after) == 3 and [h.rank for h in after] == [1, 2, 3]
    assert "Calatrava" in after[0].passage.text and after[0].ranks["reranker"] == 1
    assert sorted(h.row for h in after) == sorted({h.row for h in after})  # no passage twice
    assert after[0].score >= after[1].score >= after[2].score


def test_rerank_without_a_model_is_a_clear_error(tmp_path):
    docs = write_docs(tmp_path / "docs", DOCS)
    settings = Settings(docs=docs, index=tmp_path / "index", rerank=5, reader="heuristic",
                        reader_model=str(tmp_path / "none.onnx"))
    qa = Pipeline(settings, embedder=FakeEmbedder())
    with pytest.raises(ModelError, match="rerank needs the trained reader.s model: no such file"):
        qa.search("Who designed the bridge?")


def test_rerank_must_not_be_negative():
    with pytest.raises(SettingsError, match="rerank"):
        Settings(rerank=-1)


# -- calibration (bench/sentence_reader.py calibrate) ----------------------------------------------


class LogitModel:
    """Stands in for the ONNX model: every sentence gets has-answer logit ``logit`` and, as its
    span, the first occurrence of ``answer`` in it (else its first word)."""

    def __init__(self, logit: float, answer: str):
        self.logit, self.answer = logit, answer

    def read_logits(self, question, sentences):
        import numpy as np

        spans = []
        for s in sentences:
            at = s.find(self.answer)
            spans.append((at, at + len(self.answer)) if at >= 0 else (0, s.find(" ")))
        return np.full(len(sentences), self.logit), spans


def calibrated(tmp_path, logit: float, calibration, **settings) -> Pipeline:
    docs = write_docs(tmp_path / "docs", DOCS)
    s = Settings(docs=docs, index=tmp_path / "index", chunk_size=200, chunk_overlap=40, reader="sentence", **settings)
    reader = TrainedReader(s, calibration=calibration)
    reader._model = LogitModel(logit, "Yemen")
    return Pipeline(s, embedder=FakeEmbedder(), reader=reader)


@pytest.mark.parametrize("logit, status", [(6.0, "answer"), (2.0, "tentative"), (-2.0, "none")])
def test_the_calibration_is_applied_at_inference_and_sets_the_answer_state(tmp_path, logit, status):
    import math

    c = Calibration(has_answer=0.5, bias=-1.0, answer=0.6, tentative=0.2)
    answer = calibrated(tmp_path, logit, c).ask("Where was coffee first cultivated?")
    p = 1 / (1 + math.exp(-(0.5 * logit - 1.0)))  # 0.88, 0.5, 0.12
    assert answer.confidence == pytest.approx(p)
    assert answer.status == status
    assert (answer.text == "Yemen") == (status != "none")


def test_threshold_settings_override_the_sentence_readers_calibration(tmp_path):
    c = Calibration(has_answer=0.5, bias=-1.0, answer=0.6, tentative=0.2)
    qa = calibrated(tmp_path, -2.0, c, abstain_threshold=0.1, answer_threshold=0.95)
    assert qa.ask("Where was coffee first cultivated?").status == "tentative"  # 0.12: above 0.1, below 0.95


def test_the_calibration_is_read_from_beside_the_model_and_is_the_raw_probability_without_one(tmp_path):
    model = tmp_path / "mine.onnx"
    model.write_bytes(b"")
    s = Settings(docs=tmp_path, index=tmp_path / "index")
    reader = TrainedReader(s, model_file=model)
    assert reader.calibration == trained.UNCALIBRATED and (reader.answer_threshold, reader.threshold) == (0.85, 0.5)
    model.with_suffix(".json").write_text(json.dumps({"calibration": {"has_answer": 0.8, "span": 0.0,
                                                                     "bias": -1.4, "tentative": 0.03}}))
    reader = TrainedReader(s, model_file=model)
    assert reader.calibration == Calibration(has_answer=0.8, bias=-1.4, answer=0.85, tentative=0.03)
    # the shipped model carries the calibration fitted on SQuADShifts, with the command that fitted it
    shipped = json.loads((trained.MODEL_DIR / trained.MODEL_FILE).with_suffix(".json").read_text())["calibration"]
    assert shipped["fitted_by"].startswith("python bench/sentence_reader.py calibrate")
    assert TrainedReader(Settings()).calibration == Calibration(shipped["has_answer"], 0.0, shipped["bias"],
                                                                shipped["answer"], shipped["tentative"])
