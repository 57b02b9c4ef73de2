"""Mime-type detection from magic bytes and file names.

In the core because both the API (a 422 at parse creation beats a job that fails later)
and the parse engine need it."""

from __future__ import annotations

PDF_MIME = "application/pdf"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HTML_MIME = "text/html"
TEXT_MIME = "text/plain"
MARKDOWN_MIME = "text/markdown"
PNG_MIME = "image/png"
JPEG_MIME = "image/jpeg"
TIFF_MIME = "image/tiff"
WEBP_MIME = "image/webp"
UNKNOWN_MIME = "application/octet-stream"

# Images are always OCR'd (activities/parsing/image_reader.py), one page per frame.
IMAGE_MIME_TYPES: frozenset[str] = frozenset({PNG_MIME, JPEG_MIME, TIFF_MIME, WEBP_MIME})
SUPPORTED_MIME_TYPES: frozenset[str] = frozenset(
    {PDF_MIME, DOCX_MIME, HTML_MIME, TEXT_MIME, MARKDOWN_MIME, *IMAGE_MIME_TYPES}
)

_EXTENSIONS: dict[str, str] = {
    "pdf": PDF_MIME,
    "docx": DOCX_MIME,
    "html": HTML_MIME,
    "htm": HTML_MIME,
    "txt": TEXT_MIME,
    "md": MARKDOWN_MIME,
    "markdown": MARKDOWN_MIME,
    "png": PNG_MIME,
    "jpg": JPEG_MIME,
    "jpeg": JPEG_MIME,
    "tif": TIFF_MIME,
    "tiff": TIFF_MIME,
    "webp": WEBP_MIME,
}

# Clients send a few non-canonical spellings; mapping them here keeps the engine's dispatch
# table small.
_ALIASES: dict[str, str] = {
    "text/x-markdown": MARKDOWN_MIME,
    "application/xhtml+xml": HTML_MIME,
    "image/jpg": JPEG_MIME,
    "image/pjpeg": JPEG_MIME,
    "image/tif": TIFF_MIME,
}

_SNIFF_WINDOW = 1024
_ZIP_MAGIC = b"PK\x03\x04"
# The image signatures the engine reads. Any other format (GIF, BMP, HEIC, ...) is unknown,
# so a parse of it is refused with a 422 at creation.
_IMAGE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", PNG_MIME),
    (b"\xff\xd8\xff", JPEG_MIME),
    (b"II*\x00", TIFF_MIME),
    (b"MM\x00*", TIFF_MIME),
)
_RIFF, _WEBP_TAG, _WEBP_TAG_AT = b"RIFF", b"WEBP", 8  # RIFF <size:4> WEBP
_IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "tif", "tiff", "webp"})


def normalize_mime_type(mime_type: str) -> str:
    """Lower-case, drop parameters such as `; charset=utf-8`, resolve known aliases."""
    base = mime_type.split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base)


def _extension(filename: str) -> str:
    # Uploads may carry Windows paths; only the last component's suffix matters.
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    if "." not in name.strip("."):
        return ""
    return name.rsplit(".", 1)[-1].strip().lower()


def _strip_leading(head: bytes) -> bytes:
    return head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")


def _looks_like_html(head: bytes) -> bool:
    window = _strip_leading(head[:_SNIFF_WINDOW]).lower()
    return window.startswith((b"<!doctype html", b"<html")) or (
        window.startswith(b"<?xml") and b"<html" in window
    )


def _image_type(head: bytes, ext: str) -> str | None:
    """The image type named by the magic bytes; UNKNOWN for a file named like an image
    without the signature of one the engine reads; None for anything else."""
    for magic, mime_type in _IMAGE_MAGIC:
        if head.startswith(magic):
            return mime_type
    if head.startswith(_RIFF) and head[_WEBP_TAG_AT : _WEBP_TAG_AT + len(_WEBP_TAG)] == _WEBP_TAG:
        return WEBP_MIME
    if ext in _IMAGE_EXTENSIONS:
        return UNKNOWN_MIME
    return None


def detect_mime_type(filename: str, head: bytes) -> str:
    """Mime type from the first bytes of the file and its name.

    Magic bytes win over the extension because file names are user-controlled and often wrong
    (e.g. a PDF saved as `.txt`). Never raises: anything unexpected yields
    `application/octet-stream`, which the caller reports as unsupported.
    """
    try:
        ext = _extension(filename)
        # Only a leading header counts: a text file *mentioning* "%PDF-" must stay text. PDFs
        # with junk before the header are still caught by their `.pdf` extension below.
        if _strip_leading(head).startswith(b"%PDF-"):
            return PDF_MIME
        if head.startswith(_ZIP_MAGIC):
            # The `word/` part name only shows up if the head is long enough to reach it, so
            # a `.docx` name is accepted as the tie-breaker; other zips (xlsx, jar) are unknown.
            if b"word/" in head or ext == "docx":
                return DOCX_MIME
            return UNKNOWN_MIME
        image = _image_type(head, ext)
        if image is not None:
            return image
        if _looks_like_html(head):
            return HTML_MIME
        return _EXTENSIONS.get(ext, UNKNOWN_MIME)
    except Exception:
        return UNKNOWN_MIME
