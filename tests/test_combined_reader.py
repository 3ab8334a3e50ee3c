"""The combined reader without its models: both models' log-probabilities summed, a span both like
winning over one only one of them likes, the sentence model reading the index's sentences, answers
across sentences and in a later passage, the three states, the record's weights and calibration,
and what happens when a model is missing or the user names one. (The shipped models together:
tests/test_passage_model.py.)"""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import FakeEmbedder, write_docs
from qa.config import Settings
from qa.errors import ModelError
from qa.pipeline import Pipeline
from qa.reader import SpanReader, make_reader
from qa.reader import combined as combined_module
from qa.reader import sentence as sentence_module
from qa.reader.calibration import Calibration
from qa.reader.combined import CombinedModel, CombinedReader, Weights, combine, log_softmax, top_spans
from qa.reader.sentence import encode_pairs

from test_passage_reader import DOCS, TOKENIZER, StubModel


class StubSentences:
    """The sentence model's interface: logits that point at ``target`` in whichever sentence
    holds it, that sentence's has-answer logit ``has``, every other sentence's -``has``."""

    def __init__(self, target: str, has: float = 4.0):
        self.tokenizer = TOKENIZER
        self.target, self.has = target, has
        self.read: list[str] = []

    def logits(self, question, sentences):
        self.read += sentences
        batch = encode_pairs(self.tokenizer, [question] * len(sentences), sentences)
        start, end = np.zeros(batch.input_ids.shape), np.zeros(batch.input_ids.shape)
        has = np.full(len(sentences), -self.has)
        for r, text in enumerate(sentences):
            at = text.find(self.target)
            if at < 0:
                continue
            toks = np.flatnonzero(batch.context[r])
            first = [t for t in toks if batch.offsets[r][t][0] == at]
            last = [t for t in toks if batch.offsets[r][t][1] == at + len(self.target)]
            if first and last:
                start[r, first[0]], end[r, last[0]], has[r] = 8.0, 8.0, self.has
        return batch, start, end, has


def pipeline(tmp_path, passage_target, sentence_target, has=4.0, calibration=None, **settings):
    docs = write_docs(tmp_path / "docs", DOCS)
    s = Settings(docs=docs, index=tmp_path / "index", reader="combined", **settings)
    sentences = StubSentences(sentence_target, has)
    model = CombinedModel(StubModel(passage_target, has), sentences, Weights(alpha=0.5))
    reader = CombinedReader(s, record=tmp_path / "no-record.json", model=model)
    if calibration:
        reader.calibration = calibration
    return Pipeline(s, embedder=FakeEmbedder(), reader=reader), sentences


def test_log_softmax_and_the_likeliest_spans():
    mask = np.array([False, True, True, True])
    ls = log_softmax(np.array([50.0, 1.0, 1.0, 1.0]), mask)
    assert ls[0] == float("-inf") and np.allclose(np.exp(ls[1:]), 1 / 3)  # the masked 50 takes no share
    spans = top_spans(np.array([0.0, 5.0, 0.0, 0.0]), np.array([0.0, 0.0, 0.0, 5.0]), mask, max_len=3, k=4)
    assert spans[0][:2] == (1, 3)  # the likeliest: both peaks
    assert len(spans) == 4 and all(a <= b < a + 3 for a, b, _ in spans)
    assert [s for *_, s in spans] == sorted((s for *_, s in spans), reverse=True)
    assert spans[0][2] == pytest.approx(float(log_softmax(np.array([0, 5.0, 0, 0]), mask)[1]) * 2)
    assert top_spans(np.zeros(3), np.zeros(3), np.zeros(3, dtype=bool), 3, 5) == []


def test_combine_sums_the_shares_and_floors_what_one_model_did_not_propose():
    got = combine({"both": -1.0, "passage only": -0.5}, {"both": -1.0, "sentence only": -0.2}, Weights(alpha=0.3))
    floor_p, floor_s = -1.0 - combined_module.FLOOR, -1.0 - combined_module.FLOOR
    assert got["both"] == pytest.approx(-1.0)
    assert got["passage only"] == pytest.approx(0.3 * -0.5 + 0.7 * floor_s)
    assert got["sentence only"] == pytest.approx(0.3 * floor_p + 0.7 * -0.2)
    assert max(got, key=got.get) == "both"  # liked by both beats the favourite of either alone
    assert combine({"a": -2.0}, {}, Weights(alpha=0.3)) == {"a": pytest.approx(0.3 * -2.0 + 0.7 * -combined_module.FLOOR)}


def test_the_span_both_models_like_wins(tmp_path):
    qa, _ = pipeline(tmp_path, "Lisbon", "Lisbon")
    answer = qa.ask("Where did the ship leave from?")
    assert answer.text == "Lisbon" and answer.status == "answer"
    assert answer.citations[answer.cited - 1].passage.doc == "voyage.txt"
    doc = qa.data.document(answer.doc)
    assert doc.text[answer.start:answer.end] == "Lisbon" and answer.sentence == "The ship left Lisbon in 1502."


def test_when_the_models_disagree_the_weights_decide():
    passages = ["The ship left Lisbon in 1502. It reached the Azores in June."]

    def best(alpha):
        model = CombinedModel(StubModel("Lisbon"), StubSentences("the Azores"), Weights(alpha=alpha))
        sp = model.spans("Where?", passages)[0]
        return passages[0][sp.start: sp.end]

    assert best(0.8) == "Lisbon" and best(0.2) == "the Azores"


def test_the_sentence_model_reads_the_indexs_sentences_of_the_passages_read(tmp_path):
    qa, sentences = pipeline(tmp_path, "Lisbon", "Lisbon", read_passages=2)
    qa.ask("Where did the ship leave from?")
    data = qa.data
    index_sentences = {data.documents[int(d)].text[int(s):int(e)] for _, d, s, e in data.sentences}
    assert sentences.read and set(sentences.read) <= index_sentences
    assert "The crew numbered forty men." in sentences.read


def test_a_long_answer_across_two_sentences_comes_from_the_passage_model(tmp_path):
    target = "It carried spices, silk and porcelain from Goa, and it reached the Azores in June. The crew"
    qa, _ = pipeline(tmp_path, target, "no sentence holds this")
    answer = qa.ask("What did the ship carry and where did it go?")
    assert answer.text == target
    assert answer.sentence.startswith("It carried spices") and answer.sentence.endswith("forty men.")


def test_an_answer_in_the_second_window_of_a_long_passage(tmp_path):
    qa, _ = pipeline(tmp_path, "Zanzibar archipelago", "Zanzibar archipelago", chunk_size=20000, chunk_overlap=0)
    answer = qa.ask("Where was the treasure buried?")
    assert answer.text == "Zanzibar archipelago" and answer.citations[0].passage.doc == "ledger.txt"


@pytest.mark.parametrize("has, status", [(4.0, "answer"), (0.0, "tentative"), (-4.0, "none")])
def test_three_answer_states_from_the_calibrated_confidence(tmp_path, has, status):
    qa, _ = pipeline(tmp_path, "Lisbon", "Lisbon", has=has,
                     calibration=Calibration(has_answer=1.0, answer=0.8, tentative=0.3))
    answer = qa.ask("Where did the ship leave from?")
    assert answer.status == status and (answer.text is None) == (status == "none")


def test_calibration_is_applied_to_the_combined_features(tmp_path):
    """has-answer = alpha x window logit + (1 - alpha) x sentence logit; the span's score is the combined one."""
    cal = Calibration(has_answer=0.5, span=1.0, bias=1.0, answer=0.9, tentative=0.1)
    qa, _ = pipeline(tmp_path, "Lisbon", "Lisbon", has=2.0, calibration=cal)
    answer = qa.ask("Where did the ship leave from?")
    model = qa.reader.model
    passages = [h.passage.text for h in qa.search("Where did the ship leave from?", k=3)]
    best = max(model.spans("Where did the ship leave from?", passages), key=lambda sp: sp.score - cal.rank * sp.passage)
    assert best.has_answer == pytest.approx(2.0)  # both models' logit for it is 2
    assert answer.confidence == pytest.approx(cal.confidence(2.0, best.score))


def test_weights_and_calibration_are_read_from_the_record(tmp_path):
    record = tmp_path / "combined.json"
    assert Weights.read(record) == Weights()
    record.write_text(json.dumps({"weights": {"alpha": 0.6, "sentence_weight": 2, "fitted_by": "x"},
                                  "calibration": {"has_answer": 0.4, "span": 0.2, "bias": -1, "tentative": 0.1}}))
    assert Weights.read(record) == Weights(alpha=0.6, sentence_weight=2.0)
    reader = CombinedReader(Settings(reader="combined"), record=record)
    assert reader.weights == Weights(0.6, 2.0) and reader.calibration == Calibration(0.4, 0.2, -1.0, tentative=0.1)
    record.write_text("{damaged")
    assert Weights.read(record) == Weights() and CombinedReader(Settings(), record=record).calibration == Calibration()


def test_the_shipped_record_holds_chosen_weights_and_a_calibration():
    record = json.loads(combined_module.RECORD.read_text(encoding="utf-8"))
    assert "fitted_by" in record["weights"] and "fitted_by" in record["calibration"]
    assert 0 < Weights.read().alpha < 1
    cal = Calibration.read(combined_module.RECORD)
    assert 0 < cal.tentative <= cal.answer < 1


def test_make_reader_gives_the_combined_reader(tmp_path):
    reader = make_reader(Settings(reader="combined"))
    assert isinstance(reader, CombinedReader) and isinstance(reader.model, CombinedModel)


def test_a_missing_model_falls_back_to_the_heuristic_reader_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setattr(sentence_module, "MODEL_DIR", tmp_path)  # the passage model is there, the sentence model not
    with pytest.warns(RuntimeWarning, match="reader-int8.onnx' is missing"):
        assert isinstance(make_reader(Settings(reader="combined")), SpanReader)


def test_a_model_the_user_names_needs_a_single_model_reader(tmp_path):
    with pytest.raises(ModelError, match="reads with both bundled ones: set the reader to passage or sentence"):
        make_reader(Settings(reader="combined", reader_model=str(tmp_path / "mine.onnx")))


def test_likeliest_sentences_follow_the_passage_models_best_spans():
    rows = [(0, 0, 10), (0, 11, 20), (0, 21, 30), (1, 0, 9)]
    spans = {(0, 12, 15): -1.0, (1, 2, 4): -0.5, (0, 0, 25): -4.0}
    assert combined_module.likeliest_sentences(rows, spans, 2) == [(0, 11, 20), (1, 0, 9)]  # reading order
    assert combined_module.likeliest_sentences(rows, spans, 3) == [(0, 0, 10), (0, 11, 20), (1, 0, 9)]
    assert combined_module.likeliest_sentences(rows, {}, 2) == rows[:2]  # no span: the first ones


def test_the_sentence_model_reads_at_most_read_sentences():
    passage = "The ship left Lisbon in 1502. It carried spices. The crew numbered forty. It reached the Azores."
    sentences = StubSentences("Lisbon")
    model = CombinedModel(StubModel("Lisbon"), sentences, Weights(alpha=0.5, read_sentences=2))
    best = model.spans("Where did the ship leave from?", [passage])[0]
    assert passage[best.start: best.end] == "Lisbon"
    assert len(sentences.read) == 2 and "The ship left Lisbon in 1502." in sentences.read
    sentences.read.clear()
    model.weights = Weights(alpha=0.5, read_sentences=0)
    model.spans("Where did the ship leave from?", [passage])
    assert len(sentences.read) == 4


def test_the_shipped_models_answer_together(tmp_path):
    docs = write_docs(tmp_path / "docs", DOCS)
    s = Settings(docs=docs, index=tmp_path / "index", reader="combined")
    qa = Pipeline(s, embedder=FakeEmbedder())
    assert isinstance(qa.reader, CombinedReader)
    answer = qa.ask("Which city did the ship leave in 1502?")
    assert answer.text == "Lisbon" and answer.status in ("answer", "tentative")
    assert answer.citations[answer.cited - 1].passage.doc == "voyage.txt"
    assert 0.0 < answer.confidence <= 1.0
