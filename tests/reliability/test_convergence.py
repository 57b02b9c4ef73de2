"""Postgres and Temporal never disagree for long (issue: convergence). Each test injects a
fault for real — a workflow terminated through the Temporal client, a directory in place of
a stored blob, a job row whose workflow Temporal does not know — and asserts the job ends in
the right terminal state within a deadline, with `progress` adding up and `pending = 0`."""

import asyncio
import shutil
from typing import Any

import asyncpg
import httpx
from temporalio.client import Client

from core.settings import Settings
from core.storage import FileStorage
from docket.reconciler import reconcile_once
from tests.api.test_batch import check_progress, start_batch, watch
from tests.documents import make_pdf
from tests.helpers import create_job, get_job, upload, wait_status
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
    job = await create_job(api, headers, project, "parse", {"source_document_id": file["id"]})
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
    pdf = make_pdf(pages=1500, lines_per_page=30)
    ids = [
        (await upload(tuned_api, headers, project, f"p{n}.pdf", pdf, "application/pdf"))["id"]
        for n in range(6)
    ]
    batch = await start_batch(tuned_api, headers, project, ids)
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


async def test_running_jobs_whose_workflows_temporal_lost_are_restarted(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
    client: Client,
    settings: Settings,
) -> None:
    """Fault 2: Temporal lost its state (its database deleted): rows say `running`, and no
    workflow exists. Made real here by removing the executions from Temporal itself."""
    file = await upload(api, headers, project, "a.txt", b"some words to parse", "text/plain")
    job = await create_job(api, headers, project, "parse", {"source_document_id": file["id"]})
    job_id = str(job["id"])
    await wait_status(api, headers, project, job_id, {"succeeded"})
    # The state a lost Temporal database leaves: the row running, the workflow unknown.
    await pool.execute(
        "UPDATE jobs SET status = 'running', completed_at = NULL, result = NULL WHERE id = $1",
        job_id,
    )
    await pool.execute("DELETE FROM parse_results WHERE job_id = $1", job_id)
    await client.workflow_service.delete_workflow_execution(delete_request(client, job_id))
    await wait_gone(client, job_id)
    assert await reconcile_once(pool, client, quick(settings), default_registry()) >= 1
    done = await wait_status(api, headers, project, job_id, TERMINAL)
    assert done["status"] == "succeeded", done


def delete_request(client: Client, workflow_id: str) -> Any:
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest

    return DeleteWorkflowExecutionRequest(
        namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=workflow_id)
    )


async def wait_gone(client: Client, workflow_id: str, within: float = 30) -> None:
    from temporalio.service import RPCError, RPCStatusCode

    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            await client.get_workflow_handle(workflow_id).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return
            raise
        assert loop.time() < deadline, f"{workflow_id} was never deleted"
        await asyncio.sleep(0.05)


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
    pdf = make_pdf(pages=300, lines_per_page=30)
    ids = [
        (await upload(tuned_api, headers, project, f"q{n}.pdf", pdf, "application/pdf"))["id"]
        for n in range(12)
    ]
    batch = await start_batch(tuned_api, headers, project, ids)
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
