"""Auth on every endpoint: `x-api-key` + `x-selected-account-id`.

401: no key, or a key that is unknown or revoked. 403: a valid key used for an account it
does not belong to. 422: the account header is missing. Resources of other accounts are
404 in the routers (nothing leaks).

The key is checked in Postgres on every request (a revoked key stops working at once), but
never in a round trip of its own when it can share one: reads of one resource wrap their
statement with the key check (`Caller.read`), project-scoped routes check the key and the
project together (api/guards.py). Only routes with no project use `AccountDep`.
"""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Security, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader

from api.deps import PoolDep
from db.accounts import KeyedRow, account_of_key, fetch_keyed, hash_key
from db.pool import Conn

API_KEY_HEADER = APIKeyHeader(
    name="x-api-key",
    scheme_name="ApiKey",
    description="API key for authentication",
    auto_error=False,
)
ACCOUNT_HEADER = APIKeyHeader(
    name="x-selected-account-id",
    scheme_name="AccountId",
    description="Selected Account ID",
    auto_error=False,
)
MAX_HEADER_LENGTH = 256


def unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, {"WWW-Authenticate": "ApiKey"})


INVALID_KEY = "invalid or revoked API key"


def forbidden() -> HTTPException:
    return HTTPException(
        status.HTTP_403_FORBIDDEN, "this API key does not belong to the selected account"
    )


def missing_account() -> RequestValidationError:
    return RequestValidationError(
        [
            {
                "loc": ("header", "x-selected-account-id"),
                "msg": "Field required",
                "type": "missing",
                "input": None,
            }
        ]
    )


@dataclass(frozen=True)
class Caller:
    """Who a request claims to be; nothing here is verified until a keyed statement runs."""

    account_id: str  # the selected account
    key_hash: bytes

    def verified(self, found: KeyedRow | None) -> Any:
        """The value a keyed statement read, once the key is known live and in the account."""
        if found is None:
            raise unauthorized(INVALID_KEY)
        if found.account_id != self.account_id:
            raise forbidden()
        return found.value

    async def read(self, conn: Conn, query: str, *args: Any) -> Any:
        """Run `query` (one row, one column; its last parameter is the account id) for this
        caller, authenticating in the same statement."""
        return self.verified(await fetch_keyed(conn, self.key_hash, query, *args, self.account_id))


async def caller(
    pool: PoolDep,
    api_key: Annotated[str | None, Security(API_KEY_HEADER)],
    account_id: Annotated[str | None, Security(ACCOUNT_HEADER)],
) -> Caller:
    if not api_key:
        raise unauthorized("missing x-api-key header")
    if len(api_key) > MAX_HEADER_LENGTH:
        raise unauthorized("invalid API key")
    key_hash = hash_key(api_key)
    if not account_id:
        # A bad key is reported before the missing header, as when both are checked at once.
        if await account_of_key(pool, key_hash) is None:
            raise unauthorized(INVALID_KEY)
        raise missing_account()
    return Caller(account_id, key_hash)


CallerDep = Annotated[Caller, Depends(caller)]


async def authenticate(pool: PoolDep, who: CallerDep) -> str:
    """The caller's account id, checked in a statement of its own."""
    owner = await account_of_key(pool, who.key_hash)
    who.verified(None if owner is None else KeyedRow(owner, None))
    return who.account_id


AccountDep = Annotated[str, Depends(authenticate)]
