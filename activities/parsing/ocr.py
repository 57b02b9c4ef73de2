"""OCR of one page image into text blocks, with RapidOCR's PP-OCRv4 models on onnxruntime.

The model: `rapidocr-onnxruntime` 1.4.x (Apache-2.0) ships the PP-OCRv4 detection and
recognition ONNX models (and the angle classifier) inside its wheel, so nothing is
downloaded at run time; later `rapidocr` releases fetch their models on first use and are
not acceptable here. README, "OCR", gives the measured CER and speed.

One model per process, created on first use (or in the parse forkserver, see
activities/parse_preload.py) with onnxruntime's intra- and inter-op threads pinned to 1:
each parse process OCRs on one core, and DOCKET_OCR_CONCURRENCY bounds how many do at once.
A page takes about a second, during which nothing here looks at a cancel flag: the parse
pool kills the process instead (activities/parse_pool.py), which is immediate.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from PIL import Image

from .limits import Checkpoint
from .types import BLOCK_TEXT, BBox, Block

log = logging.getLogger(__name__)

# One thread each: a parse process OCRs on one core (the pool runs several processes), and
# onnxruntime's thread pools would otherwise spin on every core of a shared machine.
_THREADS = 1
# RapidOCR shrinks any image whose long side is over 2,000 px before detection *and*
# recognition, so a 300 dpi page (3,508 px) was read at ~170 dpi and lost spaces between
# words. Recognition crops are taken from the image as given up to this long side (a 300 dpi
# A3 page); detection alone runs on a copy whose long side is DET_SIDE px, where 11 pt text
# is still ~15 px high (bench/ocr.py measures CER with these values).
_MAX_SIDE = 5_000
_DET_SIDE = 1_280
# The text-line angle classifier is not run: it turned upright lines of clean scans upside
# down (they then read as "S": 26% CER on a page against 2.9% without it). Pages come
# upright from pdfium (which applies /Rotate) and from scanners.
_USE_CLS = False
_POINTS_X, _POINTS_Y = 0, 1  # a detected box is four (x, y) corner points, in pixels


@functools.cache
def ocr_model() -> Any:
    """The process's recogniser (loading its three ONNX sessions takes about a second)."""
    from rapidocr_onnxruntime import RapidOCR  # heavy (onnxruntime, OpenCV): on first use

    return RapidOCR(
        intra_op_num_threads=_THREADS,
        inter_op_num_threads=_THREADS,
        max_side_len=_MAX_SIDE,
        det_limit_type="max",
        det_limit_side_len=_DET_SIDE,
    )


def _bbox(points: Any, width: int, height: int) -> BBox:
    xs = [float(point[_POINTS_X]) for point in points]
    ys = [float(point[_POINTS_Y]) for point in points]
    return BBox.from_edges(min(xs) / width, min(ys) / height, max(xs) / width, max(ys) / height)


def recognise(image: Image.Image, page_number: int) -> list[Block]:
    """The text lines of one page image, top to bottom, each a `text` block with its box
    (fractions of the image) and the recogniser's confidence."""
    width, height = image.size
    found, _elapsed = ocr_model()(image, use_cls=_USE_CLS)
    blocks = []
    for points, text, score in found or ():
        content = str(text).strip()
        if content:
            bbox = _bbox(points, width, height)
            blocks.append(Block(BLOCK_TEXT, content, page_number, bbox, float(score)))
    return blocks


def ocr_page(image: Image.Image, page_number: int, checkpoint: Checkpoint) -> list[Block]:
    """OCR one page once the checkpoint lets it (a cancel, the OCR gate)."""
    checkpoint.before_ocr()
    return recognise(image, page_number)
