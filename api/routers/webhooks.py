"""Webhooks: register an endpoint for a project's job events, list, delete, and list its
deliveries with every attempt (README "Webhooks")."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from api.auth import CallerDep, admit
from api.deps import PoolDep, SettingsDep
from api.guards import GateDep, Project, project_of_caller
from api.params import ProjectId, paging
from api.responses import COMMON_ERRORS, invalid, not_found, raw_json, raw_list
from api.schemas import ListResponse
from api.webhook_schemas import (
    CreatedWebhook,
    CreateWebhookRequest,
    DeletedWebhook,
    WebhookDelivery,
    WebhookEntity,
)
from core.ids import IdPrefix, new_id
from core.webhooks import RefusedTarget, check_target, new_secret
from db import webhooks
from db.pagination import PageRequest

router = APIRouter(
    prefix="/v1/projects/{project_id}/webhooks", tags=["Webhooks"], responses=COMMON_ERRORS
)

MAX_ID_LENGTH = 64
WebhookId = Annotated[str, Path(max_length=MAX_ID_LENGTH, title="Webhook Id")]
Paging = Annotated[PageRequest, Depends(paging("created_at", "id"))]


@router.post("", response_model=CreatedWebhook, summary="Create Webhook")
async def create_webhook(
    project: Annotated[Project, Depends(project_of_caller)],
    body: CreateWebhookRequest,
    pool: PoolDep,
    settings: SettingsDep,
) -> Response:
    """The secret (given, or generated) is in this response only. An archived project may
    have webhooks too (its running jobs still end)."""
    try:
        await check_target(body.url, settings.webhooks_allow_private)
    except RefusedTarget as err:
        raise invalid(("body", "url"), str(err), body.url) from err
    hook = webhooks.NewWebhook(
        new_id(IdPrefix.WEBHOOK),
        project.id,
        body.url,
        [event.value for event in body.events],
        body.secret or new_secret(),
    )
    return raw_json(await webhooks.insert(pool, hook))


@router.get("", response_model=ListResponse[WebhookEntity], summary="List Webhooks")
async def list_webhooks(gate: GateDep, pool: PoolDep, page: Paging) -> Response:
    result, total = await webhooks.list_page(pool, gate.project_id, page, gate)
    return raw_list(result, total)


@router.get("/{webhook_id}", response_model=WebhookEntity, summary="Get Webhook")
async def get_webhook(
    project_id: ProjectId, webhook_id: WebhookId, who: CallerDep, pool: PoolDep
) -> Response:
    verdict = await webhooks.get_for(pool, who.key, webhook_id, project_id)
    return raw_json(admit(verdict, "webhook", webhook_id, project_id))


@router.delete("/{webhook_id}", response_model=DeletedWebhook, summary="Delete Webhook")
async def delete_webhook(
    project_id: ProjectId, webhook_id: WebhookId, who: CallerDep, pool: PoolDep
) -> DeletedWebhook:
    """Nothing more is sent to it (deliveries under way stop at their next attempt)."""
    admit(await webhooks.get_for(pool, who.key, webhook_id, project_id), "webhook", webhook_id)
    if not await webhooks.delete(pool, webhook_id, project_id):
        raise not_found("webhook", webhook_id)
    return DeletedWebhook(id=webhook_id)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=ListResponse[WebhookDelivery],
    summary="List Webhook Deliveries",
)
async def list_deliveries(
    project_id: ProjectId, webhook_id: WebhookId, who: CallerDep, pool: PoolDep, page: Paging
) -> Response:
    """Every delivery to this endpoint, each with all its attempts."""
    admit(await webhooks.get_for(pool, who.key, webhook_id, project_id), "webhook", webhook_id)
    result, total = await webhooks.deliveries_page(pool, webhook_id, page)
    return raw_list(result, total)
