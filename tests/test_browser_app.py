"""The app as a person meets it: ``python app.py`` started fresh, in Debian's chromium.

Served before the index is built, with one progress bar; ``?q=`` answers on load; a citation
opens the whole document at the cited place and the PDF page with the answer marked; the first
evaluation in the fresh process takes seconds; an answer marked right is saved as a test query
and runs in Evaluate. Every wait is on a state of the page (generous limits, no fixed sleeps),
so a busy machine makes the tests slower, not red. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from app_server import free_port
from conftest import ROOT, TINY_DOCS, write_docs
from sample_files import LIGHTHOUSE_PAGES, make_pdf

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
ECKMUHL = "When was the Phare d'Eckmuhl at Penmarch lit?"
PDF_ID = "lights.pdf"
#: Limits for states that need the model or the index on a loaded 2-core machine.
SLOW = 300_000
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]

#: Counts the progress bars and timers Gradio draws, at their most, while a job runs.
COUNT_BARS = """() => {
  window.__qaBars = 0;
  const count = () => {
    const shown = [...document.querySelectorAll('.progress-bar-wrap, .eta-bar, .qa-progress progress')]
      .filter(e => e.offsetParent !== null).length;
    window.__qaBars = Math.max(window.__qaBars, shown);
  };
  new MutationObserver(count).observe(document.body, {subtree: true, childList: true, attributes: true});
  setInterval(count, 50);
}"""


def start_app(docs: Path, index: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """``python app.py`` over ``docs`` and ``index`` on a free port, its output in ``log``; and its URL."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QA_HOST": "127.0.0.1"}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "app.py", "--docs", str(docs), "--index", str(index),
                                 "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}/"


def stop_app(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """``python app.py`` over tiny documents and a PDF, with an empty index folder."""
    base = tmp_path_factory.mktemp("fresh")
    docs = write_docs(base / "docs", {**TINY_DOCS, PDF_ID: make_pdf(LIGHTHOUSE_PAGES, title="Lighthouses of Brittany")})
    proc, url = start_app(docs, base / "index", base / "app.log")
    try:
        yield {"url": url, "docs": docs, "index": base / "index", "proc": proc, "log": base / "app.log",
               "started": time.monotonic()}
    finally:
        stop_app(proc)


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()


def open_page(browser, url: str, phone: bool = False, init_script: str | None = None):
    page = browser.new_page(viewport={"width": 390, "height": 844} if phone else {"width": 1280, "height": 900},
                            device_scale_factor=1)
    if init_script:  # run in the page before its own scripts
        page.add_init_script(init_script)
    page.set_default_navigation_timeout(SLOW)
    deadline = time.monotonic() + SLOW / 1000
    while True:  # importing Gradio takes seconds (minutes on a loaded machine); so may the index
        try:
            page.goto(url, timeout=SLOW)
            return page
        except Exception:
            if time.monotonic() > deadline:
                raise
            page.wait_for_timeout(250)


def ready(page) -> None:
    expect(page.locator(".qa-header .qa-doc-count")).to_be_visible(timeout=SLOW)


def test_served_before_the_index_is_built_with_one_progress_bar(browser, app):
    page = open_page(browser, app["url"])
    page.evaluate(COUNT_BARS)
    header = page.locator(".qa-header")
    if page.locator(".qa-progress").count():  # still indexing: one bar, saying what it does
        expect(header).to_contain_text("Indexing 4 documents")
        page.screenshot(path=str(ARTIFACTS / "indexing.png"))
    ready(page)
    expect(header).to_contain_text("4 documents")
    assert page.evaluate("window.__qaBars") <= 1
    log = app["log"].read_text()
    assert log.index("Serving on") < log.index("Ready")  # it listened before the index was ready


def test_a_question_in_the_address_is_answered_on_load(browser, app):
    from urllib.parse import quote

    for phone in (False, True):
        page = open_page(browser, app["url"] + "?q=" + quote(ECKMUHL), phone=phone)
        expect(page.locator("#qa-answer .qa-answer-text")).to_contain_text("1897", timeout=SLOW)
        expect(page.get_by_label("Question")).to_have_value(ECKMUHL)
        assert page.locator("#qa-answer .qa-answer").get_attribute("data-state") in ("answer", "tentative")
        expect(page.locator("#qa-evidence .qa-card").first).to_have_class("qa-card qa-card-answer")
        if phone:  # the question box is as wide as the page, the answer in view
            box = page.get_by_label("Question").bounding_box()
            assert box["width"] >= 0.75 * 390  # not half the width beside the button
            answer = page.locator("#qa-answer .qa-answer-text").bounding_box()
            assert 0 <= answer["y"] < 844
        page.screenshot(path=str(ARTIFACTS / f"answer-{'phone' if phone else 'desktop'}.png"))
        page.close()


def test_a_citation_opens_the_document_and_the_pdf_page_with_the_answer_marked(browser, app):
    page = open_page(browser, app["url"] + "?q=" + ECKMUHL.replace(" ", "%20").replace("'", "%27").replace("?", "%3F"))
    expect(page.locator("#qa-answer .qa-answer-text")).to_contain_text("1897", timeout=SLOW)
    page.locator("#qa-answer").get_by_role("button", name="Open the source").click()

    view = page.locator("#qa-source .qa-source-view")
    expect(view).to_be_visible(timeout=SLOW)
    mark = view.locator(".qa-source-text mark")
    expect(mark).to_have_text("1897")
    expect(view).to_contain_text("page 2 of 3")
    # the long text is scrolled so that the answer is inside its visible part
    text_box = view.locator(".qa-source-text").bounding_box()
    mark_box = mark.bounding_box()
    assert text_box["y"] <= mark_box["y"] <= text_box["y"] + text_box["height"]
    image = page.locator("#qa-page-image img")
    expect(image).to_be_visible(timeout=SLOW)
    expect(page.locator("#qa-page-image")).to_contain_text("answer marked")
    label = page.locator("#qa-page-image label").first.bounding_box()
    assert label["y"] + label["height"] <= image.bounding_box()["y"] + 1, (label, image.bounding_box())  # not over it
    page.screenshot(path=str(ARTIFACTS / "source-pdf.png"), full_page=True)

    # any other card opens its own document
    page.locator("#qa-evidence .qa-card").nth(1).get_by_role("button", name="Open in the document").click()
    expect(view).to_have_attribute("data-cite", "2", timeout=SLOW)


def test_the_first_evaluation_in_a_fresh_app_shows_its_metrics_with_one_progress_bar(browser, app, tmp_path):
    queries = tmp_path / "few.jsonl"
    queries.write_text(
        json.dumps({"id": "lit", "question": ECKMUHL, "answers": ["1897"]}) + "\n"
        + json.dumps({"id": "none", "question": "What colour is the Prague tram?", "answers": []}) + "\n",
        encoding="utf-8",
    )
    page = open_page(browser, app["url"])
    ready(page)
    page.get_by_role("tab", name="Evaluate").click()
    assert page.locator("#qa-metrics").count() == 0 or not page.locator("#qa-metrics").is_visible()
    upload_queries(page, queries)
    page.evaluate(COUNT_BARS)
    start = time.monotonic()
    page.get_by_role("button", name="Evaluate", exact=True).click()
    expect(page.locator("#qa-metrics")).to_contain_text("hybrid", timeout=SLOW)
    # how long it took is recorded, not asserted (CI machines may be busy); docs/benchmarks.md reports it
    (ARTIFACTS / "first-evaluation-seconds.txt").write_text(f"{time.monotonic() - start:.2f}\n")
    assert page.evaluate("window.__qaBars") <= 1
    # the result in one plain sentence first; the glossary of the columns one click away
    expect(page.locator("#qa-eval-summary .qa-plain").first).to_contain_text("questions the documents answer")
    expect(page.locator(".qa-metric-help")).to_be_hidden()
    page.locator(".qa-metric-details summary").click()
    expect(page.locator(".qa-metric-help")).to_be_visible()
    expect(page.locator(".qa-metric-help")).to_contain_text("mean reciprocal rank")
    expect(page.locator("#qa-per-query")).to_contain_text("partly right")
    page.screenshot(path=str(ARTIFACTS / "evaluate-fresh.png"), full_page=True)


def upload_queries(page, path: Path) -> None:
    """Choose a query file in the Evaluate tab (already open)."""
    page.locator("#qa-query-file input[type=file]").set_input_files(str(path))
    expect(page.get_by_label("Upload a file")).to_be_checked(timeout=SLOW)


#: The colours the recall plot is drawn in: its axis labels' text and the first opaque background
#: behind the plot, as [r, g, b] each.
PLOT_COLOURS = """() => {
  const rgb = c => (c.match(/[\\d.]+/g) || []).slice(0, 4).map(Number);
  const svg = document.querySelector('#qa-curve svg');
  const label = svg.querySelector('.role-axis-label text');
  let node = svg, background = null;
  while (node && !background) {
    const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0)) background = c.slice(0, 3);
    node = node.parentElement;
  }
  return {text: rgb(getComputedStyle(label).fill).slice(0, 3), background};
}"""


def luminance(rgb: list[float]) -> float:
    return (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_recall_plot_is_drawn_in_the_pages_theme(browser, app, tmp_path, theme):
    queries = tmp_path / "one.jsonl"
    queries.write_text(json.dumps({"id": "lit", "question": ECKMUHL, "answers": ["1897"]}) + "\n", encoding="utf-8")
    page = open_page(browser, app["url"] + f"?__theme={theme}")
    ready(page)
    assert page.evaluate("document.body.classList.contains('dark')") == (theme == "dark")
    page.get_by_role("tab", name="Evaluate").click()
    upload_queries(page, queries)
    page.get_by_role("button", name="Evaluate", exact=True).click()
    expect(page.locator("#qa-curve svg .role-axis-label text").first).to_be_visible(timeout=SLOW)
    colours = page.evaluate(PLOT_COLOURS)
    text, background = luminance(colours["text"]), luminance(colours["background"])
    if theme == "dark":  # light lines and labels on a dark ground, not a light picture
        assert background < 0.25 and text > 0.6, colours
    else:
        assert background > 0.9 and text < 0.4, colours
    page.locator("#qa-curve").screenshot(path=str(ARTIFACTS / f"recall-plot-{theme}.png"))


def test_an_evaluation_on_a_phone_fits_the_screen(browser, app, tmp_path):
    """The metrics table is wider than a phone: it scrolls in its own box, the page does not."""
    queries = tmp_path / "one.jsonl"
    queries.write_text(json.dumps({"id": "lit", "question": ECKMUHL, "answers": ["1897"]}) + "\n", encoding="utf-8")
    page = open_page(browser, app["url"], phone=True)
    ready(page)
    page.get_by_role("tab", name="Evaluate").click()
    upload_queries(page, queries)
    page.get_by_role("button", name="Evaluate", exact=True).click()
    expect(page.locator("#qa-curve svg .role-axis-label text").first).to_be_visible(timeout=SLOW)
    expect(page.locator("#qa-metrics")).to_contain_text("R@1", timeout=SLOW)
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], widths
    # the per-query table keeps its columns readable (they were squeezed to a letter a line) and scrolls
    for name, least in (("correct", 60), ("question", 190), ("gold", 150), ("answer", 150)):
        header = page.locator("#qa-per-query").get_by_role("columnheader", name=name, exact=True).first
        assert header.bounding_box()["width"] >= least, (name, header.bounding_box())
    page.screenshot(path=str(ARTIFACTS / "evaluate-phone.png"), full_page=True)


def test_an_evaluation_stops_when_its_page_is_closed(browser, app, tmp_path):
    queries = tmp_path / "many.jsonl"
    queries.write_text("".join(json.dumps({"id": f"q{i}", "question": f"{ECKMUHL} ({i})", "answers": ["1897"]}) + "\n"
                               for i in range(2000)), encoding="utf-8")
    page = open_page(browser, app["url"])
    ready(page)
    page.get_by_role("tab", name="Evaluate").click()
    upload_queries(page, queries)
    page.get_by_role("button", name="Evaluate", exact=True).click()
    expect(page.locator("#qa-evaluate")).to_contain_text("evaluating", timeout=SLOW)  # the run's progress
    page.close()
    deadline = time.monotonic() + SLOW / 1000
    while "evaluation stopped at evaluating" not in app["log"].read_text():
        assert time.monotonic() < deadline, "the evaluation went on after its page was closed"
        time.sleep(0.5)
    stopped = re.search(r"evaluation stopped at evaluating \w+: (\d+)/2000", app["log"].read_text())
    assert stopped and int(stopped.group(1)) < 2000


def test_the_questions_asked_in_a_tab_are_listed_and_ask_again_on_click(browser, app):
    page = open_page(browser, app["url"])
    ready(page)
    answer = page.locator("#qa-answer .qa-answer-text")
    page.get_by_label("Question").fill(ECKMUHL)
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(answer).to_contain_text("1897", timeout=SLOW)
    page.get_by_label("Question").fill("When did the Eyjafjallajokull volcano erupt?")
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(answer).to_contain_text("2010", timeout=SLOW)
    page.get_by_role("button", name="Questions asked in this tab").click()
    history = page.locator("#qa-history")
    expect(history).to_contain_text(ECKMUHL, timeout=SLOW)
    expect(history).to_contain_text("Eyjafjallajokull", timeout=SLOW)
    history.get_by_text(ECKMUHL).click()
    expect(page.get_by_label("Question")).to_have_value(ECKMUHL, timeout=SLOW)
    expect(answer).to_contain_text("1897", timeout=SLOW)


#: Records whether the answer box ever showed Gradio's progress (its status tracker without ``hide``).
WATCH_ANSWER_SPINNER = """
window.__qaSpinner = false;
new MutationObserver(() => {
  const tracker = document.querySelector('#qa-answer [data-testid="status-tracker"]');
  if (tracker && !tracker.classList.contains('hide') && tracker.textContent.trim()) window.__qaSpinner = true;
}).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""


def test_a_page_load_shows_no_spinner_in_the_empty_answer_box_and_a_linked_question_says_it_is_answered(browser,
                                                                                                      app):
    """A tester saw a "0.0s" spinner flash in the empty answer box on every page load: the handler of a question in
    the address ran, with progress shown, even without one."""
    from urllib.parse import quote

    page = open_page(browser, app["url"], init_script=WATCH_ANSWER_SPINNER)
    ready(page)
    page.get_by_label("Question").wait_for()
    page.wait_for_timeout(1500)  # the load's chain of events has run by now (nothing to wait on: nothing shows)
    assert page.evaluate("window.__qaSpinner") is False
    page.goto(app["url"] + "?q=" + quote(ECKMUHL), timeout=SLOW)
    expect(page.locator("#qa-answer .qa-answer-text")).to_contain_text("1897", timeout=SLOW)
    page.close()


def test_a_number_typed_in_passages_shown_and_enter_asks_again(browser, app):
    """A tester typed 2 in "Passages shown (k)" and pressed Enter, or moved the slider with the arrow keys: nothing
    happened until the box lost focus."""
    page = open_page(browser, app["url"])
    ready(page)
    page.get_by_label("Question").fill(ECKMUHL)
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.locator("#qa-answer .qa-answer-text")).to_contain_text("1897", timeout=SLOW)
    cards = page.locator("#qa-evidence .qa-card")
    expect(cards).not_to_have_count(0, timeout=SLOW)
    assert cards.count() > 2
    page.get_by_text("Search settings").click()
    box = page.locator("#qa-k input[type=number]")
    box.fill("2")
    box.press("Enter")
    expect(cards).to_have_count(2, timeout=SLOW)
    expect(page.locator("#qa-answer .qa-answer-text")).to_contain_text("1897")
    page.locator("#qa-k input[type=range]").focus()  # the keyboard on the slider asks again too
    page.keyboard.press("ArrowRight")
    expect(box).to_have_value("3")
    expect(cards).to_have_count(3, timeout=SLOW)
    box.fill("0")  # out of range: brought into it, and asked (Gradio refused it and kept showing the last count)
    box.press("Enter")
    expect(box).to_have_value("1")
    expect(cards).to_have_count(1, timeout=SLOW)
    box.fill("99")
    box.press("Enter")
    expect(box).to_have_value("20")
    expect(cards).not_to_have_count(1, timeout=SLOW)
    expect(page.locator("#qa-answer")).not_to_contain_text("Error")


def test_an_answer_marked_right_is_saved_and_runs_in_evaluate(browser, app):
    page = open_page(browser, app["url"])
    ready(page)
    page.get_by_label("Question").fill(ECKMUHL)
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.locator("#qa-answer .qa-answer-text")).to_contain_text("1897", timeout=SLOW)
    page.get_by_role("button", name="Mark right").click()
    expect(page.locator("#qa-mark-status")).to_contain_text("saved as a test query", timeout=SLOW)
    marks = app["index"].parent / "index-marks.jsonl"
    saved = [json.loads(line) for line in marks.read_text().splitlines()]
    assert any(m["question"] == ECKMUHL and m["answers"] == ["1897"] for m in saved)

    page.get_by_role("tab", name="Evaluate").click()
    page.get_by_label("Answers marked in this app").check(timeout=SLOW)
    page.get_by_role("button", name="Evaluate", exact=True).click()
    table = page.locator("#qa-per-query")
    expect(table).to_contain_text(ECKMUHL, timeout=SLOW)
    expect(page.locator("#qa-eval-summary")).to_contain_text("the answers marked in this app")


def test_an_upload_in_one_page_shows_in_another_after_reload_and_removal_asks_first(browser, app, tmp_path):
    first, second = open_page(browser, app["url"]), open_page(browser, app["url"])
    ready(first)
    ready(second)
    new = tmp_path / "tea.txt"
    new.write_text("Tea in India\n\nDarjeeling tea is grown on the slopes of the Himalayas since 1841.\n",
                   encoding="utf-8")
    first.get_by_role("tab", name="Documents").click()
    first.evaluate(COUNT_BARS)
    first.locator("#qa-doc-upload input[type=file]").set_input_files(str(new))
    status = first.locator("#qa-doc-status")
    expect(status).to_contain_text("tea.txt", timeout=SLOW)
    assert first.evaluate("window.__qaBars") <= 1

    second.reload(timeout=SLOW)
    expect(second.locator(".qa-header")).to_contain_text("5 documents", timeout=SLOW)
    second.get_by_role("tab", name="Documents").click()
    expect(second.locator("#qa-doc-table")).to_contain_text("tea.txt", timeout=SLOW)
    second.get_by_role("tab", name="Ask").click()
    second.get_by_text("Search settings").click()
    second.locator("#qa-doc-filter input").click()
    expect(second.get_by_role("option", name="Tea in India (tea.txt)")).to_be_visible(timeout=SLOW)
    second.keyboard.press("Escape")

    # removing asks first, naming the file; Cancel keeps it
    first.locator("#qa-doc-remove input").click()
    first.get_by_role("option", name="Tea in India (tea.txt)").click()
    first.keyboard.press("Escape")
    first.get_by_role("button", name="Remove ...").click()
    confirm = first.locator("#qa-confirm .qa-confirm")
    expect(confirm).to_contain_text("Remove 1 document?", timeout=SLOW)
    expect(confirm).to_contain_text("tea.txt")
    first.screenshot(path=str(ARTIFACTS / "remove-confirm.png"), full_page=True)
    first.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    assert (app["docs"] / "tea.txt").exists()

    first.get_by_role("button", name="Remove ...").click()
    first.get_by_role("button", name="Yes, remove").click()
    expect(status).to_contain_text("removed 1: tea.txt", timeout=SLOW)
    expect(first.locator(".qa-header")).to_contain_text("4 documents")
    second.reload(timeout=SLOW)
    expect(second.locator(".qa-header")).to_contain_text("4 documents", timeout=SLOW)


def test_undo_brings_a_removed_document_back(browser, app, tmp_path):
    from qa.pipeline import Pipeline

    if not hasattr(Pipeline, "restore"):
        pytest.skip("Pipeline.restore (the trash) is not in this branch yet")
    new = tmp_path / "salt.txt"
    new.write_text("Salt of Guerande\n\nSalt is harvested by hand in the marshes of Guerande.\n", encoding="utf-8")
    page = open_page(browser, app["url"])
    ready(page)
    page.get_by_role("tab", name="Documents").click()
    page.locator("#qa-doc-upload input[type=file]").set_input_files(str(new))
    expect(page.locator("#qa-doc-status")).to_contain_text("salt.txt", timeout=SLOW)
    page.get_by_role("tab", name="Ask").click()
    page.get_by_label("Question").fill("Where is salt harvested by hand?")
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.locator("#qa-answer")).to_contain_text("Guerande", timeout=SLOW)
    page.get_by_role("tab", name="Documents").click()
    remove_salt(page)
    # the answer still on the Ask tab says that a document it cites is gone
    page.get_by_role("tab", name="Ask").click()
    expect(page.locator("#qa-stale")).to_contain_text("salt.txt is cited below and no longer in the collection",
                                                      timeout=SLOW)
    page.get_by_role("button", name="Ask", exact=True).click()  # asked again: the note goes
    expect(page.locator("#qa-stale")).not_to_contain_text("salt.txt", timeout=SLOW)
    page.get_by_role("tab", name="Documents").click()
    # the Undo button names what it brings back, and still does after the message is gone (another tab)
    page.get_by_role("tab", name="Ask").click()
    page.get_by_role("tab", name="Documents").click()
    page.get_by_role("button", name="Undo: restore salt.txt").click()
    expect(page.locator("#qa-doc-status")).to_contain_text("restored salt.txt", timeout=SLOW)
    expect(page.locator("#qa-doc-table")).to_contain_text("salt.txt")
    # the document just restored is not left picked for removal, one confirmation from going again
    expect(page.locator("#qa-doc-remove")).not_to_contain_text("Salt of Guerande")
    page.get_by_role("button", name="Remove ...").click()
    expect(page.locator("#qa-doc-status")).to_contain_text("Nothing chosen")
    assert (app["docs"] / "salt.txt").exists()

    # removed, then the page reloaded: no Undo any more, but the removed documents are listed to restore
    remove_salt(page)
    page.reload(timeout=SLOW)
    ready(page)
    page.get_by_role("tab", name="Documents").click()
    expect(page.get_by_role("button", name="Undo: restore salt.txt")).to_have_count(0)
    page.locator("#qa-doc-restore input").click()
    page.get_by_role("option", name=re.compile(r"^salt\.txt \(removed ")).click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Restore", exact=True).click()
    expect(page.locator("#qa-doc-status")).to_contain_text("restored salt.txt", timeout=SLOW)
    expect(page.locator("#qa-doc-table")).to_contain_text("salt.txt")
    assert (app["docs"] / "salt.txt").exists()
    # no longer offered: the section is gone with an empty trash (this test alone), else salt.txt is not among its
    # documents (the module's earlier tests leave theirs there)
    restore_input = page.locator("#qa-doc-restore input")
    assert "salt.txt" not in trashed_files(app)
    if trashed_files(app):
        restore_input.click()
        expect(page.get_by_role("option", name=re.compile(r"^salt\.txt"))).to_have_count(0)
        page.keyboard.press("Escape")
    else:
        expect(restore_input).to_be_hidden(timeout=SLOW)
    shutil.rmtree(tmp_path, ignore_errors=True)


def trashed_files(app) -> list[str]:
    """The ids the app's trash holds now (beside its index)."""
    from qa.ingest import trash

    return [e.id for e in trash.trashed(app["index"])]


def remove_salt(page) -> None:
    page.locator("#qa-doc-remove input").click()
    page.get_by_role("option", name="Salt of Guerande (salt.txt)").click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Remove ...").click()
    page.get_by_role("button", name="Yes, remove").click()
    expect(page.locator("#qa-doc-status")).to_contain_text("removed 1: salt.txt", timeout=SLOW)


def test_the_removal_question_opens_in_view_on_a_phone(browser, app):
    page = open_page(browser, app["url"], phone=True)
    ready(page)
    page.get_by_role("tab", name="Documents").click()
    expect(page.locator("#qa-doc-table")).to_contain_text("rivers.txt", timeout=SLOW)
    page.locator("#qa-doc-remove input").click()
    page.get_by_role("option", name="Rivers of Europe (rivers.txt)").click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Remove ...").click()
    yes = page.get_by_role("button", name="Yes, remove")
    expect(yes).to_be_visible()
    expect(yes).to_be_in_viewport(timeout=10_000)  # brought into view, not opened below the screen
    page.get_by_role("button", name="Cancel").click()
    expect(yes).to_be_hidden()
    assert (app["docs"] / "rivers.txt").exists()
    page.close()



def test_an_empty_document_folder_is_served_and_its_first_upload_answers(browser, tmp_path):
    """`python app.py --docs empty/` printed "Serving on ..." and then exited: a new user could not start from the
    page and upload the first files."""
    docs = tmp_path / "docs"
    docs.mkdir()
    proc, url = start_app(docs, tmp_path / "index", tmp_path / "app.log")
    try:
        page = open_page(browser, url)
        header = page.locator(".qa-header")
        expect(header).to_contain_text("No documents yet", timeout=SLOW)
        page.get_by_label("Question").fill("How many turbines does the largest pumping station have?")
        page.get_by_role("button", name="Ask", exact=True).click()
        expect(page.locator("#qa-answer")).to_contain_text("holds no document yet: add some in the Documents tab",
                                                           timeout=SLOW)
        notes = tmp_path / "upload" / "pumps.md"
        notes.parent.mkdir()
        notes.write_text("# Pumping stations\n\nThe largest pumping station has twelve turbines.\n", encoding="utf-8")
        page.get_by_role("tab", name="Documents").click()
        page.locator("#qa-doc-upload input[type=file]").set_input_files([str(notes)])
        expect(page.locator("#qa-doc-status")).to_contain_text("copied 1: pumps.md", timeout=SLOW)
        expect(header).to_contain_text("1 document", timeout=SLOW)
        page.get_by_role("tab", name="Ask").click()
        page.get_by_role("button", name="Ask", exact=True).click()
        expect(page.locator("#qa-answer .qa-answer-text")).to_contain_text("twelve", timeout=SLOW)
        assert proc.poll() is None  # still serving
        assert "No documents in" in (tmp_path / "app.log").read_text()
        page.close()
    finally:
        stop_app(proc)
