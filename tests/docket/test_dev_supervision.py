"""Issue 12, fault 8: under a running `docket dev`, the embedded Temporal or Postgres is
SIGKILLed. `docket dev` logs it in one line, restarts it on the same port and data dir, and
keeps the API and the worker up meanwhile (they answer 503 or wait, never 500, and reconnect
by themselves): the parse in flight at the kill and a job created after the restart both
succeed. Before the fix the whole stack exited within seconds.

The first two tests share one stack (a stack costs seconds to start); each kills a
different server, well within the restart limit. The last one sets the limit to 0.
"""

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from tests.docket.devprocess import DevApi, DevProcess, alive, dev_api, exit_times, running_dev
from tests.documents import make_pdf
from tests.helpers import eventually, wait_status
from tests.reliability.processes import parse_in_flight, workflows_closed

pytestmark = pytest.mark.timeout(120)
PAGES = 2000  # several seconds of parsing: still in flight when the server is killed
BACKOFF_SECONDS = 2.0  # DOCKET_DEV_RESTART_BACKOFF_SECONDS: an outage long enough to probe
LIMIT = 3
RESTART_WITHIN = 30.0  # the kill noticed, the back-off, the server's start
JOB_WITHIN = 60.0  # a job finishes after the outage (activity retries back off too)
TERMINAL = {"succeeded", "partially_succeeded", "failed", "cancelled"}
SIGKILLED = -9


@dataclass
class Outage:
    in_flight: str  # the job whose parse was running when the server was killed
    statuses: list[int]  # the API's answers to reads of it until the server was back
    seconds: float  # from the kill to the restart
    children: tuple[int, int]  # the pids of the API and the worker before the kill


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return make_pdf(pages=PAGES, lines_per_page=30)


@pytest.fixture(scope="module")
async def dev(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevProcess]:
    settings = {
        "DOCKET_DEV_RESTART_BACKOFF_SECONDS": str(BACKOFF_SECONDS),
        "DOCKET_DEV_RESTART_LIMIT": str(LIMIT),
        "DOCKET_WORKER_GRACEFUL_SHUTDOWN_SECONDS": "2",
    }
    async with running_dev(tmp_path_factory.mktemp("supervised"), **settings) as running:
        await running.wait_ready()
        yield running


@pytest.fixture
async def api(dev: DevProcess) -> AsyncIterator[DevApi]:
    creds = await dev.wait_ready()
    async with dev_api(creds) as session:
        yield session


async def _status(call: Awaitable[httpx.Response]) -> int:
    try:
        return (await call).status_code
    except httpx.TimeoutException:
        return 0  # a hang: never acceptable below


async def _outage(dev: DevProcess, api: DevApi, pdf: bytes, server: str, name: str) -> Outage:
    """Start a parse; mid-parse, SIGKILL one server; read the job through the API until
    `docket dev` logs the server's restart. Asserts the one-line report and the same port."""
    children = (dev.pid("api"), dev.pid("worker"))
    client = await Client.connect(dev.temporal_address)
    in_flight = await api.parse("in-flight.pdf", pdf)
    await eventually(lambda: parse_in_flight(client, in_flight), bool, within=60)
    old_pid, log_before = dev.pid(server), len(dev.log())
    killed = time.monotonic()
    os.kill(old_pid, signal.SIGKILL)
    seen: list[int] = []

    async def restarted() -> bool:
        path = f"/v1/projects/{api.project}/jobs/{in_flight}"
        seen.append(await _status(api.http.get(path, headers=api.headers)))
        return f"{name} restarted on " in dev.log()[log_before:]

    await eventually(restarted, bool, RESTART_WITHIN)
    log = dev.log()[log_before:]
    assert f"{name} died (exit code {SIGKILLED}); restart attempt 1 of {LIMIT} in" in log, log
    assert f":{dev.ports[server]}" in log.split(f"{name} restarted on ")[1].splitlines()[0], log
    assert dev.pid(server) != old_pid and alive(dev.pid(server))
    return Outage(in_flight, seen, time.monotonic() - killed, children)


async def _after_the_restart(dev: DevProcess, api: DevApi, outage: Outage, pdf: bytes) -> None:
    """The job in flight at the kill and a job created now both succeed, their workflows
    complete, and the API and worker processes are the ones from before (never restarted)."""
    job = outage.in_flight
    done = await wait_status(api.http, api.headers, api.project, job, TERMINAL, JOB_WITHIN)
    assert done["status"] == "succeeded", done
    after = await api.parse("after.pdf", pdf)
    done = await wait_status(api.http, api.headers, api.project, after, TERMINAL, JOB_WITHIN)
    assert done["status"] == "succeeded", done
    client = await Client.connect(dev.temporal_address)
    closed = await workflows_closed(client, [job, after])
    assert set(closed.values()) == {WorkflowExecutionStatus.COMPLETED}, closed
    assert (dev.pid("api"), dev.pid("worker")) == outage.children
    assert dev.proc.poll() is None


async def test_a_killed_temporal_is_restarted_and_running_jobs_finish(
    dev: DevProcess, api: DevApi, pdf: bytes
) -> None:
    outage = await _outage(dev, api, pdf, "temporal", "Temporal dev server")
    assert set(outage.statuses) == {200}, outage  # reads need Postgres only
    await _after_the_restart(dev, api, outage, pdf)


async def test_a_killed_postgres_is_restarted_and_the_api_answers_503_meanwhile(
    dev: DevProcess, api: DevApi, pdf: bytes
) -> None:
    outage = await _outage(dev, api, pdf, "postgres", "Postgres")
    assert 503 in outage.statuses, outage  # told plainly while the database is down
    assert set(outage.statuses) <= {200, 503}, outage  # never a 500, never a hang
    await _after_the_restart(dev, api, outage, pdf)  # the API's pool reconnected


@pytest.mark.slow
async def test_past_its_restart_limit_the_stack_stops_in_order_and_exits_non_zero(
    tmp_path: Path,
) -> None:
    async with running_dev(tmp_path, DOCKET_DEV_RESTART_LIMIT="0") as dev:
        await dev.wait_ready()
        pids = {name: dev.pid(name) for name in ("api", "worker", "postgres")}
        log_before = len(dev.log())
        watching = asyncio.create_task(exit_times(pids, RESTART_WITHIN))
        os.kill(dev.pid("temporal"), signal.SIGKILL)
        assert await dev.wait_exit(RESTART_WITHIN) == 128 + signal.SIGKILL
        gone = await watching
        assert max(gone["api"], gone["worker"]) <= gone["postgres"], gone
        log = dev.log()[log_before:]
        assert "Temporal dev server died (exit code -9); giving up after 0 restart" in log, log
        assert log.index("stopping the API and the worker") < log.index("stopping Postgres")
        await dev.assert_nothing_left()
