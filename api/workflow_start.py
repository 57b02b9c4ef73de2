"""Starting and cancelling job workflows (workflow id = job id)."""

import logging
from collections.abc import Awaitable

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from db import jobs
from db.pool import Conn
from docket.contracts import BatchInput, ParseInput
from docket.settings import Settings
from workflows.batch import BatchParseWorkflow
from workflows.parse import ParseWorkflow

log = logging.getLogger(__name__)


async def start_parse(client: Client, settings: Settings, job_id: str) -> None:
    # USE_EXISTING: a second start of the same job (a retry, the reconciler) is harmless.
    await client.start_workflow(
        ParseWorkflow.run,
        ParseInput(job_id=job_id, heartbeat_timeout_seconds=settings.heartbeat_timeout_seconds),
        id=job_id,
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def start_batch(client: Client, settings: Settings, job_id: str) -> None:
    await client.start_workflow(
        BatchParseWorkflow.run,
        BatchInput(
            job_id=job_id,
            heartbeat_timeout_seconds=settings.heartbeat_timeout_seconds,
            max_concurrency=settings.batch_max_concurrency,
            children_per_run=settings.batch_children_per_run,
        ),
        id=job_id,
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def launch(pool: Conn, job_id: str, start: Awaitable[None]) -> None:
    """Await the workflow start; if Temporal is unreachable, fail the job (and its
    children) so no row is left looking runnable with no workflow behind it."""
    try:
        await start
    except RPCError as err:
        error = f"could not start the job: Temporal unavailable ({err.status.name})"
        await jobs.fail_unstarted(pool, job_id, error)
        raise


async def request_cancel(client: Client, job_id: str, reason: str | None) -> bool:
    """Ask Temporal to cancel the job's workflow. False if no such workflow exists.

    Temporal answers OK even for a workflow that already finished, so this says nothing
    about the job's outcome: Postgres does.
    """
    try:
        await client.get_workflow_handle(job_id).cancel(reason=reason or "")
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def cancel_quietly(client: Client, job_id: str, reason: str | None) -> None:
    """For a job already `cancelled` in Postgres: stopping its workflow is a courtesy (it
    would find the job not pending and end by itself), so an outage here is only logged."""
    try:
        await request_cancel(client, job_id, reason)
    except RPCError as err:
        log.warning("could not cancel workflow of cancelled job %s: %s", job_id, err)
