"""Temporal down: creation answers 503 and leaves nothing runnable; reads and pending
cancels keep working from Postgres."""

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from api.deps import AppState
from core.settings import Settings
from core.storage import FileStorage
from docket.embedded import find_free_port
from tests.factories import insert_job
from tests.helpers import upload


@pytest.fixture
async def no_temporal_api(
    settings: Settings, pool: asyncpg.Pool
) -> AsyncIterator[httpx.AsyncClient]:
    """The API with Temporal unreachable (nothing listens on that port)."""
    dead = await Client.connect(f"127.0.0.1:{find_free_port(0)}", lazy=True)
    app = create_app(settings, AppState(settings, pool, dead, FileStorage(settings.storage_dir)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://docket.test"
    ) as http:
        yield http


async def test_create_is_503_and_the_job_is_not_left_pending(
    no_temporal_api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
) -> None:
    file = await upload(no_temporal_api, headers, project, "a.txt", b"text", "text/plain")
    response = await no_temporal_api.post(
        f"/v1/projects/{project}/parse", json={"source_document_id": file["id"]}, headers=headers
    )
    assert response.status_code == 503
    assert "Temporal" in response.json()["detail"]
    statuses = [
        r["status"]
        for r in await pool.fetch("SELECT status FROM jobs WHERE project_id = $1", project)
    ]
    assert statuses == ["failed"]  # never pending: nothing will run it behind the user's back


async def test_reads_and_pending_cancels_work_without_temporal(
    no_temporal_api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
) -> None:
    job_id = await insert_job(pool, project, "pending")
    listed = await no_temporal_api.get(f"/v1/projects/{project}/jobs", headers=headers)
    assert listed.status_code == 200 and listed.json()["total_count"] == 1
    cancelled = await no_temporal_api.post(
        f"/v1/projects/{project}/jobs/{job_id}/cancel", headers=headers
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"


async def test_cancel_of_running_job_is_503_without_temporal(
    no_temporal_api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
) -> None:
    job_id = await insert_job(pool, project, "running")
    response = await no_temporal_api.post(
        f"/v1/projects/{project}/jobs/{job_id}/cancel", headers=headers
    )
    assert response.status_code == 503
    assert await pool.fetchval("SELECT status FROM jobs WHERE id = $1", job_id) == "running"
