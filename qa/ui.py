"""The Gradio app: ask a question, read the answer, check it against its evidence.

``build_app(pipeline)`` makes the page (Ask, Documents and Evaluate tabs); ``launch(app, settings)``
serves it on loopback with the app's theme and style sheet. The Documents tab adds uploaded files
to the collection (only the types the loader reads, within the size limit, under sanitised names
inside the document folder) and removes documents; questions asked afterwards use the new index.
Besides the page, two API endpoints return plain JSON data: ``/ask`` (an answer with its
citations, like :meth:`qa.types.Answer.to_dict`) and ``/search`` (the best passages). The page's
own events are private.

Documents are untrusted: every piece of document text is HTML-escaped, segment by segment,
before any markup is added (see :func:`highlight`), so ``<script>``, ``onerror=`` attributes
or ``javascript:`` links in a document render as inert text.

>>> from qa.pipeline import Pipeline                                  # doctest: +SKIP
>>> app = build_app(Pipeline())
>>> launch(app, Pipeline().settings)
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Collection, Iterable

import gradio as gr

from .config import MODES, Settings
from .documents import SUFFIXES
from .errors import QAError
from .lexical import tokenize
from .pipeline import Pipeline
from .store import IndexData
from .types import Answer, Hit

#: Example questions about the bundled seed documents, with the document that answers each.
#: Only those whose document is in the index are offered.
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("When did Russia first signal that it was reconsidering its commitment to Assad?", "001_bccfd2e8e94a07d8.txt"),
    ("Who gave the WANA interview on Iran's advisory presence in Syria?", "000_a0b9d8723324cd91.txt"),
    ('Who called Syria "the golden ring of resistance"?', "003_92e4960f2acc8bfd.txt"),
    ("Which base housing American forces was attacked by drones on October 20, 2021?", "004_fe2aeb450d1bbd91.txt"),
)

#: Characters of document text shown on each side of a passage when it is opened in context.
CONTEXT_CHARS = 600
#: Most passages a reader can ask for in the page.
MAX_K = 20

# -- highlighting -----------------------------------------------------------------------------

#: Markup for each kind of span, outermost first (an answer lies inside its sentence, and query
#: terms inside either).
_TAGS = {
    "passage": ('<span class="qa-in-passage">', "</span>"),
    "sentence": ('<span class="qa-sentence">', "</span>"),
    "answer": ("<mark>", "</mark>"),
    "term": ('<b class="qa-term">', "</b>"),
}
_ORDER = tuple(_TAGS)
#: Words as the BM25 tokenizer sees them (bm25s' default pattern), so stems compare equal.
_WORD = re.compile(r"(?u)\b\w\w+\b")


def highlight(text: str, spans: Iterable[tuple[int, int, str]]) -> str:
    """HTML of ``text`` with each ``(start, end, kind)`` span wrapped in the tag of its kind.

    Offsets are into ``text``; spans outside it are clipped. The text is cut at every span
    boundary and each piece is escaped on its own, so markup only ever comes from ``_TAGS``.

    >>> highlight("a <b> c", [(2, 5, "answer")])
    'a <mark>&lt;b&gt;</mark> c'
    """
    n = len(text)
    spans = [(max(s, 0), min(e, n), k) for s, e, k in spans if min(e, n) > max(s, 0)]
    cuts = sorted({0, n, *(s for s, _, _ in spans), *(e for _, e, _ in spans)})
    out: list[str] = []
    opened: list[str] = []
    for a, b in zip(cuts, cuts[1:]):
        want = [k for k in _ORDER if any(s <= a and b <= e for s, e, kind in spans if kind == k)]
        keep = 0
        while keep < min(len(opened), len(want)) and opened[keep] == want[keep]:
            keep += 1
        out.extend(_TAGS[k][1] for k in reversed(opened[keep:]))
        out.extend(_TAGS[k][0] for k in want[keep:])
        opened = want
        out.append(html.escape(text[a:b]))
    out.extend(_TAGS[k][1] for k in reversed(opened))
    return "".join(out)


def question_stems(question: str) -> set[str]:
    """The stemmed search terms of a question (stop words removed), as BM25 uses them."""
    return set(tokenize([question])[0])


def term_spans(text: str, stems: set[str]) -> list[tuple[int, int, str]]:
    """Spans of the words in ``text`` whose stem is one of ``stems``."""
    words = list(_WORD.finditer(text))
    if not words or not stems:
        return []
    tokens = tokenize([m.group() for m in words])
    return [(m.start(), m.end(), "term") for m, t in zip(words, tokens) if t and t[0] in stems]


def _answer_spans(answer: Answer, hit: Hit, base: int) -> list[tuple[int, int, str]]:
    """The answer's sentence and span, relative to ``base``, when they are in the hit's document."""
    if answer.text is None or answer.doc != hit.passage.doc:
        return []
    spans = []
    if answer.sentence_start is not None and answer.sentence_end is not None:
        spans.append((answer.sentence_start - base, answer.sentence_end - base, "sentence"))
    if answer.start is not None and answer.end is not None:
        spans.append((answer.start - base, answer.end - base, "answer"))
    return spans


# -- rendering --------------------------------------------------------------------------------

def _e(value: object) -> str:
    return html.escape(str(value))


def _chars(start: int, end: int) -> str:
    return f"characters {start:,}\u2013{end:,}"


def _score(hit: Hit) -> str:
    detail = ", ".join(f"{m} #{r}" for m, r in sorted(hit.ranks.items()))
    return f"{hit.mode} score {hit.score:.4f}" + (f" ({detail})" if detail else "")


def render_error(message: str, title: str = "Cannot answer this.") -> str:
    """A message box for an error the reader can fix."""
    return (
        f'<div class="qa-error" role="alert"><strong>{_e(title)}</strong> '
        f"{_e(message[:1].upper() + message[1:])}</div>"
    )


def render_timings(timings: dict[str, float]) -> str:
    """Time per stage: embedding the question, searching, reading, in all."""
    search = sum(v for k, v in timings.items() if k not in ("embed", "read", "total"))
    stages = [("embed", timings.get("embed")), ("search", search), ("read", timings.get("read")),
              ("total", timings.get("total"))]
    parts = [f"{name} {value * 1000:.0f} ms" for name, value in stages if value is not None]
    return f'<p class="qa-timings">{" · ".join(parts)}</p>'


def _page(doc: str, offset: int, data: IndexData | None, fallback: int | None) -> int | None:
    """The page of ``offset`` in the document ``doc`` when ``data`` has it, else ``fallback``."""
    if data is None or doc not in data.doc_index:
        return fallback
    return data.document(doc).page_at(offset)


def _pages(first: int | None, last: int | None) -> str:
    """The page label of a citation: ``" · p. 3"`` or ``" · pp. 3–4"``; empty without pages."""
    if not first:
        return ""
    return f" · p. {first}" if not last or last == first else f" · pp. {first}\u2013{last}"


def render_answer(answer: Answer, data: IndexData | None = None) -> str:
    """The answer, its confidence and where it comes from (page too, for a document with pages),
    or the reason there is none. With ``data``, the page is the answer's own; else its passage's."""
    confidence = (
        f'<span class="qa-confidence" title="reader confidence, 0 to 1">'
        f"confidence {answer.confidence:.2f}</span>"
    )
    if answer.text is None or answer.cited is None:
        body = (
            f'<p class="qa-answer-text qa-none">{_e(answer.message or "The documents do not seem to answer this.")}</p>'
            f'<p class="qa-source">{confidence} · the closest passages are below.</p>'
        )
    else:
        hit = answer.citations[answer.cited - 1]
        p = hit.passage
        sentence = ""
        if answer.sentence and answer.sentence_start is not None and answer.start is not None:
            shift = answer.sentence_start
            sentence = highlight(answer.sentence, [(answer.start - shift, answer.end - shift, "answer")])
            sentence = f'<blockquote class="qa-quote">{sentence}</blockquote>'
        body = (
            f'<p class="qa-answer-text">{_e(answer.text)} '
            f'<a class="qa-cite" href="#qa-ev-{answer.cited}">[{answer.cited}]</a></p>'
            f"{sentence}"
            f'<p class="qa-source">{confidence} · <a href="#qa-ev-{answer.cited}">[{answer.cited}]</a> '
            f"<cite>{_e(p.title)}</cite> · <code>{_e(p.doc)}</code>"
            f'<span class="qa-page">{_pages(_page(p.doc, answer.start, data, p.page), None)}</span>'
            f" · {_chars(answer.start, answer.end)}</p>"
        )
    return (
        f'<section class="qa-answer" aria-label="Answer"><h2 class="qa-label">Answer</h2>{body}'
        f"{render_timings(answer.timings)}</section>"
    )


def render_context(hit: Hit, data: IndexData, passage_html_spans: list[tuple[int, int, str]]) -> str:
    """The passage inside ``CONTEXT_CHARS`` of its document's text on each side, in a disclosure."""
    p = hit.passage
    if p.doc not in data.doc_index:
        return ""
    text = data.document(p.doc).text
    if text[p.start:p.end] != p.text:  # the index changed since the question was answered
        return ""
    lo, hi = max(0, p.start - CONTEXT_CHARS), min(len(text), p.end + CONTEXT_CHARS)
    spans = [(s + p.start - lo, e + p.start - lo, k) for s, e, k in passage_html_spans]
    spans.append((p.start - lo, p.end - lo, "passage"))
    return (
        f'<details class="qa-context"><summary>Show in the document '
        f"({_chars(lo, hi)} of {len(text):,})</summary>"
        f'<div class="qa-text">{"…" if lo else ""}{highlight(text[lo:hi], spans)}{"…" if hi < len(text) else ""}'
        f"</div></details>"
    )


def render_hit(n: int, hit: Hit, answer: Answer | None, stems: set[str], data: IndexData | None,
               relevant: bool = False) -> str:
    """One evidence card: where the passage comes from, its text with the answer and query terms marked."""
    p = hit.passage
    spans = term_spans(p.text, stems)
    if answer is not None:
        spans += _answer_spans(answer, hit, p.start)
    is_answer = answer is not None and answer.cited == n
    badges = [name for name, on in (("relevant", relevant), ("answer", is_answer)) if on]
    badge = "".join(f'<span class="qa-badge qa-badge-{b}">{b}</span>' for b in badges)
    badge = f'<span class="qa-badges">{badge}</span>' if badge else ""
    section = f" · § {_e(p.section)}" if p.section else ""
    pages = _pages(p.page, _page(p.doc, max(p.end - 1, p.start), data, p.page))
    context = render_context(hit, data, spans) if data is not None else ""
    return (
        f'<article class="qa-card{" qa-card-answer" if is_answer else ""}" id="qa-ev-{n}">'
        f'<header><span class="qa-num">[{n}]</span> <h3>{_e(p.title)}</h3>{badge}</header>'
        f'<p class="qa-meta"><code>{_e(p.doc)}</code>{section}<span class="qa-page">{pages}</span> · '
        f"{_chars(p.start, p.end)} · {_e(_score(hit))}</p>"
        f'<div class="qa-text">{highlight(p.text, spans)}</div>{context}</article>'
    )


def render_evidence(hits: Iterable[Hit], question: str, answer: Answer | None = None,
                    data: IndexData | None = None, relevant: Collection[int] = ()) -> str:
    """All evidence cards, numbered as the answer cites them; ``relevant`` numbers get a badge."""
    stems = question_stems(question)
    cards = [render_hit(n, hit, answer, stems, data, n in relevant) for n, hit in enumerate(hits, start=1)]
    if not cards:
        return '<p class="qa-empty">No passage matches the question.</p>'
    return (
        '<section class="qa-evidence" aria-label="Evidence"><h2 class="qa-label">Evidence</h2>'
        '<p class="qa-legend"><mark>answer</mark> <span class="qa-sentence">its sentence</span> '
        '<b class="qa-term">question term</b></p>' + "".join(cards) + "</section>"
    )


def render_header(pipeline: Pipeline) -> str:
    docs = pipeline.documents()
    passages = sum(d["passages"] for d in docs)
    return (
        '<header class="qa-header"><h1>Ask the documents</h1>'
        f'<p>Answers are quoted from {len(docs):,} document{"s" if len(docs) != 1 else ""} '
        f"({passages:,} passages); every answer shows the passages it comes from.</p></header>"
    )


# -- evaluation -------------------------------------------------------------------------------

#: The test queries shipped with the seed documents.
SEED_QUERIES = Path(__file__).resolve().parent.parent / "tests" / "data" / "seed_queries.jsonl"
#: Largest query file accepted for upload.
MAX_QUERY_FILE_BYTES = 1024 * 1024
SHIPPED, UPLOADED = "Shipped seed queries", "Upload a file"
PER_QUERY_HEADERS = ["id", "mode", "rank", "correct", "confidence", "question", "gold", "answer"]


def check_query_file(path: str | Path | None) -> Path:
    """An uploaded query file after checking its type and size; raises QAError saying what to fix."""
    if not path:
        raise QAError("no query file: upload a .jsonl file of test queries, or use the shipped ones")
    path = Path(path)
    if path.suffix.lower() != ".jsonl":
        raise QAError(f"{path.name!r} is not a .jsonl file: upload JSON Lines, one query per line")
    size = path.stat().st_size
    if size > MAX_QUERY_FILE_BYTES:
        raise QAError(f"the query file is {size:,} bytes; the limit is {MAX_QUERY_FILE_BYTES:,}: upload fewer queries")
    return path


def _rank_cell(record: dict) -> str:
    if not record["answerable"]:
        return "unanswerable"
    return "miss" if record["rank"] is None else str(record["rank"])


def per_query_rows(result: dict) -> list[list]:
    """One row per query and mode: retrieval misses first, then wrong answers, then the rest."""
    from .evaluation import mode_results

    rows = []
    for mode, res in mode_results(result).items():
        for r in res["per_query"]:
            missed = r["answerable"] and r["rank"] is None
            confidence = "" if r["confidence"] is None else f"{r['confidence']:.2f}"
            row = [r["id"], mode, _rank_cell(r), "yes" if r["correct"] else "no", confidence,
                   r["question"], " | ".join(r["gold"]) or "(none)", r["answer"] or r.get("error") or "(abstained)"]
            rows.append(((not missed, bool(r["correct"])), row))
    return [row for _, row in sorted(rows, key=lambda item: item[0])]


def render_summary(result: dict, problems: list[str], source: str) -> str:
    """What was evaluated, and every problem or warning, escaped."""
    notes = [f"line problems in the file: {p}" for p in problems] + list(result.get("warnings", []))
    items = "".join(f"<li>{_e(n)}</li>" for n in notes)
    return (
        f'<p class="qa-source">{result["n_queries"]:,} queries from {_e(source)}; retrieval depth '
        f'{result["k"]}; misses and wrong answers come first in the table below — select a row to see '
        f"what was retrieved.</p>" + (f'<ul class="qa-notes">{items}</ul>' if items else "")
    )


def run_evaluation(pipeline: Pipeline, path: Path, modes: list[str], progress=None) -> dict:
    """Evaluate ``pipeline`` on a query file; the result, the file's problems and the queries by id."""
    from .evaluation import evaluate, load_queries

    queries, problems = load_queries(path)
    if not modes:
        raise QAError("no retrieval mode chosen: tick at least one")
    result = evaluate(pipeline, queries, modes=modes, progress=progress)
    return {"result": result, "problems": problems, "queries": {q.id: q for q in queries}}


def render_query_detail(pipeline: Pipeline, run: dict, query_id: str, mode: str) -> str:
    """What the pipeline retrieved for one evaluated query, relevant passages marked."""
    from .evaluation import is_relevant, mode_results

    query = run["queries"][query_id]
    res = mode_results(run["result"])[mode]
    record = next(r for r in res["per_query"] if r["id"] == query_id)
    answer = pipeline.ask(query.question, k=run["result"]["k"], mode=mode)
    relevant = {n for n, h in enumerate(answer.citations, start=1) if is_relevant(query, h.passage)}
    gold = ", ".join(query.answers) or "none (unanswerable)"
    head = (
        f'<section class="qa-detail"><h2 class="qa-label">{_e(query_id)} · {_e(mode)}</h2>'
        f'<p class="qa-detail-q">{_e(query.question)}</p>'
        f'<p class="qa-source">expected: {_e(gold)} · first relevant passage: {_e(_rank_cell(record))} · '
        f'answer {"correct" if record["correct"] else "wrong"}</p></section>'
    )
    data = pipeline.data
    return head + render_answer(answer, data) + render_evidence(answer.citations, query.question, answer, data,
                                                                relevant)


# -- the collection ---------------------------------------------------------------------------

DOCUMENT_HEADERS = ["title", "id", "type", "pages", "passages", "indexed"]
#: File types offered for upload: those the loader reads.
UPLOAD_TYPES = sorted(SUFFIXES)


def document_rows(documents: list[dict]) -> list[list]:
    """One row of the Documents table per indexed document (as :meth:`Pipeline.documents` lists them)."""
    return [[d["title"], d["id"], d["kind"], d["pages"] or "", d["passages"],
             (d["indexed"] or "")[:16].replace("T", " ")] for d in documents]


def document_choices(documents: list[dict]) -> list[tuple[str, str]]:
    """(label, id) of each document, for the document pickers."""
    return [(f"{d['title']} ({d['id']})", d["id"]) for d in documents]


def render_changes(lines: list[str], title: str) -> str:
    """What an upload or a removal did, one escaped line each."""
    items = "".join(f"<li>{_e(line)}</li>" for line in lines)
    return f'<div class="qa-changes" role="status"><strong>{_e(title)}</strong><ul class="qa-notes">{items}</ul></div>'


# -- the app ----------------------------------------------------------------------------------

def _docs_filter(docs: list[str] | None) -> list[str] | None:
    return list(docs) if docs else None


def build_app(pipeline: Pipeline) -> gr.Blocks:
    """The page (Ask, Documents and Evaluate tabs) and the ``/ask`` and ``/search`` API endpoints over ``pipeline``."""
    s = pipeline.settings
    documents = pipeline.documents()
    doc_ids = {d["id"] for d in documents}
    examples = [[q] for q, doc in EXAMPLES if doc in doc_ids]

    def answer_page(question: str, k: float, mode: str, docs: list[str] | None) -> tuple[str, str]:
        try:
            answer = pipeline.ask(question, k=int(k), mode=mode, docs=_docs_filter(docs))
        except QAError as exc:
            return render_error(str(exc)), ""
        data = pipeline.data
        return render_answer(answer, data), render_evidence(answer.citations, question, answer, data)

    def ask(question: str, k: int = s.k, mode: str = s.mode, docs: list[str] | None = None) -> dict:
        """Answer a question with a span quoted from the documents, its confidence and its citations."""
        try:
            return pipeline.ask(question, k=k, mode=mode, docs=_docs_filter(docs)).to_dict()
        except QAError as exc:
            raise gr.Error(str(exc)) from None

    def search(question: str, k: int = s.k, mode: str = s.mode, docs: list[str] | None = None) -> list[dict]:
        """The passages that best match a question, best first, with their place in the documents."""
        try:
            return [h.to_dict() for h in pipeline.search(question, k=k, mode=mode, docs=_docs_filter(docs))]
        except QAError as exc:
            raise gr.Error(str(exc)) from None

    with gr.Blocks(title="Ask the documents", analytics_enabled=False) as app:
        header = gr.HTML(render_header(pipeline))
        with gr.Tabs():
            with gr.Tab("Ask"):
                with gr.Row(equal_height=False, elem_classes="qa-ask-row"):
                    question = gr.Textbox(
                        label="Question", lines=1, max_lines=4, autofocus=True, scale=6,
                        placeholder="Ask something the documents answer: who, when, how many, why ...",
                    )
                    ask_button = gr.Button("Ask", variant="primary", scale=1, min_width=120)
                if examples:
                    gr.Examples(examples, inputs=[question], label="Try one of these", api_visibility="private")
                with gr.Accordion("Search settings", open=False):
                    with gr.Row():
                        k = gr.Slider(1, MAX_K, value=min(s.k, MAX_K), step=1, label="Passages to read (k)")
                        mode = gr.Radio(list(MODES), value=s.mode, label="Retrieval",
                                        info="hybrid fuses dense (meaning) and bm25 (words)")
                        docs = gr.Dropdown(
                            choices=document_choices(documents),
                            value=[], multiselect=True, label="Only these documents", info="empty: all documents",
                        )
                answer_html = gr.HTML(elem_id="qa-answer")
                evidence_html = gr.HTML(elem_id="qa-evidence")
                gr.on([ask_button.click, question.submit], answer_page, [question, k, mode, docs],
                      [answer_html, evidence_html], api_visibility="private")
            with gr.Tab("Documents", elem_id="qa-documents"):
                _documents_tab(pipeline, header, docs)
            with gr.Tab("Evaluate", elem_id="qa-evaluate"):
                _evaluate_tab(pipeline)
        gr.api(ask, api_name="ask")
        gr.api(search, api_name="search")
    return app


def _documents_tab(pipeline: Pipeline, header: gr.HTML, ask_docs: gr.Dropdown) -> None:
    """The Documents tab: the collection as a table; upload documents (indexed at once, with
    progress) and remove them. The page header and the Ask tab's document filter follow."""
    limit = f"{pipeline.settings.max_file_bytes / 2**20:.0f} MB"

    def changed(status: str) -> tuple:
        documents = pipeline.documents()
        choices = document_choices(documents)
        return (status, {"headers": DOCUMENT_HEADERS, "data": document_rows(documents)},
                gr.Dropdown(choices=choices, value=[]), gr.Dropdown(choices=choices, value=[]),
                render_header(pipeline))

    def add(files: list[str] | None, progress=gr.Progress()) -> tuple:
        try:
            added, report = pipeline.add([Path(f) for f in files or []],
                                         progress=lambda f, m: progress(f, desc=m))
        except QAError as exc:
            return *changed(render_error(str(exc), "Cannot add these.")), None
        added.skipped = [(Path(name).name, why) for name, why in added.skipped]  # not the server's upload folder
        return *changed(render_changes(added.lines(report), "Added." if added.changed else "Nothing added.")), None

    def remove(ids: list[str] | None, progress=gr.Progress()) -> tuple:
        try:
            if not ids:
                raise QAError("no document chosen: pick the documents to remove first")
            report = pipeline.remove(list(ids), progress=lambda f, m: progress(f, desc=m))
        except QAError as exc:
            return changed(render_error(str(exc), "Cannot remove."))
        return changed(render_changes([f"removed {', '.join(ids)}"] + report.lines(), "Removed."))

    documents = pipeline.documents()
    gr.Markdown(
        f"Add PDF, HTML, Markdown or text files, up to {limit} each: they are copied into the document "
        "folder and indexed, and questions are answered from them at once. A scanned PDF needs OCR first."
    )
    upload = gr.File(file_count="multiple", file_types=UPLOAD_TYPES, type="filepath", height=140,
                     label=f"Add documents ({' '.join(UPLOAD_TYPES)}; up to {limit} each)",
                     elem_id="qa-doc-upload")
    status = gr.HTML(elem_id="qa-doc-status")
    table = gr.Dataframe(value={"headers": DOCUMENT_HEADERS, "data": document_rows(documents)},
                         label="The collection", interactive=False, wrap=True, elem_id="qa-doc-table",
                         column_widths=["34%", "26%", "9%", "8%", "9%", "14%"])
    with gr.Row(equal_height=False, elem_classes="qa-ask-row"):
        chosen = gr.Dropdown(choices=document_choices(documents), value=[], multiselect=True, scale=5,
                             label="Documents to remove", elem_id="qa-doc-remove")
        remove_button = gr.Button("Remove", variant="stop", scale=1, min_width=120)
    outputs = [status, table, chosen, ask_docs, header]
    upload.upload(add, upload, outputs + [upload], api_visibility="private")
    remove_button.click(remove, chosen, outputs, api_visibility="private")


def _evaluate_tab(pipeline: Pipeline) -> None:
    """The Evaluate tab: run a query file, read the metrics, the recall curve and each query's evidence."""
    sources = [SHIPPED, UPLOADED] if SEED_QUERIES.exists() else [UPLOADED]

    def evaluate_page(source: str, upload: str | None, modes: list[str], progress=gr.Progress()):
        from .evaluation import recall_curve_figure, table_rows

        try:
            path = SEED_QUERIES if source == SHIPPED else check_query_file(upload)
            run = run_evaluation(pipeline, path, list(modes), progress=lambda f, m: progress(f, desc=m))
        except QAError as exc:
            return render_error(str(exc), "Cannot evaluate."), None, None, None, None, ""
        result = run["result"]
        header, rows = table_rows(result)
        name = "the shipped seed queries" if source == SHIPPED else path.name
        return (
            render_summary(result, run["problems"], name),
            {"headers": header, "data": rows},
            recall_curve_figure(result),
            {"headers": PER_QUERY_HEADERS, "data": per_query_rows(result)},
            run,
            "",
        )

    def show_query(run: dict | None, evt: gr.SelectData) -> str:
        if not run or not evt.row_value:
            return ""
        try:
            return render_query_detail(pipeline, run, str(evt.row_value[0]), str(evt.row_value[1]))
        except QAError as exc:
            return render_error(str(exc))

    gr.Markdown(
        "Measure retrieval and answers on test queries: a JSON Lines file, one query per line, e.g. "
        '`{"id": "q1", "question": "...", "answers": ["..."], "docs": ["a.txt"]}`.'
    )
    with gr.Row(equal_height=False, elem_classes="qa-ask-row"):
        source = gr.Radio(sources, value=sources[0], label="Queries", scale=2)
        upload = gr.File(file_types=[".jsonl"], type="filepath", scale=2, height=140, elem_id="qa-query-file",
                         label=f"Query file (.jsonl, up to {MAX_QUERY_FILE_BYTES // 1024:,} KB)")
        modes = gr.CheckboxGroup(list(MODES), value=["hybrid"], label="Retrieval modes", scale=2)
        run_button = gr.Button("Evaluate", variant="primary", scale=1, min_width=120)
    summary = gr.HTML()
    metrics = gr.Dataframe(
        label="Metrics (R@k: recall at k; EM: exact match; evidence: the answer's sentence holds a gold answer)",
        interactive=False, elem_id="qa-metrics",
    )
    curve = gr.Plot(label="Recall@k", format="png", elem_id="qa-curve")
    per_query = gr.Dataframe(
        label="Per query (select a row to see what was retrieved)", interactive=False, max_height=440, wrap=True,
        column_widths=["6%", "8%", "10%", "8%", "10%", "30%", "14%", "14%"], elem_id="qa-per-query",
    )
    detail = gr.HTML(elem_id="qa-eval-detail")
    run_state = gr.State()
    upload.upload(lambda: UPLOADED, None, source, api_visibility="private")
    run_button.click(evaluate_page, [source, upload, modes], [summary, metrics, curve, per_query, run_state, detail],
                     api_visibility="private")
    per_query.select(show_query, [run_state], detail, api_visibility="private")


THEME = gr.themes.Base(
    primary_hue="indigo",
    neutral_hue="slate",
    font=["Inter", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
)

CSS = """
.gradio-container { max-width: 1080px !important; margin: 0 auto !important; }
.qa-ask-row { align-items: flex-end; }
.html-container { padding-left: 0 !important; padding-right: 0 !important; }
.qa-ask-row button { min-height: 2.6rem; }
.qa-header h1 { font-size: 1.6rem; font-weight: 650; margin: 0.4rem 0 0.2rem; }
.qa-header p { color: var(--body-text-color-subdued); margin: 0 0 0.4rem; }
.qa-label { font-size: 0.75rem; letter-spacing: 0.08em; text-transform: uppercase;
  color: var(--body-text-color-subdued); margin: 0 0 0.4rem; font-weight: 600; }
.qa-answer { border: 1px solid var(--border-color-primary); border-left: 4px solid var(--color-accent);
  border-radius: 8px; padding: 1rem 1.25rem; background: var(--block-background-fill); }
.qa-answer-text { font-size: 1.45rem; font-weight: 600; line-height: 1.3; margin: 0 0 0.5rem; }
.qa-answer-text.qa-none { font-size: 1.1rem; font-weight: 500; }
.qa-cite, .qa-source a { text-decoration: none; color: var(--color-accent); font-weight: 600; }
.qa-cite { font-size: 1rem; vertical-align: 0.35em; }
.qa-quote { font-family: Charter, "Bitstream Charter", "Sitka Text", Cambria, Georgia, serif;
  font-size: 1.02rem; line-height: 1.6; margin: 0.3rem 0 0.6rem; padding: 0 0 0 0.9rem;
  border-left: 3px solid var(--border-color-primary); color: var(--body-text-color);
  overflow-wrap: anywhere; }
.qa-source, .qa-meta { font-size: 0.85rem; color: var(--body-text-color-subdued); margin: 0.2rem 0; }
.qa-source cite { font-style: italic; }
.qa-confidence { font-variant-numeric: tabular-nums; }
.qa-timings { font-size: 0.75rem; color: var(--body-text-color-subdued); margin: 0.6rem 0 0;
  font-variant-numeric: tabular-nums; opacity: 0.8; }
.qa-evidence { margin-top: 0.5rem; }
.qa-legend { font-size: 0.8rem; color: var(--body-text-color-subdued); margin: 0 0 0.6rem; }
.qa-legend > * { margin-right: 0.8rem; }
.qa-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.8rem 1.1rem;
  margin: 0 0 0.8rem; background: var(--block-background-fill); }
.qa-card-answer { border-color: var(--color-accent); }
.qa-card header { display: flex; align-items: baseline; gap: 0.5rem; }
.qa-card h3 { font-size: 1.02rem; font-weight: 600; margin: 0; }
.qa-num { color: var(--color-accent); font-weight: 700; font-variant-numeric: tabular-nums; }
.qa-badges { margin-left: auto; display: flex; gap: 0.3rem; }
.qa-badge { font-size: 0.7rem; text-transform: uppercase; letter-spacing: 0.06em;
  color: var(--color-accent); border: 1px solid var(--color-accent); border-radius: 999px;
  padding: 0 0.5rem; }
.qa-badge-relevant { color: #15803d; border-color: #15803d; }
.qa-meta code, .qa-source code { font-size: 0.8rem; }
.qa-text { font-family: Charter, "Bitstream Charter", "Sitka Text", Cambria, Georgia, serif;
  font-size: 0.98rem; line-height: 1.65; white-space: pre-wrap; overflow-wrap: anywhere;
  margin: 0.5rem 0 0.3rem; max-height: 22rem; overflow-y: auto; }
.qa-text mark, .qa-quote mark, .qa-legend mark { background: #fde68a; color: #111827;
  padding: 0 0.1em; border-radius: 2px; box-shadow: 0 0 0 1px #f59e0b; }
.qa-sentence { background: rgba(250, 204, 21, 0.14); }
.qa-term { font-weight: inherit; text-decoration: underline 2px; text-decoration-color: var(--color-accent);
  text-underline-offset: 3px; }
.qa-in-passage { background: rgba(99, 102, 241, 0.07); }
.qa-context summary { cursor: pointer; font-size: 0.85rem; color: var(--color-accent); }
.qa-context .qa-text { color: var(--body-text-color-subdued); }
.qa-context .qa-in-passage { color: var(--body-text-color); }
.qa-error { border: 1px solid #dc2626; background: rgba(220, 38, 38, 0.07); border-radius: 8px;
  padding: 0.8rem 1.1rem; }
#qa-curve { max-width: 620px; }
.qa-detail { margin: 0.5rem 0 0.8rem; }
.qa-detail-q { font-size: 1.1rem; font-weight: 600; margin: 0 0 0.2rem; }
.qa-notes { font-size: 0.85rem; color: var(--body-text-color-subdued); }
"""


def launch(app: gr.Blocks, settings: Settings, prevent_thread_lock: bool = False, quiet: bool = False):
    """Serve ``app`` where the settings say (loopback by default), never shared, serving no files."""
    return app.launch(
        server_name=settings.host,
        server_port=settings.port,
        share=False,
        allowed_paths=[],
        ssr_mode=False,
        theme=THEME,
        css=CSS,
        footer_links=["api"],
        max_file_size=max(MAX_QUERY_FILE_BYTES, settings.max_file_bytes),
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
    )


__all__ = ["build_app", "launch", "highlight", "render_answer", "render_evidence", "EXAMPLES"]
