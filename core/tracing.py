"""OpenTelemetry tracing, off unless the standard variables configure it:
`OTEL_TRACES_EXPORTER` (`otlp` or `console`; `none` = off) or an OTLP endpoint
(`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), with the service
named by `OTEL_SERVICE_NAME` (default: the process's role) and the exporter reading its
other OTEL_* variables itself. A provider is made per process by its composition root
(api/app.py, docket/worker.py) and passed explicitly: no global is set.

The Temporal client and worker carry `temporalio.contrib.opentelemetry.TracingInterceptor`,
so one trace runs from the HTTP request through the workflow start, the workflow, its
activities and a batch's children."""

import os
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from temporalio import activity
from temporalio.client import Interceptor as ClientInterceptor
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput
from temporalio.worker import Interceptor as WorkerInterceptor

TRACER_NAME = "docket"
JOB_ID = "docket.job_id"
CORRELATION_ID = "docket.correlation_id"
OFF = "none"


def exporter_names() -> list[str]:
    """The exporters the environment asks for; [] = tracing off."""
    named = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if named:
        return [] if named == OFF else [n.strip() for n in named.split(",") if n.strip()]
    endpoints = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    return ["otlp"] if any(os.environ.get(name) for name in endpoints) else []


def _exporter(name: str) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    raise ValueError(f"OTEL_TRACES_EXPORTER={name!r}: Docket supports otlp, console or none")


def tracer_provider(role: str) -> TracerProvider | None:
    """A provider exporting to what OTEL_* names, or None when tracing is off."""
    names = exporter_names()
    if not names:
        return None
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: role}
    provider = TracerProvider(resource=Resource.create(attributes))
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    return provider


class _JobActivity(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        # Inside TracingInterceptor's RunActivity span: the workflow id is the job id.
        trace.get_current_span().set_attribute(JOB_ID, activity.info().workflow_id or "")
        return await super().execute_activity(input)


class JobSpans(ClientInterceptor, WorkerInterceptor):
    """Marks each activity's span with the job it works for (a client interceptor too, so
    that a worker built on the client picks it up)."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _JobActivity(next)


def temporal_interceptors(provider: TracerProvider) -> list[Any]:
    """For a Temporal client (a worker built on it uses them too): the SDK's tracing, then
    the job id on activity spans (the first interceptor is the outermost)."""
    return [TracingInterceptor(provider.get_tracer(TRACER_NAME)), JobSpans()]
