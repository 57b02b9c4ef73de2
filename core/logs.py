"""Process-wide logging: human-readable text by default, one JSON object per line for
production (`DOCKET_LOG_FORMAT=json`), so a log pipeline can index and filter by job.

Every record passes through `ContextFilter`, which adds what we know about the work the
record belongs to: inside an activity, `temporalio.activity.info()` gives the workflow id
(= the job id, see the design), the activity type and the attempt; records from
`workflow.logger` carry the workflow's details as an extra; and any code may `bind()` a
`job_id` or `correlation_id` for the records logged inside a block.
"""

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import IO, Any

from opentelemetry import trace
from temporalio import activity

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# The fields a JSON line may carry besides ts/level/logger/message, in output order.
CONTEXT_FIELDS = (
    *("job_id", "correlation_id", "workflow_id", "run_id", "activity", "attempt"),
    *("trace_id", "span_id"),  # of the current span, when tracing is on (core/tracing.py)
)

_bound: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "docket_log_context", default=MappingProxyType({})
)

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# Temporal's logger adapters attach these dicts; we flatten them into CONTEXT_FIELDS.
_TEMPORAL_EXTRAS = ("temporal_activity", "temporal_workflow")


@contextlib.contextmanager
def bind(**fields: str) -> Iterator[None]:
    """Attach fields (e.g. `job_id`, `correlation_id`) to every record logged in this block,
    including in tasks it starts (contextvars are copied into new tasks)."""
    token = _bound.set({**_bound.get(), **fields})
    try:
        yield
    finally:
        _bound.reset(token)


def _temporal_context(record: logging.LogRecord) -> dict[str, Any]:
    if activity.in_activity():
        info = activity.info()
        return {
            "workflow_id": info.workflow_id,
            "run_id": info.workflow_run_id,
            "activity": info.activity_type,
            "attempt": info.attempt,
        }
    details = getattr(record, "temporal_workflow", None)
    if isinstance(details, Mapping):
        return {"workflow_id": details.get("workflow_id"), "run_id": details.get("run_id")}
    return {}


class ContextFilter(logging.Filter):
    """Adds CONTEXT_FIELDS to a record (never drops one). Values a caller passed with
    `extra=` win over bound ones, which win over what Temporal's context says."""

    def filter(self, record: logging.LogRecord) -> bool:
        found = {k: v for k, v in _temporal_context(record).items() if v is not None}
        if "workflow_id" in found:
            found["job_id"] = found["workflow_id"]  # workflow id = job id, by design
        found.update(_bound.get())
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            found["trace_id"] = format(span.trace_id, "032x")
            found["span_id"] = format(span.span_id, "016x")
        for key, value in found.items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC, ISO 8601), level, logger, message, the context
    fields that are set, any other `extra=` fields, and the traceback if there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_FIELDS:
            if getattr(record, key, None) is not None:
                line[key] = getattr(record, key)
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and key not in _TEMPORAL_EXTRAS and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # default=str: an odd `extra` value must never cost us the whole line.
        return json.dumps(line, default=str, ensure_ascii=False)


def configure(level: str, fmt: str = "text", stream: IO[str] | None = None) -> None:
    """Install one root handler in the chosen format (Settings.log_format: text or json).
    Like `logging.basicConfig` (which it uses), it changes nothing if the root logger
    already has handlers (e.g. under pytest)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    # On the handler, not a logger: it then sees records from every library's loggers too.
    handler.addFilter(ContextFilter())
    logging.basicConfig(level=level.upper(), handlers=[handler])
