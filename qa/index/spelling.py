"""Typo-tolerant questions: words of a question that the index has never seen are corrected
against the index's own vocabulary with SymSpell (``symspellpy``).

A word is corrected only when all of these hold:

* it is alphabetic (no digits: numbers, years and codes are never touched), at least
  :data:`MIN_LENGTH` letters long, and not written with two or more capitals (acronyms and names
  such as ``IRGC`` or ``MVPs``, unless the whole question is in capitals) nor a contraction
  (``wasn't``); a word capitalised after the question's first (likely a name) only to a name of the
  documents (a word they write capitalised more often than not);
* it is unknown: the search index does not match it (no word of the documents has its stem, and it
  is not a stop word), and it is neither a word of the documents nor in the general English word
  list that symspellpy ships (``frequency_dictionary_en_82_765.txt``). So every word and name the
  documents contain stays as it is, however rare, and so does a real word they happen not to use
  ("colour" where they say "color");
* there is a word close to it: the documents' words within :func:`max_distance` edits
  (Damerau-Levenshtein, a swap of two neighbouring letters counts as one) and the English words one
  edit away. The closest wins; at the same distance a word of the documents (the most frequent in
  them) before an English word, and among English words one the search index matches (a word of
  the documents shares its stem: "regret" for "regretful") before one it does not, then the most
  frequent in English. An unknown word with no candidate (a name the documents do not contain) is
  left alone. Before all of these, a word one edit from a word a question asks with (:data:`QUESTION_WORDS`:
  "Wich", "Wher", "Waht") is taken for it: the reader reads the corrected question, and "With" for "Wich" (the
  documents' most frequent word one edit away) lost what it asked.

The replacement keeps the word's casing (``NDF``, ``Giustozzi``, ``members``) and everything around
it. A question whose words the index matches costs a tokenization and nothing else. The rest is done
when first needed and kept: counting the documents' words (60 ms for SQuAD dev's 1.6 million
characters), loading the English list (30 ms), and building the SymSpell dictionary (0.5 s and about
50 MB for SQuAD dev's 21,773 words), on the first question with an unknown word. Callers keep a
speller for one index generation (:class:`qa.pipeline.Pipeline` does, and counts at warm-up).

>>> s = Speller.from_texts(["The NDF members were incorporated into the army by the end of the year."])
>>> s.correct("How many NDF membrs were incorprated into the army by the end of the yaer?")
'How many NDF members were incorporated into the army by the end of the year?'
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from functools import lru_cache
from importlib import resources
from typing import Callable, Iterable, Mapping

#: Words shorter than this are never corrected: at three letters almost every edit makes another
#: word, and short words are mostly function words that BM25 drops anyway.
MIN_LENGTH = 4
#: Largest edit distance searched (SymSpell's own default).
MAX_DISTANCE = 2

#: The words a question asks with. An unknown word one edit from one of them is taken for it before any word of
#: the documents: "Wich" was corrected to "With" (the documents' most frequent word one edit away), and the reader,
#: which reads the corrected question, lost what it asked for.
QUESTION_WORDS = ("what", "which", "when", "where", "whom", "whose", "who", "why", "how")

#: A word, with what follows an apostrophe inside it ("Assad's", "wasn't").
_WORD = re.compile(r"\w+(?:['\u2019]\w+)*")
_APOSTROPHE = re.compile(r"['\u2019]")
#: symspellpy's English word list (82,765 words with their frequency in Google Books).
ENGLISH_WORDS = "frequency_dictionary_en_82_765.txt"


def max_distance(word: str) -> int:
    """Edits allowed for a word of this length: one for four letters (two would change half the
    word), :data:`MAX_DISTANCE` from five."""
    return 1 if len(word) < 5 else MAX_DISTANCE


def _head(token: str) -> tuple[str, str]:
    """A word split before its first apostrophe: ``("Assad", "'s")``, ``("wasn", "'t")``, ``("army", "")``."""
    parts = _APOSTROPHE.split(token, 1)
    return parts[0], token[len(parts[0]):]


def words(text: str) -> Iterable[str]:
    """The alphabetic words of a text, lower-cased and without what follows an apostrophe (words
    with digits or underscores left out).

    >>> list(words("Assad's 2 B52s wasn't _x_ there"))
    ['assad', 'wasn', 'there']
    """
    return (h.lower() for h in _heads(text))


def _heads(text: str) -> Iterable[str]:
    """The alphabetic words of a text as written, without what follows an apostrophe."""
    heads = (_head(token)[0] for token in _WORD.findall(text))
    return (h for h in heads if h.isalpha())


@lru_cache(maxsize=1)
def english_words() -> dict[str, int]:
    """The words of symspellpy's English frequency dictionary, with their counts."""
    text = resources.files("symspellpy").joinpath(ENGLISH_WORDS).read_text(encoding="utf-8")
    pairs = (line.split(" ", 1) for line in text.splitlines() if line)
    return {word: int(count) for word, count in pairs}


def one_edit(word: str, letters: str = "abcdefghijklmnopqrstuvwxyz") -> set[str]:
    """Every string one edit from ``word``: a letter deleted, inserted, replaced, or two neighbours
    swapped (what SymSpell finds at distance 1, without its index of 82,765 English words: building
    that takes seconds, and this takes about 0.1 ms for a ten-letter word)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return ({a + b[1:] for a, b in splits if b}
            | {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
            | {a + c + b[1:] for a, b in splits if b for c in letters}
            | {a + c + b for a, b in splits for c in letters}) - {word}


def _edit_kind(typed: str, word: str) -> int:
    """How ``typed`` differs from ``word`` one edit away, the likeliest typo first: 0 a letter left out, 1 two
    neighbours swapped, 2 a letter replaced, 3 a letter too many.

    >>> _edit_kind("wher", "where"), _edit_kind("waht", "what"), _edit_kind("wher", "when")
    (0, 1, 2)
    """
    if len(word) != len(typed):
        return 0 if len(word) > len(typed) else 3
    return 1 if sorted(word) == sorted(typed) else 2


def _cased(replacement: str, original: str) -> str:
    """``replacement`` written in the casing of ``original`` (upper, capitalised or lower)."""
    if original.isupper() and len(original) > 1:
        return replacement.upper()
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def count_words(texts: Iterable[str]) -> Counter:
    """Each word of the texts (as :func:`words` gives them) with its number of occurrences."""
    return word_counts(texts)[0]


def word_counts(texts: Iterable[str]) -> tuple[Counter, set[str]]:
    """In one pass over the texts: each word (as :func:`words` gives them) with its number of occurrences, and the
    words the texts write capitalised more often than not — their names ("Giustozzi", "Céloron"), not the words a
    sentence starts with ("The").

    >>> counts, names = word_counts(["The Danube rises in the Black Forest. The river flows east; the Danube ends."])
    >>> counts["the"], sorted(names)
    (4, ['black', 'danube', 'forest'])
    """
    counts, capitalised = Counter(), Counter()
    for text in texts:
        for head in _heads(text):
            counts[head.lower()] += 1
            if head[0].isupper():
                capitalised[head.lower()] += 1
    return counts, {w for w, n in capitalised.items() if 2 * n > counts[w]}


class Speller:
    """Corrects the unknown words of questions against the words of a collection.

    ``counts``: each (lower-cased) word of the documents with its number of occurrences, or a
    function that counts them, called when a question first has a word that needs them.
    ``indexed``: a function that says, for a list of words, which ones the search index already
    matches (:meth:`qa.index.lexical.BM25Index.knows`: their stem is in its vocabulary, or they are stop
    words); those are known without counting. ``english``: the general English words (default:
    :func:`english_words`, loaded when first needed), known and, with ``english_candidates``,
    candidates one edit away; with ``searchable_first``, one that ``indexed`` matches before a more
    frequent one it does not. ``names``: the documents' names (:func:`word_counts`), or a function that finds
    them: the only corrections of a word capitalised inside a question (none without).
    """

    def __init__(self, counts: Mapping[str, int] | Callable[[], Mapping[str, int]],
                 english: Mapping[str, int] | None = None, english_candidates: bool = True,
                 indexed: Callable[[list[str]], list[bool]] | None = None, searchable_first: bool = True,
                 names: set[str] | Callable[[], set[str]] | None = None):
        self._counts = counts
        self._names = names if names is not None else set()
        self._english = english
        self.english_candidates = english_candidates
        self.indexed = indexed
        self.searchable_first = searchable_first
        self._symspell = None
        self._lock = threading.RLock()

    @classmethod
    def from_texts(cls, texts: Iterable[str], **options) -> "Speller":
        """A speller for the words of ``texts`` (the documents of an index) and their names, counted now."""
        counts, names = word_counts(texts)
        return cls(counts, names=names, **options)

    @property
    def names(self) -> set[str]:
        """The documents' names (found on first use)."""
        if callable(self._names):
            with self._lock:
                if callable(self._names):
                    self._names = set(self._names())
        return self._names

    @property
    def counts(self) -> Mapping[str, int]:
        """The documents' words and their counts (counted on first use)."""
        if callable(self._counts):
            with self._lock:
                if callable(self._counts):
                    self._counts = dict(self._counts())
        return self._counts

    @property
    def english(self) -> Mapping[str, int]:
        if self._english is None:
            self._english = english_words()
        return self._english

    @property
    def symspell(self):
        """The SymSpell dictionary of the documents' words, built on first use."""
        if self._symspell is None:
            with self._lock:
                if self._symspell is None:
                    from symspellpy import SymSpell

                    sym = SymSpell(max_dictionary_edit_distance=MAX_DISTANCE)
                    for word, count in self.counts.items():
                        sym.create_dictionary_entry(word, count)
                    self._symspell = sym
        return self._symspell

    def warm_up(self) -> None:
        """Count the documents' words, find their names and load the English words now rather than on a
        question (the SymSpell dictionary stays for the first question with an unknown word)."""
        _ = self.counts, self.english, self.names

    def unknown(self, words: list[str]) -> list[bool]:
        """For each lower-cased word: whether it is unknown (the index does not match it, and it is
        neither an English word nor a word of the documents)."""
        matched = self.indexed(words) if self.indexed is not None and words else [False] * len(words)
        return [not ok and w not in self.english and w not in self.counts for w, ok in zip(words, matched)]

    def _candidate(self, w: str, name: bool = False) -> str | None:
        """The correction of the unknown word ``w`` (lower-cased), or ``None``. ``name``: it was capitalised inside
        the question, so it is likely a name: only a name of the documents replaces it (the closest, then the
        most frequent), never another word ("Ozeri" is not "over")."""
        from symspellpy import Verbosity

        if name:
            found = self.symspell.lookup(w, Verbosity.ALL, max_edit_distance=max_distance(w))
            return next((f.term for f in found if f.term in self.names), None)
        near_w = one_edit(w)
        asking = [q for q in QUESTION_WORDS if q in near_w]
        if asking:  # a letter left out ("wher": where) before two swapped, one replaced ("when"), one too many
            return min(asking, key=lambda q: (_edit_kind(w, q), QUESTION_WORDS.index(q)))
        found = self.symspell.lookup(w, Verbosity.TOP, max_edit_distance=max_distance(w))
        if found and found[0].distance <= 1:
            return found[0].term
        if self.english_candidates:  # a closer English word than any of the documents'
            near = sorted(e for e in one_edit(w) if e in self.english)
            if near:
                searchable = (self.indexed(near) if self.indexed is not None and self.searchable_first
                              else [False] * len(near))
                return max(zip(near, searchable), key=lambda es: (es[1], self.english[es[0]], es[0]))[0]
        return found[0].term if found else None

    def suggest(self, word: str) -> str | None:
        """The correction of one word (lower-cased), or ``None`` when it is left as it is."""
        w = word.lower()
        if len(w) < MIN_LENGTH or not w.isalpha() or not self.unknown([w])[0]:
            return None
        return self._candidate(w)

    def corrections(self, question: str) -> list[tuple[int, int, str]]:
        """``(start, end, replacement)`` for each word of the question to correct, in order.

        Besides what :meth:`suggest` leaves alone, so are words written with two or more capitals
        (acronyms and names such as ``IRGC``, ``MVPs``; unless the whole question is in capitals)
        and contractions (``wasn't``; a possessive's word is corrected: ``Giustozi's``). A word capitalised
        after the question's first (likely a name: ``Ozeri``) is corrected only to a name of the documents
        (``Giustozi`` to ``Giustozzi``, ``Celeron`` to ``Céloron``), never to another word (``Ozeri`` is not
        ``Over``)."""
        shouting = question.isupper()
        heads = []
        for n, m in enumerate(_WORD.finditer(question)):
            head, tail = _head(m.group())
            if tail and tail[1:].lower() != "s":
                continue
            if len(head) < MIN_LENGTH or not head.isalpha() or (not shouting and sum(c.isupper() for c in head) >= 2):
                continue
            heads.append((m.start(), head, n > 0 and not shouting and head[0].isupper()))
        out = []
        for (start, head, name), unknown in zip(heads, self.unknown([h.lower() for _, h, _ in heads])):
            fixed = self._candidate(head.lower(), name) if unknown else None
            if fixed is not None:
                out.append((start, start + len(head), _cased(fixed, head)))
        return out

    def correct(self, question: str) -> str:
        """The question with its unknown words corrected; unchanged when none is."""
        parts, last = [], 0
        for start, end, replacement in self.corrections(question):
            parts += [question[last:start], replacement]
            last = end
        return "".join(parts) + question[last:]


__all__ = ["Speller", "MIN_LENGTH", "MAX_DISTANCE", "QUESTION_WORDS", "count_words", "english_words", "max_distance", "one_edit",
           "word_counts", "words"]
