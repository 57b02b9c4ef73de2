"""Value types shared by every part of the parse engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# Paragraph-level block types. Kept as plain strings (not an Enum) because they are written
# verbatim into the API's JSON and the database.
BLOCK_TEXT = "text"
BLOCK_HEADING = "heading"
BLOCK_LIST_ITEM = "list_item"
BLOCK_TABLE = "table"
BLOCK_CODE = "code"

# How a page's text was obtained, recorded with each stored page (`text_source`).
TEXT_LAYER = "text_layer"  # read from the document itself (PDF text layer, DOCX, HTML, text)
OCR = "ocr"  # recognised from the page's image


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


@dataclass(frozen=True)
class BBox:
    """Fractions 0..1 of the page; left/top are measured from the page's top-left corner."""

    left: float
    top: float
    width: float
    height: float

    @classmethod
    def from_edges(cls, left: float, top: float, right: float, bottom: float) -> BBox:
        """Build a box from normalised edges, clamping to the page.

        Text can legitimately stick out of the crop box (bleed, rounding), and consumers draw
        these boxes on page images, so anything outside [0, 1] is clipped rather than rejected.
        """
        x0, x1 = sorted((_clamp(left), _clamp(right)))
        y0, y1 = sorted((_clamp(top), _clamp(bottom)))
        return cls(left=x0, top=y0, width=x1 - x0, height=y1 - y0)


@dataclass(frozen=True)
class Block:
    """One paragraph-level element of a page, rendered as markdown."""

    type: str
    content: str
    page_number: int
    bbox: BBox | None
    confidence: float


@dataclass(frozen=True)
class Page:
    number: int
    blocks: list[Block]
    text_source: str = TEXT_LAYER


def _no_gate() -> None:
    """Library use and tests: nothing to wait for before OCR."""


@dataclass(frozen=True)
class OcrOptions:
    """How a parse uses OCR: `mode` is `advanced_options.ocr` (auto, force, off; images are
    always OCR'd), PDF pages are rendered at `render_dpi`, and `gate` is called once before
    the document's first OCR'd page (the parse pool bounds OCR documents there)."""

    mode: str = "auto"
    render_dpi: int = 300
    gate: Callable[[], None] = field(default=_no_gate, compare=False)


class ParseError(Exception):
    """The document cannot be parsed (corrupt, empty, encrypted, wrong type).

    The message is shown to API users as-is, so it must be clear and must not leak internals.
    """


@dataclass(frozen=True)
class Chunk:
    """A retrieval unit: markdown content plus the blocks (or parts of blocks) it was made of."""

    content: str
    blocks: list[Block]
