"""Retrieval: dense, BM25 and hybrid fusion; citations; the document filter; one model call a query."""

from __future__ import annotations

import re
import numpy as np
import pytest

from conftest import FakeEmbedder, write_docs
from qa.errors import SettingsError
from qa.config import Settings
from qa.pipeline import Pipeline
from qa.retrieval import Ranked, fuse, rrf

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


def scored(pairs) -> Ranked:
    return Ranked(np.array([p for p, _ in pairs], dtype=np.int64), np.array([s for _, s in pairs], dtype=np.float32))


def test_weighted_rrf_at_one_half_is_plain_rrf():
    dense, lexical = ranked(3, 1, 2, 7), ranked(1, 4, 7)
    plain = rrf({"dense": dense, "bm25": lexical}, k=10)
    assert fuse(dense, lexical, 10, "rrf", 0.5) == plain


@pytest.mark.parametrize("kind", ["rrf", "minmax", "zscore", "tmm"])
def test_a_fusion_weight_of_one_or_zero_keeps_one_side_s_order_first(kind):
    dense = scored([(3, 0.9), (1, 0.8), (2, 0.5)])
    lexical = scored([(2, 12.0), (4, 7.0), (1, 1.0)])
    only_dense = [p for p, _, _ in fuse(dense, lexical, 10, kind, 1.0)]
    only_bm25 = [p for p, _, _ in fuse(dense, lexical, 10, kind, 0.0)]
    assert only_dense[0] == 3 and [p for p in only_dense if p in (3, 1, 2)] == [3, 1, 2]
    assert only_bm25[0] == 2 and [p for p in only_bm25 if p in (2, 4, 1)] == [2, 4, 1]


def test_minmax_fusion_by_hand():
    dense = scored([(3, 0.9), (1, 0.7), (2, 0.5)])   # normalised: 3 -> 1, 1 -> 0.5, 2 -> 0
    lexical = scored([(1, 10.0), (4, 6.0), (2, 2.0)])  # normalised: 1 -> 1, 4 -> 0.5, 2 -> 0
    fused = fuse(dense, lexical, 10, "minmax", 0.3)
    scores = {p: s for p, s, _ in fused}
    assert scores[1] == pytest.approx(0.3 * 0.5 + 0.7 * 1.0)
    assert scores[3] == pytest.approx(0.3 * 1.0)          # not among BM25's: its floor, 0
    assert scores[4] == pytest.approx(0.7 * 0.5)
    assert [p for p, _, _ in fused] == [1, 4, 3, 2]
    assert fused[0][2] == {"dense": 2, "bm25": 1}


def test_minmax_fusion_with_real_scores_by_hand():
    """A passage one side did not return gets that side's real score on the side's scale, not its floor."""
    dense = scored([(3, 0.9), (1, 0.7), (2, 0.5)])   # scale: (s - 0.5) / 0.4
    lexical = scored([(1, 10.0), (4, 6.0), (2, 2.0)])  # scale: (s - 2) / 8
    real = {"dense": {4: 0.6}.__getitem__, "bm25": {3: 4.0}.__getitem__}
    scorers = {side: (lambda ids, f=f: np.array([f(int(i)) for i in ids])) for side, f in real.items()}
    fused = fuse(dense, lexical, 10, "minmax", 0.3, scorers=scorers)
    scores = {p: s for p, s, _ in fused}
    assert scores[3] == pytest.approx(0.3 * 1.0 + 0.7 * 0.25)  # BM25 4.0: 0.25 where its floor gave 0
    assert scores[4] == pytest.approx(0.3 * 0.25 + 0.7 * 0.5)  # dense 0.6: 0.25 where its floor gave 0
    assert scores[1] == pytest.approx(0.3 * 0.5 + 0.7 * 1.0) and scores[2] == pytest.approx(0.0)
    assert [p for p, _, _ in fused] == [1, 3, 4, 2]  # 3 now above 4: the floor put it below
    assert fused[1][2] == {"dense": 1}  # ranks still say which side returned it
    only_bm25 = fuse(dense, lexical, 10, "minmax", 0.3, scorers={"bm25": scorers["bm25"]})
    assert {p: s for p, s, _ in only_bm25}[4] == pytest.approx(0.7 * 0.5)  # no dense scorer: dense's floor
    assert fuse(dense, lexical, 10, "rrf", 0.3, scorers=scorers) == fuse(dense, lexical, 10, "rrf", 0.3)


def test_zscore_fusion_scores_a_one_sided_candidate_by_its_real_score():
    dense = scored([(1, 0.9), (2, 0.7), (3, 0.5)])
    lexical = scored([(4, 9.0), (2, 3.0)])
    bm25_real = {1: 0.0, 3: 2.0}
    fused = fuse(dense, lexical, 10, "zscore", 0.5,
                 scorers={"bm25": lambda ids: np.array([bm25_real[int(i)] for i in ids])})
    d, b = np.array([0.9, 0.7, 0.5]), np.array([9.0, 3.0])
    z_d = {p: (v - d.mean()) / d.std() for p, v in zip((1, 2, 3), d)}
    z_b = {p: (v - b.mean()) / b.std() for p, v in ((4, 9.0), (2, 3.0), (1, 0.0), (3, 2.0))}
    z_d[4] = z_d[3]  # no dense scorer: the dense floor, its lowest candidate
    assert {p: s for p, s, _ in fused} == pytest.approx({p: 0.5 * z_d[p] + 0.5 * z_b[p] for p in (1, 2, 3, 4)})


def test_zscore_scale_of_bm25_counts_the_passages_it_did_not_return_by_hand():
    """BM25 returns only passages sharing a word with the query; the rest of its first ``depth`` score 0, and its
    scale counts them: one match of 6.0 among 4 is z = (6 - 1.5) / sd([6, 0, 0, 0])."""
    dense = scored([(1, 0.9), (2, 0.7), (3, 0.5)])
    lexical = scored([(4, 6.0)])
    fused = {p: s for p, s, _ in fuse(dense, lexical, 10, "zscore", 0.5, depth=4, searched=10)}
    b = np.array([6.0, 0.0, 0.0, 0.0])
    z_b = {4: (6.0 - b.mean()) / b.std(), "floor": (0.0 - b.mean()) / b.std()}
    d = np.array([0.9, 0.7, 0.5])
    z_d = {p: (v - d.mean()) / d.std() for p, v in zip((1, 2, 3), d)}
    assert fused[4] == pytest.approx(0.5 * z_d[3] + 0.5 * z_b[4])  # not among dense's: its floor
    assert fused[1] == pytest.approx(0.5 * z_d[1] + 0.5 * z_b["floor"])
    # without knowing how many passages BM25 searched, its one score has no spread and adds nothing
    assert {p: s for p, s, _ in fuse(dense, lexical, 10, "zscore", 0.5, depth=4)}[4] == pytest.approx(0.5 * z_d[3])


def test_a_name_only_bm25_finds_leads_the_hybrid_search(tmp_path):
    """A name in one passage alone, which the embedding does not know: BM25 returns that passage only, and hybrid
    search must put it first (it fell below every dense candidate when BM25's scale was its one score)."""

    class NameBlind(FakeEmbedder):
        def encode(self, texts, batch_size: int = 64, progress: bool = False) -> np.ndarray:
            return super().encode([re.sub(r"(?i)priya|natarajan", "", t) for t in texts], batch_size, progress)

    files = {f"note{i:02d}.txt": f"Note {i}\n\nThe committee met on day {i} and discussed the harbour's budget."
             for i in range(30)}
    files["bakery.txt"] = "Bakery\n\nThe owner, Priya Natarajan, opened the bakery in Leeds in 2015."
    qa = Pipeline(Settings(docs=write_docs(tmp_path / "docs", files), index=tmp_path / "index"), embedder=NameBlind())
    assert [h.passage.doc for h in qa.search("Priya Natarajan", k=3, mode="bm25")] == ["bakery.txt"]
    assert qa.search("Priya Natarajan", k=3, mode="dense")[0].passage.doc != "bakery.txt"
    assert qa.search("Priya Natarajan", k=3, mode="hybrid")[0].passage.doc == "bakery.txt"
    assert qa.search("Who opened the bakery owned by Priya Natarajan?", k=3)[0].passage.doc == "bakery.txt"


def test_fusion_with_one_side_empty_keeps_the_other_order():
    dense = scored([(5, 0.4), (6, 0.3)])
    for kind in ("rrf", "minmax", "zscore", "tmm"):
        assert [p for p, _, _ in fuse(dense, scored([]), 10, kind, 0.3)] == [5, 6]


def test_an_unknown_fusion_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown fusion"):
        fuse(ranked(1), ranked(1), 3, "borda")
    with pytest.raises(SettingsError, match="unknown fusion"):
        Settings(fusion="borda")
    with pytest.raises(SettingsError, match="fusion_weight"):
        Settings(fusion_weight=1.5)
    assert Settings.from_env({"QA_FUSION": "zscore", "QA_FUSION_WEIGHT": "0.25"}).fusion_weight == 0.25


def test_the_fusion_setting_reaches_hybrid_search(fake_pipeline):
    question = "Which river ends in the Black Sea?"
    dense = [h.passage for h in fake_pipeline.search(question, k=5, mode="dense")]
    lexical = [h.passage for h in fake_pipeline.search(question, k=5, mode="bm25")]
    fake_pipeline.settings = fake_pipeline.settings.replace(fusion="minmax", fusion_weight=1.0)
    assert [h.passage for h in fake_pipeline.search(question, k=5, mode="hybrid")][:len(dense)] == dense
    fake_pipeline.settings = fake_pipeline.settings.replace(fusion="minmax", fusion_weight=0.0)
    assert [h.passage for h in fake_pipeline.search(question, k=5, mode="hybrid")][:len(lexical)] == lexical


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
        assert p.title == data.document(p.doc).title and data.passages[h.row] is p
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
    # the default passage reader needs no question vector, so BM25 alone embeds nothing
    assert fake_embedder.calls - before == (0 if mode == "bm25" else 1)


def test_the_sentence_reader_embeds_a_bm25_question_once_for_its_sentence_ranking(tmp_path, tiny_docs, fake_embedder):
    qa = Pipeline(Settings(docs=tiny_docs, index=tmp_path / "index", chunk_size=200, chunk_overlap=40,
                           reader="sentence"), embedder=fake_embedder)
    qa.data
    before = fake_embedder.calls
    qa.ask("When did the volcano erupt?", mode="bm25")
    assert fake_embedder.calls - before == 1


def test_k_larger_than_the_index_returns_every_passage(fake_pipeline):
    n = len(fake_pipeline.data.passages)
    hits = fake_pipeline.search("river", k=1000, mode="dense")
    assert len(hits) == n and len({h.row for h in hits}) == n


def test_queries_that_are_not_questions_are_fused_with_their_own_weight(fake_pipeline):
    claim, question = "The Danube ends in the Black Sea.", "Which river ends in the Black Sea?"

    def passages(text, mode):
        return [h.passage for h in fake_pipeline.search(text, k=5, mode=mode)]

    from qa.index.question_form import is_question

    # question_model auto: claims are encoded by the statement encoder
    fake_pipeline.embedder.encodes_as_statement = lambda text: not is_question(text)
    fake_pipeline.settings = fake_pipeline.settings.replace(fusion="minmax", fusion_weight=0.0,
                                                            statement_fusion_weight=1.0)
    dense, lexical = passages(claim, "dense"), passages(question, "bm25")
    assert passages(claim, "hybrid")[:len(dense)] == dense  # the claim: the statement weight, all dense
    assert passages(question, "hybrid")[:len(lexical)] == lexical  # the question: fusion_weight, all BM25
    fake_pipeline.embedder.encodes_as_statement = lambda text: False  # one encoder for every query: one weight
    claim_lexical = passages(claim, "bm25")
    assert passages(claim, "hybrid")[:len(claim_lexical)] == claim_lexical
    assert dense != claim_lexical  # the two orders differ, so the route is what decided
    with pytest.raises(SettingsError, match="statement_fusion_weight"):
        Settings(statement_fusion_weight=-0.1)
    assert Settings.from_env({"QA_STATEMENT_FUSION_WEIGHT": "0.4"}).statement_fusion_weight == 0.4


def test_hybrid_scores_every_candidate_on_both_sides_when_told(fake_pipeline):
    """With ``fusion_missing="score"`` candidates one side returned alone are scored by the other side too: a
    passage's fused score is the weighted sum of its real z-scores, computed here from the whole index (z over each
    side's first 2 candidates); by default (``floor``) they get the other side's lowest candidate's."""
    from qa.retrieval import dense_scorer

    question = "Which European river flows through ten countries of Europe?"
    fake_pipeline.settings = fake_pipeline.settings.replace(candidates=2, fusion="zscore", fusion_weight=0.5,
                                                            fusion_missing="score")
    data = fake_pipeline.data
    qvec = fake_pipeline.embedder.encode_query(question)
    rows = np.arange(len(data.passages))
    dense_all = dense_scorer(data, qvec)(rows)
    found = {h.row: h.score for h in fake_pipeline.search(question, k=10, mode="dense")}
    assert dense_all[list(found)] == pytest.approx(list(found.values()), abs=1e-5)  # the dense search's scores
    bm25_all = data.bm25.scores(question)
    z = {}
    for name, s, top in (("dense", dense_all, np.sort(dense_all)[::-1][:2]),
                         ("bm25", bm25_all, np.sort(bm25_all[bm25_all > 0])[::-1][:2])):
        top = top.astype(np.float64)
        z[name] = (s - top.mean()) / top.std()
    hits = fake_pipeline.search(question, k=10, mode="hybrid")
    one_sided = [h for h in hits if "bm25" not in h.ranks]
    assert one_sided  # BM25 returns only passages sharing a word; dense returns every passage
    for h in hits:
        assert h.score == pytest.approx(0.5 * z["dense"][h.row] + 0.5 * z["bm25"][h.row], abs=1e-5)
    assert Settings().fusion_missing == "floor"
    fake_pipeline.settings = fake_pipeline.settings.replace(fusion_missing="floor")
    floored = {h.row: h.score for h in fake_pipeline.search(question, k=10, mode="hybrid")}
    for h in one_sided:  # the floor: BM25's lower candidate of two, z = -1; its real score, 0, is below it
        assert floored[h.row] == pytest.approx(0.5 * z["dense"][h.row] - 0.5, abs=1e-5)
        assert floored[h.row] > h.score
    with pytest.raises(SettingsError, match="fusion_missing"):
        Settings(fusion_missing="zero")
    assert Settings.from_env({"QA_FUSION_MISSING": "floor"}).fusion_missing == "floor"
