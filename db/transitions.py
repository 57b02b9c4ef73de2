"""The job state machine of `core.enums`, enforced in Postgres. Each transition is ONE
statement — a conditional UPDATE plus the INSERT of its history event in a data-modifying
CTE — so a status change and its event commit together or not at all, and a terminal job
never changes again. Every guarded statement takes its source states from the table in
`core.enums` (`sources_of`), never from a literal."""

from dataclasses import dataclass
from typing import Any

from core.enums import (
    CANCEL_REQUEST_FROM,
    CANCEL_REQUESTED_STEP,
    STEP_OF,
    TERMINAL_STATUSES,
    JobStatus,
    sources_of,
    status_values,
)
from db.notify import Channel
from db.pool import Conn
from db.sql import dumps

TERMINAL = status_values(TERMINAL_STATUSES)

TRANSITION = """
WITH moved AS (
    UPDATE jobs SET
        status = $2,
        started_at = CASE WHEN $2 = 'running' THEN clock_timestamp() ELSE started_at END,
        completed_at = CASE WHEN $4 THEN clock_timestamp() ELSE completed_at END,
        result = COALESCE($5::jsonb, result),
        error = COALESCE($6, error)
    WHERE (id = $1 OR ($10 AND parent_job_id = $1)) AND status = ANY($3::text[])
      -- A child never starts once its parent's cancel was accepted or the parent ended,
      -- and a pending child of a parent whose cancel was accepted is cancelled already
      -- (db/jobs.py child_status): it moves to nothing else.
      AND NOT EXISTS (
          SELECT 1 FROM jobs p WHERE p.id = jobs.parent_job_id
            AND (($2 = 'running' AND (p.cancel_requested_at IS NOT NULL
                                      OR p.status = ANY($11::text[])))
                 OR ($2 <> 'cancelled' AND jobs.status = 'pending'
                     AND p.cancel_requested_at IS NOT NULL)))
    RETURNING id, started_at
), event AS (
    INSERT INTO job_events (job_id, step, status, details, duration_ms)
    SELECT id, $7, $8,
           -- $12: the reason the job's cancel request recorded, read here rather than in
           -- a round trip of its own before the statement (a cancel's critical path).
           CASE WHEN $12 THEN jsonb_build_object('reason', (
                    SELECT r.details->'reason' FROM job_events r
                    WHERE r.job_id = $1 AND r.dedupe_key = 'cancel_requested'))
                ELSE $9::jsonb END,
           CASE WHEN $4 AND started_at IS NOT NULL
                THEN (extract(epoch FROM clock_timestamp() - started_at) * 1000)::bigint END
    FROM moved
)
SELECT count(*) FILTER (WHERE id = $1) FROM moved
"""

# Recorded once per job however many cancel requests arrive, and only while the job is
# working. The mark is an UPDATE of the job row so that it and a concurrent success
# (db/results.py STORE_AND_SUCCEED, db/batches.py) are ordered by the row lock: see
# migration 0003. The dedupe key guards the event as well. The job's children still
# pending are cancelled by the mark itself (none of them starts, see TRANSITION; db/jobs.py
# child_status reads them so until their rows are written, after the job settles). In the
# same statement its running children are marked too, and the workers are told at commit
# (NOTIFY, db/notify.py): the one running the work stops it at its next unit, long before
# Temporal's heartbeat would.
CANCEL_REQUESTED = """
WITH marked AS (
    UPDATE jobs SET cancel_requested_at = clock_timestamp()
    WHERE id = $1 AND status = ANY($3::text[]) AND cancel_requested_at IS NULL
    RETURNING id
), working_children AS (
    UPDATE jobs c SET cancel_requested_at = clock_timestamp()
    FROM marked WHERE c.parent_job_id = marked.id AND c.status = ANY($3::text[])
      AND c.cancel_requested_at IS NULL
    RETURNING c.id
), notified AS (
    SELECT pg_notify($6, t.id) FROM (
        SELECT id FROM marked UNION ALL SELECT id FROM working_children
    ) AS t
), event AS (
    INSERT INTO job_events (job_id, step, status, details, dedupe_key)
    SELECT id, $4, $5, $2::jsonb, 'cancel_requested' FROM marked
    ON CONFLICT (job_id, dedupe_key) DO NOTHING
    RETURNING id
)
SELECT (SELECT id FROM event), (SELECT count(*) FROM notified)
"""
CANCEL_REASON = """
SELECT details->>'reason' FROM job_events
WHERE job_id = $1 AND dedupe_key = 'cancel_requested'
"""


@dataclass(frozen=True)
class Transition:
    """A move to `to`, from any state the table allows (or only from `only_from`), with the
    history event the table names for `to`. `with_children`: the job's children in the same
    states move too, in the same statement (e.g. a pending batch and its pending children)."""

    to: JobStatus
    details: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    only_from: frozenset[JobStatus] | None = None
    with_children: bool = False
    # The event's details are {"reason": what the job's cancel request recorded}, read in
    # the same statement (`details` is then ignored).
    reason_from_request: bool = False


async def transition(conn: Conn, job_id: str, change: Transition) -> bool:
    """Move the job to `change.to` if the state machine allows it from its current state.

    Returns False (and writes nothing) when the job is elsewhere: Postgres is the arbiter.
    """
    step = STEP_OF[change.to]
    moved = await conn.fetchval(
        TRANSITION,
        job_id,
        change.to.value,
        sources_of(change.to, change.only_from),
        change.to.is_terminal,
        dumps(change.result),
        change.error,
        step.name,
        step.status.value,
        dumps(change.details),
        change.with_children,
        TERMINAL,
        change.reason_from_request,
    )
    return bool(moved)


async def record_cancel_requested(conn: Conn, job_id: str, reason: str | None) -> bool:
    """True if this call recorded the (single) `cancel_requested` event."""
    row = await conn.fetchrow(
        CANCEL_REQUESTED,
        job_id,
        dumps({"reason": reason}),
        status_values(CANCEL_REQUEST_FROM),
        CANCEL_REQUESTED_STEP.name,
        CANCEL_REQUESTED_STEP.status.value,
        Channel.CANCEL.value,
    )
    return row is not None and row[0] is not None


async def cancel_reason(conn: Conn, job_id: str) -> str | None:
    reason: str | None = await conn.fetchval(CANCEL_REASON, job_id)
    return reason


CANCEL_MARKED = "SELECT id FROM jobs WHERE id = ANY($1::text[]) AND cancel_requested_at IS NOT NULL"


async def cancel_marked(conn: Conn, job_ids: list[str]) -> list[str]:
    """Which of these jobs have an accepted cancel (a listener catching up after a drop)."""
    return [row["id"] for row in await conn.fetch(CANCEL_MARKED, job_ids)]
