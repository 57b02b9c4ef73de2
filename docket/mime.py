"""Document types: detected from the first bytes, then the filename extension.

Lives in the core because the API decides at upload/parse time what the engine can parse
(a 422 at creation beats a job that fails later)."""

import zipfile
from io import BytesIO
from pathlib import PurePosixPath

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HTML = "text/html"
TEXT = "text/plain"
MARKDOWN = "text/markdown"
UNKNOWN = "application/octet-stream"

PARSEABLE: frozenset[str] = frozenset({PDF, DOCX, HTML, TEXT, MARKDOWN})

BY_EXTENSION = {
    ".pdf": PDF,
    ".docx": DOCX,
    ".html": HTML,
    ".htm": HTML,
    ".txt": TEXT,
    ".text": TEXT,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
}
ZIP_MAGIC = b"PK\x03\x04"


def _looks_like_docx(head: bytes) -> bool:
    # The head may be truncated; a DOCX names `word/` in its first local file headers.
    if b"word/" in head or b"[Content_Types].xml" in head:
        return True
    try:
        return any(n.startswith("word/") for n in zipfile.ZipFile(BytesIO(head)).namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return False


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        # A multi-byte character cut at the end of the head is still text.
        return err.start >= len(head) - 3
    return True


def detect(filename: str, head: bytes) -> str:
    """Best guess of the mime type; never raises."""
    by_name = BY_EXTENSION.get(PurePosixPath(filename.lower()).suffix)
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(ZIP_MAGIC):
        return DOCX if _looks_like_docx(head) else by_name or "application/zip"
    lowered = head[:512].lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html")):
        return HTML
    if by_name in (TEXT, MARKDOWN, HTML) and _looks_like_text(head):
        return by_name
    if by_name is None and head and _looks_like_text(head):
        return TEXT
    if by_name in (PDF, DOCX):
        # The name promises a binary format the bytes do not have: let the engine say so.
        return by_name
    return UNKNOWN
