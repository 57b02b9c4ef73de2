"""The worker's board of running work, so that a cancel reaches it through Postgres.

A work activity registers how to stop its work while it runs (`watch`); the worker's
notification listener (db/notify.py, channel CANCEL) calls `cancel(job_id)`, which stops it
at once: the work loop stops at its next unit, and the activity settles the job `cancelled`
itself through the fenced statement. Only the worker holding the job finds it here; every
other worker ignores the notification. Temporal's cancel still arrives later (through the
heartbeat) and is idempotent.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

log = logging.getLogger(__name__)

Stop = Callable[[], None]
T = TypeVar("T")


class StoppedByCancel(Exception):
    """The work was stopped by a cancel that came through Postgres (not by Temporal)."""


class CancelBoard:
    def __init__(self) -> None:
        self._running: dict[str, Stop] = {}

    @contextlib.contextmanager
    def watch(self, job_id: str, stop: Stop) -> Iterator[None]:
        """While the block runs, a cancel of `job_id` calls `stop` (from the event loop)."""
        self._running[job_id] = stop
        try:
            yield
        finally:
            self._running.pop(job_id, None)

    def running(self) -> list[str]:
        return list(self._running)

    def cancel(self, job_id: str) -> bool:
        """Stop the job's work if this worker runs it; True if it did."""
        stop = self._running.get(job_id)
        if stop is None:
            return False
        log.info("cancel of job %s reached its worker through Postgres", job_id)
        stop()
        return True


async def watched(board: CancelBoard, job_id: str, work: Coroutine[Any, Any, T]) -> T:
    """Run `work` as a task that a cancel on `board` stops (the task is cancelled: a parse
    subprocess is stopped or killed, a parse thread stops at its next page). Raises
    StoppedByCancel then; a cancel of the caller itself (Temporal's) propagates as usual."""
    task = asyncio.ensure_future(work)
    stopped = False

    def stop() -> None:
        nonlocal stopped
        stopped = True
        task.cancel()

    with board.watch(job_id, stop):
        try:
            return await task
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if stopped and me is not None and me.cancelling() == 0:
                raise StoppedByCancel from None
            raise
