"""The job state machine in Postgres: allowed moves only, terminal states final, the
result fence, and one history event per transition."""

import asyncio

import asyncpg
import httpx
import pytest

from core.enums import ALLOWED_TRANSITIONS, JobStatus
from core.ids import IdPrefix, new_id
from db import batches, results
from db.transitions import Transition, record_cancel_requested, transition
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
    moved = await transition(pool, job_id, Transition(target))
    assert moved == (target in ALLOWED_TRANSITIONS[source])
    assert await status(pool, job_id) == (target.value if moved else source.value)
    # The event is written exactly when the status changes.
    assert await events(pool, job_id) == before + int(moved)


def parsed() -> results.ParsedDocument:
    return results.ParsedDocument(
        result_id=new_id(IdPrefix.PARSE_RESULT),
        engine="docket",
        page_count=1,
        chunks=[{"content": "x", "blocks": []}],
        parse_ms=5,
    )


async def test_result_fence_rejects_late_result(
    api: httpx.AsyncClient, pool: asyncpg.Pool, project: str
) -> None:
    job_id = await insert_job(pool, project, "running")
    assert await transition(pool, job_id, Transition(JobStatus.CANCELLED))
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


async def test_accepted_cancel_fences_out_the_result(
    api: httpx.AsyncClient, pool: asyncpg.Pool, project: str
) -> None:
    job_id = await insert_job(pool, project, "running")
    assert await record_cancel_requested(pool, job_id, "stop")
    assert not await results.store_and_succeed(pool, job_id, parsed())
    assert await status(pool, job_id) == "running"  # the activity settles it (cancelled)
    assert await pool.fetchval("SELECT count(*) FROM parse_results WHERE job_id = $1", job_id) == 0


async def test_cancel_after_the_result_is_not_recorded(
    api: httpx.AsyncClient, pool: asyncpg.Pool, project: str
) -> None:
    job_id = await insert_job(pool, project, "running")
    assert await results.store_and_succeed(pool, job_id, parsed())
    assert not await record_cancel_requested(pool, job_id, "too late")
    assert await status(pool, job_id) == "succeeded"


async def wait_until_blocked(pool: asyncpg.Pool, pid: int) -> None:
    """Until backend `pid` waits for a lock (polled with a deadline)."""
    deadline = asyncio.get_running_loop().time() + 10
    while await pool.fetchval(LOCK_WAIT, pid) is not True:
        assert asyncio.get_running_loop().time() < deadline, "never blocked on the row lock"
        await asyncio.sleep(0.01)


LOCK_WAIT = "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1"


@pytest.mark.parametrize("first", ["cancel", "result"])
async def test_cancel_and_result_racing_are_ordered_by_the_row(
    api: httpx.AsyncClient, pool: asyncpg.Pool, project: str, first: str
) -> None:
    """Whichever commits first wins; the other sees it (never both: a 202 then `succeeded`)."""
    job_id = await insert_job(pool, project, "running")
    async with pool.acquire() as holder, pool.acquire() as other:
        transaction = holder.transaction()
        await transaction.start()
        if first == "cancel":
            assert await record_cancel_requested(holder, job_id, "race")
            loser = asyncio.create_task(results.store_and_succeed(other, job_id, parsed()))
        else:
            assert await results.store_and_succeed(holder, job_id, parsed())
            loser = asyncio.create_task(record_cancel_requested(other, job_id, "race"))
        await wait_until_blocked(pool, other.get_server_pid())
        await transaction.commit()
        assert await loser is False
    assert await status(pool, job_id) == ("running" if first == "cancel" else "succeeded")


async def test_batch_with_an_accepted_cancel_settles_cancelled(
    api: httpx.AsyncClient, pool: asyncpg.Pool, project: str
) -> None:
    """All children done, but the API answered 202 to a cancel first: the batch ends
    `cancelled` (with the reason given), as promised, not `succeeded`."""
    batch_id = await insert_job(pool, project, "running", operation="batch_parse")
    assert await record_cancel_requested(pool, batch_id, "changed my mind")
    moved, final, _ = await batches.finish(pool, batch_id, cancelled=False)
    assert moved and final is JobStatus.CANCELLED
    assert await status(pool, batch_id) == "cancelled"
    reason = await pool.fetchval(
        "SELECT details->>'reason' FROM job_events WHERE job_id = $1 AND status = 'cancelled'",
        batch_id,
    )
    assert reason == "changed my mind"
