"""Abbreviations a document defines are matched by BM25 in either form (qa/index/acronyms.py), and
indexing with them on records it in the manifest, so switching rebuilds the index."""

from __future__ import annotations

from conftest import FakeEmbedder
from qa.index import store
from qa.index.acronyms import defined, token_texts
from qa.index.indexer import update_index

REPORT = ("The National Defense Forces (NDF) were set up in 2012 by the Islamic Revolutionary Guards Corps\n"
          "(IRGC), whose advisers trained them. Some fighters were\nhard to count (see below).\n\n"
          + "Filler sentence about the weather and the roads of the region. " * 8 + "\n\n"
          "By the end of 2018, some 8,000 NDF members had been incorporated into the army.\n")


def test_definitions_found_across_wrapped_lines_and_lowercase_asides_left_out():
    pairs = defined(REPORT)
    assert pairs == {"NDF": "National Defense Forces", "IRGC": "Islamic Revolutionary Guards Corps"}


def test_no_sentences_or_no_definitions_give_nothing():
    assert defined("") == {}
    assert defined("Plain text (with an aside) and no abbreviation.") == {}


def test_each_passage_gains_the_form_it_lacks_only():
    pairs = {"NDF": "National Defense Forces", "IRGC": "Islamic Revolutionary Guards Corps"}
    texts = ["8,000 NDF members joined.",
             "The national  defense\nforces grew, with IRGC-trained officers.",
             "The National Defense Forces (NDF) were set up.",
             "NDFX and BNDF are other names."]
    out = token_texts(texts, pairs)
    assert out[0] == texts[0] + "\nNational Defense Forces"
    assert out[1] == texts[1] + "\nNDF Islamic Revolutionary Guards Corps"  # long form across a line break
    assert out[2] == texts[2]  # both forms already there
    assert out[3] == texts[3]  # not the abbreviation as a word
    assert token_texts(texts, {}) == texts


def test_indexing_with_abbreviations_lets_bm25_match_the_long_form(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "report.txt").write_text(REPORT, encoding="utf-8")
    folder = tmp_path / "index"
    question = "How many National Defense Forces members were incorporated?"

    def late_passage_score(data) -> float:
        row = next(i for i, p in enumerate(data.passages) if "8,000" in p.text and "(NDF)" not in p.text)
        return float(data.bm25.scores(question)[row])

    update_index(docs, folder, FakeEmbedder(), 200, 40)
    plain = store.load(folder)
    assert "bm25_abbreviations" not in plain.manifest["splitter"]
    before = late_passage_score(plain)
    passages = [(p.doc, p.start, p.end, p.text) for p in plain.passages]

    report = update_index(docs, folder, FakeEmbedder(), 200, 40, acronyms=True)
    assert report.wrote and "splitter settings changed" in report.reason
    data = store.load(folder)
    assert data.manifest["splitter"]["bm25_abbreviations"] == "schwartz-hearst"
    assert late_passage_score(data) > before
    assert [(p.doc, p.start, p.end, p.text) for p in data.passages] == passages  # the passages are untouched
    assert not update_index(docs, folder, FakeEmbedder(), 200, 40, acronyms=True).wrote
    assert "splitter settings changed" in update_index(docs, folder, FakeEmbedder(), 200, 40).reason
