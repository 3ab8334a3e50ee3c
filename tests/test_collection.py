"""Managing the collection: add (copy or link), remove and list, through the facade and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FakeEmbedder, TINY_DOCS, write_docs
from qa.ingest.collection import LINK_PREFIX, LINKS_FILE, add_files, collection_ids, remove_documents, sanitise_name
from qa.config import Settings
from qa.ingest.documents import load_folder
from qa.errors import NoDocumentsError, QAError
from qa.pipeline import Pipeline
from sample_files import HOSTILE_HTML, LIGHTHOUSE_PAGES, image_pdf, make_pdf

ECKMUHL = "When was the Phare d'Eckmuhl at Penmarch lit?"


@pytest.fixture
def incoming(tmp_path) -> Path:
    """Files a user might add, outside the document folder."""
    return write_docs(tmp_path / "incoming", {
        "Lighthouses (2024).pdf": make_pdf(LIGHTHOUSE_PAGES, title="Lighthouses of Brittany"),
        "tides.html": HOSTILE_HTML,
        "scan.pdf": image_pdf(),
        "slides.pptx": b"PK\x03\x04 not a document type",
        "papers/seals.md": "# Seals\n\nGrey seals rest on the reefs.\n",
        "papers/deeper/birds.txt": "Birds\n\nPuffins nest on the cliffs of Ushant.\n",
        "papers/.hidden.md": "hidden\n",
    })


@pytest.fixture
def pipeline(tmp_path) -> Pipeline:
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    settings = Settings(docs=docs, index=tmp_path / "index", chunk_size=200, chunk_overlap=40)
    return Pipeline(settings, embedder=FakeEmbedder())


def files_below(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


# -- names ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, safe", [
    ("report.pdf", "report.pdf"),
    ("../../etc/passwd.md", "passwd.md"),
    ("..\\..\\windows\\notes.TXT", "notes.txt"),
    (".bashrc.md", "bashrc.md"),
    ("...", "document"),
    ("a/b/..", "document"),
    ("spaces and <tags> & ;quotes'.html", "spaces and _tags_ _ _quotes.html"),
    ("Caf\u00e9 \u6771\u4eac.md", "Caf\u00e9 \u6771\u4eac.md"),
    ("x" * 300 + ".pdf", "x" * 116 + ".pdf"),
    ("nul\x00byte.md", "nul_byte.md"),
])
def test_sanitised_names_are_plain_file_names(name, safe):
    assert sanitise_name(name) == safe
    assert "/" not in safe and not safe.startswith(".") and len(safe) <= 120


# -- add --------------------------------------------------------------------------------------

def test_add_copies_accepted_readable_files_and_skips_the_rest_with_reasons(tmp_path, incoming):
    docs = tmp_path / "docs"
    report = add_files(docs, [incoming / "Lighthouses (2024).pdf", incoming / "tides.html", incoming / "scan.pdf",
                              incoming / "slides.pptx", incoming / "papers", incoming / "missing.md"])
    assert report.added == ["Lighthouses (2024).pdf", "tides.html", "papers/deeper/birds.txt", "papers/seals.md"]
    reasons = {Path(name).name: why for name, why in report.skipped}
    assert "no text layer" in reasons["scan.pdf"]
    assert "not an accepted type" in reasons["slides.pptx"]
    assert "no such file" in reasons["missing.md"]
    assert files_below(docs) == set(report.added)
    assert (docs / "tides.html").read_bytes() == (incoming / "tides.html").read_bytes()
    assert "skipped" in report.lines()[0] and any(line.startswith("copied 4: ") for line in report.lines())


def test_a_name_changed_to_be_safe_is_said(tmp_path):
    """"R&D <i>pump notes.txt" was stored as "R_D _i_pump notes.txt" without a word."""
    given = tmp_path / "in" / "R&D <i>pump notes.txt"
    given.parent.mkdir()
    given.write_text("Pump notes\n\nThe pump runs at night.\n", encoding="utf-8")
    plain = tmp_path / "in" / "plain notes.txt"
    plain.write_text("Plain notes\n\nNothing to change here.\n", encoding="utf-8")
    report = add_files(tmp_path / "docs", [given, plain])
    safe = sanitise_name(given.name)
    assert set(report.added) == {safe, "plain notes.txt"}
    assert report.sanitised == [(given.name, safe)]
    assert f"saved {given.name} as {safe}: a file name here holds only" in "\n".join(report.lines())
    assert (tmp_path / "docs" / safe).is_file()


def test_a_name_only_shortened_is_said_to_be_too_long_not_to_hold_bad_characters(tmp_path):
    """A tester's 204-character name of letters, digits, "-" and "." was "saved ... as ...: a file name here holds
    only letters, digits, spaces and - _ . ( )", which it did."""
    given = tmp_path / "in" / ("a-very-long-document-name-" + "x" * 180 + ".md")
    given.parent.mkdir()
    given.write_text("# Pumps\n\nThe pump runs at night.\n", encoding="utf-8")
    report = add_files(tmp_path / "docs", [given])
    (line,) = [x for x in report.lines() if x.startswith("saved ")]
    assert line.endswith(": a file name here is at most 120 characters long")
    assert len(report.added[0]) <= 120


def test_a_document_kept_beside_one_of_the_same_name_says_how_to_replace_it_where_it_is_said(tmp_path):
    """The app told a tester to "use --replace", an option of the command line it does not have."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("Notes\n\nThe old text.\n", encoding="utf-8")
    new = tmp_path / "in" / "notes.txt"
    new.parent.mkdir()
    new.write_text("Notes\n\nThe new text.\n", encoding="utf-8")
    report = add_files(docs, [new])
    assert report.renamed == [("notes.txt", "notes (2).txt")]
    assert "(use --replace to replace it)" in "\n".join(report.lines())
    assert "remove the old one below)" in "\n".join(report.lines(to_replace="remove the old one below"))
    assert "--replace" not in "\n".join(report.lines(to_replace="remove the old one below"))


def test_add_never_writes_outside_the_document_folder(tmp_path):
    docs = tmp_path / "docs"
    outside = tmp_path / "outside"
    outside.mkdir()
    sneaky = write_docs(tmp_path / "upload", {"..evil.md": "# Evil\n\ntext\n"})
    (docs / "papers").parent.mkdir(parents=True)
    (docs / "papers").symlink_to(outside, target_is_directory=True)  # a sub-folder that leads out
    write_docs(tmp_path / "src" / "papers", {"note.md": "# Note\n\ntext\n"})

    report = add_files(docs, [sneaky / "..evil.md", tmp_path / "src" / "papers"])

    assert report.added == ["evil.md"]
    assert "outside the document folder" in dict(report.skipped)[str(tmp_path / "src" / "papers" / "note.md")]
    assert list(outside.iterdir()) == []
    assert files_below(tmp_path / "upload") == {"..evil.md"}


def test_add_respects_the_size_limit(tmp_path, incoming):
    report = add_files(tmp_path / "docs", [incoming / "tides.html"], max_bytes=1000)
    assert report.added == [] and "limit" in report.skipped[0][1]
    assert not (tmp_path / "docs" / "tides.html").exists()


def test_adding_again_is_a_no_op_and_a_new_version_replaces_the_old_only_when_asked(tmp_path, incoming):
    docs = tmp_path / "docs"
    add_files(docs, [incoming / "tides.html"])
    assert add_files(docs, [incoming / "tides.html"]).unchanged == ["tides.html"]
    (incoming / "tides.html").write_text(HOSTILE_HTML.replace("13 metres", "14 metres"), encoding="utf-8")
    report = add_files(docs, [incoming / "tides.html"])  # the name is taken: both are kept
    assert report.added == ["tides (2).html"] and not report.replaced
    assert report.renamed == [("tides.html", "tides (2).html")]
    assert "--replace" in report.lines()[0]
    assert "13 metres" in (docs / "tides.html").read_text(encoding="utf-8")
    assert "14 metres" in (docs / "tides (2).html").read_text(encoding="utf-8")
    assert add_files(docs, [incoming / "tides.html"]).unchanged == ["tides (2).html"]  # no third copy
    report = add_files(docs, [incoming / "tides.html"], replace=True)
    assert report.replaced == ["tides.html"] and not report.added
    assert "14 metres" in (docs / "tides.html").read_text(encoding="utf-8")
    assert add_files(docs, [docs / "tides.html"]).skipped == [(str(docs / "tides.html"), "already in the document folder")]


def test_linked_files_are_recorded_by_absolute_path_and_loaded_with_a_prefixed_id(tmp_path, incoming):
    docs = write_docs(tmp_path / "docs", {"seals.md": "# Seals in the folder\n\ntext\n"})
    report = add_files(docs, [incoming / "papers"], link=True)
    birds, seals = (str((incoming / "papers" / n).resolve()) for n in ("deeper/birds.txt", "seals.md"))
    assert report.added == [LINK_PREFIX + birds, LINK_PREFIX + seals]
    assert json.loads((docs / LINKS_FILE).read_text()) == [birds, seals]
    assert files_below(docs) == {"seals.md", LINKS_FILE}  # nothing copied
    loaded = {d.id: d for d in load_folder(docs).documents}
    assert set(loaded) == {"seals.md", LINK_PREFIX + birds, LINK_PREFIX + seals}  # same file name, no collision
    assert loaded[LINK_PREFIX + seals].title == "Seals"
    assert add_files(docs, [incoming / "papers" / "seals.md"], link=True).unchanged == [LINK_PREFIX + seals]


def test_a_linked_file_that_disappears_or_a_damaged_link_list_is_reported(tmp_path, incoming):
    docs = write_docs(tmp_path / "docs", {"a.txt": "A text.\n"})
    add_files(docs, [incoming / "tides.html"], link=True)
    (incoming / "tides.html").unlink()
    report = load_folder(docs)
    assert [d.id for d in report.documents] == ["a.txt"]
    assert "not found" in dict(report.skipped)[LINK_PREFIX + str((incoming / "tides.html").resolve())]

    (docs / LINKS_FILE).write_text('{"paths": "/etc/passwd"}')
    report = load_folder(docs)
    assert [d.id for d in report.documents] == ["a.txt"]
    assert "linked files" in dict(report.skipped)[LINKS_FILE]


# -- remove -----------------------------------------------------------------------------------

def test_remove_trashes_copies_and_forgets_links_but_never_the_linked_file(tmp_path, incoming):
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    add_files(docs, [incoming / "tides.html"], link=True)
    linked = LINK_PREFIX + str((incoming / "tides.html").resolve())
    entries = remove_documents(docs, ["rivers.txt", linked], tmp_path / "index")
    assert [e.id for e in entries] == ["rivers.txt", linked]
    assert not (docs / "rivers.txt").exists()
    assert Path(entries[0].file).read_text(encoding="utf-8") == TINY_DOCS["rivers.txt"]  # moved, not deleted
    assert Path(entries[0].file).is_relative_to(tmp_path / "index" / "trash")
    assert entries[1].file is None and entries[1].link == str((incoming / "tides.html").resolve())
    assert (incoming / "tides.html").exists()
    assert collection_ids(docs) == {"volcanoes.md", "sub/coffee.txt"}


def test_remove_refuses_unknown_ids_and_emptying_the_collection_and_removes_nothing(tmp_path):
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    before = files_below(docs)
    with pytest.raises(QAError, match="not in the collection: ../outside.txt"):
        remove_documents(docs, ["rivers.txt", "../outside.txt"], tmp_path / "index")
    with pytest.raises(QAError, match="empty"):
        remove_documents(docs, sorted(TINY_DOCS), tmp_path / "index")
    with pytest.raises(QAError, match="no document"):
        remove_documents(docs, [], tmp_path / "index")
    assert files_below(docs) == before


# -- the facade -------------------------------------------------------------------------------

def test_added_documents_are_answered_from_at_once_and_removed_ones_are_gone_at_once(pipeline, incoming):
    pipeline.refresh()
    seen = []
    added, report = pipeline.add([incoming / "Lighthouses (2024).pdf"], progress=lambda f, m: seen.append((f, m)))
    assert added.added == ["Lighthouses (2024).pdf"] and report.added == ["Lighthouses (2024).pdf"]
    assert report.unchanged == sorted(TINY_DOCS) and report.embedded_passages > 0
    # the index's "added 1: ..." is not said again after "copied 1: ..." (a tester read every upload twice)
    assert added.lines(report) == ["copied 1: Lighthouses (2024).pdf", report.lines()[-1]]
    assert "added 1: Lighthouses (2024).pdf" in report.lines()  # the update alone still says it
    assert report.lines()[-1].startswith("indexed 4 documents")
    assert seen and all(0 <= f <= 1 for f, _ in seen) and {"splitting documents", "embedding passages"} <= {
        m for _, m in seen}

    top = pipeline.search(ECKMUHL, k=1)[0]  # same pipeline object: the new index is already swapped in
    assert (top.passage.doc, top.passage.page) == ("Lighthouses (2024).pdf", 2)
    assert pipeline.ask(ECKMUHL).doc == "Lighthouses (2024).pdf"

    pipeline.embedder.warm_up = lambda: pytest.fail("the model was loaded to remove a document")
    report = pipeline.remove(["Lighthouses (2024).pdf"])
    assert report.removed == ["Lighthouses (2024).pdf"] and report.embedded_passages == 0
    assert all(h.passage.doc != "Lighthouses (2024).pdf" for h in pipeline.search(ECKMUHL, k=10))
    assert not (pipeline.settings.docs / "Lighthouses (2024).pdf").exists()


def test_documents_list_type_pages_passages_and_when_indexed(pipeline, incoming):
    pipeline.refresh()
    before = {d.id: d.indexed for d in pipeline.documents()}
    pipeline.add([incoming / "Lighthouses (2024).pdf", incoming / "tides.html"])
    docs = {d.id: d.to_dict() for d in pipeline.documents()}
    pdf, html = docs["Lighthouses (2024).pdf"], docs["tides.html"]
    assert (pdf["kind"], pdf["pages"], pdf["title"]) == ("pdf", 3, "Lighthouses of Brittany")
    assert (html["kind"], html["pages"], html["title"]) == ("html", None, "Tide tables & harbours")
    assert pdf["passages"] == sum(p.doc == pdf["id"] for p in pipeline.data.passages) > 1
    for doc_id, indexed in before.items():  # documents that did not change keep their time
        assert docs[doc_id]["indexed"] == indexed
    assert pdf["indexed"] >= max(before.values())


def test_one_path_given_as_a_string_is_one_path_not_its_characters(pipeline, tmp_path, monkeypatch):
    """``add("n.md")`` was read a character at a time: "." added the whole working folder (given "/...", the whole
    file system)."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "n.md").write_text("# Note\n\nThe tide turns at noon.\n", encoding="utf-8")
    (work / "other.md").write_text("# Other\n\nNot to be added.\n", encoding="utf-8")
    monkeypatch.chdir(work)
    added, report = pipeline.add("n.md")
    assert added.added == ["n.md"] and added.skipped == [] and report is not None
    added, _ = pipeline.add(work / "other.md")  # a Path alone too
    assert added.added == ["other.md"]


def test_a_failed_add_leaves_the_index_alone(pipeline, incoming):
    pipeline.refresh()
    generation = pipeline.data.generation
    added, report = pipeline.add([incoming / "scan.pdf", incoming / "slides.pptx"])
    assert report is None and not added.changed and len(added.skipped) == 2
    assert pipeline.data.generation == generation


def test_removing_when_no_readable_document_would_be_left_says_so(tmp_path):
    docs = write_docs(tmp_path / "docs", {"a.txt": "Alpha text.\n", "scan.pdf": image_pdf()})
    qa = Pipeline(Settings(docs=docs, index=tmp_path / "index"), embedder=FakeEmbedder())
    qa.refresh()
    with pytest.raises(NoDocumentsError, match="no readable document would be left.*nothing was removed"):
        qa.remove(["a.txt"])
    assert (docs / "a.txt").read_text() == "Alpha text.\n" and qa.trashed() == []
    assert [d.id for d in qa.documents()] == ["a.txt"]


# -- the command line -------------------------------------------------------------------------

def run_qa(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    return subprocess.run([sys.executable, "-m", "qa", *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_cli_add_of_nothing_usable_is_one_clear_error(tmp_path, incoming):
    result = run_qa("add", incoming / "slides.pptx", "--docs", tmp_path / "docs", "--index", tmp_path / "i",
                    cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    # why a file was skipped is a warning: on stderr, apart from what was done
    assert "qa: skipped " in result.stderr and "not an accepted type" in result.stderr
    assert "not an accepted type" not in result.stdout and "nothing was added" in result.stderr
    result = run_qa("remove", "nope.txt", "--docs", write_docs(tmp_path / "d2", TINY_DOCS), "--index", tmp_path / "i",
                    cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.strip() == (
        "qa: error: not in the collection: nope.txt; see `qa list` for the ids")


@pytest.mark.integration
def test_cli_add_list_search_and_remove(tmp_path, incoming):
    docs, index = write_docs(tmp_path / "docs", TINY_DOCS), tmp_path / "index"
    where = ("--docs", docs, "--index", index)

    result = run_qa("add", incoming / "Lighthouses (2024).pdf", incoming / "tides.html", *where, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "copied 2: Lighthouses (2024).pdf, tides.html" in result.stdout.splitlines()
    result = run_qa("add", incoming / "papers", "--link", *where, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    seals = LINK_PREFIX + str((incoming / "papers" / "seals.md").resolve())
    assert result.stdout.startswith("linked 2: ") and seals in result.stdout

    listed = run_qa("list", "--json", *where, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    docs_listed = {d["id"]: d for d in json.loads(listed.stdout)}
    assert {"Lighthouses (2024).pdf", "tides.html", seals} <= set(docs_listed)
    pdf = docs_listed["Lighthouses (2024).pdf"]
    assert (pdf["kind"], pdf["pages"], pdf["title"]) == ("pdf", 3, "Lighthouses of Brittany")
    assert pdf["passages"] >= 1 and pdf["indexed"]

    answer = run_qa("ask", ECKMUHL, *where, cwd=tmp_path)
    assert answer.returncode == 0, answer.stderr
    assert "1897" in answer.stdout and "Lighthouses (2024).pdf [" in answer.stdout and " p. 2\n" in answer.stdout

    result = run_qa("remove", "Lighthouses (2024).pdf", seals, *where, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"removed 2: {', '.join(sorted(['Lighthouses (2024).pdf', seals]))}" in result.stdout.splitlines()
    table = run_qa("list", *where, cwd=tmp_path).stdout
    assert "Lighthouses" not in table and seals not in table
    row = next(line for line in table.splitlines() if line.startswith("tides.html"))
    assert "html" in row and "Tide tables & harbours" in row and docs_listed["tides.html"]["indexed"][:10] in row
    # ids of any length: the columns after them line up
    assert len({line.index(" passage") for line in table.splitlines() if line.strip()}) == 1, table
    assert (incoming / "papers" / "seals.md").exists()
