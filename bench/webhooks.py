"""Webhooks: a job reaching a terminal status in Postgres → its signed POST received by a
local receiver (served by this process). The path: the outbox row written by the terminal
statement, its NOTIFY, the worker's dispatcher starting the delivery workflow, the
activity's attempt. Baseline, interleaved: a bare Temporal workflow whose one activity POSTs
to the same receiver (started here, run by a worker in this process): the floor of any
delivery that Temporal carries.
"""

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import uvicorn
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from bench.client import TAG, api_client, interleave
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
# Where the time goes, from the rows (the outbox row's commit is the start of each leg).
LEGS = f"""
SELECT {TAG} percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM d.dispatched_at - d.created_at)) * 1000 AS dispatched,
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM a.started_at - d.dispatched_at)) * 1000 AS attempt_began,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY a.duration_ms) AS attempt_ms
FROM webhook_deliveries d JOIN webhook_attempts a ON a.delivery_id = d.id
WHERE d.job_id = ANY($1::text[])
"""


BARE_TIMEOUT = timedelta(seconds=30)


@activity.defn
async def bare_post(url: str, body: str) -> None:
    async with httpx.AsyncClient() as http:
        (await http.post(url, content=body)).raise_for_status()


@workflow.defn
class BarePostWorkflow:
    @workflow.run
    async def run(self, url: str, body: str) -> None:
        await workflow.execute_activity(
            bare_post, args=[url, body], start_to_close_timeout=BARE_TIMEOUT
        )


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


async def one_bare(client: Client, queue: str, url: str, arrivals: Arrivals) -> float:
    key = uuid.uuid4().hex
    arrived = arrivals.expect(key)
    began = time.perf_counter()
    await client.start_workflow(
        BarePostWorkflow.run, args=[url, json.dumps({"id": key})], id=key, task_queue=queue
    )
    return await asyncio.wait_for(arrived, DEADLINE_S) - began


async def one_delivery(
    pool: asyncpg.Pool, project: str, arrivals: Arrivals, made: list[str]
) -> float:
    job_id = await new_job(pool, project)
    made.append(job_id)
    await transition(pool, job_id, Transition(JobStatus.RUNNING))
    arrived = arrivals.expect(job_id)
    began = time.perf_counter()
    assert await transition(pool, job_id, SUCCEEDED)
    return await asyncio.wait_for(arrived, DEADLINE_S) - began


async def measure(stack: DevStack, sizes: Sizes) -> list[Row]:
    arrivals = Arrivals()
    made: list[str] = []
    pool = await asyncpg.create_pool(stack.env["DATABASE_URL"], min_size=1, max_size=2)
    assert pool is not None
    client = await Client.connect(stack.env["TEMPORAL_ADDRESS"])
    queue = f"bench-post-{uuid.uuid4().hex[:12]}"
    # Unsandboxed: this module imports HTTP libraries the sandbox refuses (none is used by
    # the workflow itself).
    bare = Worker(
        client,
        task_queue=queue,
        workflows=[BarePostWorkflow],
        activities=[bare_post],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    try:
        async with api_client(stack) as api, receiver(arrivals) as url, bare:
            project = await api.project("webhooks")
            body = {"url": url, "events": ["job.succeeded"]}
            await api.json("POST", f"/v1/projects/{project}/webhooks", json=body)
            samples, raw = await interleave(
                sizes.latency_runs,
                lambda: one_delivery(pool, project, arrivals, made),
                lambda: one_bare(client, queue, url, arrivals),
                warmup=sizes.warmup,
            )
            legs = await pool.fetchrow(LEGS, made)
    finally:
        await pool.close()
    row = Row(
        BENCH,
        "job terminal → webhook received",
        Summary.latency(samples),
        Summary.latency(raw),
        target=f"p50 ≤ {TARGET_P50_MS:.0f} ms",
    )
    row.met = within(row, TARGET_P50_MS)
    assert legs is not None
    row.extra = {
        "p50_commit_to_workflow_started_ms": legs["dispatched"],
        "p50_workflow_started_to_attempt_ms": legs["attempt_began"],
        "p50_attempt_ms": legs["attempt_ms"],
    }
    return [row]


def run(stack: DevStack, sizes: Sizes) -> list[Row]:
    return asyncio.run(measure(stack, sizes))
