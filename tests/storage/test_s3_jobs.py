"""Parse jobs and downloads on the S3 backend: the worker parses a streamed local copy (gone
afterwards), a missing object fails the job at once with today's message, a store outage is
retried and the job then succeeds (or fails clearly once the bounded retries run out), and
download URLs are the store's own pre-signed URLs."""

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.documents import make_pdf
from tests.helpers import create_job, eventually, get_ok, upload, wait_status
from tests.storage.s3_server import BUCKET, PREFIX, Relay, local_copies

pytestmark = pytest.mark.s3

TERMINAL = {"succeeded", "failed", "cancelled"}


async def parse(api: httpx.AsyncClient, headers: dict[str, str], project: str, file_id: str) -> str:
    job = await create_job(api, headers, project, "parse", {"source_document_id": file_id})
    return str(job["id"])


async def test_a_worker_parses_a_pdf_from_the_store(
    s3_api: httpx.AsyncClient, headers: dict[str, str], s3_project: str
) -> None:
    before = local_copies()
    file = await upload(s3_api, headers, s3_project, "doc.pdf", make_pdf(3), "application/pdf")
    job_id = await parse(s3_api, headers, s3_project, file["id"])
    done = await wait_status(s3_api, headers, s3_project, job_id, TERMINAL, within=60)
    assert done["status"] == "succeeded", done
    result_id = done["result"]["parse_result_id"]
    result = await get_ok(s3_api, headers, f"/v1/projects/{s3_project}/parse/{result_id}/result")
    assert "Page 3 line 1" in str(result)
    assert local_copies() <= before  # the temporary copy is removed


async def test_a_missing_object_fails_the_job_without_retries(
    s3_api: httpx.AsyncClient, headers: dict[str, str], s3_project: str, s3: Any
) -> None:
    file = await upload(s3_api, headers, s3_project, "gone.txt", b"soon gone " * 7, "text/plain")
    key = file["storage_key"]
    s3.delete_object(Bucket=BUCKET, Key=f"{PREFIX}/blobs/{key[:2]}/{key}")
    began = time.monotonic()
    job_id = await parse(s3_api, headers, s3_project, file["id"])
    done = await wait_status(s3_api, headers, s3_project, job_id, TERMINAL, within=60)
    assert done["status"] == "failed"
    assert done["error"] == f"the content of source document {file['id']} is missing"
    assert time.monotonic() - began < 1 + 2  # WORK_RETRY's first wait is 1 s: none taken
    link = await get_ok(
        s3_api, headers, f"/v1/projects/{s3_project}/files/{file['id']}/download-url"
    )
    assert (await s3_api.get(link["url"])).status_code == 404  # the store's own answer


async def test_download_urls_are_the_stores_presigned_urls(
    s3_api: httpx.AsyncClient, headers: dict[str, str], s3_project: str, relay: Relay
) -> None:
    content = b"download me, from the store"
    file = await upload(s3_api, headers, s3_project, "dl.txt", content, "text/plain")
    url = f"/v1/projects/{s3_project}/files/{file['id']}/download-url?expires_in_seconds=120"
    before = int(time.time())
    link = await get_ok(s3_api, headers, url)
    signed = urlsplit(link["url"])
    assert link["url"].startswith(relay.endpoint + f"/{BUCKET}/{PREFIX}/blobs/")
    query = parse_qs(signed.query)
    # moto serves expired URLs too: the expiry is checked where the URL carries it.
    assert query["X-Amz-Expires"] == ["120"] and "X-Amz-Signature" in query
    expires_at = datetime.fromisoformat(link["expires_at"]).timestamp()
    assert before + 120 <= expires_at <= time.time() + 120
    async with httpx.AsyncClient() as anyone:  # no API key: the URL is the credential
        got = await anyone.get(link["url"])
    assert got.status_code == 200 and got.content == content


def refusals(relay: Relay) -> Callable[[], Awaitable[int]]:
    async def probe() -> int:
        return relay.refused

    return probe


async def test_a_store_outage_is_retried_and_the_job_then_succeeds(
    s3_api: httpx.AsyncClient, headers: dict[str, str], s3_project: str, store_up: Relay
) -> None:
    file = await upload(s3_api, headers, s3_project, "later.txt", b"parsed later " * 9)
    store_up.take_down()
    refused = store_up.refused
    job_id = await parse(s3_api, headers, s3_project, file["id"])
    # The worker meets the outage: its requests to the store are reset (and retried).
    await eventually(refusals(store_up), lambda seen: seen >= refused + 2)
    running = await wait_status(s3_api, headers, s3_project, job_id, {"running"}, within=10)
    assert running["status"] == "running"
    store_up.bring_up()
    done = await wait_status(s3_api, headers, s3_project, job_id, TERMINAL, within=60)
    assert done["status"] == "succeeded", done


async def test_a_store_that_stays_down_fails_the_job_clearly(
    s3_api: httpx.AsyncClient, headers: dict[str, str], s3_project: str, store_up: Relay
) -> None:
    file = await upload(s3_api, headers, s3_project, "never.txt", b"never parsed " * 9)
    store_up.take_down()
    job_id = await parse(s3_api, headers, s3_project, file["id"])
    done = await wait_status(s3_api, headers, s3_project, job_id, TERMINAL, within=90)
    assert done["status"] == "failed"
    assert done["error"].startswith(
        f"could not read the stored file of source document {file['id']}: "
    )
