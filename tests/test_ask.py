"""``ask`` end to end with the real models (encoder and the default passage reader) on the seeds:
a short cited span, abstention, and ``qa ask --json``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT, write_docs
from qa.config import Settings
from qa.pipeline import Pipeline

pytestmark = pytest.mark.integration

FEBRUARY = "When did Russia first signal that it was reconsidering its commitment to Assad?"
BRAZIL = "What is the population of Brazil?"
ASSAD_DOC = "001_bccfd2e8e94a07d8.txt"


def test_the_default_reader_is_the_shipped_passage_model(seed_pipeline):
    from qa.reader.calibration import Calibration
    from qa.reader.passage import MODEL_DIR, MODEL_FILE, PassageReader

    reader = seed_pipeline.reader
    assert isinstance(reader, PassageReader) and reader.model_file == MODEL_DIR / MODEL_FILE
    assert reader.calibration != Calibration()  # the one fitted on SQuADShifts, stored beside the model
    assert reader.calibration.answer <= reader.calibration.stop <= 1  # a sure first passage ends the reading
    answer = seed_pipeline.ask("Who engineered Syria's rapprochement with Egypt?")
    assert answer.text is not None and 0 < answer.confidence <= 1
    assert answer.confidence >= reader.threshold
    text = seed_pipeline.data.document(answer.doc).text
    assert text[answer.start:answer.end] == answer.text and answer.text in answer.sentence


def test_date_question_answers_a_short_cited_span(seed_pipeline):
    answer = seed_pipeline.ask(FEBRUARY)
    assert answer.text is not None and "February 2016" in answer.text and len(answer.text) < 40
    assert answer.doc == ASSAD_DOC
    assert answer.citations[answer.cited - 1].passage.doc == ASSAD_DOC
    text = seed_pipeline.data.document(answer.doc).text
    assert text[answer.start:answer.end] == answer.text
    assert text[answer.sentence_start:answer.sentence_end] == answer.sentence
    assert answer.confidence >= seed_pipeline.reader.threshold


def test_question_the_seeds_do_not_answer_abstains_with_citations(seed_pipeline):
    answer = seed_pipeline.ask(BRAZIL)
    assert answer.text is None
    assert answer.message == "The documents do not seem to answer this."
    assert answer.confidence < seed_pipeline.reader.threshold
    assert len(answer.citations) == seed_pipeline.settings.k
    assert answer.to_dict()["answer"] is None


def _ask_json(seed_index_dir, question: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "qa", "ask", question, "--json",
         "--docs", str(seed_index_dir / "docs"), "--index", str(seed_index_dir / "index")],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_cli_ask_json(seed_index_dir, seed_pipeline):
    result = _ask_json(seed_index_dir, FEBRUARY)
    assert {"answer", "confidence", "doc", "start", "end", "sentence", "citations"} <= set(result)
    assert "February 2016" in result["answer"]
    assert result["doc"] == ASSAD_DOC
    assert 0 <= result["confidence"] <= 1
    # citations are hit objects, as ``qa search --json`` prints them, each with its number in the list
    hit_keys = set(seed_pipeline.search(FEBRUARY, k=1)[0].to_dict())
    assert result["citations"] and all(set(c) == {"number", *hit_keys} for c in result["citations"])
    assert [c["number"] for c in result["citations"]] == list(range(1, len(result["citations"]) + 1))
    cited = result["citations"][result["cited"] - 1]
    assert cited["number"] == result["cited"]
    assert cited["doc"] == ASSAD_DOC and cited["start"] <= result["start"] < result["end"] <= cited["end"]


def test_an_answer_cites_the_section_it_sits_in(tmp_path):
    """A passage is labelled with the section it starts in; an answer under a later heading of the same passage
    cites that heading, not the passage's."""
    text = ("# Mount Kerrigan\n\nMount Kerrigan is a stratovolcano that rises 3,412 metres above sea level.\n\n"
            "## Eruptions\n\nIts last major eruption occurred in 1783, burying the village of Arndale under ash.\n\n"
            "## Monitoring\n\nThe observatory is run by the Kerrigan Geological Institute, founded in 1951.\n")
    qa = Pipeline(Settings(docs=write_docs(tmp_path / "docs", {"volcano.md": text}), index=tmp_path / "index"))
    answer = qa.ask("When did Mount Kerrigan last erupt?")
    assert answer.text == "1783"
    assert answer.citations[answer.cited - 1].passage.section == "Mount Kerrigan"  # one passage holds all three
    assert answer.section == "Eruptions"
    assert qa.ask("When was the Kerrigan Geological Institute founded?").section == "Monitoring"

