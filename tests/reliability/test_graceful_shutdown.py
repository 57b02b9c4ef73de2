"""A deploy: the worker gets SIGTERM mid-parse and exits within its graceful shutdown
timeout. A parse that fits in that window finishes there, on the old worker; one that does
not is handed over to the next worker. Either way the job succeeds once and never fails
because of the deploy.

Parse times scale with the machine, so each case sets the grace far from its document's
parse time: a short parse and a long grace, or a very long parse and a short grace.
"""

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from docket.devstack import api_healthy
from docket.embedded import find_free_port
from tests.documents import make_pdf
from tests.helpers import eventually, upload
from tests.reliability.processes import (
    Workers,
    api_client,
    history,
    new_tenant,
    parse_attempts,
    parse_in_flight,
    result_count,
    start_parse,
    statuses,
    worker_env,
    workflows_closed,
)

# Exiting takes a little longer than the grace itself (cancelling what is left, closing the
# pool); the margin is wide because the machine running the suite may be loaded.
EXIT_MARGIN_SECONDS = 10
# Well under a second of parsing, and a grace many times that: on a 2-core machine loaded
# by other work (a CI run beside benchmarks) the same parse was seen to take over 5 s.
SHORT_PAGES, LONG_GRACE = 200, 20
LONG_PAGES, SHORT_GRACE = 4000, 1  # several seconds of parsing; 1 s is not enough
TERMINAL = {"succeeded", "partially_succeeded", "failed", "cancelled"}
SUCCEEDED_HISTORY = ["created", "started", "completed", "succeeded"]
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def short_pdf() -> bytes:
    return make_pdf(pages=SHORT_PAGES, lines_per_page=30)


@pytest.fixture(scope="module")
def long_pdf() -> bytes:
    return make_pdf(pages=LONG_PAGES, lines_per_page=30)  # ~2.7 MB


@dataclass
class Deploy:
    """Worker processes on a fresh task queue, and the API that starts jobs on it."""

    workers: Workers
    api: httpx.AsyncClient
    headers: dict[str, str]
    project: str
    pool: asyncpg.Pool
    client: Client

    async def parse(self, name: str, content: bytes) -> str:
        file = await upload(self.api, self.headers, self.project, name, content, "application/pdf")
        return await start_parse(self.api, self.headers, self.project, file["id"])

    async def wait_terminal(self, job_id: str) -> str:
        try:
            done = await eventually(
                lambda: statuses(self.pool, [job_id]),
                lambda s: s[job_id] in TERMINAL,
                within=90,
            )
        except AssertionError as err:
            raise AssertionError(f"{err}\n{self.workers.logs()}") from None
        return done[job_id]

    async def check_succeeded_once(self, job_id: str) -> None:
        assert await history(self.pool, job_id) == SUCCEEDED_HISTORY, job_id
        assert await result_count(self.pool, job_id) == 1
        closed = await workflows_closed(self.client, [job_id])
        assert closed == {job_id: WorkflowExecutionStatus.COMPLETED}


@pytest.fixture
async def deploy(
    settings: Settings,
    pool: asyncpg.Pool,
    client: Client,
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
) -> AsyncIterator[Deploy]:
    queue = f"deploy-{uuid.uuid4().hex}"
    tuned = settings.model_copy(
        update={"task_queue": queue, "heartbeat_timeout_seconds": 2, "max_upload_bytes": 8 * MIB}
    )
    address = temporal_env.client.service_client.config.target_host
    with Workers(worker_env(settings, address, queue), tmp_path) as workers:
        async with api_client(tuned, pool, client) as api:
            headers, project = await new_tenant(api, pool)
            yield Deploy(workers, api, headers, project, pool, client)


# A hangup (a closed terminal, an ssh session dropped) drains like a deploy's SIGTERM.
# SIGHUP drains exactly like SIGTERM (one handler): only SIGTERM runs in the default suite.
@pytest.mark.parametrize(
    "sig",
    [signal.SIGTERM, pytest.param(signal.SIGHUP, marks=pytest.mark.slow)],
    ids=lambda sig: sig.name,
)
async def test_sigterm_lets_an_in_flight_parse_finish_within_the_grace(
    deploy: Deploy, short_pdf: bytes, sig: signal.Signals
) -> None:
    old = deploy.workers.start(DOCKET_WORKER_GRACEFUL_SHUTDOWN_SECONDS=str(LONG_GRACE))
    await old.wait_ready()
    job_id = await deploy.parse("short.pdf", short_pdf)
    # Mid-document: SIGTERM now.
    await eventually(lambda: parse_in_flight(deploy.client, job_id), bool, within=60)

    took = await old.terminate(within=LONG_GRACE + EXIT_MARGIN_SECONDS, sig=sig)
    assert old.proc.returncode == 0, old.log_tail()  # a clean exit, not a crash
    # Finished during the grace, on the old worker: no other worker exists yet.
    assert (await statuses(deploy.pool, [job_id]))[job_id] == "succeeded", old.log_tail()
    assert took < LONG_GRACE  # it left as soon as its work was done, not at the deadline

    new = deploy.workers.start()  # closes the workflow (its last task was left to it)
    await deploy.check_succeeded_once(job_id)
    assert await parse_attempts(deploy.client, job_id) == 1  # drained, never retried
    await new.terminate(within=LONG_GRACE + EXIT_MARGIN_SECONDS)


@pytest.mark.slow  # two worker processes in turn: ~25 s
async def test_sigterm_hands_a_parse_longer_than_the_grace_to_the_next_worker(
    deploy: Deploy, long_pdf: bytes
) -> None:
    old = deploy.workers.start(DOCKET_WORKER_GRACEFUL_SHUTDOWN_SECONDS=str(SHORT_GRACE))
    await old.wait_ready()
    job_id = await deploy.parse("long.pdf", long_pdf)
    await eventually(lambda: parse_in_flight(deploy.client, job_id), bool, within=60)

    took = await old.terminate(within=SHORT_GRACE + EXIT_MARGIN_SECONDS)
    assert old.proc.returncode == 0, old.log_tail()
    assert took < SHORT_GRACE + EXIT_MARGIN_SECONDS
    # Interrupted, and neither failed nor cancelled for it: it waits for a worker.
    assert (await statuses(deploy.pool, [job_id]))[job_id] == "running", old.log_tail()

    new = deploy.workers.start()
    assert await deploy.wait_terminal(job_id) == "succeeded", deploy.workers.logs()
    await deploy.check_succeeded_once(job_id)
    # The old worker gave the attempt up as a retryable failure, and the new one retried it.
    assert await parse_attempts(deploy.client, job_id) == 2
    assert await first_parse_failure(deploy.client, job_id) == "WorkerShutdown"
    await new.terminate(within=SHORT_GRACE + EXIT_MARGIN_SECONDS)


async def first_parse_failure(client: Client, job_id: str) -> str:
    """The type of the failure that ended the parse activity's previous attempt."""
    async for event in client.get_workflow_handle(job_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            failure = event.activity_task_started_event_attributes.last_failure
            return failure.application_failure_info.type
    raise AssertionError(f"no parse_document attempt in {job_id}")


async def test_sighup_shuts_the_api_down_gracefully_like_sigterm(
    settings: Settings, temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    port = find_free_port(0)
    address = temporal_env.client.service_client.config.target_host
    env = worker_env(settings, address, f"api-{uuid.uuid4().hex}")
    env.update({"DOCKET_API_PORT": str(port), "DOCKET_SECRET_KEY": "test-secret"})
    with Workers(env, tmp_path) as processes:
        api = processes.start("api")
        url = f"http://127.0.0.1:{port}"
        await eventually(lambda: asyncio.to_thread(api_healthy, url), bool, within=60)

        await api.terminate(within=LONG_GRACE + EXIT_MARGIN_SECONDS, sig=signal.SIGHUP)
        # Drained and closed (uvicorn's shutdown, the app's lifespan), then a clean exit;
        # a hangup's default action would have killed it on the spot (exit code -1).
        assert api.proc.returncode == 0, api.log_tail()
        assert "Application shutdown complete." in api.log_tail(), api.log_tail()
