"""Waiting for a job (one plan for both clients): read its event stream
(/work/notes/sse_contract.md) until a terminal `status` event; when the server has no
stream (404 of the route), refuses one (503) or the stream drops, poll GET /jobs/{id}
with a growing interval instead."""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import httpx
from pydantic import BaseModel

from api.schemas import BatchParseProgress, JobEntity, JobHistoryEvent
from docket.client.calls import Call, Event, NextEvent, OpenStream, Plan, Sleep, model, perform
from docket.client.errors import WaitTimeout, raise_for

log = logging.getLogger(__name__)

# Polling starts fast (most parses take well under a second) and backs off to a gentle
# rate for long batches.
POLL_FIRST_SECONDS = 0.1
POLL_GROWTH = 1.5
POLL_MAX_SECONDS = 2.0
# The server sends a keep-alive every 15 s: a stream silent for twice that has dropped.
STREAM_IDLE_SECONDS = 30.0
# The stream's answers that mean "no stream here": an older server, or too many streams.
FALL_BACK_TO_POLLING = frozenset({404, 503})

Kind = Literal["status", "progress", "history"]
PARSERS: dict[str, type[BaseModel]] = {
    "status": JobEntity,
    "progress": BatchParseProgress,
    "history": JobHistoryEvent,
}


@dataclass(frozen=True)
class JobEvent:
    """One event of a job: `status` carries the whole JobEntity, `progress` the batch's
    BatchParseProgress, `history` one JobHistoryEvent. `id` is the stream's sequence
    (None for states seen by polling)."""

    kind: Kind
    data: JobEntity | BatchParseProgress | JobHistoryEvent
    id: str | None = None


OnEvent = Callable[[JobEvent], None]


def job_path(project_id: str, job_id: str) -> str:
    return f"/v1/projects/{project_id}/jobs/{job_id}"


def get_job(project_id: str, job_id: str) -> Call[JobEntity]:
    return Call("GET", job_path(project_id, job_id), model(JobEntity))


def parse_event(event: Event) -> JobEvent | None:
    parser = PARSERS.get(event.event)
    if parser is None:
        return None  # a kind this client does not know yet
    data = parser.model_validate_json(event.data)
    assert isinstance(data, JobEntity | BatchParseProgress | JobHistoryEvent)
    kind: Kind = event.event  # type: ignore[assignment]
    return JobEvent(kind, data, event.id or None)


class Clock:
    """The wait's deadline (None: no limit)."""

    def __init__(self, timeout: float | None) -> None:
        self.deadline = None if timeout is None else time.monotonic() + timeout

    def left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def bound(self, seconds: float) -> float:
        left = self.left()
        return seconds if left is None else max(0.0, min(seconds, left))

    def check(self, job: JobEntity) -> None:
        left = self.left()
        if left is not None and left <= 0:
            raise WaitTimeout(
                f"job {job.id} still {job.status} at the deadline", job.id, job.status
            )


def stream(job: JobEntity, clock: Clock, on_event: OnEvent | None) -> Plan[JobEntity | None]:
    """The terminal JobEntity from the event stream, or None to fall back to polling."""
    path = f"{job_path(job.project_id, job.id)}/events"
    try:
        response: httpx.Response = yield OpenStream(path, clock.bound(STREAM_IDLE_SECONDS))
        if response.status_code in FALL_BACK_TO_POLLING:
            log.debug("job %s: no event stream (%s); polling", job.id, response.status_code)
            return None
        raise_for(response)
        latest = job
        while True:
            raw: Event | None = yield NextEvent()
            if raw is None:
                return None  # closed before a terminal status: poll for it
            event = parse_event(raw)
            if event is not None and on_event is not None:
                on_event(event)
            if event and isinstance(event.data, JobEntity):
                if event.data.status.is_terminal:
                    return event.data
                latest = event.data
            clock.check(latest)
    except httpx.TransportError as err:  # dropped, or silent past the idle bound
        log.debug("job %s: event stream ended (%r); polling", job.id, err)
        return None


def poll(job: JobEntity, clock: Clock, on_event: OnEvent | None) -> Plan[JobEntity]:
    interval, last = POLL_FIRST_SECONDS, job
    while True:
        current = yield from perform(get_job(job.project_id, job.id))
        changed = (current.status, current.progress) != (last.status, last.progress)
        if on_event is not None and changed:
            on_event(JobEvent("status", current))
        if current.status.is_terminal:
            return current
        clock.check(current)
        yield Sleep(clock.bound(interval))
        interval, last = min(interval * POLL_GROWTH, POLL_MAX_SECONDS), current


def wait(
    job: JobEntity, timeout: float | None, on_event: OnEvent | None, events: bool = True
) -> Plan[JobEntity]:
    """The job once terminal; WaitTimeout if still running after `timeout` seconds."""
    if job.status.is_terminal:
        return job
    clock = Clock(timeout)
    if events:
        final = yield from stream(job, clock, on_event)
        if final is not None:
            return final
        clock.check(job)
    return (yield from poll(job, clock, on_event))
