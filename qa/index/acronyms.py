"""Abbreviations a document defines, so that BM25 matches a passage by either form.

Reports and papers define an abbreviation once ("the National Defense Forces (NDF)") and then use it
alone, so a question that spells the name out shares no word with the later passages (and one that
uses the abbreviation none with a passage that spells it out). The pairs are found by the
Schwartz & Hearst (2003) algorithm (the ``abbreviations`` package) over the document's paragraphs
(line wraps undone, so a definition wrapped over two lines is found); only
abbreviations with at least two capital letters are kept (``IRGC``, ``mRNA``), which leaves out the
lower-case words in parentheses that the algorithm can take for one.

:func:`token_texts` gives, for each passage, the text BM25 tokenises: the passage, then the long form
of every abbreviation it uses without spelling it out and the abbreviation of every long form it
spells out without the abbreviation. The passage's own text, its offsets and what is embedded are
unchanged: only the words BM25 can match grow.
"""

from __future__ import annotations

import logging
import re
from typing import Sequence

#: What the manifest records when passages are indexed with them (a change rebuilds the index).
METHOD = "schwartz-hearst"


def _is_abbreviation(short: str) -> bool:
    return sum(c.isupper() for c in short) >= 2 and " " not in short.strip()


def _squash(text: str) -> str:
    return " ".join(text.split())


def defined(text: str) -> dict[str, str]:
    """``{abbreviation: long form}`` defined in ``text``, each abbreviation's most frequent definition.

    >>> defined("The National Defense Forces\\n(NDF) grew.\\n\\nThe NDF fought.")
    {'NDF': 'National Defense Forces'}
    """
    from abbreviations.schwartz_hearst import extract_abbreviation_definition_pairs

    # the algorithm reads a line at a time: one paragraph a line, its wraps undone
    lines = "\n".join(_squash(block) for block in re.split(r"\n[ \t]*\n", text))
    logging.getLogger("abbreviations").setLevel(logging.WARNING)
    try:
        pairs = extract_abbreviation_definition_pairs(doc_text=lines, most_common_definition=True)
    except Exception:  # the package's parser on odd text: no pairs rather than no index
        return {}
    return {short: _squash(long) for short, long in pairs.items()
            if _is_abbreviation(short) and len(long.split()) >= 2}


def token_texts(passages: Sequence[str], pairs: dict[str, str]) -> list[str]:
    """The text BM25 tokenises for each passage: the passage, then (after a line break) the forms of
    ``pairs`` it uses only one of.

    >>> token_texts(["The NDF fought.", "National Defense Forces grew.", "Other."], {"NDF": "National Defense Forces"})
    ['The NDF fought.\\nNational Defense Forces', 'National Defense Forces grew.\\nNDF', 'Other.']
    """
    if not pairs:
        return list(passages)
    short_re = {s: re.compile(r"(?<!\w)" + re.escape(s) + r"(?!\w)") for s in pairs}
    long_re = {s: re.compile(r"\b" + r"\s+".join(map(re.escape, long.split())) + r"\b", re.IGNORECASE)
               for s, long in pairs.items()}
    out = []
    for text in passages:
        extra = []
        for short, long in pairs.items():
            has_short = short_re[short].search(text) is not None
            has_long = long_re[short].search(text) is not None
            if has_short and not has_long:
                extra.append(long)
            elif has_long and not has_short:
                extra.append(short)
        out.append(text + "\n" + " ".join(extra) if extra else text)
    return out
