"""The SDK against the live stack (real API over HTTP, real worker, Postgres, Temporal):
every resource, pagination, each error class, wait()."""

import asyncio
import uuid
from pathlib import Path

import pytest

from docket.client import (
    AsyncDocket,
    BadRequest,
    Conflict,
    Docket,
    Forbidden,
    JobEvent,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from tests.client.conftest import Creds

WAIT_SECONDS = 60.0
NOTES = b"# Notes\n\nThe SDK parses markdown.\n\n- one\n- two\n"


def async_client(creds: Creds) -> AsyncDocket:
    return AsyncDocket(creds.url, creds.api_key, creds.account_id)


async def test_projects_files_parse_rechunk_results(creds: Creds, tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_bytes(NOTES)
    async with async_client(creds) as docket:
        name = f"sdk-{uuid.uuid4().hex[:8]}"
        project = await docket.projects.create(name, configuration={"team": "docs"})
        assert (await docket.projects.get(project.id)).configuration == {"team": "docs"}
        assert [p.id async for p in docket.projects.list(name=name)] == [project.id]
        renamed = await docket.projects.update(project.id, name=f"{name}-x")
        assert renamed.name == f"{name}-x"

        from_path = await docket.files.upload(project.id, path)
        from_bytes = await docket.files.upload(project.id, NOTES, filename="dir/again.md")
        assert (from_path.filename, from_path.size_bytes) == ("notes.md", len(NOTES))
        assert (await docket.files.get(project.id, from_bytes.id)).filename == "dir/again.md"

        job = await docket.parse.create(project.id, from_path.id)
        assert job.operation == "parse" and job.source_id == from_path.id
        done = await docket.jobs.wait(job, timeout=WAIT_SECONDS)
        assert done.status == "succeeded", done
        result_id = done.result["parse_result_id"]  # type: ignore[index]
        result = await docket.results.get(project.id, result_id)
        assert "The SDK parses markdown." in result.chunks[0].content
        assert [r.id async for r in docket.results.list(project.id)] == [result_id]

        options = {"strategy": "token_size", "chunk_size": 8, "chunk_overlap": 0}
        rechunk = await docket.parse.rechunk(project.id, result_id, options)
        rechunked = await docket.jobs.wait(rechunk, timeout=WAIT_SECONDS)
        assert rechunked.status == "succeeded" and rechunked.source_id == result_id
        new = await docket.results.get(project.id, rechunked.result["parse_result_id"])  # type: ignore[index]
        assert new.id != result_id and len(new.chunks) > len(result.chunks)

        deleted = await docket.files.delete(project.id, from_bytes.id)
        assert deleted.status == "deleted"
        archived = await docket.projects.update(project.id, status="archived")
        assert archived.status == "archived"


async def test_batch_and_pagination_with_the_blocking_client(creds: Creds) -> None:
    def scenario() -> None:
        with Docket(creds.url, creds.api_key, creds.account_id) as docket:
            project = docket.projects.create("batch")
            files = [
                docket.files.upload(project.id, NOTES + bytes(str(i), "ascii"), f"{i}.md")
                for i in range(5)
            ]
            # 5 files in pages of 2: three pages, every file once, newest first.
            listed = [f.id for f in docket.files.list(project.id, page_size=2)]
            assert listed == [f.id for f in reversed(files)]

            batch = docket.parse.batch(project.id, [f.id for f in files[:3]])
            assert batch.operation == "batch_parse" and batch.progress is not None
            done = docket.jobs.wait(batch, timeout=WAIT_SECONDS)
            assert done.status == "succeeded" and done.progress is not None
            assert (done.progress.total, done.progress.succeeded) == (3, 3)
            ids = [child.parse_result_id for child in done.progress.child_jobs]
            assert all(ids) and len(set(ids)) == 3

            jobs = list(docket.jobs.list(project.id, page_size=2))
            assert len(jobs) == 4  # the batch and its three children
            assert [j.id for j in docket.jobs.list(project.id, operation="batch_parse")] == [
                batch.id
            ]
            assert len(list(docket.jobs.list(project.id, status="succeeded", page_size=1))) == 4
            assert list(docket.jobs.list(project.id, status="failed")) == []

    await asyncio.to_thread(scenario)


async def test_a_resent_creation_is_the_same_job(creds: Creds) -> None:
    """Job creations carry an Idempotency-Key fixed when the call is built, which is what
    makes retrying them after a 503 safe: sending one call twice makes one job."""
    from docket.client.resources import Parse

    async with async_client(creds) as docket:
        project = await docket.projects.create("resend")
        file = await docket.files.upload(project.id, NOTES, filename="n.md")
        call = Parse.create.build(docket.parse, project.id, file.id)
        first = await docket.transport.perform(call)
        again = await docket.transport.perform(call)
        assert again.id == first.id
        assert [job.id async for job in docket.jobs.list(project.id)] == [first.id]
        await docket.jobs.wait(first, timeout=WAIT_SECONDS)


async def test_every_error_class(creds: Creds, tmp_path: Path) -> None:
    async with async_client(creds) as docket:
        project = await docket.projects.create("errors")
        with pytest.raises(NotFound) as missing:
            await docket.jobs.get(project.id, "job_" + "0" * 32)
        assert missing.value.status_code == 404 and "not found" in str(missing.value)

        file = await docket.files.upload(project.id, NOTES, filename="n.md")
        with pytest.raises(ValidationFailed) as invalid:
            await docket.parse.create(project.id, file.id, {"engine": "no-such-engine"})
        assert invalid.value.errors[0]["loc"][:2] == ["body", "parameters"], invalid.value.errors

        done = await docket.jobs.wait(await docket.parse.create(project.id, file.id), WAIT_SECONDS)
        with pytest.raises(BadRequest):
            await docket.jobs.cancel(project.id, done.id)

        await docket.vector_stores.create(project.id, "store")
        with pytest.raises(Conflict):
            await docket.vector_stores.create(project.id, "store")

    async with AsyncDocket(creds.url, "not-a-key", creds.account_id) as stranger:
        with pytest.raises(Unauthorized):
            await stranger.projects.get(project.id)
    async with AsyncDocket(creds.url, creds.api_key, "acct_someone_else") as other:
        with pytest.raises(Forbidden):
            await other.projects.get(project.id)


async def test_vector_stores(creds: Creds) -> None:
    async with async_client(creds) as docket:
        project = await docket.projects.create("vectors")
        file = await docket.files.upload(project.id, NOTES, filename="n.md")
        parsed = await docket.jobs.wait(
            await docket.parse.create(project.id, file.id), WAIT_SECONDS
        )
        result_id = parsed.result["parse_result_id"]  # type: ignore[index]

        store = await docket.vector_stores.create(project.id, "kb")
        assert (await docket.vector_stores.get(project.id, store.id)).name == "kb"
        assert [s.id async for s in docket.vector_stores.list(project.id)] == [store.id]
        indexing = await docket.vector_stores.add_files(project.id, store.id, [result_id])
        indexed = await docket.jobs.wait(indexing, timeout=WAIT_SECONDS)
        assert indexed.status == "succeeded", indexed
        found = await docket.vector_stores.search(project.id, store.id, "markdown", top_k=3)
        assert found.chunks and found.chunks[0].parse_result_id == result_id
        assert "deleted" in (await docket.vector_stores.delete(project.id, store.id)).message
        with pytest.raises(NotFound):
            await docket.vector_stores.get(project.id, store.id)


EVENTS_ROUTE = "/v1/projects/{project_id}/jobs/{job_id}/events"


async def test_wait_over_the_real_event_stream(creds: Creds) -> None:
    """With the API's event stream (the `events` branch): wait() reads it to the terminal
    status, in sequence order, without polling."""
    async with async_client(creds) as docket:
        paths = (await docket.transport.http.get("/openapi.json")).json()["paths"]
        if EVENTS_ROUTE not in paths:
            pytest.skip("this API has no job event stream yet (it lands with the events branch)")
        project = await docket.projects.create("events")
        file = await docket.files.upload(project.id, NOTES, filename="n.md")
        batch = await docket.parse.batch(project.id, [file.id])
        seen: list[JobEvent] = []
        done = await docket.jobs.wait(batch, timeout=WAIT_SECONDS, on_event=seen.append)
    assert done.status == "succeeded"
    ids = [int(event.id) for event in seen if event.id is not None]
    # Every event came from the stream (polling's have no id), in sequence order (the
    # events of one transition share its number).
    assert len(ids) == len(seen) and ids == sorted(ids), seen
    assert {"history", "status"} <= {event.kind for event in seen}
    assert seen[-1].kind == "status" and seen[-1].data == done
