"""Updates that cost what changed: an update appends a segment or only rewrites the manifest, and the
index it leaves answers exactly as one written in one go (BM25 statistics over every segment, dense
search across segments, removed documents never found). An index of format 1 still loads."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, FakeEmbedder
from qa.index import store
from qa.index.indexer import update_index
from qa.ingest.titles import RULE as TITLE_RULE
from qa.index import lexical
from qa.index.lexical import K1, B, BM25Index, TokenTable, tokenize
from qa.retrieval import retrieve

_spec = importlib.util.spec_from_file_location("bench_updates", ROOT / "bench" / "updates.py")
updates = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(updates)

DIM = 32
PASSAGES = 20_000
SIZE, OVERLAP = updates.CHUNK, updates.OVERLAP


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


def _index(docs: Path, folder: Path, **kw):
    return update_index(docs, folder, FakeEmbedder(DIM), SIZE, OVERLAP, **kw)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A synthetic collection of 20,000 passages (200 documents) and its index of one segment."""
    root = tmp_path_factory.mktemp("synthetic")
    updates.synthetic_collection(root / "docs", root / "index", PASSAGES, dim=DIM, model_id=FakeEmbedder.model_id,
                                 words=6)
    return root


@pytest.fixture
def big(pristine, tmp_path):
    shutil.copytree(pristine / "docs", tmp_path / "docs")
    shutil.copytree(pristine / "index", tmp_path / "index")
    return tmp_path / "docs", tmp_path / "index"


NEW_TEXT = "Quokkas on Rottnest\n\nThe quokka is a small wallaby that lives on Rottnest Island near Perth.\n"


def test_adding_a_document_appends_a_segment_and_rewrites_nothing_else(big):
    docs, folder = big
    [base] = store.load(folder).segments
    before = _files(folder)
    (docs / "quokka.txt").write_text(NEW_TEXT, encoding="utf-8")
    report = _index(docs, folder)
    assert report.added == ["quokka.txt"] and report.embedded_passages == 1
    after = _files(folder)
    written = sorted(n for n in after if before.get(n) != after[n])
    data = store.load(folder)
    assert data.segments[0] == base and len(data.segments) == 2
    new = data.segments[1]
    assert {n.split("/")[0] for n in written} == {new, "manifest.json", ".lock", store.VERIFIED}  # the record: new files
    assert all(before[n] == after[n] for n in before if n.startswith(base))  # same inodes, not touched
    assert len(data.passages) == PASSAGES + 1
    hits = retrieve(data, "quokka wallaby Rottnest", None, 3, "bm25").hits
    assert hits[0].passage.doc == "quokka.txt"
    assert data.document("quokka.txt").text[hits[0].passage.start:hits[0].passage.end] == hits[0].passage.text


def test_removing_a_document_rewrites_only_the_manifest_and_it_is_never_found_again(big):
    docs, folder = big
    old = store.load(folder)
    gone = old.passage_ids_for(["doc00007.txt"])
    words = old.passages[int(gone[3])].text
    before = _files(folder)
    (docs / "doc00007.txt").unlink()
    report = _index(docs, folder)
    assert report.removed == ["doc00007.txt"] and report.embedded_passages == 0
    after = _files(folder)
    assert sorted(n for n in after if before.get(n) != after[n]) == [".lock", "manifest.json"]
    assert set(after) - {".lock"} == set(before) - {".lock"}  # no file made or removed
    data = store.load(folder)
    assert len(data.passages) == PASSAGES - len(gone) and "doc00007.txt" not in data.doc_index
    for mode, qvec in (("bm25", None), ("dense", np.asarray(old.passage_vectors[gone[3]])),
                       ("hybrid", np.asarray(old.passage_vectors[gone[3]]))):
        hits = retrieve(data, words, qvec, 20, mode).hits
        assert hits and all(h.passage.doc != "doc00007.txt" for h in hits)
        assert all(data.passages[h.row] is h.passage for h in hits)


def _results(data, queries) -> tuple[list, np.ndarray]:
    """What each query finds (passage, ranks) and the scores, for every mode, with and without a filter."""
    found, scores = [], []
    for text, qvec in queries:
        for mode in ("dense", "bm25", "hybrid"):
            for docs in (None, ["doc00003.txt", "quokka.txt", "doc00150.txt"]):
                r = retrieve(data, text, qvec, 10, mode, docs).hits
                found.append([(h.passage.doc, h.passage.start, h.passage.end, h.ranks) for h in r])
                scores.extend(h.score for h in r)
    return found, np.array(scores)


def assert_same_results(a, b) -> None:
    """The same passages in the same order with the same scores (up to float32 rounding: FAISS sums
    an inner product in an order that depends on where the vector sits in its index)."""
    assert a[0] == b[0]
    np.testing.assert_allclose(a[1], b[1], rtol=0, atol=1e-6)


def test_a_segmented_index_answers_exactly_as_the_same_index_merged_into_one(big, tmp_path, monkeypatch):
    docs, folder = big
    merged = tmp_path / "merged"
    shutil.copytree(folder, merged)
    (docs / "quokka.txt").write_text(NEW_TEXT, encoding="utf-8")
    (docs / "doc00042.txt").unlink()
    _index(docs, folder)
    monkeypatch.setattr(store, "merge_plan", lambda *a: None)  # the same update, as one rewrite
    _index(docs, merged)
    a, b = store.load(folder), store.load(merged)
    assert len(a.segments) == 2 and len(b.segments) == 1
    assert [d.id for d in a.documents] == [d.id for d in b.documents]
    assert a.passages == b.passages
    np.testing.assert_array_equal(a.sentences, b.sentences)
    np.testing.assert_array_equal(np.asarray(a.sentence_vectors), np.asarray(b.sentence_vectors))
    np.testing.assert_array_equal(np.asarray(a.passage_vectors), np.asarray(b.passage_vectors))
    rng = np.random.default_rng(3)
    queries = [(a.passages[i].text[:80], np.asarray(a.passage_vectors[i])) for i in rng.integers(0, len(a.passages), 5)]
    queries.append(("quokka wallaby", FakeEmbedder(DIM).encode_query("quokka wallaby")))
    assert_same_results(_results(a, queries), _results(b, queries))


def test_segments_pile_up_to_the_limit_then_the_small_ones_are_merged(big, monkeypatch):
    docs, folder = big
    [base] = store.load(folder).segments
    for i in range(store.MAX_SEGMENTS):
        (docs / f"new{i}.txt").write_text(NEW_TEXT.replace("quokka", f"quokka{i}"), encoding="utf-8")
        _index(docs, folder)
    data = store.load(folder)
    assert len(data.segments) == 2 and data.segments[0] == base  # the small ones were merged into one
    assert sorted(d.id for d in data.documents if d.id.startswith("new")) == [f"new{i}.txt" for i in range(8)]
    hits = retrieve(data, "quokka3 wallaby", None, 1, "bm25").hits
    assert hits[0].passage.doc == "new3.txt"


def test_token_passage_counts_are_the_same_by_sort_and_by_scipy(monkeypatch):
    rng = np.random.default_rng(3)
    lengths = rng.integers(0, 30, 500)
    lengths[[0, 7, 499]] = 0  # passages without a token, first and last among them
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    ids = rng.zipf(1.3, int(offsets[-1])).clip(max=300).astype(np.int32) - 1
    kept = ids.copy()
    made = {}
    for label, sparse_from in (("sort", 10**12), ("scipy", 0)):
        monkeypatch.setattr(lexical, "SPARSE_FROM", sparse_from)
        made[label] = lexical.token_passage_counts(ids, offsets, 300)
        assert np.array_equal(ids, kept)  # the caller's tokens are left as they were
    for a, b in zip(made["sort"], made["scipy"]):
        np.testing.assert_array_equal(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64))
    df, doc, tf = made["sort"]
    assert tf.sum() == len(ids) and df.sum() == len(doc) and len(df) == 300
    words = 5  # the 6th token id (zero-based 5): its passages in order, with how often it occurs in each
    lo = int(df[:words].sum())
    expected = [(i, int(np.sum(ids[offsets[i]:offsets[i + 1]] == words))) for i in range(500)]
    assert list(zip(doc[lo:lo + df[words]].tolist(), tf[lo:lo + df[words]].tolist())) == [e for e in expected if e[1]]


@pytest.mark.parametrize("sparse_from", [10**12, 0], ids=["sort", "scipy"])
def test_bm25_over_segments_scores_as_one_bm25s_index_of_the_live_passages(monkeypatch, sparse_from):
    import bm25s

    monkeypatch.setattr(lexical, "SPARSE_FROM", sparse_from)

    rng = np.random.default_rng(5)
    texts = [" ".join(updates._words(rng, int(rng.integers(0, 40)))) for _ in range(600)] + ["the of and", ""]
    rng.shuffle(texts)
    tables = [TokenTable.of(texts[:250]), TokenTable.of(texts[250:500]), TokenTable.of(texts[500:])]
    # live passages: 0-99 and 150-249 of the first table, all of the second, 10-101 of the third
    runs = [(tables[0], 0, 100), (tables[0], 150, 250), (tables[1], 0, 250), (tables[2], 10, 102)]
    live = texts[0:100] + texts[150:250] + texts[250:500] + texts[510:602]
    index = BM25Index.from_tokens(TokenTable.concat(runs))
    model = bm25s.BM25(k1=K1, b=B)
    model.index(tokenize(live), show_progress=False)
    reference = BM25Index(model)
    assert index.num_docs == reference.num_docs == len(live)
    for q in [live[7], live[300], " ".join(updates._words(rng, 5)), "the", texts[120]]:
        a, b = index.scores(q), reference.scores(q)
        np.testing.assert_array_equal(a, b)
        assert np.argsort(-a, kind="stable")[:10].tolist() == np.argsort(-b, kind="stable")[:10].tolist()
        words = tokenize([q])[0]
        assert index.knows(q.split()) == reference.knows(q.split())
        assert [index.idf_of(t) for t in words] == [reference.idf_of(t) for t in words]
    assert set(index.vocab) == set(reference.vocab)  # tokens of removed passages only are not in it


def _as_format_1(folder: Path) -> None:
    """Turn a one-segment index into the layout this program wrote before segments (format 1):
    one ``gen-*`` folder with bm25s' own arrays, and a manifest naming it."""
    import bm25s

    manifest = store.read_manifest(folder)
    [segment] = manifest["segments"]
    generation = "gen-20240101000000-0123abcd"
    gen = folder / generation
    (folder / segment["name"]).rename(gen)
    (gen / ".qa-segment").rename(gen / ".qa-generation")
    data = [json.loads(line) for line in (gen / "documents.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = {d["id"]: d["text"] for d in data}
    rows = [json.loads(line) for line in (gen / "passages.jsonl").read_text(encoding="utf-8").splitlines()]
    model = bm25s.BM25(k1=K1, b=B)
    model.index(tokenize([texts[r["doc"]][r["start"]:r["end"]] for r in rows]), show_progress=False)
    model.save(str(gen / "bm25"))
    for name in TokenTable.FILES:
        (gen / name).unlink()
    del manifest["segments"], manifest["titles"]  # neither was recorded then
    for info in manifest["documents"].values():
        del info["segment"]
    manifest.update(format=1, generation=generation, sentence_count=sum(1 for _ in np.load(gen / "sentences.npy")),
                    files={p.relative_to(gen).as_posix(): store.sha256_file(p) for p in gen.rglob("*") if p.is_file()})
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def test_an_index_of_format_1_loads_answers_the_same_and_is_rewritten_by_the_next_update(tmp_path):
    from conftest import TINY_DOCS, write_docs

    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    folder, legacy = tmp_path / "index", tmp_path / "legacy"
    _index(docs, folder)
    shutil.copytree(folder, legacy)
    _as_format_1(legacy)
    a, b = store.load(folder), store.load(legacy)
    assert b.manifest["format"] == 1 and b.segments == ["gen-20240101000000-0123abcd"]
    queries = [(p.text[:60], np.asarray(a.passage_vectors[i])) for i, p in enumerate(a.passages[:4])]
    assert_same_results(_results(a, queries), _results(b, queries))
    shutil.copytree(legacy, tmp_path / "legacy-2")
    # its titles are found again by today's rules: rewritten in today's format, nothing embedded again
    rewritten = _index(docs, tmp_path / "legacy-2")
    assert rewritten.wrote and rewritten.embedded_passages == 0 and not rewritten.reason
    again = store.load(tmp_path / "legacy-2")
    assert again.manifest["format"] == store.FORMAT_VERSION and again.manifest["titles"] == TITLE_RULE
    assert_same_results(_results(a, queries), _results(again, queries))
    assert _index(docs, tmp_path / "legacy-2").wrote is False
    # an update with a change rewrites it too, the others' vectors carried over
    (docs / "tea.md").write_text("# Tea\n\nTea reached Europe in the 17th century.\n", encoding="utf-8")
    report = _index(docs, legacy)
    assert report.added == ["tea.md"] and report.embedded_passages == 1
    data = store.load(legacy)
    assert data.manifest["format"] == store.FORMAT_VERSION and len(data.segments) == 1
    assert sorted(p.name for p in legacy.iterdir() if p.name != store.VERIFIED) == sorted(
        [".lock", data.segments[0], "manifest.json"])
