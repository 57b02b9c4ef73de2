"""DOCX reader (python-docx). A .docx has no fixed pagination, so everything lands on page 1."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml.ns import qn
from docx.oxml.parser import parse_xml
from docx.table import Table
from docx.text.paragraph import Paragraph

from .docx_package import safe_package
from .limits import Checkpoint, LimitExceeded, ParseCancelled
from .markdown import markdown_table
from .types import BLOCK_HEADING, BLOCK_LIST_ITEM, BLOCK_TABLE, BLOCK_TEXT, Block, Page, ParseError

# Built-in heading styles are stored with English names ("heading 1") even in localised Word,
# and python-docx exposes them as "Heading N".
_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)
_TITLE_LEVELS = {"title": 1, "subtitle": 2}
_LIST_STYLE_LEVEL = re.compile(r"^list\b(?!\s*continue).*?(\d)?$", re.IGNORECASE)
# Parts besides the body whose text belongs to the document, in the order they are read.
_STORY_PARTS = (RT.HEADER, RT.FOOTNOTES, RT.ENDNOTES, RT.FOOTER)
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_NOTE_TYPE = qn("w:type")  # separator and continuation "notes" hold no text of the author


def _block(kind: str, content: str) -> Block:
    return Block(type=kind, content=content, page_number=1, bbox=None, confidence=1.0)


def _style_name(paragraph: Paragraph) -> str:
    style = paragraph.style
    return (style.name or "") if style is not None else ""


def _heading_level(style_name: str) -> int | None:
    match = _HEADING_STYLE.match(style_name.strip())
    if match:
        return int(match.group(1))
    return _TITLE_LEVELS.get(style_name.strip().lower())


def _list_level(paragraph: Paragraph, style_name: str) -> int | None:
    """Nesting level (0-based) if the paragraph is a list item, else None.

    Lists come either from direct numbering (`w:numPr` on the paragraph) or from a list style
    such as "List Bullet 2" whose numbering lives in the style definition.
    """
    ilvl = paragraph._p.xpath("./w:pPr/w:numPr/w:ilvl/@w:val")
    if ilvl:
        return int(str(ilvl[0])) if str(ilvl[0]).isdigit() else 0
    if paragraph._p.xpath("./w:pPr/w:numPr"):
        return 0
    match = _LIST_STYLE_LEVEL.match(style_name.strip())
    if match:
        return int(match.group(1)) - 1 if match.group(1) else 0
    return None


def _paragraph_block(paragraph: Paragraph) -> Block | None:
    text = paragraph.text.strip()
    if not text:
        return None
    style_name = _style_name(paragraph)
    level = _heading_level(style_name)
    if level is not None:
        # Markdown headings are single-line; soft line breaks inside a heading become spaces.
        return _block(BLOCK_HEADING, "#" * level + " " + " ".join(text.split()))
    list_level = _list_level(paragraph, style_name)
    if list_level is not None:
        return _block(BLOCK_LIST_ITEM, "  " * max(0, list_level) + "- " + text)
    return _block(BLOCK_TEXT, text)


def _table_block(table: Table) -> Block | None:
    rows = [[cell.text for cell in row.cells] for row in table.rows]
    content = markdown_table(rows)
    return _block(BLOCK_TABLE, content) if content else None


def _text_block(p: Any) -> Block | None:
    text = str(p.text).strip()
    return _block(BLOCK_TEXT, text) if text else None


def _text_boxes(p: Any) -> Iterator[Block]:
    """Paragraphs of the text boxes anchored in a body paragraph (its own text skips them).

    Word writes each text box twice, as DrawingML and inside mc:Fallback as VML; only the
    first is read."""
    for box in p.iter(qn("w:txbxContent")):
        if any(ancestor.tag == _MC_FALLBACK for ancestor in box.iterancestors()):
            continue
        for inner in box.iter(qn("w:p")):
            block = _text_block(inner)
            if block is not None:
                yield block


def _story_blocks(part: Any, checkpoint: Checkpoint) -> Iterator[Block]:
    """The paragraphs of a header, footer, footnotes or endnotes part, as text."""
    element = getattr(part, "element", None)
    root = element if element is not None else parse_xml(part.blob)
    for p in root.iter(qn("w:p")):
        checkpoint.tick()
        note = next((a for a in p.iterancestors() if a.get(_NOTE_TYPE) is not None), None)
        if note is None and (block := _text_block(p)) is not None:
            yield block


def _read_blocks(path: Path, checkpoint: Checkpoint) -> Iterator[Block]:
    document = docx.Document(safe_package(str(path), checkpoint))
    for item in document.iter_inner_content():
        checkpoint.tick()
        if isinstance(item, Paragraph):
            block = _paragraph_block(item)
            boxes = list(_text_boxes(item._p))
        else:
            block, boxes = _table_block(item), []
        if block is not None:
            yield block
        yield from boxes
    parts = {
        rel.target_part
        for rel in document.part.rels.values()
        if not rel.is_external and rel.reltype in _STORY_PARTS
    }
    for part in sorted(parts, key=lambda part: str(part.partname)):
        yield from _story_blocks(part, checkpoint)


def iter_docx_pages(path: Path, checkpoint: Checkpoint) -> Iterator[Page]:
    if not path.is_file():
        # A missing upload is an infrastructure problem, not a document problem: let it surface
        # as an OSError so the activity can be retried instead of failing the job.
        raise FileNotFoundError(path)
    try:
        for block in _read_blocks(path, checkpoint):
            yield Page(number=1, blocks=[block])
    except (LimitExceeded, ParseCancelled):
        raise
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ParseError("The file is not a valid Word (.docx) document or it is corrupt.") from exc
    except MemoryError:
        raise
    except Exception as exc:
        # python-docx surfaces malformed parts as assorted lxml/opc errors; all mean the same to
        # the user.
        raise ParseError("The Word (.docx) document could not be read; it may be corrupt.") from exc
