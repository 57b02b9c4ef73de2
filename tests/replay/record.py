"""Record the event histories that `test_replay.py` replays against the current workflow code.

    .venv/bin/python -m tests.replay.record            # every scenario
    .venv/bin/python -m tests.replay.record NAME ...   # only these

Each scenario runs the real workflows on the time-skipping test server, on a worker built
by `docket.worker.build_worker` (the production worker options), with the activities mocked
by name by the same fakes the workflow tests use. It then saves the execution's history as
`histories/<scenario>.json` (`WorkflowHistory.to_json()`, indented for review).

Record a new history whenever a workflow gains a code path, and keep the old files: they
stand for executions that may still be open in production when the next version deploys.
Never re-record a file to make a failing replay pass — that hides exactly the
nondeterminism the test exists to catch (see deploy/README.md, "Versioning workflows").
"""

import asyncio
import contextlib
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from core.contracts import (
    BatchInput,
    JobInput,
)
from core.settings import get_settings
from docket.embedded import temporal_test_server_path
from docket.worker import build_worker
from tests.helpers import eventually
from tests.workflows.test_batch_workflow import BATCH, FakeTable
from tests.workflows.test_single_job_workflows import FakeJobs
from workflows.batch import BatchParseWorkflow
from workflows.chunk import ChunkWorkflow
from workflows.parse import ParseWorkflow
from workflows.vector_store import VectorStoreWorkflow

HISTORIES = Path(__file__).parent / "histories"

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
    max_concurrency: int = 100,
    children_per_run: int = 500,
) -> Handle:
    queue = f"replay-{uuid.uuid4().hex}"
    activities = table.activities()
    async with build_worker(env.client, get_settings(), activities, task_queue=queue):
        handle = await env.client.start_workflow(
            BatchParseWorkflow.run,
            BatchInput(
                job_id=BATCH,
                heartbeat_timeout_seconds=5,
                max_concurrency=max_concurrency,
                children_per_run=children_per_run,
            ),
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


async def _vector_store(
    env: WorkflowEnvironment,
    name: str,
    table: FakeTable,
    cancel_when: Callable[[dict[str, str]], bool] | None = None,
) -> Handle:
    queue = f"replay-{uuid.uuid4().hex}"
    activities = table.activities()
    async with build_worker(env.client, get_settings(), activities, task_queue=queue):
        handle = await env.client.start_workflow(
            VectorStoreWorkflow.run,
            BatchInput(job_id=BATCH, heartbeat_timeout_seconds=5),
            id=name,
            task_queue=queue,
        )
        if cancel_when is not None:
            await eventually(lambda: asyncio.sleep(0, table.children()), cancel_when)
            await handle.cancel(reason="enough")
        await _settle(handle)
    return handle


async def vector_store_completed(env: WorkflowEnvironment, name: str) -> list[tuple[str, Handle]]:
    # Two parse results indexed, one of them failing: the parent and both children.
    table = FakeTable(status={BATCH: "pending"})
    ok, bad = table.add_children("ok", "fail")
    return [
        (name, await _vector_store(env, name, table)),
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

    return [(name, await _vector_store(env, name, table, window_full))]


async def fanout_batch_indexing(env: WorkflowEnvironment, name: str) -> list[tuple[str, Handle]]:
    # A batch with a vector store: each parse that succeeds is followed by its indexing.
    table = FakeTable(status={BATCH: "pending"}, store="vs_replay")
    table.add_children("ok", "fail", "ok")
    return [(name, await _batch(env, name, table, max_concurrency=2))]


SCENARIOS: dict[str, Scenario] = {
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


async def record(names: list[str]) -> list[Path]:
    HISTORIES.mkdir(exist_ok=True)
    written = []
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server_path()
    )
    try:
        for name in names:
            for file_stem, handle in await SCENARIOS[name](env, name):
                history = await handle.fetch_history()
                path = HISTORIES / f"{file_stem}.json"
                path.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")
                written.append(path)
    finally:
        await env.shutdown()
    return written


def main(argv: list[str]) -> int:
    unknown = set(argv) - set(SCENARIOS)
    if unknown:
        sys.stderr.write(f"unknown scenarios {sorted(unknown)}; known: {sorted(SCENARIOS)}\n")
        return 2
    for path in asyncio.run(record(argv or list(SCENARIOS))):
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: the Temporal runtime's Rust threads can abort a finalizing
    # interpreter ("PyGILState_Release ... must be current", temporalio/sdk-python#300),
    # which would turn a successful recording into exit code 134.
    os._exit(code)
