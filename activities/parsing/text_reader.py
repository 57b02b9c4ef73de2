"""Plain-text and markdown readers."""

from __future__ import annotations

import codecs
import contextlib
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

from .limits import Checkpoint, over_limit
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


_BINARY_MESSAGE = "The file contains binary data and cannot be read as text."
# Files are read and decoded in pieces this big with a checkpoint between them (about a
# millisecond of work each), so a cancel is seen at once even inside a 100 MB upload.
_READ_BYTES = 256 * 1024
# Markdown is split into lines a region of about this many characters at a time: one
# `split` of a whole 50 MB text is a ~100 ms step that no checkpoint can interrupt.
_SPLIT_CHARS = 64 * 1024
_UTF16 = "utf-16"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Strict UTF-8 first, then Windows-1252, then Latin-1, which maps every byte (see read_text).
_FALLBACKS = ("utf-8-sig", "cp1252", "latin-1")


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decoded(path: Path, encoding: str, checkpoint: Checkpoint) -> Iterator[str]:
    """The file decoded piece by piece, newlines normalised, a checkpoint between pieces.
    Raises UnicodeDecodeError as soon as a piece is not in `encoding`."""
    decoder = codecs.getincrementaldecoder(encoding)()
    carry = ""  # a trailing "\r" waits for the next piece: it may be half of a "\r\n"
    with path.open("rb") as file:
        while data := file.read(_READ_BYTES):
            checkpoint.tick()
            if encoding != _UTF16 and b"\x00" in data:
                raise ParseError(_BINARY_MESSAGE)
            piece = carry + decoder.decode(data)
            carry = "\r" if piece.endswith("\r") else ""
            yield _normalise_newlines(piece[: len(piece) - len(carry)])
    yield _normalise_newlines(carry + decoder.decode(b"", final=True))


def _text_in(path: Path, encoding: str, checkpoint: Checkpoint) -> str:
    """The whole text in one encoding; over the length limit it fails as soon as it is
    crossed, and (but in UTF-16, which declared itself text by its BOM) text full of
    control characters is binary data with a text extension."""
    limit = checkpoint.limits.max_text_chars
    pieces: list[str] = []
    chars = binary = 0
    for piece in _decoded(path, encoding, checkpoint):
        chars += len(piece)
        if chars > limit:
            over_limit("max_text_chars", chars, "characters of text", checkpoint.limits, more=True)
        binary += len(_BINARY_CHARS.findall(piece))
        pieces.append(piece)
    if encoding != _UTF16 and chars and binary / chars > _BINARY_RATIO:
        raise ParseError(_BINARY_MESSAGE)
    return "".join(pieces)


def read_text(path: Path, checkpoint: Checkpoint) -> str:
    """Decode an uploaded text file, in pieces (see `_decoded`).

    Decision: strict UTF-8 first (BOM stripped, UTF-16 honoured when it has a BOM), then fall
    back to Windows-1252/Latin-1. Legacy Windows exports are common uploads and rejecting them
    would be unfriendly; Latin-1 never fails, so binary data is rejected explicitly instead by
    looking for NUL and other control bytes. A fallback reads the file again from the start.
    """
    with path.open("rb") as file:
        utf16 = file.read(len(_UTF16_BOMS[0])) in _UTF16_BOMS
    if utf16:
        try:
            return _text_in(path, _UTF16, checkpoint)
        except UnicodeDecodeError as exc:
            raise ParseError(
                "The text file is not valid UTF-16 despite its byte-order mark."
            ) from exc
    for encoding in _FALLBACKS[:-1]:
        with contextlib.suppress(UnicodeDecodeError):
            return _text_in(path, encoding, checkpoint)
    return _text_in(path, _FALLBACKS[-1], checkpoint)


def _lines(text: str) -> Iterator[str]:
    """`text.split("\n")`, a bounded region at a time."""
    start = 0
    while (end := text.find("\n", start + _SPLIT_CHARS)) != -1:
        yield from text[start:end].split("\n")
        start = end + 1
    yield from text[start:].split("\n")


def _block(kind: str, content: str) -> Block:
    return Block(type=kind, content=content, page_number=1, bbox=None, confidence=1.0)


def iter_text_blocks(text: str, checkpoint: Checkpoint) -> Iterator[Block]:
    """Plain text (newlines normalised): one block per paragraph, paragraphs separated by
    blank lines; found one at a time, with a checkpoint between them."""
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
    return list(iter_text_blocks(_normalise_newlines(text), Checkpoint()))


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
    """Markdown (newlines normalised): blocks split on blank lines; fenced code is kept whole
    even across blank lines. A checkpoint between lines; blocks come out as soon as they are
    complete."""
    blocks: list[Block] = []
    group: list[str] = []
    fence: list[str] = []
    fence_marker = ""

    def flush_group() -> None:
        if group:
            blocks.extend(_group_blocks(group))
            group.clear()

    for line in _lines(text):
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
    return list(iter_markdown_blocks(_normalise_newlines(text), Checkpoint()))


def iter_text_pages(path: Path, checkpoint: Checkpoint) -> Iterator[Page]:
    for block in iter_text_blocks(read_text(path, checkpoint), checkpoint):
        yield Page(number=1, blocks=[block])


def iter_markdown_pages(path: Path, checkpoint: Checkpoint) -> Iterator[Page]:
    for block in iter_markdown_blocks(read_text(path, checkpoint), checkpoint):
        yield Page(number=1, blocks=[block])
