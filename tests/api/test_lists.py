"""Lists: keyset pagination (no duplicates, no gaps, both directions), filters, bad input."""

from typing import Any

import asyncpg
import httpx
import pytest

from tests.factories import insert_job

JOB_COUNT = 23


@pytest.fixture
async def job_ids(pool: asyncpg.Pool, project: str) -> list[str]:
    statuses = ["pending", "running", "succeeded", "failed", "cancelled"]
    return [await insert_job(pool, project, statuses[i % 5]) for i in range(JOB_COUNT)]


async def walk(
    api: httpx.AsyncClient, headers: dict[str, str], url: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    token = None
    while True:
        query = {**params, **({"continuation_token": token} if token else {})}
        response = await api.get(url, params=query, headers=headers)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        token = pages[-1]["next_token"]
        if token is None:
            return pages


@pytest.mark.parametrize("sort_by", ["created_at", "id"])
@pytest.mark.parametrize("sort_order", ["asc", "desc"])
async def test_pages_cover_every_job_once_in_order(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    job_ids: list[str],
    sort_by: str,
    sort_order: str,
) -> None:
    url = f"/v1/projects/{project}/jobs"
    pages = await walk(
        api, headers, url, {"page_size": 5, "sort_by": sort_by, "sort_order": sort_order}
    )
    seen = [item["id"] for page in pages for item in page["items"]]
    assert len(seen) == len(set(seen)) == JOB_COUNT
    assert set(seen) == set(job_ids)
    assert [len(p["items"]) for p in pages] == [5, 5, 5, 5, 3]
    assert all(p["total_count"] == JOB_COUNT for p in pages)
    keys = [item[sort_by] for page in pages for item in page["items"]]
    assert keys == sorted(keys, reverse=sort_order == "desc")
    assert pages[0]["prev_token"] is None


async def test_prev_token_returns_the_previous_page(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, job_ids: list[str]
) -> None:
    url = f"/v1/projects/{project}/jobs"
    first = (await api.get(url, params={"page_size": 5}, headers=headers)).json()
    second = (
        await api.get(
            url, params={"page_size": 5, "continuation_token": first["next_token"]}, headers=headers
        )
    ).json()
    back = (
        await api.get(
            url,
            params={"page_size": 5, "continuation_token": second["prev_token"]},
            headers=headers,
        )
    ).json()
    assert [i["id"] for i in back["items"]] == [i["id"] for i in first["items"]]
    assert back["prev_token"] is None
    assert back["next_token"] is not None


async def test_status_and_operation_filters(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    job_ids: list[str],
    pool: asyncpg.Pool,
) -> None:
    url = f"/v1/projects/{project}/jobs"
    running = (await api.get(url, params={"status": "running"}, headers=headers)).json()
    assert running["total_count"] == len(job_ids[1::5])
    assert {i["status"] for i in running["items"]} == {"running"}
    both = (
        await api.get(url, params=[("status", "running"), ("status", "failed")], headers=headers)
    ).json()
    assert both["total_count"] == len(job_ids[1::5]) + len(job_ids[3::5])
    batch = await insert_job(pool, project, "pending", operation="batch_parse")
    ops = (await api.get(url, params={"operation": "batch_parse"}, headers=headers)).json()
    assert [i["id"] for i in ops["items"]] == [batch]
    picked = (
        await api.get(url, params=[("ids", job_ids[0]), ("ids", job_ids[1])], headers=headers)
    ).json()
    assert {i["id"] for i in picked["items"]} == set(job_ids[:2])


async def test_created_and_completed_ranges(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, job_ids: list[str]
) -> None:
    url = f"/v1/projects/{project}/jobs"
    everything = (
        await api.get(url, params={"page_size": 100, "sort_order": "asc"}, headers=headers)
    ).json()["items"]
    middle = everything[10]["created_at"]
    later = (
        await api.get(url, params={"created_at_start": middle, "page_size": 100}, headers=headers)
    ).json()
    assert later["total_count"] == JOB_COUNT - 10
    done = [i for i in everything if i["completed_at"]]
    first_done = min(i["completed_at"] for i in done)
    completed = (
        await api.get(url, params={"completed_at_start": first_done}, headers=headers)
    ).json()
    assert completed["total_count"] == len(done)


@pytest.mark.parametrize(
    "params",
    [
        {"page_size": 0},
        {"page_size": 101},
        {"continuation_token": "garbage!!"},
        {"continuation_token": "W10"},
        {"sort_by": "error"},
        {"sort_order": "sideways"},
        {"status": "exploded"},
        {"created_at_start": "yesterday"},
    ],
)
async def test_bad_list_parameters_are_422(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, params: dict[str, Any]
) -> None:
    response = await api.get(f"/v1/projects/{project}/jobs", params=params, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "query"


async def test_token_from_another_sort_is_422(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, job_ids: list[str]
) -> None:
    url = f"/v1/projects/{project}/jobs"
    first = (await api.get(url, params={"page_size": 5}, headers=headers)).json()
    response = await api.get(
        url,
        params={"page_size": 5, "sort_order": "asc", "continuation_token": first["next_token"]},
        headers=headers,
    )
    assert response.status_code == 422


async def test_project_list_filters_and_archiving(
    api: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    made = [
        (await api.post("/v1/projects", json={"name": f"Report {n}"}, headers=headers)).json()
        for n in ("alpha", "beta", "gamma")
    ]
    archived = await api.put(
        f"/v1/projects/{made[0]['id']}", json={"status": "archived"}, headers=headers
    )
    assert archived.status_code == 200
    assert archived.json()["archived_at"] is not None
    listed = (await api.get("/v1/projects", headers=headers)).json()
    assert {p["id"] for p in listed["items"]} == {made[1]["id"], made[2]["id"]}
    every = (
        await api.get("/v1/projects", params={"include_archived": True}, headers=headers)
    ).json()
    assert every["total_count"] == 3
    named = (await api.get("/v1/projects", params={"name": "GAM"}, headers=headers)).json()
    assert [p["id"] for p in named["items"]] == [made[2]["id"]]
    wildcard = (await api.get("/v1/projects", params={"name": "%"}, headers=headers)).json()
    assert wildcard["total_count"] == 0


@pytest.mark.parametrize("null", ["", "null"])
async def test_null_page_size_and_sort_mean_the_defaults(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, job_ids: list[str], null: str
) -> None:
    """Dex declares page_size, sort_by and sort_order nullable: null is the default (50,
    created_at, desc), as an empty value or the word `null` (leaving them out is the other
    way a client says null)."""
    url = f"/v1/projects/{project}/jobs"
    defaults = (await api.get(url, headers=headers)).json()
    explicit = (
        await api.get(
            url,
            params={"page_size": 50, "sort_by": "created_at", "sort_order": "desc"},
            headers=headers,
        )
    ).json()
    sent = {"page_size": null, "sort_by": null, "sort_order": null}
    response = await api.get(url, params=sent, headers=headers)
    assert response.status_code == 200, response.text
    ids = [item["id"] for item in response.json()["items"]]
    assert ids == [item["id"] for item in defaults["items"]]
    assert ids == [item["id"] for item in explicit["items"]]
    assert len(ids) == JOB_COUNT
    assert ids[0] == job_ids[-1]  # newest first


@pytest.mark.parametrize("value", ["0.5", "0", "1700000000", "-1", "1e9"])
async def test_timestamps_are_iso_8601_only(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, value: str
) -> None:
    for name in ("created_at_start", "created_at_end", "completed_at_start"):
        response = await api.get(
            f"/v1/projects/{project}/jobs", params={name: value}, headers=headers
        )
        assert response.status_code == 422, (name, value, response.text)
        error = response.json()["detail"][0]
        assert error["loc"] == ["query", name]
        assert "ISO 8601" in error["msg"]
    for path in ("/v1/projects", f"/v1/projects/{project}/files"):
        response = await api.get(path, params={"created_at_start": value}, headers=headers)
        assert response.status_code == 422, (path, value)


@pytest.mark.parametrize(
    "value", ["2000-01-31T12:00:00Z", "2000-01-31T12:00:00+02:00", "2000-01-31", "2000-01-31T12:00"]
)
async def test_iso_8601_timestamps_are_accepted(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, job_ids: list[str], value: str
) -> None:
    response = await api.get(
        f"/v1/projects/{project}/jobs", params={"created_at_end": value}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["total_count"] == 0  # every job was created after 2000-01-31
