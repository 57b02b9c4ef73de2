"""A batch of N tiny documents (10,000) through the real stack: submit → done, and a second
batch cancelled early on → settled. Reports wall times, docs/s, the largest event history
of any workflow run, and SQL statements per child job (bench/sqlstats.py).

Baseline, in the same run on the same Temporal server: a bare parent workflow fanning out to
trivial children with the same window (batch_max_concurrency). The dev server, not Docket,
caps how many child workflows per second can run; the ratio shows how close Docket gets.
Progress is polled with a tagged SQL count (not GET of the batch, whose `progress` lists all
N children and would load the machine it measures).
"""

import asyncio
import functools
import time
import uuid
from collections.abc import Callable

import asyncpg
from temporalio.client import Client

from bench.bare_workflow import FanOutWorkflow, bare_worker
from bench.client import DEADLINE, TAG, Api, api_client, gather_bounded, sql
from bench.sizes import Sizes
from bench.sqlstats import per_unit, snapshot
from bench.stats import Row, Summary
from docket.devstack import DevStack

NAME = "batch_scale"
BENCH = "batch"
UPLOAD_CONCURRENCY = 16
POLL = 0.25
CANCEL_SETTLE_MAX_S = 30.0
CANCEL_AFTER = 0.1  # cancel the second batch once this fraction of it has succeeded
PROGRESS = f"""
SELECT {TAG} (SELECT status FROM jobs WHERE id = $1) AS status,
       count(*) FILTER (WHERE status = 'succeeded') AS succeeded
FROM jobs WHERE parent_job_id = $1"""


async def until(
    conn: asyncpg.Connection, batch_id: str, done: Callable[[str, int], bool], deadline: float
) -> str:
    """Poll the batch until `done(status, succeeded)`; returns its status."""
    limit = time.monotonic() + deadline
    while True:
        row = await conn.fetchrow(PROGRESS, batch_id)
        assert row is not None
        if done(row["status"], row["succeeded"]):
            return str(row["status"])
        if time.monotonic() > limit:
            raise TimeoutError(f"batch {batch_id} still {row['status']}")
        await asyncio.sleep(POLL)


async def max_history(client: Client, workflow_id: str) -> int:
    """The longest event history among all runs (continue-as-new chain) of a workflow."""
    longest = 0
    async for execution in client.list_workflows(f"WorkflowId = '{workflow_id}'"):
        handle = client.get_workflow_handle(workflow_id, run_id=execution.run_id)
        longest = max(longest, len((await handle.fetch_history()).events))
    return longest


async def raw_fan_out(client: Client, children: int, window: int) -> float:
    async with bare_worker(client) as queue:
        began = time.perf_counter()
        await client.execute_workflow(
            FanOutWorkflow.run,
            args=[children, window],
            id=f"bench-fanout-{uuid.uuid4().hex}",
            task_queue=queue,
        )
        return time.perf_counter() - began


async def submit(api: Api, project: str, ids: list[str]) -> str:
    url = f"/v1/projects/{project}/parse/batch"
    batch = await api.json("POST", url, json={"source_document_ids": ids})
    return str(batch["id"])


async def measure(stack: DevStack, sizes: Sizes) -> list[Row]:
    documents = sizes.batch_documents
    deadline = max(DEADLINE, documents / 5)  # the dev server manages ~25 children/s
    client = await Client.connect(stack.env["TEMPORAL_ADDRESS"])
    async with api_client(stack) as api, sql(stack) as conn:
        project = await api.project("batch-scale")
        began = time.perf_counter()
        uploads = [
            functools.partial(api.upload, project, f"tiny/{n}.txt", f"tiny document {n}".encode())
            for n in range(documents)
        ]
        ids = await gather_bounded(UPLOAD_CONCURRENCY, uploads)
        upload_s = time.perf_counter() - began

        fan_out_s = await raw_fan_out(
            client, sizes.fanout_children, stack.settings.batch_max_concurrency
        )

        before = await snapshot(conn)
        began = time.perf_counter()
        batch = await submit(api, project, ids)
        status = await until(conn, batch, lambda s, _: s not in ("pending", "running"), deadline)
        complete_s = time.perf_counter() - began
        statements = per_unit(before, await snapshot(conn), documents)
        assert status == "succeeded", status
        history = await max_history(client, batch)

        second = await submit(api, project, ids)
        wanted = int(CANCEL_AFTER * documents) if not sizes.quick else 0
        await until(conn, second, lambda _, done: done >= wanted, deadline)
        began = time.perf_counter()
        answer = await api.call("POST", f"/v1/projects/{project}/jobs/{second}/cancel")
        assert answer.status_code in (200, 202), answer.text  # 200: still pending
        status = await until(conn, second, lambda s, _: s not in ("pending", "running"), deadline)
        cancel_s = time.perf_counter() - began
        assert status == "cancelled", status
        history = max(history, await max_history(client, second))

    settle = Row(
        BENCH,
        f"cancel-all of a running {documents}-doc batch → settled",
        Summary.single(cancel_s, "s"),
        target=f"≤ {CANCEL_SETTLE_MAX_S:.0f} s",
        met=cancel_s <= CANCEL_SETTLE_MAX_S,
    )
    counted = "statements" if "statements_per_unit" in statements else "transactions"
    per_child = float(statements.get("statements_per_unit", statements["transactions_per_unit"]))
    return [
        Row(
            BENCH,
            f"{documents} tiny docs: submit → done",
            Summary.single(complete_s, "s"),
            extra={"upload_s": round(upload_s, 1)},
        ),
        Row(
            BENCH,
            f"child jobs/s (raw: bare parent, {sizes.fanout_children} trivial children)",
            Summary.single(documents / complete_s, "children/s"),
            Summary.single(sizes.fanout_children / fan_out_s, "children/s"),
        ),
        settle,
        Row(BENCH, "max event history of any workflow run", Summary.single(history, "events")),
        Row(
            BENCH,
            f"SQL {counted} per child job",
            Summary.single(per_child, counted),
            extra=statements,
        ),
    ]


def run(stack: DevStack, sizes: Sizes) -> list[Row]:
    return asyncio.run(measure(stack, sizes))
