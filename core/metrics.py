"""Docket's Prometheus metrics (prometheus-client), one set per process.

`docket_metrics()` creates them on first use in the process's default registry (nothing is
registered at import), so the API, the worker and an in-process test share one set; each
replica counts only what it committed itself. Job transitions are counted at their call
sites (activities/, api/cancel.py) right after the statement in db/transitions.py,
db/results.py or db/batches.py returned "moved": db/ stays free of metrics.
"""

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)

# Job durations span a sub-second parse of a page to an hour-long batch.
JOB_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
# A cancel lands within heartbeat throttles (0.1 s by default) or a Postgres NOTIFY.
CANCEL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Most API requests answer in a few milliseconds; uploads take longer.
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
MS_PER_SECOND = 1000


@dataclass(frozen=True)
class JobTiming:
    """What a transition's metrics need of its job (read by db/jobs.py `timing`)."""

    operation: str
    created_at: datetime
    completed_at: datetime | None
    cancel_requested_at: datetime | None


class DocketMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, doc: str, *labels: str) -> Counter:
            return Counter(name, doc, labels, registry=registry)

        def histogram(name: str, doc: str, buckets: tuple[float, ...], *labels: str) -> Histogram:
            return Histogram(name, doc, labels, buckets=buckets, registry=registry)

        def gauge(name: str, doc: str, *labels: str) -> Gauge:
            return Gauge(name, doc, labels, registry=registry)

        self.requests = counter(
            "docket_http_requests",
            "API requests answered, by route template, method and status code.",
            *("route", "method", "status"),
        )
        self.latency = histogram(
            "docket_http_request_duration_seconds",
            "API request latency by route template and method.",
            *(HTTP_BUCKETS, "route", "method"),
        )
        self.in_flight = gauge("docket_http_requests_in_flight", "API requests being served.")
        self.pool = gauge(
            "docket_db_pool_connections",
            "The API's Postgres pool: connections open (size) and in use.",
            "state",
        )
        self.temporal_errors = counter(
            "docket_temporal_rpc_errors",
            "Temporal client calls that failed with an RPC error, by call.",
            "rpc",
        )
        self.transitions = counter(
            "docket_job_transitions",
            "Job status transitions committed by this process, by operation and target status.",
            *("operation", "status"),
        )
        self.duration = histogram(
            "docket_job_duration_seconds",
            "Job duration from creation to its final status, by operation and final status.",
            *(JOB_BUCKETS, "operation", "status"),
        )
        self.cancel_latency = histogram(
            "docket_job_cancel_latency_seconds",
            "From a running job's accepted cancel request to its `cancelled` status.",
            *(CANCEL_BUCKETS, "operation"),
        )
        self.reconciler = counter(
            "docket_reconciler_actions",
            "What the convergence loop did to a job it checked (started, settled).",
            "action",
        )
        # Pages per second: rate(docket_parse_pages_total) / rate(docket_parse_seconds_total).
        self.parse_pages = counter(
            "docket_parse_pages",
            "Pages of the results this worker stored, by operation (parse, rechunk).",
            "operation",
        )
        self.parse_bytes = counter(
            "docket_parse_bytes",
            "Bytes of the source documents whose results this worker stored, by operation.",
            "operation",
        )
        self.parse_seconds = counter(
            "docket_parse_seconds",
            "Time this worker spent parsing the results it stored, by operation.",
            "operation",
        )
        self.ocr_pages = counter(
            "docket_parse_ocr_pages",
            "Pages whose text this worker's parses recognised from their image (OCR).",
        )

    def result_stored(self, timing: JobTiming | None, pages: int, parse_ms: int) -> None:
        if timing is not None:
            self.parse_pages.labels(timing.operation).inc(pages)
            self.parse_seconds.labels(timing.operation).inc(parse_ms / MS_PER_SECOND)

    def job_moved(self, status: str, timing: JobTiming | None) -> None:
        """Count one committed transition of a job to `status`; at a final status, observe
        its duration and, for a cancel that was requested while it ran, the cancel latency."""
        if timing is None:
            return
        self.transitions.labels(timing.operation, status).inc()
        if timing.completed_at is None:
            return
        elapsed = (timing.completed_at - timing.created_at).total_seconds()
        self.duration.labels(timing.operation, status).observe(elapsed)
        if status == "cancelled" and timing.cancel_requested_at is not None:
            latency = (timing.completed_at - timing.cancel_requested_at).total_seconds()
            self.cancel_latency.labels(timing.operation).observe(max(latency, 0.0))


@functools.cache
def docket_metrics() -> DocketMetrics:
    return DocketMetrics(REGISTRY)


@contextlib.contextmanager
def metrics_server(port: int | None, host: str) -> Iterator[None]:
    """Serve this process's metrics over HTTP on `port` (nothing when None) meanwhile."""
    if port is None:
        yield
        return
    server, thread = start_http_server(port, host)
    try:
        yield
    finally:
        server.shutdown()
        thread.join()
