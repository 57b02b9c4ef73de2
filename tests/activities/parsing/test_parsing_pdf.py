from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from reportlab.lib.pagesizes import A4

from activities.parsing import Page, ParseError, iter_pages, pdf_reader
from activities.parsing.detect import PDF_MIME

PAGE_WIDTH, PAGE_HEIGHT = A4
PdfFactory = Callable[..., Path]


def _pages(path: Path) -> list[Page]:
    return list(iter_pages(path, PDF_MIME))


def _find(page: Page, needle: str) -> Any:
    matches = [block for block in page.blocks if needle in block.content]
    assert matches, f"{needle!r} not found in {[b.content for b in page.blocks]}"
    return matches[0]


def test_multi_page_pdf_yields_numbered_pages_with_blocks(report_pdf: Path) -> None:
    pages = _pages(report_pdf)
    assert [page.number for page in pages] == [1, 2, 3]
    assert all(block.page_number == page.number for page in pages for block in page.blocks)
    assert all(block.confidence == 1.0 for page in pages for block in page.blocks)
    assert "Outlook for the coming year" in pages[2].blocks[0].content


def test_lines_are_grouped_into_paragraphs_headings_and_list_items(report_pdf: Path) -> None:
    first = _pages(report_pdf)[0]
    kinds = [(block.type, block.content) for block in first.blocks]
    assert kinds[0] == ("heading", "# Quarterly Report")
    assert kinds[1] == (
        "text",
        "Revenue grew in every region during the quarter and the board approved the new budget "
        "for the next year.",
    )
    assert kinds[2] == ("text", "A second paragraph follows after a clear gap.")
    assert kinds[3] == ("list_item", "- first bullet point")
    assert kinds[4] == ("list_item", "- second bullet point")
    second = _pages(report_pdf)[1]
    assert second.blocks[0].type == "heading"


def test_bbox_of_known_line_matches_where_it_was_drawn(report_pdf: Path) -> None:
    block = _find(_pages(report_pdf)[0], "Known line")
    box = block.bbox
    assert box is not None
    baseline_from_top = (PAGE_HEIGHT - 400) / PAGE_HEIGHT
    assert box.left == pytest.approx(300 / PAGE_WIDTH, abs=0.05)
    # The box sits on the baseline: its bottom edge is near it, its top edge above it.
    assert box.top + box.height == pytest.approx(baseline_from_top, abs=0.05)
    assert box.top < baseline_from_top
    assert 0 < box.height < 0.05
    assert box.left >= 0 and box.left + box.width <= 1


def test_bbox_of_title_is_near_top_left(report_pdf: Path) -> None:
    box = _pages(report_pdf)[0].blocks[0].bbox
    assert box is not None
    assert box.left == pytest.approx(72 / PAGE_WIDTH, abs=0.05)
    assert box.top == pytest.approx(72 / PAGE_HEIGHT - 22 / PAGE_HEIGHT, abs=0.05)


def test_rotated_page_boxes_follow_the_displayed_orientation(make_pdf: PdfFactory) -> None:
    path = make_pdf([[(100, 700, "Rotated text sample")]])
    # Set /Rotate on an ordinary portrait page (reportlab's own rotation swaps the media box).
    document = pdfium.PdfDocument(path)
    page = document[0]
    page.set_rotation(90)
    page.close()
    rotated = path.with_name("rotated.pdf")
    document.save(rotated)
    document.close()

    box = _pages(rotated)[0].blocks[0].bbox
    assert box is not None
    # Unrotated the line starts 100pt from the left edge with its baseline 700pt up. Shown
    # rotated 90 degrees clockwise, the left edge becomes the top edge and the text runs
    # downwards, near the right-hand side.
    assert box.top == pytest.approx(100 / PAGE_WIDTH, abs=0.05)
    assert box.left + box.width == pytest.approx(1 - (PAGE_HEIGHT - 700) / PAGE_HEIGHT, abs=0.05)
    assert box.height > box.width


def test_corrupt_pdf_raises_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4 garbage")
    with pytest.raises(ParseError, match="not a valid PDF"):
        _pages(path)


def test_empty_file_raises_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    with pytest.raises(ParseError):
        _pages(path)


def test_pdf_without_text_raises_parse_error_mentioning_no_text(make_pdf: PdfFactory) -> None:
    path = make_pdf([[], []], shapes_only=True)
    pages = iter_pages(path, PDF_MIME)
    # Pages are still yielded one by one; the verdict comes once all were seen.
    assert next(pages).blocks == []
    assert next(pages).blocks == []
    with pytest.raises(ParseError, match="no extractable text"):
        next(pages)


def test_blank_page_before_text_is_fine(make_pdf: PdfFactory) -> None:
    path = make_pdf([[], [(72, 700, "Text only on page two.")]])
    pages = _pages(path)
    assert [len(page.blocks) for page in pages] == [0, 1]


def test_password_protected_pdf_raises_parse_error(make_pdf: PdfFactory) -> None:
    path = make_pdf([[(72, 700, "secret")]], encrypt="hunter2")
    with pytest.raises(ParseError, match="password"):
        _pages(path)


def test_missing_file_is_not_a_parse_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        _pages(tmp_path / "nope.pdf")


class _DocumentSpy:
    """Wraps a PdfDocument to observe that it gets closed."""

    def __init__(self, document: Any) -> None:
        self.document = document
        self.closed = False

    def __len__(self) -> int:
        return len(self.document)

    def get_page(self, index: int) -> Any:
        return self.document.get_page(index)

    def close(self) -> None:
        self.closed = True
        self.document.close()


def test_iter_pages_is_lazy_and_closes_the_document_early(
    make_pdf: PdfFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_pdf([[(72, 700, f"Page {n} text")] for n in range(50)])
    read: list[int] = []
    spies: list[_DocumentSpy] = []
    real_read, real_open = pdf_reader._read_page, pdf_reader._open

    def counting_read(document: Any, index: int) -> Any:
        read.append(index)
        return real_read(document, index)

    def spying_open(target: Path) -> _DocumentSpy:
        spies.append(_DocumentSpy(real_open(target)))
        return spies[-1]

    monkeypatch.setattr(pdf_reader, "_read_page", counting_read)
    monkeypatch.setattr(pdf_reader, "_open", spying_open)

    pages = iter_pages(path, PDF_MIME)
    assert spies == []  # nothing is opened before the first next()
    first = next(pages)
    assert first.number == 1 and "Page 0 text" in first.blocks[0].content
    assert read == [0]
    pages.close()
    assert read == [0]
    assert len(spies) == 1 and spies[0].closed


def test_document_is_closed_after_full_iteration(
    report_pdf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spies: list[_DocumentSpy] = []
    real_open = pdf_reader._open

    def spying_open(target: Path) -> _DocumentSpy:
        spies.append(_DocumentSpy(real_open(target)))
        return spies[-1]

    monkeypatch.setattr(pdf_reader, "_open", spying_open)
    assert len(_pages(report_pdf)) == 3
    assert spies[0].closed
