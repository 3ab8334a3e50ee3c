"""The app's HTTP API, asked through gradio_client against a server on a free loopback port."""

from __future__ import annotations

import importlib.util
import json

import pytest

from app_server import serving
from conftest import ROOT

pytestmark = pytest.mark.integration

FEBRUARY = "When did Russia first signal that it was reconsidering its commitment to Assad?"
FEBRUARY_DOC = "001_bccfd2e8e94a07d8.txt"


@pytest.fixture(scope="module")
def client(seed_pipeline):
    from gradio_client import Client

    with serving(seed_pipeline) as url:
        yield Client(url, verbose=False)


def test_ask_with_the_question_alone_returns_the_answer_and_its_citations(client, seed_pipeline):
    result = client.predict(FEBRUARY, api_name="/ask")

    json.dumps(result)  # plain JSON data
    expected = seed_pipeline.ask(FEBRUARY).to_api()
    assert result["text"] == expected["text"]
    assert "February 2016" in result["text"]
    assert result["doc"] == FEBRUARY_DOC
    assert 0 <= result["confidence"] <= 1
    assert FEBRUARY_DOC in [c["doc"] for c in result["citations"]]
    cited = result["citations"][result["cited"] - 1]
    assert cited["doc"] == result["doc"] and cited["start"] <= result["start"] < result["end"] <= cited["end"]


def test_ask_takes_k_mode_and_documents(client):
    result = client.predict(FEBRUARY, k=2, mode="bm25", docs=[FEBRUARY_DOC], api_name="/ask")

    assert 1 <= len(result["citations"]) <= 3  # k, plus the answer's passage when it lies below them
    assert {c["doc"] for c in result["citations"]} == {FEBRUARY_DOC}
    assert {c["mode"] for c in result["citations"]} == {"bm25"}
    # one id as a string, as the README allows: it was split into characters ("unknown document id(s): 0, 1, _")
    one = client.predict(FEBRUARY, k=2, mode="bm25", docs=FEBRUARY_DOC, api_name="/ask")
    assert {c["doc"] for c in one["citations"]} == {FEBRUARY_DOC}
    hits = client.predict(FEBRUARY, k=2, docs=FEBRUARY_DOC, api_name="/search")
    assert hits and {h["doc"] for h in hits} == {FEBRUARY_DOC}


def test_search_returns_ranked_passages(client):
    hits = client.predict(FEBRUARY, k=3, api_name="/search")

    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert all(h["end"] - h["start"] == len(h["text"]) for h in hits)


NDF_TYPOS = "How many NDF membrs were incorprated into the army by the end of the yaer?"
NDF_CLEAN = "How many NDF members were incorporated into the army by the end of the year?"


def test_a_question_with_typos_says_what_was_searched_for_and_can_be_searched_as_typed(client):
    corrected = client.predict(NDF_TYPOS, api_name="/ask")
    assert corrected["searched_for"] == NDF_CLEAN
    assert "8,000" in corrected["text"]
    assert client.predict(NDF_TYPOS, spell=False, api_name="/ask")["searched_for"] is None
    assert client.predict(FEBRUARY, api_name="/ask")["searched_for"] is None

    hits = client.predict(NDF_TYPOS, k=2, api_name="/search")
    assert [h["searched_for"] for h in hits] == [NDF_CLEAN, NDF_CLEAN]
    assert {h["searched_for"] for h in client.predict(NDF_TYPOS, k=2, spell=False, api_name="/search")} == {None}


def test_errors_are_clear_and_the_server_keeps_answering(client, capfd):
    from gradio_client.exceptions import AppError

    capfd.readouterr()
    with pytest.raises(AppError, match="question is empty"):
        client.predict("   ", api_name="/ask")
    with pytest.raises(AppError, match="unknown document"):
        client.predict(FEBRUARY, docs=["no-such-doc.txt"], api_name="/ask")
    with pytest.raises(AppError, match="limit is"):
        client.predict("why " * 1000, api_name="/ask")
    assert "Traceback" not in capfd.readouterr().err  # a user's mistake is answered, not logged as a crash

    assert client.predict(FEBRUARY, api_name="/ask")["doc"] == FEBRUARY_DOC


def test_page_events_are_not_in_the_public_api(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]

    assert set(endpoints) == {"/ask", "/search"}


def load_app_module():
    spec = importlib.util.spec_from_file_location("qa_app_main", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flags_win_over_environment_which_wins_over_defaults():
    app = load_app_module()

    assert (app.settings_from([], {}).host, app.settings_from([], {}).port) == ("127.0.0.1", 7860)
    env = {"QA_HOST": "0.0.0.0", "QA_PORT": "8000", "QA_DOCS": "notes"}
    settings = app.settings_from(["--port", "9000", "--index", "idx"], env)
    assert (settings.host, settings.port, str(settings.docs), str(settings.index)) == ("0.0.0.0", 9000, "notes", "idx")


def test_app_on_a_document_folder_that_is_not_there_exits_with_a_clear_message(tmp_path, capsys):
    """An empty folder is served (documents can be uploaded in the page: tests/test_browser_app.py); a folder that
    is not there is a mistyped path."""
    from app_server import free_port

    code = load_app_module().main(["--docs", str(tmp_path / "nodocs"), "--index", str(tmp_path / "index"),
                                   "--port", str(free_port())])

    err = capsys.readouterr().err
    assert code == 1
    assert "app: error:" in err and "does not exist" in err and "Traceback" not in err


def test_an_os_error_before_serving_is_reported_as_it_is_not_as_the_port(tmp_path, capsys, monkeypatch):
    def unreadable(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "style.css"))

    monkeypatch.setattr("qa.web.app.build_app", unreadable)
    (tmp_path / "docs").mkdir()
    code = load_app_module().main(["--docs", str(tmp_path / "docs"), "--index", str(tmp_path / "index"),
                                   "--port", "0"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "app: error: [Errno 13] Permission denied" in err and "style.css" in err
    assert "cannot listen" not in err and "--port" not in err


def test_a_port_the_server_cannot_bind_is_reported_as_the_port(tmp_path, capsys, monkeypatch):
    def taken(*args, **kwargs):
        raise OSError("Cannot find empty port in range: 7861-7861")

    monkeypatch.setattr("qa.web.app.launch", taken)
    (tmp_path / "docs").mkdir()
    code = load_app_module().main(["--docs", str(tmp_path / "docs"), "--index", str(tmp_path / "index"),
                                   "--port", "0"])
    err = capsys.readouterr().err
    assert code == 1
    assert "app: error: cannot listen on 127.0.0.1:0 (Cannot find empty port" in err and "--port" in err
