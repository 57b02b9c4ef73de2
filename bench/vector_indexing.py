"""Indexing throughput: chunks/s of one parse result indexed into a store through the
stack's worker (POST …/files → `succeeded`), against the embedding model alone in this
process on the same texts, in the same pages. Rounds alternate; round 0 warms up.

Cancel of a running indexing job: POST …/cancel → `cancelled` in GET, for a job indexing one
parse result of `cancel_index_chunks` chunks, cancelled once its first pages are staged."""

import asyncio
import json
import time
import uuid

import asyncpg

from bench.client import DEADLINE, TAG, Api, api_client, settled, sql
from bench.sizes import Sizes
from bench.stats import Row, Summary, within
from bench.vector_data import texts
from core.embedding import WordLlamaEmbedder
from core.settings import get_settings
from docket.devstack import DevStack

NAME = "vector_indexing"
BENCH = "vector indexing throughput"
TARGET_RATIO = 0.7
# Indexing 20,000 chunks takes tens of seconds on a busy machine: a job still running after
# this is stuck.
INDEX_DEADLINE = 900.0
# Polls of the bench's own SQL connection while it waits for a page to be staged.
POLL = 0.01
CANCEL_TARGET_MS = 150.0
# A cancel takes well under a second; a job still running after this ignored it.
SETTLE_DEADLINE = 30.0
STAGED = f"""SELECT {TAG} count(*) FROM vector_chunks v JOIN jobs c ON c.id = v.job_id
WHERE c.parent_job_id = $1"""
RESULT_JOB = f"""INSERT INTO jobs {TAG} (id, project_id, operation, status, source_id)
VALUES ($1, $2, 'parse', 'succeeded', 'file_bench')"""
RESULT = f"""INSERT INTO parse_results {TAG} (id, project_id, job_id, source_document_id,
    engine, page_count, chunks) VALUES ($1, $2, $3, 'file_bench', 'docket', 1, $4::jsonb)"""


async def parse_result(conn: asyncpg.Connection, project: str, texts: list[str]) -> str:
    job_id, result_id = f"job_{uuid.uuid4().hex}", f"pres_{uuid.uuid4().hex}"
    chunks = [{"content": text, "blocks": []} for text in texts]
    await conn.execute(RESULT_JOB, job_id, project)
    await conn.execute(RESULT, result_id, project, job_id, json.dumps(chunks))
    return result_id


def embed_alone(model: WordLlamaEmbedder, texts: list[str]) -> None:
    page = get_settings().vector_store_page_size
    for start in range(0, len(texts), page):
        model.embed_sync(texts[start : start + page])


async def measure(stack: DevStack, sizes: Sizes) -> list[Row]:
    model = WordLlamaEmbedder()
    chunks = texts(sizes.index_chunks, seed=5)
    async with api_client(stack) as api, sql(stack) as conn:
        project = await api.project("vector-indexing")
        store = await api.json("POST", f"/v1/projects/{project}/vector-stores", json={"name": "s"})
        result = await parse_result(conn, project, chunks)
        url = f"/v1/projects/{project}/vector-stores/{store['id']}/files"
        walls: dict[str, list[float]] = {"docket": [], "raw": []}
        for round_ in range(sizes.parse_rounds + 1):
            began = time.perf_counter()
            job = await api.json("POST", url, json={"parse_result_ids": [result]})
            done = await settled(conn, [job["id"]], deadline=INDEX_DEADLINE)
            assert done == 1, await api.json("GET", f"/v1/projects/{project}/jobs/{job['id']}")
            docket = time.perf_counter() - began
            began = time.perf_counter()
            embed_alone(model, chunks)
            raw = time.perf_counter() - began
            if round_:
                walls["docket"].append(docket)
                walls["raw"].append(raw)
        row = Row(
            BENCH,
            f"one parse result of {len(chunks)} chunks through the worker",
            Summary.rate(len(chunks), walls["docket"], "chunks/s"),
            Summary.rate(len(chunks), walls["raw"], "chunks/s"),
            f"≥ {TARGET_RATIO}x raw",
        )
        row.met = row.ratio is not None and row.ratio >= TARGET_RATIO
        return [row, await cancel_row(api, conn, project, sizes)]


async def staged(conn: asyncpg.Connection, job_id: str) -> None:
    """Until the job's child has staged its first page: it is running, mid-way."""
    deadline = time.monotonic() + DEADLINE
    while not await conn.fetchval(STAGED, job_id):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{job_id} staged nothing in {DEADLINE:.0f}s")
        await asyncio.sleep(POLL)


async def cancel_row(api: Api, conn: asyncpg.Connection, project: str, sizes: Sizes) -> Row:
    store = await api.json("POST", f"/v1/projects/{project}/vector-stores", json={"name": "c"})
    result = await parse_result(conn, project, texts(sizes.cancel_index_chunks, seed=9))
    files = f"/v1/projects/{project}/vector-stores/{store['id']}/files"
    latencies = []
    for _ in range(sizes.cancel_runs):
        job = await api.json("POST", files, json={"parse_result_ids": [result]})
        await staged(conn, job["id"])
        url = f"/v1/projects/{project}/jobs/{job['id']}"
        began = time.perf_counter()
        answer = await api.call("POST", f"{url}/cancel")
        assert answer.status_code == 202, answer.text
        await api.wait_for(url, lambda body: body["status"] != "running", deadline=SETTLE_DEADLINE)
        latencies.append(time.perf_counter() - began)
        done = await api.json("GET", url)
        assert done["status"] == "cancelled", done["status"]
        assert not await conn.fetchval(STAGED, job["id"]), "staged chunks left behind"
    row = Row(
        BENCH,
        f"POST cancel of a running indexing job ({sizes.cancel_index_chunks} chunks) → cancelled",
        Summary.latency(latencies),
        None,
        f"p50 ≤ {CANCEL_TARGET_MS:.0f} ms",
    )
    row.met = within(row, CANCEL_TARGET_MS)
    return row


def run(stack: DevStack, sizes: Sizes) -> list[Row]:
    return asyncio.run(measure(stack, sizes))
