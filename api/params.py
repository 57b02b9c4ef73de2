"""Path and query parameters shared by the routers."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import Path, Query
from fastapi.exceptions import RequestValidationError

from core.ids import IdPrefix, id_pattern
from db.pagination import Cursor, InvalidCursor, PageRequest, SortOrder

ProjectId = Annotated[str, Path(pattern=id_pattern(IdPrefix.PROJECT), title="Project Id")]
FileId = Annotated[str, Path(pattern=id_pattern(IdPrefix.FILE), title="File Id")]
JobId = Annotated[str, Path(pattern=id_pattern(IdPrefix.JOB), title="Job Id")]
ParseResultId = Annotated[
    str, Path(pattern=id_pattern(IdPrefix.PARSE_RESULT), title="Parse Result Id")
]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
MAX_TOKEN_LENGTH = 2048

PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
ContinuationToken = Annotated[str | None, Query(max_length=MAX_TOKEN_LENGTH)]
CreatedStart = Annotated[datetime | None, Query()]
CreatedEnd = Annotated[datetime | None, Query()]
Ids = Annotated[list[str] | None, Query(max_length=MAX_PAGE_SIZE)]


def paging(*sort_fields: str) -> Callable[..., Awaitable[PageRequest]]:
    """The pagination query parameters of a list endpoint sortable by `sort_fields`."""
    sortable = Query(pattern=f"^({'|'.join(sort_fields)})$")

    # async: FastAPI runs a plain `def` dependency in its thread pool, a hop per request.
    async def dependency(
        page_size: PageSize = DEFAULT_PAGE_SIZE,
        continuation_token: ContinuationToken = None,
        sort_by: Annotated[str, sortable] = "created_at",
        sort_order: SortOrder = SortOrder.DESC,
    ) -> PageRequest:
        return page_request(page_size, continuation_token, sort_by, sort_order)

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
            raise RequestValidationError(
                [
                    {
                        "loc": ("query", "continuation_token"),
                        "msg": str(err),
                        "type": "value_error",
                        "input": continuation_token,
                    }
                ]
            ) from err
    return PageRequest(page_size, sort_by, sort_order, cursor)
