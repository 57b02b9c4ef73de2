"""Accounts and API keys. Keys are shown once at creation; only their sha256 is stored."""

import functools
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from db.pool import Conn, Connection
from docket.ids import IdPrefix, new_id

KEY_PREFIX = "dk_"
KEY_BYTES = 32

INSERT_ACCOUNT = "INSERT INTO accounts (id, name) VALUES ($1, $2)"
FIND_ACCOUNT_BY_NAME = "SELECT id FROM accounts WHERE name = $1 ORDER BY created_at LIMIT 1"
INSERT_KEY = "INSERT INTO api_keys (id, account_id, key_hash) VALUES ($1, $2, $3)"
KEY_ACCOUNT = "SELECT account_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
# The key's account and, if it is in that account, the project's status: a project-scoped
# request is authenticated and its project checked in one round trip.
KEY_AND_PROJECT = """
SELECT k.account_id, p.status FROM api_keys k
LEFT JOIN projects p ON p.id = $2 AND p.account_id = k.account_id
WHERE k.key_hash = $1 AND k.revoked_at IS NULL
"""
REVOKE_KEY = """
UPDATE api_keys SET revoked_at = clock_timestamp() WHERE id = $1 AND revoked_at IS NULL
RETURNING id
"""


@dataclass(frozen=True)
class KeyedRow:
    """What a keyed statement found for a live key: the key's account and the value."""

    account_id: str
    value: Any


@dataclass(frozen=True)
class CreatedKey:
    account_id: str
    key_id: str
    api_key: str  # the only time the plain key exists


def hash_key(api_key: str) -> bytes:
    return hashlib.sha256(api_key.encode()).digest()


async def create_key(conn: Connection, account_name: str) -> CreatedKey:
    """A new key for the account named `account_name`, creating the account if needed."""
    async with conn.transaction():
        account_id = await conn.fetchval(FIND_ACCOUNT_BY_NAME, account_name)
        if account_id is None:
            account_id = new_id(IdPrefix.ACCOUNT)
            await conn.execute(INSERT_ACCOUNT, account_id, account_name)
        api_key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
        key_id = new_id(IdPrefix.API_KEY)
        await conn.execute(INSERT_KEY, key_id, account_id, hash_key(api_key))
    return CreatedKey(account_id=account_id, key_id=key_id, api_key=api_key)


async def account_of_key(conn: Conn, key_hash: bytes) -> str | None:
    """The account a live key (by its hash) belongs to, or None if unknown or revoked."""
    account_id: str | None = await conn.fetchval(KEY_ACCOUNT, key_hash)
    return account_id


async def revoke_key(conn: Connection, key_id: str) -> bool:
    return await conn.fetchval(REVOKE_KEY, key_id) is not None


@functools.cache
def keyed(query: str, params: int) -> str:
    """`query` (at most one row of one column, using $1..$params) wrapped so that it is
    evaluated only for a live key, whose hash is parameter `params + 1`: one round trip
    authenticates the caller and reads. No row means no such live key."""
    return (
        f"SELECT k.account_id, ({query}) FROM api_keys k "
        f"WHERE k.key_hash = ${params + 1} AND k.revoked_at IS NULL"
    )


async def fetch_keyed(conn: Conn, key_hash: bytes, query: str, *args: Any) -> KeyedRow | None:
    row = await conn.fetchrow(keyed(query, len(args)), *args, key_hash)
    return None if row is None else KeyedRow(row[0], row[1])


async def key_and_project(conn: Conn, key_hash: bytes, project_id: str) -> KeyedRow | None:
    """The key's account and the status of `project_id` in it (None if it is not there)."""
    row = await conn.fetchrow(KEY_AND_PROJECT, key_hash, project_id)
    return None if row is None else KeyedRow(row[0], row[1])
