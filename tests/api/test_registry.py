"""The job kernel: an operation registered here, in a test, gets create (through the
kernel's `Creation`), get, list and the whole cancel path without a line elsewhere."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from api.creation import Creation, new_job
from api.deps import AppState
from api.guards import Project
from core.enums import JobOperationType, ProjectStatus
from core.params import Parameters
from core.settings import Settings
from core.storage import FileStorage
from docket.worker import build_worker, job_activities
from tests.api.probe_operation import ProbeActivities, ProbeWorkflow
from tests.helpers import eventually, wait_status
from workflows.registry import Operation, UnsupportedOperation, default_registry, single_job_input

PROBE = JobOperationType.SUMMARIZATION  # an operation Docket does not run: free for a probe


class ProbeParameters(Parameters):
    depth: int = 1


@pytest.fixture
async def probe_api(
    settings: Settings, pool: asyncpg.Pool, client: Client
) -> AsyncIterator[tuple[httpx.AsyncClient, AppState, ProbeActivities]]:
    registry = default_registry().with_operation(
        Operation(PROBE, ProbeWorkflow, ProbeWorkflow.run, single_job_input)
    )
    queue = f"probe-{uuid.uuid4().hex}"
    tuned = settings.model_copy(update={"task_queue": queue})
    probe = ProbeActivities()
    activities = [*job_activities(pool, tuned), *probe.all()]
    worker = build_worker(client, tuned, activities, registry=registry)
    state = AppState(tuned, pool, client, FileStorage(tuned.storage_dir), registry)
    transport = httpx.ASGITransport(app=create_app(tuned, state))
    async with worker, httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http, state, probe


def test_operations_docket_does_not_run_are_refused() -> None:
    with pytest.raises(UnsupportedOperation, match="summarization"):
        default_registry()[PROBE]
    assert {op.operation for op in default_registry()} == {
        JobOperationType.PARSE,
        JobOperationType.BATCH_PARSE,
        JobOperationType.CHUNK,
        JobOperationType.VECTOR_STORE,
    }


async def test_a_registered_operation_gets_the_whole_kernel(
    probe_api: tuple[httpx.AsyncClient, AppState, ProbeActivities],
    headers: dict[str, str],
) -> None:
    http, state, probe = probe_api
    created = await http.post("/v1/projects", json={"name": "probe"}, headers=headers)
    project_id = created.json()["id"]
    project = Project(project_id, headers["x-selected-account-id"], ProjectStatus.ACTIVE)
    creation = Creation(state.pool, state.temporal, state.settings, state.registry, project, None)

    job = new_job(project_id, PROBE, None, None, ProbeParameters(depth=3))
    response = await creation.single(job, ProbeParameters(depth=3), {"probe": True})
    assert response.status_code == 200
    await asyncio.wait_for(probe.started.wait(), timeout=30)
    running = await wait_status(http, headers, project_id, job.id, {"running"})
    assert running["operation"] == "summarization" and running["progress"] is None

    listed = await http.get(
        f"/v1/projects/{project_id}/jobs?operation=summarization", headers=headers
    )
    assert [item["id"] for item in listed.json()["items"]] == [job.id]

    url = f"/v1/projects/{project_id}/jobs/{job.id}/cancel"
    answer = await http.post(url, json={"reason": "probe done"}, headers=headers)
    assert answer.status_code == 202, answer.text
    done = await wait_status(http, headers, project_id, job.id, {"cancelled", "succeeded"})
    assert done["status"] == "cancelled"
    assert [e["status"] for e in done["history"]] == [
        "created",
        "started",
        "cancel_requested",
        "cancelled",
    ]
    assert done["history"][-1]["details"]["reason"] == "probe done"
    await eventually(lambda: asyncio.sleep(0, probe.saw_cancel), bool)
    assert (await http.post(url, headers=headers)).status_code == 200
