"""`docket migrate` against a Postgres where the `vector` extension cannot be created: it
stops with a message naming the extension, and migration 0006 leaves nothing behind.

The real way this happens on a server that has pgvector installed: the migrating role is
not a superuser, and pgvector is not a trusted extension (its control file), so
`CREATE EXTENSION vector` is refused exactly as on a server without it."""

import asyncio
import os
import sys
import uuid

import asyncpg

from db.pool import SERVER_SETTINGS


async def test_migrate_stops_naming_the_extension(postgres: str) -> None:
    role = f"plain_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres)
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN")  # not a superuser
        await admin.execute(f"CREATE DATABASE {role} OWNER {role}")
    finally:
        await admin.close()
    url = postgres.replace("postgres@", f"{role}@").rsplit("/", 1)[0] + f"/{role}"

    run = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "docket",
        "migrate",
        env={**os.environ, "DATABASE_URL": url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(run.communicate(), timeout=60)
    stderr = err.decode()
    assert run.returncode != 0
    assert 'extension "vector" (pgvector)' in stderr, stderr[-2000:]

    conn = await asyncpg.connect(url, server_settings=SERVER_SETTINGS)
    try:
        applied = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        assert "0004_parse_result_pages" in applied  # the ones before it went in
        assert not any(version.startswith("0006") for version in applied)
        assert await conn.fetchval("SELECT to_regclass('vector_stores')") is None
        assert await conn.fetchval("SELECT to_regclass('vector_chunks')") is None
        extensions = await conn.fetchval(
            "SELECT count(*) FROM pg_extension WHERE extname = 'vector'"
        )
        assert extensions == 0
    finally:
        await conn.close()
