"""Bad input gets a clear 4xx and stores nothing."""

import asyncpg
import httpx
import pytest

from tests.helpers import create_job, upload

FILE_ID = "file_" + "0" * 32


async def file_count(pool: asyncpg.Pool, project: str) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM files WHERE project_id = $1", project)
    return count


async def test_empty_upload_is_422(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    response = await api.post(
        f"/v1/projects/{project}/files",
        files={"file": ("empty.txt", b"", "text/plain")},
        headers=headers,
    )
    assert response.status_code == 422
    assert "empty" in response.json()["detail"][0]["msg"]
    assert await file_count(pool, project) == 0


async def test_oversized_upload_is_413_and_leaves_nothing(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
    data_dir: object,
) -> None:
    too_big = b"x" * (5 * 1024 * 1024)  # the test settings allow 4 MiB
    response = await api.post(
        f"/v1/projects/{project}/files",
        files={"file": ("big.txt", too_big, "text/plain")},
        headers=headers,
    )
    assert response.status_code == 413
    assert await file_count(pool, project) == 0


async def test_missing_file_part_is_422(
    api: httpx.AsyncClient, headers: dict[str, str], project: str
) -> None:
    response = await api.post(f"/v1/projects/{project}/files", data={"x": "1"}, headers=headers)
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("../../etc/passwd", "etc/passwd"),
        ("/abs/path/report.pdf", "abs/path/report.pdf"),
        ("finance/2016/report.txt", "finance/2016/report.txt"),
        ("a\\..\\b.txt", "a/b.txt"),
    ],
)
async def test_filenames_are_stored_safely(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, given: str, stored: str
) -> None:
    body = await upload(api, headers, project, given, b"content", "text/plain")
    assert body["filename"] == stored
    assert "/" not in body["storage_key"] and len(body["storage_key"]) == 64


async def test_unknown_engine_is_422_naming_engines(
    api: httpx.AsyncClient, headers: dict[str, str], project: str
) -> None:
    file = await upload(api, headers, project, "a.txt", b"text", "text/plain")
    response = await api.post(
        f"/v1/projects/{project}/parse",
        json={"source_document_id": file["id"], "parameters": {"engine": "gpt-vision"}},
        headers=headers,
    )
    assert response.status_code == 422
    assert "docket" in response.text


async def test_unparseable_file_type_is_422_at_creation(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    file = await upload(api, headers, project, "photo.gif", b"GIF89a\x01\x00\x01\x00", "image/gif")
    response = await api.post(
        f"/v1/projects/{project}/parse", json={"source_document_id": file["id"]}, headers=headers
    )
    assert response.status_code == 422
    assert "cannot parse" in response.json()["detail"][0]["msg"]
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE project_id = $1", project) == 0


async def test_parse_of_unknown_or_deleted_file_is_404(
    api: httpx.AsyncClient, headers: dict[str, str], project: str
) -> None:
    url = f"/v1/projects/{project}/parse"
    missing = await api.post(url, json={"source_document_id": FILE_ID}, headers=headers)
    assert missing.status_code == 404
    file = await upload(api, headers, project, "a.txt", b"text", "text/plain")
    deleted = await api.delete(f"/v1/projects/{project}/files/{file['id']}", headers=headers)
    assert deleted.json()["status"] == "deleted"
    gone = await api.post(url, json={"source_document_id": file["id"]}, headers=headers)
    assert gone.status_code == 404


@pytest.mark.parametrize(
    "parameters",
    [
        {"chunking_options": {"chunk_size": 0}},
        {"chunking_options": {"chunk_size": 100, "chunk_overlap": 100}},
        {"chunking_options": {"strategy": "by_magic"}},
        {"unknown_option": True},
    ],
)
async def test_bad_parse_parameters_are_422(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, parameters: dict[str, object]
) -> None:
    response = await api.post(
        f"/v1/projects/{project}/parse",
        json={"source_document_id": FILE_ID, "parameters": parameters},
        headers=headers,
    )
    assert response.status_code == 422


async def test_corrupt_pdf_job_fails_cleanly(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    from tests.helpers import wait_status

    file = await upload(api, headers, project, "broken.pdf", b"%PDF-1.4 garbage", "application/pdf")
    job = await create_job(api, headers, project, "parse", {"source_document_id": file["id"]})
    done = await wait_status(api, headers, project, job["id"], {"failed", "succeeded"})
    assert done["status"] == "failed"
    assert "broken.pdf" in done["error"]
    assert done["history"][-1]["status"] == "failed"
    count = await pool.fetchval("SELECT count(*) FROM parse_results WHERE job_id = $1", job["id"])
    assert count == 0


async def test_download_url_round_trip_and_tampering(
    api: httpx.AsyncClient, headers: dict[str, str], project: str
) -> None:
    file = await upload(api, headers, project, "dir/hello.txt", b"hello bytes", "text/plain")
    link = await api.get(
        f"/v1/projects/{project}/files/{file['id']}/download-url",
        params={"expires_in_seconds": 60},
        headers=headers,
    )
    assert link.status_code == 200
    url = link.json()["url"]
    fetched = await api.get(url)  # no API key: the signature is the authorisation
    assert fetched.status_code == 200
    assert fetched.content == b"hello bytes"
    tampered = url.replace("signature=", "signature=0")[:-1]
    assert (await api.get(tampered)).status_code == 403
    bad_expiry = await api.get(
        f"/v1/projects/{project}/files/{file['id']}/download-url",
        params={"expires_in_seconds": 0},
        headers=headers,
    )
    assert bad_expiry.status_code == 422
