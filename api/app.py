"""The FastAPI app factory. The lifespan owns the pool and the Temporal client."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request, Response, status
from fastapi.responses import JSONResponse
from opentelemetry.sdk.trace import TracerProvider
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.client import Client

from api import errors, metrics, tracing
from api.auth import ACCOUNT_HEADER, API_KEY_HEADER
from api.deps import AppState, PoolDep
from api.routers import chunk, events, files, jobs, parse, projects, vector_stores, webhooks
from core.metrics import metrics_server
from core.settings import Settings
from core.storage import open_storage
from core.temporal import connect
from core.tracing import temporal_interceptors, tracer_provider
from db.events import EventHub
from db.pool import create_pool, ping, require_database_url

log = logging.getLogger(__name__)

API_SERVICE = "docket-api"  # the service name of its spans unless OTEL_SERVICE_NAME says
# Room for the multipart envelope around the file itself.
MULTIPART_OVERHEAD = 64 * 1024


class UploadLimit:
    """Reject an oversized upload from its Content-Length before reading the body; uploads
    without one are still cut off by the storage layer at the same limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes + MULTIPART_OVERHEAD

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            length = dict(scope["headers"]).get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_bytes:
                response = JSONResponse(
                    {"detail": f"upload exceeds the limit of {self.max_bytes} bytes"},
                    status.HTTP_413_CONTENT_TOO_LARGE,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# Both headers are needed together: ONE requirement object holding both schemes (as in the
# seed contract), where FastAPI would list each scheme as an alternative ("either").
SECURITY: list[dict[str, list[str]]] = [
    {API_KEY_HEADER.scheme_name: [], ACCOUNT_HEADER.scheme_name: []}
]


def declare_security(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare SECURITY once for the document; operations inherit it, except the public
    ones, which keep their empty `security: []` (the signed file download)."""
    schema["security"] = SECURITY
    for operations in schema["paths"].values():
        for operation in operations.values():
            if operation.get("security"):
                del operation["security"]
    return schema


@contextlib.asynccontextmanager
async def event_hub(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    """The process's ONE listening connection for job events, fanned out to its streams."""
    hub = EventHub(require_database_url(settings), settings.max_event_streams)
    app.state.events = hub
    listening = asyncio.create_task(hub.run())
    try:
        yield
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening


def create_app(
    settings: Settings, state: AppState | None = None, traces: TracerProvider | None = None
) -> FastAPI:
    """`state` lets tests share one pool and client; otherwise the lifespan makes them.
    `traces`: where spans go (default: what the OTEL_* variables say; none = off)."""
    provider = traces or tracer_provider(API_SERVICE)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with event_hub(app, settings):
            if state is not None:
                yield
                return
            async with owned_state(app):
                yield

    @contextlib.asynccontextmanager
    async def owned_state(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings)
        try:
            client = await connect(settings, lazy=True)
            config = client.config()
            chain = [*config["interceptors"], metrics.TemporalErrorCounter()]
            if provider is not None:
                chain += temporal_interceptors(provider)
            config["interceptors"] = chain
            client = Client(**config)
            app.state.docket = AppState(settings, pool, client, open_storage(settings))
            metrics.watch_pool(pool)
            port = settings.metrics_port if settings.metrics_enabled else None
            with metrics_server(port, settings.metrics_host):
                yield
        finally:
            await pool.close()
            if provider is not None and traces is None:
                provider.shutdown()  # flushes the spans still batched

    app = FastAPI(
        title="Document Understanding API (Docket)",
        description="Docket: an open-source implementation of the Dex job API.",
        version="0.4.5",
        lifespan=lifespan,
    )
    generate = app.openapi
    app.openapi = lambda: declare_security(generate())  # type: ignore[method-assign]
    if state is not None:
        app.state.docket = state
        metrics.watch_pool(state.pool)
    errors.install(app)
    app.add_middleware(UploadLimit, max_bytes=settings.max_upload_bytes)
    metrics.install(app, settings)  # outermost: counts the 413s of UploadLimit too
    if provider is not None:
        tracing.install(app, provider)
    for router in (projects.router, files.router, parse.router, chunk.router, jobs.router):
        app.include_router(router)
    app.include_router(events.router)
    app.include_router(webhooks.router)
    app.include_router(vector_stores.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz(request: Request, pool: PoolDep) -> Response:
        await ping(pool)
        return JSONResponse({"status": "ok"})

    return app
