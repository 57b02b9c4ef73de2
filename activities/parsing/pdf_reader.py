"""PDF reader built on pypdfium2: one page of text lines at a time, laid out into blocks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from .limits import Checkpoint
from .ocr import ocr_page
from .ocr_pdf import may_ocr, render, wants_ocr
from .pdf_forms import form_blocks
from .pdf_layout import layout_lines
from .pdf_text import page_lines
from .types import OCR, TEXT_LAYER, Block, Page, ParseError

# PDFium is not thread-safe, not even across different documents, and activities may run in
# a thread pool. Every pdfium call goes through this lock; it is never held across a `yield`,
# so a slow consumer of one document cannot stall other documents for longer than one page.
# Re-entrant because the garbage collector may finalise an abandoned page generator (whose
# `finally` takes the lock) on a thread that is already inside a locked section.
PDFIUM_LOCK = threading.RLock()

_ENCRYPTED_CODES = frozenset({pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY})
# An encrypted PDF names its encryption dictionary in the trailer (or the xref stream).
_ENCRYPT_KEY = b"/Encrypt"
_SCAN_BYTES = 1024 * 1024


def _mentions_encryption(path: Path) -> bool:
    """Whether the file has an /Encrypt entry anywhere, read in pieces (bounded memory).

    pdfium's error code is a thread-wide "last error" that not every failure path sets, so
    after an earlier encrypted document it can still say "password" for a merely broken
    one. The claim is only made when the file itself backs it.
    """
    tail = b""
    with path.open("rb") as handle:
        while piece := handle.read(_SCAN_BYTES):
            if _ENCRYPT_KEY in tail + piece:
                return True
            tail = piece[-len(_ENCRYPT_KEY) :]
    return False


def _open(path: Path) -> Any:
    # FileNotFoundError deliberately propagates: a missing upload is an infrastructure fault
    # (retryable), not a property of the document.
    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if exc.err_code in _ENCRYPTED_CODES and _mentions_encryption(path):
            raise ParseError(
                "The PDF is password-protected or encrypted; upload an unprotected copy."
            ) from exc
        raise ParseError("The file is not a valid PDF or it is corrupt.") from exc
    # Filled-in AcroForm fields carry their text outside the text layer (see pdf_forms).
    document.init_forms()
    return document


def _read_page(document: Any, index: int) -> list[Block]:
    try:
        page = document.get_page(index)
    except pdfium.PdfiumError as exc:
        raise ParseError(
            f"Page {index + 1} of the PDF could not be read; it may be corrupt."
        ) from exc
    try:
        textpage = page.get_textpage()
        try:
            lines = page_lines(textpage)
        finally:
            textpage.close()
        left, bottom, right, top = (float(value) for value in page.get_bbox())
        rotation = int(page.get_rotation())
        fields = form_blocks(document, page, index + 1, (left, bottom, right, top), rotation)
    except pdfium.PdfiumError as exc:
        raise ParseError(f"The text of page {index + 1} of the PDF could not be read.") from exc
    finally:
        page.close()
    return layout_lines(lines, index + 1, (left, bottom, right, top), rotation) + fields


def _ocr_image(
    document: Any, index: int, blocks: list[Block], checkpoint: Checkpoint
) -> Image.Image | None:
    """The page's image if it is to be OCR'd (ocr_pdf), else None; a page with a real text
    layer is not opened again."""
    if not may_ocr(blocks, checkpoint):
        return None
    try:
        page = document.get_page(index)
    except pdfium.PdfiumError as exc:
        raise ParseError(f"Page {index + 1} of the PDF could not be read for OCR.") from exc
    try:
        return render(page, checkpoint) if wants_ocr(page, blocks, checkpoint) else None
    except pdfium.PdfiumError as exc:
        raise ParseError(f"Page {index + 1} of the PDF could not be rendered for OCR.") from exc
    finally:
        page.close()


def iter_pdf_pages(path: Path, checkpoint: Checkpoint) -> Iterator[Page]:
    """Yield one page per `next()`.

    The document is opened on the first `next()`, not when the generator is created, so the
    `finally` below is guaranteed to run (on exhaustion, error, `close()` or garbage
    collection) for every document that was opened.
    """
    with PDFIUM_LOCK:
        document = _open(path)
    try:
        with PDFIUM_LOCK:
            page_count = len(document)
        checkpoint.check("max_pages", page_count, "pages")
        for index in range(page_count):
            with PDFIUM_LOCK:
                blocks = _read_page(document, index)
                image = _ocr_image(document, index, blocks, checkpoint)
            if image is None:
                yield Page(index + 1, blocks, TEXT_LAYER)
            else:  # outside the lock: OCR does not touch pdfium
                yield Page(index + 1, ocr_page(image, index + 1, checkpoint), OCR)
    finally:
        with PDFIUM_LOCK:
            document.close()
