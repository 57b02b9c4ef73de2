"""Responses whose JSON Postgres already rendered: passed through without re-encoding."""

import json
from typing import Any

from fastapi import HTTPException, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.schemas import ErrorDetail
from db.pagination import Page

JSON = "application/json"


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of the error answers a route may give (besides 422)."""
    meaning = {
        400: "An operation the resource's state forbids",
        401: "Missing, unknown or revoked API key",
        403: "The API key does not belong to the selected account",
        404: "Not found in the caller's account",
        409: "Conflicts with the resource's state or an earlier request",
        413: "Upload larger than the configured limit",
        503: "Postgres or Temporal is unavailable; retry shortly",
        507: "The file storage is full; nothing was stored",
    }
    return {code: {"model": ErrorDetail, "description": meaning[code]} for code in codes}


# What any authenticated route can answer.
COMMON_ERRORS = errors(400, 401, 403, 404, 503)


def raw_json(body: str, status_code: int = status.HTTP_200_OK) -> Response:
    return Response(content=body, status_code=status_code, media_type=JSON)


def raw_list(page: Page, total: int) -> Response:
    items = ",".join(row["body"] for row in page.rows)
    tail = json.dumps(
        {"total_count": total, "next_token": page.next_token, "prev_token": page.prev_token}
    )
    return raw_json(f'{{"items":[{items}],{tail[1:]}')


def invalid(
    loc: tuple[str | int, ...], message: str, value: Any = None, kind: str = "value_error"
) -> RequestValidationError:
    """The one builder of 422 answers outside FastAPI's own validation, for checks a schema
    cannot express: raised, FastAPI renders it as an HTTPValidationError
    (`{"detail": [{"loc", "msg", "type", "input"}]}`); exception handlers pass it to
    `validation_response`. `kind` is the error's `type` (e.g. `missing`, `json_invalid`)."""
    return RequestValidationError([{"loc": loc, "msg": message, "type": kind, "input": value}])


def _renderable(error: dict[str, Any]) -> dict[str, Any]:
    """A body FastAPI did not read as JSON (no or another content type) is echoed back as
    bytes in `input`, which FastAPI would decode as UTF-8 and fail on (a 500): shown with
    the undecodable bytes replaced instead."""
    given = error.get("input")
    if isinstance(given, bytes):
        return {**error, "input": given.decode("utf-8", errors="replace")}
    return error


async def validation_response(request: Request, exc: Exception) -> Response:
    """Every 422 (FastAPI's own validation errors and `invalid` ones): an HTTPValidationError,
    `{"detail": [{"loc", "msg", "type", "input", ...}]}`."""
    assert isinstance(exc, RequestValidationError)
    detail = [_renderable(error) for error in exc.errors()]
    return JSONResponse({"detail": jsonable_encoder(detail)}, status.HTTP_422_UNPROCESSABLE_CONTENT)


def not_found(kind: str, item_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{kind} {item_id} not found")


def found(body: str | None, kind: str, item_id: str) -> Response:
    if body is None:
        raise not_found(kind, item_id)
    return raw_json(body)
