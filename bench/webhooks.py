"""Webhooks: a job reaching a terminal status in Postgres → its signed POST received by a
local receiver (served by this process). The path: the outbox row written by the terminal
statement, its NOTIFY, the worker's dispatcher starting the delivery workflow, the
activity's attempt. No raw baseline: the figure is the end-to-end delay against a target.
"""

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import uvicorn

from bench.client import api_client, interleave
from bench.events import DEADLINE_S, new_job
from bench.sizes import Sizes
from bench.stats import Row, Summary, within
from core.enums import JobStatus
from db.transitions import Transition, transition
from docket.devstack import DevStack
from docket.embedded import find_free_port

NAME = "webhooks"
BENCH = "webhooks"
TARGET_P50_MS = 250.0
HOST = "127.0.0.1"
SUCCEEDED = Transition(JobStatus.SUCCEEDED, only_from=frozenset({JobStatus.RUNNING}))


class Arrivals:
    """An ASGI receiver: the moment each job's webhook arrived, by job id."""

    def __init__(self) -> None:
        self.waiting: dict[str, asyncio.Future[float]] = {}

    def expect(self, job_id: str) -> asyncio.Future[float]:
        arrived = self.waiting[job_id] = asyncio.get_running_loop().create_future()
        return arrived

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        arrived = self.waiting.get(json.loads(body)["id"])
        if arrived is not None and not arrived.done():
            arrived.set_result(time.perf_counter())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@contextlib.asynccontextmanager
async def receiver(app: Arrivals) -> AsyncIterator[str]:
    port = find_free_port(0, HOST)
    config = uvicorn.Config(app, host=HOST, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://{HOST}:{port}/hook"
    finally:
        server.should_exit = True
        await serving


async def one_delivery(pool: asyncpg.Pool, project: str, arrivals: Arrivals) -> float:
    job_id = await new_job(pool, project)
    await transition(pool, job_id, Transition(JobStatus.RUNNING))
    arrived = arrivals.expect(job_id)
    began = time.perf_counter()
    assert await transition(pool, job_id, SUCCEEDED)
    return await asyncio.wait_for(arrived, DEADLINE_S) - began


async def measure(stack: DevStack, sizes: Sizes) -> list[Row]:
    arrivals = Arrivals()
    pool = await asyncpg.create_pool(stack.env["DATABASE_URL"], min_size=1, max_size=2)
    assert pool is not None
    try:
        async with api_client(stack) as api, receiver(arrivals) as url:
            project = await api.project("webhooks")
            body = {"url": url, "events": ["job.succeeded"]}
            await api.json("POST", f"/v1/projects/{project}/webhooks", json=body)
            [samples] = await interleave(
                sizes.latency_runs,
                lambda: one_delivery(pool, project, arrivals),
                warmup=sizes.warmup,
            )
    finally:
        await pool.close()
    row = Row(
        BENCH,
        "job terminal → webhook received",
        Summary.latency(samples),
        target=f"p50 ≤ {TARGET_P50_MS:.0f} ms",
    )
    row.met = within(row, TARGET_P50_MS)
    return [row]


def run(stack: DevStack, sizes: Sizes) -> list[Row]:
    return asyncio.run(measure(stack, sizes))
