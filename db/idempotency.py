"""Idempotency keys: the first request with a key creates the job, repeats get it back."""

from dataclasses import dataclass

from db.pool import Conn

FIND = "SELECT request_hash, job_id FROM idempotency_keys WHERE account_id = $1 AND key = $2"
# A concurrent claim of the same key makes this wait for that transaction, then do nothing.
CLAIM = """
INSERT INTO idempotency_keys (account_id, key, request_hash, job_id) VALUES ($1, $2, $3, $4)
ON CONFLICT (account_id, key) DO NOTHING
RETURNING job_id
"""
RELEASE = "DELETE FROM idempotency_keys WHERE account_id = $1 AND key = $2 AND job_id = $3"


@dataclass(frozen=True)
class Claimed:
    request_hash: bytes
    job_id: str


async def find(conn: Conn, account_id: str, key: str) -> Claimed | None:
    row = await conn.fetchrow(FIND, account_id, key)
    return None if row is None else Claimed(bytes(row["request_hash"]), row["job_id"])


async def claim(conn: Conn, account_id: str, key: str, request_hash: bytes, job_id: str) -> bool:
    return await conn.fetchval(CLAIM, account_id, key, request_hash, job_id) is not None


async def release(conn: Conn, account_id: str, key: str, job_id: str) -> None:
    """Forget a key whose job could not be started, so a retry with it creates a new job."""
    await conn.execute(RELEASE, account_id, key, job_id)
