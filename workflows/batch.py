"""BatchParseWorkflow: one batch_parse job fanned out to one ParseWorkflow per document.

A batch with a vector store (its row's source) also indexes each parse result into it as
the parse succeeds: an indexing child (a `vector_store` child of the batch, run by an
IndexResultWorkflow) takes over the document's slot. One batch to watch and to cancel; its
progress counts both kinds of children.

The fan-out (window, continue-as-new, cancel) is workflows/fanout.py's, shared with the
vector_store job: at most `max_concurrency` children in flight (well under Temporal's 2,000
pending children / cancel requests per execution), `children_per_run` children per run,
and a window that stays full across continue-as-new however long one child takes.
Progress is not tracked here: Postgres counts it from the children's rows.
"""

import asyncio
import uuid
from typing import Any

from temporalio import workflow
from temporalio.workflow import ChildWorkflowCancellationType, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.batches import BatchActivities
    from core.contracts import BatchInput, BatchOutcome, IndexChildRequest, JobInput, JobRef
    from core.ids import IdPrefix
    from workflows.fanout import Spec, run_fan_out
    from workflows.local import db
    from workflows.parse import ParseWorkflow
    from workflows.vector_store import start_index_child

# Indexing children's ids are derived from their parse child's (uuid5 in this namespace):
# deterministic, so a repeated request adds nothing.
INDEX_CHILD_NAMESPACE = uuid.UUID("6f1c2b9e-4d0a-5e3b-9a7c-1d2e3f405162")


def index_child_id(parse_child_id: str) -> str:
    return f"{IdPrefix.JOB}_{uuid.uuid5(INDEX_CHILD_NAMESPACE, parse_child_id).hex}"


@workflow.defn
class BatchParseWorkflow:
    @workflow.run
    async def run(self, inp: BatchInput) -> BatchOutcome | None:
        heartbeat, batch = inp.heartbeat_timeout_seconds, JobRef(inp.job_id)

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

        target: list[asyncio.Task[str | None]] = []  # the batch's store, read once a run

        async def follow(child_id: str) -> str | None:
            if not target:
                target.append(asyncio.create_task(db(BatchActivities.index_target, batch)))
            if await target[0] is None:
                return None
            index_id = index_child_id(child_id)
            request = IndexChildRequest(inp.job_id, child_id, index_id)
            return index_id if await db(BatchActivities.add_index_child, request) else None

        async def start_follow(child_id: str) -> workflow.ChildWorkflowHandle[Any, Any]:
            return await start_index_child(child_id, heartbeat)

        async def cancel_pending(job_id: str, reason: str | None) -> int:
            return await db(BatchActivities.cancel_pending_children, JobRef(job_id))

        spec = Spec(
            start=start,
            legacy_start=legacy_start,
            window=inp.max_concurrency,
            legacy_before_cancel=cancel_pending,
            follow=follow,
            start_follow=start_follow,
        )
        return await run_fan_out(inp, spec)
