"""The value types round-trip through ``to_dict``/``from_dict`` (and JSON), with the keys the
index files, the CLI's ``--json`` and the HTTP API have always had."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.types import ANSWER, NONE, TENTATIVE, Answer, Document, DocumentInfo, Hit, Passage, Span

text = st.text(max_size=40)
maybe_text = st.none() | text
small = st.integers(min_value=0, max_value=10_000)


@st.composite
def documents(draw) -> Document:
    body = draw(st.text(min_size=1, max_size=200))
    pages = tuple(sorted(draw(st.sets(st.integers(0, len(body)), max_size=4)) | {0})) if draw(st.booleans()) else ()
    return Document(draw(text), draw(text), body, author=draw(maybe_text), date=draw(maybe_text),
                    sha256=draw(st.text("0123456789abcdef", max_size=64)),
                    kind=draw(st.sampled_from(["text", "markdown", "pdf", "html"])), pages=pages)


@st.composite
def passages_of(draw, doc: Document) -> Passage:
    start = draw(st.integers(0, len(doc.text)))
    end = draw(st.integers(start, len(doc.text)))
    return Passage(doc.id, doc.title, draw(small), start, end, doc.text[start:end], draw(maybe_text),
                   draw(st.none() | st.integers(1, 500)))


passages = documents().flatmap(passages_of)
scores = st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 6))  # to_dict writes 6 decimals
hits = st.builds(Hit, passage=passages, score=scores, rank=st.integers(1, 1000),
                 mode=st.sampled_from(["dense", "bm25", "hybrid"]),
                 ranks=st.dictionaries(st.sampled_from(["dense", "bm25", "reranker"]), st.integers(1, 1000)))


@st.composite
def answers(draw) -> Answer:
    citations = tuple(draw(st.lists(hits, max_size=3)))
    confidence = round(draw(st.floats(0, 1)), 4)  # to_dict writes 4 decimals
    common = dict(confidence=confidence, citations=citations, message=draw(maybe_text),
                  timings=draw(st.dictionaries(st.sampled_from(["embed", "read", "total"]), st.floats(0, 10))),
                  searched_for=draw(maybe_text))
    if draw(st.booleans()):
        return Answer(text=None, status=NONE, **common)
    doc, start = draw(text), draw(small)
    end = draw(st.integers(start, start + 500))
    s, e = draw(st.integers(0, start)), draw(st.integers(end, end + 500))
    return Answer(text=draw(text), span=Span(doc, start, end), sentence=draw(text), sentence_span=Span(doc, s, e),
                  cited=draw(st.none() | st.integers(1, 4)), status=draw(st.sampled_from([ANSWER, TENTATIVE])),
                  title=draw(maybe_text), section=draw(maybe_text), page=draw(st.none() | st.integers(1, 500)),
                  **common)


document_infos = st.builds(DocumentInfo, id=text, title=text, author=maybe_text, date=maybe_text,
                           kind=st.sampled_from(["text", "pdf"]), pages=st.none() | st.integers(1, 900),
                           passages=small, chars=small, indexed=maybe_text)


def through_json(d: dict) -> dict:
    return json.loads(json.dumps(d))


@given(documents())
def test_documents_round_trip(doc):
    assert Document.from_dict(through_json(doc.to_dict())) == doc


@given(passages)
def test_passages_round_trip(p):
    assert Passage.from_dict(through_json(p.to_dict())) == p


@given(documents().flatmap(lambda d: st.tuples(st.just(d), passages_of(d))))
def test_passages_round_trip_as_the_index_stores_them_without_their_text(pair):
    doc, p = pair
    stored = through_json(p.to_dict(with_text=False))
    assert "text" not in stored and "title" not in stored
    assert Passage.from_dict(stored, document=doc) == p


@given(hits)
def test_hits_round_trip(hit):
    assert Hit.from_dict(through_json(hit.to_dict())) == hit


@given(answers())
def test_answers_round_trip_and_write_the_answer_once(answer):
    d = answer.to_dict()
    assert "text" not in d and d["answer"] == answer.text
    assert Answer.from_dict(through_json(d)) == answer
    assert Answer.from_dict(through_json(answer.to_api())) == answer


@given(document_infos)
def test_document_infos_round_trip(info):
    assert DocumentInfo.from_dict(through_json(info.to_dict())) == info


def test_the_index_files_keep_their_keys():
    doc = Document("a.pdf", "A", "one two", author="Ann", pages=(0, 4))
    assert list(doc.to_dict()) == ["id", "title", "author", "date", "kind", "sha256", "pages", "text"]
    p = Passage("a.pdf", "A", 0, 0, 3, "one", "Intro", 1)
    assert list(p.to_dict(with_text=False)) == ["doc", "ordinal", "start", "end", "section", "page"]


def test_the_cli_and_http_json_keep_their_keys_and_order():
    hit = Hit(Passage("a.txt", "A", 0, 0, 3, "one"), 0.5, 1, "hybrid", row=7)
    assert list(hit.to_dict()) == ["rank", "score", "mode", "doc", "title", "section", "page", "ordinal", "start",
                                   "end", "text", "ranks"]
    assert Hit.from_dict(hit.to_dict()).row == -1  # a row means something only in its loaded index
    answer = Answer(text="one", confidence=0.9, span=Span("a.txt", 0, 3), sentence="one two",
                    sentence_span=Span("a.txt", 0, 7), citations=(hit,), cited=1)
    assert list(answer.to_api()) == ["answer", "text", "confidence", "doc", "start", "end", "sentence",
                                     "sentence_start", "sentence_end", "citations", "cited", "message", "timings",
                                     "status", "title", "section", "page", "searched_for"]
    assert answer.to_api()["text"] == answer.to_api()["answer"] == "one"
    assert list(DocumentInfo(id="a.txt", title="A").to_dict()) == ["id", "title", "author", "date", "kind", "pages",
                                                                   "passages", "chars", "indexed"]


def test_no_answer_has_a_named_constructor_and_no_offsets():
    none = Answer.none(0.1, message="Not in the documents.")
    assert none.status == NONE and none.text is None and none.span is None
    assert (none.doc, none.start, none.end, none.sentence_start, none.sentence_end) == (None,) * 5
    with pytest.raises(TypeError):
        Answer(None, 0.1)  # keyword-only: no positional runs of None
    with pytest.raises(ValueError):
        Answer(text=None, confidence=0.1, status=ANSWER)


def test_answer_offsets_come_from_its_spans():
    a = Answer(text="two", confidence=0.8, span=Span("a.txt", 4, 7), sentence="one two",
               sentence_span=Span("a.txt", 0, 7))
    assert (a.doc, a.start, a.end, a.sentence_start, a.sentence_end) == ("a.txt", 4, 7, 0, 7)
