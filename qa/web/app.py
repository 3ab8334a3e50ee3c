"""The Gradio app: ask a question, read the answer, open its source; keep the collection; evaluate.

``build_app(pipeline)`` makes the page (Ask, Documents and Evaluate tabs) and starts the
pipeline's warm-up in the background, so the page is served before the index is built;
``launch(app, settings)`` serves it on loopback with the app's theme and style sheet
(``style.css``). Everything that changes (the collection, counts, the document pickers, the
query sources) is computed on every page load and tab switch, never frozen at start-up. The
HTML itself comes from :mod:`qa.web.render`, which does not import Gradio. The Documents and
Evaluate tabs are built by :mod:`qa.web.documents_tab` and :mod:`qa.web.evaluate_tab`.

Besides the page, two API endpoints return plain JSON data: ``/ask`` (an answer with its
citations, like :meth:`qa.types.Answer.to_api`) and ``/search`` (the best passages). The page's
own events are private. ``?q=question`` in the address asks the question on load (``&spell=off``:
its words as typed, without correcting typos).

>>> from qa.pipeline import Pipeline                                  # doctest: +SKIP
>>> app = build_app(Pipeline())                                      # doctest: +SKIP
>>> launch(app, Pipeline().settings)                                 # doctest: +SKIP
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import time
from pathlib import Path

import gradio as gr

from ..config import MODES, Settings, flag
from ..errors import QAError
from ..pipeline import Pipeline
from ..types import Answer, DocumentInfo
from . import render as r
from .documents_tab import _documents_tab, trash_state
from .evaluate import (MARKED, MAX_QUERY_FILE_BYTES, SEED_QUERIES, SHIPPED, UPLOADED, mark_lines, mark_record, marks_path,
                       save_mark)
from .evaluate_tab import _evaluate_tab
from .warmup import Warmup

log = logging.getLogger("qa")

#: Example questions about the bundled seed documents, with the document that answers each.
#: Only those whose document is in the document folder are offered.
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("When did Russia first signal that it was reconsidering its commitment to Assad?", "001_bccfd2e8e94a07d8.txt"),
    ("Who gave the WANA interview on Iran's advisory presence in Syria?", "000_a0b9d8723324cd91.txt"),
    ('Who called Syria "the golden ring of resistance"?', "003_92e4960f2acc8bfd.txt"),
    ("Which base housing American forces was attacked by drones on October 20, 2021?", "004_fe2aeb450d1bbd91.txt"),
)
#: Most passages a reader can ask for in the page.
MAX_K = 20
#: Seconds a question waits for the index at start-up before the page says to ask again.
READY_WAIT = 600
#: Most questions kept in a tab's history.
HISTORY = 20
#: Seconds the page waits for reading deeper before it shows the first answer meanwhile (on 2 cores reading on
#: takes about 0.1-0.4 s; a first answer shown and replaced that quickly only flashes by).
READING_ON_AFTER = 0.5

CSS = (Path(__file__).with_name("style.css")).read_text(encoding="utf-8")

#: The page's one script: citation buttons open the source view, copy buttons copy their text, and an evidence card
#: whose text scrolls shows its highlighted answer (it could sit below the card's visible part).
HEAD = """<script>
const qaShowMarks = () => {
  document.querySelectorAll('.qa-card .qa-text:not([data-qa-shown])').forEach((text) => {
    const mark = text.querySelector('mark');
    if (!mark || !text.clientHeight) return;
    text.dataset.qaShown = '1';
    const top = mark.getBoundingClientRect().top - text.getBoundingClientRect().top;
    if (top < 0 || top + mark.offsetHeight > text.clientHeight) text.scrollTop += top - text.clientHeight / 3;
  });
};
new MutationObserver(qaShowMarks).observe(document.documentElement, {childList: true, subtree: true});
document.addEventListener('click', (event) => {
  const open = event.target.closest('.qa-open');
  if (open) {
    event.preventDefault();
    const box = document.querySelector('#qa-cite-n textarea, #qa-cite-n input');
    if (!box) return;
    box.value = open.dataset.cite;
    box.dispatchEvent(new Event('input', {bubbles: true}));
    setTimeout(() => document.querySelector('#qa-open-btn')?.click(), 60);
    return;
  }
  const copy = event.target.closest('.qa-copy');
  if (copy) {
    const done = () => { copy.textContent = 'Copied'; setTimeout(() => copy.textContent = copy.dataset.label, 1500); };
    if (navigator.clipboard) { navigator.clipboard.writeText(copy.dataset.copy).then(done, () => {}); }
  }
});
// "Passages shown (k)": a number typed out of its range is brought into it before Gradio reads it (Gradio refused
// it with an error and left the box showing 0 or 99 beside the passages of the last value it took)
document.addEventListener('input', (event) => {
  const box = event.target;
  if (!box.matches || !box.matches('#qa-k input[type=number]') || box.value === '') return;
  const value = Math.min(Number(box.max), Math.max(Number(box.min), Math.round(Number(box.value))));
  if (String(value) !== box.value) box.value = String(value);
}, true);
</script>"""

#: After the source view is drawn: scroll its text to the cited passage, and the page to the view.
SCROLL_JS = """() => {
  const view = document.querySelector('#qa-source .qa-source-view');
  if (!view) return;
  const text = view.querySelector('.qa-source-text');
  const here = text && (text.querySelector('mark') || text.querySelector('.qa-in-passage'));
  if (here) text.scrollTop = Math.max(0, here.offsetTop - text.clientHeight / 3);
  view.scrollIntoView({block: 'start'});
}"""

#: After an answer: bring it into view (on a phone it is below the question and examples).
SHOW_ANSWER_JS = "() => { document.querySelector('#qa-answer')?.scrollIntoView({block: 'start'}); }"


def cited_changed(data, hit) -> bool:
    """Whether the document of a citation given earlier no longer holds the cited text at its offsets (changed in
    place and indexed again since), so opening it there would mark other text; a removed one is not "changed"."""
    if hit.passage.doc not in data.doc_index:
        return False
    return data.document(hit.passage.doc).text[hit.passage.start:hit.passage.end] != hit.passage.text


def _docs_filter(docs: list[str] | str | None) -> list[str] | None:
    """The documents to answer from (an API client may send one id as a string: never its characters)."""
    if isinstance(docs, str):
        return [docs] if docs else None
    return list(docs) if docs else None


def _examples(settings: Settings) -> list[str]:
    return [q for q, doc in EXAMPLES if (Path(settings.docs) / doc).is_file()]


def build_app(pipeline: Pipeline, warmup: Warmup | None = None) -> gr.Blocks:
    """The page and the ``/ask`` and ``/search`` API endpoints over ``pipeline``; starts ``warmup``
    so the index is built while the page is already served. By default a new one that does not
    compile the evaluation metrics (``app.py`` passes one that does)."""
    s = pipeline.settings
    warmup = (warmup or Warmup(pipeline, metrics=False)).start()
    trash = callable(getattr(pipeline, "restore", None))
    evaluations: dict[str, bool] = {}  #: session -> its page was closed (Gradio's unload event), while it evaluates

    def page_closed(request: gr.Request) -> None:
        if request is not None and request.session_hash in evaluations:
            evaluations[request.session_hash] = True

    def ready_or_error(adding: bool = False) -> None:
        """Wait for start-up; raise QAError when it failed or takes too long, or when the collection is empty and
        this is not ``adding`` documents to it."""
        if not warmup.wait(READY_WAIT):
            raise QAError("the index is still being built: ask again in a moment")
        if warmup.error:
            raise QAError(warmup.error)
        if not adding and still_empty():
            raise QAError("the document folder holds no document yet: add some in the Documents tab")

    def still_empty() -> bool:
        """The document folder was empty at start-up and still is (documents added since end it)."""
        if warmup.empty:
            try:
                warmup.empty = not pipeline.documents()
            except QAError:  # no index yet: nothing was added
                pass
        return warmup.empty

    def current() -> list[DocumentInfo] | None:
        if warmup.ready and still_empty():
            return []
        return pipeline.documents() if warmup.ready and not warmup.error else None

    # -- the collection, as it is now -----------------------------------------------------------
    def collection_state() -> tuple:
        documents = current()
        if warmup.error:
            status = r.render_error(warmup.error, "Cannot start.")
        elif documents is None:
            status = r.render_progress(warmup.fraction, warmup.describe())
        else:
            report = pipeline.last_report
            status = r.render_skipped(report.skipped if report is not None else [])
        choices = r.document_choices(documents or [])
        rows = r.document_rows(documents or [])
        sources = [SHIPPED] if SEED_QUERIES.exists() else []
        if marks_path(s).exists():
            sources.append(MARKED)
        sources.append(UPLOADED)
        return (
            r.render_header(documents, status),
            {"headers": r.DOCUMENT_HEADERS, "data": rows},
            gr.Dropdown(choices=choices),
            gr.Dropdown(choices=choices),
            gr.Radio(choices=sources),
            gr.Timer(active=documents is None and not warmup.error),
        )

    # -- asking -----------------------------------------------------------------------------------
    readers = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="qa-read-deeper")

    def answer_page(question: str, k: float, mode: str, docs: list[str] | None, history: list | None,
                    spell: bool = True):
        """Yields the answer, the cleared source view, the evidence, the page image, the state for the
        source view, the history list, the marking controls, their status, the history and the cleared note
        that the collection has changed since: once, or twice when the reader reads deeper
        (:meth:`Pipeline.reads_deeper`) for longer than :data:`READING_ON_AFTER` (the first answer, saying so and
        with marking hidden, then the deeper one).
        ``spell=False`` searches the words as typed (the "as typed" link of a corrected question)."""
        before = list(history or [])
        hidden_image = gr.Image(value=None, visible=False)
        q = " ".join(str(question).split())
        history = [q, *(h for h in before if h != q)][:HISTORY]

        def page(answer, reading_on: bool = False) -> tuple:
            data = pipeline.data
            return (
                r.render_answer(answer, data, q, spelling=spell, reading_on=reading_on),
                "",
                r.render_evidence(answer.citations, answer.searched_for or q, answer, data),
                hidden_image,
                {"question": q, "answer": answer, "documents": [d.id for d in data.documents]},
                gr.Dataset(samples=[[h] for h in history]),
                gr.Column(visible=not reading_on),  # no marking of an answer about to be replaced
                "",
                history,
                "",  # no note that the collection changed under it
            )

        try:
            ready_or_error()
            ask = functools.partial(pipeline.ask, question, k=int(k), mode=mode, docs=_docs_filter(docs),
                                    spell=None if spell else False)
            answer = ask(deeper=False)
            if pipeline.reads_deeper(question, answer):  # unsure: the passages below are read too
                deeper = readers.submit(ask)
                try:  # quick, as it mostly is: only the last answer shows (a first one would flash by)
                    answer = deeper.result(timeout=READING_ON_AFTER)
                except concurrent.futures.TimeoutError:  # slow: the first answer shows meanwhile, saying so
                    yield page(answer, reading_on=True)
                    answer = deeper.result()
        except QAError as exc:
            yield (r.render_error(str(exc)), "", "", hidden_image, None, gr.skip(), gr.Column(visible=False), "",
                   before, "")
            return
        yield page(answer)

    def answer_again(k: float, mode: str, docs: list[str] | None, history: list | None, last: dict | None):
        """The question on screen asked again with the search settings just changed (its answer and evidence
        showed the old ones, "hybrid score ..." after choosing bm25); nothing before a first question."""
        if not last:
            yield tuple(gr.skip() for _ in ask_outputs)
            return
        yield from answer_page(last["question"], k, mode, docs, history)

    def stale_note(last: dict | None) -> str:
        """Over the answer on screen: what has changed in the collection since it was given (a document it cites
        removed in the Documents tab, or in another page)."""
        documents = current()
        if not last or documents is None or "documents" not in last:
            return ""
        citations = last["answer"].citations
        return r.render_stale(last["documents"], [d.id for d in documents],
                              list(dict.fromkeys(h.passage.doc for h in citations)),
                              list(dict.fromkeys(h.passage.doc for h in citations if cited_changed(pipeline.data, h))))

    def open_source(n: str, last: dict | None):
        """The whole document of citation ``n``, scrolled to it; a PDF's page drawn beside it."""
        none = gr.Image(value=None, visible=False)
        if not last or not str(n).strip().isdigit():
            return "", none
        answer: Answer = last["answer"]
        i = int(n)
        if not 1 <= i <= len(answer.citations):
            return "", none
        hit = answer.citations[i - 1]
        data = pipeline.data
        if hit.passage.doc not in data.doc_index:
            return r.render_error("this document is no longer in the collection", "Cannot open the source."), none
        if cited_changed(data, hit):  # its offsets would mark other text
            return r.render_error("this document has changed since the answer: ask again to open it as it is now",
                                  "Cannot open the source."), none
        doc = data.document(hit.passage.doc)
        on_answer = answer.text is not None and answer.cited == i
        page = None
        if doc.pages:
            page = (answer.page if on_answer and answer.page else None) or doc.page_at(
                answer.start if on_answer else hit.passage.start)
        image, how = None, ""
        path = Path(s.docs) / doc.id
        if page and doc.kind == "pdf" and path.is_file():
            from .source import render_page

            start, end = (answer.start, answer.end) if on_answer else (None, None)
            image, how = render_page(path, doc, page, start, end)
        html = r.render_source(doc, i, hit, answer if on_answer else None, answer.searched_for or last["question"],
                               page, has_image=image is not None)
        label = f"Page {page} of {doc.id}" + (" (answer marked)" if how else "") if page else None
        return html, gr.Image(value=image, visible=image is not None, label=label)

    def ask(question: str, k: int = s.k, mode: str = s.mode, docs: list[str] | None = None,
            spell: bool = s.spelling) -> dict:
        """Answer a question with a span quoted from the documents, its confidence and its citations.
        Words with typos are searched corrected (``searched_for``; ``None`` when searched as typed);
        ``spell=False`` searches them as typed."""
        try:
            ready_or_error()
            answer = pipeline.ask(question, k=k, mode=mode, docs=_docs_filter(docs), spell=flag(spell, "spell"))
            return answer.to_api()
        except QAError as exc:
            raise gr.Error(str(exc), print_exception=False) from None  # the user's mistake: no traceback

    def search(question: str, k: int = s.k, mode: str = s.mode, docs: list[str] | None = None,
               spell: bool = s.spelling) -> list[dict]:
        """The passages that best match a question, best first, with their place in the documents.
        Each says what it was found for: ``searched_for`` is the question with its typos corrected,
        ``None`` when it was searched as typed (``spell=False`` always searches as typed)."""
        try:
            ready_or_error()
            corrected = pipeline.correct(question, spell=flag(spell, "spell"))
            hits = pipeline.search(question, k=k, mode=mode, docs=_docs_filter(docs), spell=flag(spell, "spell"))
            return [{**h.to_dict(), "searched_for": corrected} for h in hits]
        except QAError as exc:
            raise gr.Error(str(exc), print_exception=False) from None  # the user's mistake: no traceback

    def url_question(request: gr.Request | None) -> str:
        q = (request.query_params.get("q") if request is not None else None) or ""
        return q[: s.max_question_chars]

    def question_from_url(request: gr.Request) -> object:
        """A ?q= link fills the question box; without one, whatever the reader has already typed stays."""
        return url_question(request) or gr.skip()

    def answer_from_url(q: str, k: float, mode: str, docs: list[str] | None, history: list | None,
                        request: gr.Request):
        if not url_question(request).strip():
            yield (gr.skip(),) * len(ask_outputs)
            return
        # this event shows no spinner (it runs on every page load: one flashed "0.0s" in the empty answer box);
        # a question in the address says it is being answered instead
        yield (r.render_pending(q),) + (gr.skip(),) * (len(ask_outputs) - 1)
        yield from answer_page(q, k, mode, docs, history, spell=request.query_params.get("spell") != "off")

    def mark(right: bool, correction: str, last: dict | None) -> str:
        if not last:
            return r.render_error("ask a question first", "Nothing to mark.")
        try:
            record = mark_record(last["question"], last["answer"], right, correction or "")
            n = save_mark(marks_path(s), record)
        except QAError as exc:
            return r.render_error(str(exc), "Not saved.")
        return r.render_changes(mark_lines(record, right, n, marks_path(s).name),
                                "Marked " + ("right." if right else "wrong."))

    with gr.Blocks(title="Ask the documents", analytics_enabled=False) as app:
        header = gr.HTML(r.render_header(None, checking=True), elem_id="qa-header")
        timer = gr.Timer(1.0, active=True)
        with gr.Tabs():
            with gr.Tab("Ask", id="ask") as ask_tab:
                with gr.Row(equal_height=False, elem_classes="qa-ask-row"):
                    question = gr.Textbox(
                        label="Question", lines=1, max_lines=4, autofocus=True, scale=6, elem_id="qa-question",
                        placeholder="Ask something the documents answer: who, when, how many, why ...",
                    )
                    ask_button = gr.Button("Ask", variant="primary", scale=1, min_width=120)
                examples = _examples(s)
                example_buttons = []
                if examples:
                    gr.Markdown("Try one of these:", elem_classes="qa-try")
                    with gr.Row(elem_classes="qa-examples"):
                        for q in examples:
                            example_buttons.append((q, gr.Button(q, size="sm", variant="secondary",
                                                                 elem_classes="qa-example")))
                with gr.Accordion("Search settings", open=False):
                    with gr.Row():
                        k = gr.Slider(1, MAX_K, value=min(s.k, MAX_K), step=1, label="Passages shown (k)",
                                      elem_id="qa-k")
                        mode = gr.Radio(list(MODES), value=s.mode, label="Retrieval",
                                        info="hybrid fuses dense (meaning) and bm25 (words)")
                        docs = gr.Dropdown(choices=[], value=[], multiselect=True, label="Only these documents",
                                           info="empty: all documents", elem_id="qa-doc-filter")
                stale_html = gr.HTML(elem_id="qa-stale")
                answer_html = gr.HTML(elem_id="qa-answer")
                with gr.Column(visible=False, elem_id="qa-mark") as mark_group:
                    with gr.Row(equal_height=True, elem_classes="qa-mark-row"):
                        right_button = gr.Button("Mark right", size="sm", scale=0, min_width=110,
                                                 elem_id="qa-mark-right")
                        wrong_button = gr.Button("Mark wrong", size="sm", scale=0, min_width=110,
                                                 elem_id="qa-mark-wrong")
                        correction = gr.Textbox(label="The right answer, if this one is wrong", show_label=False,
                                                container=False, scale=3, elem_id="qa-correction",
                                                placeholder="If wrong: the right answer, copied from a passage "
                                                            "(empty: the documents do not answer it)")
                    mark_status = gr.HTML(elem_id="qa-mark-status")
                source_html = gr.HTML(elem_id="qa-source")
                page_image = gr.Image(visible=False, interactive=False, type="pil", format="png",
                                      elem_id="qa-page-image", buttons=["fullscreen"])  # a phone's page: zoom
                evidence_html = gr.HTML(elem_id="qa-evidence")
                with gr.Accordion("Questions asked in this tab", open=False):
                    history_list = gr.Dataset(components=[question], samples=[], label="Ask again",
                                              elem_id="qa-history", samples_per_page=HISTORY)
                cite_n = gr.Textbox(elem_id="qa-cite-n", elem_classes="qa-hidden", show_label=False, container=False)
                open_button = gr.Button("Open", elem_id="qa-open-btn", elem_classes="qa-hidden")
                last = gr.State()
                history = gr.State([])
                ask_outputs = [answer_html, source_html, evidence_html, page_image, last, history_list,
                               mark_group, mark_status, history, stale_html]
                ask_inputs = [question, k, mode, docs, history]
                gr.on([ask_button.click, question.submit], answer_page, ask_inputs, ask_outputs,
                      api_visibility="private", show_progress_on=[answer_html]
                      ).then(None, js=SHOW_ANSWER_JS)
                # a setting the user changed (not one the page updates, as the document list's choices) asks again;
                # the slider's every input (a drag, an arrow key, a number typed in its box), the latest one only when
                # several come while one is answered (its release came only when the box lost focus, not on Enter)
                gr.on([k.input, mode.input, docs.input], answer_again, [k, mode, docs, history, last], ask_outputs,
                      api_visibility="private", show_progress_on=[answer_html], trigger_mode="always_last")
                for q, button in example_buttons:
                    button.click(lambda q=q: q, None, question, api_visibility="private", show_progress="hidden"
                                 ).then(answer_page, ask_inputs, ask_outputs, api_visibility="private",
                                        show_progress_on=[answer_html]).then(None, js=SHOW_ANSWER_JS)
                history_list.click(lambda sample: sample[0], history_list, question, api_visibility="private"
                                   ).then(answer_page, ask_inputs, ask_outputs, api_visibility="private",
                                          show_progress_on=[answer_html])
                open_button.click(open_source, [cite_n, last], [source_html, page_image], api_visibility="private",
                                  show_progress_on=[source_html]).then(None, js=SCROLL_JS)
                right_button.click(lambda c, l: mark(True, c, l), [correction, last], mark_status,
                                   api_visibility="private")
                wrong_button.click(lambda c, l: mark(False, c, l), [correction, last], mark_status,
                                   api_visibility="private")
            with gr.Tab("Documents", id="documents", elem_id="qa-documents") as documents_tab:
                table, chosen, doc_status, trashed, trash_group = _documents_tab(
                    pipeline, ready_or_error, collection_state, trash, header, docs)
            with gr.Tab("Evaluate", id="evaluate", elem_id="qa-evaluate") as evaluate_tab:
                source_choice = _evaluate_tab(pipeline, warmup, ready_or_error, evaluations)
        state_outputs = [header, table, chosen, docs, source_choice, timer]
        app.load(collection_state, None, state_outputs, api_visibility="private", show_progress="hidden"
                 ).then(question_from_url, None, question, api_visibility="private", show_progress="hidden"
                        ).then(answer_from_url, ask_inputs, ask_outputs, api_visibility="private",
                               show_progress="hidden")
        timer.tick(collection_state, None, state_outputs, api_visibility="private", show_progress="hidden")
        app.unload(page_closed)
        for tab in (ask_tab, documents_tab, evaluate_tab):
            tab.select(collection_state, None, state_outputs, api_visibility="private", show_progress="hidden")
        documents_tab.select(lambda: "", None, doc_status, api_visibility="private", show_progress="hidden")
        # the answer on screen says when the collection has changed under it (a new answer clears it)
        ask_tab.select(stale_note, last, stale_html, api_visibility="private", show_progress="hidden")
        for event in (app.load, documents_tab.select):  # the trash as it is now (a removal in another page too)
            event(lambda: trash_state(pipeline), None, [trashed, trash_group], api_visibility="private",
                  show_progress="hidden")
        gr.api(ask, api_name="ask")
        gr.api(search, api_name="search")
    app.qa_warmup = warmup
    return app


THEME = gr.themes.Base(
    primary_hue="indigo",
    neutral_hue="slate",
    font=["Inter", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
).set(  # removal buttons (variant "stop") in red: the base theme draws them as plain grey ones, "Yes, remove" under
    # a darker "Cancel"
    button_cancel_background_fill="#b91c1c", button_cancel_background_fill_dark="#b91c1c",
    button_cancel_background_fill_hover="#991b1b", button_cancel_background_fill_hover_dark="#991b1b",
    button_cancel_border_color="#b91c1c", button_cancel_border_color_dark="#b91c1c",
    button_cancel_text_color="white", button_cancel_text_color_dark="white",
    button_cancel_text_color_hover="white",
)


def _patient_url_ok(url: str) -> bool:
    """Gradio's check that the new server answers, with room for a busy machine.

    Gradio gives up after one 3-second request that times out and then refuses to start
    ("localhost is not accessible"); on a loaded 2-core machine the first answer can take longer.
    """
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.head(url, timeout=30).status_code in (200, 401, 301, 302, 303, 307, 308):
                return True
        except httpx.TimeoutException:
            continue
        except (ConnectionError, httpx.ConnectError):
            pass
        time.sleep(0.5)
    return False


def launch(app: gr.Blocks, settings: Settings, prevent_thread_lock: bool = False, quiet: bool = False):
    """Serve ``app`` where the settings say (loopback by default), never shared, serving no files."""
    from gradio import networking

    networking.url_ok = _patient_url_ok
    return app.launch(
        server_name=settings.host,
        server_port=settings.port,
        share=False,
        allowed_paths=[],
        ssr_mode=False,
        theme=THEME,
        css=CSS,
        head=HEAD,
        footer_links=["api"],
        max_file_size=max(MAX_QUERY_FILE_BYTES, settings.max_file_bytes),
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
    )


__all__ = ["build_app", "launch", "EXAMPLES", "THEME", "CSS"]
