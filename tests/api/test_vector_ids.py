"""Vector-store ids of any shape, in the path and in bodies: one that names nothing is a
404 (a NUL in it included), one over the length cap a 422, never a 500; an id naming a parse
job that has not succeeded is a 422 naming it."""

import asyncpg
import httpx
import pytest

from api.schemas import MAX_ID_LENGTH
from tests.factories import insert_job
from tests.vector_helpers import chunk, create_store, insert_result

ODD_IDS = ["vs_123456789", "123", "not an id", "ünïcødé", "nul%00inside", "a" * MAX_ID_LENGTH]


def store_routes(project: str, store: str, result: str) -> list[tuple[str, str, object]]:
    base = f"/v1/projects/{project}/vector-stores/{store}"
    return [
        ("GET", base, None),
        ("DELETE", base, None),
        ("POST", f"{base}/files", {"parse_result_ids": [result]}),
        ("POST", f"{base}/search", {"query": "anything"}),
    ]


@pytest.mark.parametrize("some_id", ODD_IDS)
async def test_a_store_id_of_any_shape_that_names_nothing_is_404(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool, some_id: str
) -> None:
    result = await insert_result(pool, project, [chunk("anything")])
    for method, url, body in store_routes(project, some_id, result):
        response = await api.request(method, url, json=body, headers=headers)
        assert response.status_code == 404, (method, url, response.text)
        assert "not found" in response.json()["detail"], (method, url)
    for method in ("GET", "POST"):
        url = f"/v1/projects/{some_id}/vector-stores"
        body = {"name": "x"} if method == "POST" else None
        response = await api.request(method, url, json=body, headers=headers)
        assert response.status_code == 404, (method, url, response.text)


async def test_a_store_id_over_the_cap_is_422(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    result = await insert_result(pool, project, [chunk("anything")])
    for method, url, body in store_routes(project, "a" * (MAX_ID_LENGTH + 1), result):
        response = await api.request(method, url, json=body, headers=headers)
        assert response.status_code == 422, (method, url, response.text)
        assert response.json()["detail"][0]["loc"][0] == "path"


async def test_odd_ids_in_bodies(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    store = (await create_store(api, headers, project))["id"]
    base = f"/v1/projects/{project}/vector-stores/{store}"
    files = await api.post(
        f"{base}/files", json={"parse_result_ids": ["pres_\x00x"]}, headers=headers
    )
    assert files.status_code == 422 and "NUL" in files.text
    long_id = "p" * MAX_ID_LENGTH  # within the cap: looked up, names nothing
    unknown = await api.post(f"{base}/files", json={"parse_result_ids": [long_id]}, headers=headers)
    assert unknown.status_code == 404 and long_id in unknown.json()["detail"]
    over = await api.post(
        f"{base}/files", json={"parse_result_ids": [long_id + "p"]}, headers=headers
    )
    assert over.status_code == 422
    for filters in (
        {"file_id": "f\x00"},
        {"parse_result_id": "r\x00"},
        {"metadata": {"k": "\x00"}},
    ):
        bad = await api.post(
            f"{base}/search", json={"query": "x", "filters": filters}, headers=headers
        )
        assert bad.status_code == 422, (filters, bad.text)
    nul_query = await api.post(f"{base}/search", json={"query": "a\x00b"}, headers=headers)
    assert nul_query.status_code == 422
    # Filters naming nothing match nothing.
    for filters in ({"file_id": long_id}, {"parse_result_id": "ünïcødé"}):
        empty = await api.post(
            f"{base}/search", json={"query": "x", "filters": filters}, headers=headers
        )
        assert empty.status_code == 200 and empty.json() == {"chunks": []}, empty.text


async def test_a_parse_job_not_succeeded_is_422_naming_it(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    store = (await create_store(api, headers, project))["id"]
    done = await insert_result(pool, project, [chunk("parsed")])
    running = await insert_job(pool, project, "running")
    failed = await insert_job(pool, project, "failed")
    response = await api.post(
        f"/v1/projects/{project}/vector-stores/{store}/files",
        json={"parse_result_ids": [done, running, failed]},
        headers=headers,
    )
    assert response.status_code == 422, response.text
    message = response.json()["detail"][0]["msg"]
    assert f"{running} (running)" in message and f"{failed} (failed)" in message
    assert done not in message
