"""The value types round-trip through ``to_dict``/``from_dict`` (and JSON), with the keys the
index files, the CLI's ``--json`` and the HTTP API have always had."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.config import MODES
from qa.eval.records import (
    AnswerMetrics, AnswerScores, Comparison, Evaluation, GroupMetrics, ModeResult, QueryResult, Significance,
)
from qa.types import ANSWER, NONE, STATES, TENTATIVE, Answer, Document, DocumentInfo, Hit, Passage, Span

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


rates = st.none() | st.floats(0, 1)
strings = st.lists(text, max_size=3).map(tuple)
scores_of_answers = st.builds(AnswerScores, answerable=st.booleans(), exact_match=rates, f1=rates,
                              evidence_hit=st.none() | st.booleans(), abstained=st.booleans(), correct=st.booleans(),
                              status=st.sampled_from(STATES), partly_right=st.none() | st.booleans())
query_results = st.builds(QueryResult, id=text, question=text, type=maybe_text, paraphrase=st.booleans(), gold=strings,
                          rank=st.none() | st.integers(1, 100), answer=maybe_text, confidence=rates, doc=maybe_text,
                          sentence=maybe_text, top_docs=strings, error=maybe_text, scores=scores_of_answers)
answer_metrics = st.builds(AnswerMetrics, **{name: rates for name in AnswerMetrics.__dataclass_fields__})
groups = st.dictionaries(text, st.builds(GroupMetrics, n=small, recall_at_5=rates, answer=answer_metrics), max_size=2)
mode_results = st.builds(
    ModeResult, mode=st.sampled_from(MODES), n_queries=small, n_answerable=small,
    retrieval=st.dictionaries(st.sampled_from(["recall@1", "recall@5", "mrr@10", "ndcg@10"]), st.floats(0, 1)),
    recall_curve=st.lists(st.floats(0, 1), max_size=10).map(tuple), answer=answer_metrics, by_type=groups,
    by_paraphrase=groups, seconds=st.floats(0, 1e4), per_query=st.lists(query_results, max_size=3).map(tuple))
significances = st.builds(
    Significance, test=st.just("fisher"), max_p=st.just(0.05), n_queries=st.none() | small,
    pairs=st.lists(st.builds(Comparison, a=st.sampled_from(MODES), b=st.sampled_from(MODES), metric=text,
                             difference=st.floats(-1, 1), p_value=st.floats(0, 1), significant=st.booleans()),
                   max_size=3).map(tuple))
evaluations = st.builds(
    Evaluation, k=st.integers(10, 50),
    modes=st.lists(mode_results, min_size=1, max_size=3, unique_by=lambda r: r.mode).map(
        lambda rs: {r.mode: r for r in rs}),
    significance=st.none() | significances, warnings=strings, problems=st.none() | strings)


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
                                     "status", "title", "section", "page", "searched_for", "found_deeper"]
    assert answer.to_api()["text"] == answer.to_api()["answer"] == "one"
    assert answer.to_api()["found_deeper"] is False
    assert Answer.from_dict(replace(answer, found_deeper=True).to_api()).found_deeper is True
    assert list(answer.to_api()["citations"][0]) == ["number", *hit.to_dict()]


def test_cited_names_a_citation_by_its_number_not_its_search_rank():
    """The answer's passage is listed first whatever its search rank; ``cited`` is that citation's ``number``."""
    first, answering = (Hit(Passage("a.txt", "A", i, 10 * i, 10 * i + 3, "one"), 0.5, i + 1, "hybrid")
                        for i in range(2))
    answer = Answer(text="one", confidence=0.9, span=Span("a.txt", 10, 13), citations=(answering, first), cited=1)
    cited = [c for c in answer.to_api()["citations"] if c["number"] == answer.to_api()["cited"]]
    assert [(c["rank"], c["start"]) for c in cited] == [(2, 10)]
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


@given(query_results)
def test_evaluated_queries_round_trip_flat(result):
    d = result.to_dict()
    assert "scores" not in d and d["answerable"] == result.answerable and ("error" in d) == (result.error is not None)
    assert QueryResult.from_dict(through_json(d)) == result


@given(mode_results)
def test_mode_results_round_trip(result):
    assert ModeResult.from_dict(through_json(result.to_dict())) == result


@given(significances)
def test_significance_round_trips(sig):
    assert Significance.from_dict(through_json(sig.to_dict())) == sig


@given(evaluations)
def test_evaluations_round_trip_in_both_forms(evaluation):
    d = through_json(evaluation.to_dict())
    assert ("modes" in d) == (len(evaluation.modes) > 1 or evaluation.significance is not None)
    assert ("problems" in d) == (evaluation.problems is not None)
    assert Evaluation.from_dict(d) == evaluation


def test_evaluation_json_keeps_its_keys_and_order():
    scores = AnswerScores(answerable=True, exact_match=1.0, f1=1.0, evidence_hit=True, abstained=False, correct=True,
                          status="answer", partly_right=True)
    query = QueryResult(id="q1", question="Who?", gold=("Ann",), rank=1, answer="Ann", confidence=0.9, doc="a.txt",
                        sentence="Ann did.", top_docs=("a.txt",), scores=scores)
    assert list(query.to_dict()) == ["id", "question", "type", "paraphrase", "answerable", "gold", "rank",
                                     "shown_rank", "answer", "confidence", "doc", "sentence", "top_docs", "exact_match", "f1", "evidence_hit",
                                     "abstained", "correct", "status", "partly_right"]
    failed = QueryResult(id="q2", question="???", error="the question has no words", scores=scores)
    assert list(failed.to_dict())[12:14] == ["top_docs", "error"]
    group = GroupMetrics(n=1, recall_at_5=1.0, answer=AnswerMetrics(exact_match=1.0))
    assert list(group.to_dict())[:4] == ["n", "recall@5", "shown recall@5", "exact_match"]
    assert len(group.to_dict()) == 15
    mode = ModeResult(mode="bm25", n_queries=1, n_answerable=1, retrieval={"recall@1": 1.0}, recall_curve=(1.0,),
                      answer=AnswerMetrics(), by_type={"who": group}, per_query=(query,))
    one = Evaluation(k=10, modes={"bm25": mode}, warnings=("a warning",))
    assert list(one.to_dict()) == ["mode", "n_queries", "n_answerable", "retrieval", "shown", "recall_curve", "answer",
                                   "by_type", "by_paraphrase", "seconds", "per_query", "k", "warnings"]
    sig = Significance(test="fisher", max_p=0.05)
    assert list(sig.to_dict()) == ["test", "max_p", "pairs"]  # no query had a relevant passage
    several = Evaluation(k=10, modes={"bm25": mode, "dense": ModeResult.from_dict({**mode.to_dict(), "mode": "dense"})},
                         significance=sig, problems=("line 2: not valid JSON",))
    assert list(several.to_dict()) == ["n_queries", "k", "modes", "significance", "warnings", "problems"]
    assert several.n_queries == 1 and list(several.to_dict()["modes"]) == ["bm25", "dense"]
