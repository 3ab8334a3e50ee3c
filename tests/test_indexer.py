"""Incremental indexing: only what changed is embedded again; model or splitter changes rebuild."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from conftest import FakeEmbedder
from qa.errors import NoDocumentsError
from qa.index import locks, store
from qa.ingest.chunking import SPLITTER_VERSION, split_passages, split_sentences
from qa.ingest.documents import load_folder
from qa.index.indexer import update_index
from qa.ingest.titles import RULE as TITLE_RULE


def index(docs, folder, embedder, size=200, overlap=40, **kw):
    return update_index(docs, folder, embedder, size, overlap, **kw)


def texts_of(doc_id, docs, size=200, overlap=40) -> int:
    """How many texts (passages and distinct sentences) embedding one document takes."""
    doc = next(d for d in load_folder(docs).documents if d.id == doc_id)
    passages = split_passages(doc, size, overlap)
    sentences = set()
    for s, e in split_sentences(doc.text):
        for p in passages:
            lo, hi = max(s, p.start), min(e, p.end)
            if hi - lo >= 2:
                sentences.add((lo, hi))
    return len(passages) + len(sentences)


@pytest.fixture
def folders(tmp_path, tiny_docs):
    return tiny_docs, tmp_path / "index"


def test_first_run_embeds_everything_once(folders, fake_embedder):
    docs, folder = folders
    report = index(docs, folder, fake_embedder)
    assert report.wrote and report.reason is None
    assert report.added == ["rivers.txt", "sub/coffee.txt", "volcanoes.md"]
    assert report.embedded_passages == report.passages == len(store.load(folder).passages)
    assert fake_embedder.encoded == sum(texts_of(d, docs) for d in report.added)
    assert any(line.startswith("indexed 3 documents") for line in report.lines())


def test_nothing_changed_embeds_nothing(folders, fake_embedder):
    docs, folder = folders
    index(docs, folder, fake_embedder)
    generation = store.load(folder).generation
    before = fake_embedder.encoded
    report = index(docs, folder, fake_embedder)
    assert not report.wrote and fake_embedder.encoded == before
    assert store.load(folder).generation == generation
    assert report.lines() == [f"index is up to date: 3 documents, {report.passages} passages"]


def test_changing_one_document_embeds_only_its_passages(folders, fake_embedder):
    docs, folder = folders
    index(docs, folder, fake_embedder)
    old = store.load(folder)
    (docs / "rivers.txt").write_text("Rivers\n\nThe Loire is the longest river in France. It ends at Nantes.\n",
                                     encoding="utf-8")
    before = fake_embedder.encoded
    report = index(docs, folder, fake_embedder)
    assert report.changed == ["rivers.txt"] and not report.added and not report.removed
    assert report.embedded_passages == sum(p.doc == "rivers.txt" for p in store.load(folder).passages)
    assert fake_embedder.encoded - before == texts_of("rivers.txt", docs)
    assert "changed 1: rivers.txt" in report.lines()
    new = store.load(folder)
    for doc_id in ("sub/coffee.txt", "volcanoes.md"):  # vectors carried over, not recomputed
        np.testing.assert_array_equal(new.passage_vectors[new.passage_ids_for([doc_id])],
                                      old.passage_vectors[old.passage_ids_for([doc_id])])


def test_added_and_removed_documents_are_reported(folders, fake_embedder):
    docs, folder = folders
    index(docs, folder, fake_embedder)
    (docs / "sub" / "coffee.txt").unlink()
    (docs / "tea.md").write_text("# Tea\n\nTea came to Europe in the 17th century.\n", encoding="utf-8")
    before = fake_embedder.encoded
    report = index(docs, folder, fake_embedder)
    assert (report.added, report.removed, report.changed) == (["tea.md"], ["sub/coffee.txt"], [])
    assert fake_embedder.encoded - before == texts_of("tea.md", docs)
    lines = report.lines()
    assert "added 1: tea.md" in lines and "removed 1: sub/coffee.txt" in lines
    assert [d.id for d in store.load(folder).documents] == ["rivers.txt", "tea.md", "volcanoes.md"]


def test_incremental_update_equals_a_full_rebuild(folders, fake_embedder, tmp_path):
    docs, folder = folders
    index(docs, folder, fake_embedder)
    (docs / "volcanoes.md").write_text("# Hekla\n\nHekla erupted in 2000. " * 10, encoding="utf-8")
    index(docs, folder, fake_embedder)
    fresh = tmp_path / "fresh"
    index(docs, fresh, FakeEmbedder())
    a, b = store.load(folder), store.load(fresh)
    assert a.passages == b.passages
    np.testing.assert_array_equal(a.sentences, b.sentences)
    np.testing.assert_allclose(a.passage_vectors, b.passage_vectors, atol=1e-6)
    np.testing.assert_allclose(a.sentence_vectors, b.sentence_vectors, atol=1e-6)


class OtherModel(FakeEmbedder):
    model_id = "test/another-model"


def test_another_model_rebuilds_everything_and_says_why(folders, fake_embedder):
    docs, folder = folders
    first = index(docs, folder, fake_embedder)
    other = OtherModel(dim=32)
    report = index(docs, folder, other)
    assert report.wrote and "model" in report.reason and "test/another-model" in report.reason
    assert report.added == first.added and report.embedded_passages == report.passages
    assert other.encoded == fake_embedder.encoded
    assert report.lines()[0].startswith("rebuilding the whole index: index was built with model")
    assert store.load(folder).manifest["model"] == {"id": "test/another-model", "dim": 32}


def test_splitter_change_rebuilds_everything_and_says_why(folders, fake_embedder):
    docs, folder = folders
    index(docs, folder, fake_embedder)
    report = index(docs, folder, fake_embedder, size=120, overlap=0)
    assert report.wrote and "splitter settings changed" in report.reason
    assert report.embedded_passages == report.passages
    assert store.load(folder).manifest["splitter"]["chunk_size"] == 120


class Recorder(FakeEmbedder):
    def __init__(self):
        super().__init__()
        self.texts: list[str] = []

    def encode(self, texts, batch_size: int = 64, progress: bool = False):
        self.texts.extend(texts)
        return super().encode(texts, batch_size, progress)


def test_embedding_with_context_puts_the_title_and_section_before_the_passage_and_rebuilds(folders, fake_embedder):
    docs, folder = folders
    index(docs, folder, fake_embedder)
    before = [(q.doc, q.start, q.end, q.text) for q in store.load(folder).passages]
    recorder = Recorder()
    report = index(docs, folder, recorder, embed_context=True)
    assert report.wrote and "splitter settings changed" in report.reason
    assert report.embedded_passages == report.passages
    data = store.load(folder)
    assert data.manifest["splitter"]["embedded_with"] == "title and section"
    # the passages themselves (text, offsets) are what they were; only what is embedded changed
    assert [(q.doc, q.start, q.end, q.text) for q in data.passages] == before
    with_heads = [p for p in data.passages if p.section and p.title and not p.text.startswith(p.title)]
    assert with_heads, "the fixture has a Markdown section"
    p = with_heads[-1]
    assert f"{p.title} — {p.section}\n\n{p.text}" in recorder.texts
    assert p.text not in recorder.texts
    assert not index(docs, folder, recorder, embed_context=True).wrote
    back = index(docs, folder, fake_embedder)
    assert back.wrote and "splitter settings changed" in back.reason


def test_new_splitter_version_rebuilds_everything(folders, fake_embedder, monkeypatch):
    docs, folder = folders
    index(docs, folder, fake_embedder)
    monkeypatch.setattr("qa.index.indexer.SPLITTER_VERSION", 999)
    report = index(docs, folder, fake_embedder)
    # the reason names what changed, not every setting
    assert report.wrote and report.reason == f"splitter settings changed (version: {SPLITTER_VERSION} -> 999)"
    assert store.load(folder).manifest["splitter"]["version"] == 999


def test_rebuild_on_request(folders, fake_embedder):
    docs, folder = folders
    index(docs, folder, fake_embedder)
    report = index(docs, folder, fake_embedder, force=True)
    assert report.reason == "rebuild requested" and report.embedded_passages == report.passages


def test_skipped_files_are_reported(folders, fake_embedder):
    docs, folder = folders
    (docs / "bad.txt").write_bytes(b"\xff\xfe latin junk \xe9")
    report = index(docs, folder, fake_embedder)
    assert report.skipped and report.skipped[0][0] == "bad.txt"
    assert report.lines()[0].startswith("skipped bad.txt: not valid UTF-8")


def test_the_report_counts_one_thing_in_the_singular():
    from qa.index.indexer import IndexReport

    one = IndexReport(added=["a.txt"], passages=1, embedded_passages=1, pooled_sentences=1, wrote=True, seconds=0.5)
    assert one.lines() == ["added 1: a.txt", "indexed 1 document, 1 passage (1 passage embedded, the vectors of their "
                                             "1 sentence taken from the same pass) in 0.5 s"]
    two = IndexReport(added=["a.txt", "b.txt"], passages=2, embedded_passages=2, embedded_sentences=3, wrote=True)
    assert two.lines()[-1] == "indexed 2 documents, 2 passages (2 passages and 3 sentences embedded) in 0.0 s"
    assert IndexReport(unchanged=["a.txt"], passages=1).lines() == ["index is up to date: 1 document, 1 passage"]
    # the app's words: how the sentence vectors were made is the command line's detail
    assert one.lines(detail=False)[-1] == "indexed 1 document, 1 passage (1 new) in 0.5 s"
    assert IndexReport(removed=["b.txt"], unchanged=["a.txt"], passages=189, wrote=True).lines(detail=False) == [
        "removed 1: b.txt", "indexed 1 document, 189 passages (none new) in 0.0 s"]


def older_title_rule(monkeypatch, rule: str, title=None):
    """Titles found by another version of the title rules: ``title`` (text, kind -> title), in this
    process (the parser runs in it, so the patch reaches it)."""
    monkeypatch.setattr("qa.index.indexer.TITLE_RULE", rule)
    monkeypatch.setattr("qa.index.store.TITLE_RULE", rule)
    if title is not None:
        monkeypatch.setattr("qa.ingest.documents.title_from_text", title)


def in_process():
    from qa.ingest.parsing import Parser

    return Parser(chunking=(200, 40), in_process=True)


def test_titles_found_by_older_rules_are_found_again_without_embedding(folders, fake_embedder, monkeypatch):
    docs, folder = folders
    with monkeypatch.context() as patch:  # an index made by a version whose rules found no title in plain text
        older_title_rule(patch, "0", lambda text, kind="text": "")
        with in_process() as parser:
            index(docs, folder, fake_embedder, parser=parser)
    old = store.load(folder)
    assert old.document("rivers.txt").title == "rivers.txt"
    assert {p.title for p in old.passages if p.doc == "rivers.txt"} == {"rivers.txt"}
    before, segments = fake_embedder.encoded, old.segments

    report = index(docs, folder, fake_embedder)
    assert report.retitled == ["rivers.txt", "sub/coffee.txt"]  # volcanoes.md: its heading, by either rule
    assert "new title for 2: rivers.txt, sub/coffee.txt" in report.lines()
    assert fake_embedder.encoded == before and not report.embedded_passages
    new = store.load(folder)
    assert new.segments == segments and new.generation != old.generation  # a new manifest, no segment written
    assert new.manifest["titles"] == TITLE_RULE
    assert new.document("rivers.txt").title == "Rivers of Europe"
    assert {p.title for p in new.passages if p.doc == "rivers.txt"} == {"Rivers of Europe"}
    assert new.document("volcanoes.md").title == old.document("volcanoes.md").title
    np.testing.assert_array_equal(np.asarray(new.passage_vectors), np.asarray(old.passage_vectors))

    again = index(docs, folder, fake_embedder)  # the stored documents are read with their new titles
    assert not again.retitled and store.load(folder).generation == new.generation


def test_a_changed_file_and_a_title_found_again_in_one_update(folders, fake_embedder, monkeypatch):
    docs, folder = folders
    with monkeypatch.context() as patch:
        older_title_rule(patch, "0", lambda text, kind="text": "")
        with in_process() as parser:
            index(docs, folder, fake_embedder, parser=parser)
    (docs / "sub" / "coffee.txt").write_text("Coffee\n\nCoffee reached Venice in 1570.\n", encoding="utf-8")
    report = index(docs, folder, fake_embedder)
    assert report.changed == ["sub/coffee.txt"] and report.retitled == ["rivers.txt"]
    data = store.load(folder)
    assert [data.document(d).title for d in ("rivers.txt", "sub/coffee.txt")] == ["Rivers of Europe", "Coffee"]
    assert {p.title for p in data.passages if p.doc == "rivers.txt"} == {"Rivers of Europe"}
    assert data.manifest["documents"]["rivers.txt"]["title"] == "Rivers of Europe"
    assert not index(docs, folder, fake_embedder).wrote


def test_a_title_found_again_is_embedded_again_when_titles_are_embedded(folders, fake_embedder, monkeypatch):
    docs, folder = folders
    with monkeypatch.context() as patch:
        older_title_rule(patch, "0", lambda text, kind="text": "")
        with in_process() as parser:
            index(docs, folder, fake_embedder, parser=parser, embed_context=True)
    recorder = Recorder()
    report = index(docs, folder, recorder, embed_context=True)
    assert report.changed == ["rivers.txt", "sub/coffee.txt"] and not report.retitled
    assert any(t.startswith("Rivers") for t in recorder.texts)
    assert store.load(folder).document("rivers.txt").title == "Rivers of Europe"


def test_an_index_of_the_current_title_rules_is_not_read_again(folders, fake_embedder, monkeypatch):
    docs, folder = folders
    index(docs, folder, fake_embedder)
    read = []
    monkeypatch.setattr("qa.ingest.documents.title_from_text",
                        lambda text, kind="text": read.append(kind) or "")
    with in_process() as parser:
        assert not index(docs, folder, fake_embedder, parser=parser).retitled
    assert read == []  # unchanged files keep their stored documents: none parsed


def test_a_damaged_index_rebuilt_by_itself_does_not_tell_the_user_to_rebuild_it(folders, fake_embedder):
    docs, folder = folders
    index(docs, folder, fake_embedder)
    passages = folder / store.load(folder).segments[0] / "passages.jsonl"
    passages.write_bytes(passages.read_bytes() + b"garbage\n")
    report = index(docs, folder, fake_embedder, verify=True)
    assert report.wrote and report.added == ["rivers.txt", "sub/coffee.txt", "volcanoes.md"]
    line = next(line for line in report.lines() if line.startswith("rebuilding the whole index:"))
    assert line == "rebuilding the whole index: damaged index: passages.jsonl does not match its checksum"


@pytest.mark.parametrize("case", ["missing", "empty"])
def test_a_refused_update_leaves_no_index_folder_behind(case, tmp_path, fake_embedder):
    docs = tmp_path / "docs"
    if case == "empty":
        docs.mkdir()
    with pytest.raises(NoDocumentsError, match="does not exist" if case == "missing" else "no readable documents"):
        index(docs, tmp_path / "new" / "index", fake_embedder)
    assert not (tmp_path / "new").exists()  # nor the folder made above it


def test_an_index_folder_that_was_there_is_kept_when_an_update_is_refused(tmp_path, fake_embedder):
    (tmp_path / "index").mkdir()
    (tmp_path / "docs").mkdir()
    with pytest.raises(NoDocumentsError):
        index(tmp_path / "docs", tmp_path / "index", fake_embedder)
    assert (tmp_path / "index").is_dir()


def test_a_writer_that_waited_on_a_folder_removed_under_it_locks_the_new_one(tmp_path):
    """The first writer made the folder, wrote nothing and removed it again while the second waited for its
    lock: the second locks the lock file that is in the folder now, not the one removed with the folder."""
    folder = tmp_path / "index"
    entered = threading.Event()
    release = threading.Event()
    second: list[bool] = []

    def first():
        with locks.write_lock(folder):
            entered.set()
            release.wait(5)

    def waiting():
        with locks.write_lock(folder, timeout=5):
            (folder / "written").write_text("x")  # in the folder the lock file is in
            second.append(True)

    one = threading.Thread(target=first)
    one.start()
    entered.wait(5)
    two = threading.Thread(target=waiting)
    two.start()
    time.sleep(0.5)  # the second writer has opened the lock file and waits
    release.set()
    one.join(5)
    two.join(10)
    assert second == [True] and (folder / "written").exists() and (folder / ".lock").exists()
