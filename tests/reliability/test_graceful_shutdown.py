"""A deploy: the worker gets SIGTERM mid-parse. It exits within its graceful shutdown
timeout, a parse that fits in that window finishes there, one that does not is taken over
by the next worker, and neither job fails because of the deploy."""

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from docket.settings import Settings
from tests.documents import make_pdf
from tests.helpers import eventually, get_job, upload
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

GRACE_SECONDS = 3
# Exiting takes a little longer than the grace itself: cancelling what is left, closing
# the pool. The margin is wide because the machine running the suite may be loaded.
EXIT_MARGIN_SECONDS = 10
SMALL_PAGES = 150  # a fraction of a second: done well within the grace
TERMINAL = {"succeeded", "partially_succeeded", "failed", "cancelled"}
SUCCEEDED_HISTORY = ["created", "started", "completed", "succeeded"]


@pytest.fixture(scope="module")
def small_pdf() -> bytes:
    return make_pdf(pages=SMALL_PAGES, lines_per_page=30)


async def test_sigterm_drains_or_hands_over_and_no_job_fails(
    settings: Settings,
    pool: asyncpg.Pool,
    client: Client,
    temporal_env: WorkflowEnvironment,
    big_pdf: bytes,
    small_pdf: bytes,
    tmp_path: Path,
) -> None:
    queue = f"deploy-{uuid.uuid4().hex}"
    tuned = settings.model_copy(update={"task_queue": queue, "heartbeat_timeout_seconds": 2})
    address = temporal_env.client.service_client.config.target_host
    env = worker_env(
        settings, address, queue, DOCKET_WORKER_GRACEFUL_SHUTDOWN_SECONDS=str(GRACE_SECONDS)
    )
    with Workers(env, tmp_path) as workers:
        old = workers.start()
        async with api_client(tuned, pool, client) as api:
            headers, project = await new_tenant(api, pool)
            big = await upload(api, headers, project, "big.pdf", big_pdf, "application/pdf")
            small = await upload(api, headers, project, "small.pdf", small_pdf, "application/pdf")
            await old.wait_ready()
            # The big parse (1,500 pages) outlasts the grace; the small one fits in it.
            long_job = await start_parse(api, headers, project, big["id"])
            short_job = await start_parse(api, headers, project, small["id"])
            jobs = [long_job, short_job]

            async def progress() -> tuple[bool, bool, str]:
                long_flying, short_flying = await asyncio.gather(
                    parse_in_flight(client, long_job), parse_in_flight(client, short_job)
                )
                return long_flying, short_flying, (await statuses(pool, [short_job]))[short_job]

            await eventually(progress, lambda p: p[0] and (p[1] or p[2] == "succeeded"))
            took = await old.terminate(within=GRACE_SECONDS + EXIT_MARGIN_SECONDS)
            assert old.proc.returncode == 0, old.log_tail()  # a clean exit, not a crash
            after_exit = await statuses(pool, jobs)
            # The short parse finished during the grace period, on the old worker.
            assert after_exit[short_job] == "succeeded", (after_exit, old.log_tail())
            # The long one was interrupted, and is not failed (nor cancelled) for it.
            assert after_exit[long_job] == "running", (after_exit, old.log_tail())

            new = workers.start()
            try:
                done = await eventually(
                    lambda: statuses(pool, jobs),
                    lambda s: set(s.values()) <= TERMINAL,
                    within=90,
                )
            except AssertionError as err:
                raise AssertionError(f"{err}\n{workers.logs()}") from None
            assert new.running(), new.log_tail()
            assert done == {long_job: "succeeded", short_job: "succeeded"}, workers.logs()
            for job_id in jobs:
                assert await history(pool, job_id) == SUCCEEDED_HISTORY, job_id
                assert await result_count(pool, job_id) == 1, job_id
                job = await get_job(api, headers, project, job_id)
                assert job["error"] is None
            assert await parse_attempts(client, short_job) == 1  # drained, never retried
            assert await parse_attempts(client, long_job) >= 2  # taken over by the new worker
            assert took < GRACE_SECONDS + EXIT_MARGIN_SECONDS
            closed = await workflows_closed(client, jobs)
            assert set(closed.values()) == {WorkflowExecutionStatus.COMPLETED}, closed
            await new.terminate(within=GRACE_SECONDS + EXIT_MARGIN_SECONDS)
