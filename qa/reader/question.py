"""What a question asks for: the kind of answer its wording wants (a date, a number, a person, ...)
and the noun it asks about ("which *industry*"). Used by the heuristic reader (:mod:`.heuristic`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


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
