"""Tenancy: for every endpoint, another account's key gets 404 for this account's
resources and changes nothing."""

from typing import Any

import asyncpg
import httpx
import pytest

from api.app import create_app
from core.settings import get_settings
from db.accounts import create_key
from tests.helpers import create_job, upload, wait_status

# Served to whoever holds a signed URL (the signature, not a key, authorises it).
SIGNED_ONLY = {"/v1/projects/{project_id}/files/{file_id}/content"}
# Not about one project: they must simply not show this account's projects.
ACCOUNT_WIDE = {("GET", "/v1/projects"), ("POST", "/v1/projects")}
# A public address literal: accepted without a DNS lookup; never called (no job of the
# project ends after the webhook is registered).
PUBLIC_HOOK = "https://93.184.215.14/hook"

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PUT", "/v1/projects/{project_id}"): {"name": "taken over", "status": "archived"},
    ("POST", "/v1/projects/{project_id}/parse"): {"source_document_id": "{file_id}"},
    ("POST", "/v1/projects/{project_id}/parse/batch"): {"source_document_ids": ["{file_id}"]},
    ("POST", "/v1/projects/{project_id}/parse/{parse_result_id}/rechunk"): {
        "chunking_options": {"strategy": "by_page"}
    },
    ("POST", "/v1/projects/{project_id}/vector-stores/{vector_store_id}/files"): {
        "parse_result_ids": ["{parse_result_id}"]
    },
    ("POST", "/v1/projects/{project_id}/vector-stores/{vector_store_id}/search"): {
        "query": "private"
    },
    ("POST", "/v1/projects/{project_id}/webhooks"): {"url": PUBLIC_HOOK, "events": ["job.failed"]},
}


def routes() -> list[tuple[str, str]]:
    """Every operation the API documents, so a new endpoint is covered automatically."""
    paths = create_app(get_settings()).openapi()["paths"]
    return sorted((method.upper(), path) for path, ops in paths.items() for method in ops)


@pytest.fixture
async def owned(api: httpx.AsyncClient, headers: dict[str, str], project: str) -> dict[str, str]:
    file = await upload(api, headers, project, "mine.txt", b"private", "text/plain")
    job = await create_job(api, headers, project, "parse", {"source_document_id": file["id"]})
    done = await wait_status(api, headers, project, job["id"], {"succeeded"})
    store = await api.post(
        f"/v1/projects/{project}/vector-stores", json={"name": "mine"}, headers=headers
    )
    assert store.status_code == 200, store.text
    hook = await api.post(
        f"/v1/projects/{project}/webhooks",
        json={"url": PUBLIC_HOOK, "events": ["job.succeeded"]},
        headers=headers,
    )
    assert hook.status_code == 200, hook.text
    return {
        "webhook_id": hook.json()["id"],
        "vector_store_id": store.json()["id"],
        "project_id": project,
        "file_id": file["id"],
        "job_id": job["id"],
        "parse_result_id": done["result"]["parse_result_id"],
    }


def fill(template: Any, ids: dict[str, str]) -> Any:
    if isinstance(template, str):
        return template.format(**ids)
    if isinstance(template, list):
        return [fill(item, ids) for item in template]
    if isinstance(template, dict):
        return {key: fill(value, ids) for key, value in template.items()}
    return template


async def snapshot(pool: asyncpg.Pool, project: str) -> list[Any]:
    return [
        await pool.fetch("SELECT * FROM projects WHERE id = $1", project),
        await pool.fetch("SELECT id, status FROM files WHERE project_id = $1 ORDER BY id", project),
        await pool.fetch("SELECT id, status FROM jobs WHERE project_id = $1 ORDER BY id", project),
        await pool.fetchval(
            "SELECT count(*) FROM job_events e JOIN jobs j ON j.id = e.job_id"
            " WHERE j.project_id = $1",
            project,
        ),
        await pool.fetch("SELECT id FROM vector_stores WHERE project_id = $1", project),
        await pool.fetch(
            "SELECT id, deleted_at FROM webhooks WHERE project_id = $1 ORDER BY id", project
        ),
    ]


async def test_every_endpoint_hides_other_accounts_resources(
    api: httpx.AsyncClient, pool: asyncpg.Pool, owned: dict[str, str]
) -> None:
    async with pool.acquire() as conn:
        intruder = await create_key(conn, "intruder")
    theirs = {"x-api-key": intruder.api_key, "x-selected-account-id": intruder.account_id}
    before = await snapshot(pool, owned["project_id"])
    checked = 0
    for method, path in routes():
        if path in SIGNED_ONLY or (method, path) in ACCOUNT_WIDE:
            continue
        body = fill(BODIES.get((method, path)), owned)
        files = (
            {"file": ("x.txt", b"x", "text/plain")}
            if path.endswith("/files") and method == "POST"
            else None
        )
        response = await api.request(
            method, fill(path, owned), headers=theirs, json=None if files else body, files=files
        )
        assert response.status_code == 404, (method, path, response.text)
        assert owned["project_id"] not in response.text or "not found" in response.text
        checked += 1
    assert checked >= 14
    listed = await api.get("/v1/projects", params={"include_archived": True}, headers=theirs)
    assert owned["project_id"] not in listed.text
    assert await snapshot(pool, owned["project_id"]) == before  # nothing changed


async def test_upload_into_another_accounts_project_writes_nothing(
    api: httpx.AsyncClient, pool: asyncpg.Pool, owned: dict[str, str], data_dir: Any
) -> None:
    async with pool.acquire() as conn:
        intruder = await create_key(conn, "intruder-2")
    theirs = {"x-api-key": intruder.api_key, "x-selected-account-id": intruder.account_id}
    response = await api.post(
        f"/v1/projects/{owned['project_id']}/files",
        headers=theirs,
        files={"file": ("evil.txt", b"unique-evil-bytes", "text/plain")},
    )
    assert response.status_code == 404
    count = await pool.fetchval("SELECT count(*) FROM files WHERE filename = 'evil.txt'")
    assert count == 0
