"""Loading a folder of documents: ids, titles, metadata, and every kind of file that must be skipped."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from conftest import FakeEmbedder, write_docs
from qa.ingest.chunking import split_passages, split_sentences
from qa.config import Settings
from qa.ingest.documents import load_folder, make_document, parse_front_matter
from qa.errors import NoDocumentsError
from qa.index.indexer import update_index
from qa.pipeline import Pipeline

GOOD = "A good document.\n\nIt has a sentence about rivers.\n"


def skipped(report) -> dict[str, str]:
    return dict(report.skipped)


def test_loads_txt_and_md_recursively_with_relative_ids(tmp_path):
    write_docs(tmp_path, {"a.txt": GOOD, "b.md": "# B\n\ntext\n", "sub/deeper/c.txt": GOOD,
                          "notes.rst": GOOD, "image.png": b"\x89PNG", ".hidden.txt": GOOD})
    report = load_folder(tmp_path)
    assert [d.id for d in report.documents] == ["a.txt", "b.md", "sub/deeper/c.txt"]
    assert {d.id: d.kind for d in report.documents} == {"a.txt": "text", "b.md": "markdown",
                                                         "sub/deeper/c.txt": "text"}


def test_title_author_date_from_front_matter(tmp_path):
    write_docs(tmp_path, {"fm.md": "---\ntitle: 'Quoted Title'\nauthor: Jane Roe\ndate: 2021-03-04\n---\n"
                                   "First line of the body\n"})
    doc = load_folder(tmp_path).documents[0]
    assert (doc.title, doc.author, doc.date) == ("Quoted Title", "Jane Roe", "2021-03-04")


@pytest.mark.parametrize(
    "text, title",
    [
        ("\n\n   \nFirst real line  \nsecond line\n", "First real line"),
        ("## Markdown heading\n\nbody\n", "Markdown heading"),
        ("---\nauthor: X\n---\n\nBody title line\n", "Body title line"),
    ],
)
def test_title_falls_back_to_first_non_empty_line(text, title):
    doc = make_document("x.txt", text)
    assert doc.title == title
    assert doc.author in (None, "X") and doc.date is None


CAPTION = ("Iraqi women walk past a poster depicting images of Iran's Supreme Leader Ayatollah Ali Khamenei at "
           "al-Firdous Square in Baghdad February 12, 2014")


@pytest.mark.parametrize(
    "text, title",
    [
        # a web article saved as text: photo caption, date, then the headline standing alone
        (f"{CAPTION}\n\nSeptember 02, 2014\n\nHe's Just Not That Into Us: The Supreme Leader's Strategy\n\n"
         f"{CAPTION}. (Reuters)\n\nPolicy discussions in Washington continue.\n",
         "He's Just Not That Into Us: The Supreme Leader's Strategy"),
        ("September 02, 2014\n\nThe Headline\n\nBody text follows here.\n", "The Headline"),
        # hard-wrapped prose: a line that starts with a capital is not a title unless it stands alone
        (" these, the Middle East stands out as one of the most crisis-prone\nregions in the world. During\n"
         "Syria. This non-state actor has posed\nsignificant threats to the region.\n", "x.txt"),
        # a line alone further down is a section heading, not the title
        (f"{CAPTION}\n\nthe body goes on,\n\nand on,\n\nIntroduction\n\nx\n", "x.txt"),
        ("2014-09-02\n", "x.txt"),  # a date alone is no title
    ],
)
def test_a_title_is_found_past_a_caption_or_a_date_but_never_in_running_text(text, title):
    assert make_document("x.txt", text).title == title


def test_front_matter_offset_points_at_the_body():
    text = "---\r\ntitle: T\r\n---\r\nbody"
    meta, start = parse_front_matter(text)
    assert meta == {"title": "T"} and text[start:] == "body"


def test_bad_files_are_skipped_with_a_warning_naming_each(tmp_path):
    write_docs(tmp_path, {
        "good.txt": GOOD,
        "empty.txt": "",
        "blank.txt": "  \n\n\t\n",
        "binary.txt": b"\x7fELF\x02\x01\x01\x00\x00\x00binary",
        "latin1.txt": "Caf\u00e9 cr\u00e8me, na\u00efve r\u00e9sum\u00e9.".encode("latin-1"),
    })
    report = load_folder(tmp_path)
    assert [d.id for d in report.documents] == ["good.txt"]
    reasons = skipped(report)
    assert set(reasons) == {"empty.txt", "blank.txt", "binary.txt", "latin1.txt"}
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "UTF-8" in reasons["latin1.txt"]
    warnings = report.warnings()
    for name in reasons:
        assert any(name in w for w in warnings)


def test_file_over_the_size_limit_is_skipped_with_its_size(tmp_path):
    write_docs(tmp_path, {"good.txt": GOOD})
    with open(tmp_path / "huge.txt", "wb") as fh:  # sparse: 50 MB on paper, nothing on disk
        fh.truncate(50 * 1024 * 1024)
    report = load_folder(tmp_path, max_bytes=Settings().max_file_bytes)
    reason = skipped(report)["huge.txt"]
    assert "50 MB" in reason and "10 MB limit" in reason


def test_default_size_limit_applies_without_settings(tmp_path):
    write_docs(tmp_path, {"good.txt": GOOD})
    with open(tmp_path / "big.txt", "wb") as fh:
        fh.truncate(Settings().max_file_bytes + 1)
    assert "over the 10 MB limit" in skipped(load_folder(tmp_path))["big.txt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="running as root: file permissions do not block reads")
def test_unreadable_file_is_skipped(tmp_path):
    write_docs(tmp_path, {"good.txt": GOOD, "secret.txt": GOOD})
    (tmp_path / "secret.txt").chmod(0)
    try:
        assert skipped(load_folder(tmp_path)) == {"secret.txt": "permission denied"}
    finally:
        (tmp_path / "secret.txt").chmod(0o644)


def test_unreadable_file_is_skipped_simulated(tmp_path, monkeypatch):
    """The same as above where tests run as root (permissions do not block root's reads)."""
    write_docs(tmp_path, {"good.txt": GOOD, "secret.txt": GOOD})
    real_read = Path.read_bytes

    def read_bytes(self):
        if self.name == "secret.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    report = load_folder(tmp_path)
    assert [d.id for d in report.documents] == ["good.txt"]
    assert skipped(report) == {"secret.txt": "permission denied"}


def test_symlink_out_of_the_folder_is_not_followed(tmp_path):
    outside = write_docs(tmp_path / "outside", {"secret.txt": "SECRET outside text\n"})
    docs = write_docs(tmp_path / "docs", {"good.txt": GOOD})
    (docs / "link.txt").symlink_to(outside / "secret.txt")
    (docs / "linked_dir").symlink_to(outside, target_is_directory=True)
    (docs / "inside.txt").symlink_to(docs / "good.txt")
    report = load_folder(docs)
    assert [d.id for d in report.documents] == ["good.txt", "inside.txt"]
    assert "outside the document folder" in skipped(report)["link.txt"]
    assert all("SECRET" not in d.text for d in report.documents)


def test_every_folder_link_is_skipped_with_one_line_saying_why(tmp_path):
    """A link to a folder is never followed: out of the folder it would read files from elsewhere, back to a
    folder that holds it it would loop, and inside the folder it would read the same files again under other ids."""
    outside = write_docs(tmp_path / "outside", {"secret.txt": "SECRET outside text\n"})
    docs = write_docs(tmp_path / "docs", {"good.txt": GOOD, "sub/deep.txt": GOOD + "Deeper.\n",
                                          ".hidden/h.txt": GOOD})
    (docs / "linkdir").symlink_to(outside, target_is_directory=True)
    (docs / "loopdir").symlink_to(".", target_is_directory=True)
    (docs / "sublink").symlink_to("sub", target_is_directory=True)
    (docs / "sub" / "up").symlink_to("..", target_is_directory=True)
    (docs / "hidlink").symlink_to(".hidden", target_is_directory=True)
    report = load_folder(docs)
    assert [d.id for d in report.documents] == ["good.txt", "sub/deep.txt"]  # each file once, under its own id
    assert all("SECRET" not in d.text for d in report.documents)
    why = skipped(report)
    assert set(why) == {"linkdir", "loopdir", "sublink", "sub/up", "hidlink"}
    assert why["linkdir"] == "symbolic link to a folder outside the document folder (not followed)"
    assert "loop" in why["loopdir"] and "loop" in why["sub/up"]
    assert why["sublink"].startswith("symbolic link to a folder inside the document folder (not followed")
    assert "hidden folder" in why["hidlink"]
    assert len(report.warnings()) == 5


def test_bom_and_crlf_keep_exact_offsets(tmp_path):
    text = "Title line\r\n\r\nFirst sentence here. Second one\r\nwraps here.\r\n\r\nLast paragraph.\r\n"
    (tmp_path / "crlf.txt").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    doc = load_folder(tmp_path).documents[0]
    assert doc.text == text  # BOM dropped, line endings kept
    assert doc.title == "Title line"
    passages = split_passages(doc, 50, 10)
    assert passages and all(doc.text[p.start:p.end] == p.text for p in passages)
    sentences = [doc.text[s:e] for s, e in split_sentences(doc.text)]
    assert "First sentence here." in sentences
    assert "Second one\r\nwraps here." in sentences
    assert all(s == s.strip() for s in sentences)


def test_one_long_line_without_spaces_indexes_quickly(tmp_path, fake_embedder):
    write_docs(tmp_path / "docs", {"blob.txt": "x" * 200_000})
    t = time.perf_counter()
    report = update_index(tmp_path / "docs", tmp_path / "index", fake_embedder, 1000, 200)
    assert time.perf_counter() - t < 20  # a generous bound: it takes about a second
    assert report.wrote and report.passages == 250


def test_duplicate_content_under_two_names_is_indexed_twice(tmp_path, fake_embedder):
    docs = write_docs(tmp_path / "docs", {"a.txt": GOOD, "copy/a.txt": GOOD})
    qa = Pipeline(Settings(docs=docs, index=tmp_path / "index", chunk_size=100, chunk_overlap=0),
                  embedder=fake_embedder)
    qa.refresh()
    assert [d.id for d in qa.documents()] == ["a.txt", "copy/a.txt"]
    hits = qa.search("rivers", k=5, mode="bm25")
    assert {h.passage.doc for h in hits} == {"a.txt", "copy/a.txt"}


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(NoDocumentsError, match="does not exist"):
        load_folder(tmp_path / "nope")


def test_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(NoDocumentsError, match="no readable"):
        load_folder(tmp_path)


def test_folder_of_only_bad_files_names_them(tmp_path):
    write_docs(tmp_path, {"empty.txt": ""})
    with pytest.raises(NoDocumentsError, match="empty.txt"):
        load_folder(tmp_path)


def test_pipeline_reports_no_documents(tmp_path):
    qa = Pipeline(Settings(docs=tmp_path / "missing", index=tmp_path / "index"), embedder=FakeEmbedder())
    with pytest.raises(NoDocumentsError):
        qa.search("anything")
