"""Auth on every endpoint: `x-api-key` + `x-selected-account-id`.

401: no key, or a key that is unknown or revoked. 403: a valid key used for an account it
does not belong to. 422: the account header is missing. Resources of other accounts are
404 in the routers (nothing leaks).

The key is checked in Postgres on every request (a revoked key stops working at once), but
never in a round trip of its own when it can share one: db/ reads authenticate inside their
own statement and return an access verdict (`db.accounts.Verdict`), which `admit` maps to a
status code; project-scoped routes check the key and the project together (api/guards.py).
Only routes with no project use `AccountDep`. No SQL text lives here: db/ owns it.
"""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Security, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader

from api.deps import PoolDep
from api.responses import invalid, not_found
from db.accounts import Access, Key, Verdict, account_of_key, hash_key

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
    return invalid(("header", "x-selected-account-id"), "Field required", kind="missing")


@dataclass(frozen=True)
class Caller:
    """Who a request claims to be; nothing here is verified until a keyed read runs."""

    account_id: str  # the selected account
    key_hash: bytes

    @property
    def key(self) -> Key:
        return Key(self.key_hash, self.account_id)


def refuse_caller(verdict: Verdict, project_id: str | None = None) -> None:
    """401 for the key, 403 for the account, 404 for a project not in the account."""
    if verdict.access is Access.NO_KEY:
        raise unauthorized(INVALID_KEY)
    if verdict.access is Access.WRONG_ACCOUNT:
        raise forbidden()
    if verdict.access is Access.NO_PROJECT:
        raise not_found("project", project_id or "")


def admit(verdict: Verdict, kind: str, item_id: str, project_id: str | None = None) -> Any:
    """The value a keyed read found, or the error its verdict means (`refuse_caller`, or a
    404 naming the `kind` item that was not found)."""
    refuse_caller(verdict, project_id)
    if verdict.access is Access.NOT_FOUND:
        raise not_found(kind, item_id)
    return verdict.value


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
    if owner is None:
        raise unauthorized(INVALID_KEY)
    if owner != who.account_id:
        raise forbidden()
    return who.account_id


AccountDep = Annotated[str, Depends(authenticate)]
