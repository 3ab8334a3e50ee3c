"""Faults: writers killed at any moment, every kind of damage to the index folder, two writers at once.

Killed writers run in forked children (cheap, and SIGKILL is SIGKILL): one child per step that writes
to disk, killed just before that step (found with an audit hook), and children running ``qa index``
on a slow disk killed after several delays. Whatever happens, the previous index must still load and
answer, and the next run must finish the job and leave one clean generation.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

import numpy as np
import pytest

from conftest import TINY_DOCS, FakeEmbedder, write_docs
from qa.index import store
from qa.config import Settings
from qa.errors import IndexProblem
from qa.index.indexer import update_index
from qa.pipeline import Pipeline

SIZE, OVERLAP = 200, 40
NEW_DOC = ("tea.md", "# Tea\n\nTea reached Europe in the 17th century on Dutch ships. " * 6)
RIVER_QUESTION = "Which river flows through ten countries?"


# ---------------------------------------------------------------------------------------------
# helpers


def fork(target) -> int:
    """Run ``target()`` in a forked child; its exit status is 0 when it returns."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            target()
            code = 0
        except BaseException:  # noqa: BLE001 - report anything, then leave without cleanup
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid


def wait(pid: int, timeout: float = 60) -> int:
    """Exit code of the child (negative: killed by that signal)."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError("child did not finish")
        time.sleep(0.005)


def index(docs: Path, folder: Path, embedder=None, **kw):
    return update_index(docs, folder, embedder or FakeEmbedder(), SIZE, OVERLAP, **kw)


def pipeline(docs: Path, folder: Path) -> Pipeline:
    return Pipeline(Settings(docs=docs, index=folder, chunk_size=SIZE, chunk_overlap=OVERLAP),
                    embedder=FakeEmbedder())


def assert_answers_from_a_whole_index(folder: Path, docs: Path) -> store.IndexData:
    """The index loads and answers; every hit slices its document exactly."""
    data = store.load(folder)
    qa = pipeline(docs, folder)
    qa._data = data
    hits = qa.search(RIVER_QUESTION, mode="hybrid")
    assert hits and hits[0].passage.doc == "rivers.txt"
    for h in hits:
        assert data.document(h.passage.doc).text[h.passage.start:h.passage.end] == h.passage.text
    return data


def assert_clean(folder: Path) -> None:
    """The segments the manifest names, the manifest, the lock and the record of verified files:
    nothing left over by killed writers."""
    names = [s["name"] for s in store.segments(store.read_manifest(folder))]
    assert sorted(p.name for p in folder.iterdir() if p.name != store.VERIFIED) == sorted([".lock", *names, "manifest.json"])


@pytest.fixture
def old_index(tmp_path):
    """An index of the tiny documents, then a change to the documents waiting to be indexed."""
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    folder = tmp_path / "index"
    index(docs, folder)
    generation = store.load(folder).generation
    write_docs(docs, dict([NEW_DOC]))
    (docs / "sub" / "coffee.txt").unlink()
    return docs, folder, generation


def check_after_crash(docs: Path, folder: Path, old_generation: str) -> None:
    """Either the old index or the complete new one is in place, and the next run finishes."""
    data = assert_answers_from_a_whole_index(folder, docs)
    ids = {d.id for d in data.documents}
    if data.generation == old_generation:
        assert ids == {"rivers.txt", "sub/coffee.txt", "volcanoes.md"}
    else:  # killed after the switch: the new index is whole
        assert ids == {"rivers.txt", "tea.md", "volcanoes.md"}
    report = index(docs, folder)
    assert report.wrote == (data.generation == old_generation)
    assert {d.id for d in assert_answers_from_a_whole_index(folder, docs).documents} == \
        {"rivers.txt", "tea.md", "volcanoes.md"}
    assert_clean(folder)


# ---------------------------------------------------------------------------------------------
# killed writers

_CHANGES = {"os.rename", "os.remove", "os.rmdir", "os.mkdir", "shutil.rmtree", "os.truncate"}


def _is_write(event: str, args: tuple) -> bool:
    if event in _CHANGES:
        return True
    if event == "open":
        _, mode, flags = args
        if mode is None:
            return bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        return any(c in mode for c in "wax+")
    return False


def _run_writer(docs: Path, folder: Path, kill_at: int | None, count_fd: int | None = None) -> None:
    """(In a child.) Update the index; kill this process just before its ``kill_at``-th step that
    changes the disk: opening a file to write, renaming, removing, making a folder, or an fsync
    (each written file is fsynced, so killing there leaves files written up to that point)."""
    seen = 0

    def step():
        nonlocal seen
        seen += 1
        if seen == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def fsync(fd, _fsync=os.fsync):
        step()
        _fsync(fd)

    sys.addaudithook(lambda event, args: _is_write(event, args) and step())
    os.fsync = fsync
    index(docs, folder)
    if count_fd is not None:
        os.write(count_fd, str(seen).encode())


def test_killed_before_any_write_step_the_old_index_survives(old_index, tmp_path):
    docs, folder, generation = old_index
    pristine = tmp_path / "pristine"
    shutil.copytree(folder, pristine)
    read_end, write_end = os.pipe()
    assert wait(fork(lambda: _run_writer(docs, tmp_path / "count", None, write_end))) == 0
    os.close(write_end)
    steps = int(os.read(read_end, 100))
    os.close(read_end)
    assert steps > 20  # files, fsyncs, the manifest switch, the cleanup
    for kill_at in range(1, steps + 1):
        shutil.rmtree(folder)
        shutil.copytree(pristine, folder)
        assert wait(fork(lambda: _run_writer(docs, folder, kill_at))) == -signal.SIGKILL
        check_after_crash(docs, folder, generation)


#: documents enough that adding one appends a segment (the others stay where they are)
NOTES = {f"notes/n{i:02d}.txt": f"Note {i}\n\n" + f"Field notes on glaciers and fjords, entry {i}. " * 12
         for i in range(12)}


def test_killed_while_appending_a_segment_the_old_index_survives(tmp_path):
    docs = write_docs(tmp_path / "docs", {**TINY_DOCS, **NOTES})
    folder, pristine = tmp_path / "index", tmp_path / "pristine"
    index(docs, folder)
    [base] = store.load(folder).segments
    old = {d.id for d in store.load(folder).documents}
    shutil.copytree(folder, pristine)
    write_docs(docs, dict([NEW_DOC]))
    read_end, write_end = os.pipe()
    shutil.copytree(pristine, tmp_path / "count")
    assert wait(fork(lambda: _run_writer(docs, tmp_path / "count", None, write_end))) == 0
    os.close(write_end)
    steps = int(os.read(read_end, 100))
    os.close(read_end)
    appended = store.load(tmp_path / "count")
    assert appended.segments[0] == base and len(appended.segments) == 2  # the update appends
    assert steps > 10
    for kill_at in range(1, steps + 1):
        shutil.rmtree(folder)
        shutil.copytree(pristine, folder)
        assert wait(fork(lambda: _run_writer(docs, folder, kill_at))) == -signal.SIGKILL
        data = assert_answers_from_a_whole_index(folder, docs)
        assert {d.id for d in data.documents} in (old, old | {NEW_DOC[0]})
        assert index(docs, folder).wrote == (NEW_DOC[0] not in data.doc_index)
        assert {d.id for d in assert_answers_from_a_whole_index(folder, docs).documents} == old | {NEW_DOC[0]}
        assert store.load(folder).segments[0] == base
        assert_clean(folder)


_QA_INDEX_ON_A_SLOW_DISK = """
import os, sys, time
sys.path.insert(0, {tests!r})
from conftest import FakeEmbedder
import qa.pipeline
from qa.cli import main

signal_fd = {fd}

class SlowEmbedder(FakeEmbedder):
    def encode(self, texts, batch_size=64, progress=False):
        os.write(signal_fd, b"E")
        time.sleep(0.15)
        return super().encode(texts)

def slow_fsync(fd, _fsync=os.fsync):
    os.write(signal_fd, b"W")
    time.sleep(0.02)
    _fsync(fd)

os.fsync = slow_fsync
qa.pipeline.Pipeline.embedder = property(lambda self: self._embedder or setattr(self, "_embedder", SlowEmbedder())
                                         or self._embedder)
sys.exit(main(["index", "--docs", {docs!r}, "--index", {index!r}, "--chunk-size", "{size}",
               "--chunk-overlap", "{overlap}"]))
"""


def test_qa_index_killed_after_several_delays_loses_nothing(old_index, tmp_path):
    """``qa index`` (with a slow fake model and a slow disk) killed at random moments while it
    embeds and while it writes."""
    docs, folder, generation = old_index
    pristine = tmp_path / "pristine"
    shutil.copytree(folder, pristine)
    rng = random.Random(20261121)
    kills = [("E", rng.uniform(0.0, 0.3)) for _ in range(2)] + [("W", rng.uniform(0.0, 0.6)) for _ in range(4)]
    phases_reached = set()
    for phase, delay in kills:
        shutil.rmtree(folder)
        shutil.copytree(pristine, folder)
        read_end, write_end = os.pipe()
        script = _QA_INDEX_ON_A_SLOW_DISK.format(tests=str(Path(__file__).parent), fd=write_end, docs=str(docs),
                                                index=str(folder), size=SIZE, overlap=OVERLAP)

        def run(script=script, read_end=read_end):
            os.close(read_end)
            exec(compile(script, "qa-index-child", "exec"), {"__name__": "__main__"})

        pid = fork(run)
        os.close(write_end)
        seen = b""
        while phase.encode() not in seen:
            chunk = os.read(read_end, 64)
            if not chunk:
                break
            seen += chunk
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        os.close(read_end)
        status = wait(pid)
        if status == -signal.SIGKILL and phase.encode() in seen:
            phases_reached.add(phase)
        check_after_crash(docs, folder, generation)
    assert phases_reached == {"E", "W"}


# ---------------------------------------------------------------------------------------------
# damage to the index folder


def _gen(folder: Path) -> Path:
    """The (first) segment's folder."""
    return folder / store.segments(store.read_manifest(folder))[0]["name"]


def _edit_manifest(folder: Path, change) -> None:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    change(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _replace_with_matching_checksum(folder: Path, name: str, data: bytes) -> None:
    (_gen(folder) / name).write_bytes(data)
    _edit_manifest(folder, lambda m: m["segments"][0]["files"].__setitem__(name, store.sha256_file(_gen(folder) / name)))


def _truncate(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)


DATA_FILES = ["documents.jsonl", "passages.jsonl", "passage_vectors.npy", "sentences.npy", "sentence_vectors.npy",
              "dense.faiss", "tokens.npy", "token_offsets.npy", "vocab.json"]

DAMAGE = {
    **{f"truncated {n}": (lambda f, n=n: _truncate(_gen(f) / n), "does not match its checksum") for n in DATA_FILES},
    **{f"deleted {n}": (lambda f, n=n: (_gen(f) / n).unlink(), "missing") for n in DATA_FILES},
    "deleted segment": (lambda f: shutil.rmtree(_gen(f)), "missing"),
    "unexpected file": (lambda f: (_gen(f) / "extra.bin").write_bytes(b"x"), "unexpected file"),
    "garbage manifest": (lambda f: (f / "manifest.json").write_bytes(os.urandom(300) + b"\xff"), "cannot be read"),
    "empty manifest": (lambda f: (f / "manifest.json").write_bytes(b""), "cannot be read"),
    "manifest is a list": (lambda f: (f / "manifest.json").write_text("[1, 2]"), "not a manifest"),
    "manifest without fields": (lambda f: (f / "manifest.json").write_text('{"format": 1}'), "malformed"),
    "manifest model is text": (lambda f: _edit_manifest(f, lambda m: m.__setitem__("model", "x")), "malformed model"),
    "manifest escapes its folder": (
        lambda f: _edit_manifest(f, lambda m: m.__setitem__("generation", "../../etc")), "malformed generation"),
    "manifest file outside": (
        lambda f: _edit_manifest(f, lambda m: m["segments"][0]["files"].__setitem__("../../x", "0")),
        "malformed segments"),
    "manifest segment outside": (
        lambda f: _edit_manifest(f, lambda m: m["segments"][0].__setitem__("name", "../seg-x")), "malformed segments"),
    "document in no segment": (
        lambda f: _edit_manifest(f, lambda m: m["documents"]["rivers.txt"].__setitem__("segment", "seg-x")),
        "malformed segments"),
    "wrong passage count": (lambda f: _edit_manifest(f, lambda m: m.__setitem__("passage_count", 1)), "disagree"),
    "wrong dimension": (lambda f: _edit_manifest(f, lambda m: m["model"].__setitem__("dim", 32)), "disagree"),
    "another format version": (lambda f: _edit_manifest(f, lambda m: m.__setitem__("format", 99)), "format 99"),
    "another faiss major": (
        lambda f: _edit_manifest(f, lambda m: m.__setitem__("faiss_version", "0.9.9")), "faiss 0.9.9"),
    "garbage faiss file, matching checksum": (
        lambda f: _replace_with_matching_checksum(f, "dense.faiss", os.urandom(4096)), "damaged index"),
    "truncated faiss file, matching checksum": (
        lambda f: _replace_with_matching_checksum(f, "dense.faiss", (_gen(f) / "dense.faiss").read_bytes()[:200]),
        "damaged index"),
    "garbage vectors, matching checksum": (
        lambda f: _replace_with_matching_checksum(f, "passage_vectors.npy", b"\x93NUMPY garbage"), "damaged index"),
    "pickled vectors, matching checksum": (
        lambda f: _replace_with_matching_checksum(f, "passage_vectors.npy", _object_npy()), "damaged index"),
    "another model": (lambda f: _edit_manifest(f, lambda m: m["model"].__setitem__("id", "other/model")), "model"),
}


def _object_npy() -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return buf.getvalue()


@pytest.fixture
def built(tmp_path):
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    folder = tmp_path / "index"
    index(docs, folder)
    return docs, folder


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damage_is_repaired_with_the_reason_printed(built, damage):
    docs, folder = built
    spoil, reason = DAMAGE[damage]
    spoil(folder)
    qa = pipeline(docs, folder)
    notes: list[str] = []
    qa.refresh(notify=notes.append)
    assert reason in qa.last_report.reason
    assert notes[0].startswith("rebuilding the whole index:") and reason in notes[0]
    assert_answers_from_a_whole_index(folder, docs)
    assert_clean(folder)


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damage_without_documents_is_reported_with_what_to_do(built, damage):
    docs, folder = built
    DAMAGE[damage][0](folder)
    shutil.rmtree(docs)
    with pytest.raises(IndexProblem, match="qa index") as err:
        pipeline(docs, folder).search(RIVER_QUESTION)
    assert "\n" not in str(err.value)


def test_damaged_index_without_documents_is_one_line_from_the_cli(built, tmp_path):
    docs, folder = built
    DAMAGE["garbage faiss file, matching checksum"][0](folder)
    shutil.rmtree(docs)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    result = subprocess.run([sys.executable, "-m", "qa", "search", "river", "--docs", str(docs), "--index",
                             str(folder)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("qa: error:")]
    assert len(errors) == 1 and "damaged index" in errors[0] and "qa index" in errors[0]


# ---------------------------------------------------------------------------------------------
# two writers


class SlowFake(FakeEmbedder):
    def encode(self, texts, batch_size=64, progress=False):
        time.sleep(0.3)
        return super().encode(texts)


def test_two_processes_indexing_at_once_one_waits_and_the_index_stays_whole(old_index):
    docs, folder, _ = old_index
    first = fork(lambda: index(docs, folder, SlowFake()))
    time.sleep(0.1)
    second = fork(lambda: index(docs, folder, SlowFake()))
    assert wait(first) == 0 and wait(second) == 0
    data = assert_answers_from_a_whole_index(folder, docs)
    assert {d.id for d in data.documents} == {"rivers.txt", "tea.md", "volcanoes.md"}
    assert_clean(folder)


def test_a_writer_that_cannot_get_the_lock_fails_clearly_and_changes_nothing(old_index):
    docs, folder, generation = old_index
    held, release = threading.Event(), threading.Event()

    def holder():
        with store.write_lock(folder):
            held.set()
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    try:
        assert held.wait(10)
        with pytest.raises(IndexProblem, match="another process is writing the index .* try again"):
            index(docs, folder, lock_timeout=0.3)
    finally:
        release.set()
        t.join()
    assert store.load(folder).generation == generation
