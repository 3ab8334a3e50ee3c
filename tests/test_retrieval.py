"""Retrieval: dense, BM25 and hybrid fusion; citations; the document filter; one model call a query."""

from __future__ import annotations

import numpy as np
import pytest

from qa.errors import SettingsError
from qa.retrieval import Ranked, rrf

MODES = ["dense", "bm25", "hybrid"]


def ranked(*ids) -> Ranked:
    return Ranked(np.array(ids, dtype=np.int64), np.linspace(1, 0, len(ids)).astype(np.float32))


def test_rrf_order_and_scores_by_hand():
    fused = rrf({"dense": ranked(3, 1, 2), "bm25": ranked(1, 4)}, k=10, rrf_k=60)
    # 1: 1/62 + 1/61, 3: 1/61, 4: 1/62, 2: 1/63
    assert [p for p, _, _ in fused] == [1, 3, 4, 2]
    scores = dict((p, s) for p, s, _ in fused)
    assert scores[1] == pytest.approx(1 / 62 + 1 / 61)
    assert scores[3] == pytest.approx(1 / 61) and scores[2] == pytest.approx(1 / 63)
    assert fused[0][2] == {"dense": 2, "bm25": 1}


def test_rrf_ties_break_by_best_rank_then_passage():
    fused = rrf({"dense": ranked(6, 5, 9), "bm25": ranked(5, 6, 8)}, k=3, rrf_k=60)
    assert [p for p, _, _ in fused] == [5, 6, 8]  # 5 and 6 tie; 8 and 9 tie (rank 3 each)


@pytest.mark.parametrize("mode", MODES)
def test_hits_carry_rank_score_mode_and_exact_citations(fake_pipeline, mode):
    hits = fake_pipeline.search("Which river ends in the Black Sea?", k=3, mode=mode)
    assert hits and [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert all(h.mode == mode for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].passage.doc == "rivers.txt"
    data = fake_pipeline.data
    for h in hits:
        p = h.passage
        assert data.document(p.doc).text[p.start:p.end] == p.text
        assert p.title == data.document(p.doc).title and data.passages[h.index] is p
        d = h.to_dict()
        assert {"rank", "score", "mode", "doc", "title", "section", "start", "end", "text"} <= set(d)


@pytest.mark.parametrize("mode", MODES)
def test_document_filter_restricts_results(fake_pipeline, mode):
    hits = fake_pipeline.search("Which river ends in the Black Sea?", k=5, mode=mode, docs=["sub/coffee.txt"])
    assert {h.passage.doc for h in hits} <= {"sub/coffee.txt"}
    assert mode == "bm25" or hits  # BM25 returns only passages sharing a word with the question


def test_unknown_document_in_filter_is_a_clear_error(fake_pipeline):
    with pytest.raises(SettingsError, match="unknown document id"):
        fake_pipeline.search("river", docs=["nope.txt"])


def test_bm25_returns_only_passages_sharing_a_word(fake_pipeline):
    assert fake_pipeline.search("zeppelin quasar", mode="bm25") == []
    assert fake_pipeline.search("zeppelin quasar", mode="dense")  # dense always returns neighbours


def test_hybrid_ranks_record_each_retriever(fake_pipeline):
    hits = fake_pipeline.search("Eyjafjallajokull volcano flights", k=2, mode="hybrid")
    assert hits[0].passage.doc == "volcanoes.md"
    assert set(hits[0].ranks) <= {"dense", "bm25"} and hits[0].ranks


@pytest.mark.parametrize("mode, calls", [("dense", 1), ("hybrid", 1), ("bm25", 0)])
def test_search_embeds_the_question_at_most_once(fake_pipeline, fake_embedder, mode, calls):
    fake_pipeline.data  # build the index first
    before = fake_embedder.calls
    fake_pipeline.search("When did the volcano erupt?", mode=mode)
    assert fake_embedder.calls - before == calls


@pytest.mark.parametrize("mode", MODES)
def test_ask_embeds_the_question_once(fake_pipeline, fake_embedder, mode):
    fake_pipeline.data
    before = fake_embedder.calls
    fake_pipeline.ask("When did the volcano erupt?", mode=mode)
    assert fake_embedder.calls - before == 1


def test_k_larger_than_the_index_returns_every_passage(fake_pipeline):
    n = len(fake_pipeline.data.passages)
    hits = fake_pipeline.search("river", k=1000, mode="dense")
    assert len(hits) == n and len({h.index for h in hits}) == n
