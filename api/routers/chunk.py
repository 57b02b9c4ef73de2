"""Rechunk: a `chunk` job re-chunks the stored pages of a parse result into a new parse
result (Dex: "parse once, rechunk as often as needed"). Never re-parses the document."""

from fastapi import APIRouter, Response

from api.creation import CorrelationId, CreationDep, new_job
from api.deps import PoolDep
from api.params import ParseResultId
from api.responses import COMMON_ERRORS, errors, invalid, not_found
from api.schemas import JobEntity, RechunkRequest
from core.enums import JobOperationType
from core.params import RechunkParameters
from db import results

router = APIRouter(
    prefix="/v1/projects/{project_id}/parse", tags=["Parse"], responses=COMMON_ERRORS
)


@router.post(
    "/{parse_result_id}/rechunk",
    response_model=JobEntity,
    summary="Rechunk Parse Result",
    responses=errors(409),
)
async def rechunk_parse_result(
    parse_result_id: ParseResultId,
    creation: CreationDep,
    body: RechunkRequest,
    pool: PoolDep,
    x_correlation_id: CorrelationId = None,
) -> Response:
    """Start a `chunk` job whose result is a NEW parse result (its id in the job's
    `result`); the source result is unchanged. `source_id` is the source result's id."""
    project_id = creation.project.id
    # Results exist only for succeeded jobs (the fence), so a cancelled or failed parse has
    # none: 404 like any unknown id.
    can = await results.rechunkable(pool, project_id, parse_result_id)
    if can is None:
        raise not_found("parse result", parse_result_id)
    if not can:
        raise invalid(
            ("path", "parse_result_id"),
            f"parse result {parse_result_id} was stored before rechunking existed and has "
            "no pages to rechunk; parse its document again",
            parse_result_id,
        )
    parameters = RechunkParameters(chunking_options=body.chunking_options)
    job = new_job(project_id, JobOperationType.CHUNK, parse_result_id, x_correlation_id, parameters)
    details = {"source_result_id": parse_result_id}
    return await creation.single(job, body, details)
