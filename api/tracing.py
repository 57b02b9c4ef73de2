"""The API's tracing (core/tracing.py): FastAPI instrumented, with the request's correlation
id as a span attribute; the Temporal client's interceptors continue the trace into the
workflow start."""

from typing import Any

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span

from core.tracing import CORRELATION_ID

CORRELATION_HEADER = b"x-correlation-id"


def correlation_hook(span: Span, scope: dict[str, Any]) -> None:
    if span is None or not span.is_recording():
        return
    for name, value in scope.get("headers", ()):
        if name == CORRELATION_HEADER:
            span.set_attribute(CORRELATION_ID, value.decode("latin-1"))


def install(app: FastAPI, provider: TracerProvider) -> None:
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        server_request_hook=correlation_hook,
        # One span per request, not one per ASGI message as well.
        exclude_spans=["receive", "send"],
    )
