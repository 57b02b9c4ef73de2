"""Map infrastructure failures to clear answers: an outage is a 503, never a 500 or a hang."""

import logging

import asyncpg
from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from temporalio.service import RPCError

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
    ConnectionError,
    OSError,
    TimeoutError,
)


def unavailable(message: str) -> JSONResponse:
    return JSONResponse(
        {"detail": message}, status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "5"}
    )


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable on %s %s: %r", request.method, request.url.path, exc)
    return unavailable("the database is unavailable; retry shortly")


async def temporal_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("Temporal unavailable on %s %s: %r", request.method, request.url.path, exc)
    return unavailable("the workflow service (Temporal) is unavailable; retry shortly")


async def invalid_cursor(request: Request, exc: Exception) -> JSONResponse:
    token = request.query_params.get("continuation_token")
    detail = [
        {
            "loc": ["query", "continuation_token"],
            "msg": str(exc),
            "type": "value_error",
            "input": token,
        }
    ]
    return JSONResponse({"detail": detail}, status.HTTP_422_UNPROCESSABLE_CONTENT)


async def bad_data(request: Request, exc: Exception) -> JSONResponse:
    """A value Postgres cannot take (e.g. a NUL in a query parameter) is bad input; the
    request models reject most of these first, this is the net under them."""
    detail = [{"loc": ["request"], "msg": f"invalid input: {exc}", "type": "value_error"}]
    return JSONResponse({"detail": detail}, status.HTTP_422_UNPROCESSABLE_CONTENT)


def install(app: FastAPI) -> None:
    app.add_exception_handler(asyncpg.DataError, bad_data)
    app.add_exception_handler(InvalidCursor, invalid_cursor)
    for exc_type in DATABASE_DOWN:
        app.add_exception_handler(exc_type, database_unavailable)
    app.add_exception_handler(RPCError, temporal_unavailable)
    app.add_exception_handler(TemporalUnavailable, temporal_unavailable)
