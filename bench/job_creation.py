"""Job creation throughput: POST .../parse from C concurrent clients, in jobs/s.

Baseline: `client.start_workflow` of the same ParseWorkflow with the same options (through
the API's own starter, workflows/client.py start_job), from as many concurrent callers, in
the same run (rounds alternate). Both start workflows on a task queue no worker polls, so
this measures creation alone: running the jobs is what the parse throughput benchmark
measures.
"""

import asyncio
import functools
import time
import uuid
from collections.abc import Awaitable, Callable

from temporalio.client import Client

from bench.client import api_client, gather_bounded, retire, sql, timed
from bench.lean_http import LeanPool, lean_pool
from bench.sizes import Sizes
from bench.stack import unpolled_api
from bench.stats import Row, Summary
from core.enums import JobOperationType
from core.ids import IdPrefix, new_id
from core.settings import Settings
from docket.devstack import DevStack
from workflows.client import start_job
from workflows.registry import default_registry

NAME = "job_creation"
BENCH = "job creation"
TARGET_RATIO = 0.8


async def concurrently(
    clients: int, calls: list[Callable[[], Awaitable[object]]]
) -> tuple[float, list[float]]:
    """Wall time of all the calls, `clients` at a time, and each call's latency."""
    began = time.perf_counter()
    latencies = await gather_bounded(clients, [functools.partial(timed, call) for call in calls])
    return time.perf_counter() - began, latencies


class Creation:
    def __init__(
        self, http: LeanPool, client: Client, project: str, file_id: str, settings: Settings
    ):
        self.http, self.client, self.project, self.file_id = http, client, project, file_id
        # The API's own starter, pointed at a queue of its own that nobody polls either.
        queue = f"unpolled-raw-{uuid.uuid4().hex[:12]}"
        self.settings = settings.model_copy(update={"task_queue": queue})
        self.workflow_ids: list[str] = []

    async def docket(self) -> None:
        url = f"/v1/projects/{self.project}/parse"
        job = await self.http.json("POST", url, {"source_document_id": self.file_id})
        self.workflow_ids.append(job["id"])

    async def raw(self) -> None:
        job_id = new_id(IdPrefix.JOB)
        await start_job(
            self.client, self.settings, default_registry(), job_id, JobOperationType.PARSE
        )
        self.workflow_ids.append(job_id)


async def measure(stack: DevStack, url: str, sizes: Sizes) -> list[Row]:
    client = await Client.connect(stack.env["TEMPORAL_ADDRESS"])
    async with (
        api_client(stack) as main,
        lean_pool(url, stack.credentials, sizes.create_clients) as http,
        sql(stack) as conn,
    ):
        project = await main.project("creation")
        file_id = await main.upload(project, "tiny.txt", b"a tiny document")
        creation = Creation(http, client, project, file_id, stack.settings)
        walls: dict[str, list[float]] = {"docket": [], "raw": []}
        latencies: dict[str, list[float]] = {"docket": [], "raw": []}
        kinds: dict[str, Callable[[], Awaitable[None]]] = {
            "docket": creation.docket,
            "raw": creation.raw,
        }
        for round_ in range(sizes.create_rounds + 1):
            for kind, call in kinds.items():
                # Round 0 warms up (connections, prepared statements) and is not counted.
                count = sizes.create_clients * 2 if round_ == 0 else sizes.create_jobs
                wall, each = await concurrently(sizes.create_clients, [call] * count)
                if round_:
                    walls[kind].append(wall)
                    latencies[kind] += each
        await retire(conn, client, creation.workflow_ids)
    ours = Summary.rate(sizes.create_jobs, walls["docket"], "jobs/s")
    raw = Summary.rate(sizes.create_jobs, walls["raw"], "jobs/s")
    figure = f"POST parse, {sizes.create_clients} concurrent clients"
    row = Row(BENCH, figure, ours, raw, f"≥ {TARGET_RATIO}x raw")
    row.met = row.ratio is not None and row.ratio >= TARGET_RATIO
    return [
        row,
        Row(
            BENCH,
            "latency of one POST parse under that load",
            Summary.latency(latencies["docket"]),
            Summary.latency(latencies["raw"]),
        ),
    ]


def run(stack: DevStack, sizes: Sizes) -> list[Row]:
    with unpolled_api(stack) as url:
        return asyncio.run(measure(stack, url, sizes))
