"""Nothing a document or a folder contains can freeze the program or destroy data (issue 17).

Adversarial documents (regular-expression bombs, an inflating PDF, deeply nested HTML, binary files
under text names, terminal escapes), dangerous folder layouts (index = document folder, a user's
own ``gen-...`` folder, symbolic link loops), a full disk, a read-only index, uploads into a missing
folder, two writers, and malformed query arguments. Time bounds are loose (10x or more the time
measured) and only there to catch super-linear work, which takes minutes.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import TINY_DOCS, FakeEmbedder, write_docs
from sample_files import inflating_pdf
from qa.index import segments, store
from qa.ingest.chunking import headings, split_passages
from qa.config import Settings
from qa.ingest.documents import load_folder, make_document, parse_front_matter
from qa.errors import IndexWriteError, NoDocumentsError, QAError, SettingsError
from qa.eval import load_queries
from qa.ingest.formats import extract_html
from qa.index.indexer import update_index
from qa.pipeline import Pipeline

ROOT = Path(__file__).resolve().parent.parent
SIZE, OVERLAP = 200, 40
RIVER_QUESTION = "Which river flows through ten countries?"


def pipeline(docs: Path, index: Path, **settings) -> Pipeline:
    return Pipeline(Settings(docs=docs, index=index, chunk_size=SIZE, chunk_overlap=OVERLAP, **settings),
                    embedder=FakeEmbedder())


def timed(fn, *args, **kw):
    t = time.perf_counter()
    result = fn(*args, **kw)
    return result, time.perf_counter() - t


def run_qa(*args, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    base["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "qa", *map(str, args)], cwd=cwd, env={**base, **(env or {})},
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run ``qa`` in this process with the fake embedder and the heuristic reader: (code, out, err)."""
    from qa import cli as qa_cli

    def make(args):
        settings = qa_cli._settings(args).replace(chunk_size=SIZE, chunk_overlap=OVERLAP, reader="heuristic")
        return Pipeline(settings, embedder=FakeEmbedder())

    monkeypatch.setattr(qa_cli, "_pipeline", make)

    def run(*args):
        code = qa_cli.main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


# ---------------------------------------------------------------------------------------------
# bounded work per document


RUN = 50_000  # quadratic patterns took ~25 s on a run this long; linear ones take milliseconds


def test_a_title_line_with_a_long_run_of_spaces_is_parsed_in_linear_time(tmp_path):
    text = "---\ntitle: Field notes" + " " * RUN + "x\nauthor:" + " " * RUN + "\n---\n# Notes\n\nBody text.\n"
    (meta, start), seconds = timed(parse_front_matter, text)
    assert seconds < 2.0
    assert meta["title"].startswith("Field notes") and meta["title"].endswith("x") and meta["author"] == ""
    assert text[start:].startswith("# Notes")
    write_docs(tmp_path, {"notes.md": text})
    report, seconds = timed(load_folder, tmp_path)
    assert seconds < 5.0 and report.documents[0].title.startswith("Field notes")


@pytest.mark.parametrize("line, first, last", [("# Title" + " " * RUN + "x", "T", "x"), ("# " + "#" * RUN + " x", "#", "x"),
                                               ("## A" + " \t#" * RUN, "A", "A")], ids=["spaces", "hashes", "closing-run"])
def test_a_heading_with_a_long_run_of_spaces_or_hashes_is_split_in_linear_time(line, first, last):
    doc = make_document("h.md", line + "\n\nThe body of the section.\n", kind="markdown")
    heads, seconds = timed(headings, doc)
    assert seconds < 2.0
    assert len(heads) == 1 and heads[0][1][0] == first and heads[0][1][-1] == last
    passages, seconds = timed(split_passages, doc, 1000, 200)
    assert seconds < 10.0 and passages


def test_an_html_heading_of_200000_hashes_is_indexed_in_seconds(tmp_path):
    write_docs(tmp_path / "docs", {"h.html": "<h1>" + "#" * 200_000 + "</h1><p>Tides are high today.</p>"})
    qa = pipeline(tmp_path / "docs", tmp_path / "index")
    report, seconds = timed(qa.index)
    assert seconds < 30.0 and report.added == ["h.html"]


def test_a_pdf_that_inflates_past_the_text_limit_is_skipped_quickly_with_the_setting_named(tmp_path):
    data = inflating_pdf(5_000_000)
    assert len(data) < 30_000  # far under the 10 MB file limit
    docs = write_docs(tmp_path / "docs", {"bomb.pdf": data, "ok.txt": "Tides are high today.\n"})
    qa = pipeline(docs, tmp_path / "index", max_text_chars=200_000)
    report, seconds = timed(qa.index)
    assert seconds < 20.0
    assert report.added == ["ok.txt"]
    reason = dict(report.skipped)["bomb.pdf"]
    assert "200,000 characters" in reason and "QA_MAX_TEXT_CHARS" in reason


def test_text_under_the_file_limit_but_over_the_text_limit_is_skipped_and_the_limit_is_a_setting(tmp_path):
    docs = write_docs(tmp_path / "docs", {"long.txt": "word " * 30_000, "html.html": "<p>" + "word " * 30_000,
                                          "ok.txt": "Tides are high today.\n"})
    report = pipeline(docs, tmp_path / "index", max_text_chars=100_000).index()
    assert report.added == ["ok.txt"]
    assert all("QA_MAX_TEXT_CHARS" in why for _, why in report.skipped) and len(report.skipped) == 2
    assert Settings.from_env({"QA_MAX_TEXT_CHARS": "5"}).max_text_chars == 5
    assert Settings().max_text_chars == 2_000_000


def test_100000_nested_divs_are_read_in_linear_time():
    depth = 50_000  # marking the structure in the tree took > 150 s for 100,000
    data = b"<html><body>" + b"<div>" * depth + b"<h2>Deep</h2><p>Text at the bottom.</p>" + b"</div>" * depth
    extracted, seconds = timed(extract_html, data)
    assert seconds < 30.0
    assert extracted.text == "## Deep\n\nText at the bottom."


# ---------------------------------------------------------------------------------------------
# dangerous layouts


@pytest.mark.parametrize("where", ["same", "inside", "containing"])
def test_an_index_folder_that_is_inside_or_holds_the_document_folder_is_refused(tmp_path, where):
    docs = write_docs(tmp_path / "docs", {**TINY_DOCS, "gen-2024-field-notes/notes.txt": "My own notes.\n"})
    index = {"same": docs, "inside": docs / "vectorstore", "containing": tmp_path}[where]
    qa = pipeline(docs, index)
    with pytest.raises(SettingsError, match="index folder .* document folder.*--index"):
        qa.index()
    with pytest.raises(SettingsError, match="index must have a folder of its own"):
        qa.add([docs / "rivers.txt"])
    assert (docs / "gen-2024-field-notes" / "notes.txt").read_text() == "My own notes.\n"
    assert not (index / store.MANIFEST).exists()


def test_only_segment_folders_the_index_wrote_are_ever_deleted(tmp_path):
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    index = tmp_path / "index"
    mine = {"gen-2024-field-notes/notes.txt": "My own notes.\n", "gen-x/keep.md": "mine\n", "seg-y/keep.md": "mine\n"}
    write_docs(index, mine)
    qa = pipeline(docs, index)
    qa.index()
    [first] = store.segments(store.read_manifest(index))
    assert (index / first["name"] / store.MARKER).is_file()
    write_docs(docs, {"tea.md": "# Tea\n\nTea reached Europe in the 17th century.\n"})
    qa.index()
    (index / "seg-20990101000000-deadbeef").mkdir()  # left empty by a writer killed just after mkdir
    (index / "gen-20990101000000-deadbeef").mkdir()
    qa.index(force=True)
    names = sorted(p.name for p in index.iterdir() if p.name.startswith(("gen-", "seg-")))
    current = [s["name"] for s in store.segments(store.read_manifest(index))]
    assert names == sorted(["gen-2024-field-notes", "gen-x", "seg-y", *current])
    assert (index / "gen-2024-field-notes" / "notes.txt").read_text() == "My own notes.\n"


# ---------------------------------------------------------------------------------------------
# symbolic links


def test_link_loops_dangling_links_and_links_out_are_skipped_one_line_each(tmp_path, cli):
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    outside = write_docs(tmp_path / "outside", {"secret.txt": "Secret text.\n"})
    (docs / "loop-a.txt").symlink_to(docs / "loop-b.txt")
    (docs / "loop-b.txt").symlink_to(docs / "loop-a.txt")
    (docs / "self.md").symlink_to(docs / "self.md")
    (docs / "gone.txt").symlink_to(docs / "nowhere.txt")
    (docs / "out.txt").symlink_to(outside / "secret.txt")
    (docs / "sub" / "round").symlink_to(docs)  # a folder loop: not followed, and said so
    report = load_folder(docs)
    assert sorted(d.id for d in report.documents) == sorted(TINY_DOCS)
    skipped = dict(report.skipped)
    assert set(skipped) == {"loop-a.txt", "loop-b.txt", "self.md", "gone.txt", "out.txt", "sub/round"}
    assert "loop" in skipped["loop-a.txt"] and "loop" in skipped["self.md"] and "loop" in skipped["sub/round"]
    assert "broken" in skipped["gone.txt"] and "outside" in skipped["out.txt"]
    qa = pipeline(docs, tmp_path / "index")
    assert qa.search(RIVER_QUESTION)[0].passage.doc == "rivers.txt"
    added, _ = qa.add([docs / "loop-a.txt", tmp_path / "outside"])  # adding from a folder with loops
    assert "loop" in dict(added.skipped)[str(docs / "loop-a.txt")]
    code, out, err = cli("index", "--docs", docs, "--index", tmp_path / "index2")
    assert code == 0 and sum("loop" in line for line in out.splitlines()) == 4, out + err


# ---------------------------------------------------------------------------------------------
# disk full, read-only


def fail_with(monkeypatch, err: int, after_bytes: int = 0):
    """Make writes of npy arrays in the index fail with ``err`` after writing ``after_bytes``."""
    real = segments._save_npy

    def broken(path, array):
        with open(path, "wb") as fh:
            fh.write(b"\x93NUMPY" + b"\0" * after_bytes)
        raise OSError(err, os.strerror(err), str(path))

    monkeypatch.setattr(segments, "_save_npy", broken)
    return real


def segments_of(index: Path) -> list[str]:
    return [s["name"] for s in store.segments(store.read_manifest(index))]


def test_disk_full_cleans_up_says_how_much_and_the_old_index_answers_in_a_new_process(tmp_path, monkeypatch):
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    index = tmp_path / "index"
    pipeline(docs, index).index()
    generation = store.read_manifest(index)["generation"]
    write_docs(docs, {"tea.md": "# Tea\n\nTea reached Europe in the 17th century on Dutch ships.\n"})
    real = fail_with(monkeypatch, errno.ENOSPC, 1000)
    for _ in range(2):  # it fails the same clean way every time: nothing sticky
        with pytest.raises(IndexWriteError, match=r"disk full: about [\d.,]+ MB needed, [\d.,]+ MB free"):
            pipeline(docs, index).index()
        assert sorted(p.name for p in index.iterdir() if p.name != store.VERIFIED) == sorted(
            [".lock", *segments_of(index), "manifest.json"])
        assert store.read_manifest(index)["generation"] == generation
    fresh = pipeline(docs, index)  # as a new process: answers from the previous generation
    assert fresh.search(RIVER_QUESTION)[0].passage.doc == "rivers.txt"
    assert fresh.data.generation == generation
    monkeypatch.setattr(segments, "_save_npy", real)  # space freed
    assert pipeline(docs, index).index().added == ["tea.md"]


def test_add_on_a_full_disk_leaves_no_half_added_file(tmp_path, monkeypatch):
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    incoming = write_docs(tmp_path / "in", {"tea.md": "# Tea\n\nTea reached Europe.\n",
                                            "rivers.txt": "Rivers, a new version.\n"})
    qa = pipeline(docs, tmp_path / "index")
    qa.index()
    before = {p: p.read_bytes() for p in docs.rglob("*") if p.is_file()}
    fail_with(monkeypatch, errno.ENOSPC)
    with pytest.raises(IndexWriteError, match="disk full"):
        qa.add([incoming / "tea.md"])
    with pytest.raises(IndexWriteError, match="disk full"):
        qa.add([incoming / "rivers.txt"], replace=True)
    assert {p: p.read_bytes() for p in docs.rglob("*") if p.is_file()} == before
    assert [d.id for d in qa.documents()] == sorted(TINY_DOCS, key=lambda i: i)


def test_a_read_only_index_answers_and_updates_fail_clearly(tmp_path, monkeypatch):
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    index = tmp_path / "index"
    pipeline(docs, index).index()
    write_docs(docs, {"tea.md": "# Tea\n\nTea reached Europe in the 17th century.\n"})
    real_open = os.open

    def read_only(path, flags, *args, **kw):  # a read-only mount: nothing can be opened for writing
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and Path(path).is_relative_to(index):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kw)

    monkeypatch.setattr(os, "open", read_only)
    qa = pipeline(docs, index)
    assert qa.search(RIVER_QUESTION)[0].passage.doc == "rivers.txt"
    with pytest.raises(IndexWriteError, match="read-only.*make the folder writable or pass --index"):
        pipeline(docs, index).index()


# ---------------------------------------------------------------------------------------------
# uploads and writers


def test_adding_to_a_missing_document_folder_keeps_the_index_and_adds_nothing(tmp_path):
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    incoming = write_docs(tmp_path / "in", {"tea.md": "# Tea\n\nTea reached Europe.\n"})
    qa = pipeline(docs, tmp_path / "index")
    qa.index()
    docs.rename(tmp_path / "unmounted")
    with pytest.raises(NoDocumentsError, match="document folder .* is missing.*3 documents.*nothing was added"):
        qa.add([incoming / "tea.md"])
    assert not docs.exists()
    assert sorted(store.read_manifest(tmp_path / "index")["documents"]) == sorted(TINY_DOCS)
    fresh = pipeline(tmp_path / "new-docs", tmp_path / "new-index")  # no index yet: the folder is made
    added, _ = fresh.add([incoming / "tea.md"])
    assert added.added == ["tea.md"]


def test_the_folder_is_scanned_under_the_writer_lock(tmp_path):
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    index = tmp_path / "index"
    update_index(docs, index, FakeEmbedder(), SIZE, OVERLAP)
    held, release, result = threading.Event(), threading.Event(), {}

    def other_writer():
        with store.write_lock(index):
            held.set()
            release.wait(20)

    holder = threading.Thread(target=other_writer)
    holder.start()
    assert held.wait(10)
    waiting = threading.Thread(target=lambda: result.update(r=update_index(docs, index, FakeEmbedder(), SIZE, OVERLAP)))
    waiting.start()
    time.sleep(0.5)  # the second writer is now waiting for the lock
    write_docs(docs, {"tea.md": "# Tea\n\nTea reached Europe.\n"})  # what the first writer added
    release.set()
    holder.join()
    waiting.join(60)
    assert result["r"].added == ["tea.md"]
    assert "tea.md" in store.read_manifest(index)["documents"]


def test_a_name_collision_keeps_both_unless_replace_is_asked(tmp_path, cli):
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    incoming = write_docs(tmp_path / "in", {"rivers.txt": "Rivers of Asia\n\nThe Mekong flows through six countries.\n"})
    qa = pipeline(docs, tmp_path / "index")
    added, _ = qa.add([incoming / "rivers.txt"])
    assert added.added == ["rivers (2).txt"]
    assert (docs / "rivers.txt").read_text() == TINY_DOCS["rivers.txt"]
    assert {"rivers.txt", "rivers (2).txt"} <= {d.id for d in qa.documents()}
    code, out, err = cli("add", "--docs", docs, "--index", tmp_path / "index", "--replace", incoming / "rivers.txt")
    assert code == 0, err
    assert "replaced 1: rivers.txt" in out
    assert (docs / "rivers.txt").read_text() == (incoming / "rivers.txt").read_text()


# ---------------------------------------------------------------------------------------------
# inputs at every boundary


def test_terminal_escapes_in_documents_are_shown_not_executed_by_the_cli(tmp_path, cli):
    evil = "Rivers \x1b]0;pwned\x07\x1b[2J\x9b31m of Europe"
    docs = write_docs(tmp_path / "docs", {"evil\x1b[31m.txt": evil + "\n\nThe Danube flows through ten "
                                          "countries \x1b[8mhidden\x1b[0m and \u202eevil\u202c text.\n"})
    args = ("--docs", docs, "--index", tmp_path / "index")
    outputs = {}
    for command in (("list",), ("search", RIVER_QUESTION), ("ask", RIVER_QUESTION), ("list", "--json"),
                    ("search", RIVER_QUESTION, "--json"), ("ask", RIVER_QUESTION, "--json")):
        code, out, err = cli(*command, *args)
        assert code == 0, err
        assert not any(c in out + err for c in "\x1b\x07\x9b\u202e"), command
        outputs[command] = out
    assert "\\x1b[31m" in outputs[("list",)] and "\\x1b[2J" in outputs[("search", RIVER_QUESTION)]
    assert "\\u001b[31m" in outputs[("list", "--json")]
    assert json.loads(outputs[("list", "--json")])[0]["id"] == "evil\x1b[31m.txt"  # the JSON is exact


@pytest.mark.parametrize("name, data", [
    ("page.html", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4),
    ("notes.md", b"PK\x03\x04" + b"binary" * 100),
    ("page.htm", bytes(range(1, 32)) * 50 + b"<p>text</p>"),
    ("words.txt", "text with controls \x01\x02\x03\x04\x05\x06 ".encode() * 50),
])
def test_binary_content_under_a_text_name_is_skipped_with_a_reason(tmp_path, name, data):
    docs = write_docs(tmp_path, {name: data, "ok.txt": "Tides are high today.\n"})
    report = load_folder(docs)
    assert [d.id for d in report.documents] == ["ok.txt"]
    reason = dict(report.skipped)[name]
    assert "binary" in reason


@pytest.mark.parametrize("k", [float("inf"), float("-inf"), 2.5, True])  # OverflowError, or silently 2 and 1
def test_bad_k_is_refused_with_a_clear_message(fake_pipeline, k):
    with pytest.raises(SettingsError, match="k must be"):
        fake_pipeline.search(RIVER_QUESTION, k=k)
    with pytest.raises(SettingsError, match="k must be"):
        fake_pipeline.ask(RIVER_QUESTION, k=k)


def test_docs_is_a_list_of_known_ids_and_a_string_is_one_id(fake_pipeline):
    hits = fake_pipeline.search(RIVER_QUESTION, docs="rivers.txt")
    assert hits and {h.passage.doc for h in hits} == {"rivers.txt"}
    for bad in (42, {"rivers.txt": 1}, [1, 2], b"rivers.txt"):
        with pytest.raises(SettingsError, match="docs must be a list of document ids"):
            fake_pipeline.search(RIVER_QUESTION, docs=bad)
    with pytest.raises(SettingsError, match="unknown document id"):
        fake_pipeline.ask(RIVER_QUESTION, docs=["r", "i"])


def test_an_evaluation_file_over_the_cap_is_refused_with_the_setting_named(tmp_path):
    line = json.dumps({"id": "q", "question": "Which river?", "answers": ["Danube"]})
    path = tmp_path / "queries.jsonl"
    path.write_text("\n".join(line.replace('"q"', f'"q{i}"') for i in range(6324)) + "\n")
    with pytest.raises(QAError, match="more than 2,000 queries .*QA_MAX_EVAL_QUERIES"):
        load_queries(path)
    assert len(load_queries(path, max_queries=10_000)[0]) == 6324
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    result = run_qa("eval", path, "--docs", docs, "--index", tmp_path / "index", cwd=tmp_path,
                    env={"QA_MAX_EVAL_QUERIES": "100"})
    assert result.returncode == 1 and "more than 100 queries" in result.stderr and "Traceback" not in result.stderr
