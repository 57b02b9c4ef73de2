"""Accounts and API keys. Keys are shown once at creation; only their sha256 is stored."""

import functools
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from core.ids import IdPrefix, new_id
from db.pool import Conn, Connection

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


class Access(StrEnum):
    """The verdict of a keyed read, which the API maps to a status code."""

    GRANTED = "granted"
    NO_KEY = "no_key"  # unknown or revoked key
    WRONG_ACCOUNT = "wrong_account"  # a live key, used for another account
    NO_PROJECT = "no_project"  # the project is not in the caller's account
    NOT_FOUND = "not_found"  # the thing read does not exist (in that project/account)


@dataclass(frozen=True)
class Verdict:
    access: Access
    value: Any = None
    project_status: str | None = None  # reads scoped to a project: the project's status


@dataclass(frozen=True)
class KeyedRow:
    """What a keyed statement found for a live key: the key's account and the value."""

    account_id: str
    value: Any


@dataclass(frozen=True)
class Key:
    """Who a request claims to be: an API key (by its hash) and the selected account.
    Nothing is verified until one of the reads below runs; each authenticates in the same
    statement as it reads (one round trip per request)."""

    key_hash: bytes
    account_id: str

    async def read(self, conn: Conn, query: str, *args: Any) -> Verdict:
        """`query` (a db/ constant: one row, one column; its last parameter the account id)
        for this caller."""
        found = await fetch_keyed(conn, self.key_hash, query, *args, self.account_id)
        if found is None:
            return Verdict(Access.NO_KEY)
        if found.account_id != self.account_id:
            return Verdict(Access.WRONG_ACCOUNT)
        return Verdict(Access.GRANTED if found.value is not None else Access.NOT_FOUND, found.value)

    async def read_in_project(self, conn: Conn, project_id: str, query: str, *args: Any) -> Verdict:
        """`query` (using $1..$n for `args`, and $n+1 for the project id) evaluated only when
        the project is in the caller's account; NO_PROJECT otherwise."""
        row = await conn.fetchrow(in_project(query, len(args)), *args, project_id, self.key_hash)
        if row is None:
            return Verdict(Access.NO_KEY)
        if row[0] != self.account_id:
            return Verdict(Access.WRONG_ACCOUNT)
        if row[1] is None:
            return Verdict(Access.NO_PROJECT)
        access = Access.GRANTED if row[2] is not None else Access.NOT_FOUND
        return Verdict(access, row[2], row[1])


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


@functools.cache
def in_project(query: str, params: int) -> str:
    """`query` (one value, using $1..$params) evaluated only when the key (parameter
    `params + 2`) is live and the project (`params + 1`) is in its account. The row: the
    key's account, the project's status (NULL if not in the account), the value. No row
    means no such live key. A project-scoped request is authenticated, its project checked
    and its first statement run in one round trip."""
    return (
        f"SELECT k.account_id, p.status, CASE WHEN p.id IS NOT NULL THEN ({query}) END "
        f"FROM api_keys k LEFT JOIN projects p ON p.id = ${params + 1} "
        f"AND p.account_id = k.account_id "
        f"WHERE k.key_hash = ${params + 2} AND k.revoked_at IS NULL"
    )


@dataclass(frozen=True)
class ProjectGate:
    """A caller's key and the project a request is scoped to, checked by the request's first
    statement. `admit` (the API's rules) gets the verdict — GRANTED or NOT_FOUND (of the
    value) carry the project's status — and raises unless the caller may proceed."""

    key: Key
    project_id: str
    admit: Callable[[Verdict], Any]

    async def fetch(self, conn: Conn, query: str, *args: Any) -> tuple[Any, Any]:
        """(what `admit` returns, `query`'s value), once `admit` has let the caller through."""
        verdict = await self.key.read_in_project(conn, self.project_id, query, *args)
        return self.admit(verdict), verdict.value

    async def fetchval(self, conn: Conn, query: str, *args: Any) -> Any:
        return (await self.fetch(conn, query, *args))[1]

    async def check(self, conn: Conn) -> Any:
        """The key and the project alone; returns what `admit` returns."""
        return (await self.fetch(conn, "NULL"))[0]
