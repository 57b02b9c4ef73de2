"""BatchParseWorkflow: one batch_parse job fanned out to one ParseWorkflow per document.

The fan-out (window, continue-as-new, cancel) is workflows/fanout.py's, shared with the
vector_store job: at most `max_concurrency` children in flight (well under Temporal's 2,000
pending children / cancel requests per execution), `children_per_run` children per run,
and a window that stays full across continue-as-new however long one child takes.
Progress is not tracked here: Postgres counts it from the children's rows.
"""

from typing import Any

from temporalio import workflow
from temporalio.workflow import ChildWorkflowCancellationType, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.batches import BatchActivities
    from core.contracts import BatchInput, BatchOutcome, JobInput, JobRef
    from workflows.fanout import Spec, run_fan_out
    from workflows.local import db
    from workflows.parse import ParseWorkflow


@workflow.defn
class BatchParseWorkflow:
    @workflow.run
    async def run(self, inp: BatchInput) -> BatchOutcome | None:
        heartbeat = inp.heartbeat_timeout_seconds

        async def start(child_id: str) -> workflow.ChildWorkflowHandle[Any, Any]:
            return await workflow.start_child_workflow(
                ParseWorkflow.run,
                JobInput(child_id, heartbeat),
                id=child_id,
                # It outlives this run's continue-as-new; its cancel is sent explicitly.
                parent_close_policy=ParentClosePolicy.ABANDON,
            )

        async def legacy_start(child_id: str) -> None:
            await workflow.execute_child_workflow(
                ParseWorkflow.run,
                JobInput(child_id, heartbeat),
                id=child_id,
                parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                cancellation_type=ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
            )

        async def cancel_pending(job_id: str, reason: str | None) -> int:
            return await db(BatchActivities.cancel_pending_children, JobRef(job_id))

        spec = Spec(
            start=start,
            legacy_start=legacy_start,
            window=inp.max_concurrency,
            legacy_before_cancel=cancel_pending,
        )
        return await run_fan_out(inp, spec)
