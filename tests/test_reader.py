"""The heuristic extractive reader (``reader="heuristic"``) on hand-made documents (fake
embedder): answer kinds, spans and their offsets, abstention, citations."""

from __future__ import annotations

import pytest

from conftest import FakeEmbedder, write_docs
from qa.config import Settings
from qa.pipeline import Pipeline
from qa.reader import NO_ANSWER, Kind, SpanReader, parse_question
from qa.retrieval import Retrieval
from qa.types import Hit

DOCS = {
    "bridges.txt": "Bridges of Seville\n\nSantiago Calatrava designed the Alamillo Bridge for the Expo. "
    "The Alamillo Bridge opened on 14 March 1992 after four years of work. The builders cast the steel pylon in "
    "one piece because the river bank could not carry a crane.\n",
    "coffee.txt": "Coffee history\n\nCoffee was first cultivated in Yemen in the 15th century. Sufi monks "
    "drank it because it kept them awake during night prayers. The first coffee houses in Mecca served a "
    "drink called qahwa. Traders later carried the beans to Venice by ship.\n",
    "rivers.txt": "Rivers of Europe\n\nThe Danube flows through ten countries and ends in the Black Sea. "
    "The Rhine rises in the Swiss Alps.\n",
}


@pytest.fixture
def qa(tmp_path) -> Pipeline:
    docs = write_docs(tmp_path / "docs", DOCS)
    return Pipeline(Settings(reader="heuristic", docs=docs, index=tmp_path / "index", chunk_size=200,
                             chunk_overlap=40, abstain_threshold=0.0), embedder=FakeEmbedder())


def assert_offsets(qa: Pipeline, answer) -> None:
    doc = qa.data.document(answer.doc)
    assert doc.text[answer.start:answer.end] == answer.text
    assert doc.text[answer.sentence_start:answer.sentence_end] == answer.sentence
    assert answer.sentence_start <= answer.start < answer.end <= answer.sentence_end
    cited = answer.citations[answer.cited - 1].passage
    assert cited.doc == answer.doc and cited.start <= answer.start and answer.end <= cited.end


@pytest.mark.parametrize("question, expected, doc", [
    ("When did the Alamillo Bridge open?", "14 March 1992", "bridges.txt"),
    ("In what year did the Alamillo Bridge open?", "1992", "bridges.txt"),
    ("How many countries does the Danube flow through?", "ten", "rivers.txt"),
    ("Who designed the Alamillo Bridge?", "Santiago Calatrava", "bridges.txt"),
    ("Where was coffee first cultivated?", "Yemen", "coffee.txt"),
    ("Where does the Danube end?", "Black Sea", "rivers.txt"),
    ("Why did Sufi monks drink coffee?", "it kept them awake during night prayers", "coffee.txt"),
    ("Why did the builders cast the steel pylon in one piece?", "the river bank could not carry a crane",
     "bridges.txt"),
])
def test_short_span_of_the_kind_asked_with_exact_offsets(qa, question, expected, doc):
    answer = qa.ask(question)
    assert answer.text == expected
    assert answer.doc == doc
    assert answer.text != answer.sentence
    assert_offsets(qa, answer)


def test_other_questions_get_the_part_of_the_sentence_the_question_does_not_say(qa):
    answer = qa.ask("What did the first coffee houses in Mecca serve?")
    assert answer.text == "drink called qahwa"
    assert answer.sentence == "The first coffee houses in Mecca served a drink called qahwa."
    assert_offsets(qa, answer)


def test_without_a_span_of_the_kind_asked_the_answer_is_the_sentence(qa):
    answer = qa.ask("When did traders carry the beans to Venice?")  # no date in the sentence
    assert answer.text == answer.sentence == "Traders later carried the beans to Venice by ship."
    assert (answer.start, answer.end) == (answer.sentence_start, answer.sentence_end)
    assert_offsets(qa, answer)


def test_words_of_the_question_are_not_the_answer(qa):
    # "Alamillo Bridge" and "Danube" are names in the sentence, but the question already says them
    assert qa.ask("Who designed the Alamillo Bridge?").text == "Santiago Calatrava"
    assert qa.ask("Where does the Danube end?").text == "Black Sea"
    # the only name in the best sentence is in the question: no span, the sentence is the answer
    answer = qa.ask("Who first cultivated coffee in Yemen?")
    assert answer.text == answer.sentence == "Coffee was first cultivated in Yemen in the 15th century."


def test_abstains_below_the_threshold_and_still_lists_citations(qa):
    question = "What is the population of Brazil?"
    confident = qa.ask("When did the Alamillo Bridge open?")
    unsure = qa.ask(question)
    assert unsure.confidence < confident.confidence
    strict = Pipeline(qa.settings.replace(abstain_threshold=(unsure.confidence + confident.confidence) / 2),
                      embedder=qa.embedder)
    answer = strict.ask(question)
    assert answer.text is None and answer.message == NO_ANSWER
    assert answer.start is answer.end is answer.cited is None
    assert len(answer.citations) >= 1
    assert strict.ask("When did the Alamillo Bridge open?").text == "14 March 1992"


def test_confidence_is_a_probability(qa):
    for question in ("When did the Alamillo Bridge open?", "What is the population of Brazil?", "Yemen?"):
        assert 0.0 <= qa.ask(question).confidence <= 1.0


def test_answer_from_a_passage_below_k_is_cited_first(qa):
    data = qa.data
    question = "When did the Alamillo Bridge open?"
    answer_passage = next(i for i, p in enumerate(data.passages) if "14 March 1992" in p.text)
    others = [i for i in range(len(data.passages)) if i != answer_passage]
    order = others[:2] + [answer_passage]
    hits = [Hit(data.passages[p], 1.0 / r, r, "dense", {"dense": r}, p) for r, p in enumerate(order, start=1)]
    reader = SpanReader(qa.settings)
    answer = reader.read(question, qa.embedder.encode_query(question), Retrieval(hits), data, k=1)
    assert answer.text == "14 March 1992"
    assert [h.row for h in answer.citations] == [answer_passage, order[0]]
    assert answer.cited == 1


def test_no_passages_means_abstaining(qa):
    data = qa.data
    answer = SpanReader(qa.settings).read("When?", qa.embedder.encode_query("When?"), Retrieval([]), data, k=3)
    assert answer.text is None and answer.citations == () and answer.confidence == 0.0


def test_reading_runs_no_model(qa):
    qa.warm_up()
    before = qa.embedder.calls
    qa.ask("Why did Sufi monks drink coffee?")
    assert qa.embedder.calls == before + 1  # the question only


@pytest.mark.parametrize("question, kind, head", [
    ("When did the volcano erupt?", Kind.DATE, None),
    ("In what year did Khomeini turn down the offer?", Kind.DATE, "year"),
    ("How many flights were cancelled?", Kind.NUMBER, None),
    ("What percentage of voters approved?", Kind.NUMBER, "percentage"),
    ("Whose help was the victory credited to?", Kind.PERSON, None),
    ("Which deputy prime minister was sacked in 2014?", Kind.PERSON, "minister"),
    ("Which Moscow think tank employs the analyst?", Kind.ORGANISATION, "tank"),
    ("What is the name of the IRGC weekly publication?", Kind.ORGANISATION, "publication"),
    ("In which Iraqi city is the shrine?", Kind.PLACE, "city"),
    ("Where does the Danube end?", Kind.PLACE, None),
    ("Which industry was first given to Iran?", Kind.ENTITY, "industry"),
    ("Why did the Iranians object?", Kind.REASON, None),
    ("What explains Tehran's sway over the unit?", Kind.REASON, None),
    ("What happened to the beans?", Kind.SENTENCE, None),
    ("What did the Astana talks produce?", Kind.SENTENCE, None),
])
def test_parse_question(question, kind, head):
    asked = parse_question(question)
    assert (asked.kind, asked.head) == (kind, head)


def test_sentences_of_hard_wrapped_text_are_whole(tmp_path):
    wrapped = ("Methods\n\nThe present study employed a descriptive\nanalytical method, and relied on library\n"
               "and documentary sources. Framed within the strategic\ndepth approach, this research used the\n"
               "views of many authors to analyze the policy.\n")
    docs = write_docs(tmp_path / "docs", {"study.txt": wrapped})
    qa = Pipeline(Settings(reader="heuristic", docs=docs, index=tmp_path / "index", abstain_threshold=0.0),
                  embedder=FakeEmbedder())
    answer = qa.ask("What kind of sources did the study rely on?")
    assert answer.sentence == ("The present study employed a descriptive\nanalytical method, and relied on library\n"
                               "and documentary sources.")
    assert_offsets(qa, answer)
