"""Sentence vectors pooled from their passage's forward pass: each text is embedded once."""

from __future__ import annotations

import json

import time

import numpy as np
import pytest

from conftest import FakeEmbedder
from qa.index import store
from qa.index.embedding import SentenceTransformerEmbedder, _pool_spans, bundled_model_path, mean_pooling
from qa.index.indexer import update_index
from qa.ingest.chunking import embedding_text


class PoolingFake(FakeEmbedder):
    """A pooling embedder whose vector of a span is the bag of words of exactly that span's text,
    so an index whose sentence vectors equal those of the sentences' own texts proves the spans
    pointed at the right characters. Spans starting at ``refuse_from`` or later come back NaN (as
    past a model's token limit)."""

    pools_sentences = True

    def __init__(self, refuse_from: int | None = None):
        super().__init__()
        self.refuse_from = refuse_from
        self.passage_texts: list[str] = []

    def encode_passages(self, texts, spans, batch_size=64, threads=0):
        self.passage_texts.extend(texts)
        vectors = FakeEmbedder.encode(self, texts)
        pooled = []
        for text, ss in zip(texts, spans):
            rows = np.full((len(ss), self.dim), np.nan, dtype=np.float32)
            for i, (a, b) in enumerate(ss):
                assert 0 <= a < b <= len(text)
                if self.refuse_from is None or a < self.refuse_from:
                    rows[i] = FakeEmbedder.encode(self, [text[a:b]])[0]
            pooled.append(rows)
        return vectors, pooled


def sentence_texts(folder) -> list[str]:
    data = store.load(folder)
    return [data.documents[int(d)].text[s:e] for _, d, s, e in data.sentences.tolist()]


@pytest.mark.parametrize("context", [False, True])
def test_pooled_sentence_vectors_are_those_of_the_sentences(tiny_docs, tmp_path, context):
    emb = PoolingFake()
    report = update_index(tiny_docs, tmp_path / "index", emb, 200, 40, embed_context=context)
    data = store.load(tmp_path / "index")
    assert report.embedded_sentences == 0  # every sentence pooled: no text embedded twice
    assert report.pooled_sentences == len({tuple(r) for r in data.sentences[:, 1:].tolist()})
    assert f"the vectors of their {report.pooled_sentences} sentences taken from the same pass)" in report.lines()[-1]
    assert emb.encoded == report.embedded_passages + len(data.sentences)  # the fake's span encodes
    want = FakeEmbedder().encode(sentence_texts(tmp_path / "index"))
    np.testing.assert_allclose(np.asarray(data.sentence_vectors), want, atol=1e-6)
    if context:  # titles and headings were embedded before passages, and the spans skipped them
        assert emb.passage_texts == [embedding_text(p) for p in data.passages]
        assert sum(t != p.text for t, p in zip(emb.passage_texts, data.passages)) >= 2


def test_sentences_the_pass_cannot_give_are_embedded_alone(tiny_docs, tmp_path):
    emb = PoolingFake(refuse_from=60)
    report = update_index(tiny_docs, tmp_path / "index", emb, 200, 40)
    vectors = np.asarray(store.load(tmp_path / "index").sentence_vectors)
    assert report.embedded_sentences > 0 and report.pooled_sentences > 0
    assert f", {report.embedded_sentences} sentences embedded alone)" in report.lines()[-1]
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(vectors, FakeEmbedder().encode(sentence_texts(tmp_path / "index")), atol=1e-6)


def test_switching_to_pooled_sentence_vectors_rebuilds_the_index(tiny_docs, tmp_path):
    update_index(tiny_docs, tmp_path / "index", FakeEmbedder(), 200, 40)
    report = update_index(tiny_docs, tmp_path / "index", PoolingFake(), 200, 40)
    assert report.reason and "splitter settings changed" in report.reason
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert manifest["splitter"]["sentence_vectors"] == "pooled from the passage"
    again = update_index(tiny_docs, tmp_path / "index", PoolingFake(), 200, 40)
    assert not again.wrote


def test_pool_spans_means_the_overlapping_tokens():
    tokens = np.array([[9, 9], [1, 0], [0, 1], [3, 3], [9, 9]], dtype=np.float32)  # [CLS] a b c [SEP]
    offsets = np.array([[0, 0], [0, 3], [4, 8], [9, 12], [0, 0]])
    got = _pool_spans(tokens, offsets, [(0, 8), (9, 12), (2, 5), (12, 20)], cut=False)
    np.testing.assert_allclose(got[0], np.array([1, 1]) / np.sqrt(2), atol=1e-6)  # a and b
    np.testing.assert_allclose(got[1], np.array([1, 1]) / np.sqrt(2), atol=1e-6)  # c alone
    np.testing.assert_allclose(got[2], np.array([1, 1]) / np.sqrt(2), atol=1e-6)  # touches a and b
    assert np.isnan(got[3]).all()  # no token inside
    cut = _pool_spans(tokens, offsets, [(4, 12), (9, 14)], cut=True)
    assert np.isfinite(cut[0]).all() and np.isnan(cut[1]).all()  # ends past the last token read


def test_mean_pooling_is_read_from_the_model_files(tmp_path):
    assert mean_pooling(bundled_model_path())
    (tmp_path / "1_Pooling").mkdir()
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True,
                                                                    "pooling_mode_mean_tokens": False}))
    assert not mean_pooling(tmp_path)
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode": "mean"}))
    assert mean_pooling(tmp_path)
    modules.append({"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    assert not mean_pooling(tmp_path)
    (tmp_path / "modules.json").write_text("{not json")
    assert not mean_pooling(tmp_path)


@pytest.fixture(scope="module")
def real():
    emb = SentenceTransformerEmbedder(backend="torch")
    emb.warm_up()
    return emb


def test_real_model_passage_vectors_unchanged_and_sentences_pooled(real):
    text = ("The Danube flows through ten countries and ends in the Black Sea. "
            "Coffee was first cultivated in Yemen in the 15th century. "
            "The volcano erupted in April 2010 and stopped air traffic.")
    cuts = [0, text.index("Coffee"), text.index("The volcano"), len(text)]
    spans = [(a, b) for a, b in zip(cuts, cuts[1:])]
    vectors, pooled = real.encode_passages([text, "A short second passage."], [spans, []])
    assert float(vectors[0] @ real.encode([text])[0]) > 0.9999
    assert pooled[1].shape == (0, real.dim)
    alone = real.encode([text[a:b] for a, b in spans])
    np.testing.assert_allclose(np.linalg.norm(pooled[0], axis=1), 1.0, atol=1e-5)
    # each pooled sentence is nearest to its own text embedded alone
    assert (np.argmax(pooled[0] @ alone.T, axis=1) == np.arange(3)).all()


def test_real_model_sentences_past_the_token_limit_are_left_to_embed_alone(real):
    words = " ".join(f"word{i}" for i in range(400))  # far past 256 tokens
    text = "A first sentence here. " + words + ". The last sentence."
    spans = [(0, 22), (23, 23 + len(words) + 1), (len(text) - 19, len(text))]
    _, pooled = real.encode_passages([text], [spans])
    assert np.isfinite(pooled[0][0]).all()
    assert np.isnan(pooled[0][1]).all() and np.isnan(pooled[0][2]).all()


def many_docs(folder, n=12):
    from conftest import write_docs

    return write_docs(folder, {f"d{i:02d}.txt": f"Report {i}\n\nThe river number {i} floods in spring. "
                               f"Farmers plant rice {i} weeks later. Fish return in autumn." for i in range(n)})


def last_read_waits_for(event, monkeypatch) -> None:
    """The last file of :func:`many_docs` is read only once ``event`` is set (by the embedding thread)."""
    from qa.ingest.parsing import Parser

    read = Parser.read

    def last_read_after(self, path, doc_id):
        if doc_id == "d11.txt":
            assert event.wait(120)
        return read(self, path, doc_id)

    monkeypatch.setattr(Parser, "read", last_read_after)


def test_documents_are_embedded_while_the_rest_are_read(tmp_path, monkeypatch):
    import threading

    from qa.index import embed_ahead
    from qa.ingest.parsing import Parser

    docs = many_docs(tmp_path / "docs")
    monkeypatch.setattr(embed_ahead, "AHEAD_PASSAGES", 2)
    embedded = threading.Event()
    emb = PoolingFake()
    encode = emb.encode_passages

    def encode_passages(texts, spans, batch_size=64, threads=0):
        out = encode(texts, spans, batch_size)
        embedded.set()
        return out

    emb.encode_passages = encode_passages
    read = Parser.read
    order = []

    def slow_last_read(self, path, doc_id):
        if doc_id == "d11.txt":  # the last file waits until documents read before it are embedded
            order.append(("embedded before the last read", embedded.wait(120)))
        return read(self, path, doc_id)

    monkeypatch.setattr(Parser, "read", slow_last_read)
    report = update_index(docs, tmp_path / "index", emb, 200, 40)
    assert order == [("embedded before the last read", True)]
    data = store.load(tmp_path / "index")
    assert report.embedded_passages == len(data.passages) == len(emb.passage_texts)  # each passage once
    np.testing.assert_allclose(np.asarray(data.passage_vectors), FakeEmbedder().encode([p.text for p in data.passages]),
                               atol=1e-6)
    np.testing.assert_allclose(np.asarray(data.sentence_vectors), FakeEmbedder().encode(sentence_texts(tmp_path / "index")),
                               atol=1e-6)


def test_reading_done_the_thread_stops_within_a_slice_and_the_indexer_embeds_the_rest(tmp_path, monkeypatch):
    """The start-up page stood on "reading document 9 of 9" for 13-26 s while the thread embedded a call of
    hundreds of passages: it now stops after the slice under way, and the rest is embedded with progress shown."""
    import threading

    from qa.index import embed_ahead

    docs = many_docs(tmp_path / "docs")
    monkeypatch.setattr(embed_ahead, "AHEAD_PASSAGES", 2)
    monkeypatch.setattr(embed_ahead, "AHEAD_SLICE", 1)
    started, ahead_calls = threading.Event(), []
    emb = PoolingFake()
    encode = emb.encode_passages

    def slow(texts, spans, batch_size=64, threads=0):
        if threading.current_thread().name == "qa-embed-ahead":
            ahead_calls.append(len(texts))
            started.set()
            time.sleep(0.3)
        return encode(texts, spans, batch_size)

    emb.encode_passages = slow
    last_read_waits_for(started, monkeypatch)
    steps = []
    report = update_index(docs, tmp_path / "index", emb, 200, 40, progress=lambda f, m: steps.append(m))
    assert ahead_calls and set(ahead_calls) == {1} and len(ahead_calls) < 12  # slices of one; stopped early
    assert "embedding passages" in steps  # the rest, with progress
    data = store.load(tmp_path / "index")
    assert report.embedded_passages == len(data.passages) == len(emb.passage_texts)  # each passage once
    np.testing.assert_allclose(np.asarray(data.passage_vectors), FakeEmbedder().encode([p.text for p in data.passages]),
                               atol=1e-6)


def test_while_the_model_loads_after_reading_the_progress_says_so(tmp_path, monkeypatch):
    """Reading done while the thread's first call still loads the model (torch and the weights, seconds): the
    step shown is the loading, not the last file read; then the indexer's embedding moves in several steps."""
    import threading

    from qa.index import embed_ahead

    docs = many_docs(tmp_path / "docs", n=150)
    monkeypatch.setattr(embed_ahead, "AHEAD_PASSAGES", 1)
    told = threading.Event()
    emb = PoolingFake()
    emb.loaded = False
    encode = emb.encode_passages

    def first_call_loads(texts, spans, batch_size=64, threads=0):
        if not emb.loaded:
            told.wait(60)  # "loading" until the indexer has said so
            emb.loaded = True
        return encode(texts, spans, batch_size)

    emb.encode_passages = first_call_loads
    steps = []

    def progress(fraction, message):
        steps.append((message, round(fraction, 2)))
        told.set() if message == "loading the embedding model" else None

    update_index(docs, tmp_path / "index", emb, 200, 40, batch_size=4, progress=progress)
    names = [m for m, _ in steps]
    assert names.index("loading the embedding model") > names.index("reading documents")
    assert len([f for m, f in steps if m == "embedding passages"]) > 1  # moves while it embeds


def test_only_changed_documents_are_embedded_ahead(tmp_path, monkeypatch):
    from qa.index import embed_ahead

    monkeypatch.setattr(embed_ahead, "AHEAD_PASSAGES", 1)
    docs = many_docs(tmp_path / "docs")
    update_index(docs, tmp_path / "index", PoolingFake(), 200, 40)
    (docs / "d03.txt").write_text("Report 3\n\nA new text about bridges. They open in May.", encoding="utf-8")
    emb = PoolingFake()
    report = update_index(docs, tmp_path / "index", emb, 200, 40)
    assert report.changed == ["d03.txt"] and report.embedded_passages == 1
    assert emb.passage_texts == ["Report 3\n\nA new text about bridges. They open in May."]


def test_a_failure_while_reading_ahead_falls_back_to_embedding_after(tmp_path, caplog, monkeypatch):
    import threading

    from qa.index import embed_ahead

    docs = many_docs(tmp_path / "docs")
    monkeypatch.setattr(embed_ahead, "AHEAD_PASSAGES", 2)
    emb = PoolingFake()
    encode = emb.encode_passages
    failed = threading.Event()

    def fail_once(texts, spans, batch_size=64, threads=0):
        if not failed.is_set():
            failed.set()
            raise RuntimeError("out of memory")
        return encode(texts, spans, batch_size)

    emb.encode_passages = fail_once
    last_read_waits_for(failed, monkeypatch)
    with caplog.at_level("WARNING", logger="qa"):
        report = update_index(docs, tmp_path / "index", emb, 200, 40)
    assert "embedding while reading failed (out of memory)" in caplog.text
    data = store.load(tmp_path / "index")
    assert report.embedded_passages == len(data.passages) == len(emb.passage_texts)
    np.testing.assert_allclose(np.asarray(data.passage_vectors), FakeEmbedder().encode([p.text for p in data.passages]),
                               atol=1e-6)
