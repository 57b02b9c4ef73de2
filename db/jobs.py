"""Jobs and their history. The state machine of `core.enums` is enforced here: each
transition is ONE statement — a conditional UPDATE plus the INSERT of its history event in
a data-modifying CTE — so a status change and its event commit together or not at all, and
a terminal job never changes again."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.enums import JobOperationType, JobStatus, sources_of
from db.accounts import ProjectGate
from db.pagination import Filters, Listing, Page, PageRequest, fetch_page
from db.pool import Conn

HISTORY_JSON = """COALESCE((
    SELECT json_agg(json_build_object(
        'step', e.step, 'timestamp', e.timestamp, 'duration_ms', e.duration_ms,
        'status', e.status, 'details', e.details) ORDER BY e.id)
    FROM job_events e WHERE e.job_id = j.id), '[]'::json)"""


# Progress of a batch, counted from its children in one snapshot (see db/batches.py).
PROGRESS_JSON = """CASE WHEN j.operation = 'batch_parse' THEN (
    SELECT json_build_object(
        'total', count(*),
        'succeeded', count(*) FILTER (WHERE c.status = 'succeeded'),
        'failed', count(*) FILTER (WHERE c.status = 'failed'),
        'cancelled', count(*) FILTER (WHERE c.status = 'cancelled'),
        'pending', count(*) FILTER (WHERE c.status IN ('pending', 'running')),
        'child_jobs', COALESCE(json_agg(json_build_object(
            'source_document_id', c.source_id, 'job_id', c.id, 'status', c.status,
            'parse_result_id', c.result->>'parse_result_id', 'error', c.error) ORDER BY c.id),
            '[]'::json))
    FROM jobs c WHERE c.parent_job_id = j.id) END"""


def job_json(history: str, progress: str) -> str:
    return f"""json_build_object(
    'id', j.id, 'project_id', j.project_id, 'object', 'job', 'operation', j.operation,
    'status', j.status, 'source_id', j.source_id, 'correlation_id', j.correlation_id,
    'created_at', j.created_at, 'started_at', j.started_at, 'completed_at', j.completed_at,
    'result', j.result, 'progress', {progress}, 'error', j.error, 'history', {history})::text"""


JOB_WITH_HISTORY = job_json(HISTORY_JSON, PROGRESS_JSON)
# Lists leave history and progress out (null): a page of 100 jobs stays one cheap index
# scan, whatever the size of the batches on it. GET one job for both.
JOB_WITHOUT_HISTORY = job_json("NULL", "NULL")

IN_ACCOUNT = """j.project_id = $2
    AND EXISTS (SELECT 1 FROM projects p WHERE p.id = j.project_id AND p.account_id = $3)"""

INSERT_JOB = """
WITH job AS (
    INSERT INTO jobs (id, project_id, operation, source_id, correlation_id, parameters,
                      parent_job_id)
    VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
    RETURNING id
)
INSERT INTO job_events (job_id, step, status, details)
SELECT id, 'Job created', 'created', $8::jsonb FROM job
"""
GET_JOB = f"SELECT {JOB_WITH_HISTORY} FROM jobs j WHERE j.id = $1 AND {IN_ACCOUNT}"
# One (status, operation) value, so that a keyed read can carry it (see db/accounts.py).
GET_STATE = f"SELECT ROW(j.status, j.operation) FROM jobs j WHERE j.id = $1 AND {IN_ACCOUNT}"
GET_STATUS_UNSCOPED = "SELECT status FROM jobs WHERE id = $1"

TRANSITION = """
WITH moved AS (
    UPDATE jobs SET
        status = $2,
        started_at = CASE WHEN $2 = 'running' THEN clock_timestamp() ELSE started_at END,
        completed_at = CASE WHEN $4 THEN clock_timestamp() ELSE completed_at END,
        result = COALESCE($5::jsonb, result),
        error = COALESCE($6, error)
    WHERE id = $1 AND status = ANY($3::text[])
    RETURNING id, started_at
), event AS (
    INSERT INTO job_events (job_id, step, status, details, duration_ms)
    SELECT id, $7, $8, $9::jsonb,
           CASE WHEN $4 AND started_at IS NOT NULL
                THEN (extract(epoch FROM clock_timestamp() - started_at) * 1000)::bigint END
    FROM moved
)
SELECT count(*) FROM moved
"""

# Recorded once per job however many cancel requests arrive, and only while the job is
# running. The mark is an UPDATE of the job row so that it and a concurrent success
# (db/results.py STORE_AND_SUCCEED, db/batches.py) are ordered by the row lock: see
# migration 0003. The dedupe key guards the event as well.
CANCEL_REQUESTED = """
WITH marked AS (
    UPDATE jobs SET cancel_requested_at = clock_timestamp()
    WHERE id = $1 AND status = 'running' AND cancel_requested_at IS NULL
    RETURNING id
)
INSERT INTO job_events (job_id, step, status, details, dedupe_key)
SELECT id, 'Cancel requested', 'cancel_requested', $2::jsonb, 'cancel_requested' FROM marked
ON CONFLICT (job_id, dedupe_key) DO NOTHING
RETURNING id
"""
CANCEL_REASON = """
SELECT details->>'reason' FROM job_events
WHERE job_id = $1 AND dedupe_key = 'cancel_requested'
"""
# A job whose workflow could not be started, with any children it has: failed, not left
# looking runnable.
FAIL_UNSTARTED = """
WITH moved AS (
    UPDATE jobs SET status = 'failed', completed_at = clock_timestamp(), error = $2
    WHERE (id = $1 OR parent_job_id = $1) AND status = 'pending'
    RETURNING id
), events AS (
    INSERT INTO job_events (job_id, step, status, details)
    SELECT id, 'Job failed', 'failed', NULL FROM moved
)
SELECT count(*) FROM moved
"""
# Top-level jobs still pending after a grace period: their workflow start was lost (a crash
# between the insert and the start). Batch children are started by their batch instead.
STALE_PENDING = """
SELECT id, operation FROM jobs
WHERE status = 'pending' AND parent_job_id IS NULL
  AND created_at < clock_timestamp() - make_interval(secs => $1)
ORDER BY created_at
LIMIT $2
"""
APPEND_EVENT = """
INSERT INTO job_events (job_id, step, status, details, duration_ms)
VALUES ($1, $2, $3, $4::jsonb, $5)
"""


def dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


@dataclass(frozen=True)
class NewJob:
    id: str
    project_id: str
    operation: str
    source_id: str | None
    correlation_id: str | None
    parameters: dict[str, Any]
    parent_job_id: str | None = None


async def insert(conn: Conn, job: NewJob, details: dict[str, Any] | None = None) -> None:
    await conn.execute(
        INSERT_JOB,
        job.id,
        job.project_id,
        job.operation,
        job.source_id,
        job.correlation_id,
        json.dumps(job.parameters),
        job.parent_job_id,
        dumps(details),
    )


async def get(conn: Conn, job_id: str, project_id: str, account_id: str) -> str | None:
    body: str | None = await conn.fetchval(GET_JOB, job_id, project_id, account_id)
    return body


def state_from(value: tuple[str, str] | None) -> tuple[JobStatus, JobOperationType] | None:
    """A GET_STATE value as enums."""
    return None if value is None else (JobStatus(value[0]), JobOperationType(value[1]))


async def status_unscoped(conn: Conn, job_id: str) -> JobStatus | None:
    status = await conn.fetchval(GET_STATUS_UNSCOPED, job_id)
    return None if status is None else JobStatus(status)


@dataclass(frozen=True)
class Transition:
    to: JobStatus
    step: str
    history_status: str
    details: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: str | None = None


async def transition(conn: Conn, job_id: str, change: Transition) -> bool:
    """Move the job to `change.to` if the state machine allows it from its current state.

    Returns False (and writes nothing) when the job is elsewhere: Postgres is the arbiter.
    """
    moved = await conn.fetchval(
        TRANSITION,
        job_id,
        change.to.value,
        sources_of(change.to),
        change.to.is_terminal,
        dumps(change.result),
        change.error,
        change.step,
        change.history_status,
        dumps(change.details),
    )
    return bool(moved)


async def fail_unstarted(conn: Conn, job_id: str, error: str) -> int:
    moved: int = await conn.fetchval(FAIL_UNSTARTED, job_id, error)
    return moved


async def stale_pending(
    conn: Conn, older_than_seconds: float, limit: int
) -> list[tuple[str, JobOperationType]]:
    rows = await conn.fetch(STALE_PENDING, older_than_seconds, limit)
    return [(row["id"], JobOperationType(row["operation"])) for row in rows]


async def record_cancel_requested(conn: Conn, job_id: str, reason: str | None) -> bool:
    """True if this call recorded the (single) `cancel_requested` event."""
    return await conn.fetchval(CANCEL_REQUESTED, job_id, dumps({"reason": reason})) is not None


async def cancel_reason(conn: Conn, job_id: str) -> str | None:
    reason: str | None = await conn.fetchval(CANCEL_REASON, job_id)
    return reason


async def append_event(
    conn: Conn,
    job_id: str,
    step: str,
    status: str,
    details: dict[str, Any] | None = None,
    duration_ms: int | None = None,
) -> None:
    await conn.execute(APPEND_EVENT, job_id, step, status, dumps(details), duration_ms)


@dataclass(frozen=True)
class JobFilters:
    ids: list[str] | None = None
    statuses: list[str] | None = None
    operations: list[str] | None = None
    created_at_start: datetime | None = None
    created_at_end: datetime | None = None
    completed_at_start: datetime | None = None
    completed_at_end: datetime | None = None


LISTING = Listing.of("jobs", "j", JOB_WITHOUT_HISTORY)


def _filters(project_id: str, f: JobFilters) -> Filters:
    where = Filters.start()
    where.add("j.project_id = {}", project_id)
    for column, values in (("id", f.ids), ("status", f.statuses), ("operation", f.operations)):
        if values:
            where.add(f"j.{column} = ANY({{}}::text[])", values)
    for column, bound, op in (
        ("created_at", f.created_at_start, ">="),
        ("created_at", f.created_at_end, "<="),
        ("completed_at", f.completed_at_start, ">="),
        ("completed_at", f.completed_at_end, "<="),
    ):
        if bound is not None:
            where.add(f"j.{column} {op} {{}}", bound)
    return where


async def list_page(
    conn: Conn, project_id: str, f: JobFilters, page: PageRequest, gate: ProjectGate | None = None
) -> tuple[Page, int]:
    """Without a `gate`, the caller has already checked the project's account."""
    return await fetch_page(conn, LISTING, _filters(project_id, f), page, gate)
