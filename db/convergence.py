"""What the convergence loop reads and writes: non-terminal jobs, least recently checked
first, and the settlement of a job whose workflow closed without settling it."""

from dataclasses import dataclass

from core.enums import JobOperationType, JobStatus
from db.pool import Conn
from db.transitions import Transition, transition

# The predicate is the partial index `jobs_unsettled`'s (migration 0007), so the planner
# walks the index. SKIP LOCKED: several workers' loops share the work.
CHECK_PAGE = """
WITH picked AS (
    SELECT id FROM jobs
    WHERE status IN ('pending', 'running')
      AND NOT (status = 'pending' AND parent_job_id IS NOT NULL)
      AND created_at < clock_timestamp() - make_interval(secs => $1)
    ORDER BY checked_at NULLS FIRST, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs j SET checked_at = clock_timestamp() FROM picked WHERE j.id = picked.id
RETURNING j.id, j.operation, j.status, j.parent_job_id, j.cancel_requested_at IS NOT NULL
"""


@dataclass(frozen=True)
class Unsettled:
    job_id: str
    operation: JobOperationType
    status: JobStatus
    parent_job_id: str | None
    cancel_requested: bool


async def next_to_check(conn: Conn, older_than_seconds: float, limit: int) -> list[Unsettled]:
    """Up to `limit` non-terminal jobs older than the threshold, marked as checked now."""
    rows = await conn.fetch(CHECK_PAGE, older_than_seconds, limit)
    return [
        Unsettled(row[0], JobOperationType(row[1]), JobStatus(row[2]), row[3], row[4])
        for row in rows
    ]


async def settle(
    conn: Conn, job_id: str, cancelled: bool, reason: str | None, error: str | None
) -> bool:
    """A job (and its non-terminal children) whose workflow is gone or closed: `cancelled`
    when a cancel was asked for, else `failed` with `error`. One statement."""
    if cancelled:
        change = Transition(
            JobStatus.CANCELLED, {"reason": reason, "note": error}, with_children=True
        )
    else:
        change = Transition(JobStatus.FAILED, {"note": error}, error=error, with_children=True)
    return await transition(conn, job_id, change)
