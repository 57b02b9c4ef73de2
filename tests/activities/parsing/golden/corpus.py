"""Extra documents for the golden test: layouts that take every branch of the PDF reader
and layout code (fonts and sizes, columns, hyphens, runs on shifted baselines, rotation,
whitespace and odd characters) and texts that make the chunkers split, so that a faster
engine is proven to produce the very same output, not just similar output.

Built with reportlab with `invariant=1`, so the bytes do not depend on the clock.
"""

from __future__ import annotations

import random
from pathlib import Path

import pypdfium2 as pdfium
from reportlab.pdfgen import canvas

from bench.corpus import WORDS

SEED = 14  # any fixed seed: the documents must be the same on every run
LEFT, TOP = 56, 790


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(count))


def mixed_layout_pdf(path: Path) -> Path:
    """Headings, lists, a two-column page, hyphenated line ends, a superscript, runs in
    several fonts on one line, Latin-1 accents, blank and whitespace-only lines."""
    rng = random.Random(SEED)
    pdf = canvas.Canvas(str(path), invariant=1)
    pdf.setFont("Times-Bold", 24)
    pdf.drawString(LEFT, TOP, "A Title In Times")
    pdf.setFont("Helvetica-Bold", 14)
    pdf.drawString(LEFT, TOP - 40, "1. Numbered heading-like line")
    y = TOP - 70
    for index in range(12):
        pdf.setFont("Helvetica", 10)
        text = _words(rng, 12)
        pdf.drawString(LEFT, y, text + ("-" if index % 3 == 0 else ""))
        y -= 12 if index % 5 else 30
    for bullet in ("\u2022 bullet one", "- dash item", "a) lettered item", "\u00b7 middle dot"):
        pdf.drawString(LEFT, y, bullet + " " + _words(rng, 5))
        y -= 14
    # Runs in different fonts and sizes on one baseline, and a raised superscript.
    pdf.setFont("Courier", 9)
    pdf.drawString(LEFT, y, "mono run")
    pdf.setFont("Helvetica-Oblique", 11)
    pdf.drawString(LEFT + 60, y, "then oblique")
    pdf.setFont("Helvetica", 6)
    pdf.drawString(LEFT + 140, y + 5, "sup")
    pdf.setFont("Helvetica", 10)
    pdf.drawString(LEFT + 160, y, "caf\u00e9 na\u00efve \u00fcber \u00bd")
    pdf.drawString(LEFT, y - 20, "wide      gaps     between    words")
    pdf.drawString(LEFT, y - 40, "   ")
    pdf.showPage()
    for column in (LEFT, 320):  # two columns, drawn one after the other
        y = TOP
        pdf.setFont("Helvetica", 9)
        for index in range(30):
            pdf.drawString(column, y, _words(rng, 6))
            y -= 11 if index % 10 != 9 else 25
    pdf.setFont("Helvetica-Bold", 18)
    pdf.drawString(LEFT, 80, "Footer heading after the columns")
    pdf.showPage()
    pdf.save()
    return path


def rotated_pdf(source: Path, path: Path) -> Path:
    """`source` with its pages turned 90, 180 and 270 degrees in turn."""
    document = pdfium.PdfDocument(source)
    try:
        for index in range(len(document)):
            page = document[index]
            page.set_rotation((90, 180, 270)[index % 3])
            page.close()
        document.save(path)
    finally:
        document.close()
    return path


def long_text(rng: random.Random) -> str:
    """Paragraphs, lines and sentences, one unbroken run, and multi-byte text."""
    paragraphs = []
    for _ in range(6):
        sentences = [_words(rng, rng.randint(4, 30)).capitalize() + "." for _ in range(12)]
        lines = [" ".join(sentences[n : n + 3]) for n in range(0, len(sentences), 3)]
        paragraphs.append("\n".join(lines))
    paragraphs.append("x" * 3000)
    paragraphs.append("Grüße aus Köln! 東京タワー 🚀 " * 60)
    return "\n\n".join(paragraphs)


def text_file(path: Path) -> Path:
    path.write_text(long_text(random.Random(SEED)))
    return path


def markdown_file(path: Path) -> Path:
    rng = random.Random(SEED)
    sections = []
    for n in range(5):
        sections.append(f"# Section {n}\n\n{_words(rng, 80)}\n\n- {_words(rng, 6)}\n")
        sections.append(f"## Sub {n}\n\n{long_text(rng)[:1500]}\n")
    path.write_text("\n".join(sections))
    return path


def html_file(path: Path) -> Path:
    rng = random.Random(SEED)
    body = "".join(
        f"<h2>Part {n}</h2><p>{_words(rng, 60)}</p><ul><li>{_words(rng, 4)}</li></ul>"
        for n in range(8)
    )
    path.write_text(f"<html><body><h1>Doc</h1>{body}</body></html>")
    return path
