"""`Idempotency-Key` on job creation (scoped per account).

Same key, same request: the job the first request created (200, no second job or
workflow). Same key, different request: 409. The key is claimed in the transaction that
inserts the job, so two concurrent requests with one key cannot both create.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Header, HTTPException, status

from db import idempotency
from db.pool import Conn, Connection

MAX_KEY_LENGTH = 255

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        description="Repeat a creation safely: the same key and body return the same job.",
    ),
]


class _LostRace(Exception):
    """Another request claimed the key first; our transaction is rolled back."""


def request_hash(route: str, body: dict[str, Any]) -> bytes:
    canonical = json.dumps([route, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).digest()


def _existing(claimed: idempotency.Claimed, digest: bytes, key: str) -> str:
    if claimed.request_hash != digest:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"Idempotency-Key {key!r} was already used with a different request",
        )
    return claimed.job_id


async def create_once(
    pool: Any,
    account: str,
    key: str | None,
    digest: bytes,
    create: Callable[[Connection], Awaitable[str]],
) -> tuple[str, bool]:
    """Run `create` (which inserts the job and returns its id, atomically: one statement
    or its own transaction) at most once per key. Returns (job id, whether this call
    created it)."""
    async with pool.acquire() as conn:
        if key is None:
            return await create(conn), True
        try:
            async with conn.transaction():
                claimed = await idempotency.find(conn, account, key)
                if claimed is not None:
                    return _existing(claimed, digest, key), False
                job_id = await create(conn)
                if not await idempotency.claim(conn, account, key, digest, job_id):
                    raise _LostRace
                return job_id, True
        except _LostRace:
            winner = await idempotency.find(conn, account, key)
            assert winner is not None
            return _existing(winner, digest, key), False


async def forget(pool: Conn, account: str, key: str | None, job_id: str) -> None:
    if key is not None:
        await idempotency.release(pool, account, key, job_id)
