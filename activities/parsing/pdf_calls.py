"""Direct prototypes of the few pdfium calls made for every line of every page.

pypdfium2's bindings declare `argtypes`, so each call converts and checks every argument,
and, being plain ctypes foreign functions, release the GIL and take it back. For a call
that does microseconds of work in C that is most of its cost (measured: ~2.5 us a call
through the bindings, ~0.4 us through these), and a dense page makes ~300 of them.

These are the same C functions at the same addresses, declared with only their return
type and made with PYFUNCTYPE, which keeps the GIL during the call. Callers hold
PDFIUM_LOCK anyway, and each of these calls is short, so keeping the GIL costs other
threads nothing measurable and saves the hand-back (see activities/parse_run.py).

Without argtypes ctypes passes Python ints as C ints and ctypes objects as they are, so
arguments must be exactly: a handle as the ctypes pointer pypdfium2 hands out (never a
bare address), indices as ints, out-parameters through `ctypes.byref`.
"""

from __future__ import annotations

import ctypes
from typing import Any

import pypdfium2.raw as pdfium_c


def _direct(function: Any, restype: Any) -> Any:
    address = ctypes.cast(function, ctypes.c_void_p).value
    assert address, "a pdfium function without an address"  # the library is loaded
    return ctypes.PYFUNCTYPE(restype)(address)


# (FPDF_TEXTPAGE, int start, int count) -> int
count_rects = _direct(pdfium_c.FPDFText_CountRects, ctypes.c_int)
# (FPDF_TEXTPAGE, int rect, double* left, double* top, double* right, double* bottom) -> bool
get_rect = _direct(pdfium_c.FPDFText_GetRect, ctypes.c_int)
# (FPDF_TEXTPAGE, int index, FS_RECTF*) -> bool
get_loose_char_box = _direct(pdfium_c.FPDFText_GetLooseCharBox, ctypes.c_int)
# (FPDF_TEXTPAGE, int index) -> double
get_font_size = _direct(pdfium_c.FPDFText_GetFontSize, ctypes.c_double)
# (FPDF_TEXTPAGE, int index) -> int (1: a hyphen that breaks a word at the line's end)
is_hyphen = _direct(pdfium_c.FPDFText_IsHyphen, ctypes.c_int)
# (FPDF_TEXTPAGE, int text index) -> int char index
char_index = _direct(pdfium_c.FPDFText_GetCharIndexFromTextIndex, ctypes.c_int)
