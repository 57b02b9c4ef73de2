"""Requests written once for both clients. A `Call` says what to send and how to read the
answer; a `Plan` is a generator of the few primitive operations a transport knows (send a
request, sleep, open an event stream, read its next event). Retries, pagination and
waiting are plans, so the sync and the async transport only differ in how they run one
operation."""

import random
import uuid
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

import httpx
from httpx_sse import ServerSentEvent
from pydantic import BaseModel

from api.schemas import ListResponse
from docket.client.errors import Unavailable, raise_for, retry_after

T = TypeVar("T")
Item = TypeVar("Item", bound=BaseModel)

# A 503 (Postgres or Temporal restarting) usually clears within seconds: 4 attempts with
# exponential backoff from 0.5 s (capped at 8 s, or the server's Retry-After if sooner
# than the cap) ride over ~10 s of outage before Unavailable is raised.
MAX_ATTEMPTS = 4
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 8.0
# Up to this fraction of each delay is random, so clients that failed together do not
# retry together.
JITTER = 0.25
RETRYABLE_STATUS = frozenset({503})


@dataclass(frozen=True)
class Call(Generic[T]):
    """One HTTP exchange. `idempotent` calls are retried on 503 and on connection errors;
    job creations become idempotent through an Idempotency-Key fixed when the call is made."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, Any] | None = None
    json: Any = None
    files: Mapping[str, tuple[str, bytes]] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    idempotent: bool = True


def model(cls: type[T]) -> Callable[[httpx.Response], T]:
    """Read a response body as the pydantic wire model `cls` (api/schemas.py)."""
    validate: Callable[[bytes], T] = cls.model_validate_json  # type: ignore[attr-defined]
    return lambda response: validate(response.content)


def job_creation(
    method: str, path: str, parse: Callable[[httpx.Response], T], body: Any
) -> Call[T]:
    """A POST that creates a job, made safe to resend by its Idempotency-Key."""
    key = {"Idempotency-Key": f"sdk-{uuid.uuid4().hex}"}
    return Call(method, path, parse, json=body, headers=key, idempotent=True)


@dataclass(frozen=True)
class Send:
    call: Call[Any]


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class OpenStream:
    """Open an SSE stream; the transport answers with the response (an open stream when
    200) and closes the previous one, and any left open when the plan ends."""

    path: str
    idle_timeout: float
    last_event_id: str | None = None


@dataclass(frozen=True)
class NextEvent:
    """The next event of the open stream, or None when the server ended it."""


Op = Send | Sleep | OpenStream | NextEvent
Plan = Generator[Op, Any, T]
Event = ServerSentEvent


def backoff(attempt: int, response: httpx.Response | None) -> float:
    delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)
    told = retry_after(response) if response is not None else None
    if told is not None:
        delay = min(BACKOFF_CAP_SECONDS, told)
    return float(delay * (1 - JITTER * random.random()))


def perform(call: Call[T]) -> Plan[T]:
    """Send `call`, retrying idempotent ones on 503 and on connection failures; raise the
    error class of any other failure; return the parsed body."""
    for attempt in range(MAX_ATTEMPTS):
        last = attempt == MAX_ATTEMPTS - 1
        try:
            response: httpx.Response = yield Send(call)
        except httpx.TransportError as err:
            if not call.idempotent or last:
                raise Unavailable(f"{call.method} {call.path}: {err!r}", None) from err
            yield Sleep(backoff(attempt, None))
            continue
        if response.status_code in RETRYABLE_STATUS and call.idempotent and not last:
            yield Sleep(backoff(attempt, response))
            continue
        raise_for(response)
        return call.parse(response)
    raise AssertionError("unreachable: the last attempt returns or raises")


@dataclass(frozen=True)
class Paged(Generic[Item]):
    """A list endpoint: its first page, and how to ask for the page after one."""

    first: Call[ListResponse[Item]]

    def after(self, page: ListResponse[Item]) -> Call[ListResponse[Item]] | None:
        if page.next_token is None:
            return None
        params = {**(self.first.params or {}), "continuation_token": page.next_token}
        return replace(self.first, params=params)


class Runner(Generic[T]):
    """Steps a plan: the transports feed it each operation's outcome (a value or a
    transport error, thrown into the plan) until it returns."""

    def __init__(self, plan: Plan[T]) -> None:
        self.plan = plan
        self.value: Any = None
        self.error: httpx.TransportError | None = None
        self._result: Any = None

    def next_op(self) -> Op | None:
        """The next operation to run, or None once the plan has returned (see `result()`)."""
        try:
            if self.error is not None:
                op = self.plan.throw(self.error)
            else:
                op = self.plan.send(self.value)
        except StopIteration as done:
            self._result = done.value
            return None
        self.value, self.error = None, None
        return op

    def result(self) -> T:
        value: T = self._result
        return value
