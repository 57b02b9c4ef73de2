"""BatchParseWorkflow on the time-skipping server: real child ParseWorkflows, every
activity mocked by name over an in-memory job table."""

import asyncio
import time
import uuid
from dataclasses import dataclass, field

import pytest
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.contracts import (
    PARSE_ERROR_TYPE,
    BatchInput,
    BatchOutcome,
    CancelJobInput,
    ChildPageRequest,
    FailJobInput,
    FinishBatchInput,
    IndexChildRequest,
    JobRef,
    OpenChildrenRequest,
    ResultOutcome,
)
from core.enums import JobStatus
from tests.helpers import eventually
from workflows.batch import BatchParseWorkflow
from workflows.parse import ParseWorkflow
from workflows.vector_store import IndexResultWorkflow

BATCH = "job_batch"


@dataclass
class FakeTable:
    """Jobs by id, with the state machine's compare-and-set semantics."""

    status: dict[str, str] = field(default_factory=dict)
    # child id → ok | fail | block (until cancelled) | hold (until `released`)
    behaviour: dict[str, str] = field(default_factory=dict)
    started_ever: set[str] = field(default_factory=set)
    max_running: int = 0
    released: bool = False
    store: str | None = None  # the vector store the batch indexes into
    indexing: set[str] = field(default_factory=set)  # indexing children (not paged)
    index_behaviour: str = "ok"  # of every indexing child: ok | block

    def add_children(self, *behaviours: str) -> list[str]:
        ids = [f"job_{n:04d}" for n in range(len(self.status), len(self.status) + len(behaviours))]
        for child_id, how in zip(ids, behaviours, strict=True):
            self.status[child_id], self.behaviour[child_id] = "pending", how
        return ids

    def move(self, job_id: str, frm: set[str], to: str) -> bool:
        if self.status[job_id] not in frm:
            return False
        self.status[job_id] = to
        running = sum(s == "running" for k, s in self.status.items() if k != BATCH)
        self.max_running = max(self.max_running, running)
        return True

    def children(self) -> dict[str, str]:
        return {k: v for k, v in self.status.items() if k != BATCH}

    def activities(self) -> list[object]:
        @activity.defn(name="start_job")
        async def start_job(ref: JobRef) -> bool:
            moved = self.move(ref.job_id, {"pending"}, "running")
            if moved:
                self.started_ever.add(ref.job_id)
            return moved or self.status[ref.job_id] == "running"

        @activity.defn(name="parse_document")
        async def parse_document(ref: JobRef) -> ResultOutcome:
            how = self.behaviour[ref.job_id]
            if how == "fail":
                raise ApplicationError("corrupt", type=PARSE_ERROR_TYPE, non_retryable=True)
            while how == "block" or (how == "hold" and not self.released):
                activity.heartbeat()
                await asyncio.sleep(0.02)
            return ResultOutcome(succeeded=self.move(ref.job_id, {"running"}, "succeeded"))

        @activity.defn(name="cancel_job")
        async def cancel_job(inp: CancelJobInput) -> bool:
            return self.move(inp.job_id, {"pending", "running"}, "cancelled")

        @activity.defn(name="next_pending_children")
        async def next_pending_children(page: ChildPageRequest) -> list[str]:
            children = self.children().items()
            pending = sorted(k for k, s in children if s == "pending" and k not in self.indexing)
            return [k for k in pending if k > page.after_child_id][: page.limit]

        @activity.defn(name="open_children")
        async def open_children(req: OpenChildrenRequest) -> list[str]:
            deadline = time.monotonic() + req.wait_seconds
            while True:
                still = [c for c in req.child_ids if self.status[c] in ("pending", "running")]
                if not still or time.monotonic() >= deadline:
                    return still
                await asyncio.sleep(0.01)

        @activity.defn(name="cancel_pending_children")
        async def cancel_pending_children(ref: JobRef) -> int:
            pending = [k for k, s in self.children().items() if s == "pending"]
            for child_id in pending:
                self.move(child_id, {"pending"}, "cancelled")
            return len(pending)

        @activity.defn(name="finish_batch")
        async def finish_batch(inp: FinishBatchInput) -> BatchOutcome:
            values = list(self.children().values())
            tally = {s: values.count(s) for s in ("succeeded", "failed", "cancelled")}
            if inp.cancelled:
                final = "cancelled"
            elif tally["succeeded"] == len(values):
                final = "succeeded"
            else:
                final = "partially_succeeded" if tally["succeeded"] else "failed"
            self.move(BATCH, {"running"}, final)
            return BatchOutcome(status=JobStatus(final), total=len(values), **tally)

        return [
            start_job,
            parse_document,
            cancel_job,
            self.failing("fail_job"),
            next_pending_children,
            open_children,
            cancel_pending_children,
            finish_batch,
            *self.indexing_activities(),
        ]

    def indexing_activities(self) -> list[object]:
        """A vector_store job's activities (and a batch's that indexes), mocked by name."""

        @activity.defn(name="index_target")
        async def index_target(ref: JobRef) -> str | None:
            return self.store

        @activity.defn(name="add_index_child")
        async def add_index_child(req: IndexChildRequest) -> bool:
            parsed = self.status[req.parse_child_id] == "succeeded"
            if self.store and parsed and req.parse_child_id not in self.indexing:
                self.indexing.add(req.child_id)
                self.status.setdefault(req.child_id, "pending")
                self.behaviour.setdefault(req.child_id, self.index_behaviour)
            return req.child_id in self.status

        @activity.defn(name="index_result")
        async def index_result(ref: JobRef) -> ResultOutcome:
            self.move(ref.job_id, {"pending"}, "running")
            if self.behaviour[ref.job_id] == "fail":
                raise ApplicationError("no chunks to index", non_retryable=True)
            try:
                while self.behaviour[ref.job_id] == "block":
                    activity.heartbeat()
                    await asyncio.sleep(0.02)
            except asyncio.CancelledError:  # as the real one: it settles its child itself
                self.move(ref.job_id, {"running"}, "cancelled")
                raise
            return ResultOutcome(succeeded=self.move(ref.job_id, {"running"}, "succeeded"))

        @activity.defn(name="cancel_open_children")
        async def cancel_open_children(inp: CancelJobInput) -> int:
            return sum(self.move(c, {"pending", "running"}, "cancelled") for c in self.children())

        fail_result = self.failing("fail_result")
        return [index_target, add_index_child, index_result, fail_result, cancel_open_children]

    def failing(self, name: str) -> object:
        """The activity `name` that records its job `failed`."""

        @activity.defn(name=name)
        async def fail(inp: FailJobInput) -> bool:
            return self.move(inp.job_id, {"pending", "running"}, "failed")

        return fail


@pytest.fixture
def table() -> FakeTable:
    return FakeTable(status={BATCH: "pending"})


async def run_batch(
    env: WorkflowEnvironment, table: FakeTable, queue: str, **knobs: int
) -> WorkflowHandle[BatchParseWorkflow, BatchOutcome | None]:
    return await env.client.start_workflow(
        BatchParseWorkflow.run,
        BatchInput(job_id=BATCH, heartbeat_timeout_seconds=5, **knobs),
        id=f"{BATCH}-{uuid.uuid4().hex}",
        task_queue=queue,
    )


def worker(env: WorkflowEnvironment, table: FakeTable, queue: str) -> Worker:
    return Worker(
        env.client,
        task_queue=queue,
        workflows=[BatchParseWorkflow, ParseWorkflow, IndexResultWorkflow],
        activities=table.activities(),
    )


@pytest.fixture
def queue() -> str:
    return f"batch-test-{uuid.uuid4().hex}"


async def test_fan_out_completes_within_the_window(
    time_skipping_env: WorkflowEnvironment, table: FakeTable, queue: str
) -> None:
    table.add_children(*["ok"] * 12)
    async with worker(time_skipping_env, table, queue):
        handle = await run_batch(time_skipping_env, table, queue, max_concurrency=3)
        outcome = await handle.result()
    assert outcome == BatchOutcome(JobStatus.SUCCEEDED, 12, 12, 0, 0)
    assert 1 <= table.max_running <= 3


async def test_mixed_outcomes_are_partially_succeeded(
    time_skipping_env: WorkflowEnvironment, table: FakeTable, queue: str
) -> None:
    table.add_children("ok", "fail", "ok", "fail")
    async with worker(time_skipping_env, table, queue):
        outcome = await (await run_batch(time_skipping_env, table, queue)).result()
    assert outcome == BatchOutcome(JobStatus.PARTIALLY_SUCCEEDED, 4, 2, 2, 0)


async def test_continue_as_new_keeps_going_from_the_last_child(
    time_skipping_env: WorkflowEnvironment, table: FakeTable, queue: str
) -> None:
    table.add_children(*["ok"] * 10)
    async with worker(time_skipping_env, table, queue):
        handle = await run_batch(
            time_skipping_env, table, queue, children_per_run=3, max_concurrency=2
        )
        outcome = await handle.result()
        described = await handle.describe()
    assert outcome == BatchOutcome(JobStatus.SUCCEEDED, 10, 10, 0, 0)
    assert described.run_id != handle.first_execution_run_id  # it did continue as new
    assert table.started_ever - {BATCH} == set(table.children())


async def test_cancel_settles_running_and_pending_children(
    time_skipping_env: WorkflowEnvironment, table: FakeTable, queue: str
) -> None:
    ids = table.add_children("ok", "block", "block", "block", "block", "block")
    async with worker(time_skipping_env, table, queue):
        handle = await run_batch(time_skipping_env, table, queue, max_concurrency=3)
        # children start in id order: the first succeeds, the next three block and fill
        # the window, the last two wait
        await eventually(
            lambda: asyncio.sleep(0, table.children()),
            lambda children: (
                list(children.values()).count("running") == 3 and children[ids[0]] == "succeeded"
            ),
        )
        await handle.cancel(reason="enough")
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
    children = table.children()
    assert children[ids[0]] == "succeeded"
    assert all(children[i] == "cancelled" for i in ids[1:])
    assert table.status[BATCH] == "cancelled"
    assert table.started_ever - {BATCH} == set(ids[:4])  # the pending ones never started


async def test_cancel_before_start_touches_nothing(
    time_skipping_env: WorkflowEnvironment, table: FakeTable, queue: str
) -> None:
    table.add_children("ok", "ok")
    table.status[BATCH] = "cancelled"  # the API cancelled the pending batch and children
    for child_id in table.children():
        table.status[child_id] = "cancelled"
    async with worker(time_skipping_env, table, queue):
        outcome = await (await run_batch(time_skipping_env, table, queue)).result()
    assert outcome is None
    assert not table.started_ever
