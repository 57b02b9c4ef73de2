"""The writes of an indexing job's children, each fenced like a parse result's store.

A child (one parse result into one store) stages its chunks page by page (`live = false`),
then ONE transaction makes them live, drops the parse result's previous rows in the store
and moves the child to `succeeded`. Every write first locks the child (and shares the
locks of its parent and store): a child or parent whose cancel was accepted, a job no
longer running, or a deleted store matches nothing, so nothing is written; the row locks
order these writes against the cancel's mark (migration 0003) and the store's delete.
A cancelled or failed child's staged rows are deleted with its settling. The settling of
the last child still running of a parent whose cancel was accepted names that parent: its
work has stopped, so the caller settles it `cancelled` at once (db/batches.finish) rather
than after the workflow has unwound, a chain of workflow tasks that takes a second when
the machine is busy. The parent's row is locked first, so that of two children settling at
once the second sees the first settled.
"""

import json
from dataclasses import dataclass
from typing import Any

from core.enums import NON_TERMINAL_STATUSES, STEP_OF, JobStatus, status_values
from db.pool import Conn, Connection
from db.results import CHUNKS_OF
from db.transitions import Transition, transition

INDEX_ITEM = f"""
SELECT c.status,
       (c.cancel_requested_at IS NOT NULL OR p.cancel_requested_at IS NOT NULL
        OR p.status <> 'running') AS stopping,
       -- A batch that indexes its parse results names the store as its source and the
       -- chunks' metadata in its parse parameters.
       CASE WHEN p.operation = 'batch_parse'
            THEN json_build_object('vector_store_id', p.source_id, 'metadata', COALESCE(
                NULLIF(p.parameters->'vector_store_metadata', 'null'::jsonb), '{{}}'::jsonb))
            ELSE p.parameters::json END::text AS parameters,
       s.id AS store_id, s.engine, s.embedding_model,
       s.dimensions, r.id AS result_id, r.source_document_id,
       {CHUNKS_OF.format("r.id")}::text AS chunks,
       (SELECT count(*) FROM vector_chunks v WHERE v.job_id = c.id) AS staged
FROM jobs c
JOIN jobs p ON p.id = c.parent_job_id
LEFT JOIN vector_stores s ON s.id = p.source_id
LEFT JOIN parse_results r ON r.id = c.source_id AND r.project_id = c.project_id
WHERE c.id = $1
"""

# The fence: the child and its parent running with no cancel accepted, the store present.
FENCE = """
SELECT c.id FROM jobs c
JOIN jobs p ON p.id = c.parent_job_id
JOIN vector_stores s ON s.id = p.source_id
WHERE c.id = $1 AND c.status = 'running' AND c.cancel_requested_at IS NULL
  AND p.status = 'running' AND p.cancel_requested_at IS NULL
FOR UPDATE OF c FOR SHARE OF p, s
"""

STAGE_PAGE = """
INSERT INTO vector_chunks (store_id, job_id, parse_result_id, file_id, chunk_index, content,
                           blocks, metadata, dimensions, embedding)
SELECT $2, $1, $3, $4, x.i, x.content, x.blocks::jsonb, $5::jsonb, $6,
       ARRAY(SELECT unnest(($10::real[])[x.n:x.n]))::vector
FROM unnest($7::int[], $8::text[], $9::text[]) WITH ORDINALITY AS x(i, content, blocks, n)
ON CONFLICT (job_id, chunk_index) DO NOTHING
"""
# $10 is the page's vectors as one two-dimensional real[] (row n = chunk n), sent in
# binary: as pgvector text literals they cost ~0.3 ms of json.dumps each in the worker and
# their parsing in Postgres (a page of 100 chunks of 256 dimensions: ~49 ms, now ~4 ms).
# Row n's slice is two-dimensional, hence the unnest back to a one-dimensional array.

DROP_PREVIOUS = """
DELETE FROM vector_chunks
WHERE store_id = $1 AND parse_result_id = $2 AND live AND job_id <> $3
"""
# In pages of chunk indexes: each row made live is inserted into the HNSW and GIN indexes
# then, which costs milliseconds a row on a busy machine, and one statement for a big
# result would outlast the pool's command timeout (all pages still commit at once).
GO_LIVE = """UPDATE vector_chunks SET live = true
WHERE job_id = $1 AND chunk_index >= $2 AND chunk_index < $3"""
PUBLISH_PAGE = 256
DISCARD = "DELETE FROM vector_chunks WHERE job_id = $1 AND NOT live"
LOCK_PARENT = """
SELECT p.id FROM jobs c JOIN jobs p ON p.id = c.parent_job_id WHERE c.id = $1 FOR UPDATE OF p
"""
# The child's parent, once its cancel was accepted and none of its children is running.
STOPPED_PARENT = """
SELECT p.id FROM jobs c JOIN jobs p ON p.id = c.parent_job_id
WHERE c.id = $1 AND p.cancel_requested_at IS NOT NULL AND p.status = 'running'
  AND NOT EXISTS (SELECT FROM jobs s WHERE s.parent_job_id = p.id AND s.status = 'running')
"""
DISCARD_OPEN_CHILDREN = """
DELETE FROM vector_chunks v USING jobs c
WHERE c.parent_job_id = $1 AND c.status = ANY($2::text[]) AND v.job_id = c.id AND NOT v.live
"""
# Every child not yet terminal (pending or running) → cancelled, with its event.
CANCEL_OPEN_CHILDREN = """
WITH moved AS (
    UPDATE jobs SET status = $3, completed_at = clock_timestamp()
    WHERE parent_job_id = $1 AND status = ANY($4::text[])
    RETURNING id
), events AS (
    INSERT INTO job_events (job_id, step, status, details)
    SELECT id, $5, $6, $2::jsonb FROM moved
)
SELECT count(*) FROM moved
"""


@dataclass(frozen=True)
class IndexItem:
    status: JobStatus
    stopping: bool
    parameters: dict[str, Any]
    store_id: str | None
    engine: str | None
    embedding_model: str | None
    dimensions: int | None
    result_id: str | None
    file_id: str | None
    chunks_json: str | None  # decoded by the caller, off the event loop
    staged: int  # chunks an earlier attempt already staged (pages are written in order)


@dataclass(frozen=True)
class Page:
    store_id: str
    result_id: str
    file_id: str
    metadata: dict[str, Any]
    dimensions: int
    first_index: int
    contents: list[str]
    blocks_json: list[str]
    vectors: list[list[float]]  # one row per chunk, each `dimensions` long


async def index_item(conn: Conn, child_id: str) -> IndexItem | None:
    row = await conn.fetchrow(INDEX_ITEM, child_id)
    if row is None:
        return None
    return IndexItem(
        status=JobStatus(row["status"]),
        stopping=row["stopping"],
        parameters=json.loads(row["parameters"]),
        store_id=row["store_id"],
        engine=row["engine"],
        embedding_model=row["embedding_model"],
        dimensions=row["dimensions"],
        result_id=row["result_id"],
        file_id=row["source_document_id"],
        chunks_json=row["chunks"],
        staged=row["staged"],
    )


async def stage_page(conn: Connection, child_id: str, page: Page) -> bool:
    """Stage one page through the fence; False (nothing written) once the child must stop."""
    async with conn.transaction():
        if await conn.fetchval(FENCE, child_id) is None:
            return False
        indexes = list(range(page.first_index, page.first_index + len(page.contents)))
        await conn.execute(
            STAGE_PAGE,
            child_id,
            page.store_id,
            page.result_id,
            page.file_id,
            json.dumps(page.metadata),
            page.dimensions,
            indexes,
            page.contents,
            page.blocks_json,
            page.vectors,
        )
    return True


async def publish(
    conn: Connection,
    child_id: str,
    store_id: str,
    result_id: str,
    chunk_count: int,
    result: dict[str, Any],
) -> bool:
    """Make the child's chunks live in place of the parse result's previous ones and end the
    child `succeeded`, in one transaction; False (nothing changed) once it must stop."""
    async with conn.transaction():
        if await conn.fetchval(FENCE, child_id) is None:
            return False
        await conn.execute(DROP_PREVIOUS, store_id, result_id, child_id)
        for first in range(0, chunk_count, PUBLISH_PAGE):
            await conn.execute(GO_LIVE, child_id, first, first + PUBLISH_PAGE)
        return await transition(
            conn, child_id, Transition(JobStatus.SUCCEEDED, details=result, result=result)
        )


async def settle_child(
    conn: Connection, child_id: str, change: Transition
) -> tuple[bool, str | None]:
    """A child that stops (cancelled or failed): its staged rows go with the settling.
    (moved, the parent to settle `cancelled` now that no child of it runs, or None)."""
    async with conn.transaction():
        await conn.execute(LOCK_PARENT, child_id)
        await conn.execute(DISCARD, child_id)
        moved = await transition(conn, child_id, change)
        stopped: str | None = await conn.fetchval(STOPPED_PARENT, child_id)
    return moved, stopped


async def cancel_open_children(conn: Connection, parent_id: str, reason: str | None) -> int:
    """Every child still pending or running → cancelled, its staged rows deleted."""
    open_states = status_values(NON_TERMINAL_STATUSES)
    step = STEP_OF[JobStatus.CANCELLED]
    details = json.dumps({"reason": reason or "vector store job cancelled"})
    async with conn.transaction():
        await conn.execute(DISCARD_OPEN_CHILDREN, parent_id, open_states)
        moved: int = await conn.fetchval(
            CANCEL_OPEN_CHILDREN,
            parent_id,
            details,
            JobStatus.CANCELLED.value,
            open_states,
            step.name,
            step.status.value,
        )
    return moved
