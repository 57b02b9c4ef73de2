"""Idempotency-Key on job creation."""

import asyncio
from typing import Any

import asyncpg
import httpx

from tests.helpers import upload


async def parse(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    file_id: str,
    key: str,
    **parameters: Any,
) -> httpx.Response:
    body: dict[str, Any] = {"source_document_id": file_id}
    if parameters:
        body["parameters"] = parameters
    return await api.post(
        f"/v1/projects/{project}/parse", json=body, headers={**headers, "Idempotency-Key": key}
    )


async def jobs_in(pool: asyncpg.Pool, project: str) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM jobs WHERE project_id = $1", project)
    return count


async def test_same_key_same_body_returns_the_same_job(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    file = await upload(api, headers, project, "a.txt", b"hello", "text/plain")
    first = await parse(api, headers, project, file["id"], "key-1")
    again = await parse(api, headers, project, file["id"], "key-1")
    assert first.status_code == again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert await jobs_in(pool, project) == 1


async def test_same_key_other_body_is_409(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    file = await upload(api, headers, project, "a.txt", b"hello", "text/plain")
    assert (await parse(api, headers, project, file["id"], "key-2")).status_code == 200
    other = await parse(
        api,
        headers,
        project,
        file["id"],
        "key-2",
        engine="docket",
        chunking_options={"strategy": "by_page"},
    )
    assert other.status_code == 409
    assert "different request" in other.json()["detail"]
    assert await jobs_in(pool, project) == 1


async def test_concurrent_requests_with_one_key_create_one_job(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    file = await upload(api, headers, project, "a.txt", b"hello", "text/plain")
    answers = await asyncio.gather(
        *(parse(api, headers, project, file["id"], "key-3") for _ in range(10))
    )
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["id"] for a in answers}) == 1
    assert await jobs_in(pool, project) == 1


async def test_keys_are_scoped_per_account(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    from db.accounts import create_key

    file = await upload(api, headers, project, "a.txt", b"hello", "text/plain")
    mine = await parse(api, headers, project, file["id"], "shared-key")
    async with pool.acquire() as conn:
        other = await create_key(conn, "other-account")
    theirs = {"x-api-key": other.api_key, "x-selected-account-id": other.account_id}
    their_project = (await api.post("/v1/projects", json={"name": "b"}, headers=theirs)).json()
    their_file = await upload(api, theirs, their_project["id"], "b.txt", b"hi", "text/plain")
    their_job = await parse(api, theirs, their_project["id"], their_file["id"], "shared-key")
    assert their_job.status_code == 200
    assert their_job.json()["id"] != mine.json()["id"]


async def test_batch_creation_is_idempotent_too(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    file = await upload(api, headers, project, "a.txt", b"hello", "text/plain")
    url = f"/v1/projects/{project}/parse/batch"
    body = {"source_document_ids": [file["id"]]}
    key = {**headers, "Idempotency-Key": "batch-key"}
    first, again = [await api.post(url, json=body, headers=key) for _ in range(2)]
    assert first.json()["id"] == again.json()["id"]
    assert await jobs_in(pool, project) == 2  # the batch and its one child
