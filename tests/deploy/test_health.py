"""The worker's health signal: the heartbeat file, `docket health --worker`, and
`run_worker` keeping the file fresh only while its Temporal Worker really runs (real
Postgres and Temporal dev server from tests/conftest.py)."""

import asyncio
import logging
import os
import time
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings, get_settings
from docket import health
from docket.cli import main
from docket.worker import run_worker
from tests.helpers import eventually


def fresh(path: Path) -> bool:
    return health.check(path, 30)[0]


def mtime_ns(path: Path) -> int:
    return path.stat().st_mtime_ns


@pytest.fixture
def health_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "probe" / "worker.health"
    monkeypatch.setenv("DOCKET_WORKER_HEALTH_FILE", str(path))
    return path


def test_default_file_is_in_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKET_WORKER_HEALTH_FILE", raising=False)
    assert get_settings(data_dir=Path("/d")).worker_health_path == Path("/d/worker.health")
    monkeypatch.setenv("DOCKET_WORKER_HEALTH_FILE", "/tmp/w.health")
    assert get_settings(data_dir=Path("/d")).worker_health_path == Path("/tmp/w.health")


def test_check_reports_missing_fresh_and_stale(tmp_path: Path) -> None:
    path = tmp_path / "worker.health"
    healthy, reason = health.check(path, 30)
    assert not healthy and "no heartbeat file" in reason
    health.touch(path)
    assert health.check(path, 30)[0]
    old = time.time() - 31
    os.utime(path, (old, old))
    healthy, reason = health.check(path, 30)
    assert not healthy and "31." in reason


def test_cli_exit_code_follows_the_file(
    health_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["health", "--worker"]) == 1
    assert capsys.readouterr().out.startswith("worker unhealthy: no heartbeat file")
    health.touch(health_file)
    assert main(["health", "--worker", "--max-age", "30"]) == 0
    assert capsys.readouterr().out.startswith("worker healthy")
    old = time.time() - 10
    os.utime(health_file, (old, old))
    assert main(["health", "--worker", "--max-age", "5"]) == 1


async def test_heartbeat_beats_only_while_alive_and_cleans_up(health_file: Path) -> None:
    alive = False
    async with health.heartbeat(health_file, lambda: alive, interval=0.01):
        await asyncio.sleep(0.05)
        assert not fresh(health_file)  # not running yet: no beat
        alive = True
        await eventually(lambda: asyncio.sleep(0, fresh(health_file)), bool, within=5)
        first = mtime_ns(health_file)
        await eventually(lambda: asyncio.sleep(0, mtime_ns(health_file)), lambda m: m > first, 5)
    # A stopped worker never looks healthy: the file is gone, not merely old.
    assert "no heartbeat file" in health.check(health_file, 30)[1]


async def test_unwritable_file_is_logged_once_and_the_worker_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "a-file").write_text("")
    path = tmp_path / "a-file" / "worker.health"  # parent is a file: every touch fails
    with caplog.at_level(logging.ERROR, logger="docket.health"):
        async with health.heartbeat(path, lambda: True, interval=0.01):
            await asyncio.sleep(0.1)
    messages = [r.getMessage() for r in caplog.records if r.name == "docket.health"]
    assert len(messages) == 1, messages  # ~10 failed beats, one line
    assert messages[0].startswith(f"cannot write worker health file {path}")


def worker_settings(settings: Settings, env: WorkflowEnvironment, **overrides: object) -> Settings:
    return settings.model_copy(
        update={
            "temporal_address": env.client.service_client.config.target_host,
            "task_queue": f"health-test-{uuid.uuid4().hex}",
            **overrides,
        }
    )


async def test_run_worker_keeps_the_probe_green_until_it_stops(
    settings: Settings, temporal_env: WorkflowEnvironment, health_file: Path
) -> None:
    stop = asyncio.Event()
    tuned = worker_settings(settings, temporal_env, worker_health_file=health_file)
    task = asyncio.create_task(run_worker(tuned, stop))
    try:
        await eventually(lambda: asyncio.sleep(0, fresh(health_file)), bool, within=30)
        assert main(["health", "--worker", "--max-age", "30"]) == 0
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)
    assert main(["health", "--worker"]) == 1  # the file is gone at once


async def test_run_worker_fails_loudly_on_a_fatal_worker_error(
    settings: Settings, temporal_env: WorkflowEnvironment, health_file: Path
) -> None:
    bad = worker_settings(
        settings,
        temporal_env,
        temporal_namespace="no-such-namespace",
        worker_health_file=health_file,
    )
    with pytest.raises(BaseException, match="no-such-namespace"):
        await asyncio.wait_for(run_worker(bad, asyncio.Event()), timeout=60)
    assert main(["health", "--worker"]) == 1  # it never looked healthy
