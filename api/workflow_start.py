"""The API's side of job workflows: launching a start safely, and cancelling."""

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable
from enum import StrEnum

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from db import jobs
from db.pool import Conn

log = logging.getLogger(__name__)

# What a lazily connected client raises when the first connection attempt fails.
CONNECT_FAILURE = "Failed client connect"


class TemporalUnavailable(Exception):
    """Temporal could not be reached (the API answers 503)."""


@contextlib.asynccontextmanager
async def temporal_call() -> AsyncIterator[None]:
    try:
        yield
    except RuntimeError as err:
        if not str(err).startswith(CONNECT_FAILURE):
            raise
        raise TemporalUnavailable(str(err)) from err


async def launch(pool: Conn, job_id: str, start: Awaitable[None]) -> None:
    """Await the workflow start; if Temporal is unreachable, fail the job (and its
    children) so no row is left looking runnable with no workflow behind it."""
    try:
        async with temporal_call():
            await start
    except (RPCError, TemporalUnavailable):
        # Failed rather than left pending: a client retrying after the 503 would otherwise
        # find two jobs running once Temporal is back.
        await jobs.fail_unstarted(pool, job_id, "could not start the job: Temporal unavailable")
        raise


class WorkflowState(StrEnum):
    RUNNING = "running"
    CLOSED = "closed"  # completed, failed, cancelled, terminated or timed out
    MISSING = "missing"  # no such workflow (never started, or Temporal lost it)


async def request_cancel(client: Client, job_id: str, reason: str | None) -> WorkflowState:
    """Ask Temporal to cancel the job's workflow: RUNNING once the request is accepted,
    MISSING if no such workflow exists. Temporal accepts a cancel for a workflow that has
    already closed too (an operator terminated it, say), so "accepted" does not say it still
    runs: `workflow_state` does."""
    try:
        async with temporal_call():
            await client.get_workflow_handle(job_id).cancel(reason=reason or "")
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return WorkflowState.MISSING
        raise
    return WorkflowState.RUNNING


async def workflow_state(client: Client, job_id: str) -> WorkflowState:
    """Whether the job's workflow runs, has closed, or does not exist (`describe`: strongly
    consistent). Temporal being unreachable reads as RUNNING: nothing is settled on a guess."""
    try:
        async with temporal_call():
            described = await client.get_workflow_handle(job_id).describe()
    except TemporalUnavailable:
        return WorkflowState.RUNNING
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return WorkflowState.MISSING
        log.warning("could not describe the workflow of job %s: %s", job_id, err)
        return WorkflowState.RUNNING
    if described.status == WorkflowExecutionStatus.RUNNING:
        return WorkflowState.RUNNING
    return WorkflowState.CLOSED


async def cancel_quietly(client: Client, job_id: str, reason: str | None) -> None:
    """For a job already `cancelled` in Postgres: stopping its workflow is a courtesy (it
    would find the job not pending and end by itself), so an outage here is only logged."""
    try:
        await request_cancel(client, job_id, reason)
    except (RPCError, TemporalUnavailable) as err:
        log.warning("could not cancel workflow of cancelled job %s: %s", job_id, err)
