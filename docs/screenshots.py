"""Take the README's screenshots of the app: each view at desktop and phone sizes.

    pip install -e ".[test]"            # Playwright and fpdf2; Debian's chromium at /usr/bin/chromium
    python docs/screenshots.py          # writes docs/*.png
    python docs/screenshots.py --work /tmp/shots --out /tmp/shots/png   # keep the index for the next run

It starts ``python app.py`` itself on a copy of ``seeds/`` with one PDF added (the lighthouse PDF
the tests make) and an index folder of its own, so ``seeds/`` and ``vectorstore/`` are never
touched. On an empty index folder the first pictures show the app serving while it indexes. Each
picture is taken once the page shows the state it is meant to show (the answer's state, the
source view's page image, the evaluation's plot), and fails otherwise.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from sample_files import LIGHTHOUSE_PAGES, make_pdf  # noqa: E402
from test_browser_app import CHROMIUM, LAUNCH_ARGS, SLOW, open_page, stop_app  # noqa: E402
from test_browser_app import start_app as start  # noqa: E402

SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
#: Questions and the answer state each is expected to give on the seeds (``data-state`` in the page).
SURE = ("When did Russia first signal that it was reconsidering its commitment to Assad?", "answer")
#: A possible answer: the first of these the reader is unsure of (seed queries it answers below its threshold).
POSSIBLE = (
    "What explains Tehran's dominant sway over Assad's personal protection unit?",
    "Why was swift action against ISIS deemed necessary for Tehran?",
    "What led Tehran to pull back most of its troops from Syria once the fight against the Islamic State ended?",
    "What makes the base at the Syria–Iraq–Jordan border triangle so valuable as a target for Tehran's allies?",
    "How does the study characterize the overall strategy Iran adopted against ISIS, mixing protection and attack?",
)
NOT_FOUND = ("What is the population of Brazil?", "none")
PDF = ("When was the Phare d'Eckmuhl at Penmarch lit?", "answer")
PDF_NAME = "lights.pdf"
#: How many of the shipped seed queries the evaluation pictures run (all of them take minutes).
EVAL_QUERIES = 12
#: How long the index may take to build on a busy machine (ms).
INDEXING = 3_600_000
#: PNGs larger than this are reduced to 256 colours.
MAX_BYTES = 250_000


def save(page, path: Path, full_page: bool = False) -> None:
    """A screenshot of ``page``, written small (optimised; 256 colours when large)."""
    from PIL import Image

    page.screenshot(path=str(path), full_page=full_page)
    image = Image.open(path)
    image.save(path, optimize=True)
    if path.stat().st_size > MAX_BYTES:
        image.convert("RGB").quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)
    print(f"{path.name}: {image.width}x{image.height}, {path.stat().st_size // 1024} KB", flush=True)


def start_app(work: Path) -> tuple[subprocess.Popen, str]:
    """``python app.py`` over ``work/docs`` (the seeds and a PDF) and ``work/index``."""
    docs = work / "docs"
    if not docs.exists():
        shutil.copytree(ROOT / "seeds", docs)
        (docs / PDF_NAME).write_bytes(make_pdf(LIGHTHOUSE_PAGES, title="Lighthouses of Brittany"))
    return start(docs, work / "index", work / "app.log")


def new_page(browser, url: str, size: str, theme: str = "light"):
    sep = "&" if "?" in url else "?"
    return open_page(browser, f"{url}{sep}__theme={theme}", phone=size == "phone")


def ready(page) -> None:
    expect(page.locator(".qa-header .qa-doc-count")).to_be_visible(timeout=INDEXING)


def indexing(browser, url: str, out: Path) -> None:
    """The app serving while it builds the index: one progress bar."""
    for size in SIZES:
        page = new_page(browser, url, size)
        shown = page.locator(".qa-progress, .qa-header .qa-doc-count").first
        expect(shown).to_be_visible(timeout=SLOW)
        if "qa-progress" not in (shown.get_attribute("class") or ""):
            print(f"indexing-{size}.png: not taken, the index was ready (start with an empty --work folder)")
        else:
            expect(shown).to_contain_text("Indexing", timeout=SLOW)
            save(page, out / f"indexing-{size}.png")
        page.close()


def ask(browser, url: str, question: str, size: str):
    """A page that asked ``question`` on load, once its answer is shown; and the answer's state."""
    page = new_page(browser, url + "?q=" + quote(question), size)
    shown = page.locator("#qa-answer .qa-answer")
    expect(shown).to_be_visible(timeout=INDEXING)
    expect(page.get_by_label("Question")).to_have_value(question)
    return page, shown.get_attribute("data-state")


def answers(browser, url: str, out: Path) -> None:
    """A sure answer, a possible answer and "not found", each as the page shows it after asking."""
    for possible in POSSIBLE:
        page, state = ask(browser, url, possible, "desktop")
        page.close()
        if state == "tentative":
            break
    else:
        raise SystemExit("none of the POSSIBLE questions gave a possible answer: add one that does")
    for name, (question, expected) in {"answer": SURE, "possible": (possible, "tentative"),
                                       "not-found": NOT_FOUND}.items():
        for size in SIZES:
            page, state = ask(browser, url, question, size)
            assert state == expected, f"{question!r} gave {state}, not {expected}"
            page.evaluate("document.querySelector('#qa-answer').scrollIntoView({block: 'start'})")
            save(page, out / f"{name}-{size}.png")
            page.close()


def source(browser, url: str, out: Path) -> None:
    """The source view of a PDF answer: the document text at the answer and the page image."""
    question, expected = PDF
    for size in SIZES:
        page, state = ask(browser, url, question, size)
        assert state == expected, f"{question!r} gave {state}, not {expected}"
        page.locator("#qa-answer").get_by_role("button", name="Open the source").click()
        expect(page.locator("#qa-source .qa-source-view")).to_contain_text(PDF_NAME, timeout=SLOW)
        expect(page.locator("#qa-page-image img")).to_be_visible(timeout=SLOW)
        page.locator("#qa-page-image img").evaluate("img => img.decode()")
        page.evaluate("document.querySelector('#qa-source').scrollIntoView({block: 'start'})")
        save(page, out / f"source-{size}.png")
        page.close()


def removal(browser, url: str, out: Path) -> None:
    """Removing a document asks first, naming it; the picture is taken, then Cancel keeps it."""
    for size in SIZES:
        page = new_page(browser, url, size)
        ready(page)
        page.get_by_role("tab", name="Documents").click()
        page.locator("#qa-doc-remove input").click()
        page.get_by_role("option", name=f"Lighthouses of Brittany ({PDF_NAME})").click()
        page.keyboard.press("Escape")
        page.get_by_role("button", name="Remove ...").click()
        confirm = page.locator("#qa-confirm .qa-confirm")
        expect(confirm).to_contain_text(PDF_NAME, timeout=SLOW)
        page.evaluate("document.querySelector('#qa-confirm').scrollIntoView({block: 'end'})")
        save(page, out / f"remove-{size}.png")
        page.get_by_role("button", name="Cancel").click()
        expect(confirm).to_be_hidden(timeout=SLOW)
        page.close()


def evaluation(browser, url: str, out: Path) -> None:
    """The first shipped seed queries evaluated, light and dark: the metrics, their meaning and the plot."""
    queries = out / ".queries.jsonl"
    lines = (ROOT / "tests" / "data" / "seed_queries.jsonl").read_text(encoding="utf-8").splitlines()
    queries.write_text("\n".join(lines[:EVAL_QUERIES]) + "\n", encoding="utf-8")
    try:
        for theme in ("light", "dark"):
            for size in SIZES:
                page = new_page(browser, url, size, theme)
                ready(page)
                page.get_by_role("tab", name="Evaluate").click()
                page.locator("#qa-query-file input[type=file]").set_input_files(str(queries))
                expect(page.get_by_label("Upload a file")).to_be_checked(timeout=SLOW)
                page.get_by_role("button", name="Evaluate", exact=True).click()
                expect(page.locator("#qa-curve svg .role-axis-label text").first).to_be_visible(timeout=INDEXING)
                page.evaluate("document.querySelector('#qa-eval-summary').scrollIntoView({block: 'start'})")
                save(page, out / f"evaluate-{theme}-{size}.png")
                if size == "desktop":
                    page.evaluate("document.querySelector('#qa-curve').scrollIntoView({block: 'center'})")
                    save(page, out / f"evaluate-{theme}-plot-{size}.png")
                page.close()
    finally:
        queries.unlink()


VIEWS = {"indexing": indexing, "answers": answers, "source": source, "removal": removal, "evaluation": evaluation}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where the PNGs go (default docs/)")
    parser.add_argument("--work", type=Path, help="folder for the documents, the index and the app's log "
                                                   "(default: a temporary one, removed at the end)")
    parser.add_argument("--only", nargs="+", choices=list(VIEWS), help="take only these views")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="qa-screenshots-"))
    work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    proc, url = start_app(work)
    started = time.monotonic()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
            for name in args.only or VIEWS:
                VIEWS[name](browser, url, args.out)
            browser.close()
    finally:
        stop_app(proc)
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"seconds": round(time.monotonic() - started), "out": str(args.out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
