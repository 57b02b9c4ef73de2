"""One document's parse and chunking, run on the worker's single parse thread in turns.

Why one thread: pdfium is serialised by PDFIUM_LOCK and the engine's Python code by the GIL,
so several parse threads cannot parse faster than one; they only contend. Worse, every pdfium
call releases the GIL, and getting it back from another busy thread can take the
interpreter's whole switch interval (5 ms) - hundreds of times per page. So every document
of this process is parsed on one thread, and the event loop hops onto it once per turn
rather than once per page.

Why turns: documents parsed at the same time take turns of about SLICE_SECONDS, so one long
document does not hold up short ones queued behind it. Cancellation does not wait for a
turn to end: the activity sets a flag that the thread checks before every page, so a
cancelled parse stops within one page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

from temporalio import activity

from activities.parsing import (
    ChunkingOptions,
    Page,
    chunk_pages,
    chunk_to_dict,
    iter_pages,
    page_to_dict,
)

# Long enough that the hop onto the thread (~0.1 ms) is noise and that a typical document
# is parsed, chunked and handed back in one turn (so documents finish one after another and
# their results are stored while the next one parses, rather than all at the end), short
# enough that a long document lets the others through several times a second.
SLICE_SECONDS = 0.25

# Module-wide, not per activity: the point is that all parses of the process share it.
_PARSE_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="docket-parse")


class Parsed(NamedTuple):
    page_count: int
    chunks: list[dict[str, Any]]
    chunks_json: str  # json.dumps(chunks), made on the parse thread too: it is CPU work
    pages_json: str  # the pages, stored so that the result can be rechunked


class DocumentParse:
    """The state of one parse. Its methods run on the parse thread only, so the page
    generator is never used by two threads; `cancel` is the one call from the event loop.

    `options` is called once every page has been read, so a document that cannot be read
    fails for that before its chunking parameters are looked at.
    """

    def __init__(self, path: Path, mime_type: str, options: Callable[[], ChunkingOptions]) -> None:
        # Raises ParseError for an unsupported type here, before any thread is involved.
        self._generator: Generator[Page, None, None] = iter_pages(path, mime_type)
        self._options = options
        self._cancelled = threading.Event()
        self.pages: list[Page] = []

    def cancel(self) -> None:
        self._cancelled.set()

    def close(self) -> None:
        """Release the document (pdfium) now rather than at garbage collection."""
        self._generator.close()

    def step(self) -> Parsed | None:
        """Read pages for about one slice, and once the document is exhausted chunk it in
        the same turn; None while pages remain (or when cancelled: it stops before the next
        page)."""
        deadline = time.monotonic() + SLICE_SECONDS
        while not self._cancelled.is_set():
            page = next(self._generator, None)
            if page is None:
                chunks = [chunk_to_dict(c) for c in chunk_pages(self.pages, self._options())]
                pages = json.dumps([page_to_dict(p) for p in self.pages])
                return Parsed(len(self.pages), chunks, json.dumps(chunks), pages)
            self.pages.append(page)
            if time.monotonic() >= deadline:
                return None
        self.close()
        return None

    async def run(self) -> Parsed:
        """Parse and chunk on the parse thread, heartbeating the pages read after each turn.
        Raises what the engine raises (ParseError; ValueError/TypeError for bad options)."""
        loop = asyncio.get_running_loop()
        while (parsed := await loop.run_in_executor(_PARSE_THREAD, self.step)) is None:
            activity.heartbeat(len(self.pages))
        return parsed


@contextlib.asynccontextmanager
async def threaded_parse(
    path: Path, mime_type: str, options: Callable[[], ChunkingOptions]
) -> AsyncIterator[DocumentParse]:
    """A parse on the parse thread that is stopped and released however the block ends.

    Raises ParseError for an unsupported type at entry.
    """
    parse = DocumentParse(path, mime_type, options)
    try:
        yield parse
    finally:
        # On a cancel a turn may still be running: the flag stops it at the next page, and
        # closing is queued behind it on the same thread (a no-op after a finished parse).
        parse.cancel()
        # Only fails while the interpreter shuts down; the generator is then closed when it
        # is garbage collected.
        with contextlib.suppress(RuntimeError):
            _PARSE_THREAD.submit(parse.close)
