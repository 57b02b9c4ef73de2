"""The single-job workflows (ParseWorkflow, ChunkWorkflow) on the time-skipping test
server, their activities mocked by name. Every test runs for each: they share the job
kernel's life (workflows/job.py) and differ only in their work activity."""

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.contracts import (
    PARSE_ERROR_TYPE,
    CancelJobInput,
    FailJobInput,
    JobInput,
    JobRef,
    ResultOutcome,
)
from workflows.chunk import ChunkWorkflow
from workflows.parse import ParseWorkflow

# (workflow, the name of its work activity)
SINGLE_JOB_WORKFLOWS = [(ParseWorkflow, "parse_document"), (ChunkWorkflow, "rechunk")]


@dataclass
class FakeJobs:
    """Records what the workflow asked its activities to do."""

    calls: list[str] = field(default_factory=list)
    parse_started: asyncio.Event = field(default_factory=asyncio.Event)
    parse_saw_cancel: bool = False
    parse_mode: str = "succeed"  # succeed | block | fail
    start_allowed: bool = True
    work: str = "parse_document"  # the name of the workflow's work activity

    def activities(self) -> list[object]:
        @activity.defn(name="start_job")
        async def start_job(ref: JobRef) -> bool:
            self.calls.append("start_job")
            return self.start_allowed

        @activity.defn(name=self.work)
        async def parse_document(ref: JobRef) -> ResultOutcome:
            self.calls.append(self.work)
            self.parse_started.set()
            if self.parse_mode == "fail":
                raise ApplicationError("not a PDF", type=PARSE_ERROR_TYPE, non_retryable=True)
            if self.parse_mode == "block":
                try:
                    while True:
                        activity.heartbeat()
                        await asyncio.sleep(0.05)
                except asyncio.CancelledError:
                    self.parse_saw_cancel = True
                    raise
            return ResultOutcome(succeeded=True, parse_result_id="pres_x", page_count=1)

        @activity.defn(name="cancel_job")
        async def cancel_job(inp: CancelJobInput) -> bool:
            self.calls.append("cancel_job")
            return True

        @activity.defn(name="fail_job")
        async def fail_job(inp: FailJobInput) -> bool:
            self.calls.append(f"fail_job:{inp.error}")
            return True

        return [start_job, parse_document, cancel_job, fail_job]


@pytest.fixture(params=SINGLE_JOB_WORKFLOWS, ids=lambda p: p[0].__name__)
def workflow_class(request: pytest.FixtureRequest) -> tuple[type, str]:
    pair: tuple[type, str] = request.param
    return pair


@pytest.fixture
async def fake(workflow_class: tuple[type, str]) -> FakeJobs:
    return FakeJobs(work=workflow_class[1])


@pytest.fixture
def queue() -> str:
    return f"wf-test-{uuid.uuid4().hex}"


def worker_for(env: WorkflowEnvironment, fake: FakeJobs, queue: str) -> Worker:
    workflow = ChunkWorkflow if fake.work == "rechunk" else ParseWorkflow
    return Worker(env.client, task_queue=queue, workflows=[workflow], activities=fake.activities())


async def start(env: WorkflowEnvironment, queue: str, work: str) -> WorkflowHandle[Any, Any]:
    job_id = f"job_{uuid.uuid4().hex}"
    run = ChunkWorkflow.run if work == "rechunk" else ParseWorkflow.run
    return await env.client.start_workflow(
        run,  # type: ignore[arg-type]
        JobInput(job_id=job_id, heartbeat_timeout_seconds=2),
        id=job_id,
        task_queue=queue,
    )


async def expect_cancelled(handle: WorkflowHandle[Any, Any]) -> None:
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert isinstance(failure.value.cause, CancelledError)
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED


async def test_success_runs_start_then_parse(
    time_skipping_env: WorkflowEnvironment, fake: FakeJobs, queue: str
) -> None:
    async with worker_for(time_skipping_env, fake, queue):
        handle = await start(time_skipping_env, queue, fake.work)
        assert await handle.result() == "succeeded"
    assert fake.calls == ["start_job", fake.work]


async def test_cancel_before_start_does_no_work(
    time_skipping_env: WorkflowEnvironment, fake: FakeJobs, queue: str
) -> None:
    handle = await start(time_skipping_env, queue, fake.work)  # no worker yet: nothing can run
    await handle.cancel()
    async with worker_for(time_skipping_env, fake, queue):
        await expect_cancelled(handle)
    assert fake.work not in fake.calls
    assert fake.calls[-1] == "cancel_job"


async def test_job_cancelled_in_postgres_before_start_is_skipped(
    time_skipping_env: WorkflowEnvironment, fake: FakeJobs, queue: str
) -> None:
    fake.start_allowed = False  # the API already moved the row pending → cancelled
    async with worker_for(time_skipping_env, fake, queue):
        handle = await start(time_skipping_env, queue, fake.work)
        assert await handle.result() == "not_started"
    assert fake.calls == ["start_job"]


async def test_cancel_while_parsing_stops_the_activity_first(
    time_skipping_env: WorkflowEnvironment, fake: FakeJobs, queue: str
) -> None:
    fake.parse_mode = "block"
    async with worker_for(time_skipping_env, fake, queue):
        handle = await start(time_skipping_env, queue, fake.work)
        await asyncio.wait_for(fake.parse_started.wait(), timeout=30)
        await handle.cancel(reason="user asked")
        await expect_cancelled(handle)
    # The activity observed the cancel (through its heartbeat) before the job was marked.
    assert fake.parse_saw_cancel
    assert fake.calls == ["start_job", fake.work, "cancel_job"]


async def test_cancel_after_completion_changes_nothing(
    time_skipping_env: WorkflowEnvironment, fake: FakeJobs, queue: str
) -> None:
    async with worker_for(time_skipping_env, fake, queue):
        handle = await start(time_skipping_env, queue, fake.work)
        assert await handle.result() == "succeeded"
        await handle.cancel()  # Temporal accepts it: a closed workflow ignores cancels
        assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    assert "cancel_job" not in fake.calls


async def test_parse_failure_fails_job_without_retry(
    time_skipping_env: WorkflowEnvironment, fake: FakeJobs, queue: str
) -> None:
    fake.parse_mode = "fail"
    async with worker_for(time_skipping_env, fake, queue):
        handle = await start(time_skipping_env, queue, fake.work)
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert isinstance(failure.value.cause, ApplicationError)
    assert "not a PDF" in failure.value.cause.message
    assert fake.calls == ["start_job", fake.work, "fail_job:not a PDF"]
