"""Path and query parameters shared by the routers."""

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Query
from pydantic import AfterValidator, BeforeValidator

from api.responses import invalid
from api.schemas import MAX_ID_LENGTH
from db.pagination import Cursor, InvalidCursor, PageRequest, SortOrder

log = logging.getLogger(__name__)

# Path ids are plain strings, as the contract types them: one that names nothing, whatever
# its shape (Dex's own examples use `job_123456789`), is a 404 from the lookup, never a 422.
# One longer than MAX_ID_LENGTH is a 422 (declared as maxLength).
# Postgres text cannot hold NUL: an id containing one names nothing, so it is looked up
# with U+FFFD in its place (no id contains that either) and answers 404 like any other.
NUL, NOT_IN_ANY_ID = "\x00", "\ufffd"


def _lookup_safe(value: str) -> str:
    return value.replace(NUL, NOT_IN_ANY_ID)


LookupSafe = AfterValidator(_lookup_safe)
ProjectId = Annotated[str, Path(max_length=MAX_ID_LENGTH, title="Project Id"), LookupSafe]
FileId = Annotated[str, Path(max_length=MAX_ID_LENGTH, title="File Id"), LookupSafe]
JobId = Annotated[str, Path(max_length=MAX_ID_LENGTH, title="Job Id"), LookupSafe]
ParseResultId = Annotated[str, Path(max_length=MAX_ID_LENGTH, title="Parse Result Id"), LookupSafe]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
MAX_TOKEN_LENGTH = 2048
DEFAULT_SORT = "created_at"
# How clients spell "null" in a query string (omitting the parameter is the other way).
NULL_SPELLINGS = ("", "null")


def _null_is_default(value: Any) -> Any:
    return None if value in NULL_SPELLINGS else value


def _iso_8601(value: Any) -> Any:
    """Timestamps are ISO 8601 only (the contract's `format: date-time`): pydantic would read
    a bare number as a Unix time, so that is refused here."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value
        raise ValueError(
            f"{value!r} is not an ISO 8601 date-time (e.g. 2026-01-31T12:00:00Z); "
            "Unix timestamps are not accepted"
        )
    return value


Nullable = BeforeValidator(_null_is_default)
# Dex declares these nullable: null (or leaving them out) means the default.
PageSize = Annotated[int | None, Query(ge=1, le=MAX_PAGE_SIZE), Nullable]
Order = Annotated[SortOrder | None, Query(), Nullable]
ContinuationToken = Annotated[str | None, Query(max_length=MAX_TOKEN_LENGTH)]
Timestamp = Annotated[datetime | None, Query(), BeforeValidator(_iso_8601)]
CreatedStart = Timestamp
CreatedEnd = Timestamp
Ids = Annotated[list[str] | None, Query(max_length=MAX_PAGE_SIZE)]


def paging(*sort_fields: str) -> Callable[..., Awaitable[PageRequest]]:
    """The pagination query parameters of a list endpoint sortable by `sort_fields`."""
    sortable = Query(pattern=f"^({'|'.join(sort_fields)})$")

    # async: FastAPI runs a plain `def` dependency in its thread pool, a hop per request.
    async def dependency(
        page_size: PageSize = None,
        continuation_token: ContinuationToken = None,
        sort_by: Annotated[str | None, sortable, Nullable] = None,
        sort_order: Order = None,
    ) -> PageRequest:
        return page_request(
            page_size or DEFAULT_PAGE_SIZE,
            continuation_token,
            sort_by or DEFAULT_SORT,
            sort_order or SortOrder.DESC,
        )

    return dependency


def page_request(
    page_size: int, continuation_token: str | None, sort_by: str, sort_order: SortOrder
) -> PageRequest:
    """Decode the cursor; a garbage or mismatched token is a 422 like any bad parameter."""
    cursor = None
    if continuation_token:
        try:
            cursor = Cursor.decode(continuation_token, sort_by, sort_order)
        except InvalidCursor as err:
            raise invalid(("query", "continuation_token"), str(err), continuation_token) from err
    return PageRequest(page_size, sort_by, sort_order, cursor)


async def dex_parse_flags(
    beta_enable_iris2: Annotated[
        bool | None,
        Query(description="Dex's flag for its IRIS2 parser: accepted and ignored by Docket"),
    ] = None,
) -> None:
    """Query flags the Dex contract documents for parse requests that Docket has no meaning
    for yet: accepted (so Dex clients work unchanged) and noted in the log."""
    if beta_enable_iris2 is not None:
        log.info("beta_enable_iris2=%s ignored: Docket has no IRIS2 parser", beta_enable_iris2)


DexParseFlags = Depends(dex_parse_flags)
