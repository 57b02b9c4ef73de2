"""Keep heartbeats flowing while an activity works, so a cancel reaches it quickly.

Temporal delivers a cancel to an activity only in the answer to a heartbeat, and the SDK
sends at most one heartbeat per throttle interval. A background ticker guarantees a
heartbeat is pending even while a single slow step (one large page) runs in a thread.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from temporalio import activity


@contextlib.asynccontextmanager
async def heartbeating(every: timedelta) -> AsyncIterator[None]:
    async def tick() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(every.total_seconds())

    ticker = asyncio.create_task(tick())
    try:
        yield
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
