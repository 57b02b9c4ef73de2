"""Auth on every endpoint: `x-api-key` + `x-selected-account-id`.

401: no key, or a key that is unknown or revoked. 403: a valid key used for an account it
does not belong to. 422: the account header is missing. Resources of other accounts are
404 in the routers (nothing leaks).
"""

from typing import Annotated

from fastapi import Depends, HTTPException, Security, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader

from api.deps import PoolDep
from db.accounts import account_of_key

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


async def authenticate(
    pool: PoolDep,
    api_key: Annotated[str | None, Security(API_KEY_HEADER)],
    account_id: Annotated[str | None, Security(ACCOUNT_HEADER)],
) -> str:
    """The caller's account id."""
    if not api_key:
        raise unauthorized("missing x-api-key header")
    if len(api_key) > MAX_HEADER_LENGTH:
        raise unauthorized("invalid API key")
    owner = await account_of_key(pool, api_key)
    if owner is None:
        raise unauthorized("invalid or revoked API key")
    if not account_id:
        raise RequestValidationError(
            [
                {
                    "loc": ("header", "x-selected-account-id"),
                    "msg": "Field required",
                    "type": "missing",
                    "input": None,
                }
            ]
        )
    if account_id != owner:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "this API key does not belong to the selected account"
        )
    return owner


AccountDep = Annotated[str, Depends(authenticate)]
