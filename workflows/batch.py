"""BatchParseWorkflow: one batch_parse job fanned out to one ParseWorkflow per document.

- Bounded concurrency: at most `max_concurrency` children in flight (well under Temporal's
  2,000 pending children / cancel requests per execution).
- Bounded history: after `children_per_run` children (or when Temporal suggests it) the
  workflow drains its in-flight children and continues as new from the last child id.
- Cancellation never relies on ParentClosePolicy: pending children are cancelled in
  Postgres at once (they never start), running children through their own workflows (their
  activities stop at the next heartbeat), and only then is the batch settled `cancelled`.
Progress is not tracked here: Postgres counts it from the children's rows.
"""

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError, is_cancelled_exception
from temporalio.workflow import ChildWorkflowCancellationType, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.batches import BatchActivities
    from activities.jobs import JobActivities
    from core.contracts import (
        BatchInput,
        BatchOutcome,
        ChildPageRequest,
        FinishBatchInput,
        JobInput,
        JobRef,
    )
    from workflows.parse import ParseWorkflow
    from workflows.policies import DB_ACTIVITY_TIMEOUT, DB_RETRY

Arg = TypeVar("Arg")
Result = TypeVar("Result")

# Ids fetched per activity call; each page is a small payload (ids only).
CHILD_PAGE = 500


@workflow.defn
class BatchParseWorkflow:
    def __init__(self) -> None:
        self._in_flight: dict[str, asyncio.Task[None]] = {}

    @workflow.run
    async def run(self, inp: BatchInput) -> BatchOutcome | None:
        try:
            if not inp.started and not await _db(JobActivities.start_job, JobRef(inp.job_id)):
                return None  # cancelled before it started: the API settled every child
            after = await self._start_children(inp)
            if after is not None:
                await self._drain()
                workflow.continue_as_new(
                    dataclasses.replace(inp, after_child_id=after, started=True)
                )
            await self._drain()
            return await _db(BatchActivities.finish_batch, FinishBatchInput(inp.job_id))
        except BaseException as err:
            if is_cancelled_exception(err):
                await self._cancel_everything(inp.job_id)
            raise

    async def _start_children(self, inp: BatchInput) -> str | None:
        """Start every pending child, window-bounded. Returns the last child id if this run
        should continue as new, None once no pending child is left."""
        after, started = inp.after_child_id, 0
        while True:
            if started >= inp.children_per_run or workflow.info().is_continue_as_new_suggested():
                return after
            limit = min(CHILD_PAGE, inp.children_per_run - started)
            page = await _db(
                BatchActivities.next_pending_children, ChildPageRequest(inp.job_id, after, limit)
            )
            if not page:
                return None
            for child_id in page:
                await workflow.wait_condition(lambda: len(self._in_flight) < inp.max_concurrency)
                self._in_flight[child_id] = asyncio.create_task(self._run_child(child_id, inp))
                started += 1
            after = page[-1]

    async def _run_child(self, child_id: str, inp: BatchInput) -> None:
        try:
            await workflow.execute_child_workflow(
                ParseWorkflow.run,
                JobInput(job_id=child_id, heartbeat_timeout_seconds=inp.heartbeat_timeout_seconds),
                id=child_id,
                # Explicit cancels below do the work; REQUEST_CANCEL (not the default
                # TERMINATE) only guards against an operator terminating the batch.
                parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                cancellation_type=ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
        except (ChildWorkflowError, asyncio.CancelledError):
            pass  # the child's own row already says failed or cancelled
        finally:
            del self._in_flight[child_id]

    async def _drain(self) -> None:
        await workflow.wait_condition(lambda: not self._in_flight)

    async def _cancel_everything(self, job_id: str) -> None:
        await _db(BatchActivities.cancel_pending_children, JobRef(job_id))
        for task in self._in_flight.values():
            task.cancel()
        await self._drain()  # each running child cleans up and records `cancelled`
        reason = workflow.cancellation_reason() or None
        await _db(
            BatchActivities.finish_batch, FinishBatchInput(job_id, cancelled=True, reason=reason)
        )


async def _db(activity: Callable[[Any, Arg], Awaitable[Result]], arg: Arg) -> Result:
    # Short Postgres statements: local activities (see workflows/job.py).
    return await workflow.execute_local_activity_method(
        activity, arg, start_to_close_timeout=DB_ACTIVITY_TIMEOUT, retry_policy=DB_RETRY
    )
