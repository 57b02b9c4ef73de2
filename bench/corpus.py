"""A PDF corpus made on the fly with reportlab (as tests/documents.py does): dense pages,
a heading and paragraphs of ~95-character lines, about 4,500 characters per page, which is
what makes the engine's per-character work show."""

import io
import random

from reportlab.pdfgen import canvas

WORDS = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
    "enim",
    "ad",
    "minim",
    "veniam",
    "quis",
    "nostrud",
    "exercitation",
    "ullamco",
    "laboris",
    "nisi",
    "aliquip",
    "ex",
    "ea",
    "commodo",
    "consequat",
    "duis",
    "aute",
    "irure",
    "in",
    "reprehenderit",
    "voluptate",
]
TOP, BOTTOM, LEFT = 790, 60, 56
LINE_CHARS = 95
LEADING = 13
PARAGRAPH_LINES = 8


def _line(rng: random.Random) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < LINE_CHARS:
        words.append(rng.choice(WORDS))
    return " ".join(words)[:LINE_CHARS]


def dense_pdf(pages: int, seed: int) -> bytes:
    rng = random.Random(seed)
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    for page in range(pages):
        pdf.setFont("Helvetica-Bold", 16)
        pdf.drawString(LEFT, TOP, f"Section {page + 1}: {_line(rng)[:40]}")
        pdf.setFont("Helvetica", 10)
        y, line = TOP - 2 * LEADING, 0
        while y > BOTTOM:
            pdf.drawString(LEFT, y, _line(rng))
            line += 1
            # A blank line between paragraphs, so layout has paragraphs to find.
            y -= LEADING * (2 if line % PARAGRAPH_LINES == 0 else 1)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def corpus(documents: int, pages: int) -> list[bytes]:
    return [dense_pdf(pages, seed) for seed in range(documents)]
