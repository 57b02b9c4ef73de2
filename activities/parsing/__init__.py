"""The built-in `docket` parse engine: documents -> pages of markdown blocks -> chunks.

Pure, synchronous library code. The Temporal activities drive `iter_pages` one page at a
time (heartbeating in between) and then call `chunk_pages`.
"""

from .chunking import ChunkingOptions, chunk_pages, chunk_to_dict, validate_chunking
from .detect import SUPPORTED_MIME_TYPES, detect_mime_type
from .engine import ENGINE_NAME, iter_pages
from .types import BBox, Block, Chunk, Page, ParseError

__all__ = [
    "ENGINE_NAME",
    "SUPPORTED_MIME_TYPES",
    "BBox",
    "Block",
    "Chunk",
    "ChunkingOptions",
    "Page",
    "ParseError",
    "chunk_pages",
    "chunk_to_dict",
    "detect_mime_type",
    "iter_pages",
    "validate_chunking",
]
