"""BatchActivities: the Postgres side of a batch_parse job."""

from typing import Any

import asyncpg
from temporalio import activity

from core.contracts import (
    BatchOutcome,
    ChildPageRequest,
    FinishBatchInput,
    JobRef,
)
from core.metrics import docket_metrics
from db import batches, jobs


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
        return await batches.cancel_pending_children(self.pool, ref.job_id)

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
        return [self.next_pending_children, self.cancel_pending_children, self.finish_batch]
