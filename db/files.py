"""Files: metadata rows; the bytes live in content-addressed storage (`core.storage`)."""

from dataclasses import dataclass
from datetime import datetime

from core.enums import FileStatus
from db.accounts import Key, ProjectGate, Verdict
from db.pagination import Filters, Listing, Page, PageRequest, fetch_page
from db.pool import Conn

FILE_JSON = """json_build_object(
    'id', f.id, 'project_id', f.project_id, 'filename', f.filename,
    'size_bytes', f.size_bytes, 'mime_type', f.mime_type, 'status', f.status,
    'created_at', f.created_at, 'storage_key', f.storage_key, 'object', 'file')::text"""

# Scoping through the project's account in every statement: another account's ids are 404.
IN_ACCOUNT = """f.project_id = $2
    AND EXISTS (SELECT 1 FROM projects p WHERE p.id = f.project_id AND p.account_id = $3)"""

INSERT_FILE = f"""
INSERT INTO files AS f (id, project_id, filename, size_bytes, mime_type, status, storage_key)
VALUES ($1, $2, $3, $4, $5, 'uploaded', $6)
RETURNING {FILE_JSON}
"""
GET_FILE = f"SELECT {FILE_JSON} FROM files f WHERE f.id = $1 AND {IN_ACCOUNT}"
FILE_IN_PROJECT = f"SELECT {FILE_JSON} FROM files f WHERE f.id = $1 AND f.project_id = $2"
GET_FILE_ROW = f"""
SELECT f.id, f.filename, f.mime_type, f.storage_key, f.status, f.size_bytes
FROM files f WHERE f.id = $1 AND {IN_ACCOUNT}
"""
GET_FILE_ROW_UNSCOPED = """
SELECT f.id, f.filename, f.mime_type, f.storage_key, f.status, f.size_bytes
FROM files f WHERE f.id = $1 AND f.project_id = $2
"""
DELETE_FILE = f"""
UPDATE files f SET status = $4 WHERE f.id = $1 AND {IN_ACCOUNT}
RETURNING {FILE_JSON}
"""
LISTING = Listing.of("files", "f", FILE_JSON, filename="text")


@dataclass(frozen=True)
class FileRow:
    id: str
    filename: str
    mime_type: str
    storage_key: str
    status: FileStatus
    size_bytes: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", FileStatus(self.status))


@dataclass(frozen=True)
class FileFilters:
    ids: list[str] | None = None
    created_at_start: datetime | None = None
    created_at_end: datetime | None = None
    include_deleted: bool = False


async def insert(
    conn: Conn, file_id: str, project_id: str, filename: str, size: int, mime: str, key: str
) -> str:
    body: str = await conn.fetchval(INSERT_FILE, file_id, project_id, filename, size, mime, key)
    return body


async def get_row(conn: Conn, file_id: str, project_id: str, account_id: str) -> FileRow | None:
    row = await conn.fetchrow(GET_FILE_ROW, file_id, project_id, account_id)
    return FileRow(**dict(row)) if row else None


async def get_for(conn: Conn, key: Key, file_id: str, project_id: str) -> Verdict:
    """A file (JSON) for a caller: one authenticated statement."""
    return await key.read_in_project(conn, project_id, FILE_IN_PROJECT, file_id)


async def get_row_unscoped(conn: Conn, file_id: str, project_id: str) -> FileRow | None:
    """For signed download URLs, whose signature (not a key) is the authorisation."""
    row = await conn.fetchrow(GET_FILE_ROW_UNSCOPED, file_id, project_id)
    return FileRow(**dict(row)) if row else None


async def soft_delete(conn: Conn, file_id: str, project_id: str, account_id: str) -> str | None:
    body: str | None = await conn.fetchval(
        DELETE_FILE, file_id, project_id, account_id, FileStatus.DELETED.value
    )
    return body


def _filters(project_id: str, f: FileFilters) -> Filters:
    where = Filters.start()
    where.add("f.project_id = {}", project_id)
    if not f.include_deleted:
        where.add("f.status <> {}", FileStatus.DELETED.value)
    if f.ids:
        where.add("f.id = ANY({}::text[])", f.ids)
    if f.created_at_start is not None:
        where.add("f.created_at >= {}", f.created_at_start)
    if f.created_at_end is not None:
        where.add("f.created_at <= {}", f.created_at_end)
    return where


async def list_page(
    conn: Conn, project_id: str, f: FileFilters, page: PageRequest, gate: ProjectGate | None = None
) -> tuple[Page, int]:
    """Without a `gate`, the caller has already checked the project's account."""
    return await fetch_page(conn, LISTING, _filters(project_id, f), page, gate)
