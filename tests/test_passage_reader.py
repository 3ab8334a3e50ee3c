"""The passage reader without its model: windows and their offsets, decoding of hand-built
logits, answers in a later window or across sentences, the three answer states, calibration, and
falling back to the heuristic reader. (The shipped model itself: tests/test_passage_model.py.)"""

from __future__ import annotations

import json
from dataclasses import replace
import warnings

import numpy as np
import pytest

from conftest import FakeEmbedder, write_docs
from qa.config import Settings
from qa.index.embedding import bundled_model_path
from qa.errors import ModelError
from qa.pipeline import Pipeline
from qa.reader import SpanReader, make_reader
from qa.reader import passage as passage_module
from qa.reader.passage import Calibration, PassageModel, PassageReader, choose
from qa.reader.windows import best_spans, encode, load_tokenizer, markup_chars, window_starts

TOKENIZER = load_tokenizer(bundled_model_path())

FILLER = " ".join(f"Item {i} of the inventory was counted twice by the night staff." for i in range(60))
LONG = (FILLER + " The treasure was buried on the Zanzibar archipelago by the captain's crew. "
        "Nobody found it again.")
DOCS = {
    "ledger.txt": "Ledger\n\n" + LONG + "\n",
    "voyage.txt": "Voyage\n\nThe ship left Lisbon in 1502. It carried spices, silk and porcelain from Goa, "
    "and it reached the Azores in June. The crew numbered forty men.\n",
}


class StubModel(PassageModel):
    """The real windows, and logits that point at the first occurrence of ``target`` in whichever
    passage holds it (start and end tokens), with a has-answer logit of ``has``."""

    def __init__(self, target: str, has: float = 4.0):
        self.tokenizer = TOKENIZER
        self.target = target
        self.has = has

    def logits(self, question, passages, max_windows=4, sentences=None):
        windows = encode(self.tokenizer, [question], passages, max_windows=max_windows, sentences=sentences)
        start = np.zeros(windows.input_ids.shape)
        end = np.zeros(windows.input_ids.shape)
        for w in range(len(windows)):
            text = passages[windows.owner[w]]
            at = text.find(self.target)
            if at < 0:
                continue
            ctx = np.flatnonzero(windows.context[w])
            off = windows.offsets[w]
            first = [t for t in ctx if off[t, 0] == at]
            last = [t for t in ctx if off[t, 1] == at + len(self.target)]
            if first and last:
                start[w, first[0]] = 8.0
                end[w, last[0]] = 8.0
        return windows, start, end, np.full(len(windows), self.has)


def pipeline(tmp_path, model, **settings) -> Pipeline:
    docs = write_docs(tmp_path / "docs", DOCS)
    s = Settings(docs=docs, index=tmp_path / "index", **settings)
    reader = PassageReader(s, model=model, calibration=Calibration(answer=0.8, tentative=0.3))
    return Pipeline(s, embedder=FakeEmbedder(), reader=reader)


def test_window_starts_cover_the_passage_with_the_stride():
    assert window_starts(10, 4, 2) == [0, 2, 4, 6]
    assert window_starts(4, 4, 2) == [0]
    starts = window_starts(1000, 300, 128)
    assert starts[0] == 0 and starts[-1] == 700
    assert all(b - a <= 300 - 128 for a, b in zip(starts, starts[1:]))


def test_windows_keep_exact_character_offsets():
    windows = encode(TOKENIZER, ["Where was the treasure buried?"], [LONG])
    assert len(windows) > 1  # the passage is longer than one window
    assert windows.input_ids.shape[1] <= 384
    for w in range(len(windows)):
        for t in np.flatnonzero(windows.context[w]):
            a, b = windows.offsets[w, t]
            piece = TOKENIZER.id_to_token(int(windows.input_ids[w, t])).removeprefix("##")
            assert LONG[a:b].lower() == piece or piece == "[UNK]"


def test_best_spans_masks_non_context_tokens_and_limits_the_length():
    start = np.array([[9.0, 1.0, 0.0, 0.0, 0.0]])
    end = np.array([[9.0, 0.0, 0.0, 0.0, 2.0]])
    ctx = np.array([[False, True, True, True, True]])
    assert best_spans(start, end, ctx) == [(1, 4, 3.0)]  # the [CLS] token's 18 is not a span
    assert best_spans(start, end, ctx, max_len=2) == [(3, 4, 2.0)]  # (1, 4) is three tokens long
    assert best_spans(end, start, ctx)[0][:2] == (4, 4)  # never end before start
    assert best_spans(start, end, np.zeros_like(ctx))[0][2] == float("-inf")


TABLE = ("## Supplies\n\n| Item | Quantity per month | Supplier |\n|------|------|------|\n"
         "| Kerosene | 120 litres | Harbor Oil Co. |\n| Wicks | 15 | Brandt & Sons |\n\nThe keeper orders them by post.")


def test_markup_and_blank_lines_are_walls_no_answer_crosses():
    windows = encode(TOKENIZER, ["Who supplies kerosene?"], [TABLE])
    ctx = np.flatnonzero(windows.context[0])
    pieces = [TABLE[a:b] for a, b in windows.offsets[0, ctx]]
    markup = [TABLE[a:b] for a, b in windows.offsets[0, ctx[windows.markup[0, ctx]]]]
    assert markup.count("#") == 2 and markup.count("|") == 16
    assert "".join(markup).count("-") == 18  # the row of dashes under the header
    assert {"Item", "Supplier"} <= set(markup)  # the header's column names are labels, not answers
    chars = markup_chars(TABLE)
    for cell in ("Kerosene", "120 litres", "Harbor Oil Co.", "Wicks", "15", "Brandt & Sons", "The keeper orders"):
        at = TABLE.index(cell, TABLE.index("|---"))
        assert not chars[at:at + len(cell)].any(), cell  # the cells and the text are all answerable
    walled = [TABLE[a:b] for a, b in windows.offsets[0, ctx[windows.walls[0, ctx]]]]
    assert "The" in walled  # a blank line before "The keeper"
    # logits that would pick "Harbor Oil Co. |\n| Wicks | 15 | Brandt & Sons" across two rows: the decoder may not
    start = np.zeros(windows.input_ids.shape)
    end = np.zeros(windows.input_ids.shape)
    start[0, ctx[pieces.index("Harbor")]] = 8.0
    end[0, ctx[pieces.index("Sons")]] = 8.0
    (a, b, _), = best_spans(start, end, windows.context)
    assert (windows.offsets[0, a, 0], windows.offsets[0, b, 1]) == (TABLE.index("Harbor"), TABLE.index(" |\n\n"))
    (a, b, _), = best_spans(start, end, windows.context, walls=windows.walls, markup=windows.markup)
    answer = TABLE[windows.offsets[0, a, 0]:windows.offsets[0, b, 1]]
    assert answer and (answer in "Harbor Oil Co." or answer in "Brandt & Sons")  # inside one cell


def test_the_reader_answers_from_one_table_cell(tmp_path):
    class Across(StubModel):  # points from the header's "Supplier" to the last row's "Co"
        def logits(self, question, passages, max_windows=4, sentences=None):
            windows, start, end, has = super().logits(question, passages, max_windows, sentences)
            for w in range(len(windows)):
                text = passages[windows.owner[w]]
                for t in np.flatnonzero(windows.context[w]):
                    a, b = windows.offsets[w, t]
                    if text[a:b] == "Supplier":
                        start[w, t] = 8.0
                    if text[a:b] == "Harbor":
                        start[w, t] = 6.0
                    if text[a:b] == "Co":
                        end[w, t] = 8.0
            return windows, start, end, has

    docs = write_docs(tmp_path / "docs", {"handbook.md": "# Handbook\n\n" + TABLE + "\n"})
    s = Settings(docs=docs, index=tmp_path / "index")
    reader = PassageReader(s, model=Across("nothing here"), calibration=Calibration(answer=0.8, tentative=0.3))
    answer = Pipeline(s, embedder=FakeEmbedder(), reader=reader).ask("Who supplies kerosene?")
    assert answer.text == "Harbor Oil Co"


@pytest.mark.parametrize("target, table", [("120 litres", True), ("by post", False)])
def test_an_answer_read_from_a_table_is_at_most_a_possible_one_and_says_why(tmp_path, target, table):
    """The reader often takes a neighbouring row's or column's cell: a sure answer from a table is shown as a
    possible one, its confidence unchanged, with the reason; prose beside the table is answered as before."""
    from qa.reader.answers import FROM_A_TABLE
    from qa.web.render import confidence_note, render_answer

    docs = write_docs(tmp_path / "docs", {"handbook.md": "# Handbook\n\n" + TABLE + "\n"})
    s = Settings(docs=docs, index=tmp_path / "index")
    reader = PassageReader(s, model=StubModel(target), calibration=Calibration(answer=0.8, tentative=0.3))
    answer = Pipeline(s, embedder=FakeEmbedder(), reader=reader).ask("How much kerosene is used a month?")
    assert answer.text == target and answer.confidence > 0.8
    assert (answer.status, answer.message) == (("tentative", FROM_A_TABLE) if table else ("answer", None))
    if table:
        assert "read from a table" in confidence_note(answer) and "below what" not in confidence_note(answer)
        assert "Possible answer" in render_answer(answer, question="q")


def test_an_answer_in_the_second_window_of_a_long_passage(tmp_path):
    qa = pipeline(tmp_path, StubModel("Zanzibar archipelago"), chunk_size=20000, chunk_overlap=0)
    answer = qa.ask("Where was the treasure buried?")
    assert answer.text == "Zanzibar archipelago"
    doc = qa.data.document(answer.doc)
    assert doc.text[answer.start:answer.end] == answer.text
    assert "buried on the Zanzibar archipelago" in answer.sentence
    assert answer.cited == 1 and answer.citations[0].passage.doc == "ledger.txt"
    windows = encode(TOKENIZER, ["Where was the treasure buried?"], [answer.citations[0].passage.text])
    assert len(windows) >= 2


def test_a_long_answer_across_two_sentences_is_returned_whole(tmp_path):
    target = "It carried spices, silk and porcelain from Goa, and it reached the Azores in June. The crew"
    qa = pipeline(tmp_path, StubModel(target))
    answer = qa.ask("What did the ship carry and where did it go?")
    assert answer.text == target
    assert answer.sentence.startswith("It carried spices") and answer.sentence.endswith("forty men.")
    doc = qa.data.document(answer.doc)
    assert doc.text[answer.sentence_start:answer.sentence_end] == answer.sentence


@pytest.mark.parametrize("target, text", [
    ("“we became their prisoners", "we became their prisoners"),  # its closing mark is not in the span
    ("“we became their prisoners rather than they ours”", "“we became their prisoners rather than they ours”"),
    ("(the Black Emporium", "the Black Emporium"),
    ("Mi-35M nor Mi-28 helicopters,", "Mi-35M nor Mi-28 helicopters"),
    ("interest [in Syria", "interest [in Syria]"),  # cut inside a bracket closed right after: closed with it
    ("AQAP) in Yemen", "(AQAP) in Yemen"),
    ('said "yes', 'said "yes"'),
])
def test_an_answer_leaves_out_an_unpaired_quotation_mark_and_a_clause_mark_at_its_edges(tmp_path, target, text):
    docs = write_docs(tmp_path / "docs", {"memo.txt": "Memo\n\nKomer said “we became their prisoners rather than "
                                          "they ours” after the war. They went to (the Black Emporium) at night. "
                                          "Neither Mi-35M nor Mi-28 helicopters, as agreed, were delivered. Iran has "
                                          "interest [in Syria] still. The group (AQAP) in Yemen grew. He said "
                                          '"yes" twice.\n'})
    s = Settings(docs=docs, index=tmp_path / "index")
    reader = PassageReader(s, model=StubModel(target), calibration=Calibration(answer=0.8, tentative=0.3))
    qa = Pipeline(s, embedder=FakeEmbedder(), reader=reader)
    answer = qa.ask("What did Komer say?")
    assert answer.text == text
    assert qa.data.document(answer.doc).text[answer.start:answer.end] == text


@pytest.mark.parametrize("target", ["150", "Name12", "senior"])  # in its last, middle and first part
def test_the_quote_of_an_answer_in_a_long_sentence_is_the_whole_sentence_not_its_last_part(tmp_path, target):
    """The index cuts a sentence over 600 characters into parts; the answer's quote was its last part alone
    ("for a total of 150 in April alone."), which says nothing of what the 150 are."""
    officers = ", ".join(f"General Name{i} (head of the branch in District{i})" for i in range(22))
    long = (f"The April purge removed many senior intelligence officers, including {officers} and many others, "
            "for a total of 150 in April alone.")
    assert len(long) > 1200  # three parts
    text = f"Memo\n\nThe year began quietly. {long} The majority of those removed were replaced.\n"
    docs = write_docs(tmp_path / "docs", {"memo.txt": text})
    s = Settings(docs=docs, index=tmp_path / "index")
    reader = PassageReader(s, model=StubModel(target), calibration=Calibration(answer=0.8, tentative=0.3))
    qa = Pipeline(s, embedder=FakeEmbedder(), reader=reader)
    parts = [text[a:b] for a, b in {(int(r[2]), int(r[3])) for r in qa.data.sentences}]
    assert "for a total of 150 in April alone." in [p[-34:] for p in parts] and long not in parts  # the index cut it
    answer = qa.ask("How many officers were removed?")
    assert answer.text == target
    assert answer.sentence == long  # whole: neither the sentence before nor the one after
    assert text[answer.sentence_start:answer.sentence_end] == long


@pytest.mark.parametrize("has, status", [(4.0, "answer"), (0.0, "tentative"), (-4.0, "none")])
def test_three_answer_states_from_the_calibrated_confidence(tmp_path, has, status):
    qa = pipeline(tmp_path, StubModel("Lisbon", has=has))
    answer = qa.ask("Where did the ship leave from?")
    assert answer.status == status
    assert (answer.text is None) == (status == "none")
    assert answer.to_dict()["status"] == status
    if status == "none":
        assert answer.citations and answer.message
    else:
        assert answer.text == "Lisbon" and answer.citations[answer.cited - 1].passage.doc == "voyage.txt"


def test_threshold_settings_override_the_calibration(tmp_path):
    qa = pipeline(tmp_path, StubModel("Lisbon", has=4.0), answer_threshold=1.0, abstain_threshold=0.0)
    assert qa.ask("Where did the ship leave from?").status == "tentative"


def test_calibration_is_applied_at_inference(tmp_path):
    calibration = Calibration(has_answer=0.5, span=0.25, bias=-3.0)
    # the stub's best span scores 8 + 8 = 16 with has-answer logit 2: z = 1 + 4 - 3 = 2
    assert calibration.confidence(2.0, 16.0) == pytest.approx(1 / (1 + np.exp(-2.0)))
    docs = write_docs(tmp_path / "docs", DOCS)
    s = Settings(docs=docs, index=tmp_path / "index")
    reader = PassageReader(s, model=StubModel("Lisbon", has=2.0), calibration=calibration)
    answer = Pipeline(s, embedder=FakeEmbedder(), reader=reader).ask("Where did the ship leave from?")
    assert answer.confidence == pytest.approx(1 / (1 + np.exp(-2.0)))


def test_calibration_is_read_from_beside_the_model(tmp_path):
    model = tmp_path / "mine.onnx"
    model.write_bytes(b"")
    assert Calibration.beside(model) == Calibration()  # none there: identity on the has-answer logit
    model.with_suffix(".json").write_text(json.dumps({"calibration": {"has_answer": 0.7, "span": 0.1, "bias": -1,
                                                                     "answer": 0.6, "tentative": 0.25,
                                                                     "rank": 0.8}}))
    assert Calibration.beside(model) == Calibration(0.7, 0.1, -1.0, 0.6, 0.25, 0.8)
    model.with_suffix(".json").write_text("not json")
    assert Calibration.beside(model) == Calibration()


def test_choose_takes_the_best_span_over_all_windows():
    spans = [passage_module.WindowSpan(1, 5, 9, 12.0, -1.0), passage_module.WindowSpan(0, 0, 4, 3.0, 5.0)]
    best, confidence = choose(spans, Calibration())
    assert best.passage == 1 and confidence == pytest.approx(1 / (1 + np.exp(1.0)))
    assert choose([], Calibration()) == (None, 0.0)


def test_the_retrievals_order_weighs_in_as_the_calibration_says():
    """A span of the third passage retrieved must beat one of the first by more than 2 x ``rank``."""
    first, third = passage_module.WindowSpan(0, 0, 4, 10.0, 1.0), passage_module.WindowSpan(2, 5, 9, 12.0, 2.0)
    assert choose([third, first], Calibration(rank=0.0))[0] is third
    assert choose([third, first], Calibration(rank=0.9))[0] is third
    best, confidence = choose([third, first], Calibration(has_answer=1.0, rank=1.1))
    assert best is first and confidence == pytest.approx(1 / (1 + np.exp(-1.0)))  # its own has-answer logit


def test_a_missing_bundled_model_falls_back_to_the_heuristic_reader(tmp_path, monkeypatch):
    monkeypatch.setattr(passage_module, "MODEL_DIR", tmp_path)
    with pytest.warns(RuntimeWarning, match="passage-int8.onnx' is missing"):
        assert isinstance(make_reader(Settings(reader="passage")), SpanReader)


def test_a_damaged_bundled_model_falls_back_with_a_warning(tmp_path, monkeypatch):
    (tmp_path / "passage-int8.onnx").write_bytes(b"\x08\x01garbage")
    monkeypatch.setattr(passage_module, "MODEL_DIR", tmp_path)
    with pytest.warns(RuntimeWarning, match="cannot load the reader model"):
        assert isinstance(make_reader(Settings(reader="passage")), SpanReader)


def test_a_damaged_model_the_user_named_is_an_error(tmp_path):
    bad = tmp_path / "mine.onnx"
    bad.write_bytes(b"garbage")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ModelError, match="cannot load the reader model"):
            make_reader(Settings(reader="passage", reader_model=str(bad)))


def test_the_passages_read_are_shown_in_the_readers_order():
    """Read passages by their best confidence over their windows (ties as retrieved), the rest after them."""
    from qa.types import Hit

    hits = [Hit(passage=f"p{i}", score=1.0 - i / 10, rank=i + 1, mode="hybrid", ranks={"bm25": i + 1})
            for i in range(5)]
    spans = [passage_module.WindowSpan(0, 0, 4, 1.0, -2.0), passage_module.WindowSpan(2, 0, 4, 1.0, 3.0),
             passage_module.WindowSpan(2, 5, 9, 1.0, 1.0), passage_module.WindowSpan(1, 0, 4, 1.0, 0.0)]
    ordered, where = passage_module.order_by_reader(hits, spans, 3, Calibration())
    assert [h.passage for h in ordered] == ["p2", "p1", "p0", "p3", "p4"]
    assert [h.rank for h in ordered] == [1, 2, 3, 4, 5] and where == [2, 1, 0]
    assert ordered[0].ranks == {"bm25": 3, "reader": 1} and "reader" not in ordered[3].ranks
    assert ordered[0].score == hits[2].score  # the retrieval's score is kept
    tie, _ = passage_module.order_by_reader(hits, [], 3, Calibration())  # no spans: retrieval order
    assert [h.passage for h in tie] == [h.passage for h in hits]


def test_the_answers_passage_leads_the_evidence_whatever_retrieval_said(tmp_path):
    qa = pipeline(tmp_path, StubModel("Lisbon"), read_passages=2)
    question = "Where was the treasure buried by the captain's crew, and where did the ship leave from?"
    assert [h.passage.doc for h in qa.search(question, k=2)] == ["ledger.txt", "voyage.txt"]  # retrieval's order
    for ordered in (True, False):
        qa.reader.order_evidence = ordered
        answer = qa.ask(question, k=2)
        assert answer.text == "Lisbon" and [h.passage.doc for h in answer.citations] == ["voyage.txt", "ledger.txt"]
        assert ("reader" in answer.citations[0].ranks) == ordered


class ShapeSession:
    """An ONNX session stand-in that records the shapes it is fed and gives per-token logits equal
    to the token ids, and the row's token count as its has-answer logit."""

    def __init__(self):
        self.fed = []

    def run(self, names, feed):
        ids = feed["input_ids"]
        self.fed.append(ids.shape)
        return [ids.astype(np.float32), -ids.astype(np.float32), feed["attention_mask"].sum(1, keepdims=True)]


def test_each_window_is_run_alone_without_its_padding():
    from qa.reader.runtime import run_rows

    windows = encode(TOKENIZER, ["Where?"], ["A short one.", "A somewhat longer passage with more words in it."])
    session = ShapeSession()
    start, end, has = run_rows(session, windows.feed(), ["start_logits", "end_logits", "has_answer"])
    lengths = windows.attention_mask.sum(1)
    assert session.fed == [(1, int(n)) for n in lengths]  # one row at a time, cut to its own tokens
    assert start.shape == end.shape == windows.input_ids.shape and has.reshape(-1).tolist() == lengths.tolist()
    short = int(lengths.min())
    row = int(np.argmin(lengths))
    assert (start[row, :short] == windows.input_ids[row, :short]).all()
    assert (start[row, short:] == -1e4).all() and (end[row, short:] == -1e4).all()  # padding never wins a span


@pytest.mark.integration
def test_a_windows_logits_do_not_depend_on_the_others_read_with_it():
    """The int8 model quantises activations per tensor: in one padded batch, a short passage's logits
    moved with its neighbours and the padding. Read window by window, they are its own."""
    from qa.reader.passage import MODEL_DIR, MODEL_FILE

    model = PassageModel(MODEL_DIR / MODEL_FILE, bundled_model_path())
    question = "What did the ship carry?"
    short = DOCS["voyage.txt"].split("\n\n", 1)[1]
    alone = model.logits(question, [short])
    together = model.logits(question, [short, LONG])
    n = int(alone[0].attention_mask[0].sum())
    assert np.array_equal(alone[1][0, :n], together[1][0, :n]) and alone[3][0] == together[3][0]
    assert model.spans(question, [short])[0].start == model.spans(question, [short, FILLER])[0].start


@pytest.mark.integration
def test_the_reader_runs_on_the_read_threads_setting_with_the_same_logits(tmp_path):
    """``read_threads`` sets the model's threads (without spin-waiting, so a busy core is not held);
    the logits are the one-thread logits, so the calibration still holds."""
    from qa.reader.passage import MODEL_DIR, MODEL_FILE

    reader = PassageReader(Settings(docs=tmp_path, index=tmp_path / "index", read_threads=2))
    options = reader.model.session.get_session_options()
    assert options.intra_op_num_threads == 2
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    one = PassageModel(MODEL_DIR / MODEL_FILE, bundled_model_path(), threads=1)
    question, passages = "What did the ship carry?", [DOCS["voyage.txt"], LONG]
    for a, b in zip(one.logits(question, passages)[1:], reader.model.logits(question, passages)[1:]):
        assert np.array_equal(a, b)


class CountingModel(StubModel):
    """:class:`StubModel` that records how many passages each call reads, with a has-answer logit
    of ``-has`` in windows without the target."""

    def __init__(self, target: str, has: float = 4.0):
        super().__init__(target, has)
        self.calls = []

    def logits(self, question, passages, max_windows=4, sentences=None):
        self.calls.append(len(passages))
        windows, start, end, has = super().logits(question, passages, max_windows, sentences)
        return windows, start, end, np.where(start.max(axis=1) > 0, has, -has)


def reading(tmp_path, model, calibration) -> Pipeline:
    docs = write_docs(tmp_path / "docs", DOCS)
    s = Settings(docs=docs, index=tmp_path / "index", chunk_size=300, chunk_overlap=0, mode="bm25")
    return Pipeline(s, embedder=FakeEmbedder(), reader=PassageReader(s, model=model, calibration=calibration))


def test_a_sure_answer_in_the_first_passage_ends_the_reading(tmp_path):
    model = CountingModel("Lisbon", has=4.0)  # confidence sigmoid(4) = 0.98 wherever Lisbon is
    qa = reading(tmp_path, model, Calibration(answer=0.5, tentative=0.1, stop=0.9))
    question = "Where did the ship leave Lisbon for, asked the night staff?"
    hits = qa.search(question)
    assert len(hits) >= 3 and "Lisbon" in hits[0].passage.text  # the first passage retrieved holds it
    answer = qa.ask(question)
    assert model.calls == [1]  # only that passage was read
    assert answer.text == "Lisbon" and answer.status == "answer" and answer.citations[0].rank == 1


def test_an_unsure_first_passage_reads_the_others_and_may_answer_from_them(tmp_path):
    model = CountingModel("Zanzibar archipelago", has=4.0)  # only in the ledger's last passage
    qa = reading(tmp_path, model, Calibration(answer=0.5, tentative=0.1, stop=0.9))
    question = "Item 12, item 13, item 14 and item 15 of the inventory: where was it buried?"
    hits = qa.search(question)
    assert "Zanzibar" not in hits[0].passage.text  # the first passage has no answer: sigmoid(-4) < stop
    assert any("Zanzibar archipelago" in h.passage.text for h in hits[1:3])
    answer = qa.ask(question)
    assert model.calls == [1, 2]  # passage 1, then the other two
    assert answer.text == "Zanzibar archipelago" and answer.citations[0].rank > 1


def test_without_a_stop_every_passage_is_read(tmp_path):
    model = CountingModel("Lisbon", has=4.0)
    qa = reading(tmp_path, model, Calibration(answer=0.5, tentative=0.1))  # stop 2.0: never
    qa.ask("Where did the ship leave Lisbon for, asked the night staff?")
    assert model.calls == [3]  # all three in one call, as before there was a stop


def test_a_long_run_of_dashes_in_a_table_line_is_read_at_once():
    """Documents are untrusted: a table line of many dashes that is not a header's delimiter row must not take
    the markup scan exponential time (a pattern that let cells split a run of dashes did: 2 s at 24 dashes). Run in
    a process of its own, which a timeout can stop (a regular expression holds the interpreter until it ends)."""
    import subprocess
    import sys

    code = ("from qa.reader.windows import markup_chars; t = '| a |\\n|' + '-' * 100000 + 'x|\\n| b |'; "
            "m = markup_chars(t); print(bool(m[t.index('x')]), bool(m[0]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]  # not a delimiter row: only its pipes are markup


def test_the_cli_shows_an_answer_across_a_line_break_on_one_line(tmp_path, monkeypatch, capsys):
    """A PDF's answer may hold its line end ("Thaddeus\\nVorblitz"): the answer line shows it with a space (the JSON
    keeps the exact text)."""
    from qa import cli

    docs = write_docs(tmp_path / "docs", {"brakes.txt": "Brakes\n\nCable brakes are recommended by Thaddeus\n"
                                                       "Vorblitz for touring bicycles.\n"})
    settings = Settings(docs=docs, index=tmp_path / "index")
    reader = PassageReader(settings, model=StubModel("Thaddeus\nVorblitz"),
                           calibration=Calibration(answer=0.8, tentative=0.3))
    monkeypatch.setattr(cli, "_pipeline", lambda args: Pipeline(settings, embedder=FakeEmbedder(), reader=reader))
    assert cli.main(["ask", "Who recommends cable brakes?"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("Thaddeus Vorblitz   [1] confidence") and "\\n" not in first
    assert cli.main(["ask", "Who recommends cable brakes?", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["text"] == "Thaddeus\nVorblitz"


#: Retrieved 5th (BM25 over the ledger in 300-character passages): below the three the reader reads first.
DEEP_QUESTION = "Where did the captain count item 10, item 20, item 30 and item 40?"
#: sure by the reader's own weights (sigmoid(4) = 0.98), but an answer found deeper has its own fit: sigmoid(-1) = 0.27
DEEP_CALIBRATION = Calibration(answer=0.5, tentative=0.1, stop=0.9, deeper_has_answer=1.0, deeper_span=0.0,
                               deeper_bias=-5.0)


def reading_deeper(tmp_path, model, calibration=DEEP_CALIBRATION, **settings) -> Pipeline:
    docs = write_docs(tmp_path / "docs", DOCS)
    s = Settings(docs=docs, index=tmp_path / "index", chunk_size=300, chunk_overlap=0, mode="bm25", **settings)
    return Pipeline(s, embedder=FakeEmbedder(), reader=PassageReader(s, model=model, calibration=calibration))


def test_an_unsure_answer_to_a_question_reads_the_passages_below_and_cites_the_one_it_answers_from_first(tmp_path):
    model = CountingModel("Zanzibar archipelago", has=4.0)
    qa = reading_deeper(tmp_path, model)
    hits = qa.search(DEEP_QUESTION, k=10)
    assert [n for n, h in enumerate(hits, 1) if "Zanzibar" in h.passage.text] == [5]  # below the three read first
    answer = qa.ask(DEEP_QUESTION)
    assert model.calls[:3] == [1, 2, 7]  # passage 1; 2-3 (unsure); then 4-10 (still unsure, a question)
    assert answer.text == "Zanzibar archipelago" and answer.citations[0].rank == 5 and answer.cited == 1
    assert [h.rank for h in answer.citations] == [5, 1, 2, 3, 4]
    # asked for three passages, the answer's passage comes first, then the three retrieved first
    assert [h.rank for h in qa.ask(DEEP_QUESTION, k=3).citations] == [5, 1, 2, 3]
    # its confidence is the deeper answers' own fit, not the reader's 0.98: a possible answer, not a sure one
    assert answer.confidence == pytest.approx(1 / (1 + np.exp(1.0))) and answer.status == "tentative"


def test_the_first_answer_is_given_without_reading_on_when_asked_and_says_the_reader_would_read_on(tmp_path):
    model = CountingModel("Zanzibar archipelago", has=4.0)
    qa = reading_deeper(tmp_path, model)
    first = qa.ask(DEEP_QUESTION, deeper=False)
    assert model.calls == [1, 2] and first.status == "none"
    assert qa.reads_deeper(DEEP_QUESTION, first)
    assert qa.ask(DEEP_QUESTION).text == "Zanzibar archipelago"
    assert model.calls == [1, 2, 7]  # asked again in full: only the passages below the first three were read


def test_a_passage_read_for_a_question_is_not_read_again_and_gives_the_same_spans(tmp_path):
    model = CountingModel("Lisbon", has=4.0)
    qa = reading(tmp_path, model, Calibration(answer=0.5, tentative=0.1))  # no stop: the three in one call
    question = "Where did the ship leave Lisbon for, asked the night staff?"
    hits = qa.search(question)
    reader = qa.reader
    once = reader.passage_spans(question, hits[:3], qa.data)
    again = reader.passage_spans(question, [hits[1], hits[0], hits[2]], qa.data)  # another order: places follow it
    assert model.calls == [3]
    assert sorted((sp.passage, sp.start, sp.score) for sp in once) == sorted(
        ({0: 1, 1: 0, 2: 2}[sp.passage], sp.start, sp.score) for sp in again)
    assert once == PassageReader.passage_spans(PassageReader(qa.settings, model=CountingModel("Lisbon")),
                                               question, hits[:3], qa.data)  # as read afresh
    reader.passage_spans("Another question about Lisbon?", hits[:1], qa.data)
    assert model.calls == [3, 1]  # another question reads again


@pytest.mark.parametrize("query, settings", [
    ("The captain counted item 10, item 20, item 30 and item 40.", {}),  # a claim, not a question
    (DEEP_QUESTION, {"read_deeper": 0}),  # turned off
    (DEEP_QUESTION, {"read_deeper": 3}),  # no deeper than the reader reads anyway
])
def test_claims_and_the_setting_off_read_no_deeper(tmp_path, query, settings):
    model = CountingModel("Zanzibar archipelago", has=4.0)
    qa = reading_deeper(tmp_path, model, **settings)
    first = qa.ask(query, deeper=False)
    assert qa.ask(query).status == "none" and not qa.reads_deeper(query, first)
    assert model.calls == [1, 2]  # asked again: the same passages, not read again, and none below them


def test_a_deeper_answer_below_deeper_take_or_less_sure_than_the_first_is_not_taken(tmp_path):
    """sigmoid(4 - 7) = 0.047 is below ``deeper_take`` (0.06): the passages below were read, nothing replaces the
    first reading (no answer)."""
    model = CountingModel("Zanzibar archipelago", has=4.0)
    qa = reading_deeper(tmp_path, model, calibration=replace(DEEP_CALIBRATION, deeper_bias=-7.0))
    answer = qa.ask(DEEP_QUESTION)
    assert model.calls == [1, 2, 7] and answer.status == "none" and answer.citations[0].rank == 1


def test_the_deeper_calibration_is_read_from_beside_the_model_and_defaults_to_the_readers_own(tmp_path):
    record = tmp_path / "m.json"
    record.write_text(json.dumps({"calibration": {"has_answer": 1.0, "bias": 0.0, "deeper_has_answer": 2.0,
                                                  "deeper_span": 0.0, "deeper_bias": -1.0}}))
    cal = Calibration.read(record)
    assert cal.deeper_confidence(1.0, 0.0) == pytest.approx(1 / (1 + np.exp(-1.0)))
    assert Calibration(has_answer=1.0).deeper_confidence(1.0, 0.0) == Calibration(has_answer=1.0).confidence(1.0, 0.0)


def test_read_deeper_settings_are_checked(tmp_path):
    from qa.errors import SettingsError

    with pytest.raises(SettingsError, match="read_deeper"):
        Settings(docs=tmp_path, read_deeper=-1)
    with pytest.raises(SettingsError, match="deeper_below"):
        Settings(docs=tmp_path, deeper_below=1.5)


def test_the_cli_and_the_json_say_an_answer_was_found_by_reading_on(tmp_path, monkeypatch, capsys):
    from qa import cli

    qa = reading_deeper(tmp_path, CountingModel("Zanzibar archipelago", has=4.0))
    monkeypatch.setattr(cli, "_pipeline", lambda args: qa)
    assert cli.main(["ask", DEEP_QUESTION]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Possible answer (not sure): Zanzibar archipelago   [1]")
    assert "From further down: the passages read first gave no sure answer; this one was retrieved #5" in out
    assert cli.main(["ask", "--json", DEEP_QUESTION]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["found_deeper"] is True and got["citations"][0]["rank"] == 5
    assert qa.ask(DEEP_QUESTION, deeper=False).found_deeper is False


def test_an_answer_from_the_third_passage_asked_for_two_is_not_said_to_be_found_by_reading_on(tmp_path):
    """Cited first and retrieved below the two passages listed after it, but read in the first reading."""
    model = CountingModel("Zanzibar archipelago", has=4.0)
    qa = reading(tmp_path, model, Calibration(answer=0.5, tentative=0.1, stop=0.9))
    question = "Item 12, item 13, item 14 and item 15 of the inventory: where was it buried?"
    answer = qa.ask(question, k=1)
    assert answer.text == "Zanzibar archipelago" and answer.citations[0].rank > 1
    assert answer.found_deeper is False


@pytest.mark.parametrize("deeper, reads_on", [("off", False), ("no", False), (0, False), ("on", True), (True, True)])
def test_deeper_given_as_a_word_means_that_word(tmp_path, deeper, reads_on):
    model = CountingModel("Zanzibar archipelago", has=4.0)
    answer = reading_deeper(tmp_path, model).ask(DEEP_QUESTION, deeper=deeper)
    assert answer.found_deeper is reads_on and model.calls == ([1, 2, 7] if reads_on else [1, 2])


def test_a_deeper_that_is_not_yes_or_no_and_a_read_deeper_over_100_are_refused(tmp_path):
    from qa.errors import SettingsError

    with pytest.raises(SettingsError, match="deeper must be on or off"):
        reading_deeper(tmp_path, CountingModel("Zanzibar")).ask(DEEP_QUESTION, deeper="maybe")
    with pytest.raises(SettingsError, match="read_deeper must be 0 .* up to 100, got 100000"):
        Settings(docs=tmp_path, read_deeper=100000)


def test_a_span_across_a_sentence_start_loses_the_sentence_penalty():
    """Tokens 1-2 are one sentence, 3 starts the next: the span 1..3 (score 9) loses 2 and the span 1..2 inside the
    sentence (score 8) is taken; held clearly above it (end logit 7 at token 3), the span across is still taken."""
    s = np.array([[0., 5., 0., 0.]])
    ctx = np.array([[False, True, True, True]])
    sentences = np.array([[False, False, False, True]])
    assert best_spans(s, np.array([[0., 0., 3., 4.]]), ctx) == [(1, 3, 9.0)]
    assert best_spans(s, np.array([[0., 0., 3., 4.]]), ctx, sentences=sentences, sentence_penalty=2.0) == [(1, 2, 8.0)]
    assert best_spans(s, np.array([[0., 0., 3., 7.]]), ctx, sentences=sentences, sentence_penalty=2.0) == [(1, 3, 10.0)]
    assert best_spans(s, np.array([[0., 0., 3., 4.]]), ctx, sentences=sentences, sentence_penalty=0.0) == [(1, 3, 9.0)]


def test_the_reader_marks_where_the_index_says_sentences_start(tmp_path):
    from qa.reader.passage import sentence_starts

    qa = pipeline(tmp_path, StubModel("Lisbon"))
    hit = next(h for h in qa.search("Where did the ship carry spices from?", k=5) if h.passage.doc == "voyage.txt")
    text = hit.passage.text
    starts = sentence_starts(qa.data, hit)
    assert [text[s:s + 8] for s in starts] == ["The ship", "It carri", "The crew"]  # not the title's, at 0
    windows = encode(TOKENIZER, ["Q?"], [text], sentences=[starts])
    marked = windows.offsets[0][windows.sentences[0]]
    assert [text[a:b] for a, b in marked] == ["The", "It", "The"]
