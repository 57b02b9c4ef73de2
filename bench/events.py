"""Job events over SSE (GET .../jobs/{id}/events) on the stack's API process.

1. A status change committed in Postgres → its `status` event read by a client of the
   stream. Baseline: a bare LISTEN/NOTIFY round trip over asyncpg (NOTIFY committed on one
   connection → the callback on another), interleaved with it.
2. Many open streams on the one API process (1,000; a few at --quick): the API's CPU while
   they idle, then one status change on every stream's job, one after another: the latency
   of each event under that load, and that none is lost.
"""

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import psutil

from bench.client import api_client, interleave, sql
from bench.sizes import Sizes
from bench.stats import Row, Summary, percentile, within
from core.enums import JobStatus
from core.ids import IdPrefix, new_id
from db import jobs
from db.notify import Channel
from db.transitions import Transition, transition
from docket.devstack import DevStack

NAME = "events"
BENCH = "job events (SSE)"
TARGET_P50_MS, TARGET_RATIO = 20.0, 3.0
TARGET_P99_MS = 100.0
IDLE_SAMPLE_S = 3.0  # how long the API's CPU is sampled while every stream idles
DEADLINE_S = 60.0
RAW_CHANNEL = "docket_bench_raw"
RUNNING = Transition(JobStatus.RUNNING)


async def messages(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """(event, data) of each SSE message of a stream (comments skipped)."""
    kind, data = "", ""
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
        elif not line and data:
            yield kind, json.loads(data)
            kind, data = "", ""


class Streams:
    """Open event streams of one project's jobs through one HTTP client."""

    def __init__(self, http: httpx.AsyncClient, headers: dict[str, str], project: str) -> None:
        self.http, self.headers, self.project = http, headers, project

    @contextlib.asynccontextmanager
    async def open(self, job_id: str) -> AsyncIterator[AsyncIterator[tuple[str, Any]]]:
        url = f"/v1/projects/{self.project}/jobs/{job_id}/events"
        async with self.http.stream("GET", url, headers=self.headers) as response:
            assert response.status_code == 200, await response.aread()
            reading = messages(response)
            async for kind, _ in reading:  # the replay ends with the current status
                if kind == "status":
                    break
            yield reading


async def status_event(reading: AsyncIterator[tuple[str, Any]], status: str) -> float:
    """The moment the stream delivers a `status` event with that status."""
    async for kind, data in reading:
        if kind == "status" and data["status"] == status:
            return time.perf_counter()
    raise AssertionError("the stream ended before the event")


async def new_job(pool: asyncpg.Pool, project: str) -> str:
    job_id = new_id(IdPrefix.JOB)
    await jobs.insert(pool, jobs.NewJob(job_id, project, "parse", "bench", None, {}))
    return job_id


async def one_change(streams: Streams, pool: asyncpg.Pool, project: str) -> float:
    job_id = await new_job(pool, project)
    async with streams.open(job_id) as reading:
        waiting = asyncio.create_task(status_event(reading, JobStatus.RUNNING.value))
        began = time.perf_counter()
        assert await transition(pool, job_id, RUNNING)
        return await asyncio.wait_for(waiting, DEADLINE_S) - began


async def own_notification(pool: asyncpg.Pool, listener: asyncpg.Connection, project: str) -> float:
    """The same status change, received as its own NOTIFY by a bare asyncpg listener: what
    Postgres alone takes to commit the change (UPDATE, history INSERT, durable commit) and
    announce it, before any stream does anything."""
    job_id = await new_job(pool, project)
    arrived = asyncio.get_running_loop().create_future()

    def on_notify(_conn: object, _pid: int, _channel: str, payload: str) -> None:
        if payload.split()[0] == job_id and not arrived.done():
            arrived.set_result(time.perf_counter())

    await listener.add_listener(Channel.JOB.value, on_notify)
    try:
        began = time.perf_counter()
        assert await transition(pool, job_id, RUNNING)
        return float(await asyncio.wait_for(arrived, DEADLINE_S)) - began
    finally:
        await listener.remove_listener(Channel.JOB.value, on_notify)


async def raw_round_trip(sender: asyncpg.Connection, listener: asyncpg.Connection) -> float:
    arrived = asyncio.get_running_loop().create_future()

    def on_notify(*_: object) -> None:
        if not arrived.done():
            arrived.set_result(time.perf_counter())

    await listener.add_listener(RAW_CHANNEL, on_notify)
    try:
        began = time.perf_counter()
        await sender.execute(f"NOTIFY {RAW_CHANNEL}, 'x'")
        return float(await asyncio.wait_for(arrived, DEADLINE_S)) - began
    finally:
        await listener.remove_listener(RAW_CHANNEL, on_notify)


def api_cpu_seconds(stack: DevStack) -> float:
    times = psutil.Process(stack.children["api"].pid).cpu_times()
    return float(times.user + times.system)


async def many_streams(
    stack: DevStack, streams: Streams, pool: asyncpg.Pool, project: str, count: int
) -> tuple[list[float], float, int]:
    """Latencies (s) of one change on each of `count` open streams, the API's CPU share of
    one core while they idle, and how many events arrived."""
    job_ids = [await new_job(pool, project) for _ in range(count)]
    sent: dict[str, float] = {}
    got: dict[str, float] = {}
    opened = 0
    all_open = asyncio.Event()

    async def watch(job_id: str) -> None:
        nonlocal opened
        async with streams.open(job_id) as reading:
            opened += 1
            if opened == count:
                all_open.set()
            got[job_id] = await status_event(reading, JobStatus.RUNNING.value)

    watching = [asyncio.create_task(watch(job_id)) for job_id in job_ids]
    await asyncio.wait_for(all_open.wait(), DEADLINE_S)
    cpu_before, idle_began = api_cpu_seconds(stack), time.monotonic()
    await asyncio.sleep(IDLE_SAMPLE_S)  # a measurement window, not a wait for state
    idle_cpu = (api_cpu_seconds(stack) - cpu_before) / (time.monotonic() - idle_began)
    for job_id in job_ids:
        sent[job_id] = time.perf_counter()
        assert await transition(pool, job_id, RUNNING)
    await asyncio.wait_for(asyncio.gather(*watching), DEADLINE_S)
    return [got[j] - sent[j] for j in job_ids if j in got], idle_cpu, len(got)


async def measure(stack: DevStack, sizes: Sizes) -> list[Row]:
    count = sizes.open_streams
    limits = httpx.Limits(max_connections=count + 8, max_keepalive_connections=count + 8)
    headers = {
        "x-api-key": stack.credentials["api_key"],
        "x-selected-account-id": stack.credentials["account_id"],
    }
    pool = await asyncpg.create_pool(stack.env["DATABASE_URL"], min_size=2, max_size=4)
    assert pool is not None
    try:
        async with (
            api_client(stack) as api,
            httpx.AsyncClient(base_url=stack.api_url, timeout=DEADLINE_S, limits=limits) as http,
            sql(stack) as sender,
            sql(stack) as listener,
        ):
            project = await api.project("events")
            streams = Streams(http, headers, project)
            sse, raw, own = await interleave(
                sizes.latency_runs,
                lambda: one_change(streams, pool, project),
                lambda: raw_round_trip(sender, listener),
                lambda: own_notification(pool, listener, project),
                warmup=sizes.warmup,
            )
            latencies, idle_cpu, arrived = await many_streams(stack, streams, pool, project, count)
    finally:
        await pool.close()
    first = Row(
        BENCH,
        "status change → SSE event received",
        Summary.latency(sse),
        Summary.latency(raw),
        f"p50 ≤ {TARGET_P50_MS:.0f} ms, ≤ {TARGET_RATIO:.0f}x raw",
    )
    first.met = within(first, TARGET_P50_MS, TARGET_RATIO)
    # The same figure against the change's own notification: what the stream adds on top
    # of Postgres committing and announcing the change (the row above also counts the
    # change's own write, which a bare NOTIFY does not make).
    added = Row(
        BENCH,
        "status change → SSE event received, vs its own NOTIFY on a bare listener",
        Summary.latency(sse),
        Summary.latency(own),
    )
    under = Summary.latency(latencies)
    p99 = percentile([s * 1000 for s in latencies], 0.99)
    loaded = Row(
        BENCH,
        f"event latency under {count} open streams",
        under,
        target=f"no event lost; p99 ≤ {TARGET_P99_MS:.0f} ms",
    )
    loaded.met = arrived == count and p99 <= TARGET_P99_MS
    loaded.extra = {"p99_ms": p99, "events_lost": count - arrived}
    cpu = Row(BENCH, f"API CPU while {count} streams idle", Summary.single(idle_cpu * 100, "%"))
    cpu.extra = {"idle_sample_s": IDLE_SAMPLE_S}
    return [first, added, loaded, cpu]


def run(stack: DevStack, sizes: Sizes) -> list[Row]:
    return asyncio.run(measure(stack, sizes))
