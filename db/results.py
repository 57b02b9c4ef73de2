"""Parse results, and the fenced write that stores one and finishes its job.

A result's chunks are rows of parse_result_chunks (migration 0010), written in batches of
CHUNKS_PER_BATCH inside the fenced transaction and read back in order through the
`result_chunks` view (which also shows the jsonb array of results stored before it).
Every result is stored this way, small ones too: one write path and one read path, whatever
the size, for one or two round trips more than a single statement would take.
"""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg

from core.enums import STEP_OF, FileStatus, JobStatus, sources_of
from db.accounts import Key, ProjectGate, Verdict
from db.pagination import Filters, Listing, Page, PageRequest, fetch_page
from db.pool import Conn, Connection

# Chunks per INSERT: a few MB of JSON per statement (a chunk is at most a few thousand
# tokens), well inside the command timeout however many chunks a result has.
CHUNKS_PER_BATCH = 500

# The chunks of result {} as one JSON array, in order (Postgres builds it).
CHUNKS_OF = """(SELECT COALESCE(json_agg(c.chunk ORDER BY c.position), '[]'::json)
    FROM result_chunks c WHERE c.result_id = {})"""
RESULT_JSON = f"""json_build_object(
    'id', r.id, 'object', 'parse_result', 'project_id', r.project_id,
    'source_document_id', r.source_document_id, 'job_id', r.job_id, 'engine', r.engine,
    'created_at', r.created_at, 'page_count', r.page_count,
    'chunks', {CHUNKS_OF.format("r.id")})::text"""
RESULT_SUMMARY_JSON = """json_build_object(
    'id', r.id, 'object', 'parse_result', 'project_id', r.project_id,
    'source_document_id', r.source_document_id, 'job_id', r.job_id, 'engine', r.engine,
    'created_at', r.created_at, 'page_count', r.page_count,
    'chunk_count', COALESCE(r.chunk_count, jsonb_array_length(r.chunks)))::text"""

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

# The fence: the result is stored only through a job row that is still `running` with no
# cancel accepted, locked first in the transaction that stores the result and its chunks and
# moves it to `succeeded`. A job cancelled or failed meanwhile, or whose cancel was answered
# 202, matches nothing, so a late activity can never attach a result to it; and while the
# lock is held a cancel's mark waits for the commit, then finds the job succeeded (see
# migration 0003).
LOCK_RUNNING = """
SELECT 1 FROM jobs
WHERE id = $1 AND status = ANY($2::text[]) AND cancel_requested_at IS NULL
FOR UPDATE
"""
INSERT_RESULT = """
INSERT INTO parse_results (id, project_id, job_id, source_document_id, engine, page_count,
                           chunk_count, pages, source_result_id)
SELECT $2, project_id, id, COALESCE($3, source_id), $4, $5, $6, $7::jsonb, $8
FROM jobs WHERE id = $1
"""
INSERT_CHUNKS = """
INSERT INTO parse_result_chunks (result_id, position, chunk)
SELECT $1, $2 + (x.ord - 1)::integer, x.chunk
FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS x (chunk, ord)
"""
SUCCEED = """
WITH moved AS (
    UPDATE jobs SET status = $2, completed_at = clock_timestamp(), result = $3::jsonb
    WHERE id = $1 AND status = ANY($4::text[]) AND cancel_requested_at IS NULL
    RETURNING id
), events AS (
    INSERT INTO job_events (job_id, step, status, details, duration_ms, timestamp)
    SELECT id, e.step, e.status, e.details, e.duration_ms, e.ts FROM moved, (VALUES
        ($5, 'completed', $6::jsonb, $7::bigint, clock_timestamp()),
        ($8, $9, NULL::jsonb, NULL::bigint, clock_timestamp() + interval '1 microsecond')
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


@contextlib.asynccontextmanager
async def _connection(conn: Conn) -> AsyncIterator[Connection]:
    if isinstance(conn, asyncpg.Pool):
        async with conn.acquire() as held:
            yield held
    else:
        yield conn


async def _chunk_batches(doc: ParsedDocument) -> AsyncIterator[tuple[int, str]]:
    """(first position, JSON array) per batch; serialised off the event loop (CPU work)."""
    if len(doc.chunks) <= CHUNKS_PER_BATCH and doc.chunks_json is not None:
        yield 0, doc.chunks_json  # already serialised by the caller
        return
    for start in range(0, len(doc.chunks), CHUNKS_PER_BATCH):
        batch = doc.chunks[start : start + CHUNKS_PER_BATCH]
        yield start, await asyncio.to_thread(json.dumps, batch)


async def store_and_succeed(conn: Conn, job_id: str, doc: ParsedDocument) -> bool:
    """Store the parse result with its chunks and finish the job, in one transaction; False
    if the job is no longer running (cancelled or failed meanwhile) — then nothing is
    written."""
    result = {
        "parse_result_id": doc.result_id,
        "page_count": doc.page_count,
        "chunk_count": len(doc.chunks),
    }
    details = {"engine": doc.engine, "page_count": doc.page_count, "chunk_count": len(doc.chunks)}
    done = STEP_OF[JobStatus.SUCCEEDED]
    sources = sources_of(JobStatus.SUCCEEDED)
    async with _connection(conn) as held, held.transaction():
        if await held.fetchval(LOCK_RUNNING, job_id, sources) is None:
            return False
        await held.execute(
            INSERT_RESULT,
            job_id,
            doc.result_id,
            doc.source_document_id,
            doc.engine,
            doc.page_count,
            len(doc.chunks),
            doc.pages_json,
            doc.source_result_id,
        )
        async for start, batch in _chunk_batches(doc):
            await held.execute(INSERT_CHUNKS, doc.result_id, start, batch)
        moved = await held.fetchval(
            SUCCEED,
            job_id,
            JobStatus.SUCCEEDED.value,
            json.dumps(result),
            sources,
            doc.work_step,
            json.dumps(details),
            doc.parse_ms,
            done.name,
            done.status.value,
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
