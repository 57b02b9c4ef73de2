"""A real `docket worker` process serves Docket's metrics and the Temporal SDK's on its two
metrics ports; after a parse it ran, both show it."""

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from api.app import create_app
from api.deps import AppState
from core.settings import Settings
from core.storage import FileStorage
from docket.embedded import find_free_port
from tests.deploy.test_observability import families, plotted
from tests.helpers import create_job, eventually, upload, wait_status

STOP_TIMEOUT = 30
# A fresh interpreter importing the worker takes seconds, and far longer on a loaded machine.
START_TIMEOUT = 120


def health_file(settings: Settings) -> Path:
    return settings.data_dir / f"{settings.task_queue}.health"


async def polling(settings: Settings) -> bool:
    """The worker's health file exists once its Temporal Worker polls."""
    return health_file(settings).exists()


@pytest.fixture
def ports() -> tuple[int, int]:
    return find_free_port(0), find_free_port(0)


@pytest.fixture
def tuned(settings: Settings) -> Settings:
    return settings.model_copy(update={"task_queue": f"metrics-{uuid.uuid4().hex}"})


@pytest.fixture
def worker_process(
    tuned: Settings, client: Client, ports: tuple[int, int]
) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DATABASE_URL": str(tuned.database_url),
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "DOCKET_TASK_QUEUE": tuned.task_queue,
        "DOCKET_DATA_DIR": str(tuned.data_dir),
        "DOCKET_WORKER_METRICS_PORT": str(ports[0]),
        "DOCKET_WORKER_SDK_METRICS_PORT": str(ports[1]),
        "DOCKET_WORKER_HEALTH_FILE": str(health_file(tuned)),
    }
    proc = subprocess.Popen([sys.executable, "-m", "docket", "worker"], env=env)
    yield proc
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(STOP_TIMEOUT) == 0


@pytest.fixture
async def tuned_api(
    tuned: Settings, pool: asyncpg.Pool, client: Client
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(tuned, AppState(tuned, pool, client, FileStorage(tuned.storage_dir)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://docket.test") as http:
        yield http


async def scrape(port: int) -> dict[str, float]:
    """Sample name (with its labels) → value; {} while nothing answers yet."""
    try:
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    except httpx.TransportError:
        return {}
    families = text_string_to_metric_families(text)
    return {f"{s.name}{sorted(s.labels.items())}": s.value for f in families for s in f.samples}


async def test_the_worker_serves_docket_and_sdk_metrics(
    worker_process: subprocess.Popen[bytes],
    tuned_api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    ports: tuple[int, int],
    tuned: Settings,
) -> None:
    docket_port, sdk_port = ports
    await eventually(lambda: polling(tuned), bool, START_TIMEOUT)
    content = b"worker metrics"
    text = await upload(tuned_api, headers, project, "w.txt", content, "text/plain")
    job = await create_job(tuned_api, headers, project, "parse", {"source_document_id": text["id"]})
    await wait_status(tuned_api, headers, project, job["id"], {"succeeded"})

    succeeded = "docket_job_transitions_total[('operation', 'parse'), ('status', 'succeeded')]"
    docket = await eventually(lambda: scrape(docket_port), lambda m: succeeded in m)
    assert docket[succeeded] == 1  # this worker's process ran this one job only
    assert docket["docket_parse_pages_total[('operation', 'parse')]"] >= 1
    assert docket["docket_parse_bytes_total[('operation', 'parse')]"] == len(content)

    sdk = await eventually(lambda: scrape(sdk_port), lambda m: bool(m))
    names = {key.split("[")[0] for key in sdk}
    assert any(name.startswith("temporal_worker_task_slots_available") for name in names), names
    assert any(name.startswith("temporal_activity_execution_latency") for name in names), names
    # What the dashboard plots of the SDK's metrics exists (tests/deploy/test_observability.py).
    async with httpx.AsyncClient() as http:
        scraped = families((await http.get(f"http://127.0.0.1:{sdk_port}/metrics")).text)
    assert plotted("temporal_") <= scraped, plotted("temporal_") - scraped
