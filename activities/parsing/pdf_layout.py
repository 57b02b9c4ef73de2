"""Layout heuristics turning PDF lines (or glyphs, on the exact path) into paragraph blocks.

Pure functions over plain tuples so the heuristics can be tested without pdfium. Coordinates
are PDF user space (points, origin bottom-left, y pointing up) until `normalise_box`.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from .types import BLOCK_HEADING, BLOCK_LIST_ITEM, BLOCK_TEXT, BBox, Block

# Lines starting with a bullet glyph or "1." / "a)" start a list item.
_BULLET = re.compile(
    r"^([\u2022\u2023\u25aa\u25cf\u25e6\u2043\u2219\u00b7\u25a0\u25a1\u25cb\-*\u2013])\s+"
)
_NUMBERED = re.compile(r"^(?:\d{1,3}[.)]|[a-z]\))\s+")
# Either of the two in one match call (paragraph breaks test every line for it).
_LIST_START = re.compile(f"{_BULLET.pattern}|{_NUMBERED.pattern}")
# Heading heuristics: noticeably larger than the page's body text, and short.
_HEADING_RATIO = 1.2
_TITLE_RATIO = 1.6
_HEADING_MAX_CHARS = 200
_HEADING_MAX_LINES = 3
# Font sizes within 15% count as "the same style" when grouping lines into paragraphs.
_SIZE_TOLERANCE = 0.15
# Extra vertical gap (in font sizes) over the page's usual line gap that starts a paragraph.
_PARAGRAPH_GAP = 0.5


class Glyph(NamedTuple):
    char: str
    left: float
    bottom: float
    right: float
    top: float
    size: float
    hyphen: bool = False  # pdfium flags a hyphen that breaks a word at the end of a line


class Line(NamedTuple):
    """One finished line of text. Immutable, so `text` and `size` are computed once (layout
    reads them many times per line); a NamedTuple because it is built once per line of
    every page and is several times cheaper to construct than a frozen dataclass."""

    text: str
    size: float
    left: float
    bottom: float
    right: float
    top: float
    hyphenated: bool = False


@dataclass
class _LineBuilder:
    chars: list[str] = field(default_factory=list)
    sizes: list[float] = field(default_factory=list)
    left: float = float("inf")
    bottom: float = float("inf")
    right: float = float("-inf")
    top: float = float("-inf")
    hyphenated: bool = False

    def add(self, glyph: Glyph) -> None:
        self.chars.append(glyph.char)
        self.sizes.append(glyph.size)
        self.left, self.right = min(self.left, glyph.left), max(self.right, glyph.right)
        self.bottom, self.top = min(self.bottom, glyph.bottom), max(self.top, glyph.top)

    def build(self) -> Line | None:
        text = "".join(self.chars).strip()
        if not text:
            return None
        size = statistics.median(self.sizes) if self.sizes else 0.0
        return Line(text, size, self.left, self.bottom, self.right, self.top, self.hyphenated)


def glyphs_to_lines(glyphs: Iterable[Glyph]) -> list[Line]:
    """Split glyphs into lines on pdfium's own line breaks.

    pdfium inserts generated CR/LF characters where it detects a new line. As a fallback for
    files where it does not, a glyph that does not vertically overlap the current line also
    starts a new one. Whitespace is kept as single spaces but never widens a line's box,
    because generated spaces have degenerate or misleading boxes.
    """
    lines: list[Line] = []
    current = _LineBuilder()

    def finish() -> None:
        nonlocal current
        line = current.build()
        if line is not None:
            lines.append(line)
        current = _LineBuilder()

    for glyph in glyphs:
        if glyph.char in "\r\n":
            if glyph.char == "\n":
                finish()
            continue
        if glyph.char.isspace():
            if current.chars and current.chars[-1] != " ":
                current.chars.append(" ")
            continue
        if current.sizes and (glyph.top < current.bottom or glyph.bottom > current.top):
            finish()
        current.add(glyph)
        current.hyphenated = glyph.hyphen
    finish()
    return lines


def _breaks_paragraph(
    previous: Line, line: Line, usual_gap: float, extent: tuple[float, float]
) -> bool:
    """Whether `line` starts a new paragraph after `previous`; `extent` is the horizontal
    (left, right) of the paragraph so far."""
    # Runs for every line of every page, and most lines continue their paragraph so every
    # test runs: cheap comparisons first, plain `if`s rather than max(), the regexes last.
    size = previous.size if previous.size > line.size else line.size
    if size < 1.0:
        size = 1.0
    if abs(line.size - previous.size) > _SIZE_TOLERANCE * size:
        return True
    gap = previous.bottom - line.top
    if gap < -0.5 * size:
        return True  # the line went back up: a new column or a floating element
    if gap > usual_gap + _PARAGRAPH_GAP * size:
        return True
    if line.left > extent[1] or line.right < extent[0]:
        return True  # side by side, e.g. another column
    return _LIST_START.match(line.text) is not None


def group_paragraphs(lines: Sequence[Line]) -> list[list[Line]]:
    """Group consecutive lines (in content order) into paragraphs.

    The usual line gap is measured per page, so double-spaced documents are not split into
    one paragraph per line. It is the lower quartile of the gaps rather than the median
    because on short pages paragraph breaks can be as frequent as line breaks.
    """
    gaps = [
        above.bottom - below.top
        for above, below in itertools.pairwise(lines)
        if below.top <= above.top and abs(above.size - below.size) <= _SIZE_TOLERANCE * above.size
    ]
    usual_gap = max(0.0, sorted(gaps)[len(gaps) // 4]) if gaps else 0.0
    paragraphs: list[list[Line]] = []
    current: list[Line] = []
    extent = (0.0, 0.0)  # kept up to date rather than recomputed from every line per line
    for line in lines:
        if current and not _breaks_paragraph(current[-1], line, usual_gap, extent):
            current.append(line)
            left, right = extent
            if line.left < left or line.right > right:
                extent = (min(left, line.left), max(right, line.right))
        else:
            current = [line]
            paragraphs.append(current)
            extent = (line.left, line.right)
    return paragraphs


def _join_lines(lines: Sequence[Line]) -> str:
    parts: list[str] = []
    for index, line in enumerate(lines):
        # A word hyphenated across lines is glued back together (hyphen kept, no space).
        if index and not lines[index - 1].hyphenated:
            parts.append(" ")
        parts.append(line.text)
    return "".join(parts)


def body_size(lines: Sequence[Line]) -> float:
    """The most common font size on the page, weighted by character count."""
    counts: Counter[float] = Counter()
    for line in lines:
        counts[round(line.size * 2) / 2] += len(line.text)
    return counts.most_common(1)[0][0] if counts else 0.0


def classify(lines: Sequence[Line], text: str, body: float) -> tuple[str, str]:
    """Block type and markdown content for one paragraph."""
    bullet = _BULLET.match(text)
    if bullet:
        return BLOCK_LIST_ITEM, "- " + text[bullet.end() :]
    if _NUMBERED.match(text):
        return BLOCK_LIST_ITEM, text
    size = max(line.size for line in lines)
    if (
        body > 0
        and size >= _HEADING_RATIO * body
        and len(lines) <= _HEADING_MAX_LINES
        and len(text) <= _HEADING_MAX_CHARS
    ):
        return BLOCK_HEADING, ("# " if size >= _TITLE_RATIO * body else "## ") + text
    return BLOCK_TEXT, text


def normalise_box(
    edges: tuple[float, float, float, float],
    page_box: tuple[float, float, float, float],
    rotation: int,
) -> BBox:
    """Convert (left, bottom, right, top) in user space to top-left-origin page fractions.

    `page_box` is the visible page area in user space (it need not start at 0,0). For rotated
    pages the box is rotated clockwise like the page is when displayed.
    """
    left, bottom, right, top = edges
    x0, y0, x1, y1 = page_box
    width, height = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
    u0, u1 = (left - x0) / width, (right - x0) / width
    v0, v1 = (y1 - top) / height, (y1 - bottom) / height  # flip: PDF y grows upwards
    if rotation == 90:
        u0, v0, u1, v1 = 1 - v1, u0, 1 - v0, u1
    elif rotation == 180:
        u0, v0, u1, v1 = 1 - u1, 1 - v1, 1 - u0, 1 - v0
    elif rotation == 270:
        u0, v0, u1, v1 = v0, 1 - u1, v1, 1 - u0
    return BBox.from_edges(u0, v0, u1, v1)


def _edges(paragraph: Sequence[Line]) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) around the lines: one pass instead of four generators."""
    first = paragraph[0]
    left, bottom, right, top = first.left, first.bottom, first.right, first.top
    for line in paragraph[1:]:
        left = line.left if line.left < left else left
        bottom = line.bottom if line.bottom < bottom else bottom
        right = line.right if line.right > right else right
        top = line.top if line.top > top else top
    return left, bottom, right, top


def layout_blocks(
    glyphs: Iterable[Glyph],
    page_number: int,
    page_box: tuple[float, float, float, float],
    rotation: int,
) -> list[Block]:
    return layout_lines(glyphs_to_lines(glyphs), page_number, page_box, rotation)


def layout_lines(
    lines: Sequence[Line],
    page_number: int,
    page_box: tuple[float, float, float, float],
    rotation: int,
) -> list[Block]:
    """Paragraph blocks from lines in content order (however the lines were extracted)."""
    body = body_size(lines)
    blocks: list[Block] = []
    for paragraph in group_paragraphs(lines):
        text = _join_lines(paragraph)
        kind, content = classify(paragraph, text, body)
        bbox = normalise_box(_edges(paragraph), page_box, rotation)
        blocks.append(Block(kind, content, page_number, bbox, confidence=1.0))
    return blocks
