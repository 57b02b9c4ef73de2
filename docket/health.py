"""A worker health signal that Kubernetes (or compose) can probe without a port.

A worker has no HTTP server, so it proves it is alive by touching a file every few seconds
while its Temporal Worker is running, and `docket health --worker` (an exec probe) checks the
file is fresh. `Worker.is_running` turns true only after the worker has validated its
namespace with the server and started polling, and false once it has failed or begun
shutting down; a blocked event loop stops the touches too. So a stale file means "this
process is not doing worker work" — and a rolling deploy waits until a new worker really
polls before it stops an old one.

It deliberately does not ping Temporal: during a Temporal outage every worker would turn
unhealthy and Kubernetes would restart them all, which cannot help; the SDK reconnects.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

log = logging.getLogger(__name__)

BEAT_INTERVAL_SECONDS = 5.0
STARTUP_POLL_SECONDS = 0.2
DEFAULT_MAX_AGE_SECONDS = 30.0


def touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()  # an existing file gets a new mtime: that is the beat


def clear(path: Path) -> None:
    # Never let cleanup mask how the worker itself ended; a file we could not write
    # cannot be removed either.
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


async def beat(path: Path, alive: Callable[[], bool], interval: float) -> None:
    """Touch `path` every `interval` seconds while `alive()`; runs until cancelled."""
    failing = False
    while True:
        if not alive():
            # Look again soon: the first beat should follow the worker's start closely,
            # since readiness (and so a rolling deploy) waits for it.
            await asyncio.sleep(min(interval, STARTUP_POLL_SECONDS))
            continue
        try:
            touch(path)
            failing = False
        except OSError as err:
            # Keep the worker working; the probe will report it. Log once per streak.
            if not failing:
                log.error("cannot write worker health file %s: %s", path, err)
            failing = True
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def heartbeat(
    path: Path, alive: Callable[[], bool], interval: float = BEAT_INTERVAL_SECONDS
) -> AsyncIterator[None]:
    """Beat in the background for the duration of the block, then delete the file so that
    a stopping (or restarted) worker never looks healthy on an old beat."""
    task = asyncio.create_task(beat(path, alive, interval), name="docket-worker-health")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        clear(path)


def check(path: Path, max_age: float, now: float | None = None) -> tuple[bool, str]:
    """(healthy, a one-line reason) for the heartbeat file at `path`."""
    try:
        modified = path.stat().st_mtime
    except FileNotFoundError:
        return False, f"no heartbeat file at {path} (worker not running or not polling yet)"
    age = (time.time() if now is None else now) - modified
    if age > max_age:
        return False, f"heartbeat at {path} is {age:.1f}s old (max {max_age:g}s)"
    return True, f"heartbeat at {path} is {max(age, 0.0):.1f}s old"
