"""Wire models of the webhook endpoints (README "Webhooks")."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from api.schemas import RequestModel
from core.webhooks import SECRET_PREFIX, WebhookEvent, secret_key

MAX_URL_LENGTH = 2048  # what browsers and proxies reliably pass
# A caller's own secret: Standard Webhooks asks for 24 to 64 bytes of key.
MIN_KEY_BYTES, MAX_KEY_BYTES = 24, 64


class CreateWebhookRequest(RequestModel):
    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH)
    events: list[WebhookEvent] = Field(min_length=1, description="Job events to deliver")
    secret: str | None = Field(
        default=None, description="`whsec_` + base64 of 24-64 bytes; generated if not given"
    )

    @field_validator("events")
    @classmethod
    def unique_events(cls, events: list[WebhookEvent]) -> list[WebhookEvent]:
        return sorted(set(events))

    @field_validator("secret")
    @classmethod
    def standard_secret(cls, secret: str | None) -> str | None:
        if secret is None:
            return None
        try:
            key = secret_key(secret) if secret.startswith(SECRET_PREFIX) else b""
        except ValueError:
            key = b""
        if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
            raise ValueError(
                f"a secret is {SECRET_PREFIX} + base64 of {MIN_KEY_BYTES}-{MAX_KEY_BYTES} bytes"
            )
        return secret


class WebhookEntity(BaseModel):
    id: str
    object: Literal["webhook"] = "webhook"
    project_id: str
    url: str
    events: list[str]
    created_at: datetime


class CreatedWebhook(WebhookEntity):
    secret: str = Field(description="Shown only in this response: keep it to verify signatures")


class DeliveryAttempt(BaseModel):
    attempt: int
    started_at: datetime
    duration_ms: int | None = Field(default=None, description="None: cut short (worker died)")
    status_code: int | None = None
    error: str | None = None


class WebhookDelivery(BaseModel):
    id: str = Field(description="Also the `webhook-id` header of every attempt")
    object: Literal["webhook_delivery"] = "webhook_delivery"
    webhook_id: str
    job_id: str
    event: str
    status: Literal["pending", "succeeded", "failed"]
    created_at: datetime
    completed_at: datetime | None = None
    attempts: list[DeliveryAttempt]


class DeletedWebhook(BaseModel):
    id: str
    object: Literal["webhook"] = "webhook"
    deleted: bool = True
