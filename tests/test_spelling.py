"""Typo-tolerant questions: unknown words are corrected against the documents' words, names,
numbers and real words are left alone, and every surface says what was searched for (fake
embedder, a small corpus)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import TINY_DOCS, FakeEmbedder, write_docs
from qa import cli
from qa.config import Settings
from qa.errors import SettingsError
from qa.pipeline import Pipeline
from qa.index.spelling import Speller, one_edit
from qa.web.render import answer_as_text, render_answer

NDF_DOC = (
    "Militias in Syria\n\n"
    "The National Defense Forces (NDF) were formed in 2012 from local militias. "
    "By the end of the year 2018, about 40,000 NDF members were incorporated into the army, "
    "according to Antonio Giustozzi. The Fifth Corps absorbed the rest of the militias. "
    "Army officers said the colour of the new uniforms was green.\n"
)
NDF_TYPOS = "How many NDF membrs were incorprated into the army by the end of the yaer?"
NDF_CLEAN = "How many NDF members were incorporated into the army by the end of the year?"


@pytest.fixture
def speller() -> Speller:
    return Speller.from_texts([NDF_DOC, *TINY_DOCS.values()])


@pytest.fixture
def ndf_pipeline(tmp_path: Path) -> Pipeline:
    docs = write_docs(tmp_path / "docs", {**TINY_DOCS, "militias.txt": NDF_DOC})
    return Pipeline(Settings(docs=docs, index=tmp_path / "index", chunk_size=200, chunk_overlap=40),
                    embedder=FakeEmbedder())


# -- the speller ---------------------------------------------------------------------------------


def test_typos_are_corrected_to_the_documents_words_keeping_the_rest_of_the_question(speller):
    assert speller.correct(NDF_TYPOS) == NDF_CLEAN
    # casing and punctuation around the word are kept; a possessive's word is corrected
    assert speller.correct("Incorprated... (yaer) Giustozi's membrs?") == "Incorporated... (year) Giustozzi's members?"
    # a question in capitals is corrected in capitals
    assert speller.correct("HOW MANY NDF MEMBRS?") == "HOW MANY NDF MEMBERS?"


def test_a_typo_of_a_question_word_becomes_the_question_word_not_the_documents_frequent_word():
    """A tester's "Wich senior advisr ..." was searched and read as "With senior advisor ...": "with", one edit
    away and the documents' most frequent word, beat "which"; the reader answered "resistance" instead of the name
    it answers for the question spelt right."""
    speller = Speller.from_texts(["Velayati, a senior advisor to Khamenei, said Syria was the golden ring, with which "
                                  "the chain of resistance holds, with Iraq and with Lebanon, with Iran first."])
    assert (speller.correct("Wich senior advisr to Khamenei said Syria was the goldn ring?")
            == "Which senior advisor to Khamenei said Syria was the golden ring?")
    # a letter left out before one replaced: "wher" is "where", not "when"; two letters swapped
    assert speller.correct("In wich year, and wher?") == "In which year, and where?"
    assert speller.correct("Waht did Velayati say?") == "What did Velayati say?"
    assert speller.correct("With which ring?") == "With which ring?"  # real words stay


def test_acronyms_and_contractions_are_left_alone(speller):
    # two capitals or more: an acronym or a name, not a misspelt word ("MEMBRS" in a normal question too)
    for question in ("Were the NDFS or the MEMBRS of IRGC at the Danube?", "Who were the MVPs?",
                     "Wasn't it the Danube?", "Why wouldn't the NDF go?"):
        assert speller.correct(question) == question


def test_a_rare_name_in_the_documents_is_left_alone(speller):
    # "Giustozzi" occurs once; "Eyjafjallajokull" once: known words are never corrected
    for question in ("What did Antonio Giustozzi write?", "When did Eyjafjallajokull erupt?",
                     "What is the Danube?"):
        assert speller.correct(question) == question
    # the same name with a typo comes back to the documents' spelling
    assert speller.correct("What did Antonio Giustozi write?") == "What did Antonio Giustozzi write?"


def test_a_capitalised_word_is_corrected_only_to_a_name_of_the_documents(speller):
    """A word capitalised inside the question is likely a name: "Ozeri" was searched as "Over". It is corrected
    only to a word the documents write capitalised (a name), two edits away at most as any word; the question's
    first word is a word like any other."""
    for question in ("Where does Ozeri sell woks?", "How many Membrs were there?", "Did Zbigniew write it?"):
        assert speller.correct(question) == question
    assert speller.correct("Does the Dabuve flow north?") == "Does the Danube flow north?"
    assert speller.correct("Did Giutozi write it?") == "Did Giustozzi write it?"
    assert speller.correct("Whree does the Danube end?") == "Where does the Danube end?"
    assert speller.correct("Incorprated members?") == "Incorporated members?"


def test_numbers_and_words_with_digits_are_left_alone(speller):
    question = "Were 40,000 or 4O000 members in the 15th century B52 unit in 2O18 or 2018?"
    assert speller.correct(question) == question


def test_an_unknown_word_with_no_close_candidate_is_left_alone(speller):
    for question in ("Who is Zbigniew Brzezinski?", "What did Xqzvw report?", "Is qwrtplk green?"):
        assert speller.correct(question) == question


def test_real_english_words_the_documents_do_not_use_are_not_mangled(speller):
    # "colour" is in the documents, "color" is not; "volcanic", "whereabouts" neither: all are real words
    question = "What color were the uniforms, and the volcanic whereabouts?"
    assert speller.correct(question) == question


def test_short_words_are_never_corrected(speller):
    assert speller.correct("Teh NDF and teh army?") == "Teh NDF and teh army?"


def test_a_typo_of_a_word_the_documents_lack_becomes_the_english_word_not_a_far_document_word(speller):
    # "unifrom" is one edit from "uniform" (English, not in the documents), two from "uniforms" (theirs)
    assert speller.suggest("unifrom") == "uniform"
    assert Speller(speller.counts, english={}).suggest("unifrom") == "uniforms"
    assert "uniform" in one_edit("unifrom") and "unifrom" not in one_edit("unifrom")


def test_among_english_words_one_edit_away_the_one_the_index_matches_wins_over_a_more_frequent_one():
    # "reget" is one edit from "reset" (more frequent in English) and from "regret"; neither is a word
    # of the documents, but "regretful" is: the index matches "regret" by its stem, so "regret" wins
    from qa.index.lexical import BM25Index

    doc = "Officials said Iran was not regretful about the money it spent in Syria."
    english = {"reset": 10_000_000, "regret": 3_700_000}
    plain = Speller.from_texts([doc], english=english)
    assert plain.suggest("reget") == "reset"  # without the index: the most frequent English word
    indexed = Speller.from_texts([doc], english=english, indexed=BM25Index.build([doc]).knows)
    assert indexed.suggest("reget") == "regret"
    assert indexed.correct("Why does Iran not reget what it spnet?") == "Why does Iran not regret what it spent?"
    frequent_first = Speller.from_texts([doc], english=english, indexed=BM25Index.build([doc]).knows,
                                        searchable_first=False)
    assert frequent_first.suggest("reget") == "reset"  # the rule before: the most frequent English word


# -- the pipeline ----------------------------------------------------------------------------


def test_ask_searches_the_corrected_question_and_says_so(ndf_pipeline):
    answer = ndf_pipeline.ask(NDF_TYPOS, mode="bm25")

    assert answer.searched_for == NDF_CLEAN
    assert answer.to_dict()["searched_for"] == NDF_CLEAN
    assert answer.citations[0].passage.doc == "militias.txt"
    assert ndf_pipeline.correct(NDF_TYPOS) == NDF_CLEAN
    # a clean question is searched as it is
    assert ndf_pipeline.correct(NDF_CLEAN) is None
    assert ndf_pipeline.ask(NDF_CLEAN, mode="bm25").searched_for is None


def test_search_with_typos_finds_what_the_clean_question_finds(ndf_pipeline):
    for mode in ("bm25", "hybrid"):
        typed = [h.row for h in ndf_pipeline.search(NDF_TYPOS, k=3, mode=mode)]
        clean = [h.row for h in ndf_pipeline.search(NDF_CLEAN, k=3, mode=mode)]
        assert typed == clean


def test_spelling_can_be_turned_off_per_question_and_in_the_settings(ndf_pipeline, tmp_path):
    assert ndf_pipeline.ask(NDF_TYPOS, mode="bm25", spell=False).searched_for is None
    assert ndf_pipeline.correct(NDF_TYPOS, spell=False) is None
    # as typed, BM25 matches only the words spelt right: a different ranking from the corrected one
    as_typed = ndf_pipeline.search("membrs incorprated yaer", mode="bm25", spell=False)
    assert as_typed == []
    assert ndf_pipeline.search("membrs incorprated yaer", mode="bm25")[0].passage.doc == "militias.txt"

    off = Pipeline(Settings.from_env({"QA_SPELLING": "off"}, docs=ndf_pipeline.settings.docs,
                                     index=ndf_pipeline.settings.index, chunk_size=200, chunk_overlap=40),
                   embedder=FakeEmbedder())
    assert off.settings.spelling is False
    assert off.correct(NDF_TYPOS) is None and off.ask(NDF_TYPOS, mode="bm25").searched_for is None
    assert off.correct(NDF_TYPOS, spell=True) == NDF_CLEAN  # asked for explicitly
    with pytest.raises(SettingsError, match="spelling"):
        Settings(spelling="maybe")


def test_words_the_index_matches_by_their_stem_are_left_alone(ndf_pipeline):
    # neither "Giustozzis" nor "Eyjafjallajokulls" is a word of the documents, but BM25 matches both
    question = "What did the Giustozzis say about the Eyjafjallajokulls?"
    assert ndf_pipeline.correct(question) is None


def test_the_documents_words_are_counted_once_and_only_for_a_question_that_needs_them(ndf_pipeline, monkeypatch):
    import qa.index.spelling

    calls = []
    count = qa.index.spelling.word_counts
    monkeypatch.setattr(qa.index.spelling, "word_counts", lambda texts: calls.append(1) or count(texts))
    assert ndf_pipeline.correct(NDF_CLEAN) is None
    assert calls == []  # every word is matched by the index (or a stop word)
    assert ndf_pipeline.correct(NDF_TYPOS) == NDF_CLEAN
    assert ndf_pipeline.correct("Who were the membrs?") == "Who were the members?"
    assert calls == [1]


def test_warming_up_finds_the_names_too_and_only_once():
    found = []
    speller = Speller({"danube": 2}, english={}, names=lambda: found.append(1) or {"danube"})
    speller.warm_up()
    assert found == [1] and speller.names == {"danube"}
    assert speller.correct("Does the Danuve flow?") == "Does the Danube flow?" and found == [1]


def test_the_speller_is_made_once_per_index(ndf_pipeline):
    data = ndf_pipeline.data
    first = ndf_pipeline.speller(data)
    assert ndf_pipeline.speller(data) is first
    ndf_pipeline.refresh(force=True)
    assert ndf_pipeline.speller(ndf_pipeline.data) is not first


# -- what the reader sees -------------------------------------------------------------------------


@pytest.fixture
def cli_on_fake(monkeypatch, ndf_pipeline):
    """``qa`` commands run in this process over the small corpus with the fake embedder."""
    s = ndf_pipeline.settings
    monkeypatch.setattr(cli, "_pipeline", lambda args: Pipeline(
        cli._settings(args).replace(docs=s.docs, index=s.index, chunk_size=200, chunk_overlap=40),
        embedder=FakeEmbedder()))
    for name in list(__import__("os").environ):
        if name.startswith("QA_"):
            monkeypatch.delenv(name)


def test_cli_ask_and_search_print_what_was_searched_for(cli_on_fake, capsys):
    assert cli.main(["ask", NDF_TYPOS, "--mode", "bm25"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(f"Searched for: {NDF_CLEAN}")

    assert cli.main(["search", NDF_TYPOS, "--mode", "bm25", "-k", "2"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(f"Searched for: {NDF_CLEAN}")
    assert "militias.txt" in out

    assert cli.main(["ask", NDF_TYPOS, "--mode", "bm25", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["searched_for"] == NDF_CLEAN
    assert cli.main(["search", NDF_TYPOS, "--mode", "bm25", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits and {h["searched_for"] for h in hits} == {NDF_CLEAN}


def test_cli_says_nothing_when_nothing_was_corrected_or_spelling_is_off(cli_on_fake, capsys):
    assert cli.main(["ask", NDF_CLEAN, "--mode", "bm25"]) == 0
    assert "Searched for" not in capsys.readouterr().out
    assert cli.main(["ask", NDF_TYPOS, "--mode", "bm25", "--spelling", "off"]) == 0
    assert "Searched for" not in capsys.readouterr().out
    assert cli.main(["ask", NDF_TYPOS, "--mode", "bm25", "--spelling", "off", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["searched_for"] is None


def test_the_answer_panel_shows_searched_for_with_the_typed_question_one_click_away(ndf_pipeline):
    answer = ndf_pipeline.ask(NDF_TYPOS, mode="bm25")
    page = render_answer(answer, ndf_pipeline.data, NDF_TYPOS)

    assert f"Searched for: <strong>{NDF_CLEAN}</strong>" in page
    link = ('href="?q=How%20many%20NDF%20membrs%20were%20incorprated%20into%20the%20army%20by%20the%20end'
            '%20of%20the%20yaer%3F&amp;spell=off"')
    assert link in page
    assert f"Searched for: {NDF_CLEAN}" in answer_as_text(answer, NDF_TYPOS)
    # asked as typed (the link's page): it says so, and its own link keeps spell=off
    typed = ndf_pipeline.ask(NDF_TYPOS, mode="bm25", spell=False)
    page = render_answer(typed, ndf_pipeline.data, NDF_TYPOS, spelling=False)
    assert "as typed" in page and "Searched for:" not in page and "&amp;spell=off" in page
    # nothing corrected: no line at all
    assert "qa-searched-for" not in render_answer(ndf_pipeline.ask(NDF_CLEAN), ndf_pipeline.data, NDF_CLEAN)


def test_the_searched_for_line_is_escaped(ndf_pipeline):
    from dataclasses import replace

    question = '<img src=x onerror=alert(1)> "membrs"'
    answer = replace(ndf_pipeline.ask(question, mode="bm25"), searched_for='<script>alert(1)</script> "members"')
    page = render_answer(answer, ndf_pipeline.data, question)
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &quot;members&quot;" in page
