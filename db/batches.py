"""Batch parse jobs: a parent row with one child `parse` row per document.

Progress is never stored: it is counted from the children's rows in one snapshot, so it is
exact at every moment however many children finish concurrently (each child's own
conditional UPDATE is the only write), and `total = succeeded + failed + cancelled + pending`
holds by construction.
"""

import json
from typing import Any

import asyncpg

from core.enums import (
    CREATED_STEP,
    NON_TERMINAL_STATUSES,
    STEP_OF,
    FileStatus,
    JobOperationType,
    JobStatus,
    sources_of,
)
from db.batch_cancel import settle_pending_pages
from db.jobs import NOT_TERMINAL, NewJob, child_status, insert
from db.pool import Conn, Connection
from db.transitions import Transition, cancel_reason, transition

# Children are created in two set-based statements (rows, then their `created` events),
# each with its position in the submitted `source_document_ids` (progress lists them so).
INSERT_CHILDREN = """
WITH children AS (
    INSERT INTO jobs (id, project_id, operation, source_id, correlation_id, parent_job_id,
                      child_position)
    SELECT c.id, $2, 'parse', c.source_id, $3, $1, c.position
    FROM unnest($4::text[], $5::text[]) WITH ORDINALITY AS c(id, source_id, position)
    RETURNING id
)
INSERT INTO job_events (job_id, step, status, details)
SELECT id, $6, $7, json_build_object('batch_job_id', $1::text)::jsonb
FROM children
"""

# The children a fan-out starts from its pages: a batch's parse children (its indexing
# children are started by the batch as each parse succeeds, see ADD_INDEX_CHILD).
NEXT_PENDING = """
SELECT c.id FROM jobs c
WHERE c.parent_job_id = $1 AND c.status = $4 AND c.id > $2
  AND c.operation = (SELECT CASE p.operation WHEN 'batch_parse' THEN 'parse' ELSE p.operation END
                     FROM jobs p WHERE p.id = $1)
ORDER BY c.id LIMIT $3
"""

# The vector store a batch indexes its parse results into (NULL: none).
INDEX_TARGET = "SELECT source_id FROM jobs WHERE id = $1 AND operation = 'batch_parse'"
# A parse child that succeeded gets its indexing child ($3, an id the workflow derives from
# the parse child's, so a retried or repeated call adds nothing): a `vector_store` child
# of the batch whose source is the parse result, listed after every parse child. Only
# while the batch runs with no cancel accepted (its row shared-locked against the cancel's
# mark). Returns the indexing child's id if it exists.
ADD_INDEX_CHILD = """
WITH parse AS (
    SELECT c.project_id, c.correlation_id, c.child_position,
           c.result->>'parse_result_id' AS result_id
    FROM jobs c JOIN jobs b ON b.id = c.parent_job_id
    WHERE c.id = $2 AND b.id = $1 AND c.operation = 'parse' AND c.status = 'succeeded'
      AND c.result->>'parse_result_id' IS NOT NULL
      AND b.status = 'running' AND b.cancel_requested_at IS NULL AND b.source_id IS NOT NULL
    FOR SHARE OF b
), documents AS (
    SELECT (details->>'documents')::int AS n FROM job_events WHERE job_id = $1
    ORDER BY id LIMIT 1
), child AS (
    INSERT INTO jobs (id, project_id, operation, source_id, correlation_id, parent_job_id,
                      child_position)
    SELECT $3, parse.project_id, 'vector_store', parse.result_id, parse.correlation_id, $1,
           parse.child_position + COALESCE((SELECT n FROM documents), 0)
    FROM parse
    ON CONFLICT (id) DO NOTHING
    RETURNING id
), event AS (
    INSERT INTO job_events (job_id, step, status, details)
    SELECT id, $4, $5, json_build_object('batch_job_id', $1::text, 'parse_job_id', $2::text)::jsonb
    FROM child
)
SELECT id FROM child UNION ALL SELECT id FROM jobs WHERE id = $3
"""

# Which of these children are not yet terminal (by primary key: at most a window of ids).
OPEN_CHILDREN = f"""
SELECT c.id FROM jobs c JOIN jobs p ON p.id = c.parent_job_id
WHERE c.id = ANY($2::text[]) AND p.id = $1 AND {child_status("c", "p")} IN ({NOT_TERMINAL})
ORDER BY c.id
"""

# A batch's children in states $4 → $3 (with its history event), in one statement.
SETTLE_CHILDREN = """
WITH moved AS (
    UPDATE jobs SET status = $3, completed_at = clock_timestamp(), error = COALESCE($7, error)
    WHERE parent_job_id = $1 AND status = ANY($4::text[])
    RETURNING id
), events AS (
    INSERT INTO job_events (job_id, step, status, details)
    SELECT id, $5, $6, $2::jsonb FROM moved
)
SELECT count(*) FROM moved
"""
# A batch finishes once every child it started has ended; a child still unfinished then is
# one it no longer tracks (its workflow was lost with Temporal's state): failed, so that a
# finished batch never reports pending children.
STRAY_CHILD = "the batch finished without it: its workflow was lost"

STATUS = child_status("c", "p")
COUNTS = f"""
SELECT count(*) AS total,
       count(*) FILTER (WHERE {STATUS} = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE {STATUS} = 'failed') AS failed,
       count(*) FILTER (WHERE {STATUS} = 'cancelled') AS cancelled,
       count(*) FILTER (WHERE {STATUS} IN ({NOT_TERMINAL})) AS pending
FROM jobs c JOIN jobs p ON p.id = c.parent_job_id WHERE p.id = $1
"""

PARSEABLE_FILES = """
SELECT id, mime_type, filename FROM files
WHERE project_id = $1 AND id = ANY($2::text[]) AND status <> $3
"""


async def insert_batch(
    conn: Connection, batch: NewJob, child_ids: list[str], sources: list[str]
) -> None:
    """The batch row and all its children, in one transaction."""
    async with conn.transaction():
        await insert(conn, batch, {"documents": len(sources)})
        await conn.execute(
            INSERT_CHILDREN,
            batch.id,
            batch.project_id,
            batch.correlation_id,
            child_ids,
            sources,
            CREATED_STEP.name,
            CREATED_STEP.status.value,
        )


async def next_pending(conn: Conn, batch_id: str, after: str, limit: int) -> list[str]:
    rows = await conn.fetch(NEXT_PENDING, batch_id, after, limit, JobStatus.PENDING.value)
    return [row["id"] for row in rows]


async def index_target(conn: Conn, batch_id: str) -> str | None:
    store: str | None = await conn.fetchval(INDEX_TARGET, batch_id)
    return store


async def add_index_child(conn: Conn, batch_id: str, parse_child_id: str, child_id: str) -> bool:
    found = await conn.fetchval(
        ADD_INDEX_CHILD,
        batch_id,
        parse_child_id,
        child_id,
        CREATED_STEP.name,
        CREATED_STEP.status.value,
    )
    return found is not None


async def open_children(conn: Conn, batch_id: str, child_ids: list[str]) -> list[str]:
    return [row["id"] for row in await conn.fetch(OPEN_CHILDREN, batch_id, child_ids)]


async def settle_children(
    conn: Conn,
    batch_id: str,
    to: JobStatus,
    only_from: frozenset[JobStatus],
    details: dict[str, str],
    error: str | None = None,
) -> int:
    step = STEP_OF[to]
    moved: int = await conn.fetchval(
        SETTLE_CHILDREN,
        batch_id,
        json.dumps({**details, "batch_job_id": batch_id}),
        to.value,
        sources_of(to, only_from),
        step.name,
        step.status.value,
        error,
    )
    return moved


NON_TERMINAL = NON_TERMINAL_STATUSES
WORKING = NON_TERMINAL - {JobStatus.PENDING}
# Locks the batch row; true if a cancel was accepted for it.
LOCK_FOR_FINISH = "SELECT cancel_requested_at IS NOT NULL FROM jobs WHERE id = $1 FOR UPDATE"


async def counts(conn: Conn, batch_id: str) -> dict[str, int]:
    row = await conn.fetchrow(COUNTS, batch_id)
    assert row is not None
    return dict(row)


def final_status(tally: dict[str, int]) -> JobStatus:
    if tally["succeeded"] == tally["total"]:
        return JobStatus.SUCCEEDED
    if tally["succeeded"] == 0:
        return JobStatus.FAILED
    return JobStatus.PARTIALLY_SUCCEEDED


async def finish(
    pool: asyncpg.Pool, batch_id: str, cancelled: bool, reason: str | None = None
) -> tuple[bool, JobStatus, dict[str, int]]:
    """Settle the batch from its children's statuses: (moved, status, counts). Counted and
    written in one transaction so the summary in `result` matches `progress`.

    The batch row is locked first: a cancel the API accepted (202) before this settles it
    as cancelled, and one arriving after waits and then finds the batch finished (see
    migration 0003)."""
    async with pool.acquire() as connection, connection.transaction():
        if await connection.fetchval(LOCK_FOR_FINISH, batch_id) and not cancelled:
            cancelled, reason = True, await cancel_reason(connection, batch_id)
        settled = await _settle(connection, batch_id, cancelled, reason)
    if cancelled:
        await settle_pending_pages(pool, batch_id, reason)
    return settled


# A batch whose cancel was accepted and none of whose children still works: its work has
# stopped (no child starts once the cancel is accepted), so it is `cancelled` now, not once
# its workflow has sent every child Temporal's cancel and heard back. NULL: not such a
# batch (not a batch, settled, or no cancel accepted); false: a child still works.
STOPPED = f"""
SELECT NOT EXISTS (SELECT 1 FROM jobs c WHERE c.parent_job_id = b.id AND c.status = 'running')
FROM jobs b
WHERE b.id = $1 AND b.operation = '{JobOperationType.BATCH_PARSE.value}'
  AND b.status = 'running' AND b.cancel_requested_at IS NOT NULL
"""


async def settle_if_stopped(pool: asyncpg.Pool, batch_id: str) -> bool | None:
    """True if this call settled the cancelled batch; False while a child still works; None
    when there is nothing to wait for (not a batch whose cancel was accepted, or settled)."""
    stopped: bool | None = await pool.fetchval(STOPPED, batch_id)
    if not stopped:
        return stopped
    async with pool.acquire() as connection, connection.transaction():
        # Locked, then asked again: the workflow's finish_batch may have settled it since.
        if not await connection.fetchval(LOCK_FOR_FINISH, batch_id):
            return None
        if not await connection.fetchval(STOPPED, batch_id):
            return None
        reason = await cancel_reason(connection, batch_id)
        moved, _, _ = await _settle(connection, batch_id, True, reason)
    await settle_pending_pages(pool, batch_id, reason)
    return moved or None


async def _settle(
    connection: Connection, batch_id: str, cancelled: bool, reason: str | None
) -> tuple[bool, JobStatus, dict[str, int]]:
    """In the caller's transaction, the batch row locked."""
    if cancelled:  # the pending ones after the batch, by settle_pending_pages
        await settle_children(
            connection, batch_id, JobStatus.CANCELLED, WORKING, {"reason": reason or ""}
        )
    else:
        await settle_children(
            connection,
            batch_id,
            JobStatus.FAILED,
            NON_TERMINAL,
            {"note": STRAY_CHILD},
            STRAY_CHILD,
        )
    tally = await counts(connection, batch_id)
    target = JobStatus.CANCELLED if cancelled else final_status(tally)
    summary = {k: tally[k] for k in ("total", "succeeded", "failed", "cancelled")}
    details = {**summary, "reason": reason} if cancelled else summary
    moved = await transition(connection, batch_id, Transition(target, details, result=summary))
    return moved, target, summary


async def parseable_files(conn: Conn, project_id: str, ids: list[str]) -> list[Any]:
    return list(await conn.fetch(PARSEABLE_FILES, project_id, ids, FileStatus.DELETED.value))
