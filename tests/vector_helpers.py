"""Stores and parse results for the vector store tests (rows made directly, in ms)."""

import json
from typing import Any

import asyncpg
import httpx

from core.ids import IdPrefix, new_id
from tests.factories import insert_job

# A tiny labelled corpus: each topic's chunk answers its question, in other words too.
TOPICS = {
    "volcano": "Volcanoes erupt when magma, ash and hot gas rise through the crust of a mountain.",
    "bakery": "The baker kneads dough, lets the bread rise and bakes loaves in a hot oven.",
    "football": "The striker kicked the ball past the goalkeeper and the team won the match.",
    "astronomy": "Telescopes show distant galaxies, stars and planets orbiting in the night sky.",
    "medicine": "The doctor prescribed antibiotics to cure the patient's bacterial infection.",
}


def chunk(content: str, page: int = 1) -> dict[str, Any]:
    return {
        "content": content,
        "blocks": [
            {
                "type": "text",
                "content": content,
                "bbox": {"left": 0.1, "top": 0.1, "width": 0.8, "height": 0.1},
                "confidence": 1.0,
                "page_number": page,
            }
        ],
    }


async def insert_result(
    pool: asyncpg.Pool, project: str, chunks: list[dict[str, Any]], file_id: str | None = None
) -> str:
    """A succeeded parse job with a stored result holding `chunks`."""
    job_id = await insert_job(pool, project, "succeeded")
    result_id = new_id(IdPrefix.PARSE_RESULT)
    await pool.execute(
        "INSERT INTO parse_results (id, project_id, job_id, source_document_id, engine,"
        " page_count, chunks) VALUES ($1, $2, $3, $4, 'docket', 1, $5::jsonb)",
        result_id,
        project,
        job_id,
        file_id or new_id(IdPrefix.FILE),
        json.dumps(chunks),
    )
    return result_id


def many_chunks(count: int) -> list[dict[str, Any]]:
    return [chunk(f"Filler sentence number {n} about nothing in particular.") for n in range(count)]


async def create_store(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, name: str = "store", **more: Any
) -> dict[str, Any]:
    response = await api.post(
        f"/v1/projects/{project}/vector-stores", json={"name": name, **more}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def add_results(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    store: str,
    ids: list[str],
    **more: Any,
) -> dict[str, Any]:
    response = await api.post(
        f"/v1/projects/{project}/vector-stores/{store}/files",
        json={"parse_result_ids": ids, **more},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def search(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, store: str, **body: Any
) -> httpx.Response:
    return await api.post(
        f"/v1/projects/{project}/vector-stores/{store}/search", json=body, headers=headers
    )


async def live_chunks(pool: asyncpg.Pool, store: str) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM vector_chunks WHERE store_id = $1 AND live", store
    )
    return count
