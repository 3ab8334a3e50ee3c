"""A PDF page drawn as an image, with the answer's characters marked on it (pypdfium2).

The index holds the text pypdf extracted; pdfium reads the same page on its own. The two texts
are aligned character by character (:class:`difflib.SequenceMatcher`), so the marked boxes are
those of exactly the characters the index cites, wherever both extractions agree on them.
"""

from __future__ import annotations

from difflib import SequenceMatcher
from pathlib import Path

from ..types import Document

#: Pixels per PDF point of the drawn page (72 points an inch: 1.5 draws at 108 dpi).
SCALE = 1.5
#: Longest page text aligned character by character; longer pages are searched instead.
MAX_ALIGN_CHARS = 30_000
MARK = (250, 204, 21, 110)  # the answer, as a translucent yellow
EDGE = (217, 119, 6, 255)


def page_span(doc: Document, page: int) -> tuple[int, int]:
    """Start and end offsets of the 1-based ``page`` in ``doc.text``."""
    starts = list(doc.pages)
    start = starts[page - 1]
    end = starts[page] if page < len(starts) else len(doc.text)
    return start, end


def _align(index_text: str, pdf_text: str, lo: int, hi: int) -> list[int]:
    """pdfium character indices of ``index_text[lo:hi]`` where the two texts match."""
    out = []
    blocks = SequenceMatcher(None, index_text, pdf_text, autojunk=False).get_matching_blocks()
    for a, b, size in blocks:
        for i in range(max(a, lo), min(a + size, hi)):
            out.append(b + i - a)
    return out


def _search(textpage, needle: str) -> list[int]:
    needle = " ".join(needle.split())
    if not needle:
        return []
    searcher = textpage.search(needle, match_case=False)
    found = searcher.get_next()
    if not found:
        return []
    index, count = found
    return list(range(index, index + count))


def render_page(path: Path, doc: Document, page: int, start: int | None, end: int | None):
    """The page as a PIL image with ``doc.text[start:end]`` marked (when on this page), and how it
    was found: ``"aligned"``, ``"searched"`` or ``""`` (not marked). ``None`` when the page cannot be drawn."""
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    try:
        pdf = pdfium.PdfDocument(str(path))
    except Exception:  # noqa: BLE001 - a damaged or vanished file: no page view
        return None, ""
    try:
        if not 1 <= page <= len(pdf):
            return None, ""
        pg = pdf[page - 1]
        image = pg.render(scale=SCALE).to_pil().convert("RGBA")
        _, height = pg.get_size()
        how, chars = "", []
        if start is not None and end is not None and end > start:
            textpage = pg.get_textpage()
            n = textpage.count_chars()
            pdf_text = textpage.get_text_range(0, n) if n else ""
            p0, p1 = page_span(doc, page)
            lo, hi = max(start, p0) - p0, min(end, p1) - p0
            page_text = doc.text[p0:p1]
            if hi > lo and len(page_text) <= MAX_ALIGN_CHARS and len(pdf_text) == n:
                chars = _align(page_text, pdf_text, lo, hi)
                how = "aligned" if chars else ""
            if not chars:
                chars = _search(textpage, doc.text[start:end])
                how = "searched" if chars else ""
            overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
            draw = ImageDraw.Draw(overlay)
            boxes = []
            for i in chars:
                if i >= n or pdf_text[i].isspace():
                    continue
                left, bottom, right, top = textpage.get_charbox(i, loose=True)
                boxes.append((left * SCALE - 1, (height - top) * SCALE - 2,
                              right * SCALE + 1, (height - bottom) * SCALE + 2))
            for box in boxes:
                draw.rectangle(box, fill=MARK)
            if boxes:  # a frame around all the marked characters, to find them at a glance
                x0 = min(b[0] for b in boxes) - 4
                y0 = min(b[1] for b in boxes) - 4
                x1 = max(b[2] for b in boxes) + 4
                y1 = max(b[3] for b in boxes) + 4
                draw.rectangle((x0, y0, x1, y1), outline=EDGE, width=2)
            else:
                how = ""
            image = Image.alpha_composite(image, overlay)
        return image.convert("RGB"), how
    finally:
        pdf.close()
