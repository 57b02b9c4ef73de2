"""Accounts and API keys. Keys are shown once at creation; only their sha256 is stored."""

import hashlib
import secrets
from dataclasses import dataclass

from db.pool import Conn, Connection
from docket.ids import IdPrefix, new_id

KEY_PREFIX = "dk_"
KEY_BYTES = 32

INSERT_ACCOUNT = "INSERT INTO accounts (id, name) VALUES ($1, $2)"
FIND_ACCOUNT_BY_NAME = "SELECT id FROM accounts WHERE name = $1 ORDER BY created_at LIMIT 1"
INSERT_KEY = "INSERT INTO api_keys (id, account_id, key_hash) VALUES ($1, $2, $3)"
KEY_ACCOUNT = "SELECT account_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
REVOKE_KEY = """
UPDATE api_keys SET revoked_at = clock_timestamp() WHERE id = $1 AND revoked_at IS NULL
RETURNING id
"""


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


async def account_of_key(conn: Conn, api_key: str) -> str | None:
    """The account a live key belongs to, or None for an unknown or revoked key."""
    account_id: str | None = await conn.fetchval(KEY_ACCOUNT, hash_key(api_key))
    return account_id


async def revoke_key(conn: Connection, key_id: str) -> bool:
    return await conn.fetchval(REVOKE_KEY, key_id) is not None
