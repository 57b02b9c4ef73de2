"""The cost of observability on the hot path: GET job and POST parse through three
in-process copies of the API app (over ASGI, sharing one pool and one Temporal client):
metrics off, metrics on (the target: at most 5% slower), and metrics plus tracing into a
no-op exporter (reported). The calls alternate between the apps (bench/client.py
`interleave`), so the machine's noise hits all three alike; the difference is the
middleware, the instrumentation and the interceptors."""

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Sequence

import asyncpg
import httpx
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from temporalio.client import Client

from api.app import create_app
from api.deps import AppState
from bench.client import Api, api_client, interleave, sql, whole
from bench.get_job import seed_history
from bench.sizes import Sizes
from bench.stats import Row, Summary, within
from core.settings import get_settings
from core.storage import FileStorage
from core.tracing import temporal_interceptors
from db.pool import SERVER_SETTINGS
from docket.devstack import DevStack

NAME = "observability"
BENCH = "observability cost"
TARGET_RATIO = 1.05
POOL_SIZE = 4  # one request at a time per app: a few connections suffice


class NoopExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


@contextlib.asynccontextmanager
async def apps(stack: DevStack) -> AsyncIterator[list[Api]]:
    """Metrics off, metrics on, metrics and tracing on: an Api client for each app."""
    pool = await asyncpg.create_pool(
        stack.env["DATABASE_URL"], min_size=1, max_size=POOL_SIZE, server_settings=SERVER_SETTINGS
    )
    assert pool is not None
    try:
        plain = await Client.connect(stack.env["TEMPORAL_ADDRESS"])
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(NoopExporter()))
        traced = Client(**{**plain.config(), "interceptors": temporal_interceptors(provider)})
        base = get_settings(data_dir=stack.data_dir, secret_key="bench")
        variants = [
            (base.model_copy(update={"metrics_enabled": False}), plain, None),
            (base, plain, None),
            (base, traced, provider),
        ]
        async with contextlib.AsyncExitStack() as clients:
            found = []
            for settings, client, traces in variants:
                state = AppState(settings, pool, client, FileStorage(settings.storage_dir))
                transport = httpx.ASGITransport(app=create_app(settings, state, traces))
                http = httpx.AsyncClient(transport=transport, base_url="http://bench")
                found.append(Api(await clients.enter_async_context(http), stack.credentials))
            yield found
    finally:
        await pool.close()


async def measure(stack: DevStack, sizes: Sizes) -> list[Row]:
    async with api_client(stack) as setup, sql(stack) as conn, apps(stack) as variants:
        project = await setup.project("observability")
        job = await seed_history(conn, project, sizes.history_events)
        file_id = await setup.upload(project, "o.txt", b"observability cost")
        url = f"/v1/projects/{project}/jobs/{job}"
        gets = [whole(functools.partial(api.json, "GET", url)) for api in variants]
        posts = [whole(functools.partial(api.parse, project, file_id)) for api in variants]
        timings = await interleave(sizes.latency_runs, *gets, *posts, warmup=sizes.warmup)
    get_off, get_on, get_traced, post_off, post_on, post_traced = map(Summary.latency, timings)
    target = f"≤ {TARGET_RATIO}x metrics off"
    rows = [
        Row(BENCH, "GET job, metrics on vs off", get_on, get_off, target),
        Row(BENCH, "POST parse, metrics on vs off", post_on, post_off, target),
    ]
    for row in rows:
        row.met = within(row, ratio_max=TARGET_RATIO)
    return [
        *rows,
        Row(BENCH, "GET job, tracing (no-op exporter) vs off", get_traced, get_off),
        Row(BENCH, "POST parse, tracing (no-op exporter) vs off", post_traced, post_off),
    ]


def run(stack: DevStack, sizes: Sizes) -> list[Row]:
    return asyncio.run(measure(stack, sizes))
