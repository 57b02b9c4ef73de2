"""Issue 12, fault 6: a signal to the whole `docket dev` process group (a terminal's Ctrl-C or
hangup, or `kill -TERM -<pgid>`) reaches `docket dev` alone, which stops the API and the
worker first (the worker drains its in-flight parse against live servers), then Temporal,
then Postgres: the parse succeeds during the drain and no traceback is logged.

Before the fix the servers got the signal together with the worker: the in-flight parse
failed against a dead Postgres and the log filled with tracebacks.
"""

import asyncio
import signal
import time
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client

from docket.embedded import EmbeddedPostgres, find_free_port
from docket.supervise import STOP_SIGNALS
from tests.docket.devprocess import OWNER_FILES, dev_api, exit_times, running_dev
from tests.documents import make_pdf
from tests.helpers import eventually
from tests.reliability.processes import parse_in_flight

pytestmark = pytest.mark.timeout(120)
PAGES = 600  # a second or two of parsing: in flight when the signal lands, done in the grace
GRACE_SECONDS = 20  # DOCKET_WORKER_GRACEFUL_SHUTDOWN_SECONDS: far more than the parse needs
# The drain, then Temporal's and Postgres' shutdowns; wide, since the machine may be loaded.
EXIT_WITHIN = GRACE_SECONDS + 20
# Logged by `docket dev`, in this order.
STOP_LINES = (
    "stopping the API and the worker",
    "stopping Temporal dev server",
    "stopping Postgres",
    "dev stack stopped",
)
# Logged by the worker and the API (concurrently, so in either order) between the first two.
DRAIN_LINES = ("worker shutting down", "Application shutdown complete.")


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return make_pdf(pages=PAGES, lines_per_page=30)


def _check_stop_order(log: str) -> None:
    at = {line: log.find(line) for line in (*STOP_LINES, *DRAIN_LINES)}
    assert -1 not in at.values(), at
    assert [at[line] for line in STOP_LINES] == sorted(at[line] for line in STOP_LINES), at
    for line in DRAIN_LINES:  # both children drained before Temporal was stopped
        assert at[STOP_LINES[0]] < at[line] < at[STOP_LINES[1]], at


async def _job_outcome(data_dir: Path, job_id: str) -> tuple[str, int]:
    """The job's status and its parse result count, read from the stopped stack's data."""
    with EmbeddedPostgres(data_dir / "postgres", find_free_port(0)) as postgres:
        conn = await asyncpg.connect(postgres.dsn)
        try:
            status = await conn.fetchval("SELECT status FROM jobs WHERE id = $1", job_id)
            results = await conn.fetchval(
                "SELECT count(*) FROM parse_results WHERE job_id = $1", job_id
            )
        finally:
            await conn.close()
    return str(status), int(results)


# One handler serves all three signals: SIGINT (what Ctrl-C sends, and what failed before
# the fix) runs in the default suite, the other two in `make test-slow` (CI runs both).
SIGNALS = [
    pytest.param(sig, marks=[] if sig == signal.SIGINT else [pytest.mark.slow], id=sig.name)
    for sig in STOP_SIGNALS
]


@pytest.mark.parametrize("sig", SIGNALS)
async def test_a_signal_to_the_process_group_stops_api_and_worker_then_temporal_then_postgres(
    sig: signal.Signals, tmp_path: Path, pdf: bytes
) -> None:
    settings = {"DOCKET_WORKER_GRACEFUL_SHUTDOWN_SECONDS": str(GRACE_SECONDS)}
    async with running_dev(tmp_path, **settings) as dev:
        creds = await dev.wait_ready()
        pids = {name: dev.pid(name) for name in OWNER_FILES}
        client = await Client.connect(dev.temporal_address)
        async with dev_api(creds) as api:
            job_id = await api.parse("in-flight.pdf", pdf)
        await eventually(lambda: parse_in_flight(client, job_id), bool, within=60)
        log_before = len(dev.log())

        signalled = time.monotonic()
        watching = asyncio.create_task(exit_times(pids, EXIT_WITHIN))
        dev.signal_group(sig)
        assert await dev.wait_exit(EXIT_WITHIN) == 0
        gone = await watching
        took = time.monotonic() - signalled

        assert max(gone["api"], gone["worker"]) <= gone["temporal"] <= gone["postgres"], gone
        log = dev.log()
        _check_stop_order(log[log_before:])
        assert "Traceback" not in log, log[log_before:]
        await dev.assert_nothing_left()
        assert took < EXIT_WITHIN

        # Drained against live servers: the parse in flight at the signal finished and its
        # result was stored.
        assert await _job_outcome(dev.data_dir, job_id) == ("succeeded", 1), log[log_before:]
