"""Polling with a deadline (never a bare sleep to wait for state) and upload helpers."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
POLL_INTERVAL = 0.02


async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], within: float = 30.0
) -> T:
    """Call `probe` until `done(result)`; fail with the last result after `within` s."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s; last: {result!r}")
        await asyncio.sleep(POLL_INTERVAL)


async def upload(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    name: str,
    content: bytes,
    content_type: str = "application/octet-stream",
) -> dict[str, Any]:
    response = await api.post(
        f"/v1/projects/{project}/files",
        files={"file": (name, content, content_type)},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def create_job(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, route: str, body: Any
) -> dict[str, Any]:
    """POST /v1/projects/{project}/{route} (`parse` or `parse/batch`), expecting 200."""
    response = await api.post(f"/v1/projects/{project}/{route}", json=body, headers=headers)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


async def get_ok(api: httpx.AsyncClient, headers: dict[str, str], url: str) -> dict[str, Any]:
    """GET `url`, expecting 200; its JSON body."""
    response = await api.get(url, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def get_job(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, job_id: str
) -> dict[str, Any]:
    return await get_ok(api, headers, f"/v1/projects/{project}/jobs/{job_id}")


async def wait_status(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    job_id: str,
    statuses: set[str],
    within: float = 30.0,
) -> dict[str, Any]:
    return await eventually(
        lambda: get_job(api, headers, project, job_id),
        lambda job: job["status"] in statuses,
        within,
    )
