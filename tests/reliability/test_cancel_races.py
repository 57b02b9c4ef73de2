"""Cancel races: many cancels at once, and cancels racing completion."""

import asyncio

import asyncpg
import httpx
from temporalio.testing import ActivityEnvironment

from activities.parse import ParseActivities
from core.contracts import JobRef
from core.enums import JobStatus
from core.ids import IdPrefix, new_id
from core.settings import Settings
from core.storage import FileStorage
from db import jobs
from db.jobs import NewJob
from db.transitions import Transition, record_cancel_requested, transition
from tests.helpers import create_job, upload, wait_status

TERMINAL = {"succeeded", "failed", "cancelled"}


async def test_100_concurrent_cancels_of_a_running_job(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
    big_pdf: bytes,
) -> None:
    file = await upload(api, headers, project, "big.pdf", big_pdf, "application/pdf")
    job = await create_job(api, headers, project, "parse", {"source_document_id": file["id"]})
    await wait_status(api, headers, project, job["id"], {"running"})
    url = f"/v1/projects/{project}/jobs/{job['id']}/cancel"
    answers = await asyncio.gather(*(api.post(url, headers=headers) for _ in range(100)))
    assert {a.status_code for a in answers} <= {200, 202}
    done = await wait_status(api, headers, project, job["id"], TERMINAL)
    assert done["status"] == "cancelled"
    requested = [e for e in done["history"] if e["status"] == "cancel_requested"]
    assert len(requested) == 1


async def test_cancel_racing_completion_ends_in_one_consistent_state(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    file = await upload(api, headers, project, "tiny.txt", b"tiny", "text/plain")
    for _ in range(8):
        job = await create_job(api, headers, project, "parse", {"source_document_id": file["id"]})
        url = f"/v1/projects/{project}/jobs/{job['id']}/cancel"
        answer = await api.post(url, headers=headers)
        done = await wait_status(api, headers, project, job["id"], TERMINAL)
        statuses = [e["status"] for e in done["history"]]
        terminal_events = [s for s in statuses if s in TERMINAL]
        assert len(terminal_events) == 1, statuses  # exactly one terminal state
        if answer.status_code == 200:
            assert done["status"] == "cancelled"  # cancelled while pending
        elif answer.status_code == 202:
            # Accepted while running: it ends cancelled, even if the parse had finished and
            # was storing its result (the result's fence refuses it; migration 0003).
            assert done["status"] == "cancelled", statuses
            assert "cancel_requested" in statuses
        else:
            assert answer.status_code == 400 and done["status"] == "succeeded"
        has_result = await pool.fetchval(
            "SELECT count(*) FROM parse_results WHERE job_id = $1", job["id"]
        )
        assert has_result == (1 if done["status"] == "succeeded" else 0)


async def test_cancel_accepted_while_the_result_is_stored_ends_cancelled(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
    settings: Settings,
) -> None:
    """The narrowest window: parsing is over and the result is being stored when the API
    accepts a cancel (202). Deterministic here: the cancel is recorded before the parse
    activity runs, and no Temporal cancel ever reaches the activity."""
    file = await upload(api, headers, project, "tiny.txt", b"a few words", "text/plain")
    job = NewJob(new_id(IdPrefix.JOB), project, "parse", file["id"], None, {})
    await jobs.insert(pool, job)
    assert await transition(pool, job.id, Transition(JobStatus.RUNNING))
    assert await record_cancel_requested(pool, job.id, "not needed any more")
    storage = FileStorage(settings.storage_dir)
    activities = ParseActivities(pool, storage, settings.heartbeat_throttle)
    outcome = await ActivityEnvironment().run(activities.parse_document, JobRef(job.id))
    assert not outcome.succeeded
    done = (await api.get(f"/v1/projects/{project}/jobs/{job.id}", headers=headers)).json()
    assert done["status"] == "cancelled"
    assert done["history"][-1]["details"]["reason"] == "not needed any more"
    stored = await pool.fetchval("SELECT count(*) FROM parse_results WHERE job_id = $1", job.id)
    assert stored == 0
