"""The cancel contract (design.md): Postgres decides the answer, Temporal does the stopping.

| job state | action                                             | HTTP |
| pending   | CAS pending→cancelled (+ event), cancel workflow   | 200  |
| cancelled | nothing                                            | 200  |
| running   | one `cancel_requested` event, workflow cancel      | 202  |
| terminal  | nothing                                            | 400  |
"""

import asyncpg
from fastapi import BackgroundTasks, HTTPException, Response, status
from temporalio.client import Client

from api.auth import Caller
from api.responses import not_found, raw_json
from api.workflow_start import cancel_quietly, request_cancel
from core.enums import HistoryStatus, JobOperationType, JobStatus
from db import batches, jobs
from db.jobs import Transition
from db.pool import Conn

# A job changes state at most twice (pending → running → terminal), so the loop that
# re-reads after a lost compare-and-set settles within three rounds.
MAX_ROUNDS = 3


def cancelled_step(reason: str | None, **details: str) -> Transition:
    return Transition(
        JobStatus.CANCELLED, "Job cancelled", HistoryStatus.CANCELLED, {"reason": reason, **details}
    )


PENDING = {"cancelled_while": JobStatus.PENDING.value}


async def cancel_job(
    pool: Conn,
    temporal: Client,
    background: BackgroundTasks,
    job_id: str,
    project_id: str,
    who: Caller,
    reason: str | None,
) -> Response:
    state = jobs.state_from(await who.read(pool, jobs.GET_STATE, job_id, project_id))
    if state is None:
        raise not_found("job", job_id)
    current, operation = state
    account = who.account_id  # verified by the keyed read
    for _ in range(MAX_ROUNDS):
        if current is JobStatus.PENDING:
            if await _cancel_pending(pool, job_id, operation, reason):
                # After the answer: the job is already cancelled in Postgres and its
                # workflow would end by itself on seeing that; this only ends it sooner
                # (and keeps a Temporal round trip out of the response time).
                background.add_task(cancel_quietly, temporal, job_id, reason)
                return await _entity(pool, job_id, project_id, account, status.HTTP_200_OK)
        elif current is JobStatus.CANCELLED:
            return await _entity(pool, job_id, project_id, account, status.HTTP_200_OK)
        elif current is JobStatus.RUNNING:
            # The event is written only while the job is running: if it finished since we
            # read it, nothing is recorded and the re-read below answers for its new state.
            if await _request_recorded(pool, job_id, reason):
                if not await request_cancel(temporal, job_id, reason):
                    # A running job whose workflow is gone (terminated by an operator):
                    # nothing will ever finish it, so settle it here.
                    await jobs.transition(pool, job_id, cancelled_step(reason, note=NO_WORKFLOW))
                return await _entity(pool, job_id, project_id, account, status.HTTP_202_ACCEPTED)
        else:
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST,
                f"job {job_id} is {current.value}; only pending or running jobs can be cancelled",
            )
        refreshed = await jobs.status_unscoped(pool, job_id)
        assert refreshed is not None  # jobs are never deleted
        current = refreshed
    raise HTTPException(status.HTTP_409_CONFLICT, f"job {job_id} kept changing; retry")


async def _cancel_pending(
    pool: Conn, job_id: str, operation: JobOperationType, reason: str | None
) -> bool:
    if operation is not JobOperationType.BATCH_PARSE:
        return await jobs.transition(pool, job_id, cancelled_step(reason, **PENDING))
    assert isinstance(pool, asyncpg.Pool)
    async with pool.acquire() as conn:
        # The batch and every child, in one transaction: none of them will ever start.
        return await batches.cancel_batch_pending(conn, job_id, cancelled_step(reason, **PENDING))


async def _request_recorded(pool: Conn, job_id: str, reason: str | None) -> bool:
    """True once the job carries its (single) cancel_requested event and is still running."""
    if await jobs.record_cancel_requested(pool, job_id, reason):
        return True
    # Not written: recorded by an earlier request (still running), or no longer running.
    return await jobs.status_unscoped(pool, job_id) is JobStatus.RUNNING


NO_WORKFLOW = "no workflow was running for this job"


async def _entity(pool: Conn, job_id: str, project_id: str, account: str, code: int) -> Response:
    body = await jobs.get(pool, job_id, project_id, account)
    assert body is not None
    return raw_json(body, code)
