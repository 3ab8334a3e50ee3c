"""PDF and HTML documents: text extracted, pages cited, offsets exact, unusable files reported."""

from __future__ import annotations

import json

import pytest

from conftest import FakeEmbedder, write_docs
from qa.index import store
from qa.ingest.chunking import split_passages
from qa.config import Settings
from qa.ingest.documents import load_folder
from qa.ingest.formats import extract_html, extract_pdf
from qa.pipeline import Pipeline
from qa.types import Document
from sample_files import (DROPPED_TEXT, HOSTILE_HTML, LIGHTHOUSE_PAGES, encrypted_pdf, image_pdf,
                          make_pdf)


def only_doc(folder):
    report = load_folder(folder)
    assert len(report.documents) == 1, report.skipped
    return report.documents[0]


def skip_reason(folder, name: str) -> str:
    return dict(load_folder(folder).skipped)[name]


# -- PDF --------------------------------------------------------------------------------------

def test_pdf_text_per_page_with_page_offsets():
    extracted = extract_pdf(make_pdf(LIGHTHOUSE_PAGES))
    assert len(extracted.pages) == 3
    bounds = list(extracted.pages) + [len(extracted.text)]
    for n, page in enumerate(LIGHTHOUSE_PAGES):
        on_page = extracted.text[bounds[n]:bounds[n + 1]]
        # every word of the page is on its page (fpdf may wrap lines differently)
        assert on_page.split() == page.split()


def test_blank_pages_keep_the_page_numbers_of_the_pages_after_them():
    extracted = extract_pdf(make_pdf(["", "Second page text.", "", "Fourth page text."]))
    assert extracted.text == "Second page text.\n\nFourth page text."
    doc = Document("x.pdf", "x", extracted.text, pages=extracted.pages)
    assert doc.page_at(extracted.text.index("Second")) == 2 and doc.page_at(extracted.text.index("Fourth")) == 4


def test_pdf_document_title_author_date_from_metadata(tmp_path):
    write_docs(tmp_path, {"lights.pdf": make_pdf(LIGHTHOUSE_PAGES, title="Guide to the Lights", author="A. Keeper")})
    doc = only_doc(tmp_path)
    assert (doc.id, doc.kind, doc.title, doc.author) == ("lights.pdf", "pdf", "Guide to the Lights", "A. Keeper")
    assert doc.date and len(doc.date) == 10 and doc.date[4] == "-"  # the creation date, as YYYY-MM-DD
    assert len(doc.pages) == 3 and doc.page_at(0) == 1 and doc.page_at(len(doc.text) - 1) == 3


@pytest.mark.parametrize("title", [None, "Microsoft Word - draft3.docx", "untitled"])
def test_pdf_title_falls_back_to_the_first_line(tmp_path, title):
    write_docs(tmp_path, {"lights.pdf": make_pdf(LIGHTHOUSE_PAGES, title=title)})
    assert only_doc(tmp_path).title == "Lighthouses of Brittany"


def test_pdf_passages_cite_the_page_where_they_start_with_exact_offsets(tmp_path):
    write_docs(tmp_path, {"lights.pdf": make_pdf(LIGHTHOUSE_PAGES)})
    doc = only_doc(tmp_path)
    passages = split_passages(doc, chunk_size=120, chunk_overlap=20)
    assert {p.page for p in passages} == {1, 2, 3}
    for p in passages:
        assert doc.text[p.start:p.end] == p.text
        assert doc.pages[p.page - 1] <= p.start
        assert p.page == len(doc.pages) or p.start < doc.pages[p.page]
    eckmuhl = next(p for p in passages if "1897" in p.text)
    assert eckmuhl.page == 2


def test_ligatures_are_unfolded_so_words_can_be_found():
    extracted = extract_pdf(make_pdf(["The \ufb01nal o\ufb03ce of the Caf\u00e9 \u2014 \u0141\u00f3d\u017a"], unicode=True))
    assert extracted.text == "The final office of the Caf\u00e9 \u2014 \u0141\u00f3d\u017a"


def test_scanned_pdf_is_reported_not_indexed_empty(tmp_path):
    write_docs(tmp_path, {"scan.pdf": image_pdf(pages=2), "ok.txt": "A text file.\n"})
    reason = skip_reason(tmp_path, "scan.pdf")
    assert "no text layer" in reason and "OCR" in reason and "2 pages" in reason
    assert [d.id for d in load_folder(tmp_path).documents] == ["ok.txt"]


def test_password_protected_pdf_is_skipped_with_a_clear_reason(tmp_path):
    write_docs(tmp_path, {"locked.pdf": encrypted_pdf(make_pdf(LIGHTHOUSE_PAGES), user_password="secret"),
                          "ok.txt": "A text file.\n"})
    reason = skip_reason(tmp_path, "locked.pdf")
    assert "encrypted" in reason and "password" in reason


def test_pdf_locked_for_editing_only_is_read(tmp_path):
    write_docs(tmp_path, {"open.pdf": encrypted_pdf(make_pdf(LIGHTHOUSE_PAGES), user_password="")})
    assert "Phare d'Eckmuhl" in only_doc(tmp_path).text


@pytest.mark.parametrize("data", [b"%PDF-1.7\nnot really a pdf", make_pdf(LIGHTHOUSE_PAGES)[:400],
                                  b"\x00" * 64], ids=["garbage", "truncated", "zeros"])
def test_damaged_pdf_is_skipped_with_a_clear_reason(tmp_path, data):
    write_docs(tmp_path, {"broken.pdf": data, "ok.txt": "A text file.\n"})
    reason = skip_reason(tmp_path, "broken.pdf")
    assert "damaged PDF" in reason


# -- HTML -------------------------------------------------------------------------------------

def test_html_keeps_the_main_text_and_drops_scripts_navigation_and_forms():
    extracted = extract_html(HOSTILE_HTML.encode())
    text = extracted.text
    assert "The tidal range at Saint-Malo reaches 13 metres,\none of the largest in the world." in text
    assert "Chateaubriand is buried. Visitors must return" in text
    for dropped in DROPPED_TEXT:
        assert dropped not in text
    assert extracted.meta == {"title": "Tide tables & harbours", "author": "Port Office"}


def test_html_structure_becomes_paragraphs_and_sections(tmp_path):
    write_docs(tmp_path, {"tides.html": HOSTILE_HTML})
    doc = only_doc(tmp_path)
    assert (doc.kind, doc.title, doc.pages) == ("html", "Tide tables & harbours", ())
    blocks = doc.text.split("\n\n")
    assert blocks[0] == "# Tides at Saint-Malo"
    assert "## Crossing to the Grand B\u00e9" in blocks
    assert "- Check the tide table." in blocks and "- Leave two hours early." in blocks
    passages = split_passages(doc, chunk_size=150, chunk_overlap=0)
    for p in passages:
        assert doc.text[p.start:p.end] == p.text and p.page is None
    crossing = next(p for p in passages if "causeway" in p.text)
    assert crossing.section == "Crossing to the Grand B\u00e9"


def test_html_title_falls_back_to_the_first_heading_and_charset_is_honoured():
    page = '<html><head><meta charset="iso-8859-1"></head><body><h1>Caf\xe9s of Lyon</h1><p>Cr\xe8me.</p>'
    extracted = extract_html(page.encode("latin-1"))
    assert extracted.meta["title"] == "Caf\u00e9s of Lyon"
    assert extracted.text == "# Caf\u00e9s of Lyon\n\nCr\u00e8me."


def test_html_text_cannot_fake_breaks_with_the_marks_used_inside():
    assert extract_html(b"<p>one \x1f two \x1e three</p>").text == "one two three"


def test_html_without_text_is_skipped(tmp_path):
    write_docs(tmp_path, {"empty.html": "<html><head><title>T</title><script>x()</script></head><body><nav>menu</nav>"
                                        "</body></html>", "ok.txt": "A text file.\n"})
    assert "no text" in skip_reason(tmp_path, "empty.html")


def test_deeply_nested_html_does_not_crash():
    page = "<div>" * 5000 + "<p>deep text</p>" + "</div>" * 5000
    assert "deep text" in extract_html(page.encode()).text


# -- through the index ------------------------------------------------------------------------

@pytest.fixture
def mixed(tmp_path):
    docs = write_docs(tmp_path / "docs", {
        "lights.pdf": make_pdf(LIGHTHOUSE_PAGES, title="Lighthouses"),
        "tides.htm": HOSTILE_HTML,
        "notes.md": "---\ntitle: Field notes\nauthor: R. Diver\n---\n# Seals\n\n"
                    + "Grey seals rest on the reefs of the Iroise Sea at low tide. " * 4 + "\n",
    })
    settings = Settings(docs=docs, index=tmp_path / "index", chunk_size=120, chunk_overlap=20)
    return Pipeline(settings, embedder=FakeEmbedder())


def test_pages_and_extracted_text_are_stored_and_loaded_with_the_index(mixed):
    mixed.refresh()
    loaded = store.load(mixed.settings.index)
    docs = {d.id: d for d in loaded.documents}
    assert len(docs["lights.pdf"].pages) == 3 and docs["tides.htm"].pages == () and docs["notes.md"].pages == ()
    for p in loaded.passages:
        assert docs[p.doc].text[p.start:p.end] == p.text
        assert p.page == docs[p.doc].page_at(p.start)
    assert docs["notes.md"].author == "R. Diver"
    assert any(p.section == "Seals" for p in loaded.passages if p.doc == "notes.md")


def test_search_results_carry_the_page(mixed):
    hits = mixed.search("When was the Phare d'Eckmuhl at Penmarch lit?", k=3)
    top = hits[0].to_dict()
    assert (top["doc"], top["page"]) == ("lights.pdf", 2)
    assert "1897" in top["text"]
    json.dumps([h.to_dict() for h in hits])
    assert all(h.to_dict()["page"] is None for h in hits if h.passage.doc != "lights.pdf")


def test_files_changed_or_deleted_by_hand_are_picked_up(mixed):
    mixed.refresh()
    docs = mixed.settings.docs
    (docs / "lights.pdf").write_bytes(make_pdf(LIGHTHOUSE_PAGES[:2] + ["Sein\n\nThe island of Sein is flat."]))
    (docs / "tides.htm").unlink()
    report = mixed.refresh()
    assert (report.changed, report.removed, report.unchanged) == (["lights.pdf"], ["tides.htm"], ["notes.md"])
    assert mixed.search("island of Sein flat", k=1)[0].passage.page == 3
    assert "tides.htm" not in mixed.data.doc_index


def test_a_file_read_again_in_the_same_process_is_not_parsed_again(tmp_path, monkeypatch):
    calls = counting_extractors(monkeypatch)
    write_docs(tmp_path, {"lights.pdf": make_pdf(["A page about the unchanged file cache."])})
    first = only_doc(tmp_path)
    assert only_doc(tmp_path) == first and len(calls) == 1
    write_docs(tmp_path, {"lights.pdf": make_pdf(["A page that changed."])})
    assert "changed" in only_doc(tmp_path).text and len(calls) == 2


def counting_extractors(monkeypatch) -> list[str]:
    """Count the files really parsed, with nothing remembered in this process."""
    from qa.ingest import formats

    calls: list[str] = []
    monkeypatch.setattr(formats, "_cache", {})
    for kind, extractor in list(formats.EXTRACTORS.items()):
        monkeypatch.setitem(formats.EXTRACTORS, kind, lambda data, *a, k=kind, f=extractor: calls.append(k) or f(data, *a))
    return calls


def test_unchanged_pdf_and_html_keep_the_text_stored_with_the_index(mixed, monkeypatch):
    mixed.refresh()
    calls = counting_extractors(monkeypatch)
    # as a new process would; documents read in this process, where the extractors are counted
    again = Pipeline(mixed.settings.replace(parse_worker=False), embedder=FakeEmbedder())
    report = again.refresh()
    assert calls == [] and not report.wrote
    assert again.data.document("lights.pdf") == mixed.data.document("lights.pdf")
    again.index(force=True)  # a rebuild parses everything again
    assert sorted(calls) == ["html", "pdf"]


def test_a_new_way_of_extracting_indexes_pdf_and_html_again(mixed, monkeypatch):
    from qa.ingest import formats

    mixed.refresh()
    calls = counting_extractors(monkeypatch)
    for kind in ("pdf", "html"):
        monkeypatch.setitem(formats.EXTRACTION_VERSIONS, kind, formats.EXTRACTION_VERSIONS[kind] + 1)
    # documents read in this process, where the version is changed and the extractors counted
    report = Pipeline(mixed.settings.replace(parse_worker=False), embedder=FakeEmbedder()).refresh()
    assert sorted(report.changed) == ["lights.pdf", "tides.htm"] and report.unchanged == ["notes.md"]
    assert sorted(calls) == ["html", "pdf"]


def test_an_html_table_becomes_markdown_rows_with_its_header_underlined():
    """Cells stay apart ("Little Tom 4 inch Refractor" ran together, and the reader answered "4 inch Refractor"),
    and the header row is marked as one, so the reader takes neither a column's name nor two cells."""
    page = (b"<html><body><h1>Telescopes</h1><p>Our club owns two.</p><table><thead><tr><th>Name</th>"
            b"<th>Aperture</th></tr></thead><tbody><tr><td>Little <b>Tom</b></td><td>4 inch</td></tr>"
            b"<tr><td>Big Ben</td><td>12 inch</td></tr><tr></tr></tbody></table><p>After the table.</p></body></html>")
    text = extract_html(page).text
    assert text == ("# Telescopes\n\nOur club owns two.\n\n| Name | Aperture |\n|---|---|\n| Little Tom | 4 inch |\n"
                    "| Big Ben | 12 inch |\n\nAfter the table.")
