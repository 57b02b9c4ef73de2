"""Entry point of the built-in `docket` parse engine: mime type -> lazily produced pages."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import replace
from pathlib import Path

from .detect import (
    DOCX_MIME,
    HTML_MIME,
    MARKDOWN_MIME,
    PDF_MIME,
    SUPPORTED_MIME_TYPES,
    TEXT_MIME,
    normalize_mime_type,
)
from .docx_reader import iter_docx_pages
from .html_reader import iter_html_pages
from .pdf_reader import iter_pdf_pages
from .text_reader import iter_markdown_pages, iter_text_pages
from .types import Page, ParseError

ENGINE_NAME = "docket"

_READERS: dict[str, Callable[[Path], Iterator[Page]]] = {
    PDF_MIME: iter_pdf_pages,
    DOCX_MIME: iter_docx_pages,
    HTML_MIME: iter_html_pages,
    TEXT_MIME: iter_text_pages,
    MARKDOWN_MIME: iter_markdown_pages,
}

NO_TEXT_MESSAGE = (
    "The document contains no extractable text. If it is a scanned document or an image, "
    "it needs OCR, which the docket engine does not provide."
)


def _without_nul(page: Page) -> Page:
    # Postgres text columns reject NUL characters, and no format needs them; a single check
    # here covers every reader (e.g. UTF-16 text files or oddly encoded HTML can contain them).
    if not any("\x00" in block.content for block in page.blocks):
        return page
    blocks = [replace(block, content=block.content.replace("\x00", "")) for block in page.blocks]
    return replace(page, blocks=[block for block in blocks if block.content.strip()])


def _require_text(pages: Iterator[Page]) -> Generator[Page, None, None]:
    """Pass pages through one by one and fail at the end if none of them had any text.

    Checking at the end keeps the single pass: pages are never read twice, and a document
    whose text only starts on page 40 is not rejected early.
    """
    found_text = False
    try:
        for raw_page in pages:
            page = _without_nul(raw_page)
            found_text = found_text or bool(page.blocks)
            yield page
    finally:
        # Close the reader now (not whenever it is garbage collected) so an abandoned
        # iteration releases the pdfium document immediately.
        close = getattr(pages, "close", None)
        if callable(close):
            close()
    if not found_text:
        raise ParseError(NO_TEXT_MESSAGE)


def iter_pages(path: Path, mime_type: str) -> Generator[Page, None, None]:
    """Yield the pages of a document lazily, one page per `next()`.

    The result is a generator: callers that stop early (e.g. on cancellation) should call
    its `close()` to release the document immediately rather than at garbage collection.

    The mime type is checked eagerly (so an unsupported type fails at call time); the file
    itself is only opened on the first `next()`. Raises ParseError for unsupported types,
    corrupt or password-protected files and documents without any text; OSError (e.g. a
    missing file) propagates unchanged because it is not the document's fault.
    """
    reader = _READERS.get(normalize_mime_type(mime_type))
    if reader is None:
        supported = ", ".join(sorted(SUPPORTED_MIME_TYPES))
        raise ParseError(f"Unsupported file type {mime_type!r}. Supported types are: {supported}.")
    return _require_text(reader(Path(path)))
