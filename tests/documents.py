"""Documents made on the fly (no binary fixtures in the repo)."""

import io

from reportlab.pdfgen import canvas

TOP = 800
LINE_HEIGHT = 20
LEFT = 72


def make_pdf(pages: int, lines_per_page: int = 5) -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    for page in range(pages):
        for line in range(lines_per_page):
            pdf.drawString(
                LEFT, TOP - line * LINE_HEIGHT, f"Page {page + 1} line {line + 1}: lorem ipsum"
            )
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()
