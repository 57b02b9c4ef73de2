"""Vector stores: the rows, their listing, and the indexing jobs that fill them.

An indexing job is a `vector_store` parent row (source_id = the store) with one child
`vector_store` row per parse result (source_id = the parse result), so the kernel counts
its `progress` from the children like a batch's. `file_counts` of a store are counted from
the latest child of each parse result ever added to it.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.enums import CREATED_STEP, JobOperationType
from db.accounts import Key, ProjectGate, Verdict
from db.jobs import NOT_TERMINAL, NewJob, child_status, insert
from db.pagination import Filters, Listing, Page, PageRequest, fetch_page
from db.pool import Conn, Connection

OPERATION = JobOperationType.VECTOR_STORE.value
# The jobs that index into a store (named as their source): its own, and batch parses.
INDEXING = f"'{OPERATION}', '{JobOperationType.BATCH_PARSE.value}'"

FILE_COUNTS_JSON = f"""(
    SELECT json_build_object(
        'total', count(*),
        'pending', count(*) FILTER (WHERE latest.status IN ({NOT_TERMINAL})),
        'succeeded', count(*) FILTER (WHERE latest.status = 'succeeded'),
        'failed', count(*) FILTER (WHERE latest.status = 'failed'),
        'cancelled', count(*) FILTER (WHERE latest.status = 'cancelled'))
    FROM (SELECT DISTINCT ON (c.source_id) {child_status("c", "p")} AS status
          FROM jobs p JOIN jobs c ON c.parent_job_id = p.id
          WHERE p.operation IN ({INDEXING}) AND p.parent_job_id IS NULL AND p.source_id = s.id
            AND c.operation = '{OPERATION}'
          ORDER BY c.source_id, c.created_at DESC, c.id DESC) AS latest)"""

STORE_JSON = f"""json_build_object(
    'id', s.id, 'object', 'vector_store', 'project_id', s.project_id, 'name', s.name,
    'engine', s.engine, 'embedding_model', s.embedding_model, 'dimensions', s.dimensions,
    'created_at', s.created_at, 'file_counts', {FILE_COUNTS_JSON})::text"""

INSERT_STORE = f"""
WITH s AS (
    INSERT INTO vector_stores (id, project_id, name, engine, embedding_model, dimensions)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (project_id, name) DO NOTHING
    RETURNING *
)
SELECT {STORE_JSON} FROM s
"""
STORE_IN_PROJECT = f"SELECT {STORE_JSON} FROM vector_stores s WHERE s.id = $1 AND s.project_id = $2"
# The store's engine, model and width (one text value for a keyed read).
STORE_SPEC_IN_PROJECT = """
SELECT json_build_object('engine', s.engine, 'embedding_model', s.embedding_model,
                         'dimensions', s.dimensions)::text
FROM vector_stores s WHERE s.id = $1 AND s.project_id = $2
"""
OPEN_JOBS = f"""
SELECT id FROM jobs
WHERE operation IN ({INDEXING}) AND parent_job_id IS NULL AND source_id = $1
  AND status IN ({NOT_TERMINAL})
ORDER BY id
"""
# The chunks go with the row (ON DELETE CASCADE): one statement, one transaction.
DELETE_STORE = "DELETE FROM vector_stores WHERE id = $1 AND project_id = $2 RETURNING id"

RESULTS_IN_PROJECT = "SELECT id FROM parse_results WHERE project_id = $1 AND id = ANY($2::text[])"
# Ids naming a job of the project that makes a parse result but has not succeeded (yet):
# its result does not exist, and the caller is told why.
UNFINISHED = """
SELECT id, status FROM jobs
WHERE project_id = $1 AND id = ANY($2::text[]) AND operation IN ('parse', 'chunk')
  AND status <> 'succeeded'
ORDER BY array_position($2::text[], id)
"""

INSERT_CHILDREN = f"""
WITH children AS (
    INSERT INTO jobs (id, project_id, operation, source_id, correlation_id, parent_job_id,
                      child_position)
    SELECT c.id, $2, '{OPERATION}', c.source_id, $3, $1, c.position
    FROM unnest($4::text[], $5::text[]) WITH ORDINALITY AS c(id, source_id, position)
    RETURNING id
)
INSERT INTO job_events (job_id, step, status, details)
SELECT id, $6, $7, json_build_object('vector_store_job_id', $1::text)::jsonb
FROM children
"""

LISTING = Listing.of("vector_stores", "s", STORE_JSON, name="text")


@dataclass(frozen=True)
class NewStore:
    id: str
    project_id: str
    name: str
    engine: str
    embedding_model: str
    dimensions: int


@dataclass(frozen=True)
class StoreFilters:
    name: str | None = None
    engine: str | None = None
    ids: list[str] | None = None
    created_at_start: datetime | None = None
    created_at_end: datetime | None = None


async def insert_store(conn: Conn, store: NewStore) -> str | None:
    """The new store's JSON; None if the project already has a store of that name."""
    body: str | None = await conn.fetchval(
        INSERT_STORE,
        store.id,
        store.project_id,
        store.name,
        store.engine,
        store.embedding_model,
        store.dimensions,
    )
    return body


async def get_for(conn: Conn, key: Key, store_id: str, project_id: str) -> Verdict:
    return await key.read_in_project(conn, project_id, STORE_IN_PROJECT, store_id)


async def spec_for(conn: Conn, key: Key, store_id: str, project_id: str) -> Verdict:
    return await key.read_in_project(conn, project_id, STORE_SPEC_IN_PROJECT, store_id)


async def get(conn: Conn, store_id: str, project_id: str) -> str | None:
    body: str | None = await conn.fetchval(STORE_IN_PROJECT, store_id, project_id)
    return body


def _filters(project_id: str, f: StoreFilters) -> Filters:
    where = Filters.start()
    where.add("s.project_id = {}", project_id)
    if f.name is not None:
        where.add("s.name = {}", f.name)
    if f.engine is not None:
        where.add("s.engine = {}", f.engine)
    if f.ids:
        where.add("s.id = ANY({}::text[])", f.ids)
    if f.created_at_start is not None:
        where.add("s.created_at >= {}", f.created_at_start)
    if f.created_at_end is not None:
        where.add("s.created_at <= {}", f.created_at_end)
    return where


async def list_page(
    conn: Conn, project_id: str, f: StoreFilters, page: PageRequest, gate: ProjectGate
) -> tuple[Page, int]:
    return await fetch_page(conn, LISTING, _filters(project_id, f), page, gate)


async def open_jobs(conn: Conn, store_id: str) -> list[str]:
    """The store's indexing jobs that are not terminal yet."""
    return [row["id"] for row in await conn.fetch(OPEN_JOBS, store_id)]


async def delete(conn: Conn, store_id: str, project_id: str) -> bool:
    return await conn.fetchval(DELETE_STORE, store_id, project_id) is not None


async def missing_results(conn: Conn, project_id: str, ids: list[str]) -> list[str]:
    """The ids that name no parse result of the project (parse results exist only for
    succeeded jobs: the result fence), in the order given."""
    found = {row["id"] for row in await conn.fetch(RESULTS_IN_PROJECT, project_id, ids)}
    return [result_id for result_id in ids if result_id not in found]


async def unfinished(conn: Conn, project_id: str, ids: list[str]) -> list[tuple[str, str]]:
    """(id, status) of each id that names a parse or rechunk job not succeeded."""
    return [(row["id"], row["status"]) for row in await conn.fetch(UNFINISHED, project_id, ids)]


async def insert_indexing_job(
    conn: Connection, job: NewJob, child_ids: list[str], result_ids: list[str]
) -> None:
    """The parent row and one child per parse result, in one transaction."""
    details: dict[str, Any] = {"vector_store_id": job.source_id, "parse_results": len(result_ids)}
    async with conn.transaction():
        await insert(conn, job, details)
        await conn.execute(
            INSERT_CHILDREN,
            job.id,
            job.project_id,
            job.correlation_id,
            child_ids,
            result_ids,
            CREATED_STEP.name,
            CREATED_STEP.status.value,
        )
