"""A batch of N tiny documents (default 10,000) through the real stack: submit → done, and
a second batch cancelled mid-way → settled. Reports wall times, the largest event history
of any workflow run, and Postgres transactions per child job."""

import argparse
import asyncio
import time
from typing import Any

import asyncpg
import httpx
from temporalio.client import Client

from bench.stack import running_stack

UPLOAD_CONCURRENCY = 16
POLL = 0.25
TERMINAL = {"succeeded", "partially_succeeded", "failed", "cancelled"}


async def upload_all(
    http: httpx.AsyncClient, base: str, headers: dict[str, str], count: int
) -> list[str]:
    gate = asyncio.Semaphore(UPLOAD_CONCURRENCY)

    async def one(n: int) -> str:
        async with gate:
            files = {"file": (f"tiny/{n}.txt", f"tiny document number {n}".encode())}
            response = await http.post(f"{base}/files", files=files, headers=headers)
            response.raise_for_status()
            file_id: str = response.json()["id"]
            return file_id

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def get(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await http.get(url, headers=headers)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    progress = body["progress"]
    total = progress["succeeded"] + progress["failed"] + progress["cancelled"] + progress["pending"]
    assert progress["total"] == total, "progress invariant broken"
    return body


async def until(
    http: httpx.AsyncClient, url: str, headers: dict[str, str], done: Any
) -> dict[str, Any]:
    while True:
        body = await get(http, url, headers)
        if done(body):
            return body
        await asyncio.sleep(POLL)


async def max_history(client: Client, workflow_id: str) -> int:
    """The longest event history among all runs (continue-as-new chain) of a workflow."""
    longest = 0
    async for execution in client.list_workflows(f"WorkflowId = '{workflow_id}'"):
        handle = client.get_workflow_handle(workflow_id, run_id=execution.run_id)
        history = await handle.fetch_history()
        longest = max(longest, len(history.events))
    return longest


async def transactions(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        value: int = await conn.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
        return value
    finally:
        await conn.close()


async def scenario(
    api_url: str, creds: dict[str, str], dsn: str, address: str, documents: int, cancel_after: float
) -> dict[str, float]:
    headers = {"x-api-key": creds["api_key"], "x-selected-account-id": creds["account_id"]}
    client = await Client.connect(address)
    async with httpx.AsyncClient(base_url=api_url, timeout=120) as http:
        project = (await http.post("/v1/projects", json={"name": "scale"}, headers=headers)).json()
        base = f"/v1/projects/{project['id']}"
        began = time.perf_counter()
        ids = await upload_all(http, base, headers, documents)
        upload_s = time.perf_counter() - began

        tx_before = await transactions(dsn)
        began = time.perf_counter()
        batch = (
            await http.post(
                f"{base}/parse/batch", json={"source_document_ids": ids}, headers=headers
            )
        ).json()
        submit_s = time.perf_counter() - began
        done = await until(
            http, f"{base}/jobs/{batch['id']}", headers, lambda b: b["status"] in TERMINAL
        )
        complete_s = time.perf_counter() - began
        tx_per_child = (await transactions(dsn) - tx_before) / documents
        assert done["status"] == "succeeded", done["result"]
        history = await max_history(client, batch["id"])

        second = (
            await http.post(
                f"{base}/parse/batch", json={"source_document_ids": ids}, headers=headers
            )
        ).json()
        url = f"{base}/jobs/{second['id']}"
        await until(
            http, url, headers, lambda b: b["progress"]["succeeded"] >= cancel_after * documents
        )
        began = time.perf_counter()
        answer = await http.post(f"{url}/cancel", headers=headers)
        assert answer.status_code == 202, answer.text
        cancelled = await until(http, url, headers, lambda b: b["status"] in TERMINAL)
        cancel_s = time.perf_counter() - began
        assert cancelled["status"] == "cancelled"
        history = max(history, await max_history(client, second["id"]))
        return {
            "documents": documents,
            "upload_s": upload_s,
            "submit_s": submit_s,
            "complete_s": complete_s,
            "docs_per_s": documents / complete_s,
            "cancel_settle_s": cancel_s,
            "cancelled_children": cancelled["progress"]["cancelled"],
            "max_history_events": history,
            "pg_transactions_per_child": tx_per_child,
        }


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument(
        "--cancel-after",
        type=float,
        default=0.2,
        help="cancel the second batch once this fraction has succeeded",
    )
    args = parser.parse_args(argv)
    with running_stack() as stack:
        figures = asyncio.run(
            scenario(
                stack.api_url,
                stack.credentials,
                stack.env["DATABASE_URL"],
                stack.env["TEMPORAL_ADDRESS"],
                args.documents,
                args.cancel_after,
            )
        )
    for key, value in figures.items():
        print(f"{key:<28} {value:,.2f}")
    return figures


if __name__ == "__main__":
    main()
