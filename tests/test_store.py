"""The persisted index: what the manifest records, checksums, no pickle, the write lock."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time

import faiss
import numpy as np
import pytest

from conftest import ROOT
from qa.index import store
from qa.errors import IndexProblem


@pytest.fixture
def built(fake_pipeline):
    fake_pipeline.refresh()
    return fake_pipeline


def test_manifest_records_versions_model_splitter_documents_and_checksums(built):
    folder = built.settings.index
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == store.FORMAT_VERSION
    assert manifest["faiss_version"] == faiss.__version__
    assert manifest["model"] == {"id": built.embedder.model_id, "dim": built.embedder.dim}
    assert manifest["splitter"]["chunk_size"] == 200 and manifest["splitter"]["chunk_overlap"] == 40
    docs = built.settings.docs
    assert manifest["documents"] == {
        d.id: {"sha256": hashlib.sha256((docs / d.id).read_bytes()).hexdigest(), "title": d.title,
               "passages": sum(p.doc == d.id for p in built.data.passages), "indexed": manifest["created"],
               "segment": manifest["segments"][0]["name"]}
        for d in built.data.documents
    }
    assert manifest["passage_count"] == len(built.data.passages) > 3
    [segment] = manifest["segments"]
    seg = folder / segment["name"]
    on_disk = {p.relative_to(seg).as_posix() for p in seg.rglob("*") if p.is_file()}
    assert set(segment["files"]) == on_disk
    assert all(segment["files"][name] == hashlib.sha256((seg / name).read_bytes()).hexdigest() for name in on_disk)


def test_only_the_segments_named_and_no_temporary_files_after_writing_twice(built):
    (built.settings.docs / "rivers.txt").write_text("Rivers\n\nThe Loire is long.\n", encoding="utf-8")
    built.refresh()
    names = sorted(p.name for p in built.settings.index.iterdir() if p.name != store.VERIFIED)
    assert names == sorted([".lock", *built.data.segments, "manifest.json"])


def test_loaded_index_matches_what_was_saved(built):
    data = store.load(built.settings.index)
    assert [d.id for d in data.documents] == ["rivers.txt", "sub/coffee.txt", "volcanoes.md"]
    assert all(data.document(p.doc).text[p.start:p.end] == p.text for p in data.passages)
    assert data.passage_vectors.shape == (len(data.passages), built.embedder.dim)
    assert data.vectors.count == len(data.passages)
    assert len(data.sentences) == len(data.sentence_vectors)
    for passage, doc, start, end in data.sentences.tolist():
        p = data.passages[passage]
        assert data.documents[doc].id == p.doc and p.start <= start < end <= p.end


def test_data_files_hold_no_pickles(built):
    (built.settings.docs / "tea.md").write_text("# Tea\n\nTea reached Europe in the 17th century.\n", encoding="utf-8")
    built.refresh()  # a second segment
    folder = built.settings.index
    assert len(built.data.segments) == 2
    for path in folder.rglob("*.npy"):
        np.load(path, allow_pickle=False)  # raises on an object (pickled) array
    for path in folder.rglob("*"):
        if path.is_file():
            assert not path.read_bytes().startswith(b"\x80"), f"{path.name} looks like a pickle"


def test_the_package_never_unpickles():
    pattern = re.compile(r"import pickle|pickle\.load|allow_pickle\s*=\s*True|torch\.load|joblib|cloudpickle|dill")
    # qa/reader/training.py loads its own checkpoints with torch.load(weights_only=True) when training
    files = [p for folder in ("", "ingest", "index", "eval", "web") for p in (ROOT / "qa" / folder).glob("*.py")]
    offenders = [p.name for p in files if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
    loads = [call for p in (ROOT / "qa" / "index").glob("*.py")
             for call in re.findall(r"np\.load\([^)]*\)", p.read_text(encoding="utf-8"))]
    assert loads and all("allow_pickle=False" in call for call in loads)


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "f.json"
    store.atomic_write_bytes(target, b"one")
    store.atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_write_lock_makes_a_second_writer_wait_then_fail_clearly(tmp_path):
    held, release = threading.Event(), threading.Event()

    def holder():
        with store.write_lock(tmp_path):
            held.set()
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    try:
        assert held.wait(10)
        started = time.monotonic()
        with pytest.raises(IndexProblem, match="another process is writing the index"):
            with store.write_lock(tmp_path, timeout=0.5):
                pass
        assert time.monotonic() - started >= 0.5
    finally:
        release.set()
        t.join()
    with store.write_lock(tmp_path, timeout=0.5):  # free again once the holder is done
        pass


def test_write_lock_waits_for_the_holder_to_finish(tmp_path):
    order: list[str] = []
    held = threading.Event()

    def holder():
        with store.write_lock(tmp_path):
            held.set()
            time.sleep(0.5)
            order.append("first done")

    t = threading.Thread(target=holder)
    t.start()
    assert held.wait(10)
    with store.write_lock(tmp_path, timeout=10):
        order.append("second in")
    t.join()
    assert order == ["first done", "second in"]


def test_missing_index_is_reported_with_what_to_do(tmp_path):
    with pytest.raises(IndexProblem, match="qa index"):
        store.load(tmp_path)


@pytest.mark.parametrize(
    "manifest",
    [
        b"\x00\xff garbage",
        b"[1, 2, 3]",
        b'{"files": "nope"}',
        b'{"format": 1, "generation": "gen-x", "files": {}, "model": "not a dict", "splitter": {}}',
        b'{"format": 1, "generation": 7, "files": {}, "model": {"id": "m", "dim": 4}}',
        b'{"format": 1, "generation": "../outside", "files": {}, "model": {"id": "m", "dim": 4}}',
    ],
)
def test_manifest_of_the_wrong_shape_is_damage(tmp_path, manifest):
    (tmp_path / "manifest.json").write_bytes(manifest)
    with pytest.raises(IndexProblem, match="damaged index"):
        store.load(tmp_path)


def test_check_compatible_names_each_mismatch(built):
    manifest = store.read_manifest(built.settings.index)
    model, splitter = manifest["model"]["id"], manifest["splitter"]
    assert store.check_compatible(manifest, model, splitter) is None
    assert "format" in store.check_compatible({**manifest, "format": 99}, model, splitter)
    assert "faiss" in store.check_compatible({**manifest, "faiss_version": "0.9.0"}, model, splitter)
    assert "model" in store.check_compatible(manifest, "other/model", splitter)
    assert "splitter" in store.check_compatible(manifest, model, {**splitter, "chunk_size": 999})


def test_load_refuses_another_format_or_faiss_major(built):
    folder = built.settings.index
    manifest = store.read_manifest(folder)
    for change in ({"format": store.FORMAT_VERSION + 1}, {"faiss_version": "0.1.0"}):
        (folder / "manifest.json").write_text(json.dumps({**manifest, **change}), encoding="utf-8")
        with pytest.raises(IndexProblem, match="qa index"):
            store.load(folder)
