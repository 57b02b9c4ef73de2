"""The embedded servers, with the real Postgres and Temporal binaries (no mocks)."""

import http.client
import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client

from core.settings import get_settings
from docket.devstack import DevStack
from docket.embedded import (
    EmbeddedPostgres,
    TemporalDevServer,
    find_free_port,
    temporal_cli_path,
    temporal_test_server_path,
)

pytestmark = pytest.mark.timeout(90)
REPO_ROOT = Path(__file__).resolve().parents[2]

# Runs EmbeddedPostgres in another process: that process is the server's owner.
HOLDER = """
import sys, time
from pathlib import Path
from docket.embedded import EmbeddedPostgres
print(EmbeddedPostgres(Path(sys.argv[1]), int(sys.argv[2]), fast=True).start(), flush=True)
time.sleep(120)
"""


def test_find_free_port_prefers_the_requested_port_and_avoids_a_taken_one() -> None:
    port = find_free_port(0)
    assert port > 0
    assert find_free_port(port) == port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        other = find_free_port(port)
    assert other not in (0, port)


def test_binaries_from_the_wheels_are_found() -> None:
    assert os.access(temporal_cli_path(), os.X_OK)
    assert os.access(temporal_test_server_path(), os.X_OK)


async def _count_rows(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT 1") == 1
        return int(await conn.fetchval("SELECT count(*) FROM kept"))
    finally:
        await conn.close()


async def test_postgres_starts_serves_and_keeps_data_across_restarts(server_tmp: Path) -> None:
    data_dir = server_tmp / "postgres"
    with EmbeddedPostgres(data_dir, find_free_port(0), fast=True) as pg:
        assert pg.initialized
        conn = await asyncpg.connect(pg.dsn)
        try:
            assert await conn.fetchval("SELECT current_database()") == "docket"
            await conn.execute("CREATE TABLE kept (id int); INSERT INTO kept VALUES (1), (2)")
        finally:
            await conn.close()
        server_pid = pg.pid
    assert pg.pid is None
    assert server_pid is not None and not _is_postgres(server_pid)

    # Same data dir, another port: no initdb, same data.
    again = EmbeddedPostgres(data_dir, find_free_port(0), fast=True)
    try:
        assert again.start().endswith("/docket")
        assert not again.initialized
        assert await _count_rows(again.dsn) == 2
    finally:
        again.stop()
    again.stop()  # idempotent


def test_postgres_refuses_a_live_owner_then_reclaims_its_orphan(server_tmp: Path) -> None:
    data_dir, port = server_tmp / "postgres", find_free_port(0)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    cmd = [sys.executable, "-c", HOLDER, str(data_dir), str(port)]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env) as holder:
        assert holder.stdout is not None
        try:
            assert holder.stdout.readline().strip().endswith(f":{port}/docket")
            with pytest.raises(RuntimeError, match="already running for process"):
                EmbeddedPostgres(data_dir, find_free_port(0), fast=True).start()
        finally:
            holder.kill()  # dies hard: its Postgres lives on as an orphan
    orphan = int((server_tmp / "postgres.owner").read_text().split()[0])
    assert _is_postgres(orphan)
    with EmbeddedPostgres(data_dir, find_free_port(0), fast=True) as pg:
        assert not _is_postgres(orphan)
        assert pg.pid not in (None, orphan)
    assert not (server_tmp / "postgres.owner").exists()


def _is_postgres(pid: int) -> bool:
    try:
        return b"postgres" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


async def test_temporal_dev_server_serves_the_namespace(server_tmp: Path) -> None:
    server = TemporalDevServer(
        server_tmp / "temporal", find_free_port(0), find_free_port(0), "docket", headless=True
    )
    address = server.start()
    try:
        assert address == f"127.0.0.1:{server.port}"
        client = await Client.connect(address, namespace="docket")
        assert [wf async for wf in client.list_workflows()] == []
    finally:
        server.stop()
    assert server.pid is None
    assert (server_tmp / "temporal" / "temporal.sqlite").exists()


def _get_status(url: str) -> int:
    host, _, port = url.removeprefix("http://").partition(":")
    conn = http.client.HTTPConnection(host, int(port.split("/")[0]), timeout=5)
    try:
        conn.request("GET", "/" + port.partition("/")[2])
        return conn.getresponse().status
    finally:
        conn.close()


def test_dev_stack_runs_everything_and_leaves_nothing_behind(server_tmp: Path) -> None:
    settings = get_settings(
        data_dir=server_tmp / "dev",
        database_url=None,
        temporal_address=None,
        secret_key=None,
        api_port=0,
        postgres_port=0,
        temporal_port=0,
        temporal_ui_port=0,
        worker_graceful_shutdown_seconds=5,
    )
    stack = DevStack(settings)
    try:
        stack.start()
        assert stack.postgres is not None and stack.temporal is not None
        pids = [stack.postgres.pid, stack.temporal.pid, *(p.pid for p in stack.children.values())]
        assert _get_status(f"{stack.api_url}/healthz") == 200
        credentials = json.loads(stack.credentials_path.read_text())
        assert credentials == stack.credentials
        assert credentials["api_url"] == stack.api_url
        for private in (stack.credentials_path, stack.data_dir / "secret_key"):
            assert stat.S_IMODE(private.stat().st_mode) == 0o600
    finally:
        stack.stop()
    assert not [pid for pid in pids if pid is not None and Path(f"/proc/{pid}").exists()]

    again = DevStack(settings)  # a second run keeps the cluster, the key and the secret
    try:
        again.start()
        assert again.credentials["account_id"] == credentials["account_id"]
        assert again.env["DOCKET_SECRET_KEY"] == (stack.data_dir / "secret_key").read_text().strip()
    finally:
        again.stop()
