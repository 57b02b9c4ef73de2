"""One trace from the HTTP request to the activity: the request's span, the workflow start,
the workflow and its parse activity (and a batch's children), linked parent to child,
collected by the SDK's in-memory exporter."""

import json
import logging
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client

from api.app import create_app
from api.deps import AppState
from core.logs import ContextFilter, JsonFormatter
from core.settings import Settings
from core.storage import FileStorage
from core.tracing import CORRELATION_ID, JOB_ID, temporal_interceptors
from docket.worker import build_worker, job_activities
from tests.helpers import create_job, eventually, upload, wait_status


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def traced_api(
    settings: Settings, pool: asyncpg.Pool, client: Client, spans: InMemorySpanExporter
) -> AsyncIterator[httpx.AsyncClient]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    config = client.config()
    config["interceptors"] = temporal_interceptors(provider)
    traced = Client(**config)
    tuned = settings.model_copy(update={"task_queue": f"traced-{uuid.uuid4().hex}"})
    app = create_app(tuned, AppState(tuned, pool, traced, FileStorage(tuned.storage_dir)), provider)
    transport = httpx.ASGITransport(app=app)
    async with (
        build_worker(traced, tuned, job_activities(pool, tuned)),
        httpx.AsyncClient(transport=transport, base_url="http://docket.test") as http,
    ):
        yield http
    provider.shutdown()


async def trace_of(
    spans: InMemorySpanExporter, route: str, until: dict[str, int]
) -> tuple[ReadableSpan, list[ReadableSpan]]:
    """The server span of the (one) request to `route`, and every span of its trace, once
    it holds `until` (span name → how many): a span ends after the job's status moved."""

    async def finished() -> tuple[ReadableSpan, list[ReadableSpan]]:
        return _trace(spans, route)

    def complete(found: tuple[ReadableSpan, list[ReadableSpan]]) -> bool:
        names = [s.name for s in found[1]]
        return all(names.count(name) >= count for name, count in until.items())

    return await eventually(finished, complete)


def _trace(spans: InMemorySpanExporter, route: str) -> tuple[ReadableSpan, list[ReadableSpan]]:
    finished = spans.get_finished_spans()
    [request] = [s for s in finished if s.attributes and s.attributes.get("http.route") == route]
    assert request.context is not None
    trace_id = request.context.trace_id
    return request, [s for s in finished if s.context and s.context.trace_id == trace_id]


def parent_of(span: ReadableSpan, everything: list[ReadableSpan]) -> ReadableSpan:
    assert span.parent is not None, span.name
    [parent] = [s for s in everything if s.context and s.context.span_id == span.parent.span_id]
    return parent


def ancestors(span: ReadableSpan, everything: list[ReadableSpan]) -> list[str]:
    names = []
    while span.parent is not None:
        span = parent_of(span, everything)
        names.append(span.name)
    return names


async def test_a_parse_request_is_one_trace_down_to_the_activity(
    traced_api: httpx.AsyncClient,
    spans: InMemorySpanExporter,
    headers: dict[str, str],
    project: str,
) -> None:
    text = await upload(traced_api, headers, project, "t.txt", b"traced", "text/plain")
    correlation = f"corr-{uuid.uuid4().hex}"
    response = await traced_api.post(
        f"/v1/projects/{project}/parse",
        json={"source_document_id": text["id"]},
        headers={**headers, "x-correlation-id": correlation},
    )
    assert response.status_code == 200, response.text
    job_id = response.json()["id"]
    await wait_status(traced_api, headers, project, job_id, {"succeeded"})

    expected = {"StartWorkflow:ParseWorkflow": 1, "RunWorkflow:ParseWorkflow": 1}
    expected["RunActivity:parse_document"] = 1
    request, trace = await trace_of(spans, "/v1/projects/{project_id}/parse", expected)
    assert request.attributes is not None
    assert request.attributes[CORRELATION_ID] == correlation
    names = [s.name for s in trace]
    assert "StartWorkflow:ParseWorkflow" in names
    assert "RunWorkflow:ParseWorkflow" in names
    [activity] = [s for s in trace if s.name == "RunActivity:parse_document"]
    assert activity.attributes is not None and activity.attributes[JOB_ID] == job_id
    # Linked as the SDK's interceptor links them: the activity's run under its start in
    # the workflow, which (like the workflow's run) hangs under the workflow start, which
    # hangs under the request.
    chain = ancestors(activity, trace)
    assert chain == ["StartActivity:parse_document", "StartWorkflow:ParseWorkflow", request.name]
    [run] = [s for s in trace if s.name == "RunWorkflow:ParseWorkflow"]
    assert ancestors(run, trace) == ["StartWorkflow:ParseWorkflow", request.name]


async def test_a_batch_trace_holds_its_children(
    traced_api: httpx.AsyncClient,
    spans: InMemorySpanExporter,
    headers: dict[str, str],
    project: str,
) -> None:
    ids = [
        (await upload(traced_api, headers, project, f"c{n}.txt", b"child", "text/plain"))["id"]
        for n in range(2)
    ]
    batch = await create_job(
        traced_api, headers, project, "parse/batch", {"source_document_ids": ids}
    )
    await wait_status(traced_api, headers, project, batch["id"], {"succeeded"})
    children = {"RunWorkflow:ParseWorkflow": 2, "RunActivity:parse_document": 2}
    _, trace = await trace_of(spans, "/v1/projects/{project_id}/parse/batch", children)
    names = [s.name for s in trace]
    assert names.count("RunWorkflow:ParseWorkflow") == 2, names
    assert names.count("RunActivity:parse_document") == 2, names


def test_log_lines_carry_the_trace_and_span_ids() -> None:
    provider = TracerProvider()
    record = logging.makeLogRecord({"msg": "inside", "levelname": "INFO", "name": "t"})
    with provider.get_tracer("t").start_as_current_span("work") as span:
        ContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert line["span_id"] == format(span.get_span_context().span_id, "016x")
