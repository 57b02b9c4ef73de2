"""Dual write: a job whose workflow start was lost still runs, exactly once."""

import asyncio
import uuid

import asyncpg
import httpx
from temporalio.client import Client

from core.ids import IdPrefix, new_id
from core.settings import Settings
from db import convergence, jobs
from db.jobs import NewJob
from docket.reconciler import reconcile_forever, reconcile_once
from tests.helpers import upload, wait_status
from workflows.registry import default_registry


async def orphan_job(pool: asyncpg.Pool, project: str, file_id: str, age_s: float) -> str:
    """The fault: the row is inserted, the workflow start never happens (a crash)."""
    job_id = new_id(IdPrefix.JOB)
    await jobs.insert(pool, NewJob(job_id, project, "parse", file_id, uuid.uuid4().hex, {}))
    await pool.execute(
        "UPDATE jobs SET created_at = created_at - make_interval(secs => $2) WHERE id = $1",
        job_id,
        age_s,
    )
    return job_id


async def test_reconciler_runs_orphaned_job_within_threshold(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
    client: Client,
    settings: Settings,
) -> None:
    file = await upload(api, headers, project, "a.txt", b"orphaned but not lost", "text/plain")
    job_id = await orphan_job(pool, project, file["id"], age_s=0)
    quick = settings.model_copy(
        update={
            "reconcile_after_seconds": 0.5,
            "reconcile_every_seconds": 0.2,
            "reconcile_batch": 10_000,
        }
    )
    loop = asyncio.create_task(reconcile_forever(pool, client, quick, default_registry()))
    try:
        done = await wait_status(api, headers, project, job_id, {"succeeded", "failed"}, within=30)
    finally:
        loop.cancel()
    assert done["status"] == "succeeded"
    assert [e["status"] for e in done["history"]] == [
        "created",
        "started",
        "completed",
        "succeeded",
    ]


async def test_reconciling_twice_never_runs_a_job_twice(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
    client: Client,
    settings: Settings,
) -> None:
    file = await upload(api, headers, project, "b.txt", b"once only", "text/plain")
    job_id = await orphan_job(pool, project, file["id"], age_s=3600)
    stale = settings.model_copy(update={"reconcile_after_seconds": 60, "reconcile_batch": 10_000})
    # Several workers reconciling at the same moment.
    await asyncio.gather(
        *(reconcile_once(pool, client, stale, default_registry()) for _ in range(3))
    )
    done = await wait_status(api, headers, project, job_id, {"succeeded", "failed"})
    assert done["status"] == "succeeded"
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{job_id}'")]
    assert len(runs) <= 1  # visibility may lag, but never shows a second run
    results = await pool.fetchval("SELECT count(*) FROM parse_results WHERE job_id = $1", job_id)
    assert results == 1
    started = await pool.fetchval(
        "SELECT count(*) FROM job_events WHERE job_id = $1 AND status = 'started'", job_id
    )
    assert started == 1


async def test_young_and_child_jobs_are_left_alone(pool: asyncpg.Pool, project: str) -> None:
    young = await orphan_job(pool, project, "file_" + "0" * 32, age_s=0)
    parent = await orphan_job(pool, project, "file_" + "0" * 32, age_s=0)
    child = await orphan_job(pool, project, "file_" + "0" * 32, age_s=3600)
    await pool.execute("UPDATE jobs SET parent_job_id = $2 WHERE id = $1", child, parent)
    stale = [job.job_id for job in await convergence.next_to_check(pool, 30, 10_000)]
    assert young not in stale  # still inside the grace period
    assert child not in stale  # its batch starts it, not the reconciler
