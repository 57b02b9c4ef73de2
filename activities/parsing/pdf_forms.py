"""Values of AcroForm fields: filled-in forms keep their text in widget annotations, which
are not part of the page's text layer. Callers hold PDFIUM_LOCK."""

from __future__ import annotations

import ctypes
from typing import Any

import pypdfium2.raw as pdfium_c

from .pdf_layout import normalise_box
from .types import BLOCK_TEXT, Block

# Field kinds whose value is text a reader of the form sees (check boxes and radio buttons
# only say "Yes"/"Off", push buttons have none).
_TEXT_FIELDS = frozenset(
    {
        pdfium_c.FPDF_FORMFIELD_TEXTFIELD,
        pdfium_c.FPDF_FORMFIELD_COMBOBOX,
        pdfium_c.FPDF_FORMFIELD_LISTBOX,
    }
)
_WCHAR_BYTES = 2  # pdfium returns UTF-16LE, NUL-terminated


def _value(formenv: Any, annot: Any) -> str:
    size = pdfium_c.FPDFAnnot_GetFormFieldValue(formenv, annot, None, 0)
    if size <= _WCHAR_BYTES:
        return ""
    buffer = ctypes.create_string_buffer(size)
    pointer = ctypes.cast(buffer, ctypes.POINTER(pdfium_c.FPDF_WCHAR))
    pdfium_c.FPDFAnnot_GetFormFieldValue(formenv, annot, pointer, size)
    return buffer.raw[: size - _WCHAR_BYTES].decode("utf-16-le", errors="replace")


def form_blocks(
    document: Any,
    page: Any,
    number: int,
    page_box: tuple[float, float, float, float],
    rotation: int,
) -> list[Block]:
    """One text block per filled-in text field of the page, in annotation order."""
    formenv = getattr(document, "formenv", None)  # None: no forms (or a stand-in document)
    if formenv is None:
        return []
    blocks: list[Block] = []
    rect = pdfium_c.FS_RECTF()
    for index in range(pdfium_c.FPDFPage_GetAnnotCount(page.raw)):
        annot = pdfium_c.FPDFPage_GetAnnot(page.raw, index)
        if not annot:
            continue
        try:
            if pdfium_c.FPDFAnnot_GetSubtype(annot) != pdfium_c.FPDF_ANNOT_WIDGET:
                continue
            if pdfium_c.FPDFAnnot_GetFormFieldType(formenv.raw, annot) not in _TEXT_FIELDS:
                continue
            text = " ".join(_value(formenv.raw, annot).split())
            if not text:
                continue
            bbox = None
            if pdfium_c.FPDFAnnot_GetRect(annot, rect):
                edges = (rect.left, rect.bottom, rect.right, rect.top)
                bbox = normalise_box(edges, page_box, rotation)
            blocks.append(Block(BLOCK_TEXT, text, number, bbox, 1.0))
        finally:
            pdfium_c.FPDFPage_CloseAnnot(annot)
    return blocks
