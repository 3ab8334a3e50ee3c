"""The app's HTML, built from plain values without the UI framework.

Documents are untrusted: every piece of document text (titles, ids, passages, answers) goes
through :func:`html.escape` or :func:`qa.web.highlight.highlight` before markup is added.

>>> render_error("the question is empty")
'<div class="qa-error" role="alert"><strong>Cannot answer this.</strong> The question is empty</div>'
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Collection, Iterable, Sequence
from urllib.parse import quote, urlencode

from ..index.store import IndexData
from ..types import (ANSWER, NONE, TENTATIVE, Answer, Document, DocumentInfo, Hit, confidence_text, plain_quote, short_title, untitled,
                     shown_section)
from .highlight import front_matter_spans, heading_spans, highlight, question_stems, table_spans, term_spans
from .reflow import reflow

if TYPE_CHECKING:
    from ..eval.records import Evaluation, QueryResult

#: Characters of a title shown on a card; the whole title is in its tooltip (:func:`qa.types.short_title`).
TITLE_CHARS = 90


def _e(value: object) -> str:
    return html.escape(str(value))


def _chars(start: int, end: int) -> str:
    return f"characters {start:,}\u2013{end:,}"


def _title(title: str, tag: str = "cite", whole: bool = False) -> str:
    return f'<{tag} title="{_e(title)}">{_e(" ".join(str(title).split()) if whole else short_title(title, TITLE_CHARS))}</{tag}>'


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


def _pages(first: int | None, last: int | None) -> str:
    """The page label of a citation: ``" · p. 3"`` or ``" · pp. 3–4"``; empty without pages."""
    if not first:
        return ""
    return f" · p. {first}" if not last or last == first else f" · pp. {first}\u2013{last}"


def _page_of(doc: str, offset: int, data: IndexData | None, fallback: int | None) -> int | None:
    if data is None or doc not in data.doc_index:
        return fallback
    return data.document(doc).page_at(offset)


def _open(n: int, label: str, cls: str = "qa-open") -> str:
    """A control that opens citation ``n`` in the source view (wired by the page's script)."""
    return (f'<button type="button" class="{cls}" data-cite="{int(n)}" '
            f'title="Open the source of [{int(n)}]">{label}</button>')


#: What each state looks like and says.
STATE_LABELS = {ANSWER: "Answer", TENTATIVE: "Possible answer", NONE: "Not found"}


#: Shown while the passages below the first ones are read (the app shows it only when that takes a while).
READING_ON = ("No sure answer in the passages read first: reading the passages retrieved below them too "
              "(the answer will show here).")


def confidence_note(answer: Answer) -> str:
    """One line that says what the confidence means for this answer's state."""
    c = confidence_text(answer.confidence)
    if answer.status == ANSWER:
        return (f"Confidence {c}: the reader's estimate (0 to 1) that this span answers the question; "
                "it is high enough to state.")
    if answer.status == TENTATIVE and answer.message:  # not sure whatever the confidence: the answer says why
        return f"Confidence {c}, but {answer.message}"
    if answer.status == TENTATIVE:
        return (f"Confidence {c}: below what the reader needs to state an answer. This is its best guess; "
                "check it in the source.")
    return (f"Confidence {c}: no span in the closest passages is likely enough to be the answer, "
            "so none is given.")


def answer_as_text(answer: Answer, question: str = "") -> str:
    """The answer with its citation as plain text (what the copy button copies).

    >>> from qa.types import Answer
    >>> answer_as_text(Answer.none(0.1), "Why?")
    'Q: Why?\\nNot found in the documents.'
    """
    lines = [f"Q: {question}"] if question else []
    if answer.searched_for:
        lines.append(f"Searched for: {answer.searched_for}")
    if answer.text is None:
        return "\n".join(lines + ["Not found in the documents."])
    label = "A" if answer.status == ANSWER else f"Possible answer (confidence {confidence_text(answer.confidence)})"
    lines.append(f"{label}: {answer.text}")
    where = [f"\u201c{answer.title}\u201d" if answer.title else None, answer.doc,
             f"§ {section}" if (section := shown_section(answer.section, answer.title)) else None,
             f"p. {answer.page}" if answer.page else None]
    lines.append("Source: " + ", ".join(w for w in where if w))
    if answer.sentence:
        lines.append(f"Quote: \u201c{plain_quote(answer.sentence)}\u201d")
    return "\n".join(lines)


def question_link(question: str, spelling: bool = True) -> str:
    """The app's address (relative) that asks ``question``; ``spelling=False``: searched as typed.

    >>> question_link("Who & why?", spelling=False)
    '?q=Who%20%26%20why%3F&spell=off'
    """
    return "?" + urlencode({"q": question, **({} if spelling else {"spell": "off"})}, quote_via=quote)


def render_searched_for(answer: Answer, question: str, spelling: bool = True) -> str:
    """"Searched for: <the corrected question>" with a link that asks the question as typed; a
    note when it was searched as typed on request; nothing when there was nothing to correct."""
    if not spelling:
        return '<p class="qa-searched-for">Searched for the words as typed (typos not corrected).</p>'
    if not answer.searched_for:
        return ""
    typed = f'<a class="qa-as-typed" href="{_e(question_link(question, spelling=False))}">{_e(question)}</a>'
    return (f'<p class="qa-searched-for">Searched for: <strong>{_e(answer.searched_for)}</strong>'
            f'<span class="qa-as-typed-line"> · search for {typed} as typed instead</span></p>')


def render_answer(answer: Answer, data: IndexData | None = None, question: str = "", spelling: bool = True,
                  reading_on: bool = False, openable: bool = True) -> str:
    """The answer in its state (answer / possible answer / not found), what its confidence
    means, where it comes from (title, section, the answer's own page) and controls to open the
    source, copy the answer as text and link to the question. A question whose typos were
    corrected says what was searched for, one click from searching it as typed (``spelling=False``:
    it was). ``reading_on``: the answer is unsure and the passages retrieved below are being read (the app
    shows this first answer meanwhile). ``openable=False``: no control opens the source (the Evaluate tab's
    detail, which has no source view of its own: the Ask tab's would open)."""
    state = answer.status
    if reading_on and state == NONE:  # nothing to show yet: not "not found", which it may not be
        return (
            '<section class="qa-answer qa-state-reading" aria-label="Reading on" data-state="reading">'
            '<h2 class="qa-label">Reading on</h2>'
            f'{render_searched_for(answer, question, spelling) if question else ""}'
            f'<p class="qa-reading-on" role="status">{_e(READING_ON)}</p></section>'
        )
    note = f'<p class="qa-confidence-note">{_e(confidence_note(answer))}</p>'
    if reading_on:
        note += f'<p class="qa-reading-on" role="status">{_e(READING_ON)}</p>'
    elif answer.found_deeper and answer.cited is not None:
        rank = answer.citations[answer.cited - 1].rank
        note += (f'<p class="qa-found-deeper">From further down the list: the passages read first gave no sure '
                 f"answer, so the ones retrieved below them were read too; this one was retrieved #{rank} and is "
                 f"listed as [{answer.cited}].</p>")
    tools = ""
    if question:
        link = question_link(question, spelling)
        label = "Copy answer and source" if answer.text is not None else "Copy question and result"
        tools = (
            f'<p class="qa-tools"><button type="button" class="qa-copy" data-label="{label}" '
            f'data-copy="{_e(answer_as_text(answer, question))}">{label}</button>'
            f'<a class="qa-link" href="{_e(link)}">Link to this question</a></p>'
        )
    if answer.text is None or answer.cited is None:
        body = (
            f'<p class="qa-answer-text qa-none">'
            f'{_e(answer.message or "The documents do not seem to answer this.")}</p>{note}'
            '<p class="qa-source">The closest passages are below; open one to read it in its document.</p>'
        )
    else:
        hit = answer.citations[answer.cited - 1]
        p = hit.passage
        sentence = ""
        if answer.sentence and answer.sentence_start is not None and answer.start is not None:
            shift = answer.sentence_start
            # a Markdown heading's "#" marks dimmed, as in the evidence and the source
            sentence = highlight(answer.sentence, [(answer.start - shift, answer.end - shift, "answer"),
                                                   *heading_spans(answer.sentence)])
            sentence = f'<blockquote class="qa-quote">{sentence}</blockquote>'
        page = answer.page or _page_of(p.doc, answer.start, data, p.page)
        title = answer.title or p.title
        section = shown_section(answer.section or p.section, title)
        n = answer.cited
        body = (
            f'<p class="qa-answer-text">{_e(answer.text)} '
            f'{_open(n, f"[{n}]", "qa-open qa-cite") if openable else f"[{n}]"}</p>'
            f"{sentence}{note}"
            '<p class="qa-source">' + (f"{_title(title)} · " if title and title != p.doc else "")
            + f"<code>{_e(p.doc)}</code>"
            + (f' · § {_e(short_title(section, 60))}' if section else "")
            + f'<span class="qa-page">{_pages(page, None)}</span> '
            # the range and the button each keep their separator before them, so none is left dangling at a line's
            # end; either may start a line (a phone has no room for both after a long section name)
            + f'<span class="qa-keep">· {_chars(answer.start, answer.end)}</span> '
            + (f'<span class="qa-keep">· {_open(n, "Open the source")}</span>' if openable else "") + "</p>"
        )
    return (
        f'<section class="qa-answer qa-state-{state}" aria-label="{STATE_LABELS[state]}" data-state="{state}">'
        f'<h2 class="qa-label">{STATE_LABELS[state]}</h2>{render_searched_for(answer, question, spelling) if question else ""}'
        f'{body}{tools}'
        f"{render_timings(answer.timings)}</section>"
    )


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


def _retrieved(n: int, hit: Hit) -> str:
    """"retrieved #8 · " on a card whose number is not its place in the search (the answer's passage is listed
    first), so the answer's "retrieved #8" can be found among the cards."""
    return f"retrieved #{hit.rank} · " if hit.rank != n and hit.rank > 0 else ""


def _score(hit: Hit) -> str:
    detail = ", ".join(f"{m} #{r}" for m, r in sorted(hit.ranks.items()))
    return f"{hit.mode} score {hit.score:.4f}" + (f" ({detail})" if detail else "")


def render_hit(n: int, hit: Hit, answer: Answer | None, stems: set[str], data: IndexData | None,
               relevant: bool = False, openable: bool = True) -> str:
    """One evidence card: where the passage comes from, its text with the answer and the
    question's content words marked, and a button that opens it in its document."""
    p = hit.passage
    spans = term_spans(p.text, stems) + heading_spans(p.text) + table_spans(p.text)
    if p.start == 0:  # the document's first passage holds its front matter, dimmed as in the source view
        spans += front_matter_spans(p.text)
    if answer is not None:
        spans += _answer_spans(answer, hit, p.start)
    is_answer = answer is not None and answer.text is not None and answer.cited == n
    badges = [name for name, on in (("relevant", relevant), ("answer", is_answer)) if on]
    label = {"answer": "answer" if answer is None or answer.status == ANSWER else "possible answer"}
    badge = "".join(f'<span class="qa-badge qa-badge-{b}">{label.get(b, b)}</span>' for b in badges)
    badge = f'<span class="qa-badges">{badge}</span>' if badge else ""
    section = shown_section(p.section, p.title)
    section = f" · § {_e(short_title(section, 60))}" if section else ""
    pages = _pages(p.page, _page_of(p.doc, max(p.end - 1, p.start), data, p.page))
    return (
        f'<article class="qa-card{" qa-card-answer" if is_answer else ""}" id="qa-ev-{n}">'
        # a document without a title of its own has its file name for one: said once, in the line below
        f'<header><span class="qa-num">[{n}]</span> '
        f'{_title(p.title, "h3") if not untitled(p.title, p.doc) else "<h3 class=qa-untitled>(untitled)</h3>"}{badge}</header>'
        f'<p class="qa-meta"><code>{_e(p.doc)}</code>{section}<span class="qa-page">{pages}</span> · '
        f"{_chars(p.start, p.end)} · {_e(_retrieved(n, hit))}{_e(_score(hit))}</p>"
        f'<div class="qa-text">{highlight(reflow(p.text), spans)}</div>'
        + (f'<p class="qa-card-tools">{_open(n, "Open in the document")}</p>' if openable else "") + "</article>"
    )


def render_evidence(hits: Iterable[Hit], question: str, answer: Answer | None = None,
                    data: IndexData | None = None, relevant: Collection[int] = (), openable: bool = True) -> str:
    """All evidence cards, numbered as the answer cites them; ``relevant`` numbers get a badge.
    Without an answer the heading says these are only the closest passages (``openable``: as in
    :func:`render_answer`)."""
    stems = question_stems(question)
    cards = [render_hit(n, hit, answer, stems, data, n in relevant, openable) for n, hit in enumerate(hits, start=1)]
    if not cards:
        return '<p class="qa-empty">No passage matches the question.</p>'
    none = answer is not None and answer.text is None
    heading = "The closest passages" if none else "Evidence"
    # the answer's marks in the legend only where there is an answer to mark
    marks = "" if none else '<mark>answer</mark> <span class="qa-sentence">its sentence</span> '
    return (
        f'<section class="qa-evidence" aria-label="{heading}"><h2 class="qa-label">{heading}</h2>'
        f'<p class="qa-legend">{marks}<b class="qa-term">question word</b></p>' + "".join(cards) + "</section>"
    )


def _shown(text: str, meta: list[tuple[int, int, str]]) -> str:
    """The document's text as the source view shows it: its prose reflowed, its front matter kept line by line."""
    head = meta[0][1] if meta else 0
    return text[:head] + reflow(text[head:])


def render_source(doc: Document, n: int, hit: Hit, answer: Answer | None, question: str = "",
                  page: int | None = None, has_image: bool = False) -> str:
    """The whole text of ``doc`` with citation ``n``'s passage marked and the answer highlighted;
    the page's script scrolls it to the passage. For a PDF, ``page`` is the page shown beside it."""
    p = hit.passage
    meta = front_matter_spans(doc.text)
    spans = meta + heading_spans(doc.text) + table_spans(doc.text)
    # each page's text, outermost (other marks nest inside it), so its number is drawn once, where it begins
    spans += [(start, end, "page") for start, end in zip(doc.pages, (*doc.pages[1:], len(doc.text)))]
    if doc.text[p.start:p.end] == p.text:
        spans.append((p.start, p.end, "passage"))
        spans += [(s + p.start, e + p.start, k) for s, e, k in term_spans(p.text, question_stems(question))]
    if answer is not None:
        spans += _answer_spans(answer, hit, 0)
    where = f"page {page} of {len(doc.pages)}" if page else f"{_chars(p.start, p.end)} of {len(doc.text):,}"
    marked = answer is not None and answer.text is not None
    image = (f" The page itself is shown below{', with the answer marked' if marked else ''}." if has_image else "")
    return (
        f'<section class="qa-source-view" aria-label="Source [{int(n)}]" data-cite="{int(n)}">'
        f'<h2 class="qa-label">Source [{int(n)}]</h2>'
        f'<p class="qa-source">{_title(doc.title, whole=True)} · <code>{_e(doc.id)}</code> · {where}.{image}</p>'
        f'<div class="qa-text qa-source-text" tabindex="0">{highlight(_shown(doc.text, meta), spans)}</div></section>'
    )


def render_pending(question: str) -> str:
    """The answer box while a question (from the page's address) is being answered."""
    return (f'<p class="qa-source qa-pending" role="status">Answering \u201c{_e(short_title(question, 120))}\u201d '
            "...</p>")


def render_header(documents: list[DocumentInfo] | None, status: str = "", checking: bool = False) -> str:
    """The page's title and what it answers from now; ``status`` (HTML) shows start-up progress. ``checking``: the
    page as first sent, before its first look at the collection (which may be ready or still being indexed)."""
    if checking:
        line = "Checking the collection ..."
    elif documents is None:
        line = "The collection is being indexed; questions are answered as soon as it is ready."
    elif not documents:
        line = ('<span class="qa-doc-count">No documents</span> yet: add PDF, HTML, Markdown or text files in the '
                "Documents tab, and ask them questions here.")
    else:
        passages = sum(d.passages for d in documents)
        line = (f'Answers are quoted from <span class="qa-doc-count">{len(documents):,} document'
                f'{"s" if len(documents) != 1 else ""}</span> ({passages:,} passage{"s" if passages != 1 else ""}); '
                "every answer shows the passages it comes from.")
    return f'<header class="qa-header"><h1>Ask the documents</h1><p>{line}</p>{status}</header>'


def render_skipped(skipped: Sequence[tuple[str, str]], shown: int = 5) -> str:
    """The files of the document folder left out of the collection, and why (a line under the page's header), so
    a file that cannot be read is not silently missing from the answers.

    >>> render_skipped([("junk.txt", "binary file")])
    '<p class="qa-skipped">1 file in the document folder is not in the collection: <code>junk.txt</code> (binary file).</p>'
    """
    if not skipped:
        return ""
    n = len(skipped)
    items = "; ".join(f"<code>{_e(name)}</code> ({_e(why)})" for name, why in skipped[:shown])
    more = f"; {n - shown:,} more" if n > shown else ""
    files = f"{n:,} file{'s' if n != 1 else ''} in the document folder {'are' if n != 1 else 'is'}"
    return f'<p class="qa-skipped">{files} not in the collection: {items}{more}.</p>'


def render_progress(fraction: float, message: str) -> str:
    """The one progress bar of a long job (indexing at start-up)."""
    pct = max(0.0, min(1.0, fraction)) * 100
    return (
        f'<div class="qa-progress" role="status"><span>{_e(message)}</span>'
        f'<progress max="100" value="{pct:.0f}">{pct:.0f}%</progress></div>'
    )


# -- the collection ---------------------------------------------------------------------------

DOCUMENT_HEADERS = ["title", "id", "type", "pages", "passages", "indexed"]


def short_time(iso: str | None) -> str:
    """An ISO 8601 time to the minute, as the Documents table shows times.

    >>> short_time("2026-12-06T03:14:15+00:00")
    '2026-12-06 03:14'
    """
    return (iso or "")[:16].replace("T", " ")


def document_rows(documents: list[DocumentInfo]) -> list[list]:
    """One row of the Documents table per indexed document (as ``Pipeline.documents`` lists them); a document
    without a title of its own (its title is its file name) is "(untitled)", as on its evidence cards."""
    return [[short_title(d.title) if not untitled(d.title, d.id) else "(untitled)", d.id, d.kind, d.pages or "", d.passages,
             short_time(d.indexed)] for d in documents]


def document_choices(documents: list[DocumentInfo]) -> list[tuple[str, str]]:
    """(label, id) of each document, for the document pickers: its title and file name, or its file name alone when
    that is its title ("002.txt (002.txt)" said it twice)."""
    return [(f"{short_title(d.title, 60)} ({d.id})" if not untitled(d.title, d.id) else d.id, d.id) for d in documents]


def render_stale(then: Collection[str], now: Collection[str], cited: Collection[str],
                 changed: Collection[str] = ()) -> str:
    """A note over an answer given when the collection held the documents ``then`` and that now holds ``now``
    (ids): which documents it cites are gone or ``changed`` (their text at the cited places is not the text
    cited), or how many were added and removed; empty when nothing changed."""
    removed = [d for d in then if d not in now]
    added = [d for d in now if d not in then]
    if not removed and not added and not changed:
        return ""
    gone = [d for d in cited if d in removed]
    if gone or changed:
        parts = []
        if gone:
            parts.append(f"{', '.join(gone)} {'is' if len(gone) == 1 else 'are'} cited below and no longer in the "
                         "collection")
        if changed:
            parts.append(f"{', '.join(changed)} {'is' if len(changed) == 1 else 'are'} cited below and "
                         f"{'has' if len(changed) == 1 else 'have'} changed")
        what = "; ".join(parts)
    else:
        what = ", ".join(f"{n} {label}" for n, label in ((len(added), "added"), (len(removed), "removed")) if n)
        what = f"the documents have changed ({what})"
    return (f'<div class="qa-stale" role="status">Since this answer, {_e(what)}: ask again to answer from the '
            "documents as they are now.</div>")


def render_changes(lines: list[str], title: str) -> str:
    """What an upload or a removal did, one escaped line each."""
    items = "".join(f"<li>{_e(line)}</li>" for line in lines)
    return f'<div class="qa-changes" role="status"><strong>{_e(title)}</strong><ul class="qa-notes">{items}</ul></div>'


def render_confirm(ids: list[str], trash: bool, titles: dict[str, str] | None = None) -> str:
    """The question asked before removing documents, naming each file, with its title when ``titles`` has one
    other than its id."""
    titles = titles or {}
    items = "".join(f"<li><code>{_e(i)}</code>" + (f" {_title(titles[i])}" if titles.get(i, i) != i else "")
                    + "</li>" for i in ids)
    one = len(ids) == 1
    if trash:
        what = (f"{'It is' if one else 'They are'} moved to the trash folder beside the index; Undo, or Restore under "
                f"Removed documents at any time, brings {'it' if one else 'them'} back.")
    else:
        what = f"{'Its file is' if one else 'Their files are'} deleted from the document folder; this cannot be undone."
    return (f'<div class="qa-confirm" role="alertdialog"><strong>Remove {len(ids)} '
            f'document{"s" if len(ids) != 1 else ""}?</strong><ul>{items}</ul><p>{what}</p></div>')


# -- evaluation -------------------------------------------------------------------------------

#: What each metric column means, shown next to the numbers.
METRIC_HELP = (
    ("R@k", "recall at k: share of answerable queries with a relevant passage in the top k"),
    ("MRR@10", "mean reciprocal rank: 1 if the first relevant passage is ranked first, 1/2 if second, "
               "…, 0 if not in the top 10"),
    ("nDCG@10", "ranking quality of all relevant passages in the top 10, 1 = ideal order"),
    ("EM", "exact match: share of answers equal to a gold answer (case, punctuation and articles ignored)"),
    ("F1", "word overlap between the answer and the best gold answer, averaged (0 to 1)"),
    ("partly", "at least partly right (the right answers count too): the answer lies inside a gold answer, or its "
               "F1 is at least 0.5 and it gives no other number than the gold answer"),
    ("evidence", "the answer's sentence holds a gold answer"),
    ("abstain ok", "share of unanswerable queries where no answer was given, not even a possible answer "
                   "(higher is better)"),
    ("abstain wrong", "share of answerable queries where no answer was given, not even a possible answer "
                      "(lower is better)"),
    ("sure", "share of all queries given an answer stated as sure"),
    ("sure right", "share of those answers that are right (exact match; \"-\": none was given)"),
    ("possible", "share of all queries given only a possible answer"),
    ("possible right", "share of those possible answers that are right (\"-\": none was given)"),
    ("none", "share of all queries given no answer, only the closest passages"),
)


def render_metric_help() -> str:
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in METRIC_HELP)
    return (f'<details class="qa-metric-details"><summary>What each column of the tables means</summary>'
            f'<dl class="qa-metric-help">{items}</dl></details>')


def render_summary(result: Evaluation, problems: Sequence[str], source: str) -> str:
    """What was evaluated, and every problem or warning, escaped."""
    from ..eval import plain_summary

    notes = [f"line problems in the file: {p}" for p in problems] + list(result.warnings)
    items = "".join(f"<li>{_e(n)}</li>" for n in notes)
    plain = "".join(f"<p class=\"qa-plain\">{_e(line)}</p>" for line in plain_summary(result))
    return (
        plain + f'<p class="qa-source">{result.n_queries:,} quer{"y" if result.n_queries == 1 else "ies"} from {_e(source)}; retrieval depth '
        f'{result.k}; misses and wrong answers come first in the table below — select a row to see '
        f"what was retrieved.</p>" + (f'<ul class="qa-notes">{items}</ul>' if items else "")
        + render_metric_help()
    )


PER_QUERY_HEADERS = ["id", "mode", "rank", "correct", "partly right", "confidence", "question", "gold", "answer"]


def rank_cell(record: QueryResult) -> str:
    if not record.answerable:
        return "unanswerable"
    return "miss" if record.rank is None else str(record.rank)


def per_query_rows(result: Evaluation) -> list[list]:
    """One row per query and mode: retrieval misses first, then wrong answers, then the rest."""
    rows = []
    for mode, res in result.modes.items():
        for r in res.per_query:
            missed = r.answerable and r.rank is None
            confidence = "" if r.confidence is None else confidence_text(r.confidence)
            correct, partly = r.scores.correct, r.scores.partly_right
            # a query answerable without a gold text gives its answer as a place (a character range) in a document
            gold = " | ".join(r.gold) or ("(a place in a document)" if r.answerable else "(none)")
            row = [r.id, mode, rank_cell(r), "yes" if correct else "no",
                   "" if partly is None else ("yes" if partly else "no"), confidence,
                   r.question, gold, r.answer or r.error or "(abstained)"]
            rows.append(((not missed, bool(correct)), row))
    return [row for _, row in sorted(rows, key=lambda item: item[0])]
