"""Rows made directly in Postgres, for states the API reaches only through time."""

import json
import uuid

import asyncpg

from core.ids import IdPrefix, new_id
from db import jobs
from db.jobs import NewJob


async def insert_job(
    pool: asyncpg.Pool, project: str, status: str = "pending", operation: str = "parse"
) -> str:
    """A job row with no workflow behind it, forced into `status`."""
    job_id = new_id(IdPrefix.JOB)
    await jobs.insert(
        pool,
        NewJob(job_id, project, operation, "file_" + "0" * 32, uuid.uuid4().hex, parameters={}),
    )
    if status != "pending":
        completed = status not in ("pending", "running")
        await pool.execute(
            "UPDATE jobs SET status = $2, started_at = clock_timestamp(),"
            " completed_at = CASE WHEN $3 THEN clock_timestamp() END WHERE id = $1",
            job_id,
            status,
            completed,
        )
    return job_id


async def insert_parse_result(
    pool: asyncpg.Pool, project: str, pages: int, blocks_per_page: int = 3
) -> str:
    """A succeeded parse job with a stored result of `pages` synthetic pages (big results,
    in milliseconds, for rechunks that must still be running when a test cancels them)."""
    job_id = await insert_job(pool, project, "succeeded")
    result_id = new_id(IdPrefix.PARSE_RESULT)
    stored = [
        {
            "number": n,
            "blocks": [
                {
                    "type": "text",
                    "content": f"Page {n} paragraph {b}: " + "lorem ipsum dolor sit amet " * 12,
                    "bbox": {"left": 0.1, "top": 0.1 * b, "width": 0.8, "height": 0.05},
                    "confidence": 1.0,
                    "page_number": n,
                }
                for b in range(1, blocks_per_page + 1)
            ],
        }
        for n in range(1, pages + 1)
    ]
    await pool.execute(
        "INSERT INTO parse_results (id, project_id, job_id, source_document_id, engine,"
        " page_count, chunks, pages) VALUES ($1, $2, $3, $4, 'docket', $5, '[]', $6::jsonb)",
        result_id,
        project,
        job_id,
        "file_" + "0" * 32,
        pages,
        json.dumps(stored),
    )
    return result_id
