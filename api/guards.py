"""The project of a project-scoped route. The caller's key and the project are checked by
the route's first statement: alone (`ActiveProjectDep`), or inside the count of a list page
(`GateDep`)."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, status

from api.auth import CallerDep, refuse_caller
from api.deps import PoolDep
from api.params import ProjectId
from core.enums import ProjectStatus
from db.accounts import ProjectGate, Verdict


@dataclass(frozen=True)
class Project:
    id: str
    account_id: str
    status: ProjectStatus


async def project_gate(project_id: ProjectId, who: CallerDep) -> ProjectGate:
    """401/403 for the key, 404 if the project is not in the caller's account."""

    def admit_project(verdict: Verdict) -> Project:
        refuse_caller(verdict, project_id)
        assert verdict.project_status is not None  # the project is in the account
        return Project(project_id, who.account_id, ProjectStatus(verdict.project_status))

    return ProjectGate(who.key, project_id, admit_project)


GateDep = Annotated[ProjectGate, Depends(project_gate)]


async def project_of_caller(gate: GateDep, pool: PoolDep) -> Project:
    project: Project = await gate.check(pool)
    return project


async def active_project(project: Annotated[Project, Depends(project_of_caller)]) -> Project:
    """The project, which must accept new work (409 when archived)."""
    if project.status is ProjectStatus.ARCHIVED:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"project {project.id} is archived; set its status to active to add work to it",
        )
    return project


ActiveProjectDep = Annotated[Project, Depends(active_project)]
