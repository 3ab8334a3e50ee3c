"""Settings: documented defaults, ``QA_*`` variables, flags that win, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.config import Settings
from qa.errors import SettingsError


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
        ({"QA_K": "many"}, "QA_K='many' is not a valid int"),
        ({"QA_MODE": "fuzzy"}, "unknown mode 'fuzzy'"),
        ({"QA_ENCODER": "tpu"}, "unknown encoder"),
        ({"QA_K": "0"}, "k must be at least 1"),
        ({"QA_CHUNK_SIZE": "10"}, "chunk_size must be at least 50"),
        ({"QA_CHUNK_OVERLAP": "1000"}, "chunk_overlap must be between"),
        ({"QA_ABSTAIN_THRESHOLD": "2"}, "abstain_threshold must be between"),
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
