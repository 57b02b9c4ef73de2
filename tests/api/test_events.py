"""GET .../jobs/{id}/events over real HTTP (uvicorn) against real Postgres: order, resume
with Last-Event-ID, tenancy, the end at a terminal status, progress of a batch, the bound
on open streams, keep-alives, and a listening connection killed and recovered."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.client import Client

from api.deps import AppState
from core.enums import JobStatus
from core.ids import IdPrefix, new_id
from core.settings import Settings
from core.storage import FileStorage
from db import jobs
from db.accounts import create_key
from db.transitions import Transition, transition
from tests.api.live_server import Event, Live, SSEReader, live_api
from tests.helpers import eventually

STATUS, HISTORY, PROGRESS = "status", "history", "progress"


@pytest.fixture
async def live(settings: Settings, pool: asyncpg.Pool, client: Client) -> AsyncIterator[Live]:
    tuned = settings.model_copy(update={"event_keepalive_seconds": 0.2})
    async with live_api(AppState(tuned, pool, client, FileStorage(tuned.storage_dir))) as served:
        yield served


async def new_job(pool: asyncpg.Pool, project: str, parent: str | None = None) -> str:
    job_id = new_id(IdPrefix.JOB)
    job = jobs.NewJob(job_id, project, "parse", "file_x", None, {}, parent)
    await jobs.insert(pool, job)
    return job_id


@contextlib.asynccontextmanager
async def stream(
    live: Live, headers: dict[str, str], project: str, job_id: str, last: int | None = None
) -> AsyncIterator[tuple[httpx.Response, SSEReader]]:
    sent = dict(headers) | ({"last-event-id": str(last)} if last is not None else {})
    url = f"{live.url}/v1/projects/{project}/jobs/{job_id}/events"
    async with (
        httpx.AsyncClient(timeout=30) as http,
        http.stream("GET", url, headers=sent) as response,
    ):
        yield response, SSEReader(response)


@contextlib.asynccontextmanager
async def fresh_stream(
    live: Live, pool: asyncpg.Pool, headers: dict[str, str], project: str
) -> AsyncIterator[tuple[str, SSEReader]]:
    """A new pending job's stream, past its replay (`created`, then the status)."""
    job_id = await new_job(pool, project)
    async with stream(live, headers, project, job_id) as (_, reader):
        await expect(reader, HISTORY)
        await expect(reader, STATUS)
        yield job_id, reader


async def get_job(live: Live, headers: dict[str, str], project: str, job_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        response = await http.get(
            f"{live.url}/v1/projects/{project}/jobs/{job_id}", headers=headers
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def expect(reader: SSEReader, kind: str) -> Event:
    event = await reader.next()
    assert event is not None and event.event == kind, event
    return event


async def test_stream_replays_then_pushes_in_order_and_ends_at_terminal(
    live: Live, pool: asyncpg.Pool, headers: dict[str, str], project: str
) -> None:
    job_id = await new_job(pool, project)
    async with stream(live, headers, project, job_id) as (response, reader):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        created = await expect(reader, HISTORY)
        assert created.data["status"] == "created"
        first = await expect(reader, STATUS)
        assert first.data["status"] == "pending" and first.id == created.id

        await transition(pool, job_id, Transition(JobStatus.RUNNING))
        running = await expect(reader, HISTORY)
        assert (await expect(reader, STATUS)).data["status"] == "running"
        await jobs.append_event(pool, job_id, "parsing", "running", {"pages": 3})
        parsing = await expect(reader, HISTORY)
        assert parsing.data["details"] == {"pages": 3}
        await transition(pool, job_id, Transition(JobStatus.SUCCEEDED, result={"ok": True}))
        succeeded = await expect(reader, HISTORY)
        final = await expect(reader, STATUS)
        assert await reader.next() is None  # the server closed the stream

    ids = [created.id, running.id, parsing.id, succeeded.id]
    assert ids == sorted(set(ids))
    assert final.id == succeeded.id
    # The terminal status event is exactly what GET /jobs/{id} returns.
    assert final.data == await get_job(live, headers, project, job_id)
    assert [e["status"] for e in final.data["history"]] == [
        "created",
        "started",
        "running",
        "succeeded",
    ]
    assert [running.data, parsing.data, succeeded.data] == final.data["history"][1:]


async def test_last_event_id_resumes_without_gaps_or_duplicates(
    live: Live, pool: asyncpg.Pool, headers: dict[str, str], project: str
) -> None:
    job_id = await new_job(pool, project)
    await transition(pool, job_id, Transition(JobStatus.RUNNING))
    for page in range(3):
        await jobs.append_event(pool, job_id, "parsing", "running", {"page": page})
    async with stream(live, headers, project, job_id) as (_, reader):
        replayed = [await expect(reader, HISTORY) for _ in range(5)]
        await expect(reader, STATUS)
    resume_from = replayed[2].id
    await jobs.append_event(pool, job_id, "parsing", "running", {"page": 3})
    async with stream(live, headers, project, job_id, last=resume_from) as (_, reader):
        again = [await expect(reader, HISTORY) for _ in range(3)]
        status = await expect(reader, STATUS)
        await transition(pool, job_id, Transition(JobStatus.FAILED, error="boom"))
        tail = await reader.until_end()
    assert [e.id for e in again[:2]] == [e.id for e in replayed[3:]]
    assert again[2].data["details"] == {"page": 3} and again[2].id > replayed[-1].id
    assert status.data["status"] == "running" and status.id == again[2].id
    assert [e.event for e in tail] == [HISTORY, STATUS] and tail[1].data["status"] == "failed"


async def test_a_finished_job_replays_everything_and_ends(
    live: Live, pool: asyncpg.Pool, headers: dict[str, str], project: str
) -> None:
    job_id = await new_job(pool, project)
    await transition(pool, job_id, Transition(JobStatus.CANCELLED, {"reason": "test"}))
    async with stream(live, headers, project, job_id) as (_, reader):
        events = await reader.until_end()
    assert [e.event for e in events] == [HISTORY, HISTORY, STATUS]
    assert events[-1].data["status"] == "cancelled"


async def test_tenancy_like_get_job(
    live: Live, pool: asyncpg.Pool, headers: dict[str, str], project: str
) -> None:
    job_id = await new_job(pool, project)
    async with pool.acquire() as conn:
        other = await create_key(conn, f"other-{uuid.uuid4().hex}")
    stranger = {"x-api-key": other.api_key, "x-selected-account-id": other.account_id}
    async with httpx.AsyncClient(base_url=live.url) as http:
        mine = f"/v1/projects/{project}/jobs/{job_id}"
        made = await http.post("/v1/projects", json={"name": "second"}, headers=headers)
        elsewhere = f"/v1/projects/{made.json()['id']}/jobs/{job_id}"
        for url, sent, code in (
            (mine, stranger, 404),  # another account's project
            (elsewhere, headers, 404),  # a job of another project
            (f"/v1/projects/{project}/jobs/job_nope", headers, 404),
            (mine, {}, 401),
            (mine, {**headers, "x-selected-account-id": other.account_id}, 403),
        ):
            events = await http.get(f"{url}/events", headers=sent)
            plain = await http.get(url, headers=sent)
            assert (events.status_code, events.json()) == (plain.status_code, plain.json()), url
            assert events.status_code == code


async def test_progress_of_a_parent_follows_its_children(
    live: Live, pool: asyncpg.Pool, headers: dict[str, str], project: str
) -> None:
    parent = await new_job(pool, project)
    children = [await new_job(pool, project, parent) for _ in range(2)]
    await transition(pool, parent, Transition(JobStatus.RUNNING))
    async with stream(live, headers, project, parent) as (_, reader):
        await expect(reader, HISTORY)
        await expect(reader, HISTORY)
        status = await expect(reader, STATUS)
        assert status.data["progress"]["pending"] == 2
        await transition(pool, children[0], Transition(JobStatus.RUNNING))
        await transition(pool, children[0], Transition(JobStatus.SUCCEEDED))
        progress = await eventually(
            lambda: expect(reader, PROGRESS), lambda e: e.data["succeeded"] == 1
        )
        assert progress.data["pending"] == 1 and progress.id == status.id
        await transition(pool, children[1], Transition(JobStatus.FAILED, error="bad"))
        await eventually(lambda: expect(reader, PROGRESS), lambda e: e.data["failed"] == 1)
        await transition(pool, parent, Transition(JobStatus.PARTIALLY_SUCCEEDED))
        tail = await reader.until_end()
    assert tail[-1].event == STATUS and tail[-1].data["status"] == "partially_succeeded"


async def test_keep_alive_comments_while_idle(
    live: Live, pool: asyncpg.Pool, headers: dict[str, str], project: str
) -> None:
    async with fresh_stream(live, pool, headers, project) as (job_id, reader):
        waiting = asyncio.create_task(reader.next())  # collects comments meanwhile
        await eventually(lambda: reader_comments(reader), lambda c: "keep-alive" in c)
        await transition(pool, job_id, Transition(JobStatus.CANCELLED))
        cancelled = await waiting
        assert cancelled is not None and cancelled.event == HISTORY
        assert set(reader.comments) == {"keep-alive"}


async def reader_comments(reader: SSEReader) -> list[str]:
    return reader.comments


async def test_streams_beyond_the_bound_get_503_with_retry_after(
    settings: Settings, pool: asyncpg.Pool, client: Client, headers: dict[str, str], project: str
) -> None:
    tuned = settings.model_copy(update={"max_event_streams": 1})
    job_id = await new_job(pool, project)
    state = AppState(tuned, pool, client, FileStorage(tuned.storage_dir))
    async with live_api(state) as served, stream(served, headers, project, job_id) as (_, reader):
        await expect(reader, HISTORY)
        async with httpx.AsyncClient(base_url=served.url) as http:
            url = f"/v1/projects/{project}/jobs/{job_id}/events"
            refused = await http.get(url, headers=headers)
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == str(tuned.event_stream_retry_after_seconds)
            assert served.hub.open == 1


async def test_a_killed_listener_reconnects_and_streams_catch_up(
    live: Live, pool: asyncpg.Pool, headers: dict[str, str], project: str
) -> None:
    async with fresh_stream(live, pool, headers, project) as (job_id, reader):
        listener = live.hub.listener
        before = listener.connects
        pid = listener.server_pid()
        assert pid is not None
        assert await pool.fetchval("SELECT pg_terminate_backend($1)", pid)
        await eventually(lambda: asyncio_value(listener.connected.is_set()), lambda up: not up)
        # Changes while nobody listens: their notifications are lost...
        await transition(pool, job_id, Transition(JobStatus.RUNNING))
        await jobs.append_event(pool, job_id, "parsing", "running", {"while": "down"})
        assert listener.connects == before  # both committed while it was down
        # ...and still reach the stream once the listener is back.
        events = [await reader.next(within=30) for _ in range(3)]
        assert listener.connects == before + 1
        await transition(pool, job_id, Transition(JobStatus.SUCCEEDED))
        tail = await reader.until_end()
    kinds = [(e.event, e.data["status"]) for e in events if e]
    assert kinds == [(HISTORY, "started"), (HISTORY, "running"), (STATUS, "running")]
    assert [e.event for e in tail] == [HISTORY, STATUS]


async def asyncio_value(value: bool) -> bool:
    return value
