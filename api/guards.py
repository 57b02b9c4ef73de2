"""The project of a project-scoped route: the caller's key and the project are checked in
one statement, and the route receives the verified account with the project's status."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, status

from api.auth import CallerDep
from api.deps import PoolDep
from api.params import ProjectId
from api.responses import not_found
from db.accounts import key_and_project
from docket.enums import ProjectStatus


@dataclass(frozen=True)
class Project:
    id: str
    account_id: str
    status: ProjectStatus


async def project_of_caller(project_id: ProjectId, who: CallerDep, pool: PoolDep) -> Project:
    """401/403 for the key, 404 if the project is not in the caller's account."""
    found = who.verified(await key_and_project(pool, who.key_hash, project_id))
    if found is None:
        raise not_found("project", project_id)
    return Project(project_id, who.account_id, ProjectStatus(found))


async def active_project(project: Annotated[Project, Depends(project_of_caller)]) -> Project:
    """The project, which must accept new work (409 when archived)."""
    if project.status is ProjectStatus.ARCHIVED:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"project {project.id} is archived; set its status to active to add work to it",
        )
    return project


ProjectDep = Annotated[Project, Depends(project_of_caller)]
ActiveProjectDep = Annotated[Project, Depends(active_project)]
