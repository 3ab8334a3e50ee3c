"""Small real PDF and HTML files, made by the tests themselves (fpdf2 writes the PDFs)."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

from fpdf import FPDF

LIGHTHOUSE_PAGES = [
    "Lighthouses of Brittany\n\n"
    "The coast of Brittany is rocky and its tides are among the strongest in Europe. "
    "Dozens of lighthouses guide ships past the reefs of the Iroise Sea.",
    "Penmarch\n\n"
    "The Phare d'Eckmuhl at Penmarch was lit in 1897. Its tower is 65 metres tall, "
    "and 307 steps lead to the lantern.",
    "Ushant\n\n"
    "The Creac'h lighthouse on the island of Ushant has one of the most powerful lights in the world. "
    "Its beam reaches 60 kilometres out to sea.",
]


def make_pdf(pages: list[str], title: str | None = None, author: str | None = None, unicode: bool = False) -> bytes:
    """A PDF with a text layer: one page per item of ``pages`` (``\\n`` breaks lines). Helvetica
    writes Latin-1 only; ``unicode`` embeds DejaVu Sans (shipped with matplotlib) for the rest."""
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    if author:
        pdf.set_author(author)
    if unicode:
        import matplotlib

        pdf.add_font("DejaVu", fname=str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"))
        pdf.set_font("DejaVu", size=12)
    else:
        pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 7, text)
    return bytes(pdf.output())


def image_pdf(pages: int = 2) -> bytes:
    """A PDF of pages that hold only a picture, like a scan without OCR."""
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (400, 120), "white")
    ImageDraw.Draw(picture).text((10, 50), "This text is only pixels", fill="black")
    pdf = FPDF()
    for _ in range(pages):
        pdf.add_page()
        pdf.image(picture, x=10, y=10, w=150)
    return bytes(pdf.output())


def encrypted_pdf(data: bytes, user_password: str, owner_password: str = "owner") -> bytes:
    """``data`` encrypted (AES-256); an empty user password locks editing only, not reading."""
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(data))
    writer.encrypt(user_password, owner_password=owner_password, algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


HOSTILE_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>Tide tables &amp; harbours</title>
<meta name="author" content="Port Office">
<style>body { color: red } .x::after { content: "STYLE TEXT" }</style>
<script>document.write("SCRIPT TEXT"); alert(1)</script></head>
<body onload="alert(2)">
<header><h1>Harbour site</h1><p>HEADER TEXT</p></header>
<nav><a href="/">NAV TEXT</a></nav>
<article>
<h1>Tides at Saint-Malo</h1>
<p>The tidal range at Saint-Malo reaches 13 metres,<br>one of the largest in the world.</p>
<noscript>NOSCRIPT TEXT</noscript><template><p>TEMPLATE TEXT</p></template>
<h2>Crossing to the Grand Bé</h2>
<p>At low tide a causeway leads to the island of Grand Bé, where the writer Chateaubriand is buried.
<img src=x onerror="alert(3)"> Visitors must return before the sea covers the path.</p>
<ul><li>Check the tide table.</li><li>Leave two hours early.</li></ul>
<form><input value="FORM VALUE">FORM TEXT<button>Send</button></form>
</article>
<aside>ASIDE TEXT</aside>
<footer>FOOTER TEXT</footer>
</body></html>
"""

#: Text that must not survive extraction of :data:`HOSTILE_HTML`.
DROPPED_TEXT = ["STYLE TEXT", "SCRIPT TEXT", "alert", "HEADER TEXT", "NAV TEXT", "NOSCRIPT TEXT", "TEMPLATE TEXT",
                "FORM VALUE", "FORM TEXT", "Send", "ASIDE TEXT", "FOOTER TEXT", "Harbour site"]


def inflating_pdf(chars: int) -> bytes:
    """A one-page PDF whose compressed content stream shows ``chars`` characters of text."""
    line = b"(" + b"A" * 70 + b") Tj T* "
    stream = zlib.compress(b"BT /F1 12 Tf 14 TL 72 712 Td " + line * (chars // 70) + b"ET", 9)
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)
