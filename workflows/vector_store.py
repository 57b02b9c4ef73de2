"""VectorStoreWorkflow: one `vector_store` job, indexing parse results into a store.

The job's children are rows (one per parse result), not workflows: each is indexed by one
heartbeating activity (activities/vector_store.py), a few at a time. Like a batch:
- bounded history: after `children_per_run` children (or when Temporal suggests it) the
  run drains and continues as new from the last child id;
- cancel: the running activities are cancelled and waited for (each deletes what it
  staged and records its child `cancelled`), every child still open is cancelled in one
  statement, and only then is the job settled `cancelled`, through the fence of
  db/batches.finish. Progress is counted by Postgres from the children's rows.
"""

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    is_cancelled_exception,
)
from temporalio.workflow import (
    ActivityCancellationType,
    ChildWorkflowCancellationType,
    ParentClosePolicy,
)

with workflow.unsafe.imports_passed_through():
    from activities.batches import BatchActivities
    from activities.jobs import JobActivities
    from activities.vector_store import VectorStoreActivities
    from core.contracts import (
        BatchInput,
        BatchOutcome,
        CancelJobInput,
        ChildPageRequest,
        FailJobInput,
        FinishBatchInput,
        JobRef,
    )
    from workflows.policies import DB_ACTIVITY_TIMEOUT, DB_RETRY, WORK_RETRY, WORK_TIMEOUT

Arg = TypeVar("Arg")
Result = TypeVar("Result")

# Parse results indexed at once: embedding is CPU-bound (one model thread per worker), so
# more in flight only overlaps one result's database writes with another's embedding.
CONCURRENT_RESULTS = 2
# Child ids fetched per activity call (ids only: a small payload).
CHILD_PAGE = 500
# The child's heartbeat timeout when its memo has none (Settings' default).
HEARTBEAT_DEFAULT_SECONDS = 10.0


@workflow.defn
class IndexResultWorkflow:
    """One child of a vector_store job: index one parse result (its job id = workflow id)."""

    @workflow.run
    async def run(self, ref: JobRef) -> None:
        memo = workflow.memo_value("heartbeat_timeout_seconds", HEARTBEAT_DEFAULT_SECONDS)
        try:
            await workflow.execute_activity_method(
                VectorStoreActivities.index_result,
                ref,
                start_to_close_timeout=WORK_TIMEOUT,
                heartbeat_timeout=timedelta(seconds=float(memo)),
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                retry_policy=WORK_RETRY,
            )
        except ActivityError as err:
            if is_cancelled_exception(err):
                raise
            cause = err.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(err)
            await _db(VectorStoreActivities.fail_result, FailJobInput(ref.job_id, message))
            raise ApplicationError(message, non_retryable=True) from err


@workflow.defn
class VectorStoreWorkflow:
    def __init__(self) -> None:
        self._in_flight: dict[str, asyncio.Task[None]] = {}

    @workflow.run
    async def run(self, inp: BatchInput) -> BatchOutcome | None:
        try:
            if not inp.started and not await _db(JobActivities.start_job, JobRef(inp.job_id)):
                return None  # cancelled before it started: the API settled every child
            after = await self._index_children(inp)
            await self._drain()
            if after is not None:
                workflow.continue_as_new(
                    dataclasses.replace(inp, after_child_id=after, started=True)
                )
            return await _db(BatchActivities.finish_batch, FinishBatchInput(inp.job_id))
        except BaseException as err:
            if is_cancelled_exception(err):
                await self._cancel_everything(inp.job_id)
            raise

    async def _index_children(self, inp: BatchInput) -> str | None:
        """Index every pending child; the last child id if this run should continue as
        new, None once no pending child is left."""
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
                await workflow.wait_condition(lambda: len(self._in_flight) < CONCURRENT_RESULTS)
                self._in_flight[child_id] = asyncio.create_task(self._index(child_id, inp))
                started += 1
            after = page[-1]

    async def _index(self, child_id: str, inp: BatchInput) -> None:
        try:
            await workflow.execute_child_workflow(
                IndexResultWorkflow.run,
                JobRef(child_id),
                id=child_id,
                # A workflow per child (id = its job id), so that the convergence loop and
                # the cancel endpoint find a running child's execution like a batch child's.
                parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                cancellation_type=ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
                memo={"heartbeat_timeout_seconds": inp.heartbeat_timeout_seconds},
            )
        except (ChildWorkflowError, asyncio.CancelledError):
            pass  # the child's own row says failed or cancelled
        finally:
            del self._in_flight[child_id]

    async def _drain(self) -> None:
        await workflow.wait_condition(lambda: not self._in_flight)

    async def _cancel_everything(self, job_id: str) -> None:
        for task in self._in_flight.values():
            task.cancel()
        await self._drain()  # each running activity deletes what it staged
        reason = workflow.cancellation_reason() or None
        await _db(VectorStoreActivities.cancel_open_children, CancelJobInput(job_id, reason))
        await _db(
            BatchActivities.finish_batch, FinishBatchInput(job_id, cancelled=True, reason=reason)
        )


async def _db(activity: Callable[[Any, Arg], Awaitable[Result]], arg: Arg) -> Result:
    # Short Postgres statements: local activities (see workflows/job.py).
    return await workflow.execute_local_activity_method(
        activity, arg, start_to_close_timeout=DB_ACTIVITY_TIMEOUT, retry_policy=DB_RETRY
    )
