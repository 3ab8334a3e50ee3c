"""Safe removal: removed files go to a trash beside the index and come back with ``restore``."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import TINY_DOCS, FakeEmbedder, write_docs
from qa.ingest.collection import LINK_PREFIX
from qa.config import Settings
from qa.errors import QAError
from qa.pipeline import Pipeline

COFFEE_QUESTION = "Where was coffee first cultivated?"


@pytest.fixture
def qa(tmp_path) -> Pipeline:
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    pipeline = Pipeline(Settings(docs=docs, index=tmp_path / "index", chunk_size=200, chunk_overlap=40),
                        embedder=FakeEmbedder())
    pipeline.refresh()
    return pipeline


def test_remove_then_restore_is_a_round_trip(qa):
    docs = qa.settings.docs
    original = (docs / "sub" / "coffee.txt").read_bytes()
    report = qa.remove(["sub/coffee.txt"])
    assert report.removed == ["sub/coffee.txt"]
    [entry] = report.trashed
    trashed = Path(entry.file)
    assert not (docs / "sub" / "coffee.txt").exists()
    assert trashed.read_bytes() == original and trashed.is_relative_to(qa.settings.index / "trash")
    assert any("qa restore sub/coffee.txt" in line and str(trashed) in line for line in report.lines())
    assert [e.id for e in qa.trashed()] == ["sub/coffee.txt"]
    assert all(h.passage.doc != "sub/coffee.txt" for h in qa.search(COFFEE_QUESTION))

    report = qa.restore(["sub/coffee.txt"])
    assert report.added == ["sub/coffee.txt"]
    assert (docs / "sub" / "coffee.txt").read_bytes() == original
    assert qa.search(COFFEE_QUESTION)[0].passage.doc == "sub/coffee.txt"
    assert qa.trashed() == [] and not trashed.exists()


def test_a_linked_file_is_only_forgotten_and_restore_links_it_again(qa, tmp_path):
    outside = write_docs(tmp_path / "papers", {"tea.md": "# Tea\n\nTea reached Europe in the 17th century.\n"})
    qa.add([outside / "tea.md"], link=True)
    link_id = LINK_PREFIX + str((outside / "tea.md").resolve())
    report = qa.remove([link_id])
    assert (outside / "tea.md").read_text().startswith("# Tea")  # never deleted, never moved
    assert report.trashed[0].file is None and "linked" in report.lines()[0]
    assert link_id not in {d.id for d in qa.documents()}
    qa.restore([link_id])
    assert link_id in {d.id for d in qa.documents()}
    assert (outside / "tea.md").exists()


def test_restore_never_overwrites_a_file_of_the_same_name(qa):
    docs = qa.settings.docs
    qa.remove(["rivers.txt"])
    (docs / "rivers.txt").write_text("A new file with the old name.\n")
    with pytest.raises(QAError, match="already in the document folder.*nothing was restored"):
        qa.restore(["rivers.txt"])
    assert (docs / "rivers.txt").read_text() == "A new file with the old name.\n"
    assert [e.id for e in qa.trashed()] == ["rivers.txt"]  # still restorable
    with pytest.raises(QAError, match="not in the trash: nope.txt"):
        qa.restore(["nope.txt"])


def test_cli_remove_says_where_the_file_went_and_trash_and_restore_undo_it(qa, monkeypatch, capsys, caplog):
    from qa import cli

    monkeypatch.setattr(cli, "_pipeline", lambda args: Pipeline(qa.settings, embedder=FakeEmbedder()))
    args = ["--docs", str(qa.settings.docs), "--index", str(qa.settings.index)]
    assert cli.main(["remove", "rivers.txt", *args]) == 0
    out = capsys.readouterr().out
    assert "moved rivers.txt to the trash: " in out and "`qa restore rivers.txt`" in out
    assert cli.main(["trash", *args]) == 0
    assert capsys.readouterr().out.startswith("rivers.txt  removed ")
    caplog.set_level("INFO", logger="qa")
    assert cli.main(["restore", "rivers.txt", *args]) == 0
    printed = capsys.readouterr()
    assert "restored 1: rivers.txt" in printed.out and "added 1: rivers.txt" in printed.out
    # printed once: not logged (to stderr, in a terminal) as well
    assert not [r for r in caplog.records if "added 1" in r.getMessage()]
    assert (qa.settings.docs / "rivers.txt").read_text() == TINY_DOCS["rivers.txt"]
    assert cli.main(["trash", *args]) == 0 and "the trash is empty" in capsys.readouterr().out
