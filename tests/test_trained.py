"""The trained reader (shipped int8 ONNX model) on hand-made documents: spans with exact offsets,
abstention on an unrelated question, and the fallback to the heuristic reader."""

from __future__ import annotations

import pytest

from conftest import FakeEmbedder, write_docs
from qa import trained
from qa.config import Settings
from qa.embedding import bundled_model_path
from qa.errors import SettingsError
from qa.pipeline import Pipeline
from qa.reader import NO_ANSWER, SpanReader, make_reader
from qa.trained import ReaderModel, TrainedReader, unavailable

needs_model = pytest.mark.skipif(unavailable() is not None, reason=f"trained reader unavailable: {unavailable()}")

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
    probs, spans = model.predict("In what year did the Eiffel Tower open?", [sentence, "Bananas are yellow."])
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
