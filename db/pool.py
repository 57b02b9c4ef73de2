"""Connection pool construction: one place decides timeouts and session settings."""

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from docket.settings import Settings

# Anything that runs a statement: a pool, a connection, or one borrowed from a pool.
Conn = asyncpg.Connection | asyncpg.Pool | PoolConnectionProxy
# A single connection (a transaction needs one).
Connection = asyncpg.Connection | PoolConnectionProxy

# Every session speaks UTC so that Postgres renders ISO 8601 timestamps with `+00:00`.
# force_custom_plan: the list queries' filters vary widely in selectivity; a generic plan
# cached after five executions once turned a 2 ms capped count into 40-60 ms.
SERVER_SETTINGS = {
    "timezone": "UTC",
    "application_name": "docket",
    "plan_cache_mode": "force_custom_plan",
}


def require_database_url(settings: Settings) -> str:
    if not settings.database_url:
        raise RuntimeError(
            "DATABASE_URL is not set: run `docket dev` for the embedded stack, "
            "or point DATABASE_URL at a Postgres server"
        )
    return settings.database_url


async def create_pool(settings: Settings) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        require_database_url(settings),
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
        command_timeout=settings.db_command_timeout_seconds,
        timeout=settings.db_command_timeout_seconds,
        server_settings=SERVER_SETTINGS,
    )
    assert pool is not None
    return pool
