"""OCR in the docket engine: modes, image types, bad images, CER on a few generated pages.

Every page here is a strip of a few lines (ocr_fixtures.STRIP), so that OCR takes a fraction
of a full page's second; bench/ocr.py runs the full-page set.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from activities.parse_run import DocumentParse
from activities.parsing import ChunkingOptions, ParseError, iter_pages
from activities.parsing.detect import (
    JPEG_MIME,
    PDF_MIME,
    PNG_MIME,
    TIFF_MIME,
    WEBP_MIME,
    detect_mime_type,
)
from activities.parsing.limits import Checkpoint, LimitExceeded, ParseLimits
from activities.parsing.types import OCR, TEXT_LAYER, OcrOptions
from tests.activities.parsing import ocr_fixtures as fx

# A page of OCR is about a second of one core on a quiet machine and many on a shared one:
# the default 120 s per test is too tight for a test that loads the model and reads pages.
pytestmark = pytest.mark.timeout(600)

DPI = 300
CER_CLEAN = 0.03  # the targets: 300 dpi clean, 150 dpi with noise
CER_NOISY = 0.08
LINES = 4


@pytest.fixture(scope="module")
def text_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ocr") / "text.pdf"
    return fx.text_pdf(path, pages=2, lines=LINES, size=fx.STRIP)


@pytest.fixture(scope="module")
def strip(text_pdf: Path) -> Image.Image:
    return fx.render(text_pdf, 0, fx.Condition("clean", DPI))


@pytest.fixture(scope="module")
def scan(text_pdf: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    images = [fx.render(text_pdf, index, fx.Condition("clean", DPI)) for index in (0, 1)]
    return fx.scan_pdf(tmp_path_factory.mktemp("ocr") / "scan.pdf", images, DPI)


def _checkpoint(mode: str = "auto", **limits: int) -> Checkpoint:
    return Checkpoint(ParseLimits(**limits), ocr=OcrOptions(mode=mode, render_dpi=DPI))


def _text(pages: list[object]) -> str:
    return " ".join(block.content for page in pages for block in page.blocks)  # type: ignore[attr-defined]


def test_auto_ocrs_a_scan_and_keeps_a_text_layer(text_pdf: Path, scan: Path) -> None:
    truth = fx.ground_truth(text_pdf)
    scanned = list(iter_pages(scan, PDF_MIME, _checkpoint()))
    assert [page.text_source for page in scanned] == [OCR, OCR]
    assert fx.cer(" ".join(truth), _text(scanned)) <= CER_CLEAN
    block = scanned[0].blocks[0]
    assert block.type == "text" and block.page_number == 1 and 0.5 <= block.confidence <= 1
    assert block.bbox is not None
    assert 0 <= block.bbox.left < block.bbox.left + block.bbox.width <= 1
    assert 0 <= block.bbox.top < block.bbox.top + block.bbox.height <= 1
    assert all(b.page_number == 2 for b in scanned[1].blocks)
    text = list(iter_pages(text_pdf, PDF_MIME, _checkpoint()))
    assert [page.text_source for page in text] == [TEXT_LAYER, TEXT_LAYER]


def test_force_ocrs_a_text_pdf_and_off_leaves_a_scan_empty(text_pdf: Path, scan: Path) -> None:
    forced = list(iter_pages(text_pdf, PDF_MIME, _checkpoint("force")))
    assert [page.text_source for page in forced] == [OCR, OCR]
    assert fx.cer(" ".join(fx.ground_truth(text_pdf)), _text(forced)) <= CER_CLEAN
    with pytest.raises(ParseError, match=r"none of its 2 page\(s\).*ocr is 'off'"):
        list(iter_pages(scan, PDF_MIME, _checkpoint("off")))


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("PNG", PNG_MIME), ("JPEG", JPEG_MIME), ("TIFF", TIFF_MIME), ("WEBP", WEBP_MIME)],
)
def test_each_image_type_is_detected_and_ocrd(
    fmt: str, mime: str, strip: Image.Image, text_pdf: Path, tmp_path: Path
) -> None:
    data = fx.image_file(strip, fmt)
    assert detect_mime_type(f"scan.{fmt.lower()}", data[:1024]) == mime
    path = tmp_path / "scan"
    path.write_bytes(data)
    [page] = iter_pages(path, mime, _checkpoint("off"))  # images are OCR'd whatever the mode
    assert page.text_source == OCR
    assert fx.cer(fx.ground_truth(text_pdf)[0], _text([page])) <= CER_CLEAN


def test_a_multi_page_tiff_is_one_page_per_frame(text_pdf: Path, tmp_path: Path) -> None:
    frames = [
        fx.render(text_pdf, index, fx.Condition("noisy", DPI, noise=25.0)) for index in (0, 1)
    ]
    path = tmp_path / "two.tiff"
    path.write_bytes(fx.image_file(frames[0], "TIFF", frames[1:]))
    pages = list(iter_pages(path, TIFF_MIME, _checkpoint()))
    assert [page.number for page in pages] == [1, 2]
    for page, truth in zip(pages, fx.ground_truth(text_pdf), strict=True):
        assert {block.page_number for block in page.blocks} == {page.number}
        assert fx.cer(truth, _text([page])) <= CER_NOISY


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height and whose data is a few bytes: a bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


@pytest.mark.parametrize("side", [50_000, 9_000])  # 2.5 G pixels; 81 M (Pillow only warns)
def test_a_decompression_bomb_fails_naming_the_limit(side: int, tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header(side, side))
    with pytest.raises(LimitExceeded, match="DOCKET_MAX_IMAGE_PIXELS"):
        list(iter_pages(path, PNG_MIME, _checkpoint(max_image_pixels=64_000_000)))


def test_corrupt_and_truncated_images_fail_clearly(strip: Image.Image, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n" + b"nonsense" * 100)
    with pytest.raises(ParseError, match="not a readable image or it is corrupt"):
        list(iter_pages(garbage, PNG_MIME, _checkpoint()))
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(fx.image_file(strip, "JPEG")[:600])
    with pytest.raises(ParseError, match="corrupt"):
        list(iter_pages(truncated, JPEG_MIME, _checkpoint()))


def test_unreadable_image_formats_are_unsupported_at_detection(strip: Image.Image) -> None:
    gif = fx.image_file(strip, "GIF")
    assert detect_mime_type("scan.gif", gif[:1024]) == "application/octet-stream"
    assert detect_mime_type("scan.png", b"not a png at all") == "application/octet-stream"


def test_the_stored_pages_record_their_text_source(scan: Path) -> None:
    parse = DocumentParse(scan, PDF_MIME, ChunkingOptions, ocr=OcrOptions(render_dpi=DPI))
    while (parsed := parse.step()) is None:
        pass
    assert [page["text_source"] for page in json.loads(parsed.pages_json)] == [OCR, OCR]
    assert parsed.ocr_pages == 2
    assert parsed.chunks and parsed.chunks[0]["blocks"][0]["bbox"] is not None
