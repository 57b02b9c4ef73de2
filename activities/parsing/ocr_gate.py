"""The OCR gate between a parse process and its pool (activities/parse_pool.py).

Whether a document needs OCR is only known once its pages are read (`auto` looks at each
PDF page), so the parse process asks its parent before its first OCR'd page and waits for
the answer. The parent holds the places (an asyncio semaphore of DOCKET_OCR_CONCURRENCY):
a parse process that is killed mid-OCR cannot leak one, because its parent releases it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from multiprocessing.connection import Connection

ASK = "ocr"  # the message a parse process sends to ask for a place


def ask(conn: Connection, gate: Connection) -> None:
    """In the parse process: ask for an OCR place on `conn`, wait for it on `gate`."""
    conn.send((ASK,))
    gate.recv()


class OcrPlaces:
    """At most `places` documents OCR at once; made in the event loop that uses it."""

    def __init__(self, places: int) -> None:
        self._semaphore = asyncio.Semaphore(places)

    @contextlib.asynccontextmanager
    async def for_document(self, gate: Connection) -> AsyncIterator[Callable[[], Awaitable[None]]]:
        """`grant()`: wait for a place and tell the process on `gate`; the place is held
        until the block ends (the process is gone by then)."""
        held = False

        async def grant() -> None:
            nonlocal held
            await self._semaphore.acquire()
            held = True
            gate.send(True)

        try:
            yield grant
        finally:
            if held:
                self._semaphore.release()
