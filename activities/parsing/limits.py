"""The bounds every parse runs under, and the checkpoint readers call between small units.

The limits are plain values handed in by the caller (the activity builds them from
`Settings`); the engine never reads the environment. Each limit carries the name of the
setting that raises it, so a document over a limit fails with a message a user can act on:
"document has 1,500,000 paragraphs; the limit is 200,000 (DOCKET_MAX_PARAGRAPHS)".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from .types import OcrOptions, ParseError

MIB = 1024 * 1024


@dataclass(frozen=True)
class ParseLimits:
    """Every bound of one parse. The defaults here only serve library use and tests; the
    service passes the values of its settings (core/settings.py, docs/limits.md)."""

    max_pages: int = 50_000
    max_paragraphs: int = 200_000
    max_text_chars: int = 50_000_000
    max_chunks: int = 100_000
    max_html_elements: int = 200_000
    max_xml_elements: int = 4_000_000
    max_depth: int = 256
    max_docx_part_bytes: int = 128 * MIB
    max_compression_ratio: int = 500
    max_image_pixels: int = 64_000_000
    max_result_bytes: int = 200 * MIB


# The setting behind each limit, named in messages (core/settings.py defines them).
SETTING_NAMES = {
    "max_pages": "DOCKET_MAX_PAGES",
    "max_paragraphs": "DOCKET_MAX_PARAGRAPHS",
    "max_text_chars": "DOCKET_MAX_TEXT_CHARS",
    "max_chunks": "DOCKET_MAX_CHUNKS",
    "max_html_elements": "DOCKET_MAX_HTML_ELEMENTS",
    "max_xml_elements": "DOCKET_MAX_XML_ELEMENTS",
    "max_depth": "DOCKET_MAX_DEPTH",
    "max_docx_part_bytes": "DOCKET_MAX_DOCX_PART_MB",
    "max_compression_ratio": "DOCKET_MAX_COMPRESSION_RATIO",
    "max_image_pixels": "DOCKET_MAX_IMAGE_PIXELS",
    "max_result_bytes": "DOCKET_MAX_RESULT_MB",
}
_IN_MB = {"max_docx_part_bytes", "max_result_bytes"}


class LimitExceeded(ParseError):
    """The document is over one of the limits: deterministic, so never retried."""


class ParseCancelled(Exception):
    """Raised at a checkpoint once the parse was cancelled; the caller stops quietly."""


def _shown(limit: str, value: int) -> str:
    return f"{value // MIB:,} MB" if limit in _IN_MB else f"{value:,}"


def over_limit(
    limit: str, value: int, unit: str, limits: ParseLimits, *, more: bool = False
) -> NoReturn:
    """Raise LimitExceeded: "document has <value> <unit>; the limit is <max> (<SETTING>)"."""
    has = f"more than {_shown(limit, getattr(limits, limit))}" if more else _shown(limit, value)
    raise LimitExceeded(
        f"document has {has} {unit}; the limit is {_shown(limit, getattr(limits, limit))} "
        f"({SETTING_NAMES[limit]})"
    )


class Checkpoint:
    """Passed to every reader: `tick()` between small units (a page, paragraph, element,
    line, or a piece of input fed to a parser) stops a cancelled parse by raising
    ParseCancelled; `count()` enforces the count limits as the units go by. It also carries
    the parse's OCR options, and counts the pages OCR'd."""

    def __init__(
        self,
        limits: ParseLimits | None = None,
        cancelled: Callable[[], bool] = lambda: False,
        ocr: OcrOptions | None = None,
    ) -> None:
        self.limits = limits or ParseLimits()
        self.ocr = ocr or OcrOptions()
        self.ocr_pages = 0
        self._cancelled = cancelled
        self._counts: dict[str, int] = {}

    def before_ocr(self) -> None:
        """Called before each page is OCR'd: the first call waits at the OCR gate."""
        self.tick()
        if not self.ocr_pages:
            self.ocr.gate()
        self.ocr_pages += 1

    def tick(self) -> None:
        if self._cancelled():
            raise ParseCancelled

    def count(self, limit: str, unit: str, amount: int = 1) -> None:
        """Add `amount` units to the running count for `limit`; raise once it is over."""
        total = self._counts.get(limit, 0) + amount
        self._counts[limit] = total
        if total > getattr(self.limits, limit):
            over_limit(limit, total, unit, self.limits, more=True)

    def check(self, limit: str, value: int, unit: str) -> None:
        """A value known up front (pages of a PDF, paragraphs of a DOCX part)."""
        if value > getattr(self.limits, limit):
            over_limit(limit, value, unit, self.limits)
