"""Creating a job: insert it at most once per Idempotency-Key, then start its workflow."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from fastapi import Response
from temporalio.client import Client

from api.guards import Project
from api.idempotency import create_once, forget, request_hash
from api.responses import found
from api.workflow_start import launch
from core.settings import Settings
from db import jobs
from db.pool import Connection


@dataclass(frozen=True)
class Creation:
    """Insert a job at most once per Idempotency-Key, then start its workflow."""

    pool: asyncpg.Pool
    temporal: Client
    settings: Settings
    project: Project
    key: str | None

    async def run(
        self,
        route: str,
        body: dict[str, Any],
        insert: Callable[[Connection], Awaitable[str]],
        start: Callable[[Client, Settings, str], Awaitable[None]],
    ) -> Response:
        digest = request_hash(route, body)
        account = self.project.account_id
        job_id, created = await create_once(self.pool, account, self.key, digest, insert)
        if created:
            try:
                await launch(self.pool, job_id, start(self.temporal, self.settings, job_id))
            except Exception:
                # The job is failed, not started: a retry with the same key starts afresh.
                await forget(self.pool, account, self.key, job_id)
                raise
        body_json = await jobs.get(self.pool, job_id, self.project.id, account)
        return found(body_json, "job", job_id)
