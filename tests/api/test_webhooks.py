"""Webhooks against real Postgres and Temporal, delivered to a real local HTTP receiver
(registration and its checks: test_webhooks_api.py): the outbox of every terminal path,
signatures verified with an independent implementation (the `standardwebhooks` package),
retries with backoff, final failures, a missed notification, and every attempt listed."""

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from standardwebhooks.webhooks import Webhook
from temporalio.client import Client

from activities.webhooks import WebhookActivities
from api.app import create_app
from api.deps import AppState
from core.contracts import attempts_within
from core.enums import JobStatus
from core.settings import Settings
from core.storage import FileStorage
from db import convergence
from db.transitions import Transition, transition
from docket.reconciler import WebhookDispatcher
from docket.worker import build_worker
from tests.api.live_server import Answer, Receiver, serve
from tests.api.test_events import new_job
from tests.helpers import eventually

DAY = 24 * 3600.0
EVERY_EVENT = ["job.succeeded", "job.failed", "job.cancelled", "job.partially_succeeded"]


@dataclass
class Hooks:
    api: httpx.AsyncClient
    settings: Settings
    client: Client
    dispatcher: WebhookDispatcher | None


@pytest.fixture(scope="module")
async def hooks(settings: Settings, pool: asyncpg.Pool, client: Client) -> AsyncIterator[Hooks]:
    """An API that accepts local receivers, and a worker with the dispatcher on its own
    task queue, with a short retry schedule (7 attempts over about a second)."""
    tuned = settings.model_copy(
        update={
            "task_queue": f"webhooks-{uuid.uuid4().hex}",
            "webhooks_allow_private": True,
            "webhook_timeout_seconds": 1.0,
            "webhook_retry_first_seconds": 0.1,
            "webhook_retry_longest_seconds": 0.2,
            "webhook_retry_window_seconds": 1.0,
            "webhook_sweep_seconds": 0.5,
        }
    )
    worker = build_worker(client, tuned, WebhookActivities(pool, tuned).all())
    dispatcher = WebhookDispatcher(pool, client, tuned)
    async with worker:
        dispatching = asyncio.create_task(dispatcher.run())
        app = create_app(tuned, AppState(tuned, pool, client, FileStorage(tuned.storage_dir)))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://docket.test") as api:
            yield Hooks(api, tuned, client, dispatcher)
        dispatching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await dispatching


@contextlib.asynccontextmanager
async def receiving(script: list[Answer] | None = None) -> AsyncIterator[tuple[Receiver, str]]:
    receiver = Receiver(script)
    async with serve(receiver, lifespan="off") as url:
        try:
            yield receiver, url
        finally:
            receiver.release.set()


async def new_project(hooks: Hooks, headers: dict[str, str]) -> str:
    made = await hooks.api.post("/v1/projects", json={"name": "hooks"}, headers=headers)
    assert made.status_code == 200, made.text
    project: str = made.json()["id"]
    return project


async def register(
    hooks: Hooks, headers: dict[str, str], project: str, url: str, **more: Any
) -> dict[str, Any]:
    body = {"url": url, "events": EVERY_EVENT, **more}
    made = await hooks.api.post(f"/v1/projects/{project}/webhooks", json=body, headers=headers)
    assert made.status_code == 200, made.text
    created: dict[str, Any] = made.json()
    return created


async def deliveries(
    hooks: Hooks, headers: dict[str, str], project: str, webhook_id: str
) -> list[dict[str, Any]]:
    url = f"/v1/projects/{project}/webhooks/{webhook_id}/deliveries"
    listed = await hooks.api.get(url, headers=headers)
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


async def ended(
    hooks: Hooks, headers: dict[str, str], project: str, webhook_id: str
) -> dict[str, Any]:
    """The (single) delivery of the endpoint, once it is no longer pending."""
    [delivery] = await eventually(
        lambda: deliveries(hooks, headers, project, webhook_id),
        lambda found: len(found) == 1 and found[0]["status"] != "pending",
    )
    result = await hooks.client.get_workflow_handle(delivery["id"]).result()
    assert result == delivery["status"]
    return delivery


async def finished_job(pool: asyncpg.Pool, project: str, to: JobStatus) -> str:
    job_id = await new_job(pool, project)
    await transition(pool, job_id, Transition(JobStatus.RUNNING))
    assert await transition(pool, job_id, Transition(to, error="x" if to == "failed" else None))
    return job_id


async def test_every_terminal_path_delivers_a_signed_job_verified_independently(
    hooks: Hooks, headers: dict[str, str], pool: asyncpg.Pool
) -> None:
    project = await new_project(hooks, headers)
    async with receiving() as (receiver, url):
        hook = await register(hooks, headers, project, f"{url}/hook")
        # The worker's path (a transition statement) ...
        job_id = await finished_job(pool, project, JobStatus.SUCCEEDED)
        delivery = await ended(hooks, headers, project, hook["id"])
        # ... and the API's one-statement cancel of a pending job.
        pending = await new_job(pool, project)
        cancel = f"/v1/projects/{project}/jobs/{pending}/cancel"
        assert (await hooks.api.post(cancel, headers=headers)).status_code == 200
        # ... and the convergence loop's settlement of a job whose workflow was lost.
        lost = await new_job(pool, project)
        assert await convergence.settle(pool, lost, False, None, "its workflow was lost")
        every = await eventually(
            lambda: deliveries(hooks, headers, project, hook["id"]),
            lambda found: len(found) == 3 and all(d["status"] == "succeeded" for d in found),
        )
    assert delivery["status"] == "succeeded" and delivery["job_id"] == job_id
    assert delivery["event"] == "job.succeeded"
    [attempt] = delivery["attempts"]
    assert attempt["attempt"] == 1 and attempt["status_code"] == 200
    assert {(d["job_id"], d["event"]) for d in every} == {
        (job_id, "job.succeeded"),
        (pending, "job.cancelled"),
        (lost, "job.failed"),
    }
    assert len(receiver.received) == 3
    first = receiver.received[0]
    assert first.headers["webhook-id"] == delivery["id"]
    payload = Webhook(hook["secret"]).verify(first.body, first.headers)
    job = (await hooks.api.get(f"/v1/projects/{project}/jobs/{job_id}", headers=headers)).json()
    assert payload == job == json.loads(first.body)
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 32).verify(first.body, first.headers)


async def test_a_receiver_failing_three_times_then_succeeding(
    hooks: Hooks, headers: dict[str, str], pool: asyncpg.Pool
) -> None:
    project = await new_project(hooks, headers)
    # A 500, a 429, a timeout (held past the 1 s attempt timeout), then 200.
    async with receiving([500, 429, None]) as (receiver, url):
        hook = await register(hooks, headers, project, url, events=["job.failed"])
        await finished_job(pool, project, JobStatus.SUCCEEDED)  # not subscribed
        await finished_job(pool, project, JobStatus.FAILED)
        delivery = await ended(hooks, headers, project, hook["id"])
    assert delivery["status"] == "succeeded" and delivery["event"] == "job.failed"
    codes = [(a["attempt"], a["status_code"]) for a in delivery["attempts"]]
    assert codes == [(1, 500), (2, 429), (3, None), (4, 200)]
    assert "Timeout" in delivery["attempts"][2]["error"]
    assert {r.headers["webhook-id"] for r in receiver.received} == {delivery["id"]}
    assert len(receiver.received) == 4
    for request in receiver.received:
        Webhook(hook["secret"]).verify(request.body, request.headers)


@pytest.mark.parametrize("code", [400, 404, 410, 302])
async def test_a_4xx_or_a_redirect_ends_the_delivery_failed(
    hooks: Hooks, headers: dict[str, str], pool: asyncpg.Pool, code: int
) -> None:
    project = await new_project(hooks, headers)
    async with receiving([code]) as (receiver, url):
        hook = await register(hooks, headers, project, f"{url}/hook")
        await finished_job(pool, project, JobStatus.CANCELLED)
        delivery = await ended(hooks, headers, project, hook["id"])
    assert delivery["status"] == "failed"
    assert [a["status_code"] for a in delivery["attempts"]] == [code]
    assert [r.path for r in receiver.received] == ["/hook"]  # the redirect was not followed


async def test_retries_are_bounded_then_the_delivery_fails(
    hooks: Hooks, headers: dict[str, str], pool: asyncpg.Pool
) -> None:
    project = await new_project(hooks, headers)
    s = hooks.settings
    bound = attempts_within(
        s.webhook_retry_first_seconds,
        s.webhook_retry_longest_seconds,
        s.webhook_retry_window_seconds,
    )
    async with receiving([503] * bound) as (receiver, url):
        hook = await register(hooks, headers, project, url)
        await finished_job(pool, project, JobStatus.SUCCEEDED)
        delivery = await ended(hooks, headers, project, hook["id"])
    assert delivery["status"] == "failed"
    assert [a["status_code"] for a in delivery["attempts"]] == [503] * bound
    assert len(receiver.received) == bound


def test_the_default_schedule_retries_for_a_day() -> None:
    fields = Settings.model_fields
    first = fields["webhook_retry_first_seconds"].default
    longest = fields["webhook_retry_longest_seconds"].default
    attempts = attempts_within(first, longest, fields["webhook_retry_window_seconds"].default)
    waits = [min(first * 2**n, longest) for n in range(attempts - 1)]
    assert sum(waits) >= DAY > sum(waits[:-1])
    assert 20 < attempts < 50


async def test_a_delivery_whose_notification_was_missed_is_swept_up(
    hooks: Hooks, headers: dict[str, str], pool: asyncpg.Pool
) -> None:
    project = await new_project(hooks, headers)
    async with receiving() as (receiver, url):
        hook = await register(hooks, headers, project, url)
        assert hooks.dispatcher is not None
        listener = hooks.dispatcher.listener
        before, pid = listener.connects, listener.server_pid()
        assert pid is not None
        assert await pool.fetchval("SELECT pg_terminate_backend($1)", pid)
        await eventually(lambda: asyncio.sleep(0, listener.connected.is_set()), lambda up: not up)
        job_id = await finished_job(pool, project, JobStatus.SUCCEEDED)
        assert listener.connects == before  # its NOTIFY went to nobody
        delivery = await ended(hooks, headers, project, hook["id"])
    assert delivery["status"] == "succeeded" and delivery["job_id"] == job_id
    assert len(receiver.received) == 1
