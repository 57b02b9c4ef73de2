from __future__ import annotations

import io
import zipfile

import pytest

from activities.parsing import SUPPORTED_MIME_TYPES, detect_mime_type
from activities.parsing.detect import (
    DOCX_MIME,
    HTML_MIME,
    IMAGE_MIME_TYPES,
    MARKDOWN_MIME,
    PDF_MIME,
    TEXT_MIME,
    UNKNOWN_MIME,
)


def _zip_head(member: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, "<xml/>")
    return buffer.getvalue()[:512]


def test_supported_mime_types() -> None:
    textual = {PDF_MIME, DOCX_MIME, HTML_MIME, TEXT_MIME, MARKDOWN_MIME}
    assert textual | IMAGE_MIME_TYPES == SUPPORTED_MIME_TYPES
    assert {"image/png", "image/jpeg", "image/tiff", "image/webp"} == IMAGE_MIME_TYPES


@pytest.mark.parametrize(
    ("filename", "head", "expected"),
    [
        # Magic bytes win over a misleading name.
        ("report.pdf", b"%PDF-1.7\n%\xe2\xe3", PDF_MIME),
        ("report.txt", b"%PDF-1.4\n", PDF_MIME),
        ("no-extension", b"\xef\xbb\xbf  %PDF-1.4", PDF_MIME),
        ("x.docx", _zip_head("word/document.xml"), DOCX_MIME),
        ("upload.bin", _zip_head("word/document.xml"), DOCX_MIME),
        ("x.docx", b"PK\x03\x04\x14\x00\x06\x00", DOCX_MIME),  # head too short to show word/
        ("book.xlsx", _zip_head("xl/workbook.xml"), UNKNOWN_MIME),
        ("page", b"<!DOCTYPE html><html>", HTML_MIME),
        ("page.txt", b"\n  <HTML lang='en'>", HTML_MIME),
        ("page.xhtml", b'<?xml version="1.0"?>\n<html xmlns="x">', HTML_MIME),
        # Extension fallbacks.
        ("a.pdf", b"", PDF_MIME),
        ("a.htm", b"<p>hi</p>", HTML_MIME),
        ("a.HTML", b"<p>hi</p>", HTML_MIME),
        ("notes.txt", b"plain words", TEXT_MIME),
        ("README.md", b"# Title", MARKDOWN_MIME),
        ("guide.markdown", b"text", MARKDOWN_MIME),
        ("C:\\Users\\me\\Desktop\\Notes.TXT", b"hello", TEXT_MIME),
        ("about-pdf.md", b"The header is %PDF-1.7 in every file", MARKDOWN_MIME),
        # Unknown.
        ("image.gif", b"GIF89a\x01\x00", UNKNOWN_MIME),  # images the engine cannot OCR
        ("image.png", b"not a PNG signature", UNKNOWN_MIME),
        ("archive.tar.gz", b"\x1f\x8b", UNKNOWN_MIME),
        ("", b"", UNKNOWN_MIME),
        ("noext", b"just text", UNKNOWN_MIME),
        (".md", b"", UNKNOWN_MIME),
    ],
)
def test_detect_mime_type(filename: str, head: bytes, expected: str) -> None:
    assert detect_mime_type(filename, head) == expected


@pytest.mark.parametrize(("filename", "head"), [(None, b"%PDF-"), ("a.pdf", None), (1, 2)])
def test_detect_mime_type_never_raises(filename: object, head: object) -> None:
    assert detect_mime_type(filename, head) == UNKNOWN_MIME  # type: ignore[arg-type]
