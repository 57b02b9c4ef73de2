"""Parse: start a parse job for one uploaded file; read parse results."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Response, status

from api.auth import CallerDep, admit
from api.creation import CorrelationId, CreationDep, new_job
from api.deps import PoolDep
from api.guards import GateDep
from api.params import (
    DexParseFlags,
    ParseResultId,
    ProjectId,
    paging,
)
from api.responses import COMMON_ERRORS, errors, invalid, not_found, raw_json, raw_list
from api.schemas import (
    BatchParseRequest,
    JobEntity,
    ListResponse,
    ParseRequest,
    ParseResult,
    ParseResultSummary,
)
from core import mime
from core.enums import JobOperationType
from core.ids import IdPrefix, new_id
from db import batches, results, vector_stores
from db.pagination import PageRequest
from db.pool import Conn, Connection

router = APIRouter(
    prefix="/v1/projects/{project_id}/parse", tags=["Parse"], responses=COMMON_ERRORS
)

# The routes that create a job; both accept Dex's parse query flags.
CREATES_JOB: dict[str, Any] = {
    "response_model": JobEntity,
    "responses": errors(409),
    "dependencies": [DexParseFlags],
}


@router.post("", summary="Create Parse Job", **CREATES_JOB)
async def create_parse_job(
    creation: CreationDep,
    body: ParseRequest,
    pool: PoolDep,
    x_correlation_id: CorrelationId = None,
) -> Response:
    project_id = creation.project.id
    file_id = body.source_document_id
    await require_parseable(pool, project_id, [file_id], body.parameters.engine)
    job = new_job(project_id, JobOperationType.PARSE, file_id, x_correlation_id, body.parameters)
    return await creation.single(job, body, {"engine": body.parameters.engine})


@router.post("/batch", summary="Create Batch Parse Job", **CREATES_JOB)
async def create_batch_parse_job(
    creation: CreationDep,
    body: BatchParseRequest,
    pool: PoolDep,
    x_correlation_id: CorrelationId = None,
) -> Response:
    """One `parse` child job per document, run with bounded concurrency; `progress` counts
    the children by status. With `vector_store_id`, each parse result is then indexed into
    that store by a child of the batch too (counted in `progress` with the others)."""
    project_id = creation.project.id
    ids = body.source_document_ids
    store_id = body.vector_store_id
    if store_id is not None and await vector_stores.get(pool, store_id, project_id) is None:
        raise not_found("vector store", store_id)
    await require_parseable(pool, project_id, ids, body.parameters.engine)
    batch = new_job(
        project_id, JobOperationType.BATCH_PARSE, store_id, x_correlation_id, body.parameters
    )

    async def insert(conn: Connection) -> str:
        await batches.insert_batch(conn, batch, [new_id(IdPrefix.JOB) for _ in ids], ids)
        return batch.id

    return await creation.run(JobOperationType.BATCH_PARSE, body.model_dump(mode="json"), insert)


async def require_parseable(pool: Conn, project_id: str, ids: list[str], engine: str) -> None:
    """Every document exists in the project (404 naming the missing ones) and has a type
    the engine can parse (422 naming the others), before anything is created."""
    rows = {row["id"]: row for row in await batches.parseable_files(pool, project_id, ids)}
    missing = [file_id for file_id in ids if file_id not in rows]
    if len(ids) == 1 and missing:
        raise not_found("file", ids[0])
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
        raise unparseable(bad, engine)


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
    gate: GateDep,
    pool: PoolDep,
    page: Annotated[PageRequest, Depends(paging("created_at", "id"))],
) -> Response:
    result, total = await results.list_page(pool, gate.project_id, page, gate)
    return raw_list(result, total)


@router.get("/{parse_result_id}/result", response_model=ParseResult, summary="Get Parse Result")
async def get_parse_result(
    project_id: ProjectId, parse_result_id: ParseResultId, who: CallerDep, pool: PoolDep
) -> Response:
    verdict = await results.get_for(pool, who.key, parse_result_id, project_id)
    return raw_json(admit(verdict, "parse result", parse_result_id, project_id))
