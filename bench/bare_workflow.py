"""Raw Temporal baselines, run by a worker inside the bench process: a heartbeating activity
(for cancel latency) and a parent fanning out to trivial children (for batch throughput).
They do what Docket's workflows do with nothing of Docket's around it."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

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
        # The same options as ParseWorkflow's parse activity.
        await workflow.execute_activity(
            busy,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(seconds=10),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )


@workflow.defn
class TrivialChild:
    @workflow.run
    async def run(self) -> None:
        return None


@workflow.defn
class FanOutWorkflow:
    """Starts `children` TrivialChild workflows, at most `window` in flight, like
    BatchParseWorkflow does with its ParseWorkflow children (without continue-as-new,
    which a few hundred children do not need)."""

    @workflow.run
    async def run(self, children: int, window: int) -> None:
        in_flight: set[asyncio.Task[None]] = set()
        for n in range(children):
            await workflow.wait_condition(lambda: len(in_flight) < window)
            task = asyncio.create_task(
                workflow.execute_child_workflow(
                    TrivialChild.run, id=f"{workflow.info().workflow_id}-{n}"
                )
            )
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        await workflow.wait_condition(lambda: not in_flight)


@contextlib.asynccontextmanager
async def bare_worker(client: Client, throttle: timedelta | None = None) -> AsyncIterator[str]:
    """A worker for the baselines on a task queue of its own (yielded), with the heartbeat
    throttle Docket's worker uses."""
    queue = f"bench-raw-{uuid.uuid4().hex[:12]}"
    throttles = {}
    if throttle is not None:
        throttles = {
            "max_heartbeat_throttle_interval": throttle,
            "default_heartbeat_throttle_interval": throttle,
        }
    async with Worker(
        client,
        task_queue=queue,
        workflows=[BareWorkflow, TrivialChild, FanOutWorkflow],
        activities=[busy],
        **throttles,  # type: ignore[arg-type]
    ):
        yield queue
