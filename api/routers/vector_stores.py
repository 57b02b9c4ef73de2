"""Vector stores (dex-api.md § Vector stores): create, list, get, delete; index parse
results into a store (a `vector_store` job of the kernel: one child per parse result, so
`progress` counts them like a batch); search a store (synchronous).

Docket decides: a store's engine is `docket` (a wheel-shipped model) unless an
OpenAI-compatible endpoint is configured (`openai`); POST …/files also takes `metadata`,
stored with every chunk and matched by search's `filters.metadata` (JSON containment).
"""

import json
from typing import Annotated

import httpx
from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    status,
)

from api.auth import CallerDep, admit
from api.cancel import cancel_job
from api.creation import CorrelationId, CreationDep, new_job
from api.deps import PoolDep, SettingsDep, TemporalDep
from api.guards import ActiveProjectDep, GateDep
from api.params import CreatedEnd, CreatedStart, Ids, LookupSafe, ProjectId, paging
from api.responses import COMMON_ERRORS, errors, invalid, not_found, raw_json, raw_list
from api.schemas import MAX_ID_LENGTH, JobEntity, ListResponse
from api.vector_schemas import (
    AddVectorStoreFilesRequest,
    CreateVectorStoreRequest,
    DeletedMessage,
    SearchRequest,
    SearchResponse,
    VectorStoreEntity,
)
from core.embedding import DOCKET_ENGINE, Embedders, EngineUnavailable
from core.enums import JobOperationType
from core.ids import IdPrefix, new_id
from core.params import VectorStoreParameters
from db import vector_search, vector_stores
from db.pagination import PageRequest
from db.pool import Connection
from db.vector_search import QueryType, Search

router = APIRouter(
    prefix="/v1/projects/{project_id}/vector-stores",
    tags=["Vector Stores"],
    responses=COMMON_ERRORS,
)

# Like every id in the contract, a plain string: one that names nothing (a NUL in it
# included) is a 404, one over the cap a 422 (api/params.py).
VectorStoreId = Annotated[str, Path(max_length=MAX_ID_LENGTH, title="Vector Store Id"), LookupSafe]
# Missing parse results named in a 404, at most this many.
LISTED = 20
DELETED = "Vector store deleted successfully"


async def embedders_of(request: Request, settings: SettingsDep) -> Embedders:
    """The process's embedding engines, built on first use (the model loads once)."""
    found: Embedders | None = getattr(request.app.state, "embedders", None)
    if found is None:
        found = request.app.state.embedders = Embedders(settings)
    return found


EmbeddersDep = Annotated[Embedders, Depends(embedders_of)]


def listed(items: list[str]) -> str:
    """The first LISTED items, and how many more there are."""
    more = len(items) - LISTED
    return ", ".join(items[:LISTED]) + (f" and {more} more" if more > 0 else "")


@router.post(
    "", response_model=VectorStoreEntity, summary="Create Vector Store", responses=errors(409)
)
async def create_vector_store(
    project: ActiveProjectDep, body: CreateVectorStoreRequest, pool: PoolDep, engines: EmbeddersDep
) -> Response:
    engine = body.engine or DOCKET_ENGINE
    try:
        model = engines.check(engine, body.embedding_model)
    except EngineUnavailable as err:
        field = "embedding_model" if engine in engines.engines() else "engine"
        raise invalid(("body", field), str(err), getattr(body, field)) from err
    try:
        dimensions = await engines.dimensions_of(engine, model)
    except httpx.HTTPError as err:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"the {engine} embedding endpoint failed: {err}"
        ) from err
    store = vector_stores.NewStore(
        new_id(IdPrefix.VECTOR_STORE), project.id, body.name, engine, model, dimensions
    )
    created = await vector_stores.insert_store(pool, store)
    if created is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"project {project.id} already has a vector store named {body.name!r}",
        )
    return raw_json(created)


@router.get("", response_model=ListResponse[VectorStoreEntity], summary="List Vector Stores")
async def list_vector_stores(
    gate: GateDep,
    pool: PoolDep,
    page: Annotated[PageRequest, Depends(paging("created_at", "id", "name"))],
    name: Annotated[str | None, Query(max_length=255)] = None,
    engine: Annotated[str | None, Query(max_length=255)] = None,
    ids: Ids = None,
    created_at_start: CreatedStart = None,
    created_at_end: CreatedEnd = None,
) -> Response:
    filters = vector_stores.StoreFilters(name, engine, ids, created_at_start, created_at_end)
    result, total = await vector_stores.list_page(pool, gate.project_id, filters, page, gate)
    return raw_list(result, total)


@router.get("/{vector_store_id}", response_model=VectorStoreEntity, summary="Get Vector Store")
async def get_vector_store(
    project_id: ProjectId, vector_store_id: VectorStoreId, who: CallerDep, pool: PoolDep
) -> Response:
    verdict = await vector_stores.get_for(pool, who.key, vector_store_id, project_id)
    return raw_json(admit(verdict, "vector store", vector_store_id, project_id))


@router.delete("/{vector_store_id}", response_model=DeletedMessage, summary="Delete Vector Store")
async def delete_vector_store(
    project_id: ProjectId,
    vector_store_id: VectorStoreId,
    who: CallerDep,
    pool: PoolDep,
    temporal: TemporalDep,
    background: BackgroundTasks,
) -> Response:
    """Irreversible. Every indexing job of the store still pending or running is cancelled
    first (the cancel endpoint's own path), then its chunks and row go in one statement."""
    verdict = await vector_stores.spec_for(pool, who.key, vector_store_id, project_id)
    admit(verdict, "vector store", vector_store_id, project_id)
    reason = f"vector store {vector_store_id} deleted"
    for job_id in await vector_stores.open_jobs(pool, vector_store_id):
        try:
            await cancel_job(pool, temporal, background, job_id, project_id, who, reason)
        except HTTPException as err:
            if err.status_code != status.HTTP_400_BAD_REQUEST:  # 400: it finished meanwhile
                raise
    if not await vector_stores.delete(pool, vector_store_id, project_id):
        raise not_found("vector store", vector_store_id)  # deleted by a concurrent request
    return raw_json(json.dumps({"message": DELETED}))


@router.post(
    "/{vector_store_id}/files",
    response_model=JobEntity,
    summary="Add Parse Results To Vector Store",
    responses=errors(409),
)
async def add_vector_store_files(
    vector_store_id: VectorStoreId,
    creation: CreationDep,
    body: AddVectorStoreFilesRequest,
    pool: PoolDep,
    x_correlation_id: CorrelationId = None,
) -> Response:
    """A `vector_store` job with one child per parse result; re-adding a parse result
    replaces its chunks in the store."""
    project_id = creation.project.id
    if await vector_stores.get(pool, vector_store_id, project_id) is None:
        raise not_found("vector store", vector_store_id)
    ids = body.parse_result_ids
    missing = await vector_stores.missing_results(pool, project_id, ids)
    if missing:
        unfinished = await vector_stores.unfinished(pool, project_id, missing)
        if unfinished:
            named = [f"{job_id} ({job_status})" for job_id, job_status in unfinished]
            raise invalid(
                ("body", "parse_result_ids"),
                f"{len(named)} parse result(s) not succeeded: {listed(named)}",
                [job_id for job_id, _ in unfinished[:LISTED]],
            )
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"{len(missing)} parse result(s) not found in project {project_id}: " + listed(missing),
        )
    parameters = VectorStoreParameters(vector_store_id=vector_store_id, metadata=body.metadata)
    job = new_job(
        project_id, JobOperationType.VECTOR_STORE, vector_store_id, x_correlation_id, parameters
    )

    async def insert(conn: Connection) -> str:
        children = [new_id(IdPrefix.JOB) for _ in ids]
        await vector_stores.insert_indexing_job(conn, job, children, ids)
        return job.id

    return await creation.run(JobOperationType.VECTOR_STORE, body.model_dump(mode="json"), insert)


@router.post(
    "/{vector_store_id}/search", response_model=SearchResponse, summary="Search Vector Store"
)
async def search_vector_store(
    project_id: ProjectId,
    vector_store_id: VectorStoreId,
    body: SearchRequest,
    who: CallerDep,
    pool: PoolDep,
    settings: SettingsDep,
    engines: EmbeddersDep,
) -> Response:
    verdict = await vector_stores.spec_for(pool, who.key, vector_store_id, project_id)
    spec = json.loads(admit(verdict, "vector store", vector_store_id, project_id))
    query_type = QueryType(body.query_type)
    embedding = None
    if query_type is not QueryType.LEXICAL:
        try:
            embedder = engines.get(spec["engine"], spec["embedding_model"], spec["dimensions"])
            vector = (await embedder.embed([body.query]))[0]
        except EngineUnavailable as err:
            raise invalid(("body", "query_type"), str(err), body.query_type) from err
        embedding = json.dumps(vector, separators=(",", ":"))
    filters = body.filters
    search = Search(
        store_id=vector_store_id,
        dimensions=spec["dimensions"],
        query_type=query_type,
        text=body.query,
        embedding=embedding,
        top_k=body.top_k,
        file_id=filters.file_id if filters else None,
        parse_result_id=filters.parse_result_id if filters else None,
        metadata=filters.metadata if filters else None,
    )
    return raw_json(await vector_search.search_on(pool, search, settings.vector_search_ef_search))
