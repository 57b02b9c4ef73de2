"""The fan-out of workflows/fanout.py across continue-as-new, on the time-skipping server:
a child that does not end keeps one slot of the window, never the batch; a cancel reaches
children that earlier runs started. Real child ParseWorkflows, activities mocked by name
(tests/workflows/test_batch_workflow.py's FakeTable)."""

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from core.contracts import BatchOutcome
from core.enums import JobStatus
from tests.helpers import eventually
from tests.workflows.test_batch_workflow import BATCH, FakeTable, run_batch, worker

log = logging.getLogger(__name__)

# The large case of the acceptance point: 500 tiny documents and one that does not end
# while they run, through the default window, continuing as new every 50 children.
TINY = 500
WINDOW = 100
PER_RUN = 50
# The 500 alongside the straggler take about the time they take alone; this leaves room
# for the noise of a shared machine, not for a drained window (that never finishes).
ALONE_RATIO_MAX = 1.5


async def statuses(table: FakeTable) -> dict[str, str]:
    return table.children()


async def started_until(
    env: WorkflowEnvironment,
    table: FakeTable,
    queue: str,
    done: Callable[[dict[str, str]], bool],
    **knobs: int,
) -> WorkflowHandle[Any, Any]:
    """Start the batch; return once `done(children's statuses)`."""
    handle = await run_batch(env, table, queue, **knobs)
    await eventually(lambda: statuses(table), done, within=60)
    return handle


def fresh() -> tuple[FakeTable, str]:
    """A batch of no children yet, and a task queue of its own."""
    return FakeTable(status={BATCH: "pending"}), f"fanout-test-{uuid.uuid4().hex}"


async def test_a_child_that_does_not_end_keeps_one_slot_across_continue_as_new(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    table, queue = fresh()
    slow, *tiny = table.add_children("hold", *["ok"] * 30)
    async with worker(time_skipping_env, table, queue):
        handle = await run_batch(
            time_skipping_env, table, queue, max_concurrency=4, children_per_run=5
        )
        await eventually(
            lambda: statuses(table),
            lambda children: all(children[c] == "succeeded" for c in tiny),
            within=60,
        )
        assert table.children()[slow] == "running"  # still going, several runs later
        table.released = True
        outcome = await handle.result()
        described = await handle.describe()
    assert outcome == BatchOutcome(JobStatus.SUCCEEDED, 31, 31, 0, 0)
    assert described.run_id != handle.first_execution_run_id
    assert table.max_running <= 4  # the carried child counted in every run's window


async def test_cancel_reaches_a_child_started_by_an_earlier_run(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    table, queue = fresh()
    slow, *tiny = table.add_children("block", *["ok"] * 9, "block", "block")
    *done, late_a, late_b = tiny

    def window_full(children: dict[str, str]) -> bool:
        finished = all(children[c] == "succeeded" for c in done)
        return finished and children[late_a] == children[late_b] == "running"

    async with worker(time_skipping_env, table, queue):
        knobs = {"max_concurrency": 3, "children_per_run": 3}
        handle = await started_until(time_skipping_env, table, queue, window_full, **knobs)
        await handle.cancel(reason="enough")
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
        child = time_skipping_env.client.get_workflow_handle(slow)
        await eventually(
            child.describe, lambda d: d.status == WorkflowExecutionStatus.CANCELED, within=30
        )
    children = table.children()
    assert children[slow] == children[late_a] == children[late_b] == "cancelled"
    assert all(children[c] == "succeeded" for c in done)
    assert table.status[BATCH] == "cancelled"


async def _until_tiny_done(
    env: WorkflowEnvironment, table: FakeTable, queue: str, tiny: list[str]
) -> float:
    began = time.perf_counter()
    handle = await run_batch(env, table, queue, max_concurrency=WINDOW, children_per_run=PER_RUN)
    await eventually(
        lambda: statuses(table),
        lambda children: all(children[c] == "succeeded" for c in tiny),
        within=600,
    )
    elapsed = time.perf_counter() - began
    table.released = True
    await handle.result()
    return elapsed


@pytest.mark.slow
async def test_500_tiny_documents_beside_one_that_does_not_end_take_their_own_time(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    alone, queue = fresh()
    alone_tiny = alone.add_children(*["ok"] * TINY)
    beside, _ = fresh()
    _, *beside_tiny = beside.add_children("hold", *["ok"] * TINY)
    async with worker(time_skipping_env, alone, f"{queue}-alone"):
        alone_s = await _until_tiny_done(time_skipping_env, alone, f"{queue}-alone", alone_tiny)
    async with worker(time_skipping_env, beside, f"{queue}-beside"):
        beside_s = await _until_tiny_done(time_skipping_env, beside, f"{queue}-beside", beside_tiny)
    log.info("500 tiny alone %.1f s, beside a straggler %.1f s", alone_s, beside_s)
    assert beside_s <= ALONE_RATIO_MAX * alone_s, (alone_s, beside_s)


async def test_a_batch_with_a_store_indexes_each_parse_result_as_it_succeeds(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    table, queue = fresh()
    table.store = "vs_1"
    slow, bad, *good = table.add_children("hold", "fail", *["ok"] * 6)

    def all_indexed(children: dict[str, str]) -> bool:
        indexed = all(children[c] == "succeeded" for c in table.indexing)
        return indexed and len(table.indexing) == len(good)

    async with worker(time_skipping_env, table, queue):
        # Each good document is indexed while the slow one (carried from the first run)
        # still parses: the window is not drained for it.
        knobs = {"max_concurrency": 3, "children_per_run": 3}
        handle = await started_until(time_skipping_env, table, queue, all_indexed, **knobs)
        assert table.children()[slow] == "running"
        table.released = True
        outcome = await handle.result()
    assert len(table.indexing) == len(good) + 1  # the slow one's too, once it parsed
    assert all(table.status[c] == "succeeded" for c in table.indexing)
    assert table.status[bad] == "failed"
    total = 2 + len(good) + len(table.indexing)
    assert outcome == BatchOutcome(JobStatus.PARTIALLY_SUCCEEDED, total, total - 1, 1, 0)


async def test_cancel_reaches_indexing_children(time_skipping_env: WorkflowEnvironment) -> None:
    table, queue = fresh()
    table.store, table.index_behaviour = "vs_1", "block"
    parsed = table.add_children("ok", "ok")
    async with worker(time_skipping_env, table, queue):
        handle = await run_batch(time_skipping_env, table, queue, max_concurrency=2)
        await eventually(
            lambda: statuses(table),
            lambda children: (
                len(table.indexing) == 2 and all(children[c] == "running" for c in table.indexing)
            ),
        )
        await handle.cancel(reason="enough")
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    assert all(table.status[c] == "succeeded" for c in parsed)
    assert all(table.status[c] == "cancelled" for c in table.indexing)
    assert table.status[BATCH] == "cancelled"
