"""Creating a job, for every operation of the kernel: insert it at most once per
Idempotency-Key, then start the operation's workflow (from the registry)."""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel
from temporalio.client import Client

from api.deps import state_of
from api.guards import ActiveProjectDep, Project
from api.idempotency import IdempotencyKey, create_once, forget, request_hash
from api.responses import found
from api.workflow_start import launch
from core.enums import JobOperationType
from core.ids import IdPrefix, new_id
from core.settings import Settings
from db import jobs
from db.jobs import NewJob
from db.pool import Connection
from workflows.client import Visibility, start_job, summary_of
from workflows.registry import Registry

CorrelationId = Annotated[str | None, Header(max_length=256)]


def new_job(
    project_id: str,
    operation: JobOperationType,
    source_id: str | None,
    correlation_id: str | None,
    parameters: BaseModel,
) -> NewJob:
    """A job row for `operation`, its parameters (one typed model per operation, already
    validated) stored once on the job (a batch's children read them from the batch row)."""
    return NewJob(
        id=new_id(IdPrefix.JOB),
        project_id=project_id,
        operation=operation,
        source_id=source_id,
        correlation_id=correlation_id or uuid.uuid4().hex,
        parameters=parameters.model_dump(mode="json"),
    )


@dataclass(frozen=True)
class Creation:
    """Insert a job at most once per Idempotency-Key, then start its workflow."""

    pool: asyncpg.Pool
    temporal: Client
    settings: Settings
    registry: Registry
    project: Project
    key: str | None

    async def run(
        self,
        operation: JobOperationType,
        body: dict[str, Any],
        insert: Callable[[Connection], Awaitable[str]],
    ) -> Response:
        digest = request_hash(f"{operation}:{self.project.id}", body)
        account = self.project.account_id
        job_id, created = await create_once(self.pool, account, self.key, digest, insert)
        if created:
            seen = Visibility(self.project.id, account, summary_of(operation, body))
            start = start_job(self.temporal, self.settings, self.registry, job_id, operation, seen)
            try:
                await launch(self.pool, job_id, start)
            except Exception:
                # The job is failed, not started: a retry with the same key starts afresh.
                await forget(self.pool, account, self.key, job_id)
                raise
        body_json = await jobs.get(self.pool, job_id, self.project.id, account)
        return found(body_json, "job", job_id)

    async def single(self, job: NewJob, body: BaseModel, details: dict[str, Any]) -> Response:
        """Create a job with no children (`details` go into its `created` event)."""

        async def insert(conn: Connection) -> str:
            await jobs.insert(conn, job, details)
            return job.id

        return await self.run(JobOperationType(job.operation), body.model_dump(mode="json"), insert)


async def creation(
    project: ActiveProjectDep, request: Request, idempotency_key: IdempotencyKey = None
) -> Creation:
    state = state_of(request)
    return Creation(
        state.pool, state.temporal, state.settings, state.registry, project, idempotency_key
    )


CreationDep = Annotated[Creation, Depends(creation)]
