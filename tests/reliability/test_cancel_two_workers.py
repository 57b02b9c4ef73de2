"""Two workers on one task queue, each with its own LISTEN connection and cancel board: a
cancel through the API stops the job on the worker that holds it, and nothing on the other."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import httpx
from temporalio.client import Client

from activities.cancels import CancelBoard
from core.settings import Settings
from docket.worker import build_worker, cancel_listener, job_activities
from tests.factories import insert_parse_result
from tests.helpers import create_job, eventually, get_job, wait_status

TERMINAL = {"succeeded", "failed", "cancelled"}
# Rechunks started until each worker holds one: Temporal hands activities to whichever
# worker polls first, so a few may land on the same one.
MAX_JOBS = 8
PAGES = 10_000  # seconds of rechunking on this machine: still running when cancelled


@contextlib.asynccontextmanager
async def second_worker(
    client: Client, settings: Settings, pool: asyncpg.Pool
) -> AsyncIterator[CancelBoard]:
    # A client of its own: one client may hold one worker per task queue (as a second
    # process would have its own).
    own = await Client.connect(client.service_client.config.target_host, namespace=client.namespace)
    board = CancelBoard()
    listener = cancel_listener(pool, settings, board)
    listening = asyncio.create_task(listener.run())
    await asyncio.wait_for(listener.connected.wait(), timeout=30)
    worker = build_worker(own, settings, job_activities(pool, settings, board))
    running = asyncio.create_task(worker.run())
    try:
        yield board
    finally:
        await worker.shutdown()
        await running
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening


async def test_the_cancel_lands_on_the_worker_holding_the_job(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
    client: Client,
    settings: Settings,
    board: CancelBoard,
) -> None:
    source = await insert_parse_result(pool, project, pages=PAGES)
    body = {"chunking_options": {"chunk_size": 64, "chunk_overlap": 8}}
    started: list[str] = []
    async with second_worker(client, settings, pool) as other:
        for _ in range(MAX_JOBS):
            job = await create_job(api, headers, project, f"parse/{source}/rechunk", body)
            started.append(str(job["id"]))
            held = await eventually(
                lambda: asyncio.sleep(0, (set(board.running()), set(other.running()))),
                lambda boards: started[-1] in boards[0] | boards[1],
            )
            if held[0] & set(started) and held[1] & set(started):
                break
        mine = sorted(set(board.running()) & set(started))
        theirs = sorted(set(other.running()) & set(started))
        assert mine and theirs, "every rechunk landed on one worker"
        victim, bystander = theirs[0], mine[0]
        url = f"/v1/projects/{project}/jobs/{victim}/cancel"
        assert (await api.post(url, headers=headers)).status_code == 202
        done = await wait_status(api, headers, project, victim, TERMINAL, within=5)
        assert done["status"] == "cancelled"
        await eventually(lambda: asyncio.sleep(0, other.running()), lambda ids: victim not in ids)
        # The other worker's job was not touched by the notification it also received.
        untouched = await get_job(api, headers, project, bystander)
        assert untouched["status"] in {"running", "succeeded"}, untouched
        for job_id in started:
            cancel = f"/v1/projects/{project}/jobs/{job_id}/cancel"
            await api.post(cancel, headers=headers)
        for job_id in started:
            await wait_status(api, headers, project, job_id, TERMINAL)
