"""Projects: SQL with $n parameters; Postgres renders the JSON the API returns."""

from dataclasses import dataclass
from datetime import datetime

from db.accounts import Key, Verdict
from db.pagination import Filters, Listing, Page, PageRequest, fetch_page
from db.pool import Conn

PROJECT_JSON = """json_build_object(
    'id', p.id, 'name', p.name, 'status', p.status, 'created_at', p.created_at,
    'configuration', p.configuration, 'archived_at', p.archived_at)::text"""

INSERT_PROJECT = f"""
INSERT INTO projects AS p (id, account_id, name, configuration) VALUES ($1, $2, $3, $4::jsonb)
RETURNING {PROJECT_JSON}
"""
GET_PROJECT = f"SELECT {PROJECT_JSON} FROM projects p WHERE p.id = $1 AND p.account_id = $2"
# Each field is replaced only when given; archiving stamps archived_at, un-archiving clears it.
UPDATE_PROJECT = f"""
UPDATE projects p SET
    name = COALESCE($3, p.name),
    configuration = CASE WHEN $4 THEN $5::jsonb ELSE p.configuration END,
    status = COALESCE($6, p.status),
    archived_at = CASE
        WHEN $6 = 'archived' AND p.status <> 'archived' THEN clock_timestamp()
        WHEN $6 = 'active' THEN NULL
        ELSE p.archived_at END
WHERE p.id = $1 AND p.account_id = $2
RETURNING {PROJECT_JSON}
"""
LISTING = Listing.of("projects", "p", PROJECT_JSON, name="text")


@dataclass(frozen=True)
class ProjectFilters:
    include_archived: bool = False
    ids: list[str] | None = None
    statuses: list[str] | None = None
    created_at_start: datetime | None = None
    created_at_end: datetime | None = None
    name: str | None = None


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def insert(
    conn: Conn,
    project_id: str,
    account_id: str,
    name: str,
    configuration: str | None,
) -> str:
    body: str = await conn.fetchval(INSERT_PROJECT, project_id, account_id, name, configuration)
    return body


async def update(
    conn: Conn,
    project_id: str,
    account_id: str,
    *,
    name: str | None,
    configuration_given: bool,
    configuration: str | None,
    status: str | None,
) -> str | None:
    body: str | None = await conn.fetchval(
        UPDATE_PROJECT, project_id, account_id, name, configuration_given, configuration, status
    )
    return body


def _filters(account_id: str, f: ProjectFilters) -> Filters:
    where = Filters.start()
    where.add("p.account_id = {}", account_id)
    if f.statuses:
        where.add("p.status = ANY({}::text[])", f.statuses)
    elif not f.include_archived:
        where.add("p.status <> {}", "archived")
    if f.ids:
        where.add("p.id = ANY({}::text[])", f.ids)
    if f.created_at_start is not None:
        where.add("p.created_at >= {}", f.created_at_start)
    if f.created_at_end is not None:
        where.add("p.created_at <= {}", f.created_at_end)
    if f.name:
        where.add("p.name ILIKE {}", f"%{escape_like(f.name)}%")
    return where


async def list_page(
    conn: Conn, account_id: str, f: ProjectFilters, page: PageRequest
) -> tuple[Page, int]:
    return await fetch_page(conn, LISTING, _filters(account_id, f), page)


async def get_for(conn: Conn, key: Key, project_id: str) -> Verdict:
    """A project (JSON) for a caller: one authenticated statement."""
    return await key.read(conn, GET_PROJECT, project_id)
