"""Settings: documented defaults, ``QA_*`` variables, flags that win, and clear errors."""

from __future__ import annotations

import importlib.util
from dataclasses import fields
from pathlib import Path

import pytest

from qa.config import Settings
from qa.errors import SettingsError

ROOT = Path(__file__).resolve().parent.parent


def test_safe_defaults():
    s = Settings.from_env({})
    assert (s.docs, s.index, s.mode, s.k) == (Path("seeds"), Path("vectorstore"), "hybrid", 5)
    assert s.host == "127.0.0.1"  # loopback unless asked
    assert s.max_file_bytes == 10 * 1024 * 1024
    assert s.max_question_chars == 2000


def test_environment_then_flags():
    env = {"QA_DOCS": "/data/docs", "QA_K": "7", "QA_MODE": "bm25", "QA_ABSTAIN_THRESHOLD": "0.5", "QA_PORT": ""}
    s = Settings.from_env(env)
    assert (s.docs, s.k, s.mode, s.abstain_threshold, s.port) == (Path("/data/docs"), 7, "bm25", 0.5, 7860)
    s = Settings.from_env(env, mode="dense", k=None, docs=Path("elsewhere"))
    assert (s.mode, s.k, s.docs) == ("dense", 7, Path("elsewhere"))  # None means "flag not given"


@pytest.mark.parametrize(
    "env, message",
    [
        ({"QA_K": "many"}, "QA_K='many' is not a whole number"),
        ({"QA_MODE": "fuzzy"}, "unknown mode 'fuzzy'"),
        ({"QA_ENCODER": "tpu"}, "unknown encoder"),
        ({"QA_K": "0"}, "k must be at least 1"),
        ({"QA_CHUNK_SIZE": "10"}, "chunk_size must be at least 50"),
        ({"QA_CHUNK_OVERLAP": "1000"}, "chunk_overlap must be between"),
        ({"QA_ABSTAIN_THRESHOLD": "2"}, "abstain_threshold must be between"),
        ({"QA_READ_THREADS": "0"}, "read_threads must be 1 or more"),
    ],
)
def test_bad_values_are_settings_errors(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_unknown_override_is_an_error():
    with pytest.raises(SettingsError, match="unknown setting"):
        Settings.from_env({}, colour="blue")


def test_replace_keeps_what_is_not_given():
    s = Settings().replace(k=3, mode=None)
    assert (s.k, s.mode) == (3, "hybrid")


@pytest.mark.parametrize("raw, value", [("on", True), ("off", False), ("true", True), ("false", False),
                                        ("1", True), ("0", False), (" Off ", False), ("yes", True)])
def test_switches_are_booleans_written_in_the_usual_ways(raw, value):
    assert Settings.from_env({"QA_SPELLING": raw}).spelling is value
    assert Settings.from_env({"QA_PARSE_WORKER": raw}).parse_worker is value
    assert Settings.from_env({"QA_EMBED_CONTEXT": raw}).embed_context is value
    assert Settings.from_env({"QA_ACRONYMS": raw}).acronyms is value


def test_spelling_is_on_by_default_and_takes_on_or_off_from_code_too():
    assert Settings().spelling is True and Settings.from_env({}).spelling is True
    assert Settings(spelling="off").spelling is False and Settings(spelling="on").spelling is True
    assert Settings().replace(spelling=False).spelling is False
    with pytest.raises(SettingsError, match="spelling must be on or off"):
        Settings(spelling="maybe")
    with pytest.raises(SettingsError, match="QA_SPELLING='maybe'"):
        Settings.from_env({"QA_SPELLING": "maybe"})


def test_the_spelling_flag_sets_the_boolean_and_wins_over_the_environment(monkeypatch):
    from qa import cli

    monkeypatch.setenv("QA_SPELLING", "off")
    parser = cli.build_parser()
    assert cli._settings(parser.parse_args(["ask", "q"])).spelling is False
    assert cli._settings(parser.parse_args(["ask", "q", "--spelling", "on"])).spelling is True
    monkeypatch.setenv("QA_SPELLING", "1")
    assert cli._settings(parser.parse_args(["search", "q", "--spelling", "off"])).spelling is False


def test_a_mode_in_capitals_is_that_mode_from_the_environment_and_a_bad_yes_no_says_what_it_takes():
    assert Settings.from_env({"QA_MODE": " BM25"}).mode == "bm25"
    with pytest.raises(SettingsError, match=r"QA_SPELLING='maybe' must be on or off \(true / false"):
        Settings.from_env({"QA_SPELLING": "maybe"})


@pytest.mark.parametrize("name, raw, words", [("QA_ANSWER_THRESHOLD", "abc", "a number"),
                                              ("QA_FUSION_WEIGHT", "half", "a number"),
                                              ("QA_K", "1.5", "a whole number"),
                                              ("QA_MAX_PARSE_SECONDS", "soon", "a number")])
def test_a_value_that_is_not_a_number_says_so_in_words_not_in_python_types(name, raw, words):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: raw})
    assert str(caught.value) == f"{name}={raw!r} is not {words}"


def test_no_setting_names_a_python_type_in_its_message():
    for f in fields(Settings):
        if f.type in ("str", "Path", "Path | None"):
            continue  # any text is one
        with pytest.raises(SettingsError) as caught:
            Settings.from_env({f"QA_{f.name.upper()}": "not-a-value"})
        message = str(caught.value)
        assert not any(word in message for word in ("int", "float", "None", "bool", " | ")), message


def load_app_module():
    spec = importlib.util.spec_from_file_location("qa_app_main", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("port", ["99999", "65536", "-1"])
def test_a_port_outside_its_range_is_one_clear_line_from_the_app(port, tmp_path, capsys):
    with pytest.raises(SettingsError, match=f"port must be between 0 and 65535, got {port}"):
        Settings.from_env({"QA_PORT": port})
    app = load_app_module()
    (tmp_path / "docs").mkdir()
    code = app.main(["--docs", str(tmp_path / "docs"), "--index", str(tmp_path / "index"), "--port", port])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert err.strip() == f"app: error: port must be between 0 and 65535, got {port}"
    assert Settings.from_env({"QA_PORT": "0"}).port == 0  # any free port


@pytest.mark.parametrize("host, why", [("no.such.host.invalid", "no such host"),
                                       ("192.0.2.1", "not an address of this machine")])
def test_a_host_the_app_cannot_listen_on_is_blamed_on_the_host_not_the_port(host, why, tmp_path, capsys):
    app = load_app_module()
    (tmp_path / "docs").mkdir()
    code = app.main(["--docs", str(tmp_path / "docs"), "--index", str(tmp_path / "index"), "--host", host])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"app: error: cannot listen on {host}:7860 ({why}")
    assert "--host or QA_HOST" in err and "--port" not in err


def test_a_question_encoder_file_that_is_not_there_is_an_error_whatever_the_model(tmp_path):
    for env in ({"QA_QUESTION_MODEL": str(tmp_path / "nope.onnx")},
                {"QA_QUESTION_MODEL": str(tmp_path / "nope.onnx"), "QA_MODEL": "all-MiniLM-L6-v2"}):
        with pytest.raises(SettingsError, match=r"question_model '.*nope.onnx': no such file"):
            Settings.from_env(env)
    with pytest.raises(SettingsError, match="no such file"):
        Settings.from_env({}, question_model=str(tmp_path / "nope.onnx"))  # --question-model
    (tmp_path / "mine.onnx").write_bytes(b"x")
    assert Settings.from_env({"QA_QUESTION_MODEL": str(tmp_path / "mine.onnx")}).question_model.endswith("mine.onnx")
    assert Settings.from_env({"QA_QUESTION_MODEL": "trained"}).question_model == "trained"
