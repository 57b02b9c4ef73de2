"""ChunkActivities: re-chunk the stored pages of a parse result into a new parse result.

Never re-parses the document. Chunking is CPU work, so it runs on a thread of its own, and
checks a cancel flag between blocks and between chunks: a cancel (delivered by the
heartbeat) stops it within milliseconds, and `cancelled` then means the work has stopped.
"""

import asyncio
import contextlib
import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import asyncpg
from temporalio import activity

from activities.cancels import CancelBoard
from activities.heartbeat import heartbeating
from activities.jobs import settle_cancelled
from activities.parsing import Interrupted, chunk_pages, chunk_to_dict, page_from_dict
from activities.results import store_result
from core.contracts import JobRef, ResultOutcome
from core.enums import JobStatus
from core.ids import IdPrefix, new_id
from core.params import RechunkParameters
from db import results

RECHUNK_STEP = "Rechunk"
_DECODER = json.JSONDecoder()
_GAP = re.compile(r"[\s,]*")


def json_array_items(text: str, stop: threading.Event) -> Iterator[Any]:
    """The items of a JSON array, decoded one at a time so that a cancel is seen between
    them: one `json.loads` of a 10,000-page result is a few hundred milliseconds that no
    flag can interrupt. Raises Interrupted once `stop` is set."""
    at = _past_gap(text, text.index("[") + 1)
    while text[at] != "]":
        if stop.is_set():
            raise Interrupted
        item, at = _DECODER.raw_decode(text, at)
        at = _past_gap(text, at)
        yield item


def _past_gap(text: str, at: int) -> int:
    """The position after the whitespace and commas at `at` (the pattern matches empty)."""
    gap = _GAP.match(text, at)
    return at if gap is None else gap.end()


class ChunkActivities:
    def __init__(
        self, pool: asyncpg.Pool, heartbeat_every: timedelta, board: CancelBoard | None = None
    ) -> None:
        self.pool = pool
        self.heartbeat_every = heartbeat_every
        self.board = board or CancelBoard()
        # One chunking thread per worker process: chunking is pure Python, so more threads
        # would only contend for the GIL with the event loop.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="docket-chunk")

    @activity.defn
    async def rechunk(self, ref: JobRef) -> ResultOutcome:
        item = await results.chunk_item(self.pool, ref.job_id)
        if item is None or item.status is not JobStatus.RUNNING:
            return ResultOutcome(succeeded=False)
        # Validated at the API's edge; a row that fails here is a bug (retried, logged).
        options = RechunkParameters.model_validate(item.parameters).chunking_options
        began = time.monotonic()
        stop = threading.Event()

        def work() -> tuple[int, list[dict[str, Any]], str]:
            # Decoding thousands of pages is CPU work too: on this thread, not the loop.
            pages = [page_from_dict(page) for page in json_array_items(item.pages_json, stop)]
            chunks = [chunk_to_dict(c) for c in chunk_pages(pages, options, stop.is_set)]
            return len(pages), chunks, json.dumps(chunks)

        async with heartbeating(self.heartbeat_every):
            future = asyncio.get_running_loop().run_in_executor(self._thread, work)
            try:
                with self.board.watch(ref.job_id, stop.set):
                    page_count, chunks, chunks_json = await asyncio.shield(future)
            except Interrupted:
                # A cancel that came through Postgres (the board): the work has stopped.
                await settle_cancelled(self.pool, ref.job_id)
                return ResultOutcome(succeeded=False, cancelled=True)
            except asyncio.CancelledError:
                # Acknowledge the cancel only once the thread has stopped (at its next block
                # or chunk), so that `cancelled` means the work has stopped.
                stop.set()
                with contextlib.suppress(Interrupted):
                    await future
                raise
            document = results.ParsedDocument(
                result_id=new_id(IdPrefix.PARSE_RESULT),
                engine=item.engine,
                page_count=page_count,
                chunks=chunks,
                chunks_json=chunks_json,
                pages_json=item.pages_json,
                parse_ms=int((time.monotonic() - began) * 1000),
                work_step=RECHUNK_STEP,
                source_result_id=item.result_id,
                source_document_id=item.source_document_id,
            )
            return await store_result(self.pool, ref.job_id, document)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._thread.shutdown(wait=False, cancel_futures=True)

    def all(self) -> list[Any]:
        return [self.rechunk]
