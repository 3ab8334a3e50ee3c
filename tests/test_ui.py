"""The app's rendering and evaluation helpers, without a server (fake embedder, tiny documents)."""

from __future__ import annotations

import copy
import html
import json
import re
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.errors import QAError
from qa.web.app import build_app
from qa.web.evaluate import MAX_QUERY_FILE_BYTES, check_query_file, render_query_detail, run_evaluation
from qa.web.highlight import heading_spans, highlight, question_stems, term_spans
from qa.web.render import per_query_rows, render_answer, render_evidence

OUR_TAGS = re.compile(r'</?(mark|b|span)( class="[a-z-]+")?>')


class _Elements(HTMLParser):
    """Collects start tags and checks every end tag closes the innermost open element."""

    def __init__(self):
        super().__init__()
        self.started: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.started.append(tag)
        self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack}"
        self.stack.pop()


def elements(markup: str) -> list[str]:
    parser = _Elements()
    parser.feed(markup)
    parser.close()
    assert parser.stack == [], f"unclosed {parser.stack}"
    return parser.started


span_kinds = st.sampled_from(["heading", "markup", "passage", "sentence", "answer", "term"])


@given(st.text(alphabet=st.sampled_from(list("ab <>&\"'/=x\n")), max_size=60),
       st.lists(st.tuples(st.integers(-5, 70), st.integers(-5, 70), span_kinds), max_size=6))
def test_highlight_escapes_every_piece_and_nests_its_tags(text, spans):
    out = highlight(text, spans)

    assert html.unescape(OUR_TAGS.sub("", out)) == text
    assert set(elements(out)) <= {"mark", "b", "span"}


def test_highlight_keeps_one_mark_around_an_answer_that_contains_terms():
    text = "came in February 2016, when"
    out = highlight(text, [(8, 21, "answer"), (8, 16, "term"), (0, 27, "sentence")])

    assert out.count("<mark>") == 1
    assert re.search(r"<mark>(.*)</mark>", out).group(1) == '<b class="qa-term">February</b> 2016'


def test_markdown_heading_lines_are_set_apart_and_their_marks_dimmed_not_removed():
    text = "One sentence.\n\n#### Coup <proofing>\n\nNot # a heading. ## Nor this.\n   ### Indented"
    out = highlight(text, heading_spans(text))

    assert '<span class="qa-heading"><span class="qa-md">#### </span>Coup &lt;proofing&gt;</span>' in out
    assert '<span class="qa-heading"><span class="qa-md">   ### </span>Indented</span>' in out
    assert out.count("qa-heading") == 2 and "Not # a heading. ## Nor this." in out
    assert html.unescape(OUR_TAGS.sub("", out)) == text  # the text as it is, offsets intact


def test_term_spans_mark_words_sharing_a_stem_with_the_question():
    text = "The commitments were reconsidered; the committee met."
    marked = [text[s:e] for s, e, _ in term_spans(text, question_stems("Was the commitment reconsidered?"))]

    assert marked == ["commitments", "reconsidered"]


HOSTILE = ("Lantern notes\n\nThe festival <script>alert(1)</script> is held monthly. "
           "<img src=x onerror=alert(1)> See [x](javascript:alert(1)).\n")


@pytest.fixture
def hostile_pipeline(fake_pipeline):
    (fake_pipeline.settings.docs / "hostile.txt").write_text(HOSTILE, encoding="utf-8")
    return fake_pipeline


def test_document_html_is_rendered_as_text(hostile_pipeline):
    question = "When is the festival held?"
    answer = hostile_pipeline.ask(question, docs=["hostile.txt"])
    page = render_answer(answer) + render_evidence(answer.citations, question, answer, hostile_pipeline.data)

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert set(elements(page)) <= {"section", "h2", "p", "span", "a", "b", "mark", "code", "cite", "article",
                                   "header", "h3", "div", "details", "summary", "blockquote", "button"}
    assert not re.search(r'href="(?!#qa-ev-\d+")', page)


def test_abstention_and_errors_render_a_message(fake_pipeline):
    from qa.types import Answer

    page = render_answer(Answer.none(0.1, message="Not in the documents."))
    assert "Not in the documents." in page and "Confidence 0.10" in page
    assert 'data-state="none"' in page and "Not found" in page


def test_build_app_exposes_only_ask_and_search(fake_pipeline):
    app = build_app(fake_pipeline)
    public = {d.api_name for d in app.fns.values() if d.api_visibility == "public"}

    assert public == {"ask", "search"}


def test_check_query_file_accepts_only_small_jsonl(tmp_path):
    good = tmp_path / "q.jsonl"
    good.write_text('{"id": "a", "question": "Who?", "answers": ["Ann"]}\n')
    assert check_query_file(str(good)) == good

    with pytest.raises(QAError, match="not a .jsonl file"):
        check_query_file(tmp_path / "q.txt")
    big = tmp_path / "big.jsonl"
    big.write_bytes(b" " * (MAX_QUERY_FILE_BYTES + 1))
    with pytest.raises(QAError, match="limit"):
        check_query_file(big)
    with pytest.raises(QAError, match="no query file"):
        check_query_file(None)


def write_queries(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n", encoding="utf-8")
    return path


def test_evaluation_lists_misses_first_and_shows_what_was_retrieved(fake_pipeline, tmp_path):
    queries = write_queries(tmp_path / "q.jsonl", [
        {"id": "hit", "question": "Where does the Danube end?", "answers": ["Black Sea"]},
        {"id": "miss", "question": "Where does the Danube end?", "answers": ["Atlantis"]},
    ])
    run = run_evaluation(fake_pipeline, queries, ["bm25"])

    assert run.problems and "line 3" in run.problems[0]
    assert copy.deepcopy(run) == run  # the app keeps it in a gr.State, which copies it
    rows = per_query_rows(run.result)
    assert [r[0] for r in rows] == ["miss", "hit"] and rows[0][2] == "miss"

    detail = render_query_detail(fake_pipeline, run, "hit", "bm25")
    assert "Where does the Danube end?" in detail
    assert "qa-badge-relevant" in detail
    # no control to open a passage: it opened the Ask tab's citation of the same number (another passage)
    assert "data-cite=" not in detail and "Open in the document" not in detail and "qa-card" in detail
    with pytest.raises(QAError, match="mode"):
        run_evaluation(fake_pipeline, queries, [])
