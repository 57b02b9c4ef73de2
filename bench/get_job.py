"""GET one job: a parse job with a 50-event history, and a batch with 1,000 children (its
`progress` lists every child). Baseline: the same SQL (db/jobs.py GET_JOB, which renders the
JSON in Postgres) run directly over one connection, alternating with the HTTP calls.

A third pair, GET of a project against its SQL, is the API's fixed cost per request
(auth, routing, a pooled query): it is what the ratios of cheap reads are made of. A fourth,
GET /healthz (no auth, `SELECT 1` through the pool) against `SELECT 1`, is the floor any
request through the API server pays: HTTP, ASGI, FastAPI routing, one pooled round trip.
"""

import asyncio
import functools

import asyncpg

from bench.client import TAG, Probe, account_of, api_client, interleave, sql, whole
from bench.lean_http import LeanHttp, lean_http
from bench.sizes import Sizes
from bench.stats import Row, Summary, within
from core.ids import IdPrefix, new_id
from db import batches, jobs, projects
from db.jobs import NewJob
from docket.devstack import DevStack

NAME = "get_job"
BENCH = "get job"
TARGET_RATIO = 1.5
# The children end up in a realistic mix of outcomes, each with its parse result id.
SETTLE_CHILDREN = f"""
UPDATE {TAG} jobs SET
    status = CASE WHEN right(id, 1) IN ('0', '1') THEN 'failed' ELSE 'succeeded' END,
    started_at = created_at, completed_at = clock_timestamp(),
    result = CASE WHEN right(id, 1) IN ('0', '1') THEN NULL
                  ELSE jsonb_build_object('parse_result_id', 'pres_' || md5(id)) END,
    error = CASE WHEN right(id, 1) IN ('0', '1') THEN 'cannot parse: no text' END
WHERE parent_job_id = $1"""
# Seeded jobs end terminal: the worker's reconciler starts workflows for stale pending ones.
FINISH = f"""
UPDATE {TAG} jobs SET status = 'succeeded', started_at = created_at,
                      completed_at = clock_timestamp()
WHERE id = $1"""


def new_job(project: str, operation: str = "parse", source: str | None = None) -> NewJob:
    source = source or new_id(IdPrefix.FILE)
    return NewJob(new_id(IdPrefix.JOB), project, operation, source, "bench", {})


async def seed_history(conn: asyncpg.Connection, project: str, events: int) -> str:
    job = new_job(project)
    await jobs.insert(conn, job, {"engine": "docket"})
    for n in range(1, events):
        await jobs.append_event(conn, job.id, f"Step {n}", "progress", {"pages": n}, n)
    await conn.execute(FINISH, job.id)
    return job.id


async def seed_batch(conn: asyncpg.Connection, project: str, children: int) -> str:
    batch = new_job(project, "batch_parse")
    child_ids = [new_id(IdPrefix.JOB) for _ in range(children)]
    sources = [new_id(IdPrefix.FILE) for _ in range(children)]
    await batches.insert_batch(conn, batch, child_ids, sources)
    await conn.execute(SETTLE_CHILDREN, batch.id)
    await conn.execute(FINISH, batch.id)
    return batch.id


def pair(
    http: LeanHttp, conn: asyncpg.Connection, url: str, query: str, *params: str
) -> tuple[Probe, Probe]:
    return (
        whole(functools.partial(http.ok, "GET", url)),
        whole(functools.partial(conn.fetchval, query, *params)),
    )


async def measure(stack: DevStack, sizes: Sizes) -> list[Row]:
    async with (
        api_client(stack) as api,
        sql(stack) as conn,
        lean_http(stack.api_url, stack.credentials) as http,
    ):
        project = await api.project("get-job")
        account = await account_of(conn, project)
        history = await seed_history(conn, project, sizes.history_events)
        batch = await seed_batch(conn, project, sizes.batch_children)
        base = f"/v1/projects/{project}"
        probes = [
            *pair(http, conn, f"{base}/jobs/{history}", jobs.GET_JOB, history, project, account),
            *pair(http, conn, f"{base}/jobs/{batch}", jobs.GET_JOB, batch, project, account),
            *pair(http, conn, base, projects.GET_PROJECT, project, account),
            *pair(http, conn, "/healthz", "SELECT 1"),
        ]
        timings = await interleave(sizes.latency_runs, *probes, warmup=sizes.warmup)
    samples = [Summary.latency(seconds) for seconds in timings]
    target = f"≤ {TARGET_RATIO}x raw"
    rows = [
        Row(BENCH, f"GET job with {sizes.history_events} history events", *samples[0:2], target),
        Row(BENCH, f"GET batch with {sizes.batch_children} children", *samples[2:4], target),
    ]
    for row in rows:
        row.met = within(row, ratio_max=TARGET_RATIO)
    return [
        *rows,
        Row(BENCH, "GET project (the API's fixed cost per request)", *samples[4:6]),
        Row(BENCH, "GET /healthz: SELECT 1, no auth (the floor of any request)", *samples[6:8]),
    ]


def run(stack: DevStack, sizes: Sizes) -> list[Row]:
    return asyncio.run(measure(stack, sizes))
