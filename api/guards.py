"""Checks that several routers share: the project must exist in the caller's account."""

from fastapi import HTTPException, status

from api.responses import not_found
from db import projects
from db.pool import Conn
from docket.enums import ProjectStatus


async def require_project(pool: Conn, project_id: str, account_id: str) -> ProjectStatus:
    found = await projects.status_of(pool, project_id, account_id)
    if found is None:
        raise not_found("project", project_id)
    return ProjectStatus(found)


async def require_active_project(pool: Conn, project_id: str, account_id: str) -> None:
    if await require_project(pool, project_id, account_id) is ProjectStatus.ARCHIVED:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"project {project_id} is archived; set its status to active to add work to it",
        )
