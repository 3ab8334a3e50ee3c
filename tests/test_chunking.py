"""Passages and sentences: exact offsets on any text, sections, and whole sentences in wrapped text."""

from __future__ import annotations

import textwrap
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SEEDS
from qa.ingest.chunking import MAX_SENTENCE_CHARS, headings, split_passages, split_sentences
from qa.ingest.documents import load_folder, make_document

# Text made of pieces that stress the splitters: words, unicode, CRLF, runs without spaces,
# many blank lines, sentence ends and headings.
_PIECES = st.one_of(
    st.text(min_size=1, max_size=40),
    st.sampled_from(["\n", "\r\n", "\n\n\n\n", "\r\n\r\n", " ", ". ", "? ", "\t", "# Heading\n",
                     "Plain Heading\n\n", "Mr. Smith went to Washington. ", "e.g. this", "\u00a0", "\u2028"]),
    st.builds(lambda c, n: c * n, st.sampled_from(["x", "\u0645", "\u4e2d", "\U0001F600", ".", "ab "]),
              st.integers(1, 400)),
)
RANDOM_TEXT = st.lists(_PIECES, min_size=1, max_size=30).map("".join).filter(str.strip)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=RANDOM_TEXT, size_overlap=st.sampled_from([(50, 0), (50, 10), (120, 30), (300, 100), (1000, 200)]),
       kind=st.sampled_from(["text", "markdown"]))
def test_passage_offsets_slice_the_document_exactly(text, size_overlap, kind):
    size, overlap = size_overlap
    doc = make_document("random.txt", text, kind=kind)
    passages = split_passages(doc, size, overlap)
    for i, p in enumerate(passages):
        assert doc.text[p.start:p.end] == p.text
        assert p.text.strip() and len(p.text) <= size
        assert (p.ordinal, p.doc, p.title) == (i, doc.id, doc.title)
    assert [p.start for p in passages] == sorted({p.start for p in passages})
    covered = set()
    for p in passages:
        covered.update(range(p.start, p.end))
    assert all(i in covered for i, c in enumerate(text) if not c.isspace())


def test_a_piece_its_neighbour_holds_whole_is_not_a_passage_of_its_own():
    """langchain's splitter returns "0...0\r\n# Heading" and then the same start with the text after it: the first
    would be a passage inside the second, shown twice in the evidence (found by the property above)."""
    text = "\n" + "0" * 46 + "\r\n# Heading\n" + "x" * 242
    doc = make_document("random.txt", text, kind="text")
    passages = split_passages(doc, 300, 100)
    assert [(p.start, p.end) for p in passages] == [(1, 301)]
    assert passages[0].text == text[1:] and passages[0].ordinal == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=RANDOM_TEXT)
def test_sentence_spans_are_inside_trimmed_and_disjoint(text):
    spans = split_sentences(text)
    last_end = 0
    for start, end in spans:
        assert last_end <= start < end <= len(text)
        piece = text[start:end]
        assert piece == piece.strip() and len(piece) <= MAX_SENTENCE_CHARS
        last_end = end


PROSE = [
    "The committee met in Geneva on 4 March 2019 to review the draft agreement.",
    "Its members disagreed about the timetable, e.g. whether talks should resume before the summer.",
    "Dr. Alvarez proposed a compromise that most delegations could accept.",
    "Why did the talks stall again in the autumn?",
    "Observers blamed the renewed fighting near the border, which displaced thousands of families.",
]


def test_hard_wrapped_paragraphs_give_whole_sentences():
    paragraphs = [" ".join(PROSE[:3]), " ".join(PROSE[3:])]
    text = "Report\n\n" + "\n\n".join(textwrap.fill(p, width=70) for p in paragraphs) + "\n"
    assert "\n" in textwrap.fill(paragraphs[0], width=70)
    sentences = [" ".join(text[s:e].split()) for s, e in split_sentences(text)]
    assert sentences == ["Report"] + PROSE


def test_hard_wrapped_seed_gives_whole_sentences():
    doc = next(d for d in load_folder(SEEDS).documents if d.id.startswith("002_"))
    sentences = [doc.text[s:e] for s, e in split_sentences(doc.text)]
    assert ("During this period, the Middle East has drawn\nconsiderable attention from analysts due to "
            "the unique nature of its\nconflicts\u2014distinct from those in other parts of the world.") in sentences
    wrapped = [s for s in sentences if "\n" in s]
    assert len(wrapped) > 20
    # a sentence never stops at a line end, nor at a page break inside a sentence
    assert "This raises the\n\ncentral question: Within what framework can Iran\u2019s security policy in\n " \
           "response to the ISIS threat be evaluated?" in sentences
    unfinished = [s for s in sentences if s[-1] not in ".!?\"\u201d)"]
    assert unfinished == ["Materials and Methods", "Results and Discussion", "Conclusion"]


def test_long_text_without_sentence_ends_is_split_in_linear_time():
    text = "alpha beta gamma delta " * 9_000  # 207 kB on one line; pysbd alone took ~40 s on this
    t = time.perf_counter()
    split_sentences(text[: len(text) // 8])
    eighth = time.perf_counter() - t
    t = time.perf_counter()
    spans = split_sentences(text)
    whole = time.perf_counter() - t
    # 8x the text: linear work takes ~8x as long, quadratic ~64x; the bound is loose for a busy machine
    assert whole < 24 * eighth + 2.0, (whole, eighth)
    assert spans and all(text[s:e].strip() == text[s:e] for s, e in spans)


def test_markdown_headings_become_sections():
    text = "# Top\n\nIntro text here.\n\n## Second part\n\nBody of the second part. " + "More words. " * 20
    doc = make_document("a.md", text, kind="markdown")
    assert [h for _, h in headings(doc)] == ["Top", "Second part"]
    passages = split_passages(doc, 100, 0)
    assert passages[0].section == "Top"
    assert passages[-1].section == "Second part"


def test_plain_text_headings_become_sections():
    text = ("Annual report\n\nIntroduction\n\nThe year began quietly. Sales rose in spring.\n\n"
            "Results of the Year\n\nProfits doubled. The board was pleased.\n")
    doc = make_document("r.txt", text)
    assert [h for _, h in headings(doc)] == ["Introduction", "Results of the Year"]
    sections = {p.text: p.section for p in split_passages(doc, 50, 0)}
    assert sections["Profits doubled. The board was pleased."] == "Results of the Year"
    assert sections["The year began quietly. Sales rose in spring."] == "Introduction"


def test_an_articles_dateline_is_not_a_section_but_dated_entries_are():
    """A date alone under the title is the article's date, not the section its first paragraphs are cited in; a
    series of dated entries (a diary, minutes) are its sections. A month of a year can name a section."""
    article = make_document("a.txt", "Allies Meet Again\n\nNovember 11, 2021\n\nThe allies met in Geneva.\n\n"
                                     "Background\n\nTalks began in 2019.\n\nMay 2019\n\nThe talks went on.\n")
    assert [h for _, h in headings(article)] == ["Background", "May 2019"]
    assert split_passages(article, 40, 0)[0].section is None
    diary = make_document("d.txt", "Field diary\n\nNovember 11, 2021\n\nWe walked to the ridge.\n\n"
                                   "November 12, 2021\n\nWe rested at the hut.\n")
    assert [h for _, h in headings(diary)] == ["November 11, 2021", "November 12, 2021"]


def test_an_overlong_sentence_is_cut_between_words_at_a_clause_mark_if_it_can():
    """A sentence longer than the limit is cut into parts, after a comma when one is in a part's second half, else
    between words: a quoted part never ends mid-word ("... in April alon")."""
    names = ", ".join(f"General Name{i} Surname{i} (head of branch number {i})" for i in range(14))
    text = f"The purge removed many senior officers, including {names} and many others, for a total of 150 in April alone."
    spans = split_sentences(text)
    assert len(text) > MAX_SENTENCE_CHARS and len(spans) > 1
    for start, end in spans:
        assert end - start <= MAX_SENTENCE_CHARS
        assert end == len(text) or text[end - 1] == "," and text[end] == " "
    assert text[spans[-1][0]:spans[-1][1]].endswith("for a total of 150 in April alone.")
    words = "lorem " * 200  # no clause mark: cut at a space
    assert all(words[e - 1] != " " and (e == len(words.rstrip()) or words[e] == " ")
               for _, e in split_sentences(words))


@pytest.mark.parametrize("name, kind, heading", [("r.txt", "text", "Conclusion"),
                                                  ("r.md", "markdown", "## Conclusion")])
def test_a_heading_starts_the_passage_of_its_section(name, kind, heading):
    """The splitter packs a short heading with the text above it; the passage would end with the next section's
    heading. It ends before the heading, and the heading starts the next passage, whose section it is."""
    above = "Intro\n\n" + "The argument goes on. " * 18 + "It ends here."
    below = "In short, the evidence holds. " * 12
    text = f"{above}\n\n{heading}\n\n{below}\n"
    doc = make_document(name, text, kind=kind)
    passages = split_passages(doc, 450, 0)
    assert [p.text for p in passages] == [above, f"{heading}\n\n{below.rstrip()}"]
    assert passages[1].section == "Conclusion"
    assert all(doc.text[p.start:p.end] == p.text for p in passages)


def test_headings_one_after_another_start_the_next_passage_together():
    above = "The argument goes on. " * 18 + "It ends here."
    below = "In short, the evidence holds. " * 10
    text = f"{above}\n\n## Part two\n\n### Conclusion\n\n{below}\n"
    passages = split_passages(make_document("r.md", text, kind="markdown"), 450, 0)
    assert [p.text for p in passages] == [above, f"## Part two\n\n### Conclusion\n\n{below.rstrip()}"]
    assert passages[1].section == "Part two"


def test_a_heading_stays_where_the_next_passage_has_no_room_for_it():
    above = "The argument goes on. " * 18 + "It ends here."
    below = "In short, the evidence holds. " * 15 + "Done."  # 455 characters: no room for the heading too
    text = f"{above}\n\nConclusion\n\n{below}\n"
    passages = split_passages(make_document("r.txt", text), 460, 0)
    assert [p.text for p in passages] == [f"{above}\n\nConclusion", below]


def test_wrapped_lines_are_not_headings():
    doc = next(d for d in load_folder(SEEDS).documents if d.id.startswith("002_"))
    assert [h for _, h in headings(doc)] == ["Materials and Methods", "Results and Discussion", "Conclusion"]


@pytest.mark.parametrize("size, overlap", [(200, 0), (1000, 200)])
def test_seed_passages_slice_their_documents(size, overlap):
    for doc in load_folder(SEEDS).documents:
        passages = split_passages(doc, size, overlap)
        assert passages and all(doc.text[p.start:p.end] == p.text for p in passages)
