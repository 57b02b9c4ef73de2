"""The job state machine in Postgres: allowed moves only, terminal states final, the
result fence, and one history event per transition."""

import asyncpg
import httpx
import pytest

from db import jobs, results
from db.jobs import Transition
from docket.enums import ALLOWED_TRANSITIONS, JobStatus
from tests.factories import insert_job


async def status(pool: asyncpg.Pool, job_id: str) -> str:
    value: str = await pool.fetchval("SELECT status FROM jobs WHERE id = $1", job_id)
    return value


async def events(pool: asyncpg.Pool, job_id: str) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM job_events WHERE job_id = $1", job_id)
    return count


@pytest.mark.parametrize("source", list(JobStatus))
@pytest.mark.parametrize("target", [s for s in JobStatus if s is not JobStatus.PENDING])
async def test_transition_matrix(
    api: httpx.AsyncClient,
    pool: asyncpg.Pool,
    project: str,
    source: JobStatus,
    target: JobStatus,
) -> None:
    job_id = await insert_job(pool, project, source.value)
    before = await events(pool, job_id)
    moved = await jobs.transition(pool, job_id, Transition(target, "step", "status"))
    assert moved == (target in ALLOWED_TRANSITIONS[source])
    assert await status(pool, job_id) == (target.value if moved else source.value)
    # The event is written exactly when the status changes.
    assert await events(pool, job_id) == before + int(moved)


def parsed() -> results.ParsedDocument:
    return results.ParsedDocument(
        result_id="pres_" + "1" * 32,
        engine="docket",
        page_count=1,
        chunks=[{"content": "x", "blocks": []}],
        parse_ms=5,
    )


async def test_result_fence_rejects_late_result(
    api: httpx.AsyncClient, pool: asyncpg.Pool, project: str
) -> None:
    job_id = await insert_job(pool, project, "running")
    assert await jobs.transition(pool, job_id, Transition(JobStatus.CANCELLED, "c", "cancelled"))
    assert not await results.store_and_succeed(pool, job_id, parsed())
    assert await status(pool, job_id) == "cancelled"
    assert await pool.fetchval("SELECT count(*) FROM parse_results WHERE job_id = $1", job_id) == 0


async def test_result_and_success_commit_together(
    api: httpx.AsyncClient, pool: asyncpg.Pool, project: str
) -> None:
    job_id = await insert_job(pool, project, "running")
    doc = parsed()
    doc = results.ParsedDocument("pres_" + "2" * 32, doc.engine, 1, doc.chunks, 5)
    assert await results.store_and_succeed(pool, job_id, doc)
    assert await status(pool, job_id) == "succeeded"
    assert (
        await pool.fetchval("SELECT job_id FROM parse_results WHERE id = $1", doc.result_id)
        == job_id
    )
    # A second (retried) store is a no-op: the job is no longer running.
    assert not await results.store_and_succeed(pool, job_id, doc)
