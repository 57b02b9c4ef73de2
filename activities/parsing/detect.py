"""Mime types the engine handles; detection itself lives in the core (`core.mime`)."""

from core.mime import (
    DOCX_MIME,
    HTML_MIME,
    IMAGE_MIME_TYPES,
    JPEG_MIME,
    MARKDOWN_MIME,
    PDF_MIME,
    PNG_MIME,
    SUPPORTED_MIME_TYPES,
    TEXT_MIME,
    TIFF_MIME,
    UNKNOWN_MIME,
    WEBP_MIME,
    detect_mime_type,
    normalize_mime_type,
)

__all__ = [
    "DOCX_MIME",
    "HTML_MIME",
    "IMAGE_MIME_TYPES",
    "JPEG_MIME",
    "MARKDOWN_MIME",
    "PDF_MIME",
    "PNG_MIME",
    "SUPPORTED_MIME_TYPES",
    "TEXT_MIME",
    "TIFF_MIME",
    "UNKNOWN_MIME",
    "WEBP_MIME",
    "detect_mime_type",
    "normalize_mime_type",
]
