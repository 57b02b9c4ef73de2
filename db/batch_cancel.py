"""A batch's cancel, without a row per child on its critical path: the batch's cancel mark
cancels its pending children at once (db/jobs.py child_status reads them so), and their rows
are written `cancelled`, with their events, in pages once the batch has settled."""

import json

from core.enums import CANCEL_REQUEST_FROM, STEP_OF, JobStatus, status_values
from db.pool import Conn

# One page of the pending children of a parent whose cancel was accepted, written as what
# they already are (db/jobs.py child_status): `cancelled` when the parent's cancel was
# accepted, with their event. Pages, after the parent settled: a cancel's answer and its
# settling never wait for 10,000 rows.
SETTLE_PENDING_PAGE = """
WITH page AS (
    SELECT c.id FROM jobs c
    WHERE c.parent_job_id = $1 AND c.status = 'pending' ORDER BY c.id LIMIT $3
), moved AS (
    UPDATE jobs c SET status = $4, completed_at = p.cancel_requested_at
    FROM page, jobs p
    WHERE c.id = page.id AND c.status = 'pending' AND p.id = $1
      AND p.cancel_requested_at IS NOT NULL
    RETURNING c.id
), events AS (
    INSERT INTO job_events (job_id, step, status, details)
    SELECT id, $5, $6, $2::jsonb FROM moved
)
SELECT count(*) FROM moved
"""
# Rows per SETTLE_PENDING_PAGE: well under a second per statement on a loaded machine.
PENDING_PAGE = 1000

# A cancel that reached the workflow from Temporal alone (not through the API, which marks
# the batch first): the same mark, so that its pending children are cancelled at once.
MARK_CANCELLED = """
UPDATE jobs SET cancel_requested_at = clock_timestamp()
WHERE id = $1 AND status = ANY($2::text[]) AND cancel_requested_at IS NULL
"""


async def cancel_pending_children(conn: Conn, batch_id: str) -> int:
    """Pending children are `cancelled` at once (they will never start): by the batch's
    cancel mark, which this sets if the API has not. 1 if this call set it, else 0."""
    status = await conn.execute(MARK_CANCELLED, batch_id, status_values(CANCEL_REQUEST_FROM))
    return int(status.split()[-1])


async def settle_pending_pages(conn: Conn, batch_id: str, reason: str | None) -> int:
    """The rows of the pending children the batch's cancel mark cancelled, page by page."""
    step = STEP_OF[JobStatus.CANCELLED]
    details = json.dumps({"reason": reason or "batch cancelled", "batch_job_id": batch_id})
    written = 0
    while True:
        moved: int = await conn.fetchval(
            SETTLE_PENDING_PAGE,
            batch_id,
            details,
            PENDING_PAGE,
            JobStatus.CANCELLED.value,
            step.name,
            step.status.value,
        )
        written += moved
        if moved < PENDING_PAGE:
            return written
