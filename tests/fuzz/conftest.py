"""A real `docket api` process on a free port against the session's Postgres and Temporal:
schemathesis drives it over HTTP like any client would."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from docket.embedded import find_free_port, stop_process

STARTUP_DEADLINE = 60.0


@pytest.fixture(scope="session")
def api_process(
    settings: Settings, temporal_env: WorkflowEnvironment, data_dir: Path
) -> Iterator[str]:
    port = find_free_port(0)
    env = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "DOCKET_DATA_DIR": str(data_dir),
        "DOCKET_TASK_QUEUE": settings.task_queue,
        "DOCKET_API_PORT": str(port),
        "DOCKET_SECRET_KEY": "fuzz-secret",
        "DOCKET_MAX_UPLOAD_BYTES": str(1024 * 1024),
        "DOCKET_LOG_LEVEL": "WARNING",
    }
    log = (data_dir / f"fuzz-api-{port}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "docket", "api"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_DEADLINE
    try:
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "docket api exited during startup"
            assert time.monotonic() < deadline, "docket api did not become healthy"
            time.sleep(0.1)
        yield url
    finally:
        stop_process(proc, 15, 10)  # SIGTERM, then SIGKILL
        log.close()


@pytest.fixture(scope="session")
def fuzz_headers(settings: Settings) -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-m", "docket", "keys", "create", "--account", "fuzz", "--json"],
        env={**os.environ, "DATABASE_URL": str(settings.database_url)},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    created = json.loads(out)
    return {"x-api-key": created["api_key"], "x-selected-account-id": created["account_id"]}


@pytest.fixture(scope="session")
def fuzz_project(api_process: str, fuzz_headers: dict[str, str]) -> str:
    """A real project, so generated requests reach the code behind the project check."""
    response = httpx.post(f"{api_process}/v1/projects", json={"name": "fuzz"}, headers=fuzz_headers)
    response.raise_for_status()
    project_id: str = response.json()["id"]
    return project_id
