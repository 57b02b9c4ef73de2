"""A generated OCR test set: text PDFs whose text layer is the ground truth, rendered to page
images (150/300 dpi, with noise and a few degrees of rotation), and scans built from them.

Used by tests/activities/parsing/test_ocr*.py (a few pages) and bench/ocr.py (the full set).
Nothing binary is committed: every document is made here, deterministically (seeded).
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
from PIL import Image
from rapidfuzz.distance import Levenshtein
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

POINTS_PER_INCH = 72
LEFT, LINE_HEIGHT, FONT_SIZE = 60, 16, 11
WHITE = 255
_WORDS = " ".join(
    (
        "invoice contract payment total amount due date customer account number order",
        "delivery address service agreement term party shall provide within days notice",
        "signature company limited street city report quarter revenue balance tax rate",
        "schedule annex clause section reference period value unit price quantity",
    )
).split()


@dataclass(frozen=True)
class Condition:
    """How a page image is degraded: resolution, grey noise (std dev, 0..255), rotation."""

    name: str
    dpi: int
    noise: float = 0.0
    degrees: float = 0.0


CONDITIONS = (
    Condition("300 dpi clean", 300),
    Condition("150 dpi clean", 150),
    Condition("300 dpi noise", 300, noise=25.0),
    Condition("150 dpi noise", 150, noise=25.0),
    Condition("300 dpi noise + 2° rotation", 300, noise=25.0, degrees=2.0),
    Condition("150 dpi noise + 3° rotation", 150, noise=25.0, degrees=-3.0),
)


def _line(rng: random.Random, number: int) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(5, 9))]
    words[0] = words[0].capitalize()
    words.insert(rng.randint(1, len(words)), f"{rng.randint(10, 99_999):,}")
    return f"{number}. " + " ".join(words) + rng.choice((".", ",", ":", ";", "."))


# Tests OCR a strip of a page (a few lines): a fraction of a full page's OCR time.
STRIP = (A4[0], 120.0)


def text_pdf(
    path: Path, pages: int, lines: int = 30, seed: int = 0, size: tuple[float, float] = A4
) -> Path:
    """A text PDF of `pages` pages of `lines` lines of invoice-like prose and numbers."""
    rng = random.Random(seed)
    pdf = canvas.Canvas(str(path), pagesize=size)
    top = size[1] - 2 * LINE_HEIGHT
    for _ in range(pages):
        pdf.setFont("Helvetica", FONT_SIZE)
        for line in range(lines):
            pdf.drawString(LEFT, top - line * LINE_HEIGHT, _line(rng, line + 1))
        pdf.showPage()
    pdf.save()
    return path


def ground_truth(path: Path) -> list[str]:
    """The text layer of every page: what OCR should read."""
    document = pdfium.PdfDocument(path)
    try:
        texts = []
        for page in document:
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return texts
    finally:
        document.close()


def render(path: Path, index: int, condition: Condition, seed: int = 0) -> Image.Image:
    """Page `index` as a grey scan under `condition`."""
    document = pdfium.PdfDocument(path)
    try:
        page = document[index]
        image = page.render(scale=condition.dpi / POINTS_PER_INCH, grayscale=True).to_pil()
        page.close()
    finally:
        document.close()
    image = image.convert("L")
    if condition.degrees:
        image = image.rotate(condition.degrees, resample=Image.Resampling.BICUBIC, fillcolor=WHITE)
    if condition.noise:
        rng = np.random.default_rng(seed)
        pixels = np.asarray(image, dtype=np.float32)
        pixels += rng.normal(0.0, condition.noise, pixels.shape)
        image = Image.fromarray(np.clip(pixels, 0, WHITE).astype(np.uint8))
    return image


def scan_pdf(path: Path, images: Sequence[Image.Image], dpi: int) -> Path:
    """An image-only PDF (no text layer), one image per page, as a scanner makes them."""
    first, *rest = images
    first.save(path, "PDF", save_all=True, append_images=rest, resolution=float(dpi))
    return path


def image_file(image: Image.Image, fmt: str, frames: Sequence[Image.Image] = ()) -> bytes:
    """`image` (and more frames, for TIFF) encoded as PNG, JPEG, TIFF or WEBP."""
    out = io.BytesIO()
    extra = {"save_all": True, "append_images": list(frames)} if frames else {}
    image.save(out, fmt, **extra)
    return out.getvalue()


def normalised(text: str) -> str:
    return " ".join(text.split())


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: edits / reference characters, whitespace runs as one space."""
    ref, hyp = normalised(reference), normalised(hypothesis)
    return Levenshtein.distance(ref, hyp) / max(len(ref), 1)
