"""The API's Prometheus metrics: a pure ASGI middleware counting requests by route template,
method and status code (with latency histograms and the in-flight gauge), the pool gauges,
a Temporal client interceptor counting RPC errors, and `GET /metrics` (or a port of its
own, `DOCKET_METRICS_PORT`). No auth on /metrics: keep it private (README, "Operating
Docket")."""

import time
from collections.abc import Awaitable
from typing import Any

import asyncpg
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import (
    CancelWorkflowInput,
    DescribeWorkflowInput,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowInput,
    WorkflowExecutionDescription,
    WorkflowHandle,
)
from temporalio.service import RPCError

from core.metrics import DocketMetrics, docket_metrics
from core.settings import Settings

METRICS_PATH = "/metrics"
# Requests no route matched share one label value: a scanner's random paths must not
# create a series each.
UNMATCHED = "unmatched"
# What a request that raised (or never sent its headers) is counted as.
NO_RESPONSE_STATUS = 500


class RequestMetrics:
    def __init__(self, app: ASGIApp, metrics: DocketMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        code = NO_RESPONSE_STATUS

        async def send_counted(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = message["status"]
            await send(message)

        metrics = self.metrics
        metrics.in_flight.inc()
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_counted)
        finally:
            elapsed = time.perf_counter() - started
            metrics.in_flight.dec()
            # The router stores the matched route in the scope: its template, not the path.
            route = getattr(scope.get("route"), "path", UNMATCHED)
            method = scope["method"]
            metrics.requests.labels(route, method, str(code)).inc()
            metrics.latency.labels(route, method).observe(elapsed)


def watch_pool(pool: asyncpg.Pool) -> None:
    """The pool gauges read the pool at scrape time."""
    metrics = docket_metrics()
    metrics.pool.labels("size").set_function(pool.get_size)
    metrics.pool.labels("in_use").set_function(lambda: pool.get_size() - pool.get_idle_size())


def install(app: FastAPI, settings: Settings) -> None:
    """The middleware, and the route unless the metrics have a port of their own
    (include_in_schema=False: not part of the Dex API)."""
    if not settings.metrics_enabled:
        return
    app.add_middleware(RequestMetrics, metrics=docket_metrics())
    if settings.metrics_port is not None:
        return

    @app.get(METRICS_PATH, include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


class _CountErrors(OutboundInterceptor):
    async def _counted(self, rpc: str, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except RPCError:
            docket_metrics().temporal_errors.labels(rpc).inc()
            raise

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        handle: WorkflowHandle[Any, Any] = await self._counted(
            "start_workflow", super().start_workflow(input)
        )
        return handle

    async def cancel_workflow(self, input: CancelWorkflowInput) -> None:
        await self._counted("cancel_workflow", super().cancel_workflow(input))

    async def describe_workflow(self, input: DescribeWorkflowInput) -> WorkflowExecutionDescription:
        found: WorkflowExecutionDescription = await self._counted(
            "describe_workflow", super().describe_workflow(input)
        )
        return found


class TemporalErrorCounter(Interceptor):
    """Counts the RPC errors of the calls the API makes (start, cancel, describe)."""

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _CountErrors(next)
