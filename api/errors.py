"""Map failures to clear answers: an outage is a 503, never a 500 or a hang; a body that
cannot be decoded is a 422; a 405 names every method of its path."""

import logging
from http import HTTPMethod
from types import TracebackType

import asyncpg
from fastapi import FastAPI, Request, Response, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from starlette.routing import Match
from temporalio.service import RPCError

from api.responses import invalid, validation_response
from api.workflow_start import TemporalUnavailable
from db.pagination import InvalidCursor

log = logging.getLogger(__name__)

DATABASE_DOWN = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.TooManyConnectionsError,
    asyncpg.CannotConnectNowError,
    # The server shutting down mid-request: its FATAL arrives as an operator intervention,
    # or, when it lands together with a statement's last replies, as a client state error
    # (MagicStack/asyncpg#1069).
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.InternalClientError,
)
# Raised by asyncpg too (a refused or reset connection, a pool or command timeout), but
# also by anything else that does I/O: a database outage only when raised inside asyncpg.
MAYBE_DATABASE_DOWN = (OSError, TimeoutError)

# What FastAPI answers (as a 400) when it cannot read a request's body, e.g. JSON that is
# not UTF-8; Starlette's 400 for a broken multipart envelope is raised while handling a
# MultiPartException. The contract makes every malformed body a 422.
BODY_NOT_PARSED = "There was an error parsing the body"


def unavailable(message: str) -> JSONResponse:
    return JSONResponse(
        {"detail": message}, status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "5"}
    )


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable on %s %s: %r", request.method, request.url.path, exc)
    return unavailable("the database is unavailable; retry shortly")


def raised_in_asyncpg(tb: TracebackType | None) -> bool:
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith("asyncpg"):
            return True
        tb = tb.tb_next
    return False


async def io_failure(request: Request, exc: Exception) -> JSONResponse:
    """An OSError/TimeoutError: the database is unavailable if asyncpg raised it; otherwise
    another I/O failure (a broken disk, a network share) — not a database outage, not a
    bug either: a 503 that names it (the routers map the ones they expect, e.g. 507)."""
    if raised_in_asyncpg(exc.__traceback__):
        return await database_unavailable(request, exc)
    log.error("I/O failure on %s %s", request.method, request.url.path, exc_info=exc)
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
    return unavailable(f"an I/O operation of the service failed ({reason}); retry shortly")


async def temporal_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("Temporal unavailable on %s %s: %r", request.method, request.url.path, exc)
    return unavailable("the workflow service (Temporal) is unavailable; retry shortly")


async def invalid_cursor(request: Request, exc: Exception) -> Response:
    token = request.query_params.get("continuation_token")
    return await validation_response(
        request, invalid(("query", "continuation_token"), str(exc), token)
    )


async def bad_data(request: Request, exc: Exception) -> Response:
    """A value Postgres cannot take (e.g. a NUL in a query parameter) is bad input; the
    request models reject most of these first, this is the net under them."""
    return await validation_response(request, invalid(("request",), f"invalid input: {exc}"))


def allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette names only the first route's):
    each is tried against the app's routes, so routes nested in included routers count."""
    routes = request.app.router.routes
    allowed = [
        method.value
        for method in HTTPMethod
        if any(
            route.matches({**request.scope, "method": method.value})[0] is Match.FULL
            for route in routes
        )
    ]
    return ", ".join(sorted(allowed))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == status.HTTP_400_BAD_REQUEST:
        cause = exc.__cause__
        if exc.detail == BODY_NOT_PARSED and isinstance(cause, UnicodeDecodeError):
            error = invalid(("body",), f"the body is not valid UTF-8: {cause}", kind="json_invalid")
            return await validation_response(request, error)
        if exc.detail == BODY_NOT_PARSED or isinstance(exc.__context__, MultiPartException):
            reason = exc.detail if cause is None else repr(cause)
            return await validation_response(
                request, invalid(("body",), f"the body could not be parsed: {reason}")
            )
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        exc.headers = {**(exc.headers or {}), "Allow": allowed_methods(request)}
    return await http_exception_handler(request, exc)


def install(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_response)
    app.add_exception_handler(asyncpg.DataError, bad_data)
    app.add_exception_handler(InvalidCursor, invalid_cursor)
    for exc_type in DATABASE_DOWN:
        app.add_exception_handler(exc_type, database_unavailable)
    for io_type in MAYBE_DATABASE_DOWN:
        app.add_exception_handler(io_type, io_failure)
    app.add_exception_handler(RPCError, temporal_unavailable)
    app.add_exception_handler(TemporalUnavailable, temporal_unavailable)
