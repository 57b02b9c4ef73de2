"""Jobs and their history: creation, reads and lists. The transitions of the state machine
are in db/transitions.py."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.enums import (
    CREATED_STEP,
    NON_TERMINAL_STATUSES,
    JobStatus,
    status_values,
)
from core.metrics import JobTiming
from db.accounts import Key, ProjectGate, Verdict
from db.pagination import Filters, Listing, Page, PageRequest, fetch_page
from db.pool import Conn
from db.sql import dumps, quoted
from db.transitions import Transition, transition

HISTORY_JSON = """COALESCE((
    SELECT json_agg(json_build_object(
        'step', e.step, 'timestamp', e.timestamp, 'duration_ms', e.duration_ms,
        'status', e.status, 'details', e.details) ORDER BY e.id)
    FROM job_events e WHERE e.job_id = j.id), '[]'::json)"""


NOT_TERMINAL = quoted(status_values(NON_TERMINAL_STATUSES))


# A pending child of a job whose cancel was accepted is cancelled already: it never starts
# (db/transitions.py TRANSITION refuses it any other move), and the statement accepting the
# cancel leaves its row alone, so that a cancel of a batch of 10,000 writes one row, not
# 10,001 rows and 10,000 events. Its row is written `cancelled` (with its event) in pages
# once the parent has settled (db/batches.py SETTLE_PENDING_PAGE). Every read of a child's
# status goes through one of these two expressions until then.
def child_status(child: str, parent: str) -> str:
    """`child`'s status, `parent` being its parent's row (joined)."""
    return f"""(CASE WHEN {child}.status = 'pending' AND {parent}.cancel_requested_at IS NOT NULL
    THEN 'cancelled' ELSE {child}.status END)"""


def job_status(job: str) -> str:
    """`job`'s status, reading its parent's cancel mark only for a pending child."""
    return f"""(CASE WHEN {job}.status = 'pending' AND {job}.parent_job_id IS NOT NULL
      AND EXISTS (SELECT 1 FROM jobs marked WHERE marked.id = {job}.parent_job_id
                  AND marked.cancel_requested_at IS NOT NULL)
    THEN 'cancelled' ELSE {job}.status END)"""


def job_completed_at(job: str) -> str:
    """`job`'s completed_at; a pending child cancelled with its parent: the parent's mark."""
    return f"""COALESCE({job}.completed_at, (
    SELECT marked.cancel_requested_at FROM jobs marked
    WHERE {job}.status = 'pending' AND marked.id = {job}.parent_job_id))"""


CHILD_STATUS = child_status("c", "j")
# Progress of a job with children (a batch), counted from them in one snapshot (see
# db/batches.py); NULL for a job without children, whatever its operation.
PROGRESS_JSON = f"""(
    SELECT CASE WHEN count(*) > 0 THEN json_build_object(
        'total', count(*),
        'succeeded', count(*) FILTER (WHERE {CHILD_STATUS} = 'succeeded'),
        'failed', count(*) FILTER (WHERE {CHILD_STATUS} = 'failed'),
        'cancelled', count(*) FILTER (WHERE {CHILD_STATUS} = 'cancelled'),
        'pending', count(*) FILTER (WHERE {CHILD_STATUS} IN ({NOT_TERMINAL})),
        'child_jobs', COALESCE(json_agg(json_build_object(
            'source_document_id', c.source_id, 'job_id', c.id, 'status', {CHILD_STATUS},
            'parse_result_id', c.result->>'parse_result_id', 'error', c.error)
            ORDER BY c.child_position, c.id),
            '[]'::json)) END
    FROM jobs c WHERE c.parent_job_id = j.id)"""


def job_json(history: str, progress: str) -> str:
    return f"""json_build_object(
    'id', j.id, 'project_id', j.project_id, 'object', 'job', 'operation', j.operation,
    'status', {job_status("j")}, 'source_id', j.source_id, 'correlation_id', j.correlation_id,
    'created_at', j.created_at, 'started_at', j.started_at,
    'completed_at', {job_completed_at("j")},
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
SELECT id, $9, $10, $8::jsonb FROM job
"""
GET_JOB = f"SELECT {JOB_WITH_HISTORY} FROM jobs j WHERE j.id = $1 AND {IN_ACCOUNT}"
# Keyed reads scoped to a project (db.accounts.Key.read_in_project checks the project and
# the key in the same statement; $2 is the project).
JOB_IN_PROJECT = f"SELECT {JOB_WITH_HISTORY} FROM jobs j WHERE j.id = $1 AND j.project_id = $2"
STATUS_IN_PROJECT = f"SELECT {job_status('j')} FROM jobs j WHERE j.id = $1 AND j.project_id = $2"
GET_STATUS_UNSCOPED = f"SELECT {job_status('j')} FROM jobs j WHERE j.id = $1"

APPEND_EVENT = """
INSERT INTO job_events (job_id, step, status, details, duration_ms)
VALUES ($1, $2, $3, $4::jsonb, $5)
"""


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
        CREATED_STEP.name,
        CREATED_STEP.status.value,
    )


async def get(conn: Conn, job_id: str, project_id: str, account_id: str) -> str | None:
    body: str | None = await conn.fetchval(GET_JOB, job_id, project_id, account_id)
    return body


async def get_for(conn: Conn, key: Key, job_id: str, project_id: str) -> Verdict:
    """The job (JSON with history and progress) for a caller: one authenticated statement."""
    return await key.read_in_project(conn, project_id, JOB_IN_PROJECT, job_id)


async def status_for(conn: Conn, key: Key, job_id: str, project_id: str) -> Verdict:
    """The job's status for a caller (a JobStatus value once granted)."""
    verdict = await key.read_in_project(conn, project_id, STATUS_IN_PROJECT, job_id)
    if verdict.value is not None:
        return Verdict(verdict.access, JobStatus(verdict.value), verdict.project_status)
    return verdict


async def status_unscoped(conn: Conn, job_id: str) -> JobStatus | None:
    status = await conn.fetchval(GET_STATUS_UNSCOPED, job_id)
    return None if status is None else JobStatus(status)


# For the metrics of a transition that just committed (core/metrics.py).
TIMING = """
SELECT operation, created_at, completed_at, cancel_requested_at FROM jobs WHERE id = $1
"""


async def timing(conn: Conn, job_id: str) -> JobTiming | None:
    row = await conn.fetchrow(TIMING, job_id)
    return None if row is None else JobTiming(**dict(row))


async def fail_unstarted(conn: Conn, job_id: str, error: str) -> bool:
    """A job whose workflow could not be started, with any children it has: failed, not
    left looking runnable."""
    return await transition(
        conn,
        job_id,
        Transition(
            JobStatus.FAILED,
            error=error,
            only_from=frozenset({JobStatus.PENDING}),
            with_children=True,
        ),
    )


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
    for column, values in (
        ("j.id", f.ids),
        (job_status("j"), f.statuses),
        ("j.operation", f.operations),
    ):
        if values:
            where.add(f"{column} = ANY({{}}::text[])", values)
    for column, bound, op in (
        ("j.created_at", f.created_at_start, ">="),
        ("j.created_at", f.created_at_end, "<="),
        (job_completed_at("j"), f.completed_at_start, ">="),
        (job_completed_at("j"), f.completed_at_end, "<="),
    ):
        if bound is not None:
            where.add(f"{column} {op} {{}}", bound)
    return where


async def list_page(
    conn: Conn, project_id: str, f: JobFilters, page: PageRequest, gate: ProjectGate | None = None
) -> tuple[Page, int]:
    """Without a `gate`, the caller has already checked the project's account."""
    return await fetch_page(conn, LISTING, _filters(project_id, f), page, gate)
