"""wait() against the event-stream contract (a scripted server, tests/client/fake.py):
the terminal status event ends it, events arrive in order, and every way a stream can be
missing or break falls back to polling GET job. Retries: idempotent calls ride over 503s,
others raise Unavailable at once."""

import asyncio

import pytest

from docket.client import AsyncDocket, Docket, JobEntity, JobEvent, Unavailable, WaitTimeout
from tests.client.conftest import serve
from tests.client.fake import JOB, PROJECT, Script, fake_app, job, progress


def job_entity() -> JobEntity:
    return JobEntity.model_validate(job("running"))


def client(url: str) -> AsyncDocket:
    return AsyncDocket(url, "key", "acct_fake")


async def test_wait_reads_the_stream_to_the_terminal_status() -> None:
    final = job("succeeded", progress=progress(2, 0))
    script = Script(
        events=[
            ("history", {"step": "started", "timestamp": final["created_at"], "status": "started"}),
            ("status", job("running", progress=progress(0, 2))),
            ("progress", progress(1, 1)),
            ("progress", progress(2, 0)),
            ("status", final),
            ("status", job("failed")),  # after the terminal one: never read
        ],
        jobs=[job("running")],
    )
    seen: list[JobEvent] = []
    async with serve(fake_app(script)) as url, client(url) as docket:
        done = await docket.jobs.wait(await docket.jobs.get(PROJECT, JOB), 10, seen.append)
    assert done.status == "succeeded" and done.progress is not None
    assert done.progress.succeeded == 2
    assert [(e.kind, e.id) for e in seen] == [
        ("history", "1"),
        ("status", "2"),
        ("progress", "3"),
        ("progress", "4"),
        ("status", "5"),
    ]
    # One GET for the job given to wait, one stream, and no polling.
    assert script.requests == [
        f"GET /v1/projects/{PROJECT}/jobs/{JOB}",
        f"GET /v1/projects/{PROJECT}/jobs/{JOB}/events",
    ]


@pytest.mark.parametrize("code", [404, 503])
async def test_no_stream_falls_back_to_polling(code: int) -> None:
    script = Script(events_status=code, jobs=[job("running"), job("running"), job("cancelled")])
    seen: list[JobEvent] = []
    async with serve(fake_app(script)) as url, client(url) as docket:
        done = await docket.jobs.wait(job_entity(), 10, seen.append)
    assert done.status == "cancelled"
    assert script.requests.count(f"GET /v1/projects/{PROJECT}/jobs/{JOB}") == 3
    assert [e.data.status for e in seen if e.kind == "status"] == ["cancelled"]  # type: ignore[union-attr]


async def test_a_dropped_stream_falls_back_to_polling() -> None:
    script = Script(events=[("status", job("running"))], jobs=[job("running"), job("succeeded")])
    async with serve(fake_app(script)) as url, client(url) as docket:
        done = await docket.jobs.wait(job_entity(), 10)
    assert done.status == "succeeded"
    assert script.requests[-1] == f"GET /v1/projects/{PROJECT}/jobs/{JOB}"


async def test_wait_times_out_with_the_last_state() -> None:
    script = Script(events_status=404, jobs=[job("running")])
    async with serve(fake_app(script)) as url, client(url) as docket:
        with pytest.raises(WaitTimeout) as raised:
            await docket.jobs.wait(job_entity(), timeout=0.3)
    assert raised.value.job_id == JOB and raised.value.status == "running"


async def test_idempotent_calls_retry_503_and_creations_do_not() -> None:
    script = Script(unavailable=2)
    async with serve(fake_app(script)) as url, client(url) as docket:
        project = await docket.projects.get(PROJECT)
        assert project.id == PROJECT
        assert script.requests.count(f"GET /v1/projects/{PROJECT}") == 3
        with pytest.raises(Unavailable) as raised:
            await docket.projects.create("new")
        assert raised.value.retry_after == 0
        assert script.requests.count("POST /v1/projects") == 1
        script.unavailable = 10  # more than the attempts: the last 503 is raised
        with pytest.raises(Unavailable):
            await docket.projects.get(PROJECT)


async def test_the_blocking_client_reads_the_same_stream() -> None:
    script = Script(events=[("progress", progress(1, 0)), ("status", job("succeeded"))])

    def blocking(url: str) -> str:
        with Docket(url, "key", "acct_fake") as docket:
            return docket.jobs.wait(job_entity(), timeout=10).status

    async with serve(fake_app(script)) as url:
        assert await asyncio.to_thread(blocking, url) == "succeeded"
