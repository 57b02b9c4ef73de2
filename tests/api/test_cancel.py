"""The cancel contract, row by row (design.md), with a real worker and real servers."""

import asyncio
import uuid

import asyncpg
import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import Worker

from api.app import create_app
from api.deps import AppState
from core.settings import Settings
from core.storage import FileStorage
from docket.worker import build_worker, job_activities
from tests.factories import insert_job
from tests.helpers import create_job, eventually, upload, wait_status


def cancel_url(project: str, job: str) -> str:
    return f"/v1/projects/{project}/jobs/{job}/cancel"


async def start_parse(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, file_id: str
) -> dict[str, object]:
    return await create_job(api, headers, project, "parse", {"source_document_id": file_id})


async def test_cancel_running_job_stops_the_parse(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    big_pdf: bytes,
    client: Client,
    pool: asyncpg.Pool,
) -> None:
    file = await upload(api, headers, project, "big.pdf", big_pdf, "application/pdf")
    job = await start_parse(api, headers, project, file["id"])
    job_id = str(job["id"])
    await wait_status(api, headers, project, job_id, {"running"})

    response = await api.post(
        cancel_url(project, job_id), json={"reason": "too big"}, headers=headers
    )
    assert response.status_code == 202, response.text
    # The 202 body shows the request; the cancel may already have landed (through Postgres).
    assert "cancel_requested" in [e["status"] for e in response.json()["history"]]

    done = await wait_status(api, headers, project, job_id, {"cancelled", "succeeded", "failed"})
    assert done["status"] == "cancelled"
    assert done["result"] is None
    statuses = [event["status"] for event in done["history"]]
    assert statuses == ["created", "started", "cancel_requested", "cancelled"]
    assert done["history"][-1]["details"]["reason"] == "too big"
    handle = client.get_workflow_handle(job_id)
    described = await eventually(
        handle.describe, lambda d: d.status != WorkflowExecutionStatus.RUNNING
    )
    assert described.status == WorkflowExecutionStatus.CANCELED
    # The fence: no result was stored for it.
    assert await pool.fetchval("SELECT count(*) FROM parse_results WHERE job_id = $1", job_id) == 0

    # Cancelling again: it is cancelled now, so 200 and nothing new in history.
    again = await api.post(cancel_url(project, job_id), headers=headers)
    assert again.status_code == 200
    assert len(again.json()["history"]) == len(done["history"])


async def test_cancel_pending_job_is_immediate_and_it_never_runs(
    settings: Settings,
    pool: asyncpg.Pool,
    client: Client,
    headers: dict[str, str],
    project: str,
) -> None:
    # An API whose task queue has no worker yet: the job stays pending.
    idle = settings.model_copy(update={"task_queue": f"idle-{uuid.uuid4().hex}"})
    app = create_app(idle, AppState(idle, pool, client, FileStorage(idle.storage_dir)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://docket.test") as api:
        file = await upload(api, headers, project, "a.txt", b"hello world", "text/plain")
        job_id = str((await start_parse(api, headers, project, file["id"]))["id"])
        response = await api.post(cancel_url(project, job_id), headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "cancelled"
        assert body["completed_at"] is not None
        assert [e["status"] for e in body["history"]] == ["created", "cancelled"]

        # Now a worker appears: the workflow must end without doing any work.
        worker: Worker = build_worker(client, idle, job_activities(pool, idle))
        async with worker:
            handle = client.get_workflow_handle(job_id)
            described = await eventually(
                handle.describe, lambda d: d.status != WorkflowExecutionStatus.RUNNING
            )
        assert described.status in (
            WorkflowExecutionStatus.CANCELED,
            WorkflowExecutionStatus.COMPLETED,
        )
        after = (await api.get(f"/v1/projects/{project}/jobs/{job_id}", headers=headers)).json()
        assert after["status"] == "cancelled"
        assert after["started_at"] is None
        assert [e["status"] for e in after["history"]] == ["created", "cancelled"]


@pytest.mark.parametrize("terminal", ["succeeded", "partially_succeeded", "failed"])
async def test_cancel_terminal_job_is_400(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
    terminal: str,
) -> None:
    job_id = await insert_job(pool, project, terminal)
    response = await api.post(cancel_url(project, job_id), headers=headers)
    assert response.status_code == 400
    assert terminal in response.json()["detail"]
    status = await pool.fetchval("SELECT status FROM jobs WHERE id = $1", job_id)
    assert status == terminal


async def test_cancel_succeeded_parse_job_is_400(
    api: httpx.AsyncClient, headers: dict[str, str], project: str
) -> None:
    file = await upload(api, headers, project, "a.md", b"# Title\n\nBody", "text/markdown")
    job_id = str((await start_parse(api, headers, project, file["id"]))["id"])
    await wait_status(api, headers, project, job_id, {"succeeded"})
    response = await api.post(cancel_url(project, job_id), headers=headers)
    assert response.status_code == 400


async def test_cancel_unknown_job_or_project_is_404(
    api: httpx.AsyncClient, headers: dict[str, str], project: str
) -> None:
    unknown_job = "job_" + uuid.uuid4().hex
    unknown_project = "proj_" + uuid.uuid4().hex
    assert (await api.post(cancel_url(project, unknown_job), headers=headers)).status_code == 404
    response = await api.post(cancel_url(unknown_project, unknown_job), headers=headers)
    assert response.status_code == 404


async def test_cancel_job_through_another_project_is_404(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    other = (await api.post("/v1/projects", json={"name": "other"}, headers=headers)).json()["id"]
    job_id = await insert_job(pool, project, "pending")
    assert (await api.post(cancel_url(other, job_id), headers=headers)).status_code == 404


@pytest.mark.parametrize(
    ("project_id", "job_id"),
    [("proj_xyz", "job_" + "a" * 32), ("proj_" + "a" * 32, "job-1"), ("p", "j")],
)
async def test_cancel_ids_of_any_shape_are_404(
    api: httpx.AsyncClient, headers: dict[str, str], project_id: str, job_id: str
) -> None:
    """Ids are plain strings in the contract (issue 11): one that names nothing is a 404."""
    response = await api.post(cancel_url(project_id, job_id), headers=headers)
    assert response.status_code == 404
    assert "not found" in response.json()["detail"]


async def test_cancel_with_bad_body_is_422(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    job_id = await insert_job(pool, project, "pending")
    response = await api.post(cancel_url(project, job_id), json={"reason": 5}, headers=headers)
    assert response.status_code == 422
    assert await pool.fetchval("SELECT status FROM jobs WHERE id = $1", job_id) == "pending"


async def test_concurrent_cancels_of_a_pending_job_agree(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    job_id = await insert_job(pool, project, "pending")
    answers = await asyncio.gather(
        *(api.post(cancel_url(project, job_id), headers=headers) for _ in range(20))
    )
    assert {a.status_code for a in answers} == {200}
    events = await pool.fetchval(
        "SELECT count(*) FROM job_events WHERE job_id = $1 AND status = 'cancelled'", job_id
    )
    assert events == 1
