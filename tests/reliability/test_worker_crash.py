"""A worker process SIGKILLed in the middle of parses: another worker takes the work over,
and every job still succeeds exactly once (one result, one history, exact batch counts)."""

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from tests.documents import make_pdf
from tests.helpers import eventually, get_job, upload
from tests.reliability.processes import (
    Workers,
    api_client,
    history,
    new_tenant,
    parse_attempts,
    parse_in_flight,
    result_count,
    start_parse,
    statuses,
    worker_env,
    workflows_closed,
)

PAGES = 250  # about a second of parsing each; side by side they take several times that
SINGLE_JOBS = 3
BATCH_DOCS = 3
TERMINAL = {"succeeded", "partially_succeeded", "failed", "cancelled"}
SUCCEEDED_HISTORY = ["created", "started", "completed", "succeeded"]


@pytest.fixture(scope="module")
def medium_pdf() -> bytes:
    return make_pdf(pages=PAGES, lines_per_page=30)


@pytest.mark.slow  # kills and restarts worker processes: ~35 s
async def test_jobs_survive_a_worker_killed_mid_parse_exactly_once(
    settings: Settings,
    pool: asyncpg.Pool,
    client: Client,
    temporal_env: WorkflowEnvironment,
    medium_pdf: bytes,
    tmp_path: Path,
) -> None:
    queue = f"crash-{uuid.uuid4().hex}"
    # A dead worker's activity is retried once its heartbeat is missed for 2 s.
    tuned = settings.model_copy(update={"task_queue": queue, "heartbeat_timeout_seconds": 2})
    address = temporal_env.client.service_client.config.target_host
    env = worker_env(settings, address, queue)
    with Workers(env, tmp_path) as workers:
        doomed = workers.start()  # starting up while we upload
        async with api_client(tuned, pool, client) as api:
            headers, project = await new_tenant(api, pool)
            file_ids = []
            for n in range(SINGLE_JOBS + BATCH_DOCS):
                file = await upload(
                    api, headers, project, f"d{n}.pdf", medium_pdf, "application/pdf"
                )
                file_ids.append(file["id"])
            singles = [
                await start_parse(api, headers, project, file_id)
                for file_id in file_ids[:SINGLE_JOBS]
            ]
            response = await api.post(
                f"/v1/projects/{project}/parse/batch",
                json={"source_document_ids": file_ids[SINGLE_JOBS:]},
                headers=headers,
            )
            assert response.status_code == 200, response.text
            batch_id = str(response.json()["id"])
            children = [c["job_id"] for c in response.json()["progress"]["child_jobs"]]
            parses = singles + children
            await doomed.wait_ready()

            async def everything_under_way() -> dict[str, str]:
                """Each parse: "flying" (mid-document), or its job's status."""
                flying = await asyncio.gather(*(parse_in_flight(client, j) for j in parses))
                status = await statuses(pool, parses)
                return {
                    j: "flying" if f else status[j] for j, f in zip(parses, flying, strict=True)
                }

            # Kill it with every parse mid-document (any that a fast machine has already
            # finished count as done: they must simply stay done).
            await eventually(
                everything_under_way,
                lambda now: (
                    set(now.values()) <= {"flying", "succeeded"} and "flying" in now.values()
                ),
                within=60,
            )
            doomed.kill()
            at_kill = await statuses(pool, parses)
            interrupted = [j for j in parses if at_kill[j] == "running"]
            assert interrupted, at_kill  # the crash did hit work in progress

            rescuer = workers.start()
            try:
                done = await eventually(
                    lambda: statuses(pool, [*parses, batch_id]),
                    lambda s: set(s.values()) <= TERMINAL,
                    within=90,
                )
            except AssertionError as err:
                raise AssertionError(f"{err}\n{workers.logs()}") from None
            assert rescuer.running(), rescuer.log_tail()

            assert set(done.values()) == {"succeeded"}, done
            for job_id in parses:
                job = await get_job(api, headers, project, job_id)
                assert [e["status"] for e in job["history"]] == SUCCEEDED_HISTORY, job_id
                assert job["result"]["page_count"] == PAGES
                assert await result_count(pool, job_id) == 1
                stored = await pool.fetchval(
                    "SELECT id FROM parse_results WHERE job_id = $1", job_id
                )
                assert job["result"]["parse_result_id"] == stored
            for job_id in interrupted:
                # Really taken over: the parse that completed was a retry, not the first try.
                assert await parse_attempts(client, job_id) >= 2, job_id

            batch = await get_job(api, headers, project, batch_id)
            assert batch["result"] == {
                "total": BATCH_DOCS,
                "succeeded": BATCH_DOCS,
                "failed": 0,
                "cancelled": 0,
            }
            progress = batch["progress"]
            counts = {
                k: progress[k] for k in ("total", "succeeded", "failed", "cancelled", "pending")
            }
            assert counts == {
                "total": BATCH_DOCS,
                "succeeded": BATCH_DOCS,
                "failed": 0,
                "cancelled": 0,
                "pending": 0,
            }
            assert {c["job_id"] for c in progress["child_jobs"]} == set(children)
            assert all(c["status"] == "succeeded" for c in progress["child_jobs"])
            assert all(c["parse_result_id"] for c in progress["child_jobs"])
            batch_history = await history(pool, batch_id)
            assert batch_history.count("started") == 1, batch_history
            assert batch_history.count("succeeded") == 1, batch_history
            assert not {"failed", "cancelled"} & set(batch_history), batch_history

            # Temporal agrees: every execution closed normally, none is left stuck.
            closed = await workflows_closed(client, [*parses, batch_id])
            assert set(closed.values()) == {WorkflowExecutionStatus.COMPLETED}, closed
            await rescuer.terminate(within=30)
            assert rescuer.proc.returncode == 0, rescuer.log_tail()
