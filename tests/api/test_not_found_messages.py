"""A 404 says which thing was not found: the project, or the job/result/file in it."""

import asyncpg
import httpx

from db.accounts import create_key

UNKNOWN_PROJECT = "proj_" + "0" * 32
UNKNOWN_JOB = "job_" + "0" * 32


async def test_cancel_under_an_unknown_project_names_the_project(
    api: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    url = f"/v1/projects/{UNKNOWN_PROJECT}/jobs/{UNKNOWN_JOB}/cancel"
    answer = await api.post(url, headers=headers)
    assert answer.status_code == 404
    assert answer.json()["detail"] == f"project {UNKNOWN_PROJECT} not found"


async def test_an_unknown_job_in_a_known_project_names_the_job(
    api: httpx.AsyncClient, headers: dict[str, str], project: str
) -> None:
    for method, url in (
        ("POST", f"/v1/projects/{project}/jobs/{UNKNOWN_JOB}/cancel"),
        ("GET", f"/v1/projects/{project}/jobs/{UNKNOWN_JOB}"),
    ):
        answer = await api.request(method, url, headers=headers)
        assert answer.status_code == 404
        assert answer.json()["detail"] == f"job {UNKNOWN_JOB} not found"


async def test_reads_under_an_unknown_project_name_the_project(
    api: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for path in (f"jobs/{UNKNOWN_JOB}", f"parse/pres_{'0' * 32}/result", f"files/file_{'0' * 32}"):
        answer = await api.get(f"/v1/projects/{UNKNOWN_PROJECT}/{path}", headers=headers)
        assert answer.status_code == 404, path
        assert answer.json()["detail"] == f"project {UNKNOWN_PROJECT} not found", path


async def test_another_accounts_project_is_not_found_too(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn:
        other = await create_key(conn, "someone else")
    stranger = {"x-api-key": other.api_key, "x-selected-account-id": other.account_id}
    answer = await api.post(f"/v1/projects/{project}/jobs/{UNKNOWN_JOB}/cancel", headers=stranger)
    assert answer.status_code == 404
    assert answer.json()["detail"] == f"project {project} not found"
