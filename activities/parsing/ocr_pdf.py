"""Which PDF pages are OCR'd, and their images (rendered by pdfium, no system packages).

The `auto` rule: a page is OCR'd when its text layer is too thin to be real - fewer than
THIN_TEXT_CHARS non-blank characters (form field values included) - and it holds at least
one image object, i.e. a scan (possibly with a stray page number or a stamp in its text
layer). A page of vector shapes without images, or a blank page, is not: there is nothing to
recognise, and OCR would cost a second per page. `force` OCRs every page, `off` none.
An OCR'd page's blocks replace its text-layer blocks.
"""

from __future__ import annotations

import math
from typing import Any

import pypdfium2.raw as pdfium_c
from PIL import Image

from .limits import Checkpoint
from .types import Block

# Fewer non-blank characters than this is not a real text layer: a page number, a Bates
# stamp or a scanner's "Page 3 of 7" footer, not a page of text (one line of prose has ~80).
THIN_TEXT_CHARS = 32
POINTS_PER_INCH = 72  # PDF user space unit
_IMAGE_TYPES = (pdfium_c.FPDF_PAGEOBJ_IMAGE,)
# Form objects (XObjects) can wrap the scan's image; pdfium descends into them for us.
_OBJECT_DEPTH = 4


def _thin(blocks: list[Block]) -> bool:
    chars = 0
    for block in blocks:
        chars += sum(not char.isspace() for char in block.content)
        if chars >= THIN_TEXT_CHARS:
            return False
    return True


def _has_image(page: Any) -> bool:
    return any(True for _ in page.get_objects(filter=_IMAGE_TYPES, max_depth=_OBJECT_DEPTH))


def may_ocr(blocks: list[Block], checkpoint: Checkpoint) -> bool:
    """Whether the page may need OCR, from its text layer alone (the page is not open)."""
    mode = checkpoint.ocr.mode
    return mode == "force" or (mode == "auto" and _thin(blocks))


def wants_ocr(page: Any, blocks: list[Block], checkpoint: Checkpoint) -> bool:
    """Whether the page is OCR'd: `may_ocr`, and for `auto` the page holds an image."""
    if not may_ocr(blocks, checkpoint):
        return False
    return checkpoint.ocr.mode == "force" or _has_image(page)


def render(page: Any, checkpoint: Checkpoint) -> Image.Image:
    """The page in grey at the OCR resolution, or smaller if that would be over the pixel
    limit (a poster-sized page is still read, at the resolution the limit allows)."""
    width, height = (float(value) for value in page.get_size())
    scale = checkpoint.ocr.render_dpi / POINTS_PER_INCH
    most = math.sqrt(checkpoint.limits.max_image_pixels / max(width * height, 1.0))
    bitmap = page.render(scale=min(scale, most), grayscale=True, may_draw_forms=True)
    try:
        image: Image.Image = bitmap.to_pil().copy()  # a copy: the buffer goes with the bitmap
        return image
    finally:
        bitmap.close()
