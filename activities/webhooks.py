"""Webhook delivery: one attempt per activity run, each recorded in Postgres.

The attempt POSTs the job (as GET /jobs/{id} shows it) to the endpoint, signed with the
Standard Webhooks scheme (core/webhooks.py); the `webhook-id` is the delivery id on every
attempt, so a receiver can de-duplicate. A 2xx ends the delivery `succeeded`; a 3xx (never
followed) or a 4xx other than 429 ends it `failed`; a timeout, a connection error, a 5xx or a
429 raises, and Temporal retries with backoff (workflows/webhook.py). A worker that dies
mid-attempt is covered the same way: the attempt times out and runs again elsewhere.
"""

import json
import logging
import ssl
import time
from typing import Any

import asyncpg
import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.contracts import WebhookDeliveryInput
from core.settings import Settings
from core.webhooks import DeliveryStatus, RefusedTarget, check_target, headers
from db import webhooks
from db.webhooks import Attempt

log = logging.getLogger(__name__)

MS_PER_SECOND = 1000
RETRIED_4XX = 429  # Too Many Requests: the one client error worth retrying
OK, REDIRECT, SERVER_ERROR = 200, 300, 500


def final(code: int) -> str | None:
    """The delivery's end for an answer, or None if it is retried."""
    if OK <= code < REDIRECT:
        return DeliveryStatus.SUCCEEDED
    if code < SERVER_ERROR and code != RETRIED_4XX:
        return DeliveryStatus.FAILED
    return None


class WebhookActivities:
    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool, self.settings = pool, settings
        self._tls: ssl.SSLContext | None = None

    def http(self) -> httpx.AsyncClient:
        """A client for one attempt (closed with it: no connection outlives an attempt);
        the TLS context, costly to build, is built once. Redirects are never followed."""
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return httpx.AsyncClient(follow_redirects=False, verify=self._tls)

    async def _end(self, delivery_id: str, status: str) -> str:
        await webhooks.settle(self.pool, delivery_id, status)
        return status

    @activity.defn(name="deliver_webhook")
    async def deliver(self, inp: WebhookDeliveryInput) -> str:
        """One attempt; returns how the delivery ended, raises to be retried."""
        sending = await webhooks.to_send(self.pool, inp.delivery_id)
        if sending is None or sending.status != DeliveryStatus.PENDING:
            return sending.status if sending else DeliveryStatus.FAILED
        attempt = activity.info().attempt
        await webhooks.start_attempt(self.pool, inp.delivery_id, attempt)
        began = time.monotonic()
        code: int | None = None
        error: str | None = None
        refused = False
        try:
            if sending.deleted:
                raise RefusedTarget("the webhook was deleted")
            await check_target(sending.url, self.settings.webhooks_allow_private)
            body = json.dumps(json.loads(sending.job), separators=(",", ":")).encode()
            signed = headers(sending.secret, inp.delivery_id, int(time.time()), body)
            async with self.http() as http:
                response = await http.post(
                    sending.url, content=body, headers=signed, timeout=inp.attempt_timeout_seconds
                )
            code = response.status_code
        except RefusedTarget as err:
            error, refused = str(err), True
        except httpx.HTTPError as err:
            error = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        took = round((time.monotonic() - began) * MS_PER_SECOND)
        await webhooks.finish_attempt(
            self.pool, Attempt(inp.delivery_id, attempt, took, code, error)
        )
        ended = DeliveryStatus.FAILED if refused else final(code) if code is not None else None
        if ended is not None:
            return await self._end(inp.delivery_id, ended)
        raise ApplicationError(f"webhook attempt {attempt} failed: {error or f'HTTP {code}'}")

    @activity.defn(name="fail_webhook")
    async def fail(self, delivery_id: str) -> bool:
        """Retries exhausted: the delivery ends `failed`."""
        return await webhooks.settle(self.pool, delivery_id, DeliveryStatus.FAILED)

    def all(self) -> list[Any]:
        return [self.deliver, self.fail]
