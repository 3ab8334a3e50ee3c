"""The page in a real browser: Debian's chromium driven by Playwright.

Screenshots of the answered page go to ``test-artifacts/``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from app_server import serving
from conftest import ROOT, write_docs
from qa.config import Settings
from qa.pipeline import Pipeline

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"),
]

FEBRUARY = "When did Russia first signal that it was reconsidering its commitment to Assad?"

LONG_WORD = "A" * 5000
HOSTILE = (
    "---\ntitle: <img src=x onerror=alert(1)> Lantern notes\n---\n"
    "# Lanterns <script>alert(1)</script>\n\n"
    "The lantern festival of Hoi An is held on the night of every full moon. <script>alert(1)</script> "
    "Families float paper lanterns on the Thu Bon river. <img src=x onerror=alert(1)> "
    "The schedule is at [x](javascript:alert(1)) and ${alert(1)} and {{constructor}}.\n\n"
    f"{LONG_WORD}\n"
)
NORMAL = "Bridges of Prague\n\nThe Charles Bridge crosses the Vltava river and was finished in 1402.\n"


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    yield page
    page.close()


@pytest.fixture(scope="module")
def seed_url(seed_pipeline):
    with serving(seed_pipeline) as url:
        yield url


@pytest.fixture(scope="module")
def hostile_url(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    docs = write_docs(base / "docs", {"lanterns.md": HOSTILE, "bridges.txt": NORMAL})
    pipeline = Pipeline(Settings(docs=docs, index=base / "index", k=10))
    pipeline.warm_up()
    with serving(pipeline) as url:
        yield url


def ask(page, url: str, question: str) -> None:
    page.goto(url)
    page.get_by_label("Question").fill(question)
    page.get_by_role("button", name="Ask", exact=True).click()
    page.locator("#qa-answer .qa-answer, #qa-answer .qa-error").first.wait_for(timeout=60_000)


def test_a_page_opened_on_a_ready_index_never_says_it_is_being_indexed(page, seed_url):
    """The page as first sent does not know the collection's state yet: it says it is checking, never that the
    collection is being indexed, and then shows what it answers from."""
    import urllib.request

    with urllib.request.urlopen(seed_url.rstrip("/") + "/config", timeout=60) as response:
        sent = response.read().decode("utf-8")
    assert "Checking the collection" in sent and "being indexed" not in sent
    page.goto(seed_url)
    header = page.locator("#qa-header")
    expect(header).to_contain_text("Answers are quoted from 5 documents", timeout=60_000)
    expect(header).not_to_contain_text("Checking the collection")


def test_answer_with_highlighted_evidence(page, seed_url, seed_pipeline):
    expected = seed_pipeline.ask(FEBRUARY)

    ask(page, seed_url, FEBRUARY)

    answer = page.locator("#qa-answer .qa-answer-text")
    assert expected.text in answer.inner_text()
    assert "February 2016" in answer.inner_text()
    marks = page.locator("#qa-evidence .qa-card-answer > .qa-text mark")
    assert marks.count() == 1
    assert " ".join(marks.inner_text().split()) == " ".join(expected.text.split())
    assert page.locator("#qa-evidence .qa-card").count() == len(expected.citations)
    terms = {t.lower() for t in page.locator("#qa-evidence .qa-term").all_inner_texts()}
    assert {"reconsidering", "commitment"} <= terms
    assert "001_bccfd2e8e94a07d8.txt" in page.locator("#qa-evidence").inner_text()
    # no source opened and no feedback said yet: their empty slots leave no band above the evidence
    expect(page.locator("#qa-source")).to_be_hidden()
    expect(page.locator("#qa-mark-status")).to_be_hidden()
    gap = page.locator("#qa-evidence").bounding_box()["y"] - page.locator("#qa-mark").bounding_box()["y"]
    assert gap < page.locator("#qa-mark").bounding_box()["height"] + 40
    # the examples sit right under the line that introduces them (no band of an empty line box between)
    line = page.get_by_text("Try one of these:", exact=True).bounding_box()
    first = page.locator(".qa-example").first.bounding_box()
    assert 0 <= first["y"] - (line["y"] + line["height"]) < 24

    # the card opens its whole document, scrolled to the passage, the answer marked in it
    page.locator("#qa-evidence .qa-card-answer").get_by_role("button", name="Open in the document").click()
    view = page.locator("#qa-source .qa-source-view")
    expect(view.locator(".qa-in-passage mark")).to_have_text(marks.inner_text(), timeout=60_000)

    page.mouse.move(0, 0)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "answer.png"), full_page=True,
                    clip={"x": 0, "y": 0, "width": 1280, "height": 1400})
    page.screenshot(path=str(ARTIFACTS / "answer-full.png"), full_page=True)


NDF_TYPOS = "How many NDF membrs were incorprated into the army by the end of the yaer?"


def test_a_question_with_typos_shows_what_was_searched_for_and_one_click_asks_it_as_typed(page, seed_url):
    ask(page, seed_url, NDF_TYPOS)

    line = page.locator("#qa-answer .qa-searched-for")
    expect(line).to_contain_text("Searched for: How many NDF members were incorporated into the army by the end "
                                 "of the year?")
    assert "8,000" in page.locator("#qa-answer .qa-answer-text").inner_text()
    page.screenshot(path=str(ARTIFACTS / "searched-for.png"), clip={"x": 0, "y": 0, "width": 1280, "height": 700})

    line.get_by_role("link", name=NDF_TYPOS).click()  # the same question, its words as typed
    page.wait_for_url("**spell=off**")
    expect(page.locator("#qa-answer .qa-searched-for")).to_contain_text("as typed", timeout=60_000)
    expect(page.get_by_label("Question")).to_have_value(NDF_TYPOS)
    assert "Searched for:" not in page.locator("#qa-answer").inner_text()


def test_changing_the_retrieval_mode_asks_the_question_on_screen_again(page, seed_url):
    """The answer and its evidence stayed those of the old setting ("hybrid score ...") after choosing bm25."""
    ask(page, seed_url, "When did Russia first signal that it was reconsidering its commitment to Assad?")
    cards = page.locator("#qa-evidence .qa-meta")
    expect(cards.first).to_contain_text("hybrid score", timeout=60_000)
    page.get_by_label("Question").fill("something else, not asked")  # the question on screen is asked, not this
    page.get_by_text("Search settings").click()
    page.get_by_label("bm25").check()
    expect(cards.first).to_contain_text("bm25 score", timeout=60_000)
    expect(page.locator("#qa-answer .qa-answer-text")).to_contain_text("February 2016")


def test_errors_show_in_the_page_and_the_app_keeps_serving(page, seed_url):
    ask(page, seed_url, "   ")
    assert "question is empty" in page.locator("#qa-answer .qa-error").inner_text()

    page.get_by_label("Question").fill(FEBRUARY)
    page.get_by_role("button", name="Ask", exact=True).click()
    page.locator("#qa-answer .qa-answer").wait_for(timeout=60_000)
    assert page.locator("#qa-answer .qa-error").count() == 0


def test_html_in_documents_renders_as_inert_text(page, hostile_url):
    ask(page, hostile_url, "When is the lantern festival of Hoi An held?")
    for details in page.locator("#qa-evidence details").all():
        details.locator("summary").click()
    page.wait_for_timeout(300)

    evidence = page.locator("#qa-evidence")
    text = evidence.inner_text()
    assert "<script>alert(1)</script>" in text
    assert "<img src=x onerror=alert(1)>" in text
    assert "[x](javascript:alert(1))" in text and "${alert(1)}" in text
    assert LONG_WORD[:100] in text.replace("\n", "")
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator('a[href^="javascript"]').count() == 0
    assert not page.evaluate("Array.from(document.scripts).some(s => s.textContent.trim() === 'alert(1)')")
    assert page.dialogs == []
    page.screenshot(path=str(ARTIFACTS / "hostile.png"), full_page=True)
    # the 5,000-character word wraps inside its card instead of widening the page
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_evaluate_an_uploaded_query_file_and_inspect_a_query(page, seed_url, tmp_path):
    queries = tmp_path / "few.jsonl"
    queries.write_text(
        json.dumps({"id": "feb", "question": FEBRUARY, "answers": ["February 2016"]}) + "\n"
        + json.dumps({"id": "none", "question": "What colour is the Prague tram?", "answers": []}) + "\n",
        encoding="utf-8",
    )
    page.goto(seed_url)
    page.get_by_role("tab", name="Evaluate").click()
    # the upload box's floating label leaves its icon clear, and the boxes of the row line up
    label = page.locator("#qa-query-file label").first.bounding_box()
    icon = page.locator("#qa-query-file [data-testid=upload-icon]").bounding_box()
    assert icon["y"] >= label["y"] + label["height"]
    tops = [page.locator(box).bounding_box()["y"] for box in ("#qa-eval-source", "#qa-query-file")]
    assert abs(tops[0] - tops[1]) < 4
    page.locator("#qa-query-file input[type=file]").set_input_files(str(queries))
    page.get_by_label("Upload a file").wait_for()
    expect(page.get_by_label("Upload a file")).to_be_checked()
    page.get_by_role("button", name="Evaluate", exact=True).click()

    table = page.locator("#qa-per-query")
    # the first evaluation in a fresh install waits for ranx's kernels to compile (a minute or more on a busy machine)
    expect(table.get_by_role("gridcell", name="unanswerable")).to_be_visible(timeout=300_000)
    expect(page.locator("#qa-metrics")).to_contain_text("hybrid")
    expect(page.locator("#qa-curve img, #qa-curve canvas, #qa-curve svg").first).to_be_visible()

    table.get_by_role("gridcell", name="feb", exact=True).click()
    detail = page.locator("#qa-eval-detail")
    expect(detail.locator(".qa-detail-q")).to_have_text(FEBRUARY, timeout=30_000)
    expect(detail.locator(".qa-badge-relevant").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "evaluate.png"), full_page=True)


@pytest.mark.parametrize("width", [1280, 390])
def test_the_documents_tab_fits_a_desktop_and_a_phone(browser, seed_url, width):
    """The collection table keeps its titles readable and scrolls in its own box on a phone (the page does not);
    the upload box's label leaves its icon clear."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.goto(seed_url)
        page.get_by_role("tab", name="Documents").click()
        table = page.locator("#qa-doc-table")
        expect(table).to_contain_text("Prisoners Of Assad", timeout=60_000)
        title = table.get_by_role("columnheader", name="title").first.bounding_box()
        assert title["width"] >= 300, title
        box = table.bounding_box()  # the whole title column in view; the next one's edge says the table scrolls
        assert title["x"] + title["width"] <= box["x"] + box["width"], (title, box)
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], widths
        label = page.locator("#qa-doc-upload label").first.bounding_box()
        icon = page.locator("#qa-doc-upload [data-testid=upload-icon]").bounding_box()
        assert icon["y"] >= label["y"] + label["height"], (label, icon)
        page.screenshot(path=str(ARTIFACTS / f"documents-{width}.png"), full_page=True)
    finally:
        page.close()


def test_an_answer_under_a_long_section_fits_a_phone(browser, seed_url):
    """The answer's source line (title, file, a long section, characters, "Open the source") wraps on a phone;
    the page does not scroll sideways."""
    from urllib.parse import quote

    page = browser.new_page(viewport={"width": 390, "height": 844})
    try:
        page.goto(seed_url + "?q=" + quote("Who engineered Syria's rapprochement with Egypt?"))
        source = page.locator("#qa-answer .qa-source")
        expect(source).to_contain_text("Open the source", timeout=60_000)
        assert len(source.inner_text().split("§")[-1]) > 40  # a long section name before the range
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], widths
        button = source.get_by_role("button", name="Open the source").bounding_box()
        assert button["x"] + button["width"] <= 390, button
        page.screenshot(path=str(ARTIFACTS / "answer-long-section-390.png"), full_page=True)
    finally:
        page.close()


def test_the_answer_card_shows_its_highlighted_answer(browser, tmp_path, seed_pipeline):
    """The answering card's text scrolls (it is capped in height); its highlighted answer is scrolled into it, not
    left below the visible part."""
    lines = "\n".join(f"- Shelf {i}: seed packets, labels and string for the spring sowing" for i in range(14))
    doc = f"# Garden club\n\n## Tool shed\n\n{lines}\n\nThe pruning shears are kept in the locked cabinet.\n"
    docs = write_docs(tmp_path / "docs", {"garden.md": doc})
    pipeline = Pipeline(Settings(docs=docs, index=tmp_path / "index"), embedder=seed_pipeline.embedder)
    pipeline.warm_up()
    with serving(pipeline) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            page.goto(url + "?q=Where%20are%20the%20pruning%20shears%20kept%3F")
            card = page.locator("#qa-evidence .qa-card-answer .qa-text")
            expect(card.locator("mark")).to_contain_text("locked cabinet", timeout=120_000)
            box, mark = card.bounding_box(), card.locator("mark").bounding_box()
            assert page.evaluate("document.querySelector('#qa-evidence .qa-card-answer .qa-text').scrollHeight") \
                > box["height"]  # the card's text scrolls
            assert box["y"] <= mark["y"] and mark["y"] + mark["height"] <= box["y"] + box["height"], (box, mark)
        finally:
            page.close()



def test_an_unsure_answer_shows_while_the_passages_below_are_read_then_the_deeper_one_replaces_it(page, tmp_path):
    """The app does not wait for reading deeper: the first answer shows at once, saying the passages below are
    being read, and the answer found there replaces it, saying where it was retrieved (a stub reader that takes
    3 s over the deeper passages, so the first state can be seen)."""
    import time

    from conftest import FakeEmbedder
    from qa.reader.passage import PassageReader
    from test_passage_reader import DEEP_CALIBRATION, DEEP_QUESTION, DOCS, CountingModel

    class SlowBelow(CountingModel):
        def logits(self, question, passages, max_windows=4, sentences=None):
            if len(passages) > 2:  # the passages below the first three
                time.sleep(3)
            return super().logits(question, passages, max_windows, sentences)

    s = Settings(docs=write_docs(tmp_path / "docs", DOCS), index=tmp_path / "index", chunk_size=300,
                 chunk_overlap=0, mode="bm25")
    qa = Pipeline(s, embedder=FakeEmbedder(),
                  reader=PassageReader(s, model=SlowBelow("Zanzibar archipelago"), calibration=DEEP_CALIBRATION))
    qa.warm_up()
    with serving(qa) as url:
        ask(page, url, DEEP_QUESTION)
        answer = page.locator("#qa-answer")
        expect(answer.locator(".qa-reading-on")).to_contain_text("reading the passages retrieved below",
                                                                 timeout=60_000)
        expect(answer.locator(".qa-label")).to_have_text("Reading on")  # not "Not found": it may not be
        expect(page.locator("#qa-mark-right")).to_be_hidden()  # the answer on screen is about to be replaced
        page.screenshot(path=str(ARTIFACTS / "answer-reading-on.png"))
        expect(answer.locator(".qa-found-deeper")).to_contain_text("retrieved #5", timeout=120_000)
        expect(page.locator("#qa-mark-right")).to_be_visible()
        expect(answer.locator(".qa-reading-on")).to_have_count(0)
        expect(answer.locator(".qa-answer-text")).to_contain_text("Zanzibar archipelago")
        expect(page.locator("#qa-evidence .qa-card").first).to_contain_text("Zanzibar archipelago")
        expect(page.locator("#qa-evidence .qa-card .qa-meta").first).to_contain_text("retrieved #5")
        page.screenshot(path=str(ARTIFACTS / "answer-found-deeper.png"), full_page=True)
