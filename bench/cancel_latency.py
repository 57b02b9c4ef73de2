"""Cancel of a running parse job: POST .../cancel → `cancelled` visible in GET.

Baseline, in the same run and on the same Temporal server: a bare workflow whose activity
heartbeats with the same throttle and is cancelled with WAIT_CANCELLATION_COMPLETED;
`handle.cancel()` → the result raises. The ratio is what Docket adds on top of Temporal:
the HTTP round trips, the Postgres reads and writes, and the cleanup activity.
"""

import argparse
import asyncio
import contextlib
import time
import uuid
from datetime import timedelta

import httpx
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.worker import Worker

from bench.bare_workflow import BareWorkflow, busy
from bench.stack import running_stack
from bench.stats import Summary, ratio_line, summarize
from docket.settings import get_settings
from tests.documents import make_pdf

POLL = 0.005
DEADLINE = 30.0


async def poll(http: httpx.AsyncClient, url: str, headers: dict[str, str], want: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while (await http.get(url, headers=headers)).json()["status"] != want:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} never became {want}")
        await asyncio.sleep(POLL)


async def docket_runs(api_url: str, credentials: dict[str, str], runs: int) -> list[float]:
    headers = {
        "x-api-key": credentials["api_key"],
        "x-selected-account-id": credentials["account_id"],
    }
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        project = (await http.post("/v1/projects", json={"name": "bench"}, headers=headers)).json()
        base = f"/v1/projects/{project['id']}"
        pdf = make_pdf(pages=1500, lines_per_page=30)
        upload = await http.post(f"{base}/files", files={"file": ("big.pdf", pdf)}, headers=headers)
        file_id = upload.json()["id"]
        latencies = []
        for _ in range(runs):
            job = await http.post(
                f"{base}/parse", json={"source_document_id": file_id}, headers=headers
            )
            job_url = f"{base}/jobs/{job.json()['id']}"
            await poll(http, job_url, headers, "running")
            began = time.perf_counter()
            answer = await http.post(f"{job_url}/cancel", headers=headers)
            assert answer.status_code == 202, answer.text
            await poll(http, job_url, headers, "cancelled")
            latencies.append(time.perf_counter() - began)
        return latencies


async def raw_runs(address: str, throttle: timedelta, runs: int) -> list[float]:
    client = await Client.connect(address)
    queue = f"bench-raw-{uuid.uuid4().hex}"
    latencies = []
    async with Worker(
        client,
        task_queue=queue,
        workflows=[BareWorkflow],
        activities=[busy],
        max_heartbeat_throttle_interval=throttle,
        default_heartbeat_throttle_interval=throttle,
    ):
        for _ in range(runs):
            handle = await client.start_workflow(
                BareWorkflow.run, id=uuid.uuid4().hex, task_queue=queue
            )
            # Same starting point as Docket's: the activity is running and heartbeating.
            await until_activity_runs(handle)
            began = time.perf_counter()
            await handle.cancel()
            with contextlib.suppress(WorkflowFailureError):
                await handle.result()
            latencies.append(time.perf_counter() - began)
    return latencies


async def until_activity_runs(handle: WorkflowHandle[BareWorkflow, None]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not (await handle.describe()).raw_description.pending_activities:
        if time.monotonic() > deadline:
            raise TimeoutError("the bare activity never started")
        await asyncio.sleep(POLL)


def main(argv: list[str] | None = None) -> tuple[Summary, Summary]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)
    throttle = get_settings().heartbeat_throttle
    with running_stack() as stack:
        assert stack.env["TEMPORAL_ADDRESS"]
        ours = summarize(
            "docket: cancel running parse → cancelled",
            asyncio.run(docket_runs(stack.api_url, stack.credentials, args.runs)),
        )
        raw = summarize(
            "raw temporal: handle.cancel() → result",
            asyncio.run(raw_runs(stack.env["TEMPORAL_ADDRESS"], throttle, args.runs)),
        )
    for summary in (ours, raw):
        print(summary.line())
    print(ratio_line("docket / raw", ours, raw))
    return ours, raw


if __name__ == "__main__":
    main()
