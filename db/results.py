"""Parse results, and the fenced write that stores one and finishes its job."""

import json
from dataclasses import dataclass
from typing import Any

from db.accounts import ProjectGate
from db.pagination import Filters, Listing, Page, PageRequest, fetch_page
from db.pool import Conn

RESULT_JSON = """json_build_object(
    'id', r.id, 'object', 'parse_result', 'project_id', r.project_id,
    'source_document_id', r.source_document_id, 'job_id', r.job_id, 'engine', r.engine,
    'created_at', r.created_at, 'page_count', r.page_count, 'chunks', r.chunks)::text"""
RESULT_SUMMARY_JSON = """json_build_object(
    'id', r.id, 'object', 'parse_result', 'project_id', r.project_id,
    'source_document_id', r.source_document_id, 'job_id', r.job_id, 'engine', r.engine,
    'created_at', r.created_at, 'page_count', r.page_count,
    'chunk_count', jsonb_array_length(r.chunks))::text"""

GET_RESULT = f"""
SELECT {RESULT_JSON} FROM parse_results r
WHERE r.id = $1 AND r.project_id = $2
  AND EXISTS (SELECT 1 FROM projects p WHERE p.id = r.project_id AND p.account_id = $3)
"""

WORK_ITEM = """
SELECT j.status, j.project_id, j.source_id,
       COALESCE(b.parameters, j.parameters)::text AS parameters,
       f.storage_key, f.mime_type, f.filename, f.status AS file_status
FROM jobs j
LEFT JOIN files f ON f.id = j.source_id AND f.project_id = j.project_id
-- A batch's children read the parameters stored once on the batch row.
LEFT JOIN jobs b ON b.id = j.parent_job_id
WHERE j.id = $1
"""

# The fence: the result is inserted only through a job row that is still `running` with no
# cancel accepted, in the same statement that moves it to `succeeded`. A job cancelled or
# failed meanwhile, or whose cancel was answered 202, matches nothing, so a late activity
# can never attach a result to it (the row lock orders this against the cancel: see
# migration 0003).
STORE_AND_SUCCEED = """
WITH moved AS (
    UPDATE jobs SET status = 'succeeded', completed_at = clock_timestamp(),
                    result = $3::jsonb
    WHERE id = $1 AND status = 'running' AND cancel_requested_at IS NULL
    RETURNING id, project_id, source_id, started_at
), stored AS (
    INSERT INTO parse_results (id, project_id, job_id, source_document_id, engine,
                               page_count, chunks)
    SELECT $2, project_id, id, source_id, $4, $5, $6::jsonb FROM moved
), events AS (
    INSERT INTO job_events (job_id, step, status, details, duration_ms, timestamp)
    SELECT id, e.step, e.status, e.details, e.duration_ms, e.ts FROM moved, (VALUES
        ('Parse document', 'completed', $7::jsonb, $8::bigint, clock_timestamp()),
        ('Job succeeded', 'succeeded', NULL::jsonb, NULL::bigint,
         clock_timestamp() + interval '1 microsecond')
    ) AS e(step, status, details, duration_ms, ts)
)
SELECT count(*) FROM moved
"""

LISTING = Listing.of("parse_results", "r", RESULT_SUMMARY_JSON)


@dataclass(frozen=True)
class WorkItem:
    status: str
    project_id: str
    source_id: str | None
    parameters: dict[str, Any]
    storage_key: str | None
    mime_type: str | None
    filename: str | None
    file_status: str | None


@dataclass(frozen=True)
class ParsedDocument:
    result_id: str
    engine: str
    page_count: int
    chunks: list[dict[str, Any]]
    parse_ms: int
    # `chunks` already serialised, by a caller that did it off the event loop (a few ms of
    # CPU per document that would otherwise stall every other activity of the worker).
    chunks_json: str | None = None


async def work_item(conn: Conn, job_id: str) -> WorkItem | None:
    row = await conn.fetchrow(WORK_ITEM, job_id)
    if row is None:
        return None
    values = dict(row)
    values["parameters"] = json.loads(values["parameters"])
    return WorkItem(**values)


async def store_and_succeed(conn: Conn, job_id: str, doc: ParsedDocument) -> bool:
    """Store the parse result and finish the job, atomically; False if the job is no longer
    running (cancelled or failed meanwhile) — then nothing is written."""
    result = {
        "parse_result_id": doc.result_id,
        "page_count": doc.page_count,
        "chunk_count": len(doc.chunks),
    }
    moved = await conn.fetchval(
        STORE_AND_SUCCEED,
        job_id,
        doc.result_id,
        json.dumps(result),
        doc.engine,
        doc.page_count,
        json.dumps(doc.chunks) if doc.chunks_json is None else doc.chunks_json,
        json.dumps(
            {"engine": doc.engine, "page_count": doc.page_count, "chunk_count": len(doc.chunks)}
        ),
        doc.parse_ms,
    )
    return bool(moved)


async def list_page(
    conn: Conn, project_id: str, page: PageRequest, gate: ProjectGate | None = None
) -> tuple[Page, int]:
    """Without a `gate`, the caller has already checked the project's account."""
    where = Filters.start()
    where.add("r.project_id = {}", project_id)
    return await fetch_page(conn, LISTING, where, page, gate)
