"""Rechunk throughput: chunks/s of a 2,000-page parse result re-chunked through the stack's
worker (POST .../rechunk → `succeeded`), against `chunk_pages` alone on the same pages in
this process. Rounds alternate; round 0 warms up.

The pages come from a real parse of a generated 2,000-page PDF, so the rechunk reads exactly
what a user's parse stored.
"""

import asyncio
import json
import time

import asyncpg

from activities.parsing import chunk_pages, page_from_dict
from bench.client import TAG, Api, api_client, settled, sql
from bench.sizes import Sizes
from bench.stats import Row, Summary
from core.params import ChunkingOptions
from docket.devstack import DevStack
from tests.documents import make_pdf

NAME = "rechunk_throughput"
BENCH = "rechunk throughput"
TARGET_RATIO = 0.7
OPTIONS = {"strategy": "token_size", "chunk_size": 256, "chunk_overlap": 32}
PAGES_OF = f"SELECT {TAG} pages::text FROM parse_results WHERE id = $1"
CHUNKS_OF = (
    f"SELECT {TAG} COALESCE(chunk_count, jsonb_array_length(chunks)) "
    "FROM parse_results WHERE id = $1"
)


async def parsed_result(api: Api, conn: asyncpg.Connection, project: str, pages: int) -> str:
    file_id = await api.upload(project, "long.pdf", make_pdf(pages=pages, lines_per_page=30))
    job_id = await api.parse(project, file_id)
    assert await settled(conn, [job_id]) == 1, "the source parse did not succeed"
    job = await api.json("GET", f"/v1/projects/{project}/jobs/{job_id}")
    return str(job["result"]["parse_result_id"])


async def rechunk(api: Api, conn: asyncpg.Connection, project: str, result_id: str) -> str:
    url = f"/v1/projects/{project}/parse/{result_id}/rechunk"
    job = await api.json("POST", url, json={"chunking_options": OPTIONS})
    assert await settled(conn, [job["id"]]) == 1, "the rechunk did not succeed"
    done = await api.json("GET", f"/v1/projects/{project}/jobs/{job['id']}")
    return str(done["result"]["parse_result_id"])


def chunk_alone(pages_json: str) -> int:
    pages = [page_from_dict(page) for page in json.loads(pages_json)]
    return len(chunk_pages(pages, ChunkingOptions.model_validate(OPTIONS)))


async def measure(stack: DevStack, sizes: Sizes) -> list[Row]:
    async with api_client(stack) as api, sql(stack) as conn:
        project = await api.project("rechunk-throughput")
        source = await parsed_result(api, conn, project, sizes.rechunk_pages)
        pages_json = await conn.fetchval(PAGES_OF, source)
        walls: dict[str, list[float]] = {"docket": [], "raw": []}
        chunks = 0
        for round_ in range(sizes.parse_rounds + 1):
            began = time.perf_counter()
            made = await rechunk(api, conn, project, source)
            docket = time.perf_counter() - began
            chunks = int(await conn.fetchval(CHUNKS_OF, made))
            began = time.perf_counter()
            assert chunk_alone(pages_json) == chunks, "rechunk and chunk_pages disagree"
            raw = time.perf_counter() - began
            if round_:
                walls["docket"].append(docket)
                walls["raw"].append(raw)
    row = Row(
        BENCH,
        f"{sizes.rechunk_pages}-page parse result through the worker ({chunks} chunks)",
        Summary.rate(chunks, walls["docket"], "chunks/s"),
        Summary.rate(chunks, walls["raw"], "chunks/s"),
        f"≥ {TARGET_RATIO}x raw",
    )
    row.met = row.ratio is not None and row.ratio >= TARGET_RATIO
    return [row]


def run(stack: DevStack, sizes: Sizes) -> list[Row]:
    return asyncio.run(measure(stack, sizes))
