"""Parse: start a parse job for one uploaded file; read parse results."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Response, status

from api.auth import AccountDep
from api.creation import Creation
from api.deps import PoolDep, SettingsDep, TemporalDep
from api.guards import require_active_project, require_project
from api.idempotency import IdempotencyKey
from api.params import (
    DEFAULT_PAGE_SIZE,
    ContinuationToken,
    PageSize,
    ParseResultId,
    ProjectId,
    page_request,
)
from api.responses import COMMON_ERRORS, errors, found, invalid, not_found, raw_list
from api.schemas import (
    BatchParseRequest,
    JobEntity,
    ListResponse,
    ParseRequest,
    ParseResult,
    ParseResultSummary,
)
from db import batches, files, jobs, results
from db.jobs import NewJob
from db.pagination import SortOrder
from db.pool import Connection
from docket import mime
from docket.enums import JobOperationType
from docket.ids import IdPrefix, new_id
from workflows.client import start_batch, start_parse

router = APIRouter(
    prefix="/v1/projects/{project_id}/parse", tags=["Parse"], responses=COMMON_ERRORS
)

CorrelationId = Annotated[str | None, Header(max_length=256)]


@router.post("", response_model=JobEntity, summary="Create Parse Job", responses=errors(409))
async def create_parse_job(
    project_id: ProjectId,
    body: ParseRequest,
    account: AccountDep,
    pool: PoolDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    x_correlation_id: CorrelationId = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    await require_active_project(pool, project_id, account)
    file_id = body.source_document_id
    source = await files.get_row(pool, file_id, project_id, account)
    if source is None or source.status == "deleted":
        raise not_found("file", file_id)
    if source.mime_type not in mime.SUPPORTED_MIME_TYPES:
        raise unparseable(
            [f"{file_id} ({source.filename}, {source.mime_type})"], body.parameters.engine
        )
    job = NewJob(
        id=new_id(IdPrefix.JOB),
        project_id=project_id,
        operation=JobOperationType.PARSE,
        source_id=file_id,
        correlation_id=x_correlation_id or uuid.uuid4().hex,
        parameters=body.parameters.model_dump(mode="json"),
    )

    async def insert(conn: Connection) -> str:
        await jobs.insert(conn, job, {"engine": body.parameters.engine})
        return job.id

    creation = Creation(pool, temporal, settings, account, project_id, idempotency_key)
    return await creation.run(
        f"parse:{project_id}", body.model_dump(mode="json"), insert, start_parse
    )


@router.post(
    "/batch", response_model=JobEntity, summary="Create Batch Parse Job", responses=errors(409)
)
async def create_batch_parse_job(
    project_id: ProjectId,
    body: BatchParseRequest,
    account: AccountDep,
    pool: PoolDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    x_correlation_id: CorrelationId = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """One `parse` child job per document, run with bounded concurrency; `progress` counts
    the children by status."""
    await require_active_project(pool, project_id, account)
    ids = body.source_document_ids
    rows = {row["id"]: row for row in await batches.parseable_files(pool, project_id, ids)}
    missing = [file_id for file_id in ids if file_id not in rows]
    if missing:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"{len(missing)} source document(s) not found in project {project_id}: "
            + listing(missing),
        )
    bad = [
        f"{r['id']} ({r['filename']}, {r['mime_type']})"
        for r in rows.values()
        if r["mime_type"] not in mime.SUPPORTED_MIME_TYPES
    ]
    if bad:
        raise unparseable(bad, body.parameters.engine)
    batch = NewJob(
        id=new_id(IdPrefix.JOB),
        project_id=project_id,
        operation=JobOperationType.BATCH_PARSE,
        source_id=None,
        correlation_id=x_correlation_id or uuid.uuid4().hex,
        parameters=body.parameters.model_dump(mode="json"),
    )

    async def insert(conn: Connection) -> str:
        await batches.insert_batch(conn, batch, [new_id(IdPrefix.JOB) for _ in ids], ids)
        return batch.id

    creation = Creation(pool, temporal, settings, account, project_id, idempotency_key)
    return await creation.run(
        f"batch:{project_id}", body.model_dump(mode="json"), insert, start_batch
    )


LISTED = 20


def listing(items: list[str]) -> str:
    shown = ", ".join(items[:LISTED])
    return shown if len(items) <= LISTED else f"{shown} and {len(items) - LISTED} more"


def unparseable(files: list[str], engine: str) -> Exception:
    return invalid(
        ("body", "source_document_ids" if len(files) > 1 else "source_document_id"),
        f"the {engine} engine cannot parse {listing(files)}; "
        f"supported types: {', '.join(sorted(mime.SUPPORTED_MIME_TYPES))}",
    )


@router.get(
    "/results", response_model=ListResponse[ParseResultSummary], summary="List Parse Results"
)
async def list_parse_results(
    project_id: ProjectId,
    account: AccountDep,
    pool: PoolDep,
    page_size: PageSize = DEFAULT_PAGE_SIZE,
    continuation_token: ContinuationToken = None,
    sort_by: Annotated[str, Query(pattern="^(created_at|id)$")] = "created_at",
    sort_order: SortOrder = SortOrder.DESC,
) -> Response:
    await require_project(pool, project_id, account)
    page = page_request(page_size, continuation_token, sort_by, sort_order)
    result, total = await results.list_page(pool, project_id, page)
    return raw_list(result, total)


@router.get("/{parse_result_id}/result", response_model=ParseResult, summary="Get Parse Result")
async def get_parse_result(
    project_id: ProjectId, parse_result_id: ParseResultId, account: AccountDep, pool: PoolDep
) -> Response:
    body = await results.get(pool, parse_result_id, project_id, account)
    return found(body, "parse result", parse_result_id)
