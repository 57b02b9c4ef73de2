"""Versioned SQL migrations, applied in order, each in its own transaction.

An advisory lock serialises concurrent runners (several API replicas starting at once):
the second waits, then finds nothing left to apply.
"""

import logging
from importlib import resources

import asyncpg

log = logging.getLogger(__name__)

# Arbitrary but fixed: the advisory lock id that guards migrations.
MIGRATION_LOCK_ID = 0x646F636B6574  # "docket"

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     text PRIMARY KEY,
    applied_at  timestamptz NOT NULL DEFAULT clock_timestamp()
)
"""
APPLIED = "SELECT version FROM schema_migrations"
RECORD = "INSERT INTO schema_migrations (version) VALUES ($1)"


def migration_files() -> list[tuple[str, str]]:
    """(version, sql) pairs sorted by version; the version is the file name's stem."""
    folder = resources.files("db") / "migrations"
    found = [
        (entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(found)


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply pending migrations; returns the versions applied now."""
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
    try:
        await conn.execute(CREATE_TABLE)
        done = {row["version"] for row in await conn.fetch(APPLIED)}
        for version, sql in migration_files():
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(RECORD, version)
            log.info("applied migration %s", version)
            applied_now.append(version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_ID)
    return applied_now
