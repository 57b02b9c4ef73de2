"""The supervisor `docket dev` runs, on a real Temporal dev server: a SIGKILLed server comes
back on its port and data; one that cannot come back (its database unreadable) is retried with a
doubling back-off up to the limit, and then the supervisor gives up with a non-zero status.
"""

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client

from core.settings import Settings, get_settings
from docket.embedded import TemporalDevServer, find_free_port
from docket.supervise import Supervisor
from tests.helpers import eventually

pytestmark = pytest.mark.timeout(90)
GIVE_UP_WITHIN = 30.0
KILLED_STATUS = 128 + signal.SIGKILL  # what a shell reports for a SIGKILLed process


def _settings(limit: int) -> Settings:
    return get_settings(
        dev_restart_limit=limit,
        dev_restart_backoff_seconds=0.2,
        dev_restart_backoff_max_seconds=0.3,
        dev_restart_stable_seconds=600,
    )


@pytest.fixture
def temporal(server_tmp: Path) -> Iterator[TemporalDevServer]:
    server = TemporalDevServer(server_tmp / "temporal", find_free_port(0), 0, headless=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _supervise(supervisor: Supervisor, until: Callable[[], bool]) -> int | None:
    """Run the supervisor's rounds until it gives up (its status) or `until()` (None)."""

    async def probe() -> int | None:
        return supervisor.check()

    return await eventually(probe, lambda status: status is not None or until(), GIVE_UP_WITHIN)


async def _dead(server: TemporalDevServer) -> bool:
    return server.poll() is not None


async def test_a_killed_server_comes_back_on_its_port_with_its_data(
    temporal: TemporalDevServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = await Client.connect(temporal.address)
    handle = await client.start_workflow("NoSuchWorkflow", id="kept", task_queue="nobody")
    supervisor = Supervisor(_settings(limit=1), lambda: False)
    supervisor.watch(temporal)
    port, killed = temporal.port, temporal.pid
    assert killed is not None
    os.kill(killed, signal.SIGKILL)

    status = await _supervise(supervisor, lambda: temporal.pid not in (None, killed))
    assert status is None
    assert temporal.port == port and temporal.poll() is None
    assert "Temporal dev server died (exit code -9); restart attempt 1 of 1 in 0.2s" in caplog.text
    # Same data: the workflow started before the kill is still there.
    again = await Client.connect(temporal.address)
    assert (await again.get_workflow_handle(handle.id).describe()).id == "kept"


async def test_a_server_that_cannot_come_back_is_given_up_after_the_limit(
    temporal: TemporalDevServer, caplog: pytest.LogCaptureFixture
) -> None:
    supervisor = Supervisor(_settings(limit=2), lambda: False)
    supervisor.watch(temporal)
    assert temporal.pid is not None
    os.kill(temporal.pid, signal.SIGKILL)
    await eventually(lambda: _dead(temporal), bool, within=10)
    # Its database cannot be opened any more (a directory in its place): every restart fails.
    temporal.db_path.unlink()
    temporal.db_path.mkdir()
    status = await _supervise(supervisor, lambda: False)
    assert status == KILLED_STATUS
    lines = [r.getMessage() for r in caplog.records if r.name == "docket.supervise"]
    assert lines[0] == "Temporal dev server died (exit code -9); restart attempt 1 of 2 in 0.2s"
    assert "failed to restart" in lines[1] and "restart attempt 2 of 2 in 0.3s" in lines[1]
    assert "failed to restart" in lines[2] and "giving up after 2 restart attempts" in lines[2]
    assert len(lines) == 3, lines
