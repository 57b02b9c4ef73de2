"""Real worker processes for the reliability tests, probes of what Temporal is running, and
the in-process API they are driven through.

A `Workers` context starts `python -m docket worker` children on the suite's servers and
SIGKILLs whatever is still alive when it exits, whatever the test did, so no worker outlives
its test. Each child logs to its own file; `log_tail()` puts the end of it into failures.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import asyncpg
import httpx
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from api.app import create_app
from api.deps import AppState
from core.settings import Settings
from core.storage import FileStorage
from db.accounts import create_key
from tests.helpers import eventually

REPO = Path(__file__).resolve().parents[2]
READY_LINE = "worker polling task queue"
# Settings of the developer's shell that would point a child at other servers.
FOREIGN_PREFIXES = ("DOCKET_", "DATABASE_URL", "TEMPORAL_")


def worker_env(
    settings: Settings, temporal_address: str, task_queue: str, **overrides: str
) -> dict[str, str]:
    """The environment of a worker on the suite's Postgres and Temporal, on `task_queue`,
    reading uploads from the suite's data dir."""
    assert settings.database_url is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_PREFIXES)}
    env.update(
        {
            "DATABASE_URL": settings.database_url,
            "TEMPORAL_ADDRESS": temporal_address,
            "DOCKET_TASK_QUEUE": task_queue,
            "DOCKET_DATA_DIR": str(settings.data_dir),
            "DOCKET_HEARTBEAT_THROTTLE_MS": "100",
            "DOCKET_WORKER_GRACEFUL_SHUTDOWN_SECONDS": "5",
            # The suite's Postgres is shared: a worker of ours must never adopt another
            # test's deliberately orphaned pending jobs (should it run the reconciler).
            "DOCKET_RECONCILE_AFTER_SECONDS": str(7 * 24 * 3600),
            "DOCKET_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


class WorkerProcess:
    """One `python -m docket worker` child (or another `docket` command: `api`)."""

    def __init__(self, env: dict[str, str], log_path: Path, command: str = "worker") -> None:
        self.env, self.log_path = env, log_path
        self._log: IO[bytes] = log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "docket", command],
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own session: a Ctrl-C of the test run is not also delivered to it.
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    async def wait_ready(self, within: float = 60.0) -> None:
        """Until it polls its task queue; fails at once (with its log) if it died."""

        async def probe() -> str:
            if not self.running():
                raise AssertionError(
                    f"worker {self.pid} exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            return self.log_path.read_text(errors="replace")

        try:
            await eventually(probe, lambda text: READY_LINE in text, within)
        except AssertionError as err:
            raise AssertionError(f"{str(err)[:300]}\nworker log:\n{self.log_tail()}") from None

    def kill(self) -> None:
        """SIGKILL: a crash, no cleanup of any kind."""
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    async def terminate(self, within: float, sig: int = signal.SIGTERM) -> float:
        """SIGTERM (what a deploy sends; or `sig`, e.g. a hangup); the seconds it took to
        exit. Fails (and SIGKILLs it) if it is still running after `within` seconds."""
        began = time.monotonic()
        self.proc.send_signal(sig)
        try:
            await eventually(self._poll, lambda code: code is not None, within)
        except AssertionError:
            self.kill()
            raise AssertionError(
                f"worker {self.pid} still running {within}s after {signal.Signals(sig).name}:\n"
                f"{self.log_tail()}"
            ) from None
        return time.monotonic() - began

    async def _poll(self) -> int | None:
        return self.proc.poll()

    def close(self) -> None:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            self.kill()
        self._log.close()


class Workers:
    """Starts worker (or API) children; on exit SIGKILLs every one still alive."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir = env, log_dir
        self.started: list[WorkerProcess] = []

    def start(self, command: str = "worker", **overrides: str) -> WorkerProcess:
        name = f"{command}-{len(self.started) + 1}"
        # Its own health file: the data dir is shared by the whole suite.
        private = {"DOCKET_WORKER_HEALTH_FILE": str(self.log_dir / f"{name}.health")}
        env = {**self.env, **private, **overrides}
        worker = WorkerProcess(env, self.log_dir / f"{name}.log", command)
        self.started.append(worker)
        return worker

    def logs(self) -> str:
        return "\n".join(f"--- worker {w.pid}:\n{w.log_tail()}" for w in self.started)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for worker in self.started:
            worker.close()


async def parse_in_flight(client: Client, job_id: str) -> bool:
    """True while the job's parse activity is running on a worker and has heartbeated
    (so it is mid-document, not merely scheduled)."""
    try:
        described = await client.get_workflow_handle(job_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:  # a batch child not started yet
            return False
        raise
    return any(
        a.activity_type.name == "parse_document"
        and a.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
        and a.HasField("last_heartbeat_time")
        for a in described.raw_description.pending_activities
    )


async def parse_attempts(client: Client, job_id: str) -> int:
    """How many attempts the job's (completed) parse activity took, from its history: the
    started event of an activity records the attempt that completed it."""
    parse_scheduled: set[int] = set()
    async for event in client.get_workflow_handle(job_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attributes = event.activity_task_scheduled_event_attributes
            if attributes.activity_type.name == "parse_document":
                parse_scheduled.add(event.event_id)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started = event.activity_task_started_event_attributes
            if started.scheduled_event_id in parse_scheduled:
                return started.attempt
    raise AssertionError(f"no started parse activity in the history of {job_id}")


async def workflows_closed(
    client: Client, job_ids: list[str], within: float = 60.0
) -> dict[str, WorkflowExecutionStatus | None]:
    """Wait until the jobs' workflow executions have all closed; their final statuses."""

    async def probe() -> dict[str, WorkflowExecutionStatus | None]:
        return {j: (await client.get_workflow_handle(j).describe()).status for j in job_ids}

    return await eventually(
        probe, lambda found: WorkflowExecutionStatus.RUNNING not in found.values(), within
    )


@contextlib.asynccontextmanager
async def api_client(
    settings: Settings, pool: asyncpg.Pool, client: Client, *, raise_app_exceptions: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """The API app in-process (over ASGI) with these settings, pool and Temporal client.
    `raise_app_exceptions=False`: an unhandled error is the 500 a real client would get."""
    app = create_app(settings, AppState(settings, pool, client, FileStorage(settings.storage_dir)))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    async with httpx.AsyncClient(transport=transport, base_url="http://docket.test") as http:
        yield http


async def new_tenant(api: httpx.AsyncClient, pool: asyncpg.Pool) -> tuple[dict[str, str], str]:
    """A fresh account with a key, and a project in it: (headers, project id)."""
    async with pool.acquire() as conn:
        created = await create_key(conn, f"reliability-{uuid.uuid4().hex}")
    headers = {"x-api-key": created.api_key, "x-selected-account-id": created.account_id}
    response = await api.post("/v1/projects", json={"name": "reliability"}, headers=headers)
    assert response.status_code == 200, response.text
    return headers, str(response.json()["id"])


async def start_parse(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, file_id: str
) -> str:
    response = await api.post(
        f"/v1/projects/{project}/parse", json={"source_document_id": file_id}, headers=headers
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def statuses(pool: asyncpg.Pool, job_ids: list[str]) -> dict[str, str]:
    rows = await pool.fetch("SELECT id, status FROM jobs WHERE id = ANY($1::text[])", job_ids)
    return {row["id"]: row["status"] for row in rows}


async def history(pool: asyncpg.Pool, job_id: str) -> list[str]:
    rows = await pool.fetch("SELECT status FROM job_events WHERE job_id = $1 ORDER BY id", job_id)
    return [row["status"] for row in rows]


async def result_count(pool: asyncpg.Pool, job_id: str) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM parse_results WHERE job_id = $1", job_id)
    return count
