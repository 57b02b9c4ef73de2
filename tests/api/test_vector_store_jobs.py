"""`vector_store` jobs on real servers: the whole cancel table, delete during indexing,
a resumed attempt after a crash, and bad input."""

import asyncpg
import httpx
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import ActivityEnvironment

from activities.vector_store import VectorStoreActivities
from core.contracts import JobRef
from core.embedding import WordLlamaEmbedder
from core.enums import JobStatus
from core.settings import Settings
from db import vector_chunks
from db.transitions import Transition, transition
from tests.factories import insert_job
from tests.helpers import eventually, wait_status
from tests.vector_helpers import (
    add_results,
    chunk,
    create_store,
    insert_result,
    live_chunks,
    many_chunks,
    search,
)

TERMINAL = {"succeeded", "failed", "cancelled", "partially_succeeded"}
# Enough chunks (tens of seconds of embedding) that the job is still running when cancelled.
BIG = 20_000


async def chunks_of_job(pool: asyncpg.Pool, job_id: str) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM vector_chunks v JOIN jobs c ON c.id = v.job_id"
        " WHERE c.parent_job_id = $1",
        job_id,
    )
    return count


async def test_cancel_table_for_vector_store_jobs(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
    client: Client,
) -> None:
    store = (await create_store(api, headers, project))["id"]
    big = await insert_result(pool, project, many_chunks(BIG))
    small = await insert_result(pool, project, [chunk("small")])
    job = await add_results(api, headers, project, store, [big, small])
    job_id = job["id"]
    # Running, with pages already staged: the cancel must delete them.
    await eventually(lambda: chunks_of_job(pool, job_id), lambda n: n > 0)
    url = f"/v1/projects/{project}/jobs/{job_id}/cancel"
    running = await api.post(url, json={"reason": "enough"}, headers=headers)
    assert running.status_code == 202, running.text
    done = await wait_status(api, headers, project, job_id, TERMINAL)
    assert done["status"] == "cancelled" and done["progress"]["pending"] == 0
    children = {c["source_document_id"]: c["status"] for c in done["progress"]["child_jobs"]}
    assert children[big] == "cancelled"  # the small one may have finished first
    statuses = [event["status"] for event in done["history"]]
    assert statuses == ["created", "started", "cancel_requested", "cancelled"]
    staged = await pool.fetchval(
        "SELECT count(*) FROM vector_chunks v JOIN jobs c ON c.id = v.job_id"
        " WHERE c.parent_job_id = $1 AND c.source_id = $2",
        job_id,
        big,
    )
    assert staged == 0  # nothing the cancelled child staged is left behind
    described = await eventually(
        client.get_workflow_handle(job_id).describe,
        lambda d: d.status != WorkflowExecutionStatus.RUNNING,
    )
    assert described.status == WorkflowExecutionStatus.CANCELED

    again = await api.post(url, headers=headers)
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    pending = await insert_job(pool, project, "pending", operation="vector_store")
    answer = await api.post(f"/v1/projects/{project}/jobs/{pending}/cancel", headers=headers)
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
    finished = await insert_job(pool, project, "succeeded", operation="vector_store")
    answer = await api.post(f"/v1/projects/{project}/jobs/{finished}/cancel", headers=headers)
    assert answer.status_code == 400
    unknown = await api.post(f"/v1/projects/{project}/jobs/job_{'0' * 32}/cancel", headers=headers)
    assert unknown.status_code == 404
    malformed = await api.post(url, content=b"{not json", headers=headers)
    assert malformed.status_code == 422


async def test_delete_during_indexing_cancels_then_removes_everything(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    store = (await create_store(api, headers, project))["id"]
    done_first = await insert_result(pool, project, [chunk("indexed before the delete")])
    first = await add_results(api, headers, project, store, [done_first])
    assert (await wait_status(api, headers, project, first["id"], TERMINAL))[
        "status"
    ] == "succeeded"
    big = await insert_result(pool, project, many_chunks(BIG))
    job = await add_results(api, headers, project, store, [big])
    await eventually(lambda: chunks_of_job(pool, job["id"]), lambda n: n > 0)

    deleted = await api.delete(f"/v1/projects/{project}/vector-stores/{store}", headers=headers)
    assert deleted.status_code == 200, deleted.text
    done = await wait_status(api, headers, project, job["id"], TERMINAL)
    assert done["status"] == "cancelled"
    assert await pool.fetchval("SELECT count(*) FROM vector_chunks WHERE store_id = $1", store) == 0
    assert await chunks_of_job(pool, job["id"]) == 0


async def test_a_retried_attempt_resumes_without_duplicates(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
    settings: Settings,
) -> None:
    """A worker died after staging pages: the next attempt (same child, same activity)
    stages only the rest, and the child ends with each chunk exactly once."""
    store = (await create_store(api, headers, project))["id"]
    page_size = 8
    tuned = settings.model_copy(update={"vector_store_page_size": page_size})
    total = page_size * 3 + 5
    result = await insert_result(pool, project, many_chunks(total))
    # The job's rows, as the API makes them, but no workflow: we play the worker here.
    parent = await insert_job(pool, project, "running", operation="vector_store")
    child = await insert_job(pool, project, "running", operation="vector_store")
    await pool.execute(
        "UPDATE jobs SET parent_job_id = $1, source_id = $2 WHERE id = $3", parent, result, child
    )
    await pool.execute(
        "UPDATE jobs SET source_id = $2, parameters = $3::jsonb WHERE id = $1",
        parent,
        store,
        f'{{"vector_store_id": "{store}"}}',
    )
    model = WordLlamaEmbedder()
    first_pages = [c["content"] for c in many_chunks(total)[: page_size * 2]]
    vectors = model.embed_sync(first_pages).tolist()
    for start in (0, page_size):
        page = vector_chunks.Page(
            store,
            result,
            "file_x",
            {},
            256,
            start,
            first_pages[start : start + page_size],
            ["[]"] * page_size,
            vectors[start : start + page_size],
        )
        async with pool.acquire() as conn:
            assert await vector_chunks.stage_page(conn, child, page)

    activities = VectorStoreActivities(pool, tuned)
    outcome = await ActivityEnvironment().run(activities.index_result, JobRef(child))
    assert outcome.succeeded and outcome.chunk_count == total
    assert await live_chunks(pool, store) == total
    distinct = await pool.fetchval(
        "SELECT count(DISTINCT chunk_index) FROM vector_chunks WHERE store_id = $1", store
    )
    assert distinct == total
    # Run again (a duplicate delivery): the child is terminal, nothing changes.
    again = await ActivityEnvironment().run(activities.index_result, JobRef(child))
    assert not again.succeeded and await live_chunks(pool, store) == total
    assert await transition(pool, parent, Transition(JobStatus.SUCCEEDED))


async def test_bad_input(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    base = f"/v1/projects/{project}/vector-stores"
    store = (await create_store(api, headers, project))["id"]
    result = await insert_result(pool, project, [chunk("a chunk")])

    async def post(url: str, body: object) -> httpx.Response:
        return await api.post(url, json=body, headers=headers)

    unknown_store = await post(f"{base}/vs_{'0' * 32}/files", {"parse_result_ids": [result]})
    assert unknown_store.status_code == 404
    odd_store = await post(f"{base}/whatever/search", {"query": "x"})
    assert odd_store.status_code == 404
    missing = f"pres_{'1' * 32}"
    unknown_result = await post(f"{base}/{store}/files", {"parse_result_ids": [result, missing]})
    assert unknown_result.status_code == 404 and missing in unknown_result.json()["detail"]
    for ids in ([], [f"pres_{n:032x}" for n in range(10_001)], [result, result]):
        too = await post(f"{base}/{store}/files", {"parse_result_ids": ids})
        assert too.status_code == 422, len(ids)
    for body in (
        {"query": ""},
        {"query": "   "},
        {"query": "x", "top_k": 0},
        {"query": "x", "top_k": 101},
        {"query": "x", "query_type": "fuzzy"},
        {"query": "x", "filters": {"colour": "red"}},
        {"query": "x", "unknown": 1},
    ):
        bad = await post(f"{base}/{store}/search", body)
        assert bad.status_code == 422, body
    engine = await post(base, {"name": "other", "engine": "openai"})
    assert engine.status_code == 422
    assert "available engines: docket" in engine.json()["detail"][0]["msg"]
    model = await post(base, {"name": "other", "embedding_model": "openai/text-embedding-3-large"})
    assert model.status_code == 422 and "docket/wordllama-256" in model.text
    empty_name = await post(base, {"name": ""})
    assert empty_name.status_code == 422
    # A store with no chunks answers an empty list, for every query type.
    for query_type in ("semantic", "lexical", "hybrid"):
        empty = await search(api, headers, project, store, query="the", query_type=query_type)
        assert empty.status_code == 200 and empty.json() == {"chunks": []}


async def test_a_result_bigger_than_a_publish_page_goes_live_whole(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    store = (await create_store(api, headers, project))["id"]
    total = vector_chunks.PUBLISH_PAGE * 2 + 3  # three publish statements, one transaction
    result = await insert_result(pool, project, many_chunks(total))
    job = await add_results(api, headers, project, store, [result])
    done = await wait_status(api, headers, project, job["id"], TERMINAL)
    assert done["status"] == "succeeded", done
    assert await live_chunks(pool, store) == total
    staged = await pool.fetchval(
        "SELECT count(*) FROM vector_chunks WHERE store_id = $1 AND NOT live", store
    )
    assert staged == 0
