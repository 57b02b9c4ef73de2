"""A cancel reaches running work through Postgres (NOTIFY) in milliseconds, without waiting
for Temporal's heartbeat; a dropped LISTEN connection loses no cancel; only the worker that
holds the job acts; and the fence still holds."""

import asyncio
import time

import asyncpg
import httpx
from temporalio.client import Client, WorkflowExecutionStatus

from activities.cancels import CancelBoard
from db.notify import Listener
from db.transitions import record_cancel_requested
from tests.factories import insert_parse_result
from tests.helpers import create_job, eventually, upload, wait_status

TERMINAL = {"succeeded", "failed", "cancelled"}
# Far below Temporal's path (a heartbeat throttle, a workflow task, the cleanup activity).
FAST = 2.0


async def running_rechunk(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
    board: CancelBoard,
) -> str:
    """A rechunk of a 10,000-page result, running on this worker (on its board)."""
    source = await insert_parse_result(pool, project, pages=10_000)
    body = {"chunking_options": {"chunk_size": 64, "chunk_overlap": 8}}
    job = await create_job(api, headers, project, f"parse/{source}/rechunk", body)
    job_id = str(job["id"])
    await wait_status(api, headers, project, job_id, {"running"})
    await eventually(lambda: asyncio.sleep(0, board.running()), lambda ids: job_id in ids)
    return job_id


async def test_a_cancel_reaches_the_work_through_postgres_alone(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
    client: Client,
    board: CancelBoard,
) -> None:
    """Temporal's cancel is held back (the statement the API runs, without the RPC that
    follows it): the job still ends `cancelled`, fast, so Postgres' path acted."""
    job_id = await running_rechunk(api, headers, project, pool, board)
    began = time.monotonic()
    assert await record_cancel_requested(pool, job_id, "through postgres")
    done = await wait_status(api, headers, project, job_id, TERMINAL, within=FAST)
    took = time.monotonic() - began
    assert done["status"] == "cancelled", done
    assert done["history"][-1]["details"]["reason"] == "through postgres"
    assert took < FAST
    stored = await pool.fetchval("SELECT count(*) FROM parse_results WHERE job_id = $1", job_id)
    assert stored == 0  # the fence
    handle = client.get_workflow_handle(job_id)
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING  # waits for it
    await handle.cancel()  # Temporal's own cancel, late: the workflow ends CANCELED, nothing moves
    described = await eventually(
        handle.describe, lambda d: d.status != WorkflowExecutionStatus.RUNNING
    )
    assert described.status == WorkflowExecutionStatus.CANCELED
    again = await wait_status(api, headers, project, job_id, TERMINAL)
    assert again["history"] == done["history"]


async def test_a_dropped_listener_catches_up_on_reconnect(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
    client: Client,
    board: CancelBoard,
    listener: Listener,
) -> None:
    job_id = await running_rechunk(api, headers, project, pool, board)
    before = listener.connects
    await listener.drop()
    # The notification is sent while the connection is down: it is lost...
    assert await record_cancel_requested(pool, job_id, "while dropped")
    # ...and the re-opened connection re-reads the marks of the jobs this worker runs.
    await eventually(lambda: asyncio.sleep(0, listener.connects), lambda n: n > before)
    done = await wait_status(api, headers, project, job_id, TERMINAL, within=10)
    assert done["status"] == "cancelled"
    await client.get_workflow_handle(job_id).cancel()


def test_only_the_worker_holding_the_job_acts() -> None:
    holder, other = CancelBoard(), CancelBoard()
    stopped: list[str] = []
    with holder.watch("job_a", lambda: stopped.append("a")):
        assert not other.cancel("job_a")  # another worker: not its job, nothing happens
        assert holder.cancel("job_a")
    assert stopped == ["a"]
    assert not holder.cancel("job_a")  # once the work is done, a late cancel finds nothing


async def test_a_running_parse_stops_on_a_cancel_through_postgres(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
    client: Client,
    board: CancelBoard,
    big_pdf: bytes,
) -> None:
    file = await upload(api, headers, project, "big.pdf", big_pdf, "application/pdf")
    job = await create_job(api, headers, project, "parse", {"source_document_id": file["id"]})
    job_id = str(job["id"])
    await eventually(lambda: asyncio.sleep(0, board.running()), lambda ids: job_id in ids)
    assert await record_cancel_requested(pool, job_id, "parse, through postgres")
    done = await wait_status(api, headers, project, job_id, TERMINAL, within=FAST)
    assert done["status"] == "cancelled" and done["result"] is None
    # The work is off the board: it stopped (Temporal's cancel has not been sent at all).
    await eventually(lambda: asyncio.sleep(0, board.running()), lambda ids: job_id not in ids)
    handle = client.get_workflow_handle(job_id)
    await handle.cancel()
    described = await eventually(
        handle.describe, lambda d: d.status != WorkflowExecutionStatus.RUNNING
    )
    assert described.status == WorkflowExecutionStatus.CANCELED
