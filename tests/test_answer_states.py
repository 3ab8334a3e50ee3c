"""The three answer states (answer, tentative, none) through Python, the CLI and the HTTP API,
with the real model on the seeds. The thresholds are settings, so a state can be forced."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from app_server import serving
from conftest import ROOT
from qa.pipeline import Pipeline

pytestmark = pytest.mark.integration

FEBRUARY = "When did Russia first signal that it was reconsidering its commitment to Assad?"
BRAZIL = "What is the population of Brazil?"


def run_cli(seed_index_dir, *args, **env_extra) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-m", "qa", *args, "--docs", str(seed_index_dir / "docs"),
                           "--index", str(seed_index_dir / "index")], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_python_gives_each_state(seed_pipeline):
    sure = seed_pipeline.ask(FEBRUARY)
    assert sure.status == "answer" and "February 2016" in sure.text
    unsure = Pipeline(seed_pipeline.settings.replace(answer_threshold=1.0, abstain_threshold=0.0)).ask(FEBRUARY)
    assert unsure.status == "tentative" and unsure.text and unsure.confidence < 1.0
    assert unsure.citations[unsure.cited - 1].passage.doc == unsure.doc
    none = seed_pipeline.ask(BRAZIL)
    assert none.status == "none" and none.text is None and none.citations


def test_cli_says_which_state(seed_index_dir):
    sure = run_cli(seed_index_dir, "ask", FEBRUARY)
    assert sure.returncode == 0, sure.stderr
    assert "February 2016" in sure.stdout.splitlines()[0] and "Possible answer" not in sure.stdout

    unsure = run_cli(seed_index_dir, "ask", FEBRUARY, QA_ANSWER_THRESHOLD="1", QA_ABSTAIN_THRESHOLD="0")
    assert unsure.stdout.startswith("Possible answer (not sure): "), unsure.stdout
    as_json = json.loads(run_cli(seed_index_dir, "ask", FEBRUARY, "--json", QA_ANSWER_THRESHOLD="1",
                                 QA_ABSTAIN_THRESHOLD="0").stdout)
    assert as_json["status"] == "tentative" and as_json["answer"]

    none = run_cli(seed_index_dir, "ask", BRAZIL)
    lines = none.stdout.splitlines()
    assert lines[0] == "The documents do not seem to answer this." and "Closest passages:" in lines
    assert json.loads(run_cli(seed_index_dir, "ask", BRAZIL, "--json").stdout)["status"] == "none"


def test_http_api_returns_the_state(seed_pipeline):
    from gradio_client import Client

    with serving(seed_pipeline) as url:
        client = Client(url, verbose=False)
        assert client.predict(FEBRUARY, api_name="/ask")["status"] == "answer"
        none = client.predict(BRAZIL, api_name="/ask")
        assert none["status"] == "none" and none["answer"] is None and none["citations"]
    unsure = Pipeline(seed_pipeline.settings.replace(answer_threshold=1.0, abstain_threshold=0.0))
    with serving(unsure) as url:
        result = Client(url, verbose=False).predict(FEBRUARY, api_name="/ask")
        assert result["status"] == "tentative" and result["answer"] == result["text"]
