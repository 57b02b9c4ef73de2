"""JobActivities: the status transitions every job's workflow asks for, holding the pool.

Each is one conditional statement (db/transitions.py), so a retry never writes twice."""

from typing import Any

import asyncpg
from temporalio import activity

from core.contracts import CancelJobInput, FailJobInput, JobRef
from core.enums import JobStatus
from core.metrics import docket_metrics
from db import jobs
from db.pool import Conn
from db.transitions import Transition, transition


async def settle_cancelled(conn: Conn, job_id: str, reason: str | None = None) -> bool:
    """running/pending → cancelled, with `reason` or else the one the cancel request
    recorded (read by the same statement: one round trip)."""
    change = Transition(JobStatus.CANCELLED, {"reason": reason}, reason_from_request=not reason)
    settled = await transition(conn, job_id, change)
    if settled:
        docket_metrics().job_moved(JobStatus.CANCELLED, await jobs.timing(conn, job_id))
    return settled


class JobActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @activity.defn
    async def start_job(self, ref: JobRef) -> bool:
        """pending → running. True if the job is running (also on a retry after we already
        moved it); False if it was cancelled or finished before it could start."""
        attempt = activity.info().attempt
        moved = await transition(
            self.pool, ref.job_id, Transition(JobStatus.RUNNING, {"attempt": attempt})
        )
        if moved:
            docket_metrics().job_moved(JobStatus.RUNNING, await jobs.timing(self.pool, ref.job_id))
        return moved or await jobs.status_unscoped(self.pool, ref.job_id) is JobStatus.RUNNING

    @activity.defn
    async def cancel_job(self, inp: CancelJobInput) -> bool:
        return await settle_cancelled(self.pool, inp.job_id, inp.reason)

    @activity.defn
    async def fail_job(self, inp: FailJobInput) -> bool:
        failed = await transition(
            self.pool, inp.job_id, Transition(JobStatus.FAILED, error=inp.error)
        )
        if failed:
            docket_metrics().job_moved(JobStatus.FAILED, await jobs.timing(self.pool, inp.job_id))
        return failed

    def all(self) -> list[Any]:
        """The bound activity methods, for `Worker(activities=...)`."""
        return [self.start_job, self.cancel_job, self.fail_job]
