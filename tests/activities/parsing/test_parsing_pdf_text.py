"""The per-line fast path of PDF text extraction against the exact per-glyph path."""

from __future__ import annotations

from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest

from activities.parsing import Page, iter_pages, pdf_text
from activities.parsing.detect import PDF_MIME
from activities.parsing.pdf_layout import glyphs_to_lines

PdfFactory = Callable[..., Path]


def _textpages(path: Path) -> Generator[Any, None, None]:
    document = pdfium.PdfDocument(path)
    try:
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            yield textpage
            textpage.close()
            page.close()
    finally:
        document.close()


def test_fast_path_matches_the_per_glyph_path(report_pdf: Path) -> None:
    for textpage in _textpages(report_pdf):
        fast = pdf_text.page_lines(textpage)
        exact = glyphs_to_lines(pdf_text.page_glyphs(textpage))
        assert [(line.text, line.size, line.hyphenated) for line in fast] == [
            (line.text, line.size, line.hyphenated) for line in exact
        ]
        for got, want in zip(fast, exact, strict=True):
            # Run boxes are tight horizontally where loose glyph boxes are not: < 1pt apart.
            assert (got.left, got.bottom, got.right, got.top) == pytest.approx(
                (want.left, want.bottom, want.right, want.top), abs=1.0
            )


def test_whitespace_is_collapsed_and_control_characters_dropped(
    make_pdf: PdfFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_pdf([[(72, 700, "ab cd ef"), (72, 680, "next line")]])
    real = pdf_text._page_text

    def with_junk(handle: Any, count: int) -> str | None:
        text = real(handle, count)
        assert text is not None and text.startswith("ab cd ef")
        # Same length, so every position still names the same character.
        return "ab\x01cd\t\u00a0f" + text[8:]

    monkeypatch.setattr(pdf_text, "_page_text", with_junk)
    textpages = _textpages(path)
    lines = pdf_text.page_lines(next(textpages))
    textpages.close()
    assert [line.text for line in lines] == ["abcd f", "next line"]


def _same_blocks(got: list[Page], want: list[Page]) -> None:
    """Same blocks, with boxes equal up to the sub-point difference of run and glyph boxes."""
    assert [[(b.type, b.content) for b in page.blocks] for page in got] == [
        [(b.type, b.content) for b in page.blocks] for page in want
    ]
    for got_page, want_page in zip(got, want, strict=True):
        for got_block, want_block in zip(got_page.blocks, want_page.blocks, strict=True):
            assert got_block.bbox is not None and want_block.bbox is not None
            assert vars(got_block.bbox) == pytest.approx(vars(want_block.bbox), abs=0.002)


def test_pages_the_fast_path_cannot_map_use_the_per_glyph_path(
    report_pdf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = list(iter_pages(report_pdf, PDF_MIME))
    monkeypatch.setattr(pdf_text, "_page_text", lambda handle, count: None)
    _same_blocks(list(iter_pages(report_pdf, PDF_MIME)), fast)


def test_lines_whose_runs_do_not_overlap_are_split_per_glyph(
    report_pdf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pretend pdfium put no line breaks anywhere: the page is one "line" of runs on many
    # baselines, which only the per-glyph path can split by position.
    real = pdf_text._page_text

    def one_line(handle: Any, count: int) -> str | None:
        text = real(handle, count)
        return None if text is None else text.replace("\r\n", "  ")

    expected = list(iter_pages(report_pdf, PDF_MIME))
    monkeypatch.setattr(pdf_text, "_page_text", one_line)
    _same_blocks(list(iter_pages(report_pdf, PDF_MIME)), expected)
