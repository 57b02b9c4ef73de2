"""Real servers for the suite: one embedded Postgres and one Temporal dev server per test
process, a worker on a uuid task queue, and the API app driven in-process over ASGI.

Tests isolate themselves by tenancy: each makes its own account and project, and every
query is scoped by them, so no test sees another's rows.
"""

import asyncio
import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.cancels import CancelBoard
from api.app import create_app
from api.deps import AppState
from core.settings import Settings, get_settings
from core.storage import FileStorage
from db.accounts import create_key
from db.migrate import migrate
from db.notify import Listener
from db.pool import SERVER_SETTINGS
from docket.embedded import (
    EmbeddedPostgres,
    find_free_port,
    temporal_cli_path,
    temporal_test_server_path,
)
from docket.worker import build_worker, cancel_listener, job_activities
from workflows.client import SEARCH_ATTRIBUTES


@contextlib.contextmanager
def server_dir() -> Iterator[Path]:
    """A temporary directory for embedded servers. Not under pytest's basetemp: every new
    pytest session resets that root to mode 0700, which locks out the unprivileged user the
    embedded Postgres runs as when we run as root."""
    path = Path(tempfile.mkdtemp(prefix="docket-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    with server_dir() as path:
        yield path


@pytest.fixture
def server_tmp() -> Iterator[Path]:
    """Like tmp_path, for tests that start embedded servers in it."""
    with server_dir() as path:
        yield path


@pytest.fixture(scope="session")
def postgres(data_dir: Path) -> Iterator[str]:
    server = EmbeddedPostgres(data_dir / "postgres", find_free_port(0), fast=True)
    server.start()
    yield server.dsn
    server.stop()


@pytest.fixture(scope="session")
async def migrated(postgres: str) -> str:
    conn = await asyncpg.connect(postgres)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return postgres


@pytest.fixture(scope="session")
async def temporal_env(data_dir: Path) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli_path(),
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_extra_args=[
            "--dynamic-config-value",
            "frontend.enableUpdateWorkflowExecution=true",
        ],
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def settings(migrated: str, temporal_env: WorkflowEnvironment, data_dir: Path) -> Settings:
    return get_settings(
        database_url=migrated,
        temporal_address="unused-in-process",
        data_dir=data_dir,
        task_queue=f"docket-test-{uuid.uuid4().hex}",
        secret_key="test-secret",
        max_upload_bytes=4 * 1024 * 1024,
    )


@pytest.fixture(scope="session")
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(
        settings.database_url, min_size=2, max_size=20, server_settings=SERVER_SETTINGS
    )
    assert created is not None
    yield created
    await created.close()


@pytest.fixture(scope="session")
def client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture(scope="session")
def board() -> CancelBoard:
    return CancelBoard()


@pytest.fixture(scope="session")
async def listener(
    pool: asyncpg.Pool, settings: Settings, board: CancelBoard
) -> AsyncIterator[Listener]:
    """The worker's LISTEN connection for cancels (as `docket worker` runs it)."""
    listening = cancel_listener(pool, settings, board)
    task = asyncio.create_task(listening.run())
    await asyncio.wait_for(listening.connected.wait(), timeout=30)
    yield listening
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@pytest.fixture(scope="session")
async def worker(
    client: Client, settings: Settings, pool: asyncpg.Pool, board: CancelBoard, listener: Listener
) -> AsyncIterator[Worker]:
    running = build_worker(client, settings, job_activities(pool, settings, board))
    task = asyncio.create_task(running.run())
    yield running
    await running.shutdown()
    await task


@pytest.fixture(scope="session")
async def api(
    settings: Settings, pool: asyncpg.Pool, client: Client, worker: Worker
) -> AsyncIterator[httpx.AsyncClient]:
    state = AppState(settings, pool, client, FileStorage(settings.storage_dir))
    app = create_app(settings, state)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://docket.test") as http:
        yield http


@pytest.fixture
async def tuned_api(
    settings: Settings, pool: asyncpg.Pool, client: Client, worker: Worker
) -> AsyncIterator[httpx.AsyncClient]:
    """The same worker, but batches started with a concurrency of 2 so some children wait."""
    tuned = settings.model_copy(update={"batch_max_concurrency": 2})
    app = create_app(tuned, AppState(tuned, pool, client, FileStorage(tuned.storage_dir)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://docket.test") as http:
        yield http


@pytest.fixture
async def headers(pool: asyncpg.Pool) -> dict[str, str]:
    """A fresh account and key for one test."""
    async with pool.acquire() as conn:
        created = await create_key(conn, f"test-{uuid.uuid4().hex}")
    return {"x-api-key": created.api_key, "x-selected-account-id": created.account_id}


@pytest.fixture
async def project(api: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await api.post("/v1/projects", json={"name": "test project"}, headers=headers)
    assert response.status_code == 200, response.text
    project_id: str = response.json()["id"]
    return project_id


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server_path()
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def big_pdf() -> bytes:
    """A real PDF long enough (3,000 pages, seconds to parse) that a parse of it is still
    running when a test cancels it."""
    from tests.documents import make_pdf

    return make_pdf(pages=3000, lines_per_page=30)
