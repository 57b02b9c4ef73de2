"""Rows made directly in Postgres, for states the API reaches only through time."""

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
