"""Hard-wrapped text shown as paragraphs: the line breaks inside a paragraph of prose (a PDF's
every line, a plain-text file wrapped at 70 characters) become spaces, so the browser wraps the
text to the width of the card instead of showing a narrow ragged column.

A break is replaced by one space (``\\r\\n`` by two), so the text keeps its length and every offset
into it (the answer, the passage, the question's words) still marks the same characters. A break
stays where it means something: after a short line (a paragraph's last line, a heading, an address);
before a blank, indented (by a tab or two spaces: one is a stray) or list line; inside a code fence;
before a short line that follows a sentence's end and does not end one itself (a heading); around a
Markdown heading or table row; and everywhere in text whose lines are not wrapped at a width (few
lines, or lines longer than :data:`qa.ingest.chunking.WRAPPED_MAX_WIDTH`).

>>> reflow("Lighthouses guide ships past the\\nreefs of the Iroise Sea, by night.\\n"
...        "Penmarch\\nThe Phare d'Eckmuhl was lit\\nin 1897: 307 steps lead to its lantern.")
"Lighthouses guide ships past the reefs of the Iroise Sea, by night.\\nPenmarch\\nThe Phare d'Eckmuhl was lit \
in 1897: 307 steps lead to its lantern."
"""

from __future__ import annotations

import re

from ..ingest.chunking import WRAPPED_MAX_WIDTH, wrap_width

#: A line shorter than this share of the wrap width ends where its writer ended it.
FULL_LINE = 0.6
#: Fewest lines of text (not blank) for their width to say the text is wrapped.
MIN_LINES = 3
#: Narrowest wrap width taken for prose (narrower: a list, a table, verse).
MIN_WIDTH = 30
#: How a sentence ends (with its closing quote or bracket).
_ENDS = tuple(".!?:;\"\u201d')")
#: A line that starts a list item, a table row or a Markdown heading or block.
_BLOCK = re.compile(r"[-*+\u2022\u2013>]\s|\d{1,3}[.)]\s|[|#]")


#: Two or more blank lines in a row (white space between the breaks allowed).
_BLANK_RUN = re.compile(r"\n(?:[ \t\r]*\n){2,}")


def one_blank_line(text: str) -> str:
    """``text`` with every run of blank lines shown as one: the breaks between the first and the last become
    spaces, which end a line without a mark (the same length, as for :func:`reflow`). A document's six line
    breaks before its notes were a blank band across the card.

    >>> one_blank_line("end.\\n\\n\\n\\n[4] Notes") == "end.\\n  \\n[4] Notes"
    True
    """
    # every character between the first and the last break a space: a carriage return left there would be read by
    # the browser as one more break
    return _BLANK_RUN.sub(lambda m: "\n" + " " * (len(m.group()) - 2) + "\n", text)


def reflow(text: str) -> str:
    """``text`` with the line breaks inside its paragraphs of hard-wrapped prose made spaces, and runs of
    blank lines shown as one (:func:`one_blank_line`); the same length. Text that is not wrapped keeps its
    other breaks."""
    text = one_blank_line(text)
    lines = text.split("\n")
    width = wrap_width(lines)
    if sum(bool(line.strip()) for line in lines) < MIN_LINES or not MIN_WIDTH <= width <= WRAPPED_MAX_WIDTH:
        return text
    out = []
    fenced = False  #: inside a Markdown code fence, whose lines are kept as they are
    for i, line in enumerate(lines[:-1]):
        bare, nxt = line.rstrip("\r"), lines[i + 1]
        if bare.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        # a passage may start mid-line: its first line is short but goes on
        full = len(bare.rstrip()) >= FULL_LINE * width or (i == 0 and bare[:1].islower())
        heading = (bare.rstrip().endswith(_ENDS) and len(nxt.rstrip()) < FULL_LINE * width
                   and not nxt.rstrip().endswith(_ENDS))
        joined = (full and not heading and not fenced and bare.strip() and nxt.strip()
                  and not nxt.startswith(("  ", "\t")) and not nxt.lstrip().startswith(("```", "~~~"))
                  and not _BLOCK.match(bare.lstrip()) and not _BLOCK.match(nxt))
        out.append(bare + " " * (len(line) - len(bare) + 1) if joined else line + "\n")
    out.append(lines[-1])
    return "".join(out)
