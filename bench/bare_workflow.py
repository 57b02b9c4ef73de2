"""The raw Temporal baseline for cancel latency: one heartbeating activity, nothing else."""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow

PAGE_SECONDS = 0.025  # about one page of a dense PDF between heartbeats


@activity.defn
async def busy() -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(PAGE_SECONDS)


@workflow.defn
class BareWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            busy,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(seconds=10),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
