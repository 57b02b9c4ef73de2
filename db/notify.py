"""Postgres LISTEN/NOTIFY: one channel naming scheme and one supervised listener, shared by
the workers (cancels) and the API (job events).

Payloads carry ids only; a listener reads the rows it needs. A notification is delivered at
the commit of the statement that sent it, so it never announces a change that could still
roll back.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

import asyncpg

from db.pool import ping

log = logging.getLogger(__name__)


class Channel(StrEnum):
    # A cancel of a running job was accepted: payload = the job id. Sent by the statement
    # that marks the job (db/transitions.py CANCEL_REQUESTED).
    CANCEL = "docket_cancel"
    # A job changed (one per history event: every transition appends one): payload = the
    # job id, then its parent's if it has one. Sent by a trigger on job_events (migration
    # 0008), so every statement that changes a job sends it; the API's event streams.
    JOB = "docket_job"
    # A job ended and has webhook deliveries to start: payload = the job id. Sent by the
    # outbox trigger on jobs (migration 0009); the workers' webhook dispatcher.
    WEBHOOK = "docket_webhook"


Handler = Callable[[str], object]

# The application_name of every listener connection: operators see them in
# pg_stat_activity, and fault drills (bench, tests) can cut them all.
LISTENER_APPLICATION = "docket-listener"
TERMINATE_LISTENERS = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE application_name = $1 AND pid <> pg_backend_pid()
"""


async def terminate_listeners(conn: asyncpg.Connection) -> int:
    """Cut every listener connection, as a network fault would; how many were cut."""
    cut: int = await conn.fetchval(TERMINATE_LISTENERS, LISTENER_APPLICATION)
    return cut


class Listener:
    """One LISTEN connection for `handlers` (channel → handler of a payload), re-opened when
    it drops. After every (re)connect, `on_connect` runs: notifications sent while the
    connection was down are lost, so that is where a caller catches up from the rows."""

    def __init__(
        self,
        dsn: str,
        handlers: dict[Channel, Handler],
        on_connect: Callable[[], Awaitable[None]] | None = None,
        retry_seconds: float = 1.0,
        probe_seconds: float = 5.0,
    ) -> None:
        self.dsn, self.handlers, self.on_connect = dsn, handlers, on_connect
        self.retry_seconds, self.probe_seconds = retry_seconds, probe_seconds
        self.connected = asyncio.Event()
        self.connects = 0  # how many times it has (re)connected, for tests and logs
        self._conn: asyncpg.Connection | None = None

    def _dispatch(self, conn: Any, pid: int, channel: str, payload: object) -> None:
        self.handlers[Channel(channel)](str(payload))

    async def run(self) -> None:
        """Listen until cancelled, reconnecting after any failure."""
        while True:
            try:
                await self._listen_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
                log.warning("notification listener lost its connection (%s); reconnecting", err)
            self.connected.clear()
            await asyncio.sleep(self.retry_seconds)

    async def _listen_once(self) -> None:
        conn = await asyncpg.connect(
            self.dsn, server_settings={"application_name": LISTENER_APPLICATION}
        )
        self._conn = conn
        closed = asyncio.Event()
        conn.add_termination_listener(lambda _: closed.set())
        try:
            for channel in self.handlers:
                await conn.add_listener(channel, self._dispatch)
            self.connects += 1
            self.connected.set()
            if self.on_connect is not None:
                await self.on_connect()
            # A dead peer is noticed on the next I/O: probe now and then.
            while not closed.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(closed.wait(), self.probe_seconds)
                if not closed.is_set():
                    await ping(conn)
        finally:
            self._conn = None
            if not conn.is_closed():
                await conn.close()

    async def drop(self) -> None:
        """Close the connection as a network fault would (tests)."""
        if self._conn is not None:
            self._conn.terminate()

    def server_pid(self) -> int | None:
        """The backend pid of the listening connection, while connected (tests kill it)."""
        return None if self._conn is None else self._conn.get_server_pid()
