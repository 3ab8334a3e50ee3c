"""The Documents tab: upload a PDF in a real browser, ask it a question and see the page cited,
remove it and see it gone; and the tab's pieces (table rows, messages, page labels) on their own.

Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import ROOT, TINY_DOCS, FakeEmbedder, write_docs
from qa.config import Settings
from qa.pipeline import Pipeline
from qa.types import Hit, Passage
from qa.web.render import DOCUMENT_HEADERS, document_rows, render_answer, render_changes, render_evidence
from sample_files import LIGHTHOUSE_PAGES, image_pdf, make_pdf

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
ECKMUHL = "When was the Phare d'Eckmuhl at Penmarch lit?"
XSS = "<img src=x onerror=alert(1)>"
PDF_ID = "Lighthouses of Brittany.pdf"


# -- the tab's pieces, with the fake embedder -------------------------------------------------

@pytest.fixture
def with_pdf(tmp_path) -> Pipeline:
    docs = write_docs(tmp_path / "docs", {**TINY_DOCS, "lights.pdf": make_pdf(LIGHTHOUSE_PAGES, title="Lights")})
    settings = Settings(docs=docs, index=tmp_path / "index", chunk_size=120, chunk_overlap=20)
    return Pipeline(settings, embedder=FakeEmbedder())


def test_document_rows_show_title_id_type_pages_passages_and_indexed_time(with_pdf):
    rows = {row[1]: dict(zip(DOCUMENT_HEADERS, row)) for row in document_rows(with_pdf.documents())}
    pdf = rows["lights.pdf"]
    assert (pdf["title"], pdf["type"], pdf["pages"]) == ("Lights", "pdf", 3)
    assert pdf["passages"] == sum(p.doc == "lights.pdf" for p in with_pdf.data.passages)
    assert len(pdf["indexed"]) == 16 and pdf["indexed"][10] == " "  # YYYY-MM-DD HH:MM
    assert rows["rivers.txt"]["pages"] == "" and rows["volcanoes.md"]["type"] == "markdown"


def test_citations_show_the_page_of_the_answer_and_of_each_passage(with_pdf):
    answer = with_pdf.ask(ECKMUHL)
    assert answer.doc == "lights.pdf" and "1897" in answer.text
    source = render_answer(answer, with_pdf.data)
    assert "p. 2</span>" in source
    cards = render_evidence(answer.citations, ECKMUHL, answer, with_pdf.data)
    cited = answer.citations[answer.cited - 1].passage
    assert cited.page == 2 and "p. 2" in cards
    assert "p. " not in render_evidence([h for h in answer.citations if h.passage.doc != "lights.pdf"], ECKMUHL)


def test_a_passage_across_page_breaks_shows_its_pages(with_pdf):
    doc = with_pdf.data.document("lights.pdf")
    whole = Passage(doc.id, doc.title, 0, 0, len(doc.text), doc.text, None, 1)
    assert "pp. 1\u20133" in render_evidence([Hit(whole, 1.0, 1, "dense")], "lighthouses", None, with_pdf.data)


def test_change_messages_are_escaped():
    html = render_changes(["skipped <img src=x onerror=alert(1)>.pdf: damaged"], "Nothing added.")
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;.pdf" in html


# -- in the browser, with the real model ------------------------------------------------------

@pytest.fixture
def page(tmp_path, seed_pipeline):
    from playwright.sync_api import sync_playwright

    from app_server import serving

    docs = write_docs(tmp_path / "docs", {**TINY_DOCS, "junk.txt": b"\x00\x01\x02 not text"})
    # the real model, already loaded for the seed index, over a collection of its own
    pipeline = Pipeline(Settings(docs=docs, index=tmp_path / "index"), embedder=seed_pipeline.embedder)
    pipeline.warm_up()
    ARTIFACTS.mkdir(exist_ok=True)
    with serving(pipeline) as url, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.dialogs = []
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        page.goto(url)
        page.pipeline = pipeline
        yield page
        browser.close()


def upload(page, *paths: Path) -> None:
    page.get_by_role("tab", name="Documents").click()
    page.locator("#qa-doc-upload input[type=file]").set_input_files([str(p) for p in paths])
    page.locator("#qa-doc-status .qa-changes, #qa-doc-status .qa-error").first.wait_for(timeout=120_000)


def ask(page, question: str) -> None:
    page.get_by_role("tab", name="Ask").click()
    page.get_by_label("Question").fill(question)
    page.get_by_role("button", name="Ask", exact=True).click()
    page.locator("#qa-answer .qa-answer, #qa-answer .qa-error").first.wait_for(timeout=60_000)


@pytest.mark.integration
@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_upload_a_pdf_ask_it_see_the_page_then_remove_it(page, tmp_path):
    from playwright.sync_api import expect

    pdf = tmp_path / "upload" / PDF_ID
    pdf.parent.mkdir()
    pdf.write_bytes(make_pdf(LIGHTHOUSE_PAGES, title="Lighthouses of Brittany"))
    scan = tmp_path / "upload" / "scan.pdf"
    scan.write_bytes(image_pdf())
    hostile = tmp_path / "upload" / "hostile.html"
    hostile.write_text(f"<title>{XSS}</title><p>Tea is grown in Darjeeling. {XSS}</p>", encoding="utf-8")

    # a file of the folder that cannot be read is named under the header, not silently missing
    expect(page.locator(".qa-header .qa-skipped")).to_contain_text(
        "1 file in the document folder is not in the collection: junk.txt (binary file", timeout=300_000)
    upload(page, pdf, scan, hostile)
    status = page.locator("#qa-doc-status")
    expect(status.locator(".qa-changes strong")).to_have_text("Added 2; 1 not added.", timeout=120_000)
    expect(status).to_contain_text(f"copied 2: {PDF_ID}, hostile.html")
    expect(status).to_contain_text("skipped scan.pdf: no text layer in 2 pages: scanned PDF? run OCR first")
    expect(status).not_to_contain_text("junk.txt")  # the upload's own lines; the folder's are under the header
    expect(page.locator(".qa-header .qa-skipped")).to_contain_text("junk.txt")
    table = page.locator("#qa-doc-table")
    expect(table.get_by_role("gridcell", name="Lighthouses of Brittany", exact=True)).to_be_visible()
    expect(page.locator(".qa-header")).to_contain_text("5 documents")
    expect(table.get_by_role("gridcell", name=XSS, exact=True)).to_be_visible()  # the title, as text
    other = page.context.browser.new_page()  # another tab, opened now, sees the collection as it is now
    other.goto(page.url)
    expect(other.locator(".qa-header")).to_contain_text("5 documents", timeout=300_000)
    other.close()
    assert page.locator('img[src="x"]').count() == 0 and page.dialogs == []
    assert (page.pipeline.settings.docs / PDF_ID).exists() and not (page.pipeline.settings.docs / "scan.pdf").exists()
    page.screenshot(path=str(ARTIFACTS / "documents.png"), full_page=True)

    ask(page, ECKMUHL)
    assert "1897" in page.locator("#qa-answer .qa-answer-text").inner_text()
    source = page.locator("#qa-answer .qa-source").inner_text()
    assert "Lighthouses of Brittany" in source and PDF_ID in source and "p. 2" in source
    page.locator("#qa-answer").get_by_role("button", name="Open the source").click()
    expect(page.locator("#qa-page-image img")).to_be_visible(timeout=300_000)  # the PDF page, answer marked
    expect(page.locator("#qa-source .qa-source-text mark")).to_have_text("1897")
    expect(page.locator("#qa-evidence .qa-card-answer .qa-meta")).to_contain_text("pp. 1\u20133")
    page.screenshot(path=str(ARTIFACTS / "answer-pdf.png"), full_page=True)

    page.get_by_role("tab", name="Documents").click()
    page.locator("#qa-doc-remove input").click()
    page.get_by_role("option", name=f"Lighthouses of Brittany ({PDF_ID})").click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Remove ...").click()
    expect(page.locator("#qa-confirm .qa-confirm")).to_contain_text(PDF_ID)  # it asks first, naming the file
    page.get_by_role("button", name="Yes, remove").click()
    expect(status).to_contain_text(f"removed 1: {PDF_ID}", timeout=300_000)
    expect(status).not_to_contain_text("junk.txt")  # the folder's skipped files are under the header, not here
    expect(table.get_by_role("gridcell", name="Lighthouses of Brittany", exact=True)).to_have_count(0)
    expect(page.locator(".qa-header")).to_contain_text("4 documents")
    assert not (page.pipeline.settings.docs / PDF_ID).exists()

    ask(page, ECKMUHL)  # the previous answer stays in the page until the new one replaces it
    expect(page.locator("#qa-answer")).not_to_contain_text(PDF_ID, timeout=60_000)
    expect(page.locator("#qa-evidence .qa-card").first).to_be_visible()
    expect(page.locator("#qa-evidence")).not_to_contain_text(PDF_ID)


@pytest.mark.integration
@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_a_long_file_name_keeps_the_phone_page_as_wide_as_the_screen(page, tmp_path):
    """A tester's 204-character file name made the phone's page 634 px wide on a 390 px screen: the upload's message
    and the evidence card's file name were one unbreakable word."""
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 390, "height": 844})
    long = tmp_path / "upload" / ("a-very-long-document-name-" + "x" * 170 + ".md")
    long.parent.mkdir()
    long.write_text("# Pumping stations\n\nThe largest pumping station has twelve turbines.\n", encoding="utf-8")
    expect(page.locator(".qa-header .qa-doc-count")).to_be_visible(timeout=300_000)
    upload(page, long)
    expect(page.locator("#qa-doc-status")).to_contain_text("a file name here is at most 120 characters long")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    ask(page, "How many turbines does the largest pumping station have?")
    expect(page.locator("#qa-answer .qa-answer-text")).to_contain_text("twelve")
    expect(page.locator("#qa-evidence .qa-card").first).to_contain_text("a-very-long-document-name-")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "long-name-phone.png"))


def test_the_source_view_of_a_pdf_marks_where_each_page_begins(with_pdf):
    """A tester read page 1's text run into page 2's in a PDF's source view, its header saying "page 2 of 2"."""
    from qa.web.render import render_source

    doc = with_pdf.data.document("lights.pdf")
    answer = with_pdf.ask(ECKMUHL)
    hit = answer.citations[answer.cited - 1]
    view = render_source(doc, 1, hit, answer, ECKMUHL, page=2)
    assert view.count('class="qa-page-start"') == len(doc.pages) == 3
    starts = [m.start() for m in re.finditer('<span class="qa-page-start">', view)]
    shown = [re.sub(r"<[^>]+>", "", view[s:s + 200])[:1] for s in starts]
    assert shown == [doc.text[p] for p in doc.pages]  # each on its page's first character


def test_a_document_without_a_title_is_untitled_in_the_table_and_named_once_in_the_pickers(tmp_path):
    """A tester saw "(untitled)" on the evidence cards of 002_7b4c4c91d958a4ef.txt, but its file name as its title in
    the Documents table and "002_7b4c4c91d958a4ef.txt (002_7b4c4c91d958a4ef.txt)" in the pickers."""
    from qa.web.render import document_choices

    docs = write_docs(tmp_path / "docs", {"notes.txt": "the keeper lit the lamp every night of the year, and wrote it in the log,\nand the log was kept "
                                              "at the foot of the tower, where the boats came in.\n", **TINY_DOCS})
    pipeline = Pipeline(Settings(docs=docs, index=tmp_path / "index"), embedder=FakeEmbedder())
    infos = pipeline.documents()
    untitled = [d for d in infos if d.title == d.id]
    titled = [d for d in infos if d.title != d.id]
    assert titled and [d.id for d in untitled] == ["notes.txt"]
    rows = {row[1]: row[0] for row in document_rows(infos)}
    choices = dict((v, label) for label, v in document_choices(infos))
    for d in untitled:
        assert rows[d.id] == "(untitled)" and choices[d.id] == d.id
    for d in titled:
        assert rows[d.id] == d.title and choices[d.id] == f"{d.title} ({d.id})"
