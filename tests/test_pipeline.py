"""The facade: odd questions get an answer or a clear message, and refreshing while serving never
mixes two indexes."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TINY_DOCS, FakeEmbedder, write_docs
from qa.index import store
from qa.config import Settings
from qa.errors import BadQuestionError, QAError, SettingsError
from qa.pipeline import Pipeline, clean_question

#: Questions a user can type, and whether they hold anything to search for.
ODD_QUESTIONS = {
    "single character": ("a", True),
    "control characters": ("\x00When\x07 did the\x1b volcano\x7f erupt?\x9f", True),
    "tab and newlines": ("\tWhich river\r\nends in the Black Sea?\n", True),
    "Arabic": ("\u0645\u062a\u0649 \u062b\u0627\u0631 \u0627\u0644\u0628\u0631\u0643\u0627\u0646\u061f", True),
    "Chinese": ("\u706b\u5c71\u4ec0\u4e48\u65f6\u5019\u7206\u53d1\uff1f", True),
    "Persian": ("\u0622\u062a\u0634\u0641\u0634\u0627\u0646 \u06a9\u06cc \u0641\u0648\u0631\u0627\u0646 \u06a9\u0631\u062f\u061f",
                True),
    "emoji with words": ("\U0001F30B volcano \U0001F525 eruption?", True),
    "lone surrogate": ("\udcff volcano \ud800", True),
    "numbers only": ("2010", True),
    "empty": ("", False),
    "white space only": (" \t\n\r\u3000 ", False),
    "punctuation only": ("?!... ,;:", False),
    "emoji only": ("\U0001F30B\U0001F525\U0001F600", False),
    "controls only": ("\x00\x01\x02", False),
    "100,000 characters": ("why " * 25_000, False),
}


@pytest.mark.parametrize("name", list(ODD_QUESTIONS))
def test_odd_questions_get_results_or_a_clear_message(fake_pipeline, name):
    question, searchable = ODD_QUESTIONS[name]
    if searchable:
        for mode in ("dense", "bm25", "hybrid"):
            hits = fake_pipeline.search(question, mode=mode)
            assert all(h.passage.text for h in hits)
        answer = fake_pipeline.ask(question)
        assert answer.text is not None or answer.message
    else:
        with pytest.raises(BadQuestionError) as err:
            fake_pipeline.search(question)
        assert str(err.value) and "\n" not in str(err.value)
        with pytest.raises(BadQuestionError):
            fake_pipeline.ask(question)


def test_clean_question_removes_what_is_not_text():
    assert clean_question("\x00 a\u0007b \udcff  c\n", 100) == "a b c"
    with pytest.raises(BadQuestionError, match="limit is 10"):
        clean_question("x" * 11, 10)
    with pytest.raises(BadQuestionError, match="must be text"):
        clean_question(None, 10)


@pytest.mark.parametrize("k", [0, -1, 1001, "many", [3]])
def test_bad_k_is_a_settings_error(fake_pipeline, k):
    with pytest.raises(SettingsError, match="k must"):
        fake_pipeline.search("river", k=k)


@pytest.mark.parametrize("mode", ["fuzzy", ""])
def test_unknown_mode_is_a_settings_error(fake_pipeline, mode):
    with pytest.raises(SettingsError, match=f"unknown mode '{mode}'"):
        fake_pipeline.search("river", mode=mode)


def test_a_mode_in_capitals_or_with_spaces_is_that_mode(fake_pipeline):
    hits = fake_pipeline.search("river", mode=" BM25 ")
    assert hits and all(h.mode == "bm25" for h in hits)


@pytest.mark.parametrize("spell, fixed", [("off", False), ("no", False), ("false", False), (0, False),
                                          ("on", True), (True, True), (1, True)])
def test_spell_given_as_a_word_means_that_word(fake_pipeline, spell, fixed):
    """``spell="no"`` searched with spelling on (a non-empty string is true); as the settings read it, it is off."""
    assert (fake_pipeline.correct("rivr", spell=spell) is not None) == fixed


@pytest.mark.parametrize("spell", ["maybe", 2, [False]])
def test_a_spell_that_is_no_yes_or_no_is_a_settings_error(fake_pipeline, spell):
    with pytest.raises(SettingsError, match="spell must be on or off"):
        fake_pipeline.correct("river", spell=spell)


@pytest.fixture(scope="module")
def built_pipeline(tmp_path_factory) -> Pipeline:
    base = tmp_path_factory.mktemp("built")
    qa = Pipeline(Settings(docs=write_docs(base / "docs", TINY_DOCS), index=base / "index", chunk_size=200,
                           chunk_overlap=40), embedder=FakeEmbedder())
    qa.refresh()
    return qa


ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=300)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(question=ANY_TEXT, mode=st.sampled_from(["dense", "bm25", "hybrid"]), ask=st.booleans())
def test_query_path_raises_nothing_but_qa_errors(built_pipeline, question, mode, ask):
    try:
        if ask:
            built_pipeline.ask(question, mode=mode)
        else:
            built_pipeline.search(question, mode=mode)
    except QAError:
        pass


@pytest.mark.integration
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(question=ANY_TEXT)
def test_real_model_query_path_raises_nothing_but_qa_errors(seed_pipeline, question):
    try:
        seed_pipeline.ask(question)
    except QAError:
        pass


@pytest.mark.integration
@pytest.mark.parametrize("name", [n for n, (_, ok) in ODD_QUESTIONS.items() if ok])
def test_real_model_answers_odd_questions(seed_pipeline, name):
    answer = seed_pipeline.ask(ODD_QUESTIONS[name][0])
    assert answer.citations
    assert answer.text is not None or answer.message


def test_refresh_while_serving_never_mixes_generations(tmp_path, monkeypatch):
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    qa = Pipeline(Settings(docs=docs, index=tmp_path / "index", chunk_size=200, chunk_overlap=40),
                  embedder=FakeEmbedder())
    loaded: list[store.IndexData] = []
    real_load = store.load

    def recording_load(folder, *args, **kwargs):
        data = real_load(folder, *args, **kwargs)
        loaded.append(data)
        return data

    monkeypatch.setattr(store, "load", recording_load)
    qa.refresh()
    results, errors, stop = [], [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                results.append(qa.search("Which river flows through ten countries?", k=5))
            except Exception as exc:  # noqa: BLE001 - any failure fails the test below
                errors.append(exc)

    reader = threading.Thread(target=serve)
    reader.start()
    try:
        for n in range(4):
            (docs / "rivers.txt").write_text(f"Rivers {n}\n\nThe Danube flows through ten countries. "
                                             f"Version {n} of this text.\n" * (n + 1), encoding="utf-8")
            qa.refresh()
    finally:
        stop.set()
        reader.join()
    assert not errors
    assert len({d.generation for d in loaded}) == 5
    seen = set()
    for hits in results:
        owners = [d for d in loaded if all(d.passages[h.row] is h.passage for h in hits)]
        assert len(owners) == 1, "a result mixes passages of two indexes"
        data = owners[0]
        seen.add(data.generation)
        for h in hits:
            assert data.document(h.passage.doc).text[h.passage.start:h.passage.end] == h.passage.text
    assert qa.data is loaded[-1] and len(seen) >= 2


def test_files_left_out_are_said_in_full_when_the_index_changes_then_in_one_short_line(tmp_path):
    docs = write_docs(tmp_path / "docs", {**TINY_DOCS, "junk.txt": b"\x00\x01 binary", "empty.md": ""})
    qa = Pipeline(Settings(docs=docs, index=tmp_path / "index"), embedder=FakeEmbedder())
    said: list[str] = []
    qa.refresh(notify=said.append)
    assert "skipped junk.txt: binary file (contains NUL bytes)" in said and "skipped empty.md: empty file" in said
    said.clear()
    qa.refresh(notify=said.append)  # nothing changed: every command would repeat the reasons
    assert said == ["2 files of the document folder not in the index: empty.md, junk.txt (`qa index` says why)"]
