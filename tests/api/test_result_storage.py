"""Parse results whose chunks are rows (migration 0010): stored in batches through the
fence, read back in order by the API (Postgres builds the JSON) and by vector indexing;
results stored as one jsonb array before the migration still read the same."""

from __future__ import annotations

import json

import asyncpg
import httpx

from core.ids import IdPrefix, new_id
from db import results, vector_chunks
from db.transitions import record_cancel_requested
from tests.factories import insert_job, insert_parse_result

# More than two batches, and not a multiple of the batch size: the last batch is partial.
CHUNKS = results.CHUNKS_PER_BATCH * 2 + 7
ROWS_OF = "SELECT count(*) FROM parse_result_chunks WHERE result_id = $1"


def document(chunks: int) -> results.ParsedDocument:
    return results.ParsedDocument(
        result_id=new_id(IdPrefix.PARSE_RESULT),
        engine="docket",
        page_count=1,
        chunks=[{"content": f"chunk {n}", "blocks": []} for n in range(chunks)],
        parse_ms=5,
        pages_json=json.dumps([{"number": 1, "blocks": []}]),
    )


async def test_a_result_of_many_batches_reads_back_in_order(
    api: httpx.AsyncClient, pool: asyncpg.Pool, headers: dict[str, str], project: str
) -> None:
    job_id = await insert_job(pool, project, "running")
    doc = document(CHUNKS)
    assert await results.store_and_succeed(pool, job_id, doc)
    assert await pool.fetchval(ROWS_OF, doc.result_id) == CHUNKS
    assert await pool.fetchval("SELECT status FROM jobs WHERE id = $1", job_id) == "succeeded"
    # One terminal transition, one result.
    steps = await pool.fetch("SELECT status FROM job_events WHERE job_id = $1", job_id)
    assert [row["status"] for row in steps].count("succeeded") == 1

    got = await api.get(f"/v1/projects/{project}/parse/{doc.result_id}/result", headers=headers)
    assert got.status_code == 200
    body = got.json()
    assert [chunk["content"] for chunk in body["chunks"]] == [f"chunk {n}" for n in range(CHUNKS)]
    listed = await api.get(f"/v1/projects/{project}/parse/results", headers=headers)
    [summary] = [r for r in listed.json()["items"] if r["id"] == doc.result_id]
    assert summary["chunk_count"] == CHUNKS
    assert await results.rechunkable(pool, project, doc.result_id) is True


async def test_no_chunk_row_is_written_for_a_job_whose_cancel_was_accepted(
    api: httpx.AsyncClient, pool: asyncpg.Pool, project: str
) -> None:
    job_id = await insert_job(pool, project, "running")
    assert await record_cancel_requested(pool, job_id, "user")
    doc = document(CHUNKS)
    assert not await results.store_and_succeed(pool, job_id, doc)
    assert await pool.fetchval(ROWS_OF, doc.result_id) == 0
    assert await pool.fetchval("SELECT count(*) FROM parse_results WHERE job_id = $1", job_id) == 0


async def test_a_result_stored_as_one_array_before_the_migration_still_reads(
    api: httpx.AsyncClient, pool: asyncpg.Pool, headers: dict[str, str], project: str
) -> None:
    result_id = await insert_parse_result(pool, project, pages=1)
    legacy = [{"content": "old", "blocks": []}, {"content": "layout", "blocks": []}]
    await pool.execute(
        "UPDATE parse_results SET chunks = $2::jsonb WHERE id = $1", result_id, json.dumps(legacy)
    )
    got = await api.get(f"/v1/projects/{project}/parse/{result_id}/result", headers=headers)
    assert [chunk["content"] for chunk in got.json()["chunks"]] == ["old", "layout"]
    listed = await api.get(f"/v1/projects/{project}/parse/results", headers=headers)
    [summary] = [r for r in listed.json()["items"] if r["id"] == result_id]
    assert summary["chunk_count"] == 2


async def test_vector_indexing_reads_the_chunk_rows_in_order(
    api: httpx.AsyncClient, pool: asyncpg.Pool, project: str
) -> None:
    job_id = await insert_job(pool, project, "running")
    doc = document(CHUNKS)
    assert await results.store_and_succeed(pool, job_id, doc)
    parent = await insert_job(pool, project, "running", operation="vector_store")
    child = await insert_job(pool, project, "running", operation="vector_store")
    await pool.execute(
        "UPDATE jobs SET parent_job_id = $2, source_id = $3 WHERE id = $1",
        child,
        parent,
        doc.result_id,
    )
    item = await vector_chunks.index_item(pool, child)
    assert item is not None and item.result_id == doc.result_id and item.chunks_json
    contents = [chunk["content"] for chunk in json.loads(item.chunks_json)]
    assert contents == [f"chunk {n}" for n in range(CHUNKS)]
