"""The life of a single job (parse, chunk, …), shared by every single-job workflow.

Postgres is the arbiter of the job's status; a workflow only asks activities to move it.
The status writes are single short statements, so they run as local activities: no
task-queue round trip through the server, which halves the server work per job.

Cancellation: the work activity heartbeats, so a cancel reaches it at its next heartbeat;
we wait for it to acknowledge (WAIT_CANCELLATION_COMPLETED) so that `cancelled` in Postgres
means the work has really stopped, then record `cancelled` and re-raise so the execution
ends CANCELED in Temporal too.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import StrEnum
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.jobs import JobActivities
    from core.contracts import CancelJobInput, FailJobInput, JobInput, JobRef, ResultOutcome
    from workflows.policies import DB_ACTIVITY_TIMEOUT, DB_RETRY, WORK_RETRY, WORK_TIMEOUT

# How long a job cancelled through Postgres waits for Temporal's cancel (sent by the API
# right after the same commit) before its workflow simply completes.
CANCEL_ARRIVAL = timedelta(seconds=10)

# A work activity: a bound method of an activity class taking the job's ref.
WorkActivity = Callable[[Any, JobRef], Awaitable[ResultOutcome]]


class JobOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    NOT_STARTED = "not_started"  # cancelled (or finished) before it could start
    SUPERSEDED = "superseded"  # the job left `running` while we worked; nothing stored
    CANCELLED = "cancelled"  # cancelled through Postgres; Temporal's cancel never came


async def run_job(inp: JobInput, work: WorkActivity, what: str) -> JobOutcome:
    """pending → running → the work → its result stored (or `failed`/`cancelled`).
    `what` names the work in a failure message ("parse", "rechunk")."""
    ref = JobRef(inp.job_id)
    try:
        started = await workflow.execute_local_activity_method(
            JobActivities.start_job,
            ref,
            start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        if not started:
            return JobOutcome.NOT_STARTED
        outcome = await workflow.execute_activity_method(
            work,
            ref,
            start_to_close_timeout=WORK_TIMEOUT,
            heartbeat_timeout=timedelta(seconds=inp.heartbeat_timeout_seconds),
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            retry_policy=WORK_RETRY,
        )
    except BaseException as err:
        if is_cancelled_exception(err):
            await _record_cancelled(inp.job_id)
            raise
        if isinstance(err, ActivityError):
            message = _failure_message(err, what)
            await _record_failed(inp.job_id, message)
            raise ApplicationError(message, non_retryable=True) from err
        raise
    if outcome.cancelled:
        # Settled `cancelled` through Postgres already (the fast path); end CANCELED in
        # Temporal too. Its cancel may have arrived while the activity finished (then it was
        # consumed by that await: raise it again), or be on its way (raised by the wait), or
        # never come (the API died after its commit): then complete after a bound.
        if workflow.cancellation_reason() is not None:
            raise asyncio.CancelledError
        with contextlib.suppress(asyncio.TimeoutError):
            await workflow.wait_condition(lambda: False, timeout=CANCEL_ARRIVAL)
        return JobOutcome.CANCELLED
    return JobOutcome.SUCCEEDED if outcome.succeeded else JobOutcome.SUPERSEDED


async def _record_cancelled(job_id: str) -> None:
    await workflow.execute_local_activity_method(
        JobActivities.cancel_job,
        CancelJobInput(job_id=job_id, reason=workflow.cancellation_reason() or None),
        start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
        retry_policy=DB_RETRY,
    )


async def _record_failed(job_id: str, error: str) -> None:
    await workflow.execute_local_activity_method(
        JobActivities.fail_job,
        FailJobInput(job_id=job_id, error=error),
        start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
        retry_policy=DB_RETRY,
    )


def _failure_message(err: ActivityError, what: str) -> str:
    cause = err.cause
    if isinstance(cause, ApplicationError):
        return cause.message
    return f"{what} activity failed: {cause or err}"
