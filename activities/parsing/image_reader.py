"""Image reader (PNG, JPEG, TIFF, WebP): one OCR'd page per frame, with Pillow.

Pillow's `Image.open` reads only the header; the pixels are decoded by `load()`. So every
frame's size is checked against DOCKET_MAX_IMAGE_PIXELS before it is decoded, and a
decompression bomb (a 50,000 x 50,000 PNG of a few KB) fails at once without allocating its
gigabytes. Pillow's own bomb check (`Image.MAX_IMAGE_PIXELS`) is set to the same limit as a
second fence for code paths that decode without asking.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from .limits import Checkpoint, over_limit
from .ocr import ocr_page
from .types import OCR, Page, ParseError

_CORRUPT = "The file is not a readable image or it is corrupt."
# Pillow's errors for truncated or malformed image data.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)
# Modes the recogniser takes as they are; anything else (palette, CMYK, 16-bit, alpha) is
# converted to RGB first.
_READY_MODES = frozenset({"RGB", "L"})


def _open(path: Path, checkpoint: Checkpoint) -> Image.Image:
    pixels = checkpoint.limits.max_image_pixels
    Image.MAX_IMAGE_PIXELS = pixels
    try:
        with warnings.catch_warnings():
            # Between 1x and 2x the limit Pillow only warns; the check below then fails it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except Image.DecompressionBombError:
        # Over twice the limit Pillow refuses the header without saying the size.
        over_limit("max_image_pixels", pixels, "pixels in a page", checkpoint.limits, more=True)
    except (UnidentifiedImageError, *_DECODE_ERRORS) as exc:
        if isinstance(exc, FileNotFoundError):
            raise  # a missing upload is an infrastructure fault, not the document's
        raise ParseError(_CORRUPT) from exc


def _frame(image: Image.Image, index: int, checkpoint: Checkpoint) -> Image.Image:
    """Frame `index`, decoded (and converted for the recogniser) once its size is allowed."""
    try:
        image.seek(index)
    except _DECODE_ERRORS as exc:
        raise ParseError(f"Frame {index + 1} of the image could not be read.") from exc
    width, height = image.size
    checkpoint.check("max_image_pixels", width * height, f"pixels on page {index + 1}")
    try:
        image.load()
        return image if image.mode in _READY_MODES else image.convert("RGB")
    except _DECODE_ERRORS as exc:
        raise ParseError(f"{_CORRUPT} (page {index + 1})") from exc


def iter_image_pages(path: Path, checkpoint: Checkpoint) -> Iterator[Page]:
    """Yield one OCR'd page per frame; the file is opened on the first `next()`."""
    image = _open(path, checkpoint)
    try:
        frames = int(getattr(image, "n_frames", 1))
        checkpoint.check("max_pages", frames, "pages")
        for index in range(frames):
            checkpoint.tick()
            frame = _frame(image, index, checkpoint)
            yield Page(index + 1, ocr_page(frame, index + 1, checkpoint), OCR)
    finally:
        image.close()
