"""Temporal visibility: Docket's search attributes and static summary, found through the
Temporal CLI, and `docket temporal setup` registering them on a bare cluster (idempotent).
The time-skipping test server is not involved: the suite starts workflows with search
attributes on dev servers only (workflows/ tests start theirs without)."""

import asyncio
import json
import os
import subprocess
import sys
import uuid

import httpx
import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.enums import JobOperationType
from core.settings import Settings
from docket.embedded import temporal_cli_path
from tests.helpers import create_job, eventually, upload, wait_status
from workflows.client import SEARCH_ATTRIBUTES, Visibility, start_job
from workflows.registry import default_registry

TERMINAL = {"succeeded", "failed", "cancelled"}
CLI_TIMEOUT = 30


def list_workflows(address: str, query: str) -> list[str]:
    """Workflow ids `temporal workflow list --query` returns."""
    command = [temporal_cli_path(), "workflow", "list", "--address", address]
    done = subprocess.run(
        [*command, "--query", query, "--output", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=CLI_TIMEOUT,
    )
    return sorted(row["execution"]["workflowId"] for row in json.loads(done.stdout or "[]"))


async def test_a_projects_workflows_are_found_by_its_search_attributes(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    temporal_env: WorkflowEnvironment,
    client: Client,
) -> None:
    other = await api.post("/v1/projects", json={"name": "other"}, headers=headers)
    projects = {project: 2, other.json()["id"]: 1}
    jobs: dict[str, list[str]] = {}
    for project_id, count in projects.items():
        text = await upload(api, headers, project_id, "v.txt", b"visible", "text/plain")
        body = {"source_document_id": text["id"]}
        made = [await create_job(api, headers, project_id, "parse", body) for _ in range(count)]
        for job in made:
            await wait_status(api, headers, project_id, job["id"], TERMINAL)
        jobs[project_id] = sorted(job["id"] for job in made)

    address = client.service_client.config.target_host
    for project_id, expected in jobs.items():
        query = f"DocketProjectId='{project_id}' AND DocketOperation='parse'"
        found = await eventually(
            lambda q=query: asyncio.to_thread(list_workflows, address, q),
            lambda ids, want=expected: ids == want,
        )
        assert found == expected
    account = headers["x-selected-account-id"]
    everything = await asyncio.to_thread(list_workflows, address, f"DocketAccountId='{account}'")
    assert everything == sorted(jobs[project] + jobs[other.json()["id"]])

    described = await client.get_workflow_handle(jobs[project][0]).describe()
    summary = await described.static_summary()
    assert summary is not None and summary.startswith("parse of file_")


async def test_temporal_setup_registers_the_attributes_once(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    bare = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli_path(), ui=False
    )
    try:
        # Before setup, a job still starts: without its attributes, with a warning naming
        # the command to run (an upgraded cluster must not refuse every new job).
        job_id = f"job_{uuid.uuid4().hex}"
        visibility = Visibility("proj_x", "acct_x", "parse of file_x")
        await start_job(
            bare.client, settings, default_registry(), job_id, JobOperationType.PARSE, visibility
        )
        assert (await bare.client.get_workflow_handle(job_id).describe()).id == job_id
        assert "docket temporal setup" in caplog.text
        address = bare.client.service_client.config.target_host
        env = {**os.environ, "TEMPORAL_ADDRESS": address, "TEMPORAL_NAMESPACE": "default"}
        command = [sys.executable, "-m", "docket", "temporal", "setup"]
        for _ in range(2):  # the second run finds them all and adds nothing
            done = await asyncio.to_thread(
                subprocess.run,
                command,
                env=env,
                capture_output=True,
                text=True,
                timeout=CLI_TIMEOUT,
            )
            assert done.returncode == 0, done.stderr
        assert "added none" in done.stderr
        listed = await bare.client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
        for key in SEARCH_ATTRIBUTES:
            assert key.name in listed.custom_attributes
    finally:
        await bare.shutdown()
