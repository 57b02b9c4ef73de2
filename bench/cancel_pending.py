"""Cancel of a pending job: the HTTP round trip of POST .../cancel (200).

The jobs are made pending for real: a second API process creates them with POST .../parse
on a task queue no worker polls, so each has its workflow, queued and never started.
Baseline: one asyncpg conditional UPDATE (pending → cancelled) of such a job.

Two breakdowns of the gap, measured in the same rounds: the SQL the API runs for a cancel
(the job's state read with the key check, the transition, the job's JSON) through a pool
configured like the API's (no reset query on release), again through a pool with asyncpg's
default reset (as the API had before), and the Temporal cancel RPC.
"""

import asyncio
import functools
from typing import Any

import asyncpg
from temporalio.client import Client

from api.cancel import pending_cancel
from bench.client import TAG, Api, account_of, after, api_client, interleave, retire, sql
from bench.lean_http import LeanHttp, lean_http
from bench.sizes import Sizes
from bench.stack import unpolled_api
from bench.stats import Row, Summary, within
from db import accounts, jobs
from db.pool import SERVER_SETTINGS, keep_session
from db.transitions import transition
from docket.devstack import DevStack

NAME = "cancel_pending"
BENCH = "cancel pending job"
TARGET_P50_MS = 10.0
RAW_UPDATE = f"""
UPDATE {TAG} jobs SET status = 'cancelled', completed_at = clock_timestamp()
WHERE id = $1 AND status = 'pending'"""


async def api_pool(dsn: str, **kwargs: Any) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=2, max_size=10, server_settings=SERVER_SETTINGS, **kwargs
    )
    assert pool is not None
    return pool


class Pending:
    """A supply of fresh pending jobs, and the ways of cancelling one."""

    def __init__(
        self, api: Api, http: LeanHttp, project: str, file_id: str, account: str, key: str
    ):
        self.api, self.http, self.project, self.file_id = api, http, project, file_id
        self.account, self.key = account, key
        self.created: list[str] = []

    async def new(self) -> str:
        job_id = await self.api.parse(self.project, self.file_id)
        self.created.append(job_id)
        return job_id

    async def by_http(self, job_id: str) -> None:
        url = f"/v1/projects/{self.project}/jobs/{job_id}/cancel"
        status, content = await self.http.request("POST", url)
        assert status == 200, content

    async def by_api_sql(self, pool: asyncpg.Pool, job_id: str) -> None:
        """The statements of api/cancel.py for a pending job, in order."""
        key = accounts.Key(accounts.hash_key(self.key), self.account)
        state = await jobs.status_for(pool, key, job_id, self.project)
        assert state.access is accounts.Access.GRANTED
        assert await transition(pool, job_id, pending_cancel(None))
        assert await jobs.get(pool, job_id, self.project, self.account) is not None


async def measure(stack: DevStack, url: str, sizes: Sizes) -> list[Row]:
    client = await Client.connect(stack.env["TEMPORAL_ADDRESS"])
    dsn = stack.env["DATABASE_URL"]
    pools = [await api_pool(dsn, reset=keep_session), await api_pool(dsn)]
    try:
        async with (
            api_client(stack) as main,
            api_client(stack, url) as api,
            lean_http(url, stack.credentials) as http,
            sql(stack) as conn,
        ):
            project = await main.project("cancel-pending")
            file_id = await main.upload(project, "tiny.txt", b"a tiny document")
            account = await account_of(conn, project)
            key = stack.credentials["api_key"]
            pending = Pending(api, http, project, file_id, account, key)

            samples = await interleave(
                sizes.latency_runs,
                # Each times the cancel alone; its job is created untimed just before.
                after(pending.new, pending.by_http),
                after(pending.new, functools.partial(conn.execute, RAW_UPDATE)),
                after(pending.new, functools.partial(pending.by_api_sql, pools[0])),
                after(pending.new, functools.partial(pending.by_api_sql, pools[1])),
                after(pending.new, lambda job_id: client.get_workflow_handle(job_id).cancel()),
                warmup=sizes.warmup,
            )
            await retire(conn, client, pending.created)
    finally:
        for pool in pools:
            await pool.close()
    by_http, raw, api_sql, api_sql_default_reset, temporal = (Summary.latency(s) for s in samples)
    row = Row(
        BENCH, "POST cancel (pending job) → 200", by_http, raw, f"p50 ≤ {TARGET_P50_MS:.0f} ms"
    )
    row.met = within(row, TARGET_P50_MS)
    row.extra = {
        "api_sql_path_p50_ms": api_sql.p50,
        "api_sql_path_default_reset_p50_ms": api_sql_default_reset.p50,
        "temporal_cancel_rpc_p50_ms": temporal.p50,
    }
    return [
        row,
        Row(BENCH, "the API's 3 statements via its pool (breakdown)", api_sql, raw),
        Row(BENCH, "same, asyncpg's default reset on release (before)", api_sql_default_reset, raw),
        Row(BENCH, "Temporal cancel RPC alone (breakdown)", temporal, raw),
    ]


def run(stack: DevStack, sizes: Sizes) -> list[Row]:
    with unpolled_api(stack) as url:
        return asyncio.run(measure(stack, url, sizes))
