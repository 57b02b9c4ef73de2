"""Batch parse through the API with a real worker: fan-out, exact progress, cancellation."""

import uuid
from typing import Any

import asyncpg
import httpx
from temporalio.client import Client

from api.app import create_app
from api.deps import AppState
from core.settings import Settings
from core.storage import FileStorage
from tests.documents import make_pdf
from tests.helpers import create_job, eventually, get_job, get_ok, upload, wait_status
from tests.vector_helpers import create_store, live_chunks, search

TERMINAL = {"succeeded", "partially_succeeded", "failed", "cancelled"}


def check_progress(job: dict[str, Any]) -> dict[str, Any]:
    """The invariant that must hold at every single read."""
    progress = job["progress"]
    assert progress["total"] == (
        progress["succeeded"] + progress["failed"] + progress["cancelled"] + progress["pending"]
    )
    assert progress["total"] == len(progress["child_jobs"])
    by_status: dict[str, int] = {}
    for child in progress["child_jobs"]:
        by_status[child["status"]] = by_status.get(child["status"], 0) + 1
    for key in ("succeeded", "failed", "cancelled"):
        assert progress[key] == by_status.get(key, 0)
    if job["status"] in TERMINAL:
        assert progress["pending"] == 0
    return job


async def watch(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    job_id: str,
    statuses: set[str],
    within: float = 60,
) -> dict[str, Any]:
    async def probe() -> dict[str, Any]:
        return check_progress(await get_job(api, headers, project, job_id))

    return await eventually(probe, lambda job: job["status"] in statuses, within)


async def start_batch(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, file_ids: list[str]
) -> dict[str, Any]:
    return await create_job(api, headers, project, "parse/batch", {"source_document_ids": file_ids})


async def pdf_batch(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pages: int, count: int
) -> dict[str, Any]:
    """A batch of `count` copies of a `pages`-page PDF (seconds each to parse), started."""
    pdf = make_pdf(pages=pages, lines_per_page=30)
    ids = [
        (await upload(api, headers, project, f"p{n}.pdf", pdf, "application/pdf"))["id"]
        for n in range(count)
    ]
    return await start_batch(api, headers, project, ids)


async def text_files(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, count: int
) -> list[str]:
    return [
        (
            await upload(
                api, headers, project, f"doc-{n}.txt", f"document {n}".encode(), "text/plain"
            )
        )["id"]
        for n in range(count)
    ]


async def test_batch_of_50_runs_to_completion(
    api: httpx.AsyncClient, headers: dict[str, str], project: str
) -> None:
    ids = await text_files(api, headers, project, 50)
    batch = check_progress(await start_batch(api, headers, project, ids))
    assert batch["operation"] == "batch_parse"
    assert [c["source_document_id"] for c in batch["progress"]["child_jobs"]] != []
    assert {c["source_document_id"] for c in batch["progress"]["child_jobs"]} == set(ids)

    done = await watch(api, headers, project, batch["id"], TERMINAL)
    assert done["status"] == "succeeded"
    assert done["result"] == {"total": 50, "succeeded": 50, "failed": 0, "cancelled": 0}
    children = done["progress"]["child_jobs"]
    assert all(c["parse_result_id"] for c in children)
    child = await get_job(api, headers, project, children[0]["job_id"])
    assert child["operation"] == "parse" and child["status"] == "succeeded"
    listed = await api.get(
        f"/v1/projects/{project}/jobs",
        params={"operation": "parse", "page_size": 100},
        headers=headers,
    )
    assert listed.json()["total_count"] == 50


async def test_mixed_outcomes_end_partially_succeeded(
    api: httpx.AsyncClient, headers: dict[str, str], project: str
) -> None:
    good = await text_files(api, headers, project, 3)
    bad = await upload(api, headers, project, "bad.pdf", b"%PDF-1.4 broken", "application/pdf")
    batch = await start_batch(api, headers, project, [*good, bad["id"]])
    done = await watch(api, headers, project, batch["id"], TERMINAL)
    assert done["status"] == "partially_succeeded"
    assert done["progress"]["failed"] == 1
    failed = [c for c in done["progress"]["child_jobs"] if c["status"] == "failed"]
    assert failed[0]["source_document_id"] == bad["id"] and failed[0]["error"]


async def test_cancel_running_batch_settles_every_child(
    tuned_api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    batch = await pdf_batch(tuned_api, headers, project, pages=2000, count=6)
    running = await eventually(
        lambda: get_job(tuned_api, headers, project, batch["id"]),
        lambda job: sum(c["status"] == "running" for c in job["progress"]["child_jobs"]) == 2,
    )
    check_progress(running)
    response = await tuned_api.post(
        f"/v1/projects/{project}/jobs/{batch['id']}/cancel", headers=headers
    )
    assert response.status_code == 202, response.text
    done = await watch(tuned_api, headers, project, batch["id"], TERMINAL)
    assert done["status"] == "cancelled"
    assert done["progress"]["cancelled"] == 6
    assert done["result"]["cancelled"] == 6
    # The pending children never started.
    never_started = await pool.fetchval(
        "SELECT count(*) FROM jobs WHERE parent_job_id = $1 AND started_at IS NULL", batch["id"]
    )
    assert never_started == 4
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM parse_results r JOIN jobs j ON j.id = r.job_id"
            " WHERE j.parent_job_id = $1",
            batch["id"],
        )
        == 0
    )


async def test_cancel_one_child_and_the_batch_goes_on(
    tuned_api: httpx.AsyncClient, headers: dict[str, str], project: str
) -> None:
    pdf = make_pdf(pages=2000, lines_per_page=30)
    slow = (await upload(tuned_api, headers, project, "slow.pdf", pdf, "application/pdf"))["id"]
    quick = await text_files(tuned_api, headers, project, 3)
    batch = await start_batch(tuned_api, headers, project, [slow, *quick])
    slow_child = next(
        c["job_id"] for c in batch["progress"]["child_jobs"] if c["source_document_id"] == slow
    )
    await wait_status(tuned_api, headers, project, slow_child, {"running"})
    response = await tuned_api.post(
        f"/v1/projects/{project}/jobs/{slow_child}/cancel", headers=headers
    )
    assert response.status_code == 202
    done = await watch(tuned_api, headers, project, batch["id"], TERMINAL)
    assert done["status"] == "partially_succeeded"
    assert (done["progress"]["succeeded"], done["progress"]["cancelled"]) == (3, 1)


async def test_cancel_pending_batch_cancels_all_children_at_once(
    settings: Settings,
    pool: asyncpg.Pool,
    client: Client,
    headers: dict[str, str],
    project: str,
) -> None:
    idle = settings.model_copy(update={"task_queue": f"idle-{uuid.uuid4().hex}"})
    app = create_app(idle, AppState(idle, pool, client, FileStorage(idle.storage_dir)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://docket.test"
    ) as api:
        ids = await text_files(api, headers, project, 5)
        batch = await start_batch(api, headers, project, ids)
        response = await api.post(
            f"/v1/projects/{project}/jobs/{batch['id']}/cancel", headers=headers
        )
        assert response.status_code == 200
        body = check_progress(response.json())
        assert body["status"] == "cancelled"
        assert body["progress"]["cancelled"] == 5


async def test_batch_input_errors(
    api: httpx.AsyncClient, headers: dict[str, str], project: str
) -> None:
    url = f"/v1/projects/{project}/parse/batch"
    ids = await text_files(api, headers, project, 1)
    unknown = "file_" + "f" * 32
    missing = await api.post(url, json={"source_document_ids": [ids[0], unknown]}, headers=headers)
    assert missing.status_code == 404
    assert unknown in missing.json()["detail"]
    empty = await api.post(url, json={"source_document_ids": []}, headers=headers)
    assert empty.status_code == 422
    twice = await api.post(url, json={"source_document_ids": [ids[0], ids[0]]}, headers=headers)
    assert twice.status_code == 422
    assert "duplicate" in twice.text


RIVERS = b"# Rivers\n\nRivers carry water from mountains down to the sea through valleys.\n"
BREAD = b"# Bread\n\nBread is baked in an oven from flour, water, salt and yeast.\n"


async def test_batch_into_a_vector_store_indexes_each_parse_result(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    store = (await create_store(api, headers, project, "batch-store"))["id"]
    docs = [
        (await upload(api, headers, project, name, text, "text/markdown"))["id"]
        for name, text in (("rivers.md", RIVERS), ("bread.md", BREAD))
    ]
    bad = await upload(api, headers, project, "bad.pdf", b"%PDF-1.4 broken", "application/pdf")
    body = {
        "source_document_ids": [*docs, bad["id"]],
        "vector_store_id": store,
        "parameters": {"vector_store_metadata": {"shelf": "b"}},
    }
    batch = await create_job(api, headers, project, "parse/batch", body)
    assert batch["source_id"] == store and batch["progress"]["total"] == 3
    done = await watch(api, headers, project, batch["id"], TERMINAL)
    # Two parses and their two indexings succeeded; the broken PDF failed (nothing to index).
    assert done["status"] == "partially_succeeded", done
    progress = done["progress"]
    assert (progress["total"], progress["succeeded"], progress["failed"]) == (5, 4, 1)
    parses, indexings = progress["child_jobs"][:3], progress["child_jobs"][3:]
    assert [c["source_document_id"] for c in parses] == [*docs, bad["id"]]  # as submitted
    assert [c["source_document_id"] for c in indexings] == [
        c["parse_result_id"] for c in parses[:2]
    ]
    index_job = await get_job(api, headers, project, indexings[0]["job_id"])
    assert index_job["operation"] == "vector_store"
    assert await live_chunks(pool, store) >= 2
    entity = await get_ok(api, headers, f"/v1/projects/{project}/vector-stores/{store}")
    assert (entity["file_counts"]["total"], entity["file_counts"]["succeeded"]) == (2, 2)
    found = await search(api, headers, project, store, query="bread baked in an oven")
    hits = found.json()["chunks"]
    assert "oven" in hits[0]["content"] and hits[0]["metadata"] == {"shelf": "b"}, hits


async def test_batch_vector_store_must_exist_in_the_project(
    api: httpx.AsyncClient, headers: dict[str, str], project: str
) -> None:
    url = f"/v1/projects/{project}/parse/batch"
    ids = await text_files(api, headers, project, 1)
    other = await api.post("/v1/projects", json={"name": "other"}, headers=headers)
    theirs = (await create_store(api, headers, other.json()["id"], "theirs"))["id"]
    for store in ("vs_" + "0" * 32, theirs):
        body = {"source_document_ids": ids, "vector_store_id": store}
        response = await api.post(url, json=body, headers=headers)
        assert response.status_code == 404 and store in response.json()["detail"]
    too_long = {"source_document_ids": ids, "vector_store_id": "v" * 1000}
    assert (await api.post(url, json=too_long, headers=headers)).status_code == 422
