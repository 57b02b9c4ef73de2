"""A worker process SIGKILLed in the middle of a webhook delivery (its POST is in flight at
the receiver): the delivery is not lost — Temporal runs the attempt again on another worker
once the dead one's attempt times out — and the receiver sees the same `webhook-id` twice,
so it can de-duplicate."""

import uuid
from pathlib import Path

import asyncpg
import pytest
from standardwebhooks.webhooks import Webhook
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.enums import JobStatus
from core.settings import Settings
from db.transitions import Transition, transition
from tests.api.live_server import Receiver, serve
from tests.api.test_events import new_job
from tests.helpers import eventually
from tests.reliability.processes import Workers, api_client, new_tenant, worker_env

ATTEMPT_TIMEOUT = "1"  # seconds: the dead worker's attempt is retried soon after


@pytest.mark.slow  # kills and restarts worker processes: ~40 s on a loaded machine
async def test_a_worker_killed_mid_delivery_loses_nothing(
    settings: Settings,
    pool: asyncpg.Pool,
    client: Client,
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
) -> None:
    queue = f"webhook-crash-{uuid.uuid4().hex}"
    tuned = settings.model_copy(update={"task_queue": queue, "webhooks_allow_private": True})
    address = temporal_env.client.service_client.config.target_host
    env = worker_env(
        settings,
        address,
        queue,
        DOCKET_WEBHOOKS_ALLOW_PRIVATE="true",
        DOCKET_WEBHOOK_TIMEOUT_SECONDS=ATTEMPT_TIMEOUT,
        DOCKET_WEBHOOK_RETRY_FIRST_SECONDS="0.1",
        DOCKET_WEBHOOK_SWEEP_SECONDS="0.5",
    )
    receiver = Receiver([None])  # the first request is held: the worker dies meanwhile
    with Workers(env, tmp_path) as workers:
        doomed = workers.start()
        async with serve(receiver, lifespan="off") as url, api_client(tuned, pool, client) as api:
            headers, project = await new_tenant(api, pool)
            base = f"/v1/projects/{project}/webhooks"
            made = await api.post(
                base, json={"url": url, "events": ["job.succeeded"]}, headers=headers
            )
            assert made.status_code == 200, made.text
            hook = made.json()
            await doomed.wait_ready()
            job_id = await new_job(pool, project)
            await transition(pool, job_id, Transition(JobStatus.RUNNING))
            await transition(pool, job_id, Transition(JobStatus.SUCCEEDED))

            async def arrived() -> int:
                return len(receiver.received)

            await eventually(arrived, lambda n: n == 1, within=60)
            doomed.kill()
            survivor = workers.start()
            await survivor.wait_ready()

            async def listed() -> list[dict[str, object]]:
                response = await api.get(f"{base}/{hook['id']}/deliveries", headers=headers)
                assert response.status_code == 200, response.text
                items: list[dict[str, object]] = response.json()["items"]
                return items

            [delivery] = await eventually(
                listed, lambda found: [d["status"] for d in found] == ["succeeded"], within=60
            )
            receiver.release.set()
    assert len(receiver.received) == 2, workers.logs()
    assert {r.headers["webhook-id"] for r in receiver.received} == {delivery["id"]}
    for request in receiver.received:
        assert Webhook(hook["secret"]).verify(request.body, request.headers)["id"] == job_id
    attempts = delivery["attempts"]
    assert isinstance(attempts, list)
    # The first attempt was cut short by the crash (no outcome), the second delivered.
    assert [(a["attempt"], a["status_code"], a["duration_ms"] is None) for a in attempts] == [
        (1, None, True),
        (2, 200, False),
    ]
