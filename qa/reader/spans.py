"""Words of a sentence and the rules that find candidate answer spans of each kind in it (dates,
numbers, names, reasons, clauses); used by the heuristic reader (:mod:`.heuristic`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from bm25s.stopwords import STOPWORDS_EN_PLUS

from ..index.lexical import tokenize
from .question import _HEAD_NOUNS, _PREPOSITIONS, Asked, Kind


# ---------------------------------------------------------------------------------------------
# Words of a sentence

_WORD = re.compile(r"\w+(?:[-–'’.]\w+)*", re.U)


@dataclass(frozen=True)
class Words:
    """A sentence's words (character spans) and each word's stemmed terms."""

    text: str
    spans: tuple[tuple[int, int], ...]
    stems: tuple[frozenset[str], ...]
    terms: frozenset[str]  #: all stems of the sentence

    @classmethod
    def of_many(cls, texts: list[str], memo: dict[str, frozenset[str]] | None = None) -> list["Words"]:
        """Words of each text; ``memo`` (lower-case word -> stems) saves stemming a word twice."""
        memo = {} if memo is None else memo
        found = [[(m.start(), m.end()) for m in _WORD.finditer(t)] for t in texts]
        new = list(dict.fromkeys(t[s:e].lower() for t, spans in zip(texts, found) for s, e in spans
                                 if t[s:e].lower() not in memo))
        if new:
            memo.update(zip(new, map(frozenset, tokenize(new))))
        out = []
        for t, spans in zip(texts, found):
            stems = tuple(memo[t[s:e].lower()] for s, e in spans)
            out.append(cls(t, tuple(spans), stems, frozenset().union(*stems)))
        return out

    def word(self, k: int) -> str:
        s, e = self.spans[k]
        return self.text[s:e]


# ---------------------------------------------------------------------------------------------
# Spans of each kind in a sentence

_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
          r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_YEAR = r"(?:1[0-9]|20)\d{2}"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_DATE = re.compile(
    "|".join([
        rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b",                 # November 27, 2018
        rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b",       # 27 November 2018
        r"\b\d{4}-\d{2}-\d{2}\b",                              # 2018-11-27
        rf"\b(?:early|mid|late|spring|summer|autumn|fall|winter)[\s-]+(?:of\s+)?{_YEAR}\b",
        rf"\b{_MONTH},?\s+{_YEAR}\b",                          # February 2016
        rf"\b{_MONTH}\s+{_DAY}\b",                             # July 23
        rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}\b",                   # 23 July
        rf"\b{_YEAR}\s*[-–]\s*(?:\d{{2}}|{_YEAR})\b",          # 2015-24
        rf"\b{_YEAR}s?\b",                                     # 2016, 1980s
        r"\b\d{1,2}(?:st|nd|rd|th)\s+century\b",
    ]),
    re.I,
)
_NUMBER_WORD = (r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
                r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
                r"eighty|ninety|hundreds?|thousands?|millions?|billions?|trillions?|dozens?|half|"
                r"a\s+(?:hundred|thousand|million|billion|dozen))")
_NUMERAL = r"(?:[$€£]\s?)?\d+(?:,\d{3})*(?:\.\d+)?"
_NUMBER = re.compile(
    rf"(?:{_NUMERAL}|\b{_NUMBER_WORD}(?:[\s-]+{_NUMBER_WORD})*\b)"
    rf"(?:\s*(?:[-–]|to)\s*{_NUMERAL})?"
    r"(?:\s*(?:%|percent\b|per\s+cent\b))?"
    r"(?:\s+(?:thousand|million|billion|trillion)\b)?",
    re.I,
)
_QUOTE = re.compile(r"[“\"]([^”\"]{2,120})[”\"]")
_CONNECTORS = {"of", "for", "de", "del", "da", "al", "el", "bin", "ibn", "von", "van", "la", "le", "du"}
_TITLES = {
    "mr", "mrs", "ms", "dr", "prof", "professor", "sir", "lord", "lady", "general", "major", "brigadier",
    "colonel", "captain", "lieutenant", "admiral", "commander", "chief", "president", "minister", "prime",
    "deputy", "secretary", "senator", "governor", "king", "queen", "prince", "princess", "emperor", "sheikh",
    "ayatollah", "imam", "pope", "saint", "st", "judge", "ambassador", "mayor", "director", "staff",
}
_ORG_WORDS = set(_HEAD_NOUNS[Kind.ORGANISATION].split()) | {
    "corps", "guard", "front", "foundation", "association", "society", "authority", "office", "bureau",
    "commission", "federation", "league", "daily", "times", "post", "news", "press", "inc", "ltd",
    "corporation", "forces", "brigades", "parliament", "assembly",
}
_PLACE_WORDS = set(_HEAD_NOUNS[Kind.PLACE].split()) | {"air", "mount", "valley", "gulf", "bay", "ocean"}
_PLACE_BEFORE = {"in", "at", "to", "from", "near", "toward", "towards", "into", "across", "outside", "inside"}
#: Not names though capitalised: articles and pronouns, and words that open sentences.
_COMMON = {
    "the", "a", "an", "this", "that", "these", "those", "its", "his", "her", "their", "our", "my", "your",
    "and", "or", "but", "if", "it", "he", "she", "they", "we", "i", "you", "however", "although", "while",
    "when", "after", "before", "during", "since", "according", "in", "on", "for", "with", "as", "at", "to",
    "by", "despite", "following", "moreover", "meanwhile", "thus", "then", "one", "some", "many", "most",
    "several", "both", "each", "even", "also", "yet", "still", "about", "because", "between", "from",
    "under", "over", "until", "where", "whereas", "today", "there", "what", "which", "who", "why", "how",
}
_REASON = re.compile(
    r"\b(?:because(?:\s+of)?|due\s+to|owing\s+to|thanks\s+to|as\s+a\s+result\s+of|on\s+account\s+of|"
    r"given\s+that|since|for\s+fear\s+that)\s+"
    r"|\b(?:in\s+order\s+to|so\s+as\s+to|so\s+that|to\s+(?:enable|allow|avoid|prevent|ensure|protect|keep))\b",
    re.I,
)
_STOPWORDS = frozenset(STOPWORDS_EN_PLUS) | _COMMON
_PURPOSE = re.compile(r"in\s+order\s+to|so\s+as\s+to|to\s", re.I)
_CLAUSE_END = re.compile(r"[;:]|,\s+(?:whereas|while|but|although|though|which|who|and\s+hence|and\s+so)\b"
                         r"|[.!?]\s*$|\s+(?:whereas|although)\b")


@dataclass(frozen=True)
class Candidate:
    """A candidate answer in a sentence, and how well it fits the question."""

    start: int  #: offsets into the sentence text
    end: int
    fit: float  #: how well it fits what was asked, in [0, 1]


def _is_name_word(word: str) -> bool:
    """Capitalised ("Idlib"), or a code with digits and capitals ("T-4", "Mi-35M")."""
    return word[0].isupper() or (word != word.lower() and any(c.isdigit() for c in word))


def _joined(w: Words, a: int, b: int, dash: bool = False) -> bool:
    """Whether words ``a`` and ``b`` (adjacent) are separated by white space only (or a dash)."""
    gap = w.text[w.spans[a][1]:w.spans[b][0]]
    return not gap.strip() or (dash and gap.strip() in ("-", "–", "—"))


def _name_runs(w: Words) -> list[tuple[int, int]]:
    """Runs ``[i, j)`` of capitalised words, joined by "of", "al", ... when a capitalised word follows."""
    runs: list[tuple[int, int]] = []
    i, n = 0, len(w.spans)
    while i < n:
        if not _is_name_word(w.word(i)):
            i += 1
            continue
        j = i + 1
        while j < n and _joined(w, j - 1, j):
            if _is_name_word(w.word(j)):
                j += 1
            elif (w.word(j).lower() in _CONNECTORS and j + 1 < n and _is_name_word(w.word(j + 1))
                  and _joined(w, j, j + 1)):
                j += 2
            else:
                break
        runs.append((i, j))
        i = j
    return runs


def _entity_spans(w: Words, asked: list[bool], kind: Kind) -> list[Candidate]:
    """Name runs trimmed of the question's words and of common words, each with its fit to ``kind``."""
    spans = []
    for i, j in _name_runs(w):
        while i < j and (asked[i] or w.word(i).lower() in _COMMON or w.word(i).lower() in _CONNECTORS):
            i += 1
        while j > i and (asked[j - 1] or w.word(j - 1).lower() in _COMMON or w.word(j - 1).lower() in _CONNECTORS):
            j -= 1
        if i >= j:
            continue
        names = [w.word(k).lower() for k in range(i, j)]
        if kind == Kind.PERSON:  # "Major General Hassan Firouzabadi" -> "Hassan Firouzabadi"
            last_title = max((n for n, x in enumerate(names) if x.rstrip(".") in _TITLES), default=-1)
            if last_title == len(names) - 1:
                continue
            i, names = i + last_title + 1, names[last_title + 1:]
        before = w.word(i - 1).lower() if i > 0 else ""
        acronym = any(len(x) >= 2 and x.isalpha() and x.isupper() for x in (w.word(k) for k in range(i, j)))
        fit = _entity_fit(kind, names, before, acronym)
        if i == 0 and j == 1:
            fit *= 0.6  # a capitalised first word may just open the sentence ("Therefore")
        spans.append(Candidate(w.spans[i][0], w.spans[j - 1][1], fit))
    return spans


def _entity_fit(kind: Kind, names: list[str], before: str, acronym: bool) -> float:
    org = acronym or any(n in _ORG_WORDS for n in names)
    place = any(n in _PLACE_WORDS for n in names)
    if kind == Kind.PERSON:
        if org or place:
            return 0.2
        if len(names) >= 2 or before.rstrip(".") in _TITLES:
            return 1.0
        return 0.4 if names[0].endswith("s") else 0.6  # "Iranians" is rarely someone's name
    if kind == Kind.ORGANISATION:
        return 1.0 if org else 0.6
    if kind == Kind.PLACE:
        if org:
            return 0.3
        return 1.0 if place or before in _PLACE_BEFORE else 0.6
    return 0.8


def _head_spans(w: Words, asked: list[bool], head_stems: frozenset[str]) -> list[Candidate]:
    """Phrases around the asked-about noun: its modifiers ("the *phosphates* industry") and a name
    or quotation right after it ("its weekly publication, *Sobh-e-Sadegh*", "known as the *Axis*")."""
    spans = []
    for h, stems in enumerate(w.stems):
        if not stems or not stems <= head_stems:
            continue
        i = h
        while i > 0 and h - i < 5 and _joined(w, i - 1, i, dash=True):
            prev = w.word(i - 1).lower()
            if prev in _COMMON or (prev in _PREPOSITIONS and prev != "of") or prev.endswith(("’s", "'s")):
                break
            i -= 1
        while i < h and w.word(i).lower() == "of":
            i += 1
        if any(not asked[k] for k in range(i, h)):
            spans.append(Candidate(w.spans[i][0], w.spans[h][1], 1.0))
        tail = w.text[w.spans[h][1]:]
        after = re.match(r"[\s,]*(?:(?:known\s+as|called|named|titled|dubbed)[\s,]*)?(?:the\s+)?", tail, re.I)
        start = w.spans[h][1] + after.end()
        quoted = _QUOTE.match(w.text, start - 1 if start and w.text[start - 1] in "“\"" else start)
        if quoted:
            spans.append(Candidate(quoted.start(1), quoted.end(1), 1.0))
            continue
        for i, j in _name_runs(w):
            if w.spans[i][0] == start and not all(asked[i:j]):
                spans.append(Candidate(w.spans[i][0], w.spans[j - 1][1], 1.0))
    return spans


def _number_spans(w: Words, asked_terms: frozenset[str]) -> list[Candidate]:
    dates = [m.span() for m in _DATE.finditer(w.text) if re.search("[A-Za-z]", m.group())]
    spans = []
    for m in _NUMBER.finditer(w.text):
        s, e = m.span()
        value = m.group()
        if any(ds <= s < de for ds, de in dates):
            continue  # the day or year of a date
        is_year = re.fullmatch(_YEAR, value) is not None
        # the counted noun right after the number ("33 interviews") shows the number is the one asked for
        after = next((k for k, (ws, _) in enumerate(w.spans) if ws >= e), None)
        counts_asked = after is not None and bool(w.stems[after] & asked_terms)
        percent = "%" in value or "percent" in value.lower()
        spans.append(Candidate(s, e, 0.3 if is_year else 1.0 if counts_asked or percent else 0.7))
    return spans


def _date_spans(text: str, year_only: bool) -> list[Candidate]:
    spans = []
    for m in _DATE.finditer(text):
        s, e = m.span()
        y = re.search(_YEAR, m.group())
        if year_only and y:
            s, e = s + y.start(), s + y.end()
        full = y is not None and re.search("[A-Za-z]", m.group()) is not None
        spans.append(Candidate(s, e, 1.0 if full or year_only else 0.8))
    return spans


def _reason_span(text: str) -> Candidate | None:
    m = _REASON.search(text)
    if m is None:
        return None
    start = m.start() if _PURPOSE.match(m.group()) else m.end()  # "to enable ..." is kept whole
    end_m = _CLAUSE_END.search(text, m.end())
    end = end_m.start() if end_m else len(text)
    while end > start and not (text[end - 1].isalnum() or text[end - 1] in ")”’\"'%"):
        end -= 1
    return Candidate(start, end, 1.0) if end - start >= 3 else None


def _clause_spans(w: Words, is_asked: list[bool]) -> list[Candidate]:
    """Runs of words the question does not contain, cut at its words and at punctuation, trimmed
    of stop words: the part of the sentence that says something the question does not
    ("The strong force only acts directly upon *elementary particles*")."""
    spans = []
    run: list[int] = []
    for k in range(len(w.spans) + 1):
        breaks = k == len(w.spans) or is_asked[k] or (run and not _joined(w, k - 1, k, dash=True)
                                                       and re.search(r"[,;:()“”\"]", _gap(w, k - 1, k)))
        if breaks:
            content = [i for i in run if w.word(i).lower() not in _STOPWORDS]
            if content:
                first, last = content[0], content[-1]
                spans.append(Candidate(w.spans[first][0], w.spans[last][1], 0.5 + 0.5 * min(len(content), 4) / 4))
            run = []
        if k < len(w.spans) and not is_asked[k]:
            run.append(k)
    return spans


def _gap(w: Words, a: int, b: int) -> str:
    return w.text[w.spans[a][1]:w.spans[b][0]]


@lru_cache(maxsize=1024)
def _stems(word: str) -> frozenset[str]:
    return frozenset(tokenize([word])[0])


def find_spans(w: Words, question: str, asked: Asked, terms: frozenset[str]) -> list[Candidate]:
    """Candidate answer spans in the sentence, none made only of the question's words."""
    is_asked = [bool(st & terms) for st in w.stems]
    if asked.kind == Kind.DATE:
        spans = _date_spans(w.text, asked.year)
    elif asked.kind == Kind.NUMBER:
        spans = _number_spans(w, terms)
    elif asked.kind == Kind.REASON:
        spans = [s for s in [_reason_span(w.text)] if s]
    elif asked.kind == Kind.SENTENCE:
        spans = _clause_spans(w, is_asked)
    else:
        spans = _entity_spans(w, is_asked, asked.kind)
        if asked.head and asked.kind != Kind.PERSON:
            spans += _head_spans(w, is_asked, _stems(asked.head))
    q = question.lower()
    return [sp for sp in spans if not _only_question_words(w, is_asked, sp, q)]


def _only_question_words(w: Words, is_asked: list[bool], span: Candidate, question: str) -> bool:
    inside = [k for k, (s, e) in enumerate(w.spans) if s >= span.start and e <= span.end]
    piece = w.text[span.start:span.end].strip().lower()
    return piece in question or (bool(inside) and all(is_asked[k] for k in inside))


def best_span(w: Words, question: str, asked: Asked, terms: frozenset[str]) -> Candidate | None:
    """The span that fits best and stands closest to the question's words in the sentence."""
    spans = find_spans(w, question, asked, terms)
    if not spans:
        return None
    anchors = [s for (s, _), st in zip(w.spans, w.stems) if st & terms]

    def closeness(sp: Candidate) -> float:
        if not anchors:
            return 0.0
        gap = min(sp.start - a if a < sp.start else max(a - sp.end, 0) for a in anchors)
        return 1.0 / (1.0 + gap / 40.0)

    return max(spans, key=lambda sp: (sp.fit + 0.5 * closeness(sp), -sp.start))

