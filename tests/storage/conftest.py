"""The S3 backend's stack: moto's S3 server behind a relay that can fail, a worker on a task
queue of its own whose activities read from that store, and the API app on the same store
(the suite's Postgres and Temporal, as everywhere)."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import boto3
import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from api.deps import AppState
from core.settings import MIB, Settings
from core.storage import open_storage
from core.storage_s3 import S3Storage
from docket.worker import build_worker, job_activities
from tests.storage.s3_server import BUCKET, CREDENTIALS, PREFIX, Relay, moto_server

# S3's smallest part: a 12 MiB upload is then three parts.
PART = 5 * MIB
# Uploads up to this size go in one PUT; the multipart tests upload more.
SINGLE_PUT_MAX = 8 * MIB


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "s3: runs on the S3 backend (moto); `pytest -m s3 tests/storage` runs them"
    )


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in CREDENTIALS.items():
            patch.setenv(name, value)
        with moto_server() as endpoint:
            boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
            yield endpoint


@pytest.fixture(scope="session")
def s3(moto_endpoint: str) -> Any:
    """A boto3 client straight to moto (not through the relay): the tests' own view."""
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture(scope="session")
async def relay(moto_endpoint: str) -> AsyncIterator[Relay]:
    target = urlsplit(moto_endpoint)
    assert target.hostname is not None and target.port is not None
    running = Relay(target.hostname, target.port)
    await running.start()
    yield running
    await running.close()


@pytest.fixture
def store_up(relay: Relay) -> Iterator[Relay]:
    """The relay, brought back up after the test whatever happened."""
    relay.bring_up()
    yield relay
    relay.bring_up()


@pytest.fixture(scope="session")
def s3_settings(settings: Settings, relay: Relay) -> Settings:
    return settings.model_copy(
        update={
            "storage_url": f"s3://{BUCKET}/{PREFIX}",
            "s3_endpoint_url": relay.endpoint,
            "s3_part_bytes": PART,
            "s3_single_put_max_bytes": SINGLE_PUT_MAX,
            "max_upload_bytes": 16 * MIB,
            # An outage shows within seconds (the job's own retries are WORK_RETRY's).
            "s3_max_retries": 1,
            "s3_retry_timeout_seconds": 2.0,
            "s3_request_timeout_seconds": 10.0,
            "task_queue": f"docket-s3-{uuid.uuid4().hex}",
        }
    )


@pytest.fixture(scope="session")
def s3_storage(s3_settings: Settings) -> S3Storage:
    storage = open_storage(s3_settings)
    assert isinstance(storage, S3Storage)
    return storage


@pytest.fixture(scope="session")
async def s3_worker(
    client: Client, s3_settings: Settings, pool: asyncpg.Pool
) -> AsyncIterator[None]:
    running = build_worker(client, s3_settings, job_activities(pool, s3_settings))
    task = asyncio.create_task(running.run())
    yield
    await running.shutdown()
    await task


@pytest.fixture(scope="session")
async def s3_api(
    s3_settings: Settings,
    s3_storage: S3Storage,
    pool: asyncpg.Pool,
    client: Client,
    s3_worker: None,
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(s3_settings, AppState(s3_settings, pool, client, s3_storage))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://docket.test") as http:
        yield http


@pytest.fixture
async def s3_project(s3_api: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await s3_api.post("/v1/projects", json={"name": "s3 project"}, headers=headers)
    assert response.status_code == 200, response.text
    project_id: str = response.json()["id"]
    return project_id
