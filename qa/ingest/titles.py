"""A document's title when its metadata has none: the first heading of Markdown, else the first
line when it looks like a title (not a sentence fragment or a photo caption), else a line of the
first few that stands alone between blank lines and looks like one (not a date: web articles saved
as text often open with a photo caption and a date); otherwise the caller falls back to the file name.

>>> title_from_text("# Eruptions\\n\\nThe volcano erupted.", "markdown")
'Eruptions'
>>> title_from_text("Rivers of Europe\\n\\nThe Danube flows east.")
'Rivers of Europe'
>>> title_from_text(" these, the Middle East stands out as one of the most crisis-prone\\nregions")
''
>>> title_from_text("A long photo caption that runs on and on, in lower case, about the picture\\n\\n"
...                 "September 02, 2014\\n\\nHe's Just Not That Into Us\\n\\nThe article begins.")
"He's Just Not That Into Us"
"""

from __future__ import annotations

#: The version of the rules in this module. An index records the version its titles were found by; one found
#: by another has them found again at its next update (each file read once more, nothing embedded again).
RULE = "2"

#: Most words in a line taken as a title.
MAX_TITLE_WORDS = 30


#: How many non-blank lines from the top a title standing alone between blank lines may be found in (a caption
#: and a date may come first; further down, a short line alone is a section heading).
TITLE_SEARCH_LINES = 3

#: A line longer than this (in words) is a title only when written in Title Case.
SHORT_TITLE_WORDS = 12


def looks_like_title(line: str) -> bool:
    """A line that starts with a capital or a digit (or a quote), does not end like a sentence or a
    clause (``.``, ``,``, ``;``), and is short or written in Title Case (a photo caption is neither).

    >>> looks_like_title("Iraqi women walk past a poster depicting images of Iran's Supreme Leader "
    ...                  "Ayatollah Ali Khamenei at al-Firdous Square in Baghdad February 12, 2014")
    False
    """
    line = line.strip()
    words = line.split()
    if not words or len(words) > MAX_TITLE_WORDS:
        return False
    first = line.lstrip("'\"\u2018\u201c([")[:1]
    if not first or not (first.isupper() or first.isdigit()):
        return False
    if line.endswith((".", ",", ";", "-")) and not line.endswith("..."):
        return False
    if len(words) <= SHORT_TITLE_WORDS:
        return True
    long_words = [w.strip("'\"\u2018\u2019\u201c\u201d()[],:;") for w in words]
    long_words = [w for w in long_words if len(w) >= 4 and w[:1].isalpha()]
    return sum(w[:1].isupper() for w in long_words) >= 0.7 * len(long_words)


def markdown_heading(line: str) -> str | None:
    """The text of a Markdown ``#`` heading line (closing ``#`` run removed), or ``None``. String
    methods only, linear in the line's length (a regular expression here backtracked quadratically
    on long runs of spaces).

    >>> markdown_heading("## Field notes ##"), markdown_heading("#hashtag"), markdown_heading("text")
    ('Field notes', None, None)
    """
    s = line.strip()
    n = len(s) - len(s.lstrip("#"))
    if not 1 <= n <= 6 or len(s) == n or not s[n].isspace():
        return None
    body = s[n:].strip()
    return body.rstrip("#").rstrip() or body


def is_date(line: str) -> bool:
    """A line that is a date and nothing else ("September 02, 2014", "2014-09-02"), by dateutil's parser.

    >>> is_date("September 02, 2014"), is_date("Rivers of Europe"), is_date("He's Just Not That Into Us")
    (True, False, False)
    """
    from dateutil import parser

    try:
        parser.parse(line, fuzzy=False)
    except (ValueError, OverflowError):
        return False
    return True


def is_full_date(line: str) -> bool:
    """A line that is a whole date and nothing else: a day, a month and a year ("November 11, 2021", "2021-11-11"),
    not a year or a month alone ("1917", "May 2019"), which can name a section of a history.

    >>> is_full_date("November 11, 2021"), is_full_date("1917"), is_full_date("May 2019"), is_full_date("Spheres")
    (True, False, False, False)
    """
    from datetime import datetime

    from dateutil import parser

    try:  # every part given: the parse does not depend on the defaults for missing parts
        return parser.parse(line, default=datetime(1, 1, 1)) == parser.parse(line, default=datetime(2, 2, 2))
    except (ValueError, OverflowError):
        return False


def title_from_text(text: str, kind: str = "text") -> str:
    """The title found in the body ``text`` (front matter already removed), or ``""``."""
    lines = [line.strip() for line in text.splitlines()]
    if kind == "markdown":
        for line in filter(None, lines):
            heading = markdown_heading(line)
            if heading:
                return heading
    seen = 0
    for i, line in enumerate(lines):  # the first line, or one standing alone between blank lines near the top
        if not line:
            continue
        seen += 1
        if seen > TITLE_SEARCH_LINES:
            break
        alone = i > 0 and not lines[i - 1] and (i + 1 == len(lines) or not lines[i + 1])
        candidate = line.lstrip("#").strip()
        if (seen == 1 or alone) and looks_like_title(candidate) and not is_date(candidate):
            return candidate
    return ""
