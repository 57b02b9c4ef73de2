"""VectorStoreWorkflow: one `vector_store` job, indexing parse results into a store.

One child row per parse result, each indexed by an IndexResultWorkflow (id = its job id)
running one heartbeating activity (activities/vector_store.py), a few at a time, through
the fan-out of workflows/fanout.py (window, continue-as-new and cancel, as a batch's).
On cancel each child's activity deletes what it staged and records its child `cancelled`;
any child still open then is cancelled in one statement, and only then is the job settled
`cancelled`, through the fence of db/batches.finish. Progress is counted by Postgres from
the children's rows.
"""

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception
from temporalio.workflow import (
    ActivityCancellationType,
    ChildWorkflowCancellationType,
    ParentClosePolicy,
)

with workflow.unsafe.imports_passed_through():
    from activities.vector_store import VectorStoreActivities
    from core.contracts import BatchInput, BatchOutcome, CancelJobInput, FailJobInput, JobRef
    from workflows.fanout import Spec, run_fan_out
    from workflows.local import db
    from workflows.policies import WORK_RETRY, WORK_TIMEOUT

# Parse results indexed at once: embedding is CPU-bound (one model thread per worker), so
# more in flight only overlaps one result's database writes with another's embedding.
CONCURRENT_RESULTS = 2
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
            await db(VectorStoreActivities.fail_result, FailJobInput(ref.job_id, message))
            raise ApplicationError(message, non_retryable=True) from err


async def start_index_child(
    child_id: str, heartbeat_timeout_seconds: float
) -> workflow.ChildWorkflowHandle[Any, Any]:
    """Start the IndexResultWorkflow of one indexing child (a vector_store job's, or a
    batch's that indexes its parse results). It outlives the run that started it (its
    cancel is sent explicitly: workflows/fanout.py)."""
    return await workflow.start_child_workflow(
        IndexResultWorkflow.run,
        JobRef(child_id),
        id=child_id,
        parent_close_policy=ParentClosePolicy.ABANDON,
        memo={"heartbeat_timeout_seconds": heartbeat_timeout_seconds},
    )


@workflow.defn
class VectorStoreWorkflow:
    @workflow.run
    async def run(self, inp: BatchInput) -> BatchOutcome | None:
        async def start(child_id: str) -> workflow.ChildWorkflowHandle[Any, Any]:
            return await start_index_child(child_id, inp.heartbeat_timeout_seconds)

        async def legacy_start(child_id: str) -> None:
            await workflow.execute_child_workflow(
                IndexResultWorkflow.run,
                JobRef(child_id),
                id=child_id,
                parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                cancellation_type=ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
                memo={"heartbeat_timeout_seconds": inp.heartbeat_timeout_seconds},
            )

        async def cancel_open(job_id: str, reason: str | None) -> int:
            # Any child still open (its workflow lost): cancelled, its staged rows deleted.
            return await db(
                VectorStoreActivities.cancel_open_children, CancelJobInput(job_id, reason)
            )

        spec = Spec(
            start=start,
            legacy_start=legacy_start,
            window=CONCURRENT_RESULTS,
            after_drain=cancel_open,
        )
        return await run_fan_out(inp, spec)
