"""Entry point of the built-in `docket` parse engine: mime type -> lazily produced pages.

Readers yield small units - page fragments of a paragraph, an element, a few lines - and
call the checkpoint between them, so a cancel stops any format within one unit and every
count limit fails the document as soon as it is crossed. Consecutive fragments with the same
page number form one page (`iter_pages` merges them).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import replace
from pathlib import Path

from .detect import (
    DOCX_MIME,
    HTML_MIME,
    IMAGE_MIME_TYPES,
    MARKDOWN_MIME,
    PDF_MIME,
    SUPPORTED_MIME_TYPES,
    TEXT_MIME,
    normalize_mime_type,
)
from .docx_reader import iter_docx_pages
from .html_reader import iter_html_pages
from .image_reader import iter_image_pages
from .limits import Checkpoint
from .pdf_reader import iter_pdf_pages
from .text_reader import iter_markdown_pages, iter_text_pages
from .types import Block, Page, ParseError

ENGINE_NAME = "docket"

_READERS: dict[str, Callable[[Path, Checkpoint], Iterator[Page]]] = {
    PDF_MIME: iter_pdf_pages,
    DOCX_MIME: iter_docx_pages,
    HTML_MIME: iter_html_pages,
    TEXT_MIME: iter_text_pages,
    MARKDOWN_MIME: iter_markdown_pages,
    **dict.fromkeys(IMAGE_MIME_TYPES, iter_image_pages),
}
# Readers that yield whole pages (merging them would read one page ahead).
_WHOLE_PAGES = frozenset({PDF_MIME, *IMAGE_MIME_TYPES})

NO_TEXT_MESSAGE = "The document contains no extractable text."
# Said only of PDFs none of whose pages has a text layer (nor any form field value) or any
# text that OCR found (advanced_options.ocr: off skips OCR altogether).
NEEDS_OCR_MESSAGE = (
    "The PDF contains no extractable text: none of its {pages} page(s) has a text layer or "
    "text that OCR could read (advanced_options.ocr is {mode!r}; 'auto' OCRs only the "
    "pages that hold an image, 'force' every page)."
)
NO_IMAGE_TEXT_MESSAGE = "OCR found no text in the image."


def _without_nul(page: Page) -> Page:
    # Postgres text columns reject NUL characters, and no format needs them; a single check
    # here covers every reader (e.g. UTF-16 text files or oddly encoded HTML can contain them).
    if not any("\x00" in block.content for block in page.blocks):
        return page
    blocks = [replace(block, content=block.content.replace("\x00", "")) for block in page.blocks]
    return replace(page, blocks=[block for block in blocks if block.content.strip()])


def _counted(pages: Iterator[Page], checkpoint: Checkpoint) -> Generator[Page, None, None]:
    """Pass fragments through one by one, with a checkpoint between them, counting
    paragraphs and text against the limits."""
    try:
        for raw_page in pages:
            checkpoint.tick()
            page = _without_nul(raw_page)
            if page.blocks:
                checkpoint.count("max_paragraphs", "paragraphs", len(page.blocks))
                chars = sum(len(block.content) for block in page.blocks)
                checkpoint.count("max_text_chars", "characters of text", chars)
            yield page
    finally:
        # Close the reader now (not whenever it is garbage collected) so an abandoned
        # iteration releases the pdfium document immediately.
        close = getattr(pages, "close", None)
        if callable(close):
            close()


def _no_text(mime_type: str, pages: int, ocr_mode: str) -> str:
    kind = normalize_mime_type(mime_type)
    if kind == PDF_MIME:
        return NEEDS_OCR_MESSAGE.format(pages=pages, mode=ocr_mode)
    return NO_IMAGE_TEXT_MESSAGE if kind in IMAGE_MIME_TYPES else NO_TEXT_MESSAGE


def _require_text(
    pages: Generator[Page, None, None], mime_type: str, ocr_mode: str
) -> Generator[Page, None, None]:
    """Fail at the end if no page had any text.

    Checking at the end keeps the single pass: pages are never read twice, and a document
    whose text only starts on page 40 is not rejected early.
    """
    found_text = False
    numbers: set[int] = set()
    try:
        for page in pages:
            found_text = found_text or bool(page.blocks)
            numbers.add(page.number)
            yield page
    finally:
        pages.close()
    if not found_text:
        raise ParseError(_no_text(mime_type, len(numbers), ocr_mode))


def _reader(mime_type: str) -> Callable[[Path, Checkpoint], Iterator[Page]]:
    reader = _READERS.get(normalize_mime_type(mime_type))
    if reader is None:
        supported = ", ".join(sorted(SUPPORTED_MIME_TYPES))
        raise ParseError(f"Unsupported file type {mime_type!r}. Supported types are: {supported}.")
    return reader


def iter_units(
    path: Path, mime_type: str, checkpoint: Checkpoint | None = None
) -> Generator[Page, None, None]:
    """Yield a document as small page fragments (see the module docstring), lazily.

    The mime type is checked eagerly (so an unsupported type fails at call time); the file
    itself is only opened on the first `next()`. Raises ParseError for unsupported types,
    corrupt or password-protected files, documents over a limit (LimitExceeded) and
    documents without any text; ParseCancelled once the checkpoint says so; OSError (e.g. a
    missing file) propagates unchanged because it is not the document's fault. Callers that
    stop early should call `close()` to release the document at once.
    """
    point = checkpoint or Checkpoint()
    return _require_text(_checked(path, mime_type, point), mime_type, point.ocr.mode)


def _checked(path: Path, mime_type: str, checkpoint: Checkpoint) -> Generator[Page, None, None]:
    reader = _reader(mime_type)  # eagerly: an unsupported type fails at call time
    return _counted(reader(Path(path), checkpoint), checkpoint)


def merge_fragments(fragments: Generator[Page, None, None]) -> Generator[Page, None, None]:
    """Whole pages out of consecutive fragments with the same page number."""
    number: int | None = None
    blocks: list[Block] = []
    try:
        for fragment in fragments:
            if number is not None and fragment.number != number:
                yield Page(number, blocks)
                blocks = []
            number = fragment.number
            blocks.extend(fragment.blocks)
    finally:
        fragments.close()
    if number is not None:
        yield Page(number, blocks)


def iter_pages(
    path: Path, mime_type: str, checkpoint: Checkpoint | None = None
) -> Generator[Page, None, None]:
    """Yield the pages of a document lazily, whole (see `iter_units` for errors)."""
    point = checkpoint or Checkpoint()
    units = _checked(path, mime_type, point)
    whole = normalize_mime_type(mime_type) in _WHOLE_PAGES
    pages = units if whole else merge_fragments(units)
    return _require_text(pages, mime_type, point.ocr.mode)
