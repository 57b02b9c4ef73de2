"""One document's parse and chunking in turns: `DocumentParse`, run inside a parse
subprocess by activities/parse_pool.py (or on this process's parse thread by
`threaded_parse` without a pool: library use and tests).

Why one thread: pdfium is serialised by PDFIUM_LOCK and the engine's Python code by the GIL,
so several parse threads cannot parse faster than one; they only contend. Worse, every pdfium
call releases the GIL, and getting it back from another busy thread can take the
interpreter's whole switch interval (5 ms) - hundreds of times per page. So every document
of this process is parsed on one thread, and the event loop hops onto it once per turn
rather than once per page.

Why turns: documents parsed at the same time take turns of about SLICE_SECONDS, so one long
document does not hold up short ones queued behind it. Cancellation does not wait for a
turn to end: the activity sets a flag that every reader checks between small units (a
page, paragraph, element, line), so a cancelled parse stops within one unit.
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
from typing import TYPE_CHECKING, Any, NamedTuple

from temporalio import activity

from activities.parsing import (
    ChunkingOptions,
    Interrupted,
    Page,
    chunk_pages,
    chunk_to_dict,
    iter_pages,
    page_to_dict,
)
from activities.parsing.limits import Checkpoint, ParseCancelled, ParseLimits
from activities.parsing.types import OcrOptions
from core.metrics import docket_metrics

if TYPE_CHECKING:  # parse_pool imports this module to run DocumentParse in its processes
    from activities.parse_pool import ParsePool

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
    peak_rss_bytes: int = 0  # of the parse process, when parsed in one (0: unknown)
    ocr_pages: int = 0  # pages whose text was recognised from their image


class DocumentParse:
    """The state of one parse. Its methods run on the parse thread only, so the page
    generator is never used by two threads; `cancel` is the one call from the event loop.

    `options` is called once every page has been read, so a document that cannot be read
    fails for that before its chunking parameters are looked at.
    """

    def __init__(
        self,
        path: Path,
        mime_type: str,
        options: Callable[[], ChunkingOptions],
        limits: ParseLimits | None = None,
        cancelled: Callable[[], bool] | None = None,
        ocr: OcrOptions | None = None,
    ) -> None:
        self._cancelled = threading.Event()
        self._limits = limits or ParseLimits()
        self._stop = self._cancelled.is_set if cancelled is None else cancelled
        self._checkpoint = Checkpoint(self._limits, self._stop, ocr)
        # Raises ParseError for an unsupported type here, before any thread is involved.
        self._generator: Generator[Page, None, None] = iter_pages(path, mime_type, self._checkpoint)
        self._options = options
        self.stopped = False  # set once the parse stopped on a cancel
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
        while not self._stop():
            try:
                page = next(self._generator, None)
                if page is None:
                    return self._chunked()
            except (ParseCancelled, Interrupted):
                break
            self.pages.append(page)
            if time.monotonic() >= deadline:
                return None
        self.stopped = True
        self.close()
        return None

    def _chunked(self) -> Parsed:
        found = chunk_pages(self.pages, self._options(), stop=self._stop)
        chunks = [chunk_to_dict(c) for c in found]
        Checkpoint(self._limits).check("max_chunks", len(chunks), "chunks")
        pages = json.dumps([{**page_to_dict(p), "text_source": p.text_source} for p in self.pages])
        ocr_pages = self._checkpoint.ocr_pages
        chunks_json = json.dumps(chunks)
        # json.dumps escapes non-ASCII, so characters are bytes here.
        stored = len(chunks_json) + len(pages)
        Checkpoint(self._limits).check(
            "max_result_bytes", stored, "of parse result (pages and chunks as JSON)"
        )
        return Parsed(len(self.pages), chunks, chunks_json, pages, ocr_pages=ocr_pages)

    async def run(self) -> Parsed:
        """Parse and chunk on the parse thread, heartbeating the pages read after each turn.
        Raises what the engine raises (ParseError; ValueError/TypeError for bad options)."""
        loop = asyncio.get_running_loop()
        while (parsed := await loop.run_in_executor(_PARSE_THREAD, self.step)) is None:
            activity.heartbeat(len(self.pages))
        return _counted(parsed)


def _counted(parsed: Parsed) -> Parsed:
    docket_metrics().ocr_pages.inc(parsed.ocr_pages)
    return parsed


class _PooledParse:
    """The same `run()` as DocumentParse, done by a ParsePool in a subprocess."""

    def __init__(
        self,
        pool: ParsePool,
        path: Path,
        mime_type: str,
        options: Callable[[], ChunkingOptions],
        ocr_mode: str,
    ) -> None:
        iter_pages(path, mime_type).close()  # an unsupported type fails here, as in-process
        self._pool, self._path, self._mime_type, self._options = pool, path, mime_type, options
        self._ocr_mode = ocr_mode

    async def run(self) -> Parsed:
        parsed = await self._pool.parse(
            self._path,
            self._mime_type,
            self._options,
            on_pages=activity.heartbeat,
            ocr_mode=self._ocr_mode,
        )
        return _counted(parsed)


@contextlib.asynccontextmanager
async def threaded_parse(
    path: Path,
    mime_type: str,
    options: Callable[[], ChunkingOptions],
    pool: ParsePool | None = None,
    ocr_mode: str = "auto",
) -> AsyncIterator[DocumentParse | _PooledParse]:
    """A parse that is stopped and released however the block ends: in a subprocess of
    `pool` (the service), else on this process's parse thread (library use, tests).
    `ocr_mode` is the job's `advanced_options.ocr`.

    Raises ParseError for an unsupported type at entry.
    """
    if pool is not None:
        yield _PooledParse(pool, path, mime_type, options, ocr_mode)
        return
    parse = DocumentParse(path, mime_type, options, ocr=OcrOptions(mode=ocr_mode))
    try:
        yield parse
    finally:
        # On a cancel a turn may still be running: the flag stops it at the next unit, and
        # closing is queued behind it on the same thread (a no-op after a finished parse).
        parse.cancel()
        # Only fails while the interpreter shuts down; the generator is then closed when it
        # is garbage collected.
        with contextlib.suppress(RuntimeError):
            _PARSE_THREAD.submit(parse.close)
