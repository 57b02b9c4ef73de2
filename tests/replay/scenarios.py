"""The scenarios `record.py` records: each runs real workflows on the time-skipping test
server, on a worker `docket.worker.build_worker` builds, with the activities mocked by name
by the fakes the workflow tests use, and answers the executions whose histories to save
(file stem, handle)."""

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from core.contracts import (
    BatchInput,
    JobInput,
)
from core.settings import get_settings
from docket.worker import build_worker
from tests.helpers import eventually
from tests.workflows.test_batch_workflow import BATCH, FakeTable
from tests.workflows.test_single_job_workflows import FakeJobs
from workflows.batch import BatchParseWorkflow
from workflows.chunk import ChunkWorkflow
from workflows.parse import ParseWorkflow
from workflows.vector_store import VectorStoreWorkflow

Handle = WorkflowHandle[Any, Any]
Scenario = Callable[[WorkflowEnvironment, str], Awaitable[list[tuple[str, Handle]]]]


async def _settle(handle: Handle) -> None:
    """Wait for the execution to close, whatever its outcome."""
    with contextlib.suppress(WorkflowFailureError):  # failed and cancelled ones count too
        await handle.result()


async def _parse(env: WorkflowEnvironment, name: str, fake: FakeJobs, cancel: bool) -> Handle:
    queue = f"replay-{uuid.uuid4().hex}"
    async with build_worker(env.client, get_settings(), fake.activities(), task_queue=queue):
        run = ChunkWorkflow.run if fake.work == "rechunk" else ParseWorkflow.run
        handle = await env.client.start_workflow(
            run,  # type: ignore[arg-type]
            JobInput(job_id=name, heartbeat_timeout_seconds=2),
            id=name,
            task_queue=queue,
        )
        if cancel:
            await asyncio.wait_for(fake.parse_started.wait(), timeout=30)
            await handle.cancel(reason="user asked")
        await _settle(handle)
    return handle


async def parse_succeeded(env: WorkflowEnvironment, name: str) -> list[tuple[str, Handle]]:
    return [(name, await _parse(env, name, FakeJobs(), cancel=False))]


async def parse_failed(env: WorkflowEnvironment, name: str) -> list[tuple[str, Handle]]:
    return [(name, await _parse(env, name, FakeJobs(parse_mode="fail"), cancel=False))]


async def parse_cancelled_while_parsing(
    env: WorkflowEnvironment, name: str
) -> list[tuple[str, Handle]]:
    return [(name, await _parse(env, name, FakeJobs(parse_mode="block"), cancel=True))]


async def chunk_succeeded(env: WorkflowEnvironment, name: str) -> list[tuple[str, Handle]]:
    return [(name, await _parse(env, name, FakeJobs(work="rechunk"), cancel=False))]


async def chunk_cancelled_while_chunking(
    env: WorkflowEnvironment, name: str
) -> list[tuple[str, Handle]]:
    fake = FakeJobs(work="rechunk", parse_mode="block")
    return [(name, await _parse(env, name, fake, cancel=True))]


async def _batch(
    env: WorkflowEnvironment,
    name: str,
    table: FakeTable,
    cancel_when: Callable[[dict[str, str]], bool] | None = None,
    *,
    release_when: Callable[[dict[str, str]], bool] | None = None,
    run: Callable[[Any, BatchInput], Awaitable[Any]] = BatchParseWorkflow.run,
    **knobs: int,
) -> Handle:
    """A job with children (BatchParseWorkflow or VectorStoreWorkflow `run`), its BatchInput
    `knobs` (max_concurrency, children_per_run) as given."""
    queue = f"replay-{uuid.uuid4().hex}"
    activities = table.activities()
    async with build_worker(env.client, get_settings(), activities, task_queue=queue):
        handle = await env.client.start_workflow(
            run,
            BatchInput(job_id=BATCH, heartbeat_timeout_seconds=5, **knobs),  # type: ignore[arg-type]
            id=name,
            task_queue=queue,
        )
        if cancel_when is not None:
            await eventually(lambda: asyncio.sleep(0, table.children()), cancel_when)
            await handle.cancel(reason="enough")
        if release_when is not None:
            await eventually(lambda: asyncio.sleep(0, table.children()), release_when)
            table.released = True
        await _settle(handle)
    return handle


async def batch_completed(env: WorkflowEnvironment, name: str) -> list[tuple[str, Handle]]:
    # Mixed outcomes (one child fails) through a window smaller than the batch.
    table = FakeTable(status={BATCH: "pending"})
    table.add_children("ok", "fail", "ok", "ok")
    return [(name, await _batch(env, name, table, max_concurrency=2))]


async def batch_continued_as_new(env: WorkflowEnvironment, name: str) -> list[tuple[str, Handle]]:
    # Two runs: the first ends in ContinuedAsNew, the second resumes with started=True.
    table = FakeTable(status={BATCH: "pending"})
    table.add_children("ok", "ok", "ok")
    handle = await _batch(env, name, table, max_concurrency=2, children_per_run=2)
    # The handle follows the chain to its last run; the first run needs its own handle.
    first = env.client.get_workflow_handle(name, run_id=handle.first_execution_run_id)
    return [(f"{name}_run1", first), (f"{name}_run2", handle)]


async def batch_cancelled(env: WorkflowEnvironment, name: str) -> list[tuple[str, Handle]]:
    # Cancelled with one child done, three running (the window) and two never started.
    table = FakeTable(status={BATCH: "pending"})
    ids = table.add_children("ok", "block", "block", "block", "block", "block")

    def window_full(children: dict[str, str]) -> bool:
        running = list(children.values()).count("running")
        return running == 3 and children[ids[0]] == "succeeded"

    return [(name, await _batch(env, name, table, cancel_when=window_full, max_concurrency=3))]


async def fanout_carried_across_continue_as_new(
    env: WorkflowEnvironment, name: str
) -> list[tuple[str, Handle]]:
    # A child still running when its run continues as new: the next run carries it in its
    # window (polling its row), starts the rest, and finishes once it ends.
    table = FakeTable(status={BATCH: "pending"})
    slow, *_ = table.add_children("hold", "ok", "ok", "ok")

    def the_rest_is_done(children: dict[str, str]) -> bool:
        return all(status == "succeeded" for child, status in children.items() if child != slow)

    handle = await _batch(
        env, name, table, release_when=the_rest_is_done, max_concurrency=2, children_per_run=2
    )
    first = env.client.get_workflow_handle(name, run_id=handle.first_execution_run_id)
    return [(f"{name}_run1", first), (f"{name}_last", handle)]


async def fanout_cancelled_with_carried(
    env: WorkflowEnvironment, name: str
) -> list[tuple[str, Handle]]:
    # Cancelled in its second run: one child carried from the first run and one of its own
    # running (the window), one never started.
    table = FakeTable(status={BATCH: "pending"})
    slow, ok, late, _never = table.add_children("block", "ok", "block", "block")

    def window_full(children: dict[str, str]) -> bool:
        return children[ok] == "succeeded" and children[slow] == children[late] == "running"

    handle = await _batch(
        env, name, table, cancel_when=window_full, max_concurrency=2, children_per_run=2
    )
    return [(name, handle)]


async def vector_store_completed(env: WorkflowEnvironment, name: str) -> list[tuple[str, Handle]]:
    # Two parse results indexed, one of them failing: the parent and both children.
    table = FakeTable(status={BATCH: "pending"})
    ok, bad = table.add_children("ok", "fail")
    return [
        (name, await _batch(env, name, table, run=VectorStoreWorkflow.run)),
        (f"{name}_child_ok", env.client.get_workflow_handle(ok)),
        (f"{name}_child_failed", env.client.get_workflow_handle(bad)),
    ]


async def fanout_vector_store_cancelled(
    env: WorkflowEnvironment, name: str
) -> list[tuple[str, Handle]]:
    # Cancelled with one parse result indexed and two indexing (the window of 2).
    table = FakeTable(status={BATCH: "pending"})
    ok, *blocked = table.add_children("ok", "block", "block")

    def window_full(children: dict[str, str]) -> bool:
        return children[ok] == "succeeded" and all(children[c] == "running" for c in blocked)

    return [(name, await _batch(env, name, table, window_full, run=VectorStoreWorkflow.run))]


async def fanout_batch_indexing(env: WorkflowEnvironment, name: str) -> list[tuple[str, Handle]]:
    # A batch with a vector store: each parse that succeeds is followed by its indexing.
    table = FakeTable(status={BATCH: "pending"}, store="vs_replay")
    table.add_children("ok", "fail", "ok")
    return [(name, await _batch(env, name, table, max_concurrency=2))]


# The same scenario recorded again under a new name once its commands changed (behind a
# `workflow.patched` marker): the old file keeps standing for executions of the old code.
RERECORDED: dict[str, Scenario] = {
    "fanout_steady_poll_carried": fanout_carried_across_continue_as_new,
    "fanout_steady_poll_cancelled_with_carried": fanout_cancelled_with_carried,
}
SCENARIOS: dict[str, Scenario] = RERECORDED | {
    scenario.__name__: scenario
    for scenario in (
        parse_succeeded,
        parse_failed,
        parse_cancelled_while_parsing,
        chunk_succeeded,
        chunk_cancelled_while_chunking,
        vector_store_completed,
        batch_completed,
        batch_continued_as_new,
        batch_cancelled,
        fanout_carried_across_continue_as_new,
        fanout_cancelled_with_carried,
        fanout_vector_store_cancelled,
        fanout_batch_indexing,
    )
}
