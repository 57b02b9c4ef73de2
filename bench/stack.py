"""Throwaway Docket stacks for the benchmarks: the real `docket dev` processes on free ports in
a temporary data dir, or, with DATABASE_URL/TEMPORAL_ADDRESS set, on those servers.

The embedded Postgres is started here rather than by DevStack so that it can preload
pg_stat_statements: the batch benchmark counts the SQL statements each child job costs.
"""

import asyncio
import contextlib
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg

from core.settings import get_settings
from docket.devstack import HEALTH_TIMEOUT, DevStack, api_healthy
from docket.embedded import EmbeddedPostgres, find_free_port


def _enable_statement_stats(dsn: str) -> None:
    async def alter() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        finally:
            await conn.close()

    asyncio.run(alter())


@contextlib.contextmanager
def statement_stats_postgres(data_dir: Path) -> Iterator[str]:
    """An embedded Postgres (as `docket dev` runs it) with pg_stat_statements preloaded; the
    setting only takes effect at server start, hence the restart."""
    server = EmbeddedPostgres(data_dir, find_free_port(0))
    try:
        _enable_statement_stats(server.start())
        server.stop()
        yield server.start()
    finally:
        server.stop()


@contextlib.contextmanager
def running_stack(**overrides: object) -> Iterator[DevStack]:
    """The full stack. Keyword overrides are Settings fields (e.g. heartbeat_throttle_ms)."""
    # Benchmarks leave jobs pending on purpose (on a task queue no worker polls): the
    # worker's reconciler must not start them anew while later benchmarks measure.
    overrides.setdefault("reconcile_after_seconds", 24 * 3600)
    with tempfile.TemporaryDirectory(prefix="docket-bench-") as tmp, contextlib.ExitStack() as es:
        database_url = overrides.pop("database_url", None) or get_settings().database_url
        temporal_address = overrides.pop("temporal_address", None)
        if database_url is None:
            database_url = es.enter_context(statement_stats_postgres(Path(tmp) / "postgres"))
        settings = get_settings(
            data_dir=Path(tmp) / "data",
            database_url=database_url,
            temporal_address=temporal_address or get_settings().temporal_address,
            api_port=0,
            postgres_port=0,
            temporal_port=0,
            temporal_ui_port=0,
            log_level="WARNING",
            **overrides,
        )
        stack = DevStack(settings)
        try:
            stack.start()
            yield stack
        finally:
            stack.stop()


@contextlib.contextmanager
def sibling_stack(main: DevStack, **overrides: object) -> Iterator[DevStack]:
    """A second API and worker, with other settings, on the servers of `main` and on a task
    queue of their own: costs seconds, where a whole new stack costs tens of seconds."""
    with running_stack(
        database_url=main.env["DATABASE_URL"],
        temporal_address=main.env["TEMPORAL_ADDRESS"],
        task_queue=f"bench-{uuid.uuid4().hex[:12]}",
        **overrides,
    ) as stack:
        yield stack


@contextlib.contextmanager
def unpolled_api(main: DevStack) -> Iterator[str]:
    """Another API process of `main`, starting workflows on a task queue no worker polls:
    the jobs it creates stay `pending` (with a real workflow behind them). Yields its URL."""
    port = find_free_port(0)
    url = f"http://127.0.0.1:{port}"
    env = {
        **main.env,
        "DOCKET_TASK_QUEUE": f"unpolled-{uuid.uuid4().hex[:12]}",
        "DOCKET_API_PORT": str(port),
        "DOCKET_LOG_LEVEL": "WARNING",
    }
    cmd = [sys.executable, "-m", "docket", "api"]
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while not api_healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"unpolled API did not come up (exit code {proc.poll()})")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
