"""Fixture builders: every test document is generated on the fly, no binaries are committed.

Tests use these only through fixtures (never `import conftest`), so the module name cannot
clash with other test folders' conftest files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import docx
import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

PAGE_WIDTH, PAGE_HEIGHT = A4


class Text(NamedTuple):
    """A string drawn at baseline (x, y) in PDF points, origin bottom-left."""

    x: float
    y: float
    text: str
    size: float = 11.0


# Tests pass plain (x, y, text) or (x, y, text, size) tuples.
PdfFactory = Callable[..., Path]


def write_pdf(
    path: Path,
    pages: Sequence[Sequence[tuple[object, ...]]],
    *,
    encrypt: str | None = None,
    shapes_only: bool = False,
) -> Path:
    pdf = canvas.Canvas(str(path), pagesize=A4, encrypt=encrypt)
    for items in pages:
        if shapes_only:
            # Vector art but no text objects: stands in for a scanned/image-only page.
            pdf.rect(100, 100, 300, 300, fill=1)
        for raw in items:
            item = Text(*raw)  # type: ignore[arg-type]
            pdf.setFont("Helvetica", item.size)
            pdf.drawString(item.x, item.y, item.text)
        pdf.showPage()
    pdf.save()
    return path


@pytest.fixture
def make_pdf(tmp_path: Path) -> PdfFactory:
    counter = iter(range(1_000_000))

    def factory(pages: Sequence[Sequence[tuple[object, ...]]], **kwargs: object) -> Path:
        return write_pdf(tmp_path / f"doc{next(counter)}.pdf", pages, **kwargs)  # type: ignore[arg-type]

    return factory


def report_pages() -> list[list[Text]]:
    """Three pages with a title, paragraphs, a bullet list and one line at a known spot."""
    top = PAGE_HEIGHT - 72
    first = [
        Text(72, top, "Quarterly Report", 22),
        Text(72, top - 40, "Revenue grew in every region during the quarter and the"),
        Text(72, top - 54, "board approved the new budget for the next year."),
        Text(72, top - 90, "A second paragraph follows after a clear gap."),
        Text(72, top - 124, "\u2022 first bullet point"),
        Text(72, top - 138, "\u2022 second bullet point"),
        Text(300, 400, "Known line at three hundred by four hundred"),
    ]
    second = [
        Text(72, top, "Regional Results", 16),
        Text(72, top - 30, "The north region exceeded its target by ten percent."),
    ]
    third = [Text(72, top, "Outlook for the coming year is cautiously positive.")]
    return [first, second, third]


@pytest.fixture
def report_pdf(make_pdf: PdfFactory) -> Path:
    return make_pdf(report_pages())


@pytest.fixture
def sample_docx(tmp_path: Path) -> Path:
    document = docx.Document()
    document.add_heading("Project Plan", level=1)
    document.add_paragraph("This plan describes the delivery schedule.")
    document.add_heading("Milestones", level=2)
    document.add_paragraph("Design review", style="List Bullet")
    document.add_paragraph("Nested detail", style="List Bullet 2")
    document.add_paragraph("Launch", style="List Number")
    table = document.add_table(rows=3, cols=2)
    values = [("Phase", "Weeks"), ("Build", "6"), ("Test | QA", "2")]
    for row, row_values in zip(table.rows, values, strict=True):
        for cell, value in zip(row.cells, row_values, strict=True):
            cell.text = value
    document.add_paragraph("")  # empty paragraphs must not become blocks
    document.add_paragraph("Closing remarks.")
    path = tmp_path / "plan.docx"
    document.save(str(path))
    return path
