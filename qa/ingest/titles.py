"""A document's title when its metadata has none: the first heading of Markdown, else the first
line only when it looks like a title (not a sentence fragment or a photo caption); otherwise the
caller falls back to the file name.

>>> title_from_text("# Eruptions\\n\\nThe volcano erupted.", "markdown")
'Eruptions'
>>> title_from_text("Rivers of Europe\\n\\nThe Danube flows east.")
'Rivers of Europe'
>>> title_from_text(" these, the Middle East stands out as one of the most crisis-prone\\nregions")
''
"""

from __future__ import annotations

#: Most words in a line taken as a title.
MAX_TITLE_WORDS = 30


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


def title_from_text(text: str, kind: str = "text") -> str:
    """The title found in the body ``text`` (front matter already removed), or ``""``."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if kind == "markdown":
        for line in lines:
            heading = markdown_heading(line)
            if heading:
                return heading
    if not lines:
        return ""
    first = lines[0].lstrip("#").strip()
    return first if looks_like_title(first) else ""
