"""A live stack for the SDK and the CLI: the real API app served over HTTP by uvicorn
(as a task on the session's loop, beside the suite's real worker, Postgres and Temporal).
Blocking clients and CLI processes run off the loop (threads, subprocesses), so the server
and the worker keep running while they wait."""

import contextlib
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import uvicorn
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.worker import Worker

from api.app import create_app
from api.deps import AppState
from core.settings import Settings
from core.storage import FileStorage
from docket.embedded import find_free_port
from tests.helpers import eventually

STARTUP_SECONDS = 30.0
REPO = Path(__file__).resolve().parents[2]


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """`app` on a free local port until the block ends; yields its base URL."""
    import asyncio

    port = find_free_port(0)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started or task.done()

    await eventually(started, bool, STARTUP_SECONDS)
    assert not task.done(), "uvicorn exited during startup"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="session")
async def live_url(
    settings: Settings, pool: asyncpg.Pool, client: Client, worker: Worker
) -> AsyncIterator[str]:
    state = AppState(settings, pool, client, FileStorage(settings.storage_dir))
    async with serve(create_app(settings, state)) as url:
        yield url


@dataclass(frozen=True)
class Creds:
    url: str
    api_key: str
    account_id: str

    def env(self) -> dict[str, str]:
        """The environment of a CLI process using these credentials (and nothing else)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKET_")}
        return {
            **env,
            "DOCKET_API_URL": self.url,
            "DOCKET_API_KEY": self.api_key,
            "DOCKET_ACCOUNT_ID": self.account_id,
            "PYTHONPATH": str(REPO),
        }


@pytest.fixture
def creds(live_url: str, headers: dict[str, str]) -> Creds:
    """A fresh account (and key) on the live API."""
    return Creds(live_url, headers["x-api-key"], headers["x-selected-account-id"])


DOCKET = [sys.executable, "-m", "docket"]
