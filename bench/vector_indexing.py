"""Indexing throughput: chunks/s of one parse result indexed into a store through the
stack's worker (POST …/files → `succeeded`), against the embedding model alone in this
process on the same texts, in the same pages. Rounds alternate; round 0 warms up."""

import asyncio
import json
import time
import uuid

import asyncpg

from bench.client import TAG, api_client, settled, sql
from bench.sizes import Sizes
from bench.stats import Row, Summary
from bench.vector_data import texts
from core.embedding import WordLlamaEmbedder
from core.settings import get_settings
from docket.devstack import DevStack

NAME = "vector_indexing"
BENCH = "vector indexing throughput"
TARGET_RATIO = 0.7
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
            assert await settled(conn, [job["id"]]) == 1, "the indexing job did not succeed"
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
    return [row]


def run(stack: DevStack, sizes: Sizes) -> list[Row]:
    return asyncio.run(measure(stack, sizes))
