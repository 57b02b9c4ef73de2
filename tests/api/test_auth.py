"""Auth on every endpoint: 401 / 403 / 422, and 404 across accounts (nothing leaks)."""

import asyncpg
import httpx

from db.accounts import revoke_key
from tests.factories import insert_job


async def test_missing_key_is_401(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/projects")
    assert response.status_code == 401
    assert "x-api-key" in response.json()["detail"]


async def test_unknown_key_is_401(api: httpx.AsyncClient, headers: dict[str, str]) -> None:
    bad = {**headers, "x-api-key": "dk_not-a-real-key"}
    response = await api.get("/v1/projects", headers=bad)
    assert response.status_code == 401


async def test_key_of_another_account_is_403(
    api: httpx.AsyncClient, headers: dict[str, str], pool: asyncpg.Pool
) -> None:
    other = {**headers, "x-selected-account-id": "acct_" + "0" * 32}
    response = await api.get("/v1/projects", headers=other)
    assert response.status_code == 403


async def test_missing_account_header_is_422(
    api: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await api.get("/v1/projects", headers={"x-api-key": headers["x-api-key"]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "x-selected-account-id"]


async def test_revoked_key_stops_working_at_once(
    api: httpx.AsyncClient, headers: dict[str, str], pool: asyncpg.Pool
) -> None:
    assert (await api.get("/v1/projects", headers=headers)).status_code == 200
    key_id = await pool.fetchval(
        "SELECT id FROM api_keys WHERE account_id = $1", headers["x-selected-account-id"]
    )
    async with pool.acquire() as conn:
        assert await revoke_key(conn, key_id)
    assert (await api.get("/v1/projects", headers=headers)).status_code == 401


async def test_other_accounts_resources_are_404(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    from db.accounts import create_key

    async with pool.acquire() as conn:
        intruder = await create_key(conn, "intruder")
    theirs = {"x-api-key": intruder.api_key, "x-selected-account-id": intruder.account_id}
    job = await insert_job(pool, project, "running")
    for method, path in [
        ("GET", f"/v1/projects/{project}"),
        ("PUT", f"/v1/projects/{project}"),
        ("GET", f"/v1/projects/{project}/jobs"),
        ("GET", f"/v1/projects/{project}/jobs/{job}"),
        ("POST", f"/v1/projects/{project}/jobs/{job}/cancel"),
        ("GET", f"/v1/projects/{project}/files"),
        ("GET", f"/v1/projects/{project}/parse/results"),
    ]:
        body = {"name": "stolen"} if method == "PUT" else None
        response = await api.request(method, path, headers=theirs, json=body)
        assert response.status_code == 404, (method, path, response.text)
    # Nothing changed: the job is still running, the project keeps its name.
    mine = await api.get(f"/v1/projects/{project}/jobs/{job}", headers=headers)
    assert mine.json()["status"] == "running"
    assert (await api.get(f"/v1/projects/{project}", headers=headers)).json()["name"] != "stolen"


# Three ways a route checks the key: alone (no project), with its project in one statement,
# or inside the statement that reads the resource. Each must give the same answers.
def auth_paths(project: str, job: str) -> list[tuple[str, str]]:
    return [
        ("GET", "/v1/projects"),  # key alone
        ("GET", f"/v1/projects/{project}/jobs"),  # key + project
        ("GET", f"/v1/projects/{project}/jobs/{job}"),  # key inside the read
        ("GET", f"/v1/projects/{project}"),
        ("POST", f"/v1/projects/{project}/jobs/{job}/cancel"),
    ]


async def test_every_auth_path_rejects_bad_keys_and_accounts(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    job = await insert_job(pool, project, "running")
    unknown = {**headers, "x-api-key": "dk_not-a-real-key"}
    other_account = {**headers, "x-selected-account-id": "acct_" + "0" * 32}
    no_account = {"x-api-key": headers["x-api-key"]}
    unknown_no_account = {"x-api-key": "dk_not-a-real-key"}
    for method, path in auth_paths(project, job):
        for sent, expected in [
            ({}, 401),
            (unknown, 401),
            (unknown_no_account, 401),
            (other_account, 403),
            (no_account, 422),
        ]:
            response = await api.request(method, path, headers=sent)
            assert response.status_code == expected, (method, path, sent, response.text)
    # None of those requests touched the job.
    assert (await api.get(f"/v1/projects/{project}/jobs/{job}", headers=headers)).json()[
        "status"
    ] == "running"


async def test_revoked_key_fails_on_every_auth_path(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    job = await insert_job(pool, project, "succeeded")
    paths = auth_paths(project, job)[:-1]  # cancel of a succeeded job would be 400
    for method, path in paths:
        assert (await api.request(method, path, headers=headers)).status_code == 200, path
    key_id = await pool.fetchval(
        "SELECT id FROM api_keys WHERE account_id = $1", headers["x-selected-account-id"]
    )
    async with pool.acquire() as conn:
        assert await revoke_key(conn, key_id)
    for method, path in paths:
        assert (await api.request(method, path, headers=headers)).status_code == 401, path
