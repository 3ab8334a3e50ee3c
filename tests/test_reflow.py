"""Hard-wrapped text shown as paragraphs (qa.web.reflow): breaks inside a paragraph become spaces,
the text keeps its length, and the breaks that mean something stay."""

from __future__ import annotations

from qa.types import Hit, Passage
from qa.web.highlight import question_stems
from qa.web.reflow import reflow
from qa.web.render import render_hit

#: Plain text wrapped at 70 characters, as one of the seeds is.
WRAPPED = (
    "increased Iran's regional influence and power of deterrence, including\n"
    " that of its non-state allies such as Hezbollah. This, in turn, deterred\n"  # one space: a stray, as here
    "potential military attacks on Iran by the U.S. and Israel.\n"
    "\n"
    "Results and Discussion\n"
    "\n"
    "The situation elevated the status of Iran and the so-called Axis of\n"
    "Resistance as stabilizing forces in the region."
)


def test_the_breaks_inside_a_wrapped_paragraph_become_spaces_and_the_rest_stay():
    shown = reflow(WRAPPED)
    assert len(shown) == len(WRAPPED)
    assert all(a == b or (a == "\n" and b == " ") for a, b in zip(WRAPPED, shown))  # only breaks changed
    assert shown.split("\n") == [
        "increased Iran's regional influence and power of deterrence, including  that of its non-state allies such as "
        "Hezbollah. This, in turn, deterred potential military attacks on Iran by the U.S. and Israel.",
        "", "Results and Discussion", "",
        "The situation elevated the status of Iran and the so-called Axis of Resistance as stabilizing forces in the "
        "region.",
    ]


def test_a_pdf_page_keeps_its_headings_on_their_own_lines():
    page = ("Lighthouses of Brittany\n"
            "The coast of Brittany is rocky and its tides are among the strongest in Europe. Dozens of\n"
            "lighthouses guide ships past the reefs of the Iroise Sea.\n"
            "Penmarch\n"
            "The Phare d'Eckmuhl at Penmarch was lit in 1897. Its tower is 65 metres tall, and 307 steps lead to\n"
            "the lantern.")
    assert reflow(page).split("\n") == [
        "Lighthouses of Brittany",
        "The coast of Brittany is rocky and its tides are among the strongest in Europe. Dozens of lighthouses "
        "guide ships past the reefs of the Iroise Sea.",
        "Penmarch",
        "The Phare d'Eckmuhl at Penmarch was lit in 1897. Its tower is 65 metres tall, and 307 steps lead to the "
        "lantern.",
    ]


def test_lists_tables_headings_verse_and_unwrapped_text_are_left_as_they_are():
    lists = ("The committee named three causes for the failure of the talks in the spring:\n"
             "- the withdrawal of the mediators after the second round of the talks in Geneva\n"
             "- sanctions that were tightened while the two delegations were still meeting\n"
             "1. a first numbered point that runs on for most of the width of the line, as prose\n"
             "2) a second numbered point that runs on for most of the width of the line, too\n"
             "| a table row that is about as wide as the prose lines around it in the text |\n"
             "| another table row that is about as wide as the prose lines around it, too |\n"
             "## A Markdown heading line that is long enough to look like a line of the prose\n"
             "    indented code that is long enough to look like a line of the prose around it")
    assert reflow(lists) == lists
    code = ("Run the indexer over the folder of documents as below, then ask your questions:\n"
            "```\n"
            "python -m qa index --docs /srv/documents/annual-reports --index /srv/index/reports\n"
            "python -m qa ask 'When did the board approve the merger with the northern group?'\n"
            "```\n"
            "Both commands print what they did, and the second prints its answer with a citation.")
    assert reflow(code) == code
    verse = "The rain in Spain\nfalls mainly\non the plain.\nSo they say\nin the songs."
    assert reflow(verse) == verse  # lines too narrow to be prose wrapped at a width
    unwrapped = ("A paragraph written on one line, as editors and web pages save text, " * 4 + "\n") * 3
    assert reflow(unwrapped) == unwrapped
    assert reflow("Two lines of prose that are wrapped at a width\nlike this one.") == \
        "Two lines of prose that are wrapped at a width\nlike this one."  # too few lines to tell


def test_windows_line_ends_become_two_spaces():
    text = WRAPPED.replace("\n", "\r\n")
    shown = reflow(text)
    assert len(shown) == len(text) and "so-called Axis of  Resistance" in shown
    assert "\r\n\r\nResults and Discussion\r\n" in shown


def test_an_evidence_card_marks_the_same_words_in_the_reflowed_text():
    passage = Passage("002.txt", "002.txt", 0, 100, 100 + len(WRAPPED), WRAPPED)
    stems = question_stems("Did Hezbollah deter attacks?")
    card = render_hit(1, Hit(passage, 1.0, 1, "bm25"), None, stems, None)
    assert ('deterrence, including  that of its non-state allies such as '
            '<b class="qa-term">Hezbollah</b>. This, in turn, <b class="qa-term">deterred</b> potential military '
            '<b class="qa-term">attacks</b>') in card
    assert "including\nthat" not in card and "\n\nResults and Discussion\n\n" in card


def test_a_run_of_blank_lines_shows_as_one_and_keeps_every_offset():
    text = "the Syrian forces and their allies.[18]\n\n\n\n\n\n[4] Al-Safir (Lebanon), December 8, 2016.\r\n\r\n\r\n[5] Alalam.ir"
    shown = reflow(text)
    assert len(shown) == len(text)
    assert [line.strip() for line in shown.split("\n")] == [
        "the Syrian forces and their allies.[18]", "", "[4] Al-Safir (Lebanon), December 8, 2016.", "", "[5] Alalam.ir"]
    assert "\r" not in shown.replace("\r\n", "")  # a carriage return between the breaks would be one more break
    at = text.index("Al-Safir")
    assert shown[at:at + 8] == "Al-Safir"
    assert reflow("one\n\ntwo") == "one\n\ntwo"  # one blank line stays as it is
