"""Plain-text and markdown readers."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

from .limits import Checkpoint
from .types import (
    BLOCK_CODE,
    BLOCK_HEADING,
    BLOCK_LIST_ITEM,
    BLOCK_TABLE,
    BLOCK_TEXT,
    Block,
    Page,
    ParseError,
)

_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# ATX headings need a space (or nothing) after the hashes, so "#hashtag" stays text.
_HEADING = re.compile(r"^#{1,6}(?:[ \t]|$)")
_LIST_ITEM = re.compile(r"^(?:[-*+]|\d{1,9}[.)])[ \t]+\S")
_FENCE = re.compile(r"^(```|~~~)")
# Control characters other than tab/newline/carriage return/form feed; a file full of these is
# binary data with a text extension, not text.
_BINARY_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f]")
_BINARY_RATIO = 0.05


def decode_text(data: bytes) -> str:
    """Decode an uploaded text file.

    Decision: strict UTF-8 first (BOM stripped, UTF-16 honoured when it has a BOM), then fall
    back to Windows-1252/Latin-1. Legacy Windows exports are common uploads and rejecting them
    would be unfriendly; Latin-1 never fails, so binary data is rejected explicitly instead by
    looking for NUL and other control bytes.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ParseError(
                "The text file is not valid UTF-16 despite its byte-order mark."
            ) from exc
    if b"\x00" in data:
        raise ParseError("The file contains binary data and cannot be read as text.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            # cp1252 leaves five bytes undefined; Latin-1 maps every byte.
            text = data.decode("latin-1")
    if text and len(_BINARY_CHARS.findall(text)) / len(text) > _BINARY_RATIO:
        raise ParseError("The file contains binary data and cannot be read as text.")
    return text


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read(path: Path, checkpoint: Checkpoint) -> str:
    """The whole text (bounded by the upload size), refused at once if over the limit."""
    text = _normalise_newlines(decode_text(path.read_bytes()))
    checkpoint.check("max_text_chars", len(text), "characters of text")
    checkpoint.tick()
    return text


def _block(kind: str, content: str) -> Block:
    return Block(type=kind, content=content, page_number=1, bbox=None, confidence=1.0)


def iter_text_blocks(text: str, checkpoint: Checkpoint) -> Iterator[Block]:
    """Plain text: one block per paragraph, paragraphs separated by blank lines; found one at
    a time, with a checkpoint between them."""
    text = _normalise_newlines(text)
    start = 0
    for separator in itertools.chain(_BLANK_LINE.finditer(text), [None]):
        checkpoint.tick()
        end = len(text) if separator is None else separator.start()
        part = text[start:end].strip()
        if separator is not None:
            start = separator.end()
        if part:
            yield _block(BLOCK_TEXT, part)


def text_blocks(text: str) -> list[Block]:
    return list(iter_text_blocks(text, Checkpoint()))


def _group_blocks(lines: list[str]) -> list[Block]:
    """Classify one blank-line-separated group of markdown lines."""
    blocks: list[Block] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            blocks.append(_block(BLOCK_TEXT, "\n".join(pending)))
            pending.clear()

    if all(line.lstrip().startswith("|") for line in lines):
        return [_block(BLOCK_TABLE, "\n".join(lines))]
    for line in lines:
        if _HEADING.match(line):
            # Headings are their own blocks even without a blank line around them, so
            # `by_section` chunking can start a section there.
            flush()
            blocks.append(_block(BLOCK_HEADING, line.strip()))
        elif _LIST_ITEM.match(line.lstrip()) and len(line) - len(line.lstrip()) < 4:
            flush()
            blocks.append(_block(BLOCK_LIST_ITEM, line.rstrip()))
        elif blocks and blocks[-1].type == BLOCK_LIST_ITEM and not pending:
            # A continuation line belongs to the list item above it.
            last = blocks.pop()
            blocks.append(_block(BLOCK_LIST_ITEM, last.content + "\n" + line.rstrip()))
        else:
            pending.append(line.rstrip())
    flush()
    return blocks


def iter_markdown_blocks(text: str, checkpoint: Checkpoint) -> Iterator[Block]:
    """Markdown: blocks split on blank lines; fenced code is kept whole even across blank
    lines. A checkpoint between lines; blocks come out as soon as they are complete."""
    blocks: list[Block] = []
    group: list[str] = []
    fence: list[str] = []
    fence_marker = ""

    def flush_group() -> None:
        if group:
            blocks.extend(_group_blocks(group))
            group.clear()

    for line in _normalise_newlines(text).split("\n"):
        checkpoint.tick()
        if blocks:
            yield from blocks
            blocks.clear()
        if fence:
            fence.append(line)
            if line.strip().startswith(fence_marker) and len(fence) > 1:
                blocks.append(_block(BLOCK_CODE, "\n".join(fence)))
                fence = []
            continue
        match = _FENCE.match(line.lstrip())
        if match:
            flush_group()
            fence, fence_marker = [line], match.group(1)
        elif line.strip():
            group.append(line)
        else:
            flush_group()
    flush_group()
    if fence:
        # An unterminated fence runs to the end of the document, as in CommonMark.
        blocks.append(_block(BLOCK_CODE, "\n".join(fence).rstrip()))
    yield from blocks


def markdown_blocks(text: str) -> list[Block]:
    return list(iter_markdown_blocks(text, Checkpoint()))


def iter_text_pages(path: Path, checkpoint: Checkpoint) -> Iterator[Page]:
    for block in iter_text_blocks(_read(path, checkpoint), checkpoint):
        yield Page(number=1, blocks=[block])


def iter_markdown_pages(path: Path, checkpoint: Checkpoint) -> Iterator[Page]:
    for block in iter_markdown_blocks(_read(path, checkpoint), checkpoint):
        yield Page(number=1, blocks=[block])
