"""A running batch's cancel writes one row, not one per child: its pending children are
cancelled by the batch's mark (every read says so at once, nothing can start or move them
elsewhere), and their rows are written `cancelled`, with their events, once it settles."""

from datetime import datetime

import asyncpg
import httpx

from core.enums import JobStatus
from core.ids import IdPrefix, new_id
from db import batch_cancel, batches
from db.jobs import NewJob
from db.transitions import Transition, record_cancel_requested, transition

CHILDREN = 3


async def raw_status(pool: asyncpg.Pool, job_id: str) -> str:
    value: str = await pool.fetchval("SELECT status FROM jobs WHERE id = $1", job_id)
    return value


async def running_batch(pool: asyncpg.Pool, project: str) -> tuple[str, list[str]]:
    """A running batch whose first child runs, the others pending."""
    batch = NewJob(new_id(IdPrefix.JOB), project, "batch_parse", None, None, {})
    children = [new_id(IdPrefix.JOB) for _ in range(CHILDREN)]
    sources = [f"file_{n:032d}" for n in range(CHILDREN)]
    async with pool.acquire() as conn:
        await batches.insert_batch(conn, batch, children, sources)
    assert await transition(pool, batch.id, Transition(JobStatus.RUNNING))
    assert await transition(pool, children[0], Transition(JobStatus.RUNNING))
    return batch.id, children


async def test_pending_children_read_cancelled_from_the_accepted_cancel_on(
    api: httpx.AsyncClient, headers: dict[str, str], pool: asyncpg.Pool, project: str
) -> None:
    batch_id, (working, *pending) = await running_batch(pool, project)
    assert await record_cancel_requested(pool, batch_id, "not needed")

    # The accepting statement left the pending rows alone and marked the working child.
    assert [await raw_status(pool, child) for child in pending] == ["pending", "pending"]
    assert await pool.fetchval(
        "SELECT cancel_requested_at IS NOT NULL FROM jobs WHERE id = $1", working
    )
    marked_at: datetime = await pool.fetchval(
        "SELECT cancel_requested_at FROM jobs WHERE id = $1", batch_id
    )

    url = f"/v1/projects/{project}/jobs"
    for child in pending:
        entity = (await api.get(f"{url}/{child}", headers=headers)).json()
        assert entity["status"] == "cancelled"
        assert datetime.fromisoformat(entity["completed_at"]) == marked_at
    batch = (await api.get(f"{url}/{batch_id}", headers=headers)).json()
    assert batch["status"] == "running"
    progress = batch["progress"]
    assert (progress["pending"], progress["cancelled"]) == (1, CHILDREN - 1)
    assert {c["job_id"]: c["status"] for c in progress["child_jobs"]} == {
        working: "running",
        **{child: "cancelled" for child in pending},
    }
    listed = await api.get(url, params={"status": "pending"}, headers=headers)
    assert not {j["id"] for j in listed.json()["items"]} & set(pending)
    listed = await api.get(url, params={"status": "cancelled"}, headers=headers)
    assert {j["id"] for j in listed.json()["items"]} >= set(pending)
    assert await batches.open_children(pool, batch_id, [working, *pending]) == [working]

    # Nothing moves a cancelled child but its own `cancelled` row.
    for target in (JobStatus.RUNNING, JobStatus.FAILED):
        assert not await transition(pool, pending[0], Transition(target))
    again = await api.post(f"{url}/{pending[0]}/cancel", headers=headers)
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    assert await raw_status(pool, pending[1]) == "pending"


async def test_pending_rows_are_written_cancelled_once_the_batch_settles(
    pool: asyncpg.Pool, project: str
) -> None:
    batch_id, (working, *pending) = await running_batch(pool, project)
    assert await record_cancel_requested(pool, batch_id, "not needed")
    assert await transition(pool, working, Transition(JobStatus.CANCELLED))

    moved, final, summary = await batches.finish(
        pool, batch_id, cancelled=True, reason="not needed"
    )
    assert moved and final is JobStatus.CANCELLED
    assert summary == {"total": CHILDREN, "succeeded": 0, "failed": 0, "cancelled": CHILDREN}
    rows = await pool.fetch(
        """SELECT j.status, j.completed_at = b.cancel_requested_at AS at_mark,
                  (SELECT details->>'reason' FROM job_events e
                   WHERE e.job_id = j.id AND e.status = 'cancelled') AS reason
           FROM jobs j JOIN jobs b ON b.id = j.parent_job_id WHERE j.id = ANY($1::text[])""",
        pending,
    )
    assert [tuple(row) for row in rows] == [("cancelled", True, "not needed")] * len(pending)


async def test_a_cancel_from_temporal_alone_marks_the_batch(
    api: httpx.AsyncClient, headers: dict[str, str], pool: asyncpg.Pool, project: str
) -> None:
    """The workflow's own step when Temporal's cancel reached it first (e.g. from the UI)."""
    batch_id, (_, *pending) = await running_batch(pool, project)
    assert await batch_cancel.cancel_pending_children(pool, batch_id) == 1
    assert await batch_cancel.cancel_pending_children(pool, batch_id) == 0
    child = await api.get(f"/v1/projects/{project}/jobs/{pending[0]}", headers=headers)
    assert child.json()["status"] == "cancelled"


async def test_a_cancelled_batch_settles_once_its_last_working_child_stops(
    pool: asyncpg.Pool, project: str
) -> None:
    """What the API asks after a batch's 202, before its workflow has heard of the cancel."""
    batch_id, (working, *pending) = await running_batch(pool, project)
    assert await batches.settle_if_stopped(pool, batch_id) is None  # no cancel accepted
    assert await record_cancel_requested(pool, batch_id, "not needed")
    assert await batches.settle_if_stopped(pool, batch_id) is False  # a child still works
    assert await raw_status(pool, batch_id) == "running"
    assert await transition(pool, working, Transition(JobStatus.CANCELLED))
    assert await batches.settle_if_stopped(pool, batch_id) is True
    assert await batches.settle_if_stopped(pool, batch_id) is None  # settled already
    assert await raw_status(pool, batch_id) == "cancelled"
    assert [await raw_status(pool, child) for child in pending] == ["cancelled"] * len(pending)
    # The workflow's own finish, later, changes nothing.
    moved, final, summary = await batches.finish(pool, batch_id, cancelled=True)
    assert not moved and final is JobStatus.CANCELLED
    assert summary["cancelled"] == CHILDREN
