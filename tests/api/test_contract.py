"""What a client generated from the Dex contract relies on (issue 11): one security
requirement holding both schemes, ids as plain strings (404 when unknown), malformed bodies
as 422, Dex's own request fields accepted, and 405 answers naming every method."""

import json
import logging
import time
from typing import Any

import asyncpg
import httpx
import pytest

from api.app import create_app
from core import signing
from core.settings import Settings
from tests.factories import insert_job
from tests.helpers import create_job, get_job, upload, wait_status

DEX_IDS = ["job_123456789", "proj_123456789", "123", "not an id", "ünïcødé", "a" * 256]
LONGEST_ID = 256
PARAMS_LOG = "api.params"


def test_openapi_declares_one_requirement_holding_both_schemes(settings: Settings) -> None:
    document = create_app(settings).openapi()
    assert document["security"] == [{"ApiKey": [], "AccountId": []}]
    public = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            # Inherited from the document, or explicitly public; never alternatives.
            assert operation.get("security", None) in (None, []), (method, path)
            if operation.get("security") == []:
                public.append(path)
    assert public == ["/v1/projects/{project_id}/files/{file_id}/content"]


def id_routes(project: str, some_id: str) -> list[tuple[str, str]]:
    """(method, url) of every endpoint that looks an id up, with `some_id` in each place."""
    under = f"/v1/projects/{project}"
    return [
        ("GET", f"/v1/projects/{some_id}"),
        ("PUT", f"/v1/projects/{some_id}"),
        ("GET", f"/v1/projects/{some_id}/jobs"),
        ("GET", f"/v1/projects/{some_id}/files"),
        ("GET", f"/v1/projects/{some_id}/parse/results"),
        ("GET", f"{under}/files/{some_id}"),
        ("DELETE", f"{under}/files/{some_id}"),
        ("GET", f"{under}/files/{some_id}/download-url"),
        ("GET", f"{under}/parse/{some_id}/result"),
        ("GET", f"{under}/jobs/{some_id}"),
        ("POST", f"{under}/jobs/{some_id}/cancel"),
        ("POST", f"/v1/projects/{some_id}/jobs/job_123456789/cancel"),
    ]


@pytest.mark.parametrize("some_id", [*DEX_IDS, "nul%00inside"])
async def test_an_id_of_any_shape_that_names_nothing_is_404(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, some_id: str
) -> None:
    for method, url in id_routes(project, some_id):
        body = {"name": "x"} if method == "PUT" else None
        response = await api.request(method, url, headers=headers, json=body)
        assert response.status_code == 404, (method, url, response.text)
        assert "not found" in response.json()["detail"], (method, url)


async def test_an_id_over_the_length_cap_is_422(
    api: httpx.AsyncClient, headers: dict[str, str], project: str
) -> None:
    for method, url in id_routes(project, "a" * (LONGEST_ID + 1)):
        body = {"name": "x"} if method == "PUT" else None
        response = await api.request(method, url, headers=headers, json=body)
        assert response.status_code == 422, (method, url, response.text)
        assert response.json()["detail"][0]["loc"][0] == "path"


async def test_parse_and_signed_download_of_unknown_ids_are_404(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, settings: Settings
) -> None:
    for route, body in [
        ("parse", {"source_document_id": "file_123456789"}),
        ("parse/batch", {"source_document_ids": ["file_123456789", "doc-2"]}),
    ]:
        response = await api.post(f"/v1/projects/{project}/{route}", json=body, headers=headers)
        assert response.status_code == 404, response.text
        assert "file_123456789" in response.json()["detail"]
    # A correctly signed URL for a file that does not exist: the lookup answers.
    assert settings.secret_key is not None
    expires = int(time.time()) + 60
    sig = signing.signature(settings.secret_key.get_secret_value(), project, "file_123", expires)
    response = await api.get(
        f"/v1/projects/{project}/files/file_123/content",
        params={"expires": expires, "signature": sig},
    )
    assert response.status_code == 404


NOT_UTF8 = b'{"name": "caf\xe9"}'


async def json_routes(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> list[str]:
    job = await insert_job(pool, project, "pending")
    return [
        "POST /v1/projects",
        f"PUT /v1/projects/{project}",
        f"POST /v1/projects/{project}/parse",
        f"POST /v1/projects/{project}/parse/batch",
        f"POST /v1/projects/{project}/jobs/{job}/cancel",
    ]


@pytest.mark.parametrize("content", [NOT_UTF8, b"\xff\xfe\xfa", b'{"reason": "\xc3"}'])
async def test_a_body_that_is_not_utf8_is_422_on_every_json_endpoint(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
    content: bytes,
) -> None:
    sent = {**headers, "content-type": "application/json"}
    for route in await json_routes(api, headers, project, pool):
        method, url = route.split(" ")
        response = await api.request(method, url, content=content, headers=sent)
        assert response.status_code == 422, (route, response.text)
        error = response.json()["detail"][0]
        assert error["loc"] == ["body"] and error["type"] == "json_invalid", route
        assert "UTF-8" in error["msg"]
    # Nothing was created or changed: the cancel's job is still pending.
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM jobs WHERE project_id = $1 AND status <> 'pending'", project
        )
        == 0
    )


@pytest.mark.parametrize("content_type", [None, "text/plain"])
async def test_undecodable_bytes_under_another_content_type_are_422_not_500(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
    content_type: str | None,
) -> None:
    """FastAPI echoes such a body back as bytes in the error's `input`, and used to fail
    encoding them (a 500): the 422 shows them with the bad bytes replaced."""
    sent = {**headers, **({"content-type": content_type} if content_type else {})}
    for route in await json_routes(api, headers, project, pool):
        method, url = route.split(" ")
        response = await api.request(method, url, content=NOT_UTF8, headers=sent)
        assert response.status_code == 422, (route, response.text)
        error = response.json()["detail"][0]
        assert error["loc"] == ["body"], route
        assert error["input"] == NOT_UTF8.decode("utf-8", errors="replace"), route


async def test_a_broken_multipart_upload_is_422(
    api: httpx.AsyncClient, headers: dict[str, str], project: str
) -> None:
    response = await api.post(
        f"/v1/projects/{project}/files",
        content=b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n',
        headers={**headers, "content-type": "multipart/form-data"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "body"


async def test_dex_batch_parse_body_and_flags_are_accepted(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    file = await upload(api, headers, project, "a.md", b"# Dex\n\nbody", "text/markdown")
    metadata = {"vector_store_id": "vs_123", "tags": ["finance", 2016]}
    caplog.set_level(logging.INFO, logger=PARAMS_LOG)
    batch = await api.post(
        f"/v1/projects/{project}/parse/batch",
        params={"beta_enable_iris2": "true"},
        json={
            "source_document_ids": [file["id"]],
            "parameters": {"engine": "docket", "vector_store_metadata": metadata},
        },
        headers=headers,
    )
    assert batch.status_code == 200, batch.text
    stored = await pool.fetchval(
        "SELECT parameters->'vector_store_metadata' FROM jobs WHERE id = $1", batch.json()["id"]
    )
    assert stored is not None and json.loads(stored) == metadata
    # The children run with the batch's parameters, metadata included.
    await wait_status(api, headers, project, batch.json()["id"], {"succeeded"})
    single = await api.post(
        f"/v1/projects/{project}/parse",
        params={"beta_enable_iris2": "false"},
        json={"source_document_id": file["id"]},
        headers=headers,
    )
    assert single.status_code == 200, single.text
    notes = [r.getMessage() for r in caplog.records if r.name == PARAMS_LOG]
    assert notes == [
        "beta_enable_iris2=True ignored: Docket has no IRIS2 parser",
        "beta_enable_iris2=False ignored: Docket has no IRIS2 parser",
    ]


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("parse/batch", {"source_document_ids": ["f"], "parameters": {"no_such_field": 1}}),
        ("parse/batch", {"source_document_ids": ["f"], "no_such_field": 1}),
        ("parse", {"source_document_id": "f", "parameters": {"chunking_options": {"x": 1}}}),
    ],
)
async def test_fields_no_contract_knows_are_still_422(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, route: str, body: Any
) -> None:
    response = await api.post(f"/v1/projects/{project}/{route}", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["type"] == "extra_forbidden"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("OPTIONS", "/v1/projects", "GET, POST"),
        ("DELETE", "/v1/projects", "GET, POST"),
        ("DELETE", "/v1/projects/proj_1", "GET, PUT"),
        ("POST", "/v1/projects/proj_1/files/file_1", "DELETE, GET"),
        ("GET", "/v1/projects/proj_1/jobs/job_1/cancel", "POST"),
    ],
)
async def test_405_allow_lists_every_method_of_the_path(
    api: httpx.AsyncClient, headers: dict[str, str], method: str, path: str, allowed: str
) -> None:
    response = await api.request(method, path, headers=headers)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed


BATCH_SIZE = 8  # ordered by random job ids instead, 8 children match by chance 1 in 40,320


async def test_child_jobs_keep_the_submitted_order(
    api: httpx.AsyncClient, headers: dict[str, str], project: str
) -> None:
    files = [
        await upload(api, headers, project, f"{n}.md", f"# Doc {n}\n".encode(), "text/markdown")
        for n in range(BATCH_SIZE)
    ]
    submitted = [f["id"] for f in reversed(files)]
    batch = await create_job(
        api, headers, project, "parse/batch", {"source_document_ids": submitted}
    )
    listed = [child["source_document_id"] for child in batch["progress"]["child_jobs"]]
    assert listed == submitted
    again = await get_job(api, headers, project, batch["id"])
    assert [child["source_document_id"] for child in again["progress"]["child_jobs"]] == submitted
