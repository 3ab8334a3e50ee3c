"""Marking spans of untrusted document text in HTML: the answer, its sentence, the passage and
the question's content words. No UI framework here.

Every piece of text is escaped on its own before any markup is added, so ``<script>`` or
``onerror=`` in a document renders as inert text.
"""

from __future__ import annotations

import html
import re
from typing import Iterable

from ..index.lexical import tokenize
from ..ingest.chunking import MD_HEADING

#: Markup for each kind of span, outermost first (an answer lies inside its sentence, and query
#: terms inside either; a Markdown heading line holds its ``#`` marks).
TAGS = {
    # a PDF page's text, before which the source view draws the page's number (CSS counts them)
    "page": ('<span class="qa-page-start">', "</span>"),
    "meta": ('<span class="qa-front-matter">', "</span>"),  # the document's front matter (title, author, date), dimmed
    "table": ('<span class="qa-table-line">', "</span>"),  # a Markdown table's line, in a fixed-width font
    "heading": ('<span class="qa-heading">', "</span>"),
    "markup": ('<span class="qa-md">', "</span>"),
    "passage": ('<span class="qa-in-passage">', "</span>"),
    "sentence": ('<span class="qa-sentence">', "</span>"),
    "answer": ("<mark>", "</mark>"),
    "term": ('<b class="qa-term">', "</b>"),
}
_ORDER = tuple(TAGS)

#: A whole word: letters and digits, with inner apostrophes or hyphens ("Russia's", "Iran-backed").
WORD = re.compile(r"\w+(?:['\u2019-]\w+)*")

#: Function words never underlined, though BM25's short stop list keeps some of them ("did",
#: "when", "its"). Only content words are marked.
FUNCTION_WORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing done down during each either else ever every
few for from further had has have having he her here hers herself him himself his how however i if
in into is it its itself just least less let many may me might more most much must my myself neither
never no nor not now of off on once one only or other ought our ours ourselves out over own per
rather same shall she should since so some still such than that the their theirs them themselves
then there these they this those though through thus to too under until up upon us very was we
were what whatever when whenever where whereas wherever whether which while who whom whose why
will with within without would yet you your yours yourself yourselves s t
""".split())


def highlight(text: str, spans: Iterable[tuple[int, int, str]]) -> str:
    """HTML of ``text`` with each ``(start, end, kind)`` span wrapped in the tag of its kind.

    Offsets are into ``text``; spans outside it are clipped. The text is cut at every span
    boundary and each piece is escaped on its own, so markup only ever comes from ``TAGS``.

    >>> highlight("a <b> c", [(2, 5, "answer")])
    'a <mark>&lt;b&gt;</mark> c'
    >>> highlight("ab", [(0, 1, "page"), (1, 2, "page")])
    '<span class="qa-page-start">a</span><span class="qa-page-start">b</span>'
    """
    n = len(text)
    spans = [(max(s, 0), min(e, n), k) for s, e, k in spans if min(e, n) > max(s, 0) and k in TAGS]
    cuts = sorted({0, n, *(s for s, _, _ in spans), *(e for _, e, _ in spans)})
    # a sweep over the cuts: how many spans of each kind cover the piece (linear in cuts + spans; a document's
    # every heading is a span in the source view)
    starts: dict[int, list[str]] = {}
    ends: dict[int, list[str]] = {}
    for s, e, k in spans:
        starts.setdefault(s, []).append(k)
        ends.setdefault(e, []).append(k)
    covering = dict.fromkeys(_ORDER, 0)
    out: list[str] = []
    opened: list[str] = []
    for a, b in zip(cuts, cuts[1:]):
        for k in ends.get(a, ()):
            covering[k] -= 1
        for k in starts.get(a, ()):
            covering[k] += 1
        want = [k for k in _ORDER if covering[k] > 0]
        # a span that ends where another of its kind begins (one PDF page, then the next) is two elements
        restart = set(ends.get(a, ())) & set(starts.get(a, ()))
        keep = 0
        while (keep < min(len(opened), len(want)) and opened[keep] == want[keep]
               and opened[keep] not in restart):
            keep += 1
        out.extend(TAGS[k][1] for k in reversed(opened[keep:]))
        out.extend(TAGS[k][0] for k in want[keep:])
        opened = want
        out.append(html.escape(text[a:b]))
    out.extend(TAGS[k][1] for k in reversed(opened))
    return "".join(out)


def heading_spans(text: str) -> list[tuple[int, int, str]]:
    """The Markdown heading lines of ``text`` (as the chunker finds sections) and their ``#`` marks, which are
    shown, as they are in the document, but dimmed.

    >>> t = "#### Purges\\nText"
    >>> [(t[s:e], k) for s, e, k in heading_spans(t)]
    [('#### Purges', 'heading'), ('#### ', 'markup')]
    """
    spans = []
    for m in MD_HEADING.finditer(text):
        spans += [(m.start(), m.end(), "heading"), (m.start(), m.start(1), "markup")]
    return spans


def front_matter_spans(text: str) -> list[tuple[int, int, str]]:
    """The document's front matter (``---`` lines around ``key: value`` lines), which the collection reads for the
    title, author and date: shown where it is, as the document has it, but dimmed as its header, not its text.

    >>> t = "---\\ntitle: Lighthouses\\n---\\nThe Phare d'Eckmuhl"
    >>> [t[s:e] for s, e, _ in front_matter_spans(t)]
    ['---\\ntitle: Lighthouses\\n---\\n']
    """
    from ..ingest.documents import parse_front_matter

    _, end = parse_front_matter(text)
    return [(0, end, "meta")] if end else []


def table_spans(text: str) -> list[tuple[int, int, str]]:
    """The Markdown table lines of ``text``, shown in a fixed-width font so that a table written with its columns
    padded reads as columns (the readers take a neighbouring row's cell often: the row must be checkable).

    >>> t = "Fees\\n| Boat | Fee |\\n| Yacht | 12 m |"
    >>> [t[s:e] for s, e, _ in table_spans(t)]
    ['| Boat | Fee |', '| Yacht | 12 m |']
    """
    from ..reader.windows import table_lines

    return [(s, e, "table") for s, e in table_lines(text)]


def _parts(word: str) -> list[str]:
    return [p for p in re.split(r"['\u2019-]", word) if p]


def question_stems(question: str) -> set[str]:
    """The stemmed content words of a question (function words left out), as BM25 stems them.

    >>> sorted(question_stems("When did Russia reconsider its commitment?"))
    ['commit', 'reconsid', 'russia']
    """
    words = [p.lower() for w in WORD.findall(question) for p in _parts(w)]
    words = [w for w in words if w not in FUNCTION_WORDS and len(w) > 1]
    return {t for toks in tokenize(words) for t in toks} if words else set()


def term_spans(text: str, stems: set[str]) -> list[tuple[int, int, str]]:
    """Spans of the whole words in ``text`` with a part whose stem is one of ``stems``
    (function words are never marked, and a word is never cut in two).

    >>> t = "Russia's commitments did change"
    >>> [t[s:e] for s, e, _ in term_spans(t, {"russia", "commit", "did"})]
    ["Russia's", 'commitments']
    """
    words = list(WORD.finditer(text))
    if not words or not stems:
        return []
    parts = [[p.lower() for p in _parts(m.group())] for m in words]
    flat = [p for ps in parts for p in ps]
    tokens = iter(tokenize(flat))
    spans = []
    for m, ps in zip(words, parts):
        hit = False
        for p in ps:
            toks = next(tokens)
            if p not in FUNCTION_WORDS and toks and toks[0] in stems:
                hit = True
        if hit:
            spans.append((m.start(), m.end(), "term"))
    return spans
