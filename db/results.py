"""Parse results, and the fenced write that stores one and finishes its job."""

import json
from dataclasses import dataclass
from typing import Any

from core.enums import STEP_OF, FileStatus, JobStatus, sources_of
from db.accounts import Key, ProjectGate, Verdict
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

RESULT_IN_PROJECT = (
    f"SELECT {RESULT_JSON} FROM parse_results r WHERE r.id = $1 AND r.project_id = $2"
)

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
    UPDATE jobs SET status = $9, completed_at = clock_timestamp(),
                    result = $3::jsonb
    WHERE id = $1 AND status = ANY($10::text[]) AND cancel_requested_at IS NULL
    RETURNING id, project_id, source_id, started_at
), stored AS (
    INSERT INTO parse_results (id, project_id, job_id, source_document_id, engine,
                               page_count, chunks, pages, source_result_id)
    SELECT $2, project_id, id, COALESCE($15, source_id), $4, $5, $6::jsonb, $14::jsonb, $16
    FROM moved
), events AS (
    INSERT INTO job_events (job_id, step, status, details, duration_ms, timestamp)
    SELECT id, e.step, e.status, e.details, e.duration_ms, e.ts FROM moved, (VALUES
        ($13, 'completed', $7::jsonb, $8::bigint, clock_timestamp()),
        ($11, $12, NULL::jsonb, NULL::bigint, clock_timestamp() + interval '1 microsecond')
    ) AS e(step, status, details, duration_ms, ts)
)
SELECT count(*) FROM moved
"""

# What a chunk job works on: the stored pages of its source result (job.source_id).
CHUNK_ITEM = """
SELECT j.status, j.parameters::text AS parameters, r.id AS result_id, r.engine,
       r.source_document_id, r.pages::text AS pages
FROM jobs j
JOIN parse_results r ON r.id = j.source_id AND r.project_id = j.project_id
WHERE j.id = $1
"""
# Whether a result of the project can be rechunked: NULL = no such result, false = it has no
# stored pages (made before rechunking existed).
RECHUNKABLE = """
SELECT r.pages IS NOT NULL FROM parse_results r WHERE r.id = $1 AND r.project_id = $2
"""

LISTING = Listing.of("parse_results", "r", RESULT_SUMMARY_JSON)


@dataclass(frozen=True)
class WorkItem:
    status: JobStatus
    project_id: str
    source_id: str | None
    parameters: dict[str, Any]
    storage_key: str | None
    mime_type: str | None
    filename: str | None
    file_status: FileStatus | None


@dataclass(frozen=True)
class ChunkItem:
    status: JobStatus
    parameters: dict[str, Any]
    result_id: str
    engine: str
    source_document_id: str
    pages_json: str  # decoded by the caller, off the event loop


@dataclass(frozen=True)
class ParsedDocument:
    result_id: str
    engine: str
    page_count: int
    chunks: list[dict[str, Any]]
    parse_ms: int
    # `chunks`/`pages` already serialised, by a caller that did it off the event loop (a
    # few ms of CPU per document that would otherwise stall every other activity).
    chunks_json: str | None = None
    pages_json: str | None = None
    # The history step of the work ("Parse document", "Rechunk"), and for a result made
    # from another result (a rechunk) its source.
    work_step: str = "Parse document"
    source_result_id: str | None = None
    source_document_id: str | None = None


async def work_item(conn: Conn, job_id: str) -> WorkItem | None:
    row = await conn.fetchrow(WORK_ITEM, job_id)
    if row is None:
        return None
    values = dict(row)
    values["parameters"] = json.loads(values["parameters"])
    values["status"] = JobStatus(values["status"])
    if values["file_status"] is not None:
        values["file_status"] = FileStatus(values["file_status"])
    return WorkItem(**values)


async def chunk_item(conn: Conn, job_id: str) -> ChunkItem | None:
    row = await conn.fetchrow(CHUNK_ITEM, job_id)
    if row is None:
        return None
    return ChunkItem(
        status=JobStatus(row["status"]),
        parameters=json.loads(row["parameters"]),
        result_id=row["result_id"],
        engine=row["engine"],
        source_document_id=row["source_document_id"],
        pages_json=row["pages"] or "[]",
    )


async def rechunkable(conn: Conn, project_id: str, result_id: str) -> bool | None:
    """None: no such result in the project; False: it has no stored pages."""
    found: bool | None = await conn.fetchval(RECHUNKABLE, result_id, project_id)
    return found


async def store_and_succeed(conn: Conn, job_id: str, doc: ParsedDocument) -> bool:
    """Store the parse result and finish the job, atomically; False if the job is no longer
    running (cancelled or failed meanwhile) — then nothing is written."""
    result = {
        "parse_result_id": doc.result_id,
        "page_count": doc.page_count,
        "chunk_count": len(doc.chunks),
    }
    done = STEP_OF[JobStatus.SUCCEEDED]
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
        JobStatus.SUCCEEDED.value,
        sources_of(JobStatus.SUCCEEDED),
        done.name,
        done.status.value,
        doc.work_step,
        doc.pages_json,
        doc.source_document_id,
        doc.source_result_id,
    )
    return bool(moved)


async def get_for(conn: Conn, key: Key, result_id: str, project_id: str) -> Verdict:
    """A parse result (JSON with its chunks) for a caller: one authenticated statement."""
    return await key.read_in_project(conn, project_id, RESULT_IN_PROJECT, result_id)


async def list_page(
    conn: Conn, project_id: str, page: PageRequest, gate: ProjectGate | None = None
) -> tuple[Page, int]:
    """Without a `gate`, the caller has already checked the project's account."""
    where = Filters.start()
    where.add("r.project_id = {}", project_id)
    return await fetch_page(conn, LISTING, where, page, gate)
