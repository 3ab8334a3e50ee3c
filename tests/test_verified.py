"""Every index file is checked against its checksum, but read in full only once: a new process
trusts a file whose signature (device, inode, size, modification and change times) is the one
recorded when it was last verified, hashes any other, and ``qa index --verify`` reads every byte
again. An update loads the segments it keeps once, not once to update and again to answer."""

from __future__ import annotations

import json
import os
import weakref
from pathlib import Path

import pytest

from conftest import TINY_DOCS, FakeEmbedder, write_docs
from qa.cli import main
from qa.config import Settings
from qa.errors import IndexProblem
from qa.index import segments, store
from qa.pipeline import Pipeline


def _pipeline(docs: Path, index: Path) -> Pipeline:
    return Pipeline(Settings(docs=docs, index=index, parse_worker=False), embedder=FakeEmbedder())


def _new_process(monkeypatch) -> list[Path]:
    """Forget what this process verified and loaded; return the list of files hashed from now on."""
    monkeypatch.setattr(segments, "_digests", {})
    monkeypatch.setattr(segments, "_documents", {})
    monkeypatch.setattr(segments, "_held", [])
    monkeypatch.setattr(segments, "_loaded", weakref.WeakValueDictionary())
    hashed: list[Path] = []
    real = segments.sha256_file

    def counting(path):
        hashed.append(Path(path))
        return real(path)

    monkeypatch.setattr(segments, "sha256_file", counting)
    return hashed


@pytest.fixture
def index(tmp_path):
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    folder = tmp_path / "index"
    _pipeline(docs, folder).index()
    store.load(folder)  # verified once: recorded
    return docs, folder


def _segment(folder: Path) -> Path:
    [name] = store.load(folder).segments
    return folder / name


def test_a_new_process_reads_no_unchanged_file_again(index, monkeypatch):
    docs, folder = index
    record = json.loads((folder / store.VERIFIED).read_text(encoding="utf-8"))
    seg = _segment(folder)
    assert {k for k in record["files"]} == {f"{seg.name}/{p.name}" for p in seg.iterdir() if p.is_file()}
    hashed = _new_process(monkeypatch)
    data = store.load(folder)
    assert hashed == [] and len(data.passages) > 0
    assert _pipeline(docs, folder).index().wrote is False and hashed == []


def test_a_file_changed_since_it_was_verified_is_hashed_and_its_damage_found(index, monkeypatch):
    _, folder = index
    target = _segment(folder) / "passage_vectors.npy"
    st = target.stat()
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF  # one bit pattern changed, the size and the modification time kept
    target.write_bytes(bytes(data))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    hashed = _new_process(monkeypatch)
    with pytest.raises(IndexProblem, match="passage_vectors.npy does not match its checksum"):
        store.load(folder)
    assert hashed == [target]


def test_a_damaged_or_foreign_record_only_means_hashing_again(index, monkeypatch):
    _, folder = index
    for text in ("not json", json.dumps({"version": 2, "files": {}}), json.dumps([1, 2])):
        (folder / store.VERIFIED).write_text(text, encoding="utf-8")
        hashed = _new_process(monkeypatch)
        assert len(store.load(folder).passages) > 0
        assert len(hashed) == len([p for p in _segment(folder).iterdir() if p.is_file()])


def test_qa_index_verify_reads_every_byte_and_repairs_what_the_record_hid(index, monkeypatch, capsys):
    """Damage that left a file's signature as recorded (a disk's bit rot, a tool that restores
    times) is trusted by a load, found by ``qa index --verify`` and repaired."""
    docs, folder = index
    seg = _segment(folder)
    target = seg / "sentence_vectors.npy"
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    record = json.loads((folder / store.VERIFIED).read_text(encoding="utf-8"))
    st = target.stat()
    record["files"][f"{seg.name}/{target.name}"][:5] = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
                                                         st.st_ctime_ns]
    (folder / store.VERIFIED).write_text(json.dumps(record), encoding="utf-8")
    _new_process(monkeypatch)
    store.load(folder)  # trusted: the record says this file was verified as it is
    monkeypatch.setattr("qa.cli._pipeline", lambda args: _pipeline(docs, folder))
    assert main(["index", "--docs", str(docs), "--index", str(folder)]) == 0
    assert "rebuil" not in capsys.readouterr().out.lower()  # nothing found without --verify
    assert main(["index", "--verify", "--docs", str(docs), "--index", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "sentence_vectors.npy does not match its checksum" in out
    hashed = _new_process(monkeypatch)
    repaired = store.load(folder)
    assert repaired.segments != [seg.name] and len(repaired.passages) > 0 and hashed == []


def test_an_update_loads_the_segments_it_keeps_once(index, monkeypatch):
    docs, folder = index
    _new_process(monkeypatch)
    made: list[str] = []
    real = segments.Segment.__init__

    def counting(self, path, mmap):
        made.append(path.name)
        real(self, path, mmap)

    monkeypatch.setattr(segments.Segment, "__init__", counting)
    (docs / "tea.md").write_text("# Tea\n\nTea reached Europe in the 17th century.\n", encoding="utf-8")
    qa = _pipeline(docs, folder)
    report = qa.refresh()
    assert report.added == ["tea.md"] and len(qa.data.segments) == 2
    assert sorted(made) == sorted(qa.data.segments)  # the kept one once, the new one once


def test_checksums_of_removed_segments_are_forgotten(index, monkeypatch):
    docs, folder = index
    old = _segment(folder)
    assert any(key[0].startswith(str(old)) for key in segments._digests)
    monkeypatch.setattr(store, "MAX_REMOVED", -1.0)  # the update rewrites the index as one segment
    (docs / "rivers.txt").unlink()
    assert _pipeline(docs, folder).index().removed == ["rivers.txt"]
    assert not old.exists() and not any(key[0].startswith(str(old)) for key in segments._digests)
    record = json.loads((folder / store.VERIFIED).read_text(encoding="utf-8"))
    assert not any(name.startswith(old.name) for name in record["files"])
