"""Postgres and Temporal never disagree for long (issue: convergence). Each test injects a
fault for real — a workflow terminated through the Temporal client, a directory in place of
a stored blob, a job row whose workflow Temporal does not know — and asserts the job ends in
the right terminal state within a deadline, with `progress` adding up and `pending = 0`."""

import shutil
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.deps import AppState
from core.settings import Settings
from core.storage import FileStorage
from docket.embedded import find_free_port, temporal_cli_path
from docket.reconciler import reconcile_once
from docket.worker import build_worker, job_activities
from tests.api.test_batch import check_progress, pdf_batch, start_batch, watch
from tests.api.test_cancel import start_parse
from tests.documents import make_pdf
from tests.helpers import create_job, eventually, get_job, upload, wait_status
from workflows.client import SEARCH_ATTRIBUTES
from workflows.registry import default_registry

TERMINAL = {"succeeded", "partially_succeeded", "failed", "cancelled"}
# The API settles a cancel of a terminated workflow in the request itself.
AT_ONCE = 5.0


def quick(settings: Settings) -> Settings:
    """Convergence settings that act on jobs of any age, all of them in one round."""
    return settings.model_copy(update={"reconcile_after_seconds": 0, "reconcile_batch": 10_000})


async def running_parse(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pdf: bytes
) -> str:
    file = await upload(api, headers, project, "big.pdf", pdf, "application/pdf")
    job = await start_parse(api, headers, project, file["id"])
    await wait_status(api, headers, project, str(job["id"]), {"running"})
    return str(job["id"])


async def test_cancel_of_a_terminated_workflow_settles_in_the_request(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, big_pdf: bytes, client: Client
) -> None:
    """Fault 1: 202 on a terminated workflow used to leave the job `running` forever."""
    job_id = await running_parse(api, headers, project, big_pdf)
    await client.get_workflow_handle(job_id).terminate(reason="operator")
    answer = await api.post(
        f"/v1/projects/{project}/jobs/{job_id}/cancel", json={"reason": "stop"}, headers=headers
    )
    assert answer.status_code == 202, answer.text
    done = await wait_status(api, headers, project, job_id, TERMINAL, within=AT_ONCE)
    assert done["status"] == "cancelled"
    assert [e["status"] for e in done["history"]][-2:] == ["cancel_requested", "cancelled"]
    assert done["history"][-1]["details"]["reason"] == "stop"


async def test_cancel_of_a_terminated_batch_settles_every_child(
    tuned_api: httpx.AsyncClient, headers: dict[str, str], project: str, client: Client
) -> None:
    """Fault 1 for a batch: its children stayed `pending` (287 of them) after the 202."""
    batch = await pdf_batch(tuned_api, headers, project, pages=1500, count=6)
    batch_id = str(batch["id"])
    await wait_status(tuned_api, headers, project, batch_id, {"running"})
    await client.get_workflow_handle(batch_id).terminate(reason="operator")
    url = f"/v1/projects/{project}/jobs/{batch_id}/cancel"
    assert (await tuned_api.post(url, headers=headers)).status_code == 202
    done = await watch(tuned_api, headers, project, batch_id, TERMINAL, within=AT_ONCE)
    assert done["status"] == "cancelled"
    progress = check_progress(done)["progress"]
    assert progress["pending"] == 0 and progress["cancelled"] >= 4


async def test_a_terminated_workflow_fails_its_job_with_the_cause(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    big_pdf: bytes,
    client: Client,
    pool: asyncpg.Pool,
    settings: Settings,
) -> None:
    """No cancel at all: the convergence loop finds the closed workflow and fails the job."""
    job_id = await running_parse(api, headers, project, big_pdf)
    await client.get_workflow_handle(job_id).terminate(reason="operator")
    assert await reconcile_once(pool, client, quick(settings), default_registry()) >= 1
    done = await get_job(api, headers, project, job_id)
    assert done["status"] == "failed"
    assert done["error"] == "the job's workflow was terminated"


@pytest.mark.slow  # restarts Temporal: ~40 s
async def test_a_batch_converges_after_temporal_loses_its_database(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
    settings: Settings,
    server_tmp: Path,
) -> None:
    """Fault 2: with a batch in flight, the Temporal dev server is stopped, its SQLite file
    deleted, and it is started again on the same port: the batch used to stay `running`
    with its children `pending` forever. Now the loop starts the batch again, the child
    whose workflow was lost fails with a clear error, and the rest run to the end."""
    db_file, port = server_tmp / "temporal.sqlite", find_free_port(0)
    tuned = quick(settings).model_copy(
        update={
            "task_queue": f"lost-{uuid.uuid4().hex}",
            "batch_max_concurrency": 1,
            "worker_graceful_shutdown_seconds": 0,
        }
    )
    pdf = make_pdf(pages=600, lines_per_page=30)
    ids = [
        (await upload(api, headers, project, f"l{n}.pdf", pdf, "application/pdf"))["id"]
        for n in range(4)
    ]
    first = await dev_server(db_file, port)
    try:
        state = AppState(tuned, pool, first.client, FileStorage(tuned.storage_dir))
        transport = httpx.ASGITransport(app=create_app(tuned, state))
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://t") as http,
            build_worker(first.client, tuned, job_activities(pool, tuned)),
        ):
            batch = await start_batch(http, headers, project, ids)
            batch_id = str(batch["id"])
            await eventually(
                lambda: get_job(api, headers, project, batch_id),
                lambda job: any(c["status"] == "running" for c in job["progress"]["child_jobs"]),
            )
    finally:
        await first.shutdown()
    db_file.unlink()
    second = await dev_server(db_file, port)
    try:
        async with build_worker(second.client, tuned, job_activities(pool, tuned)):
            assert await reconcile_once(pool, second.client, tuned, default_registry()) >= 1
            done = await watch(api, headers, project, batch_id, TERMINAL, within=90)
    finally:
        await second.shutdown()
    progress = check_progress(done)["progress"]
    assert done["status"] == "partially_succeeded", done
    assert progress["pending"] == 0 and progress["succeeded"] == 3 and progress["failed"] == 1
    lost = [c for c in progress["child_jobs"] if c["status"] == "failed"]
    assert "its workflow was lost" in lost[0]["error"]


async def dev_server(db_file: Path, port: int) -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli_path(),
        dev_server_database_filename=str(db_file),
        search_attributes=SEARCH_ATTRIBUTES,
        port=port,
        ui=False,
    )


async def test_an_unreadable_blob_fails_the_job_after_bounded_retries(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, settings: Settings
) -> None:
    """Fault 3: a directory in place of the blob (EACCES/EIO/ESTALE stand-in) was retried
    forever with `error: null`."""
    file = await upload(api, headers, project, "doc.txt", b"words", "text/plain")
    blob = FileStorage(settings.storage_dir).path_of(file["storage_key"])
    blob.unlink()
    blob.mkdir()
    try:
        job = await create_job(api, headers, project, "parse", {"source_document_id": file["id"]})
        done = await wait_status(api, headers, project, str(job["id"]), TERMINAL, within=60)
    finally:
        shutil.rmtree(blob)
    assert done["status"] == "failed"
    assert done["error"].startswith(
        f"could not read the stored file of source document {file['id']}"
    )


async def test_no_child_starts_after_a_batch_cancel_was_accepted(
    tuned_api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    """Fault 9: a child started 92 ms after the batch's 202 (and succeeded)."""
    batch = await pdf_batch(tuned_api, headers, project, pages=300, count=12)
    batch_id = str(batch["id"])
    await wait_status(tuned_api, headers, project, batch_id, {"running"})
    url = f"/v1/projects/{project}/jobs/{batch_id}/cancel"
    assert (await tuned_api.post(url, headers=headers)).status_code == 202
    done = await watch(tuned_api, headers, project, batch_id, TERMINAL)
    assert done["status"] == "cancelled"
    assert check_progress(done)["progress"]["pending"] == 0
    late = await pool.fetchval(
        """SELECT count(*) FROM jobs c
           JOIN job_events s ON s.job_id = c.id AND s.status = 'started'
           JOIN job_events r ON r.job_id = c.parent_job_id AND r.status = 'cancel_requested'
           WHERE c.parent_job_id = $1 AND s.timestamp > r.timestamp""",
        batch_id,
    )
    assert late == 0
