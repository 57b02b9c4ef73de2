"""The built-in `docket` parse engine: documents -> pages of markdown blocks -> chunks.

Pure, synchronous library code. The Temporal activities drive `iter_pages` one page at a
time (heartbeating in between) and then call `chunk_pages`.
"""

from core.params import ChunkingOptions

from .chunking import (
    chunk_pages,
    chunk_to_dict,
    page_from_dict,
    page_to_dict,
    validate_chunking,
)
from .detect import SUPPORTED_MIME_TYPES, detect_mime_type
from .engine import ENGINE_NAME, iter_pages
from .packing import Interrupted
from .types import BBox, Block, Chunk, Page, ParseError

__all__ = [
    "ENGINE_NAME",
    "SUPPORTED_MIME_TYPES",
    "BBox",
    "Block",
    "Chunk",
    "ChunkingOptions",
    "Interrupted",
    "Page",
    "ParseError",
    "chunk_pages",
    "chunk_to_dict",
    "detect_mime_type",
    "iter_pages",
    "page_from_dict",
    "page_to_dict",
    "validate_chunking",
]
