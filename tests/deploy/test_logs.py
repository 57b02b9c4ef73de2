"""JSON logs (docket/logs.py): one object per line, with the job and Temporal context that
the record belongs to."""

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from temporalio import activity
from temporalio.testing import ActivityEnvironment

from core import logs
from core.settings import get_settings


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing through a handler set up exactly like `logs.configure` does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.ContextFilter())
    logger = logging.getLogger("docket.test-logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_json_object_per_line(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    logger.info("hello %s", "world", extra={"rows": 3})
    logger.warning("two\nlines")
    first, second = lines(stream)
    assert first["message"] == "hello world" and first["rows"] == 3
    assert first["level"] == "INFO" and first["logger"] == "docket.test-logs"
    assert first["ts"].endswith("+00:00")
    assert second["message"] == "two\nlines"  # a newline in a message stays inside the line


def test_exceptions_and_odd_extras_do_not_break_the_line(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed", extra={"obj": object()})
    (line,) = lines(stream)
    assert "ValueError: boom" in line["exception"]
    assert line["obj"].startswith("<object object")


def test_bound_fields_apply_inside_the_block_only(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    with logs.bind(job_id="job_1", correlation_id="corr_9"):
        logger.info("inside")
    logger.info("outside")
    inside, outside = lines(stream)
    assert (inside["job_id"], inside["correlation_id"]) == ("job_1", "corr_9")
    assert "job_id" not in outside and "correlation_id" not in outside


async def test_activity_context_names_the_job_and_activity(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture

    @activity.defn(name="parse_document")
    async def parse_document() -> None:
        logger.info("parsing")  # a plain module logger, as activities/ uses

    await ActivityEnvironment().run(parse_document)
    (line,) = lines(stream)
    info = ActivityEnvironment().info  # the test environment's default activity info
    assert line["workflow_id"] == line["job_id"] == info.workflow_id
    assert line["activity"] == info.activity_type and line["attempt"] == info.attempt


def test_workflow_logger_details_are_flattened(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    details = {"workflow_id": "job_7", "run_id": "r1", "workflow_type": "ParseWorkflow"}
    logger.info("from a workflow", extra={"temporal_workflow": details})
    (line,) = lines(stream)
    assert (line["job_id"], line["workflow_id"], line["run_id"]) == ("job_7", "job_7", "r1")
    assert "temporal_workflow" not in line


def test_format_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKET_LOG_FORMAT", raising=False)
    assert get_settings().log_format == "text"
    monkeypatch.setenv("DOCKET_LOG_FORMAT", "JSON")
    assert get_settings().log_format == "json"
    monkeypatch.setenv("DOCKET_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="log_format"):
        get_settings()


def test_configure_installs_the_json_handler_on_a_bare_root() -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    root.handlers.clear()  # as in a fresh process (pytest has put its own handlers here)
    stream = io.StringIO()
    try:
        logs.configure("debug", "json", stream=stream)
        logging.getLogger("uvicorn.error").debug("started")
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    (line,) = lines(stream)
    assert line["logger"] == "uvicorn.error" and line["level"] == "DEBUG"
