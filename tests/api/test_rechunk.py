"""Rechunk (`chunk` jobs) through the API on real servers: output, the cancel table, the
fence, idempotency, listing, and bad input."""

import asyncpg
import httpx
from temporalio.client import Client, WorkflowExecutionStatus

from tests.factories import insert_job, insert_parse_result
from tests.helpers import create_job, eventually, get_job, get_ok, upload, wait_status

TEXT = (
    b"# Title\n\nFirst paragraph of the document, with enough words to make chunks.\n\n"
    b"## Part two\n\nSecond paragraph, also long enough to matter for chunking.\n\n"
    b"Third paragraph closes the document.\n"
)
TERMINAL = {"succeeded", "failed", "cancelled", "partially_succeeded"}


def rechunk_route(result_id: str) -> str:
    return f"parse/{result_id}/rechunk"


async def parsed(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, options: dict[str, object]
) -> dict[str, object]:
    file = await upload(api, headers, project, "notes/doc.md", TEXT, "text/markdown")
    body = {"source_document_id": file["id"], "parameters": {"chunking_options": options}}
    job = await create_job(api, headers, project, "parse", body)
    done = await wait_status(api, headers, project, str(job["id"]), TERMINAL)
    assert done["status"] == "succeeded", done
    return done


async def result_of(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, result_id: str
) -> dict[str, object]:
    return await get_ok(api, headers, f"/v1/projects/{project}/parse/{result_id}/result")


async def test_rechunk_equals_parsing_with_the_same_options(
    api: httpx.AsyncClient, headers: dict[str, str], project: str
) -> None:
    coarse = await parsed(api, headers, project, {"strategy": "by_page"})
    source_id = str(coarse["result"]["parse_result_id"])  # type: ignore[index]
    fine = {"strategy": "by_section", "chunk_size": 16, "chunk_overlap": 2}
    job = await create_job(
        api, headers, project, rechunk_route(source_id), {"chunking_options": fine}
    )
    assert job["operation"] == "chunk" and job["source_id"] == source_id
    done = await wait_status(api, headers, project, str(job["id"]), TERMINAL)
    assert done["status"] == "succeeded", done
    steps = [event["step"] for event in done["history"]]
    assert steps == ["Job created", "Job started", "Rechunk", "Job succeeded"]
    new_id = str(done["result"]["parse_result_id"])
    assert new_id != source_id

    direct = await parsed(api, headers, project, fine)
    rechunked = await result_of(api, headers, project, new_id)
    reparsed = await result_of(api, headers, project, str(direct["result"]["parse_result_id"]))  # type: ignore[index]
    assert rechunked["chunks"] == reparsed["chunks"]
    assert rechunked["page_count"] == reparsed["page_count"]
    assert rechunked["source_document_id"] == coarse_source(coarse)
    # The source result is unchanged.
    source = await result_of(api, headers, project, source_id)
    assert len(source["chunks"]) == 1  # type: ignore[arg-type]

    listed = await api.get(f"/v1/projects/{project}/jobs?operation=chunk", headers=headers)
    assert [item["id"] for item in listed.json()["items"]] == [job["id"]]


def coarse_source(job: dict[str, object]) -> object:
    return job["source_id"]


async def test_cancel_table_for_chunk_jobs(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
    client: Client,
) -> None:
    big = await insert_parse_result(pool, project, pages=10_000)
    body = {"chunking_options": {"strategy": "token_size", "chunk_size": 64, "chunk_overlap": 8}}
    job = await create_job(api, headers, project, rechunk_route(big), body)
    job_id = str(job["id"])
    await wait_status(api, headers, project, job_id, {"running"})
    url = f"/v1/projects/{project}/jobs/{job_id}/cancel"

    running = await api.post(url, json={"reason": "changed my mind"}, headers=headers)
    assert running.status_code == 202, running.text
    done = await wait_status(api, headers, project, job_id, TERMINAL)
    assert done["status"] == "cancelled" and done["result"] is None
    statuses = [event["status"] for event in done["history"]]
    assert statuses == ["created", "started", "cancel_requested", "cancelled"]
    stored = await pool.fetchval("SELECT count(*) FROM parse_results WHERE job_id = $1", job_id)
    assert stored == 0  # the fence: a cancelled chunk job never gains a result
    described = await eventually(
        client.get_workflow_handle(job_id).describe,
        lambda d: d.status != WorkflowExecutionStatus.RUNNING,
    )
    assert described.status == WorkflowExecutionStatus.CANCELED

    again = await api.post(url, headers=headers)
    assert again.status_code == 200 and again.json()["status"] == "cancelled"

    pending = await insert_job(pool, project, "pending", operation="chunk")
    answer = await api.post(f"/v1/projects/{project}/jobs/{pending}/cancel", headers=headers)
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"

    finished = await insert_job(pool, project, "succeeded", operation="chunk")
    answer = await api.post(f"/v1/projects/{project}/jobs/{finished}/cancel", headers=headers)
    assert answer.status_code == 400

    unknown = await api.post(f"/v1/projects/{project}/jobs/job_{'0' * 32}/cancel", headers=headers)
    assert unknown.status_code == 404
    malformed = await api.post(url, content=b"{not json", headers=headers)
    assert malformed.status_code == 422


async def test_rechunk_idempotency_and_correlation(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    source = await insert_parse_result(pool, project, pages=2)
    body = {"chunking_options": {"strategy": "by_page"}}
    keyed = {**headers, "Idempotency-Key": "rechunk-1", "x-correlation-id": "trace-42"}
    url = f"/v1/projects/{project}/{rechunk_route(source)}"
    first = await api.post(url, json=body, headers=keyed)
    second = await api.post(url, json=body, headers=keyed)
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["correlation_id"] == "trace-42"
    other = await api.post(url, json={"chunking_options": {"strategy": "recursive"}}, headers=keyed)
    assert other.status_code == 409
    await wait_status(api, headers, project, first.json()["id"], TERMINAL)


async def test_rechunk_bad_input(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    source = await insert_parse_result(pool, project, pages=1)
    url = f"/v1/projects/{project}/{rechunk_route(source)}"
    missing = await api.post(url, json={}, headers=headers)
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "chunking_options"]
    bad = await api.post(url, json={"chunking_options": {"chunk_size": 0}}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"][-1] == "chunk_size"
    encoding = {"chunking_options": {"encoding_name": "o200k_base"}}
    assert (await api.post(url, json=encoding, headers=headers)).status_code == 200

    unknown = f"/v1/projects/{project}/{rechunk_route('pres_' + '0' * 32)}"
    answer = await api.post(unknown, json={"chunking_options": {}}, headers=headers)
    assert answer.status_code == 404 and "parse result" in answer.json()["detail"]

    other_project = (await api.post("/v1/projects", json={"name": "p2"}, headers=headers)).json()
    elsewhere = f"/v1/projects/{other_project['id']}/{rechunk_route(source)}"
    answer = await api.post(elsewhere, json={"chunking_options": {}}, headers=headers)
    assert answer.status_code == 404

    # A parse that failed has no result: there is nothing to rechunk.
    file = await upload(api, headers, project, "broken.pdf", b"%PDF-1.4 garbage", "application/pdf")
    job = await create_job(api, headers, project, "parse", {"source_document_id": file["id"]})
    failed = await wait_status(api, headers, project, str(job["id"]), TERMINAL)
    assert failed["status"] == "failed" and failed["result"] is None
    assert (await get_job(api, headers, project, str(job["id"])))["result"] is None
