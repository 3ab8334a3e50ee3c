"""Extractive reader: picks the answer sentence among the retrieved passages, then a short span in it.

1. Candidates are the sentences of the top ``pool`` retrieved passages (boundaries and vectors
   were computed at index time). Each is scored by

       weights.semantic * (question vector . sentence vector)
     + weights.lexical  * IDF-weighted share of the question's stemmed terms found in the sentence
     + weights.rank     * 1 / rank of its passage
     + weights.kind     * [the sentence holds a span of the kind the question asks for]

2. The question's wording says what it asks for (:func:`parse_question`): a date, a number, a
   person, an organisation, a place, another named thing, a reason, or a sentence, and often a
   head noun ("which *industry*"). The best sentence's spans of that kind (:func:`find_spans`) are
   ranked by how well they fit and how close they stand to the question's words; words of the
   question are never the answer. A reason is the clause after "because", "due to", "in order
   to", ...; with no span of the wanted kind the answer is the sentence itself.

3. The confidence is a logistic mapping of the best score and its margin over the runner-up
   (:class:`Calibration`); below :data:`ABSTAIN_BELOW` (or ``settings.abstain_threshold``) the
   reader abstains.

Reading runs no model and tokenises only candidate sentences it has not seen before (a cache per
loaded index): on the seeds its median time is about 2 ms a question with a cold cache and 1 ms
warm (2-core machine).

How the defaults were chosen (``python bench/tune_reader.py``; answerable questions, abstention
off; "evid" = the chosen sentence holds a gold answer; SQuAD = 300 seeded SQuAD v1.1 dev
questions asked over the 646 paragraphs of the SQuAD 2.0 dev half's articles):

    weights (semantic 1), pool 10      seeds F1  evid   SQuAD F1  evid
    lexical 0.5 rank 0    kind 0        56.0    64.4      41.9    82.0
    lexical 1   rank 0.1  kind 0.2      60.5    69.9      43.6    84.0
    lexical 2   rank 0.1  kind 0.2      61.7    72.6      42.5    83.7
    lexical 3   rank 0.1  kind 0.2      61.9    72.6      42.6    83.7
    lexical 5   rank 0.1  kind 0.2      61.8    71.2      42.1    83.3
    lexical 3   rank 0.3  kind 0.2      61.5    71.2      42.3    82.7
    lexical 3   rank 0.1  kind 0        61.8    71.2      41.9    83.0
    the same, pool 20                   62.3    74.0      42.6    83.7
    the same, pool 5 (chosen)           63.8    74.0      42.5    84.0
    (first reader: best sentence by similarity alone, pool 10: seeds 14.8 / 57.5, SQuAD 18.1 / 67.3)

The grid is flat around the choice (lexical 1-3, rank 0-0.1, kind 0.1-0.3 are all within about
one question on the seeds); lexical overlap is what matters most. The calibration was fitted by
logistic regression on a separate sample of 300 SQuAD 2.0 questions (label: the best sentence
holds a gold answer), and the threshold (0.16, :data:`ABSTAIN_BELOW`) has the best
balanced accuracy on the seeds: 7 of 8 unanswerable questions abstained on, 12 of 73 answerable
ones too. On another 300 SQuAD 2.0 questions it abstains on 21 of 162 unanswerable and 8 of 138
answerable ones: SQuAD 2.0's unanswerable questions are written to match a paragraph's words,
which a score of similarity and word overlap cannot tell apart.
"""

from __future__ import annotations

import math
import re
import weakref
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

import numpy as np
from bm25s.stopwords import STOPWORDS_EN_PLUS

from ..index.lexical import tokenize
from ..types import Answer
from .answers import abstain, answer_at, sentence_at, state


@dataclass(frozen=True)
class Weights:
    """How the sentence score combines its parts (chosen by ``bench/tune_reader.py``)."""

    semantic: float = 1.0
    lexical: float = 3.0
    rank: float = 0.1
    kind: float = 0.2


@dataclass(frozen=True)
class Calibration:
    """Logistic mapping of (best score, margin over the runner-up) to a confidence in [0, 1]."""

    score: float = 0.75
    margin: float = 0.24
    bias: float = -3.1

    def confidence(self, score: float, margin: float) -> float:
        z = self.score * score + self.margin * margin + self.bias
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


class Kind(str, Enum):
    """The kind of answer a question asks for."""

    DATE = "date"
    NUMBER = "number"
    PERSON = "person"
    ORGANISATION = "organisation"
    PLACE = "place"
    ENTITY = "entity"  #: another named thing ("which helicopter models", "what campaign")
    REASON = "reason"
    SENTENCE = "sentence"


# ---------------------------------------------------------------------------------------------
# What the question asks for

_HEAD_NOUNS = {
    Kind.DATE: "year date day month decade century era",
    Kind.NUMBER: "percentage percent share proportion fraction number amount range size cost price value "
                 "population distance length height weight age total sum rate",
    Kind.PERSON: "person man woman author writer cousin brother sister father mother son daughter wife "
                 "husband minister president leader chief commander general officer official theologian "
                 "analyst scholar scientist king queen emperor prince princess ruler founder player artist "
                 "poet philosopher politician spokesman envoy advisor adviser diplomat successor "
                 "predecessor director secretary",
    Kind.ORGANISATION: "organisation organization group party company firm agency newspaper magazine "
                       "publication journal tank institute institution university college school government "
                       "ministry department militia army wing movement network alliance union council "
                       "committee team club band project channel station bank court church brigade faction",
    Kind.PLACE: "place country city town village area region state province district base airbase island "
                "river mountain sea lake continent capital border territory location site port street",
}
_HEAD_KIND = {noun: kind for kind, nouns in _HEAD_NOUNS.items() for noun in nouns.split()}
_AUX = set("is was are were did does do has have had can could will would should may might".split())
_PREPOSITIONS = set("of in on at to for with from by against about into over under between during".split())

_REASON_Q = re.compile(
    r"\bwhy\b|\bfor what reason\b|\bhow come\b|"
    r"\bwhat\s+(?:explains|explained|led|leads|made|makes|caused|causes|motivated|prompted|drove|drives)\b",
    re.I,
)
_NUMBER_Q = re.compile(r"\bhow\s+(?:many|much|long|far|old|big|large|high|tall|often|deep|wide|heavy)\b", re.I)
_WH = re.compile(r"\b(who|whom|whose|when|where|which|what)\b", re.I)
_Q_WORD = re.compile(r"[\w’'-]+|[,;:?]")


@dataclass(frozen=True)
class Asked:
    """What a question asks for."""

    kind: Kind
    head: str | None = None  #: the noun it asks about ("which *industry*"), lower case
    year: bool = False  #: asks for a year only


def parse_question(question: str) -> Asked:
    """The kind of answer the question's wording asks for, and its head noun.

    >>> parse_question("When did the volcano erupt?").kind.value
    'date'
    >>> parse_question("Which Moscow think tank employs the analyst?")
    Asked(kind=<Kind.ORGANISATION: 'organisation'>, head='tank', year=False)
    """
    year = re.search(r"\b(?:what|which)\s+year\b", question, re.I) is not None
    if _REASON_Q.search(question):
        return Asked(Kind.REASON)
    if _NUMBER_Q.search(question):
        return Asked(Kind.NUMBER)
    m = _WH.search(question)
    if m is None:
        return Asked(Kind.SENTENCE)
    wh = m.group(1).lower()
    if wh == "when":
        return Asked(Kind.DATE, year=year)
    if wh == "where":
        return Asked(Kind.PLACE)
    if wh in ("who", "whom", "whose"):
        return Asked(Kind.PERSON)
    head = _head_noun([w.lower() for w in _Q_WORD.findall(question[m.end():])])
    if head is None:
        return Asked(Kind.SENTENCE)
    kind = _HEAD_KIND.get(head) or _HEAD_KIND.get(head.rstrip("s")) or Kind.ENTITY
    return Asked(kind, head, year)


def _head_noun(words: list[str]) -> str | None:
    """The noun a "which/what" phrase asks about: "which Russian helicopter *models* were ...",
    "what is the name of the *network* of ...", "what kind of *sources* ..."."""
    if words[:1] and words[0] in _AUX:
        # "what is the X of ...": X when it names a kind; "the name of (the) Y": Y
        if words[1:2] != ["the"] or len(words) < 3:
            return None
        noun, rest = words[2], words[3:]
        if noun == "name" and rest[:1] == ["of"]:
            return _head_noun(rest[2:] if rest[1:2] == ["the"] else rest[1:])
        known = noun == "title" or noun in _HEAD_KIND
        return noun if known and rest[:1] in (["of"], ["?"], []) else None
    if words[:2] in (["kind", "of"], ["type", "of"], ["sort", "of"]):
        words = words[2:]
    if words[:1] and words[0].endswith("ed") and "-" not in words[0]:
        return None  # "what happened", "which followed": a verb, not a noun
    phrase: list[str] = []
    for w in words[:5]:
        if w in _AUX or w in _PREPOSITIONS or not w[0].isalnum():
            break
        phrase.append(w)
        if w in _HEAD_KIND or w.rstrip("s") in _HEAD_KIND:
            return w
    return phrase[-1] if len(phrase) <= 3 and phrase else (phrase[0] if phrase else None)


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


# ---------------------------------------------------------------------------------------------
# Scoring sentences


class _SentenceCache:
    """Words and stems of each sentence row, computed the first time the row is a candidate (and
    each distinct word stemmed once).

    Tied to one loaded index (held weakly); a new index starts a new cache.
    """

    def __init__(self):
        self._data = None
        self._words: dict[int, Words] = {}
        self._stems: dict[str, frozenset[str]] = {}

    def words(self, data, rows) -> list[Words]:
        if self._data is None or self._data() is not data:
            self._data = weakref.ref(data)
            self._words, self._stems = {}, {}
        missing = [int(r) for r in rows if int(r) not in self._words]
        if missing:
            for r, w in zip(missing, Words.of_many([sentence_at(data, r)[2] for r in missing], self._stems)):
                self._words[r] = w
        return [self._words[int(r)] for r in rows]


_QUESTION_STOP = set("what which who whom whose when where why how did does do is are was were has have had "
                     "can could would should will may might according".split())


def question_terms(question: str) -> list[str]:
    """The question's stemmed content terms (stop words and question words removed)."""
    kept = [m.group() for m in _WORD.finditer(question) if m.group().lower() not in _QUESTION_STOP | _STOPWORDS]
    return list(dict.fromkeys(tokenize([" ".join(kept)])[0]))


@dataclass
class Ranking:
    """Scored candidate sentences, best first."""

    rows: np.ndarray  #: sentence rows
    hit_pos: np.ndarray  #: position (0-based) in ``retrieval.hits`` of each sentence's passage
    scores: np.ndarray
    words: list[Words]
    asked: Asked
    terms: frozenset[str]

    @property
    def margin(self) -> float:
        return float(self.scores[0] - self.scores[1]) if len(self.scores) > 1 else float(self.scores[0])


ABSTAIN_BELOW = 0.16  #: confidence below which the heuristic reader abstains (see the module's notes)


class SpanReader:
    """Scores the sentences of the retrieved passages and extracts a span from the best one.

    >>> reader = SpanReader(Settings())                                     # doctest: +SKIP
    >>> answer = reader.read(question, qvec, retrieval, data, k=5)
    """

    needs_vector = True

    def __init__(self, settings, weights: Weights | None = None, calibration: Calibration | None = None,
                 pool: int = 5):
        self.settings = settings
        self.weights = weights or Weights()
        self.calibration = calibration or Calibration()
        self.pool = max(settings.k, pool)
        self._cache = _SentenceCache()

    @property
    def threshold(self) -> float:
        """Confidence below which it abstains: ``settings.abstain_threshold``, else :data:`ABSTAIN_BELOW`."""
        t = self.settings.abstain_threshold
        return ABSTAIN_BELOW if t is None else t

    @property
    def answer_threshold(self) -> float:
        """Confidence from which the answer is stated (below: tentative): ``settings.answer_threshold``,
        else the abstention threshold (the heuristic reader has no tentative band of its own)."""
        t = self.settings.answer_threshold
        return max(self.threshold, t) if t is not None else self.threshold

    def warm_up(self, data, embedder) -> None:
        """Nothing to load: everything the reader needs is in the index."""

    def rank(self, question: str, qvec: np.ndarray, retrieval, data) -> Ranking | None:
        """All candidate sentences scored, best first; ``None`` when the passages hold none."""
        rows, hit_pos = self._candidates(retrieval.hits[: self.pool], data)
        if len(rows) == 0:
            return None
        asked = parse_question(question)
        terms = question_terms(question)
        words = self._cache.words(data, rows)
        w = self.weights
        semantic = np.asarray(data.sentence_vectors[rows]) @ np.asarray(qvec, dtype=np.float32)
        scores = w.semantic * semantic + w.lexical * _overlap(terms, words, data) + w.rank / (hit_pos + 1.0)
        term_set = frozenset(terms)
        if w.kind and asked.kind != Kind.SENTENCE:
            top = np.argsort(-scores, kind="stable")[:30]
            found = [bool(find_spans(words[i], question, asked, term_set)) for i in top]
            scores[top] += w.kind * np.asarray(found, dtype=float)
        order = np.argsort(-scores, kind="stable")
        return Ranking(rows[order], hit_pos[order], scores[order], [words[i] for i in order], asked, term_set)

    def read(self, question: str, qvec: np.ndarray, retrieval, data, k: int) -> Answer:
        hits = retrieval.hits
        citations = tuple(hits[:k])
        ranking = self.rank(question, qvec, retrieval, data)
        if ranking is None:
            return abstain(0.0, citations)
        confidence = self.calibration.confidence(float(ranking.scores[0]), ranking.margin)
        status = state(confidence, self.answer_threshold, self.threshold)
        if status is None:
            return abstain(confidence, citations)
        row = int(ranking.rows[0])
        s, e, _ = sentence_at(data, row)
        span = best_span(ranking.words[0], question, ranking.asked, ranking.terms)
        start, end = (s + span.start, s + span.end) if span else (s, e)
        return answer_at(data, hits, k, row, int(ranking.hit_pos[0]), start, end, confidence, status)

    @staticmethod
    def _candidates(hits, data) -> tuple[np.ndarray, np.ndarray]:
        """Sentence rows of the hits' passages (each text once, from its best-ranked passage)."""
        rows: list[int] = []
        pos: list[int] = []
        seen: set[tuple[int, int, int]] = set()
        for n, hit in enumerate(hits):
            for r in range(int(data.sent_lo[hit.index]), int(data.sent_hi[hit.index])):
                key = tuple(int(x) for x in data.sentences[r, 1:])
                if key not in seen:
                    seen.add(key)
                    rows.append(r)
                    pos.append(n)
        return np.asarray(rows, dtype=np.int64), np.asarray(pos, dtype=np.float64)


def _overlap(terms: list[str], words: list[Words], data) -> np.ndarray:
    """IDF-weighted share of the question's terms present in each sentence."""
    if not terms:
        return np.zeros(len(words))
    idf = np.array([data.bm25.idf_of(t) for t in terms])
    present = np.array([[t in ws for t in terms] for ws in (w.terms for w in words)], dtype=float)
    return present @ idf / idf.sum()
