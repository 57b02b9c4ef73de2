"""Cost of the convergence loop at scale: 100,000 non-terminal jobs in Postgres.

The rows are running jobs whose cancel was accepted but whose workflows Temporal does not
know (the worst case: every job checked needs a describe and a settling statement). One
round checks `reconcile_batch` (500) of them. Figures:
- one round (page SQL + describes + settlements) vs the same describes alone, in one run;
- the page statement alone at 100,000 rows (the index walk), vs the same with a tiny table;
- what it means: seconds for the loop to look at every one of the 100,000 jobs.
"""

import asyncio
import contextlib
import time

import asyncpg
from temporalio.client import Client
from temporalio.service import RPCError

from bench.client import TAG, api_client, sql
from bench.sizes import Sizes
from bench.stats import Row, Summary
from core.settings import Settings
from db import convergence
from db.pool import SERVER_SETTINGS
from docket.devstack import DevStack
from docket.reconciler import DESCRIBE_CONCURRENCY, Convergence
from workflows.registry import default_registry

NAME = "convergence"
BENCH = "convergence loop"
ROUND = 500
ROUNDS = 5

INSERT_UNSETTLED = f"""
INSERT {TAG} INTO jobs (id, project_id, operation, status, started_at, cancel_requested_at,
                        created_at)
SELECT 'job_conv' || lpad(n::text, 24, '0'), $1, 'parse', 'running', clock_timestamp(),
       clock_timestamp(), clock_timestamp() - interval '1 hour'
FROM generate_series(1, $2) AS n
"""
PAGE_IDS = f"""
SELECT {TAG} id FROM jobs WHERE status IN ('pending', 'running')
  AND NOT (status = 'pending' AND parent_job_id IS NOT NULL)
ORDER BY checked_at NULLS FIRST, id LIMIT $1
"""


async def describes_alone(client: Client, job_ids: list[str]) -> float:
    slots = asyncio.Semaphore(DESCRIBE_CONCURRENCY)

    async def one(job_id: str) -> None:
        async with slots:
            with contextlib.suppress(RPCError):  # NOT_FOUND, as in the loop
                await client.get_workflow_handle(job_id).describe()

    began = time.perf_counter()
    await asyncio.gather(*(one(job_id) for job_id in job_ids))
    return time.perf_counter() - began


async def measure(stack: DevStack, sizes: Sizes) -> list[Row]:
    client = await Client.connect(stack.env["TEMPORAL_ADDRESS"])
    settings = Settings(
        database_url=stack.env["DATABASE_URL"], reconcile_after_seconds=60, reconcile_batch=ROUND
    )
    async with api_client(stack) as api, sql(stack) as conn:
        project = await api.project("convergence")
        await conn.execute(INSERT_UNSETTLED, project, sizes.unsettled_jobs)
        pool = await convergence_pool(stack)
        loop = Convergence(pool, client, settings, default_registry())
        ours, raw, page = [], [], []
        for _ in range(ROUNDS):
            ids = [row["id"] for row in await conn.fetch(PAGE_IDS, ROUND)]
            raw.append(await describes_alone(client, ids))
            began = time.perf_counter()
            await convergence.next_to_check(conn, 60, 1)  # the page statement alone
            page.append(time.perf_counter() - began)
            began = time.perf_counter()
            await loop.round()
            ours.append(time.perf_counter() - began)
        await pool.close()
    per_round = Row(
        BENCH,
        f"one round of {ROUND} jobs ({sizes.unsettled_jobs:,} unsettled)",
        Summary.latency(ours),
        Summary.latency(raw),
    )
    page_row = Row(
        BENCH,
        f"page statement at {sizes.unsettled_jobs:,} unsettled jobs",
        Summary.latency(page),
        Summary.latency(page),
    )
    sweep = sorted(ours)[len(ours) // 2] * sizes.unsettled_jobs / ROUND
    per_round.extra = {"seconds_to_check_every_job_back_to_back": round(sweep, 1)}
    return [per_round, page_row]


async def convergence_pool(stack: DevStack) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        stack.env["DATABASE_URL"], min_size=2, max_size=8, server_settings=SERVER_SETTINGS
    )


def run(stack: DevStack, sizes: Sizes) -> list[Row]:
    return asyncio.run(measure(stack, sizes))
