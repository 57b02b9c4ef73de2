"""Live job events: what an event stream (GET .../jobs/{id}/events) sends, read from the
rows, and the hub that wakes the streams of one API process from ONE listening connection.

Every change of a job appends a history event whose id follows commit order per job
(migration 0008); its trigger NOTIFYs the job (and its parent) at commit. A stream keeps the
id of the last event it sent — its sequence — and on every wake reads the events after it
plus the job as it is now, in one statement (one snapshot). So a notification only says
"look again": one missed while the listening connection was down costs nothing, because
after every reconnect each stream looks again from its sequence.
"""

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from core.enums import JobStatus
from db.jobs import JOB_WITH_HISTORY
from db.notify import Channel, Listener
from db.pool import Conn

log = logging.getLogger(__name__)

# The job now (as GET /jobs/{id} shows it, history in id order), its sequence (the id of its
# last event) and the ids of its events after the stream's sequence $2 — those are the last
# entries of its history — all in one snapshot.
READ = f"""
SELECT {JOB_WITH_HISTORY} AS job,
       (SELECT max(e.id) FROM job_events e WHERE e.job_id = j.id) AS seq,
       ARRAY(SELECT e.id FROM job_events e WHERE e.job_id = j.id AND e.id > $2
             ORDER BY e.id) AS new_ids
FROM jobs j WHERE j.id = $1
"""


class Kind:
    HISTORY = "history"
    STATUS = "status"
    PROGRESS = "progress"


@dataclass(frozen=True)
class Message:
    """One SSE message. `seq`: a history event's own id; a status or progress message
    carries the id of the last history event it reflects (so resuming from it replays
    exactly the events it did not reflect)."""

    seq: int
    kind: str
    data: Any

    def json(self) -> str:
        return json.dumps(self.data, separators=(",", ":"))


class StreamsFull(Exception):
    """This process already serves its `max_event_streams`."""


class EventHub:
    """The streams of one process, by job id, woken by one LISTEN connection (`run`)."""

    def __init__(self, dsn: str, max_streams: int, retry_seconds: float = 1.0) -> None:
        self.max_streams = max_streams
        self.open = 0
        self._waiting: dict[str, set[asyncio.Event]] = defaultdict(set)
        self.listener = Listener(
            dsn,
            {Channel.JOB: self._changed},
            on_connect=self._look_again,
            retry_seconds=retry_seconds,
        )

    def _changed(self, payload: str) -> None:
        for job_id in payload.split():
            for woken in self._waiting.get(job_id, ()):
                woken.set()

    async def _look_again(self) -> None:
        """After a (re)connect: whatever was notified meanwhile, every stream reads again."""
        for waiting in self._waiting.values():
            for woken in waiting:
                woken.set()

    def reserve(self) -> None:
        """Count one more stream, or refuse it (release with `release`)."""
        if self.open >= self.max_streams:
            raise StreamsFull
        self.open += 1

    def release(self) -> None:
        self.open -= 1

    @contextlib.contextmanager
    def watch(self, job_id: str) -> Iterator[asyncio.Event]:
        woken = asyncio.Event()
        self._waiting[job_id].add(woken)
        try:
            yield woken
        finally:
            waiting = self._waiting[job_id]
            waiting.discard(woken)
            if not waiting:
                del self._waiting[job_id]

    async def run(self) -> None:
        await self.listener.run()


async def read(conn: Conn, job_id: str, after: int) -> tuple[dict[str, Any], int, list[Any]] | None:
    """The job, its sequence, and (id, history entry) of each event after `after`."""
    row = await conn.fetchrow(READ, job_id, after)
    if row is None:
        return None
    job = json.loads(row["job"])
    new_ids: list[int] = row["new_ids"]
    entries = job["history"][len(job["history"]) - len(new_ids) :]
    return job, row["seq"] or 0, list(zip(new_ids, entries, strict=True))


async def job_messages(
    conn: Conn, hub: EventHub, job_id: str, after: int | None, idle_seconds: float
) -> AsyncIterator[list[Message]]:
    """The history events after `after` (all without it), the job's status, then live
    events, until the status is terminal: each read's messages together (a stream sends
    them in one write), and an empty list after each `idle_seconds` without any (a
    keep-alive). `conn`: a pool (each read takes a connection for one statement)."""
    sequence = after if after is not None else 0
    sent_status: str | None = None
    sent_progress: Any = None
    with hub.watch(job_id) as woken:
        while True:
            woken.clear()
            found = await read(conn, job_id, sequence)
            if found is None:
                return
            job, seq, events = found
            messages = [Message(event_id, Kind.HISTORY, entry) for event_id, entry in events]
            sequence = events[-1][0] if events else sequence
            ended = False
            if job["status"] != sent_status:
                messages.append(Message(seq, Kind.STATUS, job))
                ended = JobStatus(job["status"]).is_terminal
                sent_status, sent_progress = job["status"], job["progress"]
            elif job["progress"] != sent_progress:
                messages.append(Message(seq, Kind.PROGRESS, job["progress"]))
                sent_progress = job["progress"]
            if messages:
                yield messages
            if ended:
                return
            while not woken.is_set():
                try:
                    async with asyncio.timeout(idle_seconds):
                        await woken.wait()
                except TimeoutError:
                    yield []
