"""BatchActivities: the Postgres side of a batch_parse job."""

import asyncio
import time
from typing import Any

import asyncpg
from temporalio import activity

from core.contracts import (
    BatchOutcome,
    ChildPageRequest,
    FinishBatchInput,
    IndexChildRequest,
    JobRef,
    OpenChildrenRequest,
)
from core.metrics import docket_metrics
from db import batch_cancel, batches, jobs

# How often `open_children` re-reads its children while it waits: one primary-key read of
# a window of ids, so a cancelled batch settles within this much of its last child.
SETTLE_POLL_SECONDS = 0.01


class BatchActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @activity.defn
    async def next_pending_children(self, page: ChildPageRequest) -> list[str]:
        """Ids of children still pending, in id order after `after_child_id`. Children
        cancelled individually meanwhile are simply not listed: they never start."""
        return await batches.next_pending(self.pool, page.batch_id, page.after_child_id, page.limit)

    @activity.defn
    async def cancel_pending_children(self, ref: JobRef) -> int:
        return await batch_cancel.cancel_pending_children(self.pool, ref.job_id)

    @activity.defn
    async def open_children(self, req: OpenChildrenRequest) -> list[str]:
        """The children among `child_ids` not yet terminal; with `wait_seconds`, re-read
        until none is or that time has passed."""
        deadline = time.monotonic() + req.wait_seconds
        while True:
            still = await batches.open_children(self.pool, req.batch_id, req.child_ids)
            if not still or time.monotonic() >= deadline:
                return still
            await asyncio.sleep(SETTLE_POLL_SECONDS)

    @activity.defn
    async def index_target(self, ref: JobRef) -> str | None:
        """The vector store the batch indexes its parse results into, if any."""
        return await batches.index_target(self.pool, ref.job_id)

    @activity.defn
    async def add_index_child(self, req: IndexChildRequest) -> bool:
        """True if the parse child has its indexing child (added now or before)."""
        return await batches.add_index_child(
            self.pool, req.batch_id, req.parse_child_id, req.child_id
        )

    @activity.defn
    async def finish_batch(self, inp: FinishBatchInput) -> BatchOutcome:
        """Settle a batch whose children are all terminal, with its counts as the result:
        `cancelled` if the batch itself was cancelled, else from the children's outcomes."""
        moved, status, tally = await batches.finish(
            self.pool, inp.job_id, cancelled=inp.cancelled, reason=inp.reason
        )
        if moved:
            docket_metrics().job_moved(status, await jobs.timing(self.pool, inp.job_id))
        return BatchOutcome(status=status, moved=moved, **tally)

    def all(self) -> list[Any]:
        return [
            self.next_pending_children,
            self.open_children,
            self.index_target,
            self.add_index_child,
            self.cancel_pending_children,
            self.finish_batch,
        ]
