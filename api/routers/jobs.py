"""Jobs: list (filters + keyset pagination), get (with history), cancel."""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Response

from api.auth import CallerDep, admit
from api.cancel import cancel_job as cancel
from api.deps import PoolDep, TemporalDep
from api.guards import GateDep
from api.params import (
    CreatedEnd,
    CreatedStart,
    Ids,
    JobId,
    ProjectId,
    paging,
)
from api.responses import COMMON_ERRORS, errors, raw_json, raw_list
from api.schemas import CancelJobRequest, ErrorDetail, JobEntity, ListResponse
from core.enums import JobOperationType, JobStatus
from db import jobs
from db.pagination import PageRequest

router = APIRouter(prefix="/v1/projects/{project_id}/jobs", tags=["Jobs"], responses=COMMON_ERRORS)


@router.get("", response_model=ListResponse[JobEntity], summary="List Jobs")
async def list_jobs(
    gate: GateDep,
    pool: PoolDep,
    page: Annotated[PageRequest, Depends(paging("created_at", "id"))],
    ids: Ids = None,
    status: Annotated[list[JobStatus] | None, Query()] = None,
    operation: Annotated[list[JobOperationType] | None, Query()] = None,
    created_at_start: CreatedStart = None,
    created_at_end: CreatedEnd = None,
    completed_at_start: CreatedStart = None,
    completed_at_end: CreatedEnd = None,
) -> Response:
    """Items leave `history` null; get one job for its timeline."""
    filters = jobs.JobFilters(
        ids=ids,
        statuses=[s.value for s in status] if status else None,
        operations=[o.value for o in operation] if operation else None,
        created_at_start=created_at_start,
        created_at_end=created_at_end,
        completed_at_start=completed_at_start,
        completed_at_end=completed_at_end,
    )
    result, total = await jobs.list_page(pool, gate.project_id, filters, page, gate)
    return raw_list(result, total)


@router.get("/{job_id}", response_model=JobEntity, summary="Get Job")
async def get_job(project_id: ProjectId, job_id: JobId, who: CallerDep, pool: PoolDep) -> Response:
    verdict = await jobs.get_for(pool, who.key, job_id, project_id)
    return raw_json(admit(verdict, "job", job_id, project_id))


@router.post(
    "/{job_id}/cancel",
    response_model=JobEntity,
    summary="Cancel Job",
    responses={
        200: {"description": "Job cancelled (PENDING) or already cancelled (idempotent)"},
        202: {"description": "Cancellation requested for a RUNNING job", "model": JobEntity},
        400: {"description": "Job is in a terminal state (SUCCEEDED/FAILED)", "model": ErrorDetail},
        404: {"description": "Project or job not found", "model": ErrorDetail},
        **errors(409),
    },
)
async def cancel_job(
    project_id: ProjectId,
    job_id: JobId,
    who: CallerDep,
    pool: PoolDep,
    temporal: TemporalDep,
    background: BackgroundTasks,
    body: CancelJobRequest | None = None,
) -> Response:
    """Cancel a running or pending job.

    Idempotent: cancelling an already-cancelled job returns 200.
    For RUNNING jobs, returns 202 since the workflow handles cancellation
    asynchronously.
    """
    reason = body.reason if body else None
    return await cancel(pool, temporal, background, job_id, project_id, who, reason)
