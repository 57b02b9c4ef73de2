"""Projects: create, list, get, update (archiving is `status: archived`)."""

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from api.auth import AccountDep, CallerDep, admit
from api.deps import PoolDep
from api.params import (
    CreatedEnd,
    CreatedStart,
    Ids,
    ProjectId,
    paging,
)
from api.responses import COMMON_ERRORS, found, raw_json, raw_list
from api.schemas import CreateProjectRequest, ListResponse, ProjectEntity, UpdateProjectRequest
from core.enums import ProjectStatus
from core.ids import IdPrefix, new_id
from db import projects
from db.pagination import PageRequest

router = APIRouter(prefix="/v1/projects", tags=["Projects"], responses=COMMON_ERRORS)


@router.post("", response_model=ProjectEntity, summary="Create Project")
async def create_project(
    body: CreateProjectRequest, account: AccountDep, pool: PoolDep
) -> Response:
    configuration = None if body.configuration is None else json.dumps(body.configuration)
    created = await projects.insert(
        pool, new_id(IdPrefix.PROJECT), account, body.name, configuration
    )
    return raw_json(created)


@router.get("", response_model=ListResponse[ProjectEntity], summary="List Projects")
async def list_projects(
    account: AccountDep,
    pool: PoolDep,
    page: Annotated[PageRequest, Depends(paging("created_at", "id", "name"))],
    include_archived: bool = False,
    ids: Ids = None,
    statuses: Annotated[list[ProjectStatus] | None, Query()] = None,
    created_at_start: CreatedStart = None,
    created_at_end: CreatedEnd = None,
    name: Annotated[str | None, Query(max_length=255)] = None,
) -> Response:
    filters = projects.ProjectFilters(
        include_archived=include_archived,
        ids=ids,
        statuses=[s.value for s in statuses] if statuses else None,
        created_at_start=created_at_start,
        created_at_end=created_at_end,
        name=name,
    )
    result, total = await projects.list_page(pool, account, filters, page)
    return raw_list(result, total)


@router.get("/{project_id}", response_model=ProjectEntity, summary="Get Project")
async def get_project(project_id: ProjectId, who: CallerDep, pool: PoolDep) -> Response:
    verdict = await projects.get_for(pool, who.key, project_id)
    return raw_json(admit(verdict, "project", project_id))


@router.put("/{project_id}", response_model=ProjectEntity, summary="Update Project")
async def update_project(
    project_id: ProjectId, body: UpdateProjectRequest, account: AccountDep, pool: PoolDep
) -> Response:
    given = body.model_fields_set
    updated = await projects.update(
        pool,
        project_id,
        account,
        name=body.name,
        configuration_given="configuration" in given,
        configuration=None if body.configuration is None else json.dumps(body.configuration),
        status=body.status.value if body.status else None,
    )
    return found(updated, "project", project_id)
