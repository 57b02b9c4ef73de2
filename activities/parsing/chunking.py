"""Chunking strategies: pages of blocks -> retrieval chunks bounded by token counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_args

from core import params as core_params
from core.params import ChunkingOptions, ChunkingStrategy

from .packing import BLOCK_SEPARATOR, Stop, block_segments, check, never, pack, piece_limit
from .tokens import SUPPORTED_ENCODINGS, get_encoding
from .types import BLOCK_HEADING, BBox, Block, Chunk, Page

STRATEGIES: frozenset[str] = frozenset(get_args(ChunkingStrategy))
MIN_CHUNK_SIZE = core_params.MIN_CHUNK_SIZE
MAX_CHUNK_SIZE = core_params.MAX_CHUNK_SIZE


def _is_int(value: object) -> bool:
    # bool is an int subclass, but `chunk_size=True` is a client bug, not a size of 1.
    return isinstance(value, int) and not isinstance(value, bool)


def validate_chunking(options: ChunkingOptions) -> None:
    """Raise ValueError (with a message fit for API users) if the options are unusable.

    The API validates `ChunkingOptions` at its edge; this guards direct library callers and
    options built without validation (`model_construct`)."""
    if options.strategy not in STRATEGIES:
        known = ", ".join(sorted(STRATEGIES))
        raise ValueError(f"Unknown chunking strategy {options.strategy!r}; use one of: {known}.")
    size, overlap = options.chunk_size, options.chunk_overlap
    if not _is_int(size) or not MIN_CHUNK_SIZE <= size <= MAX_CHUNK_SIZE:
        raise ValueError(
            f"chunk_size must be an integer from {MIN_CHUNK_SIZE} to {MAX_CHUNK_SIZE}, "
            f"got {size!r}."
        )
    if not _is_int(overlap) or not 0 <= overlap < size:
        raise ValueError(
            f"chunk_overlap must be an integer from 0 to chunk_size - 1 ({size - 1}), "
            f"got {overlap!r}."
        )
    if options.encoding_name not in SUPPORTED_ENCODINGS:
        known = ", ".join(sorted(SUPPORTED_ENCODINGS))
        raise ValueError(
            f"Unknown encoding_name {options.encoding_name!r}; supported encodings are: {known}."
        )


def _numbered(pages: Sequence[Page]) -> list[tuple[int, Block]]:
    """Every block with its document-wide position, which identifies it across pieces."""
    blocks = (block for page in pages for block in page.blocks)
    return list(enumerate(blocks))


def _sections(numbered: list[tuple[int, Block]]) -> list[list[tuple[int, Block]]]:
    """A new section at each heading; text before the first heading is its own section."""
    sections: list[list[tuple[int, Block]]] = []
    for item in numbered:
        if not sections or item[1].type == BLOCK_HEADING:
            sections.append([])
        sections[-1].append(item)
    return sections


def _by_page(pages: Sequence[Page], stop: Stop) -> list[Chunk]:
    # Exactly one chunk per page with text, regardless of chunk_size: callers choose this
    # strategy to keep page boundaries, e.g. for page-level citations. Empty pages (blank or
    # image-only) yield no chunk because an empty chunk cannot be embedded or searched.
    chunks = []
    for page in pages:
        check(stop)
        if page.blocks:
            content = BLOCK_SEPARATOR.join(block.content for block in page.blocks)
            chunks.append(Chunk(content=content, blocks=list(page.blocks)))
    return chunks


def chunk_pages(pages: Sequence[Page], options: ChunkingOptions, stop: Stop = never) -> list[Chunk]:
    """Split parsed pages into chunks according to `options`.

    token_size: blocks packed into chunks of <= chunk_size tokens, each chunk starting with
        about chunk_overlap tokens from the end of the previous one; a block longer than a
        chunk is cut at token boundaries.
    recursive: like token_size, but oversized blocks are cut at paragraphs, then lines, then
        sentences, and only as a last resort at token boundaries.
    by_page: one chunk per page that has text (chunk_size is not applied).
    by_section: a new chunk at each heading; a section longer than chunk_size continues in
        further chunks (token_size rules) so no chunk exceeds chunk_size.
    Raises ValueError for invalid options, and Interrupted (between blocks and between
    chunks, so within milliseconds) once `stop()` is true.
    """
    validate_chunking(options)
    if options.strategy == "by_page":
        return _by_page(pages, stop)
    encoding = get_encoding(options.encoding_name)
    size, overlap = options.chunk_size, options.chunk_overlap
    limit = piece_limit(size, overlap)
    numbered = _numbered(pages)
    if options.strategy == "by_section":
        chunks: list[Chunk] = []
        for section in _sections(numbered):
            segments = block_segments(section, limit, encoding, recursive=False, stop=stop)
            chunks.extend(pack(segments, size, overlap, encoding, stop=stop))
        return chunks
    recursive = options.strategy == "recursive"
    segments = block_segments(numbered, limit, encoding, recursive=recursive, stop=stop)
    return pack(segments, size, overlap, encoding, whole_overlap=recursive, stop=stop)


def _bbox_dict(block: Block) -> dict[str, float] | None:
    if block.bbox is None:
        return None
    box = block.bbox
    return {"left": box.left, "top": box.top, "width": box.width, "height": box.height}


def _block_dict(block: Block) -> dict[str, Any]:
    return {
        "type": block.type,
        "content": block.content,
        "bbox": _bbox_dict(block),
        "confidence": block.confidence,
        "page_number": block.page_number,
    }


def chunk_to_dict(chunk: Chunk) -> dict[str, object]:
    """The JSON form of a chunk used by the API."""
    return {"content": chunk.content, "blocks": [_block_dict(block) for block in chunk.blocks]}


def page_to_dict(page: Page) -> dict[str, Any]:
    """The stored form of a page (what a rechunk reads back with `page_from_dict`)."""
    return {"number": page.number, "blocks": [_block_dict(block) for block in page.blocks]}


def page_from_dict(stored: dict[str, Any]) -> Page:
    blocks = []
    for block in stored["blocks"]:
        box = block["bbox"]
        blocks.append(
            Block(
                type=block["type"],
                content=block["content"],
                page_number=block["page_number"],
                bbox=None if box is None else BBox(**box),
                confidence=block["confidence"],
            )
        )
    return Page(stored["number"], blocks)
