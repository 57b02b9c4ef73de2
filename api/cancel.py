"""The cancel contract (design.md): Postgres decides the answer, Temporal does the stopping.

| job state | action                                             | HTTP |
| pending   | CAS pending→cancelled (+ event), cancel workflow   | 200  |
| cancelled | nothing                                            | 200  |
| running   | one `cancel_requested` event, workflow cancel      | 202  |
| terminal  | nothing                                            | 400  |

The same for every operation of the kernel: a job's children are cancelled with it.
"""

import asyncio
import logging
import time

import asyncpg
from fastapi import BackgroundTasks, HTTPException, Response, status
from temporalio.client import Client
from temporalio.service import RPCError

from api.auth import Caller, admit
from api.responses import raw_json
from api.workflow_start import (
    TemporalUnavailable,
    WorkflowState,
    cancel_quietly,
    request_cancel,
    workflow_state,
)
from core.enums import JobStatus
from core.metrics import docket_metrics
from db import batches, jobs
from db.pool import Conn
from db.transitions import Transition, record_cancel_requested, transition

log = logging.getLogger(__name__)

# A job changes state at most twice (pending → running → terminal), so the loop that
# re-reads after a lost compare-and-set settles within three rounds.
MAX_ROUNDS = 3
# While Temporal's cancel RPC is in flight, how often the job's row is re-read: the worker
# usually settles `cancelled` (through NOTIFY) before Temporal answers, and then the 202
# need not wait for Temporal. A few ms: one indexed read each, only during that window.
SETTLED_POLL_SECONDS = 0.003
# After a batch's cancel is answered, how often the API asks whether its last working child
# has stopped, and for how long (its workflow settles it in any case, only later).
BATCH_SETTLE_POLL_SECONDS = 0.005
BATCH_SETTLE_WAIT_SECONDS = 30.0


PENDING_ONLY = frozenset({JobStatus.PENDING})


def cancelled_step(reason: str | None, **details: str) -> Transition:
    """→ cancelled, with the job's children in the same states (a batch's): one statement."""
    return Transition(JobStatus.CANCELLED, {"reason": reason, **details}, with_children=True)


def pending_cancel(reason: str | None) -> Transition:
    """A job still pending (and its pending children) → cancelled: it will never start."""
    return Transition(
        JobStatus.CANCELLED,
        {"reason": reason, "cancelled_while": JobStatus.PENDING.value},
        only_from=PENDING_ONLY,
        with_children=True,
    )


async def cancel_job(
    pool: asyncpg.Pool,
    temporal: Client,
    background: BackgroundTasks,
    job_id: str,
    project_id: str,
    who: Caller,
    reason: str | None,
) -> Response:
    # 401/403, then 404 naming the project or the job that was not found.
    current: JobStatus = admit(
        await jobs.status_for(pool, who.key, job_id, project_id), "job", job_id, project_id
    )
    account = who.account_id  # verified by the keyed read
    for _ in range(MAX_ROUNDS):
        if current is JobStatus.PENDING:
            if await transition(pool, job_id, pending_cancel(reason)):
                docket_metrics().job_moved(JobStatus.CANCELLED, await jobs.timing(pool, job_id))
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
                workflow = await _cancel_racing_the_worker(
                    pool, temporal, background, job_id, reason
                )
                if workflow is None:
                    pass  # the worker has already settled it `cancelled`
                elif workflow is WorkflowState.MISSING:
                    await settle_unfinishable(pool, job_id, reason, NO_WORKFLOW)
                else:
                    # Temporal accepts a cancel for a closed workflow too: whether it still
                    # runs is asked right after the answer (the work itself is already being
                    # stopped through Postgres), and the convergence loop is the backstop.
                    background.add_task(settle_if_closed, pool, temporal, job_id, reason)
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


async def _cancel_racing_the_worker(
    pool: asyncpg.Pool,
    temporal: Client,
    background: BackgroundTasks,
    job_id: str,
    reason: str | None,
) -> WorkflowState | None:
    """Temporal's cancel, raced against the worker settling the job through Postgres.

    The cancel mark is committed (and NOTIFYed) before this runs, so the worker holding the
    job is already stopping it. None: the row reached a terminal state before Temporal
    answered, so the 202's promise already holds and the RPC finishes after the answer.
    Otherwise Temporal's answer: it raises while Temporal is down (a 503, as before), when
    nothing else has settled the job either.
    """
    rpc = asyncio.ensure_future(request_cancel(temporal, job_id, reason))
    watcher = asyncio.ensure_future(_settled(pool, job_id))
    try:
        await asyncio.wait({rpc, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if rpc.done():
        background.add_task(settle_batch_when_stopped, pool, job_id)
        return rpc.result()
    background.add_task(_finish_cancel_rpc, rpc, job_id)
    return None


async def settle_batch_when_stopped(pool: asyncpg.Pool, job_id: str) -> None:
    """A batch is `cancelled` as soon as its last working child has stopped (through
    NOTIFY, in milliseconds): asked here for a while after the answer, since its workflow,
    which settles it otherwise, first hears of the cancel from Temporal (seconds under load).
    Returns at once for any other job."""
    deadline = time.monotonic() + BATCH_SETTLE_WAIT_SECONDS
    while True:
        if not await _batch_still_working(pool, job_id) or time.monotonic() > deadline:
            return
        await asyncio.sleep(BATCH_SETTLE_POLL_SECONDS)


async def _batch_still_working(pool: asyncpg.Pool, job_id: str) -> bool:
    """Settles the cancelled batch if none of its children works any more; True while one
    does (False for a job that is not such a batch)."""
    settled = await batches.settle_if_stopped(pool, job_id)
    if settled:
        docket_metrics().job_moved(JobStatus.CANCELLED, await jobs.timing(pool, job_id))
    return settled is False


async def _settled(pool: asyncpg.Pool, job_id: str) -> None:
    """Returns once the job's row is terminal (polled while Temporal's RPC is in flight); a
    batch is settled here once its last working child has stopped."""
    batch = True
    while True:
        batch = batch and await _batch_still_working(pool, job_id)
        current = await jobs.status_unscoped(pool, job_id)
        if current is not None and current.is_terminal:
            return
        await asyncio.sleep(SETTLED_POLL_SECONDS)


async def _finish_cancel_rpc(rpc: "asyncio.Future[WorkflowState]", job_id: str) -> None:
    """The job is settled already: Temporal's cancel only ends its workflow sooner (the
    workflow also ends by itself, seeing the job cancelled), so a failure is only logged."""
    try:
        await rpc
    except (RPCError, TemporalUnavailable) as err:
        log.warning("could not cancel workflow of cancelled job %s: %s", job_id, err)


async def _request_recorded(pool: Conn, job_id: str, reason: str | None) -> bool:
    """True once the job carries its (single) cancel_requested event and is still running."""
    if await record_cancel_requested(pool, job_id, reason):
        return True
    # Not written: recorded by an earlier request (still running), or no longer running.
    return await jobs.status_unscoped(pool, job_id) is JobStatus.RUNNING


async def settle_unfinishable(pool: Conn, job_id: str, reason: str | None, note: str) -> None:
    """A running job whose workflow is gone or closed (an operator terminated it, Temporal
    lost it): nothing will ever finish it, so settle it here, children included, and the
    202's promise holds at once."""
    if await transition(pool, job_id, cancelled_step(reason, note=note)):
        docket_metrics().job_moved(JobStatus.CANCELLED, await jobs.timing(pool, job_id))


async def settle_if_closed(pool: Conn, temporal: Client, job_id: str, reason: str | None) -> None:
    state = await workflow_state(temporal, job_id)
    if state is not WorkflowState.RUNNING:
        note = NO_WORKFLOW if state is WorkflowState.MISSING else CLOSED_WORKFLOW
        await settle_unfinishable(pool, job_id, reason, note)


NO_WORKFLOW = "no workflow was running for this job"
CLOSED_WORKFLOW = "the job's workflow had already closed"


async def _entity(pool: Conn, job_id: str, project_id: str, account: str, code: int) -> Response:
    body = await jobs.get(pool, job_id, project_id, account)
    assert body is not None
    return raw_json(body, code)
