"""What every benchmark does against the API and the servers: an authenticated HTTP client,
projects and uploads, polling a job, timing calls, and the bench's own SQL connection."""

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import httpx
from temporalio.client import Client
from temporalio.service import RPCError

from db.pool import SERVER_SETTINGS
from docket.devstack import DevStack

T = TypeVar("T")
DEADLINE = 120.0
# Tight polls, so that the poll interval barely shows in a timed wait.
POLL = 0.005
# Every statement the bench itself runs carries this tag, so pg_stat_statements figures can
# leave them out (see bench/sqlstats.py). It goes after the first keyword: pg_stat_statements
# keeps a statement's text from its first token, dropping a leading comment.
TAG = "/* docket-bench */"


class Api:
    """An httpx client bound to one account; `base` is a project's URL prefix."""

    def __init__(self, http: httpx.AsyncClient, credentials: dict[str, str]) -> None:
        self.http = http
        self.headers = {
            "x-api-key": credentials["api_key"],
            "x-selected-account-id": credentials["account_id"],
        }

    async def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, url, headers=self.headers, **kwargs)

    async def json(self, method: str, url: str, **kwargs: Any) -> Any:
        response = await self.call(method, url, **kwargs)
        response.raise_for_status()
        return response.json()

    async def project(self, name: str = "bench") -> str:
        body = await self.json("POST", "/v1/projects", json={"name": name})
        return str(body["id"])

    async def upload(self, project_id: str, filename: str, content: bytes) -> str:
        files = {"file": (filename, content)}
        body = await self.json("POST", f"/v1/projects/{project_id}/files", files=files)
        return str(body["id"])

    async def parse(self, project_id: str, file_id: str) -> str:
        url = f"/v1/projects/{project_id}/parse"
        body = await self.json("POST", url, json={"source_document_id": file_id})
        return str(body["id"])

    async def wait_for(
        self,
        url: str,
        done: Callable[[dict[str, Any]], bool],
        poll: float = POLL,
        deadline: float = DEADLINE,
    ) -> dict[str, Any]:
        return await poll_until(lambda: self.json("GET", url), url, done, poll, deadline)


async def poll_until(
    get: Callable[[], Awaitable[Any]],
    url: str,
    done: Callable[[dict[str, Any]], bool],
    poll: float = POLL,
    deadline: float = DEADLINE,
) -> dict[str, Any]:
    """`get()` (a GET of `url`, by any client) until `done(body)`."""
    limit = time.monotonic() + deadline
    while True:
        body: dict[str, Any] = await get()
        if done(body):
            return body
        if time.monotonic() > limit:
            raise TimeoutError(f"{url}: still {body.get('status')} after {deadline:.0f}s")
        await asyncio.sleep(poll)


@contextlib.asynccontextmanager
async def api_client(
    stack: DevStack, url: str | None = None, credentials: dict[str, str] | None = None
) -> AsyncIterator[Api]:
    # Several connections at once: the creation benchmark runs concurrent clients.
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url or stack.api_url, timeout=60, limits=limits) as http:
        yield Api(http, credentials or stack.credentials)


@contextlib.asynccontextmanager
async def sql(stack: DevStack) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection with the API's session settings (no pool, so no reset query)."""
    conn = await asyncpg.connect(stack.env["DATABASE_URL"], server_settings=SERVER_SETTINGS)
    try:
        yield conn
    finally:
        await conn.close()


TERMINAL_OF = f"""
SELECT {TAG} count(*) FILTER (WHERE status NOT IN ('pending', 'running')) AS done,
       count(*) FILTER (WHERE status = 'succeeded') AS succeeded
FROM jobs WHERE id = ANY($1::text[])"""


async def settled(
    conn: asyncpg.Connection, job_ids: list[str], poll: float = 0.02, deadline: float = DEADLINE
) -> int:
    """Wait until every job has finished; returns how many succeeded. Polls Postgres, not
    the API: a benchmark's own GETs would compete with the stack it measures."""
    limit = time.monotonic() + deadline
    while True:
        row = await conn.fetchrow(TERMINAL_OF, job_ids)
        assert row is not None
        if row["done"] == len(job_ids):
            return int(row["succeeded"])
        if time.monotonic() > limit:
            raise TimeoutError(f"{len(job_ids) - row['done']} jobs still unfinished")
        await asyncio.sleep(poll)


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    began = time.perf_counter()
    await call()
    return time.perf_counter() - began


# A timed repetition: returns the seconds it measured.
Probe = Callable[[], Awaitable[float]]


def whole(call: Callable[[], Awaitable[object]]) -> Probe:
    return functools.partial(timed, call)


def after(setup: Callable[[], Awaitable[T]], call: Callable[[T], Awaitable[object]]) -> Probe:
    """Times `call(value)` alone, `value` coming from an untimed `setup()` just before."""

    async def probe() -> float:
        value = await setup()
        return await timed(functools.partial(call, value))

    return probe


async def account_of(conn: asyncpg.Connection, project_id: str) -> str:
    account: str = await conn.fetchval(
        f"SELECT {TAG} account_id FROM projects WHERE id = $1", project_id
    )
    return account


async def interleave(runs: int, *probes: Probe, warmup: int = 2) -> list[list[float]]:
    """Run each probe `runs` times, alternating between them so that noise from other
    processes on the machine hits all of them alike; the first `warmup` rounds are dropped
    (cold caches, statements not yet prepared). Every other round runs them in reverse
    order: probes that do the same work (a search through the API, then its SQL alone, for
    the same query) would otherwise always hand the second one caches the first warmed."""
    samples: list[list[float]] = [[] for _ in probes]
    for round_ in range(runs + warmup):
        order = list(enumerate(probes))
        for index, probe in order if round_ % 2 == 0 else reversed(order):
            seconds = await probe()
            if round_ >= warmup:
                samples[index].append(seconds)
    return samples


async def gather_bounded(limit: int, calls: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await call()

    return list(await asyncio.gather(*(one(call) for call in calls)))


RETIRE = f"""
UPDATE {TAG} jobs SET status = 'cancelled', completed_at = clock_timestamp()
WHERE id = ANY($1::text[]) AND status = 'pending'"""


async def retire(conn: asyncpg.Connection, client: Client, job_ids: list[str]) -> None:
    """Jobs a benchmark left pending on purpose: cancelled in Postgres (so no reconciler
    starts them later) and their workflows, open on a queue nobody polls, terminated."""
    await conn.execute(RETIRE, job_ids)
    await terminate(client, job_ids)


async def terminate(client: Client, workflow_ids: list[str]) -> None:
    """Workflows left open on a task queue nobody polls would stay open forever."""

    async def one(workflow_id: str) -> None:
        with contextlib.suppress(RPCError):  # already closed
            await client.get_workflow_handle(workflow_id).terminate("benchmark cleanup")

    await gather_bounded(16, [functools.partial(one, wid) for wid in workflow_ids])
