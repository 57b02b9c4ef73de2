"""Hostile documents through a real worker (Postgres, Temporal, the parse pool)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from api.app import create_app
from api.deps import AppState
from core.settings import Settings
from core.storage import FileStorage
from tests.activities.parsing import hostile_corpus as corpus
from tests.helpers import create_job, eventually, get_job, upload, wait_status

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TERMINAL = {"succeeded", "failed", "cancelled"}
LIMIT_DEADLINE = 30.0  # generous: the first parse also starts the forkserver (seconds)
TINY_SECONDS = 2.0  # the bar for a tiny job while a huge one parses
IDLE_CPU_SECONDS = 0.05  # what the parse processes may burn in a window once cancelled
IDLE_WINDOW = 0.3


def _parse_processes() -> list[psutil.Process]:
    """The parse processes of this test process: children of the forkserver."""
    return [
        child
        for server in psutil.Process().children()
        for child in server.children()
        if "forkserver" in " ".join(server.cmdline())
    ]


def _cpu(processes: list[psutil.Process]) -> float:
    return sum(corpus.cpu_seconds(process.pid) or 0.0 for process in processes)


async def test_a_paragraph_bomb_fails_at_once_with_one_log_line(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bomb = corpus.docx_paragraph_bomb(tmp_path / "bomb.docx", 300_000).read_bytes()
    file = await upload(api, headers, project, "bomb.docx", bomb, DOCX)
    with caplog.at_level(logging.INFO):
        job = await create_job(api, headers, project, "parse", {"source_document_id": file["id"]})
        done = await wait_status(api, headers, project, job["id"], TERMINAL, LIMIT_DEADLINE)
    assert done["status"] == "failed"
    assert (
        "document has more than 200,000 paragraphs; the limit is 200,000 (DOCKET_MAX_PARAGRAPHS)"
        in (done["error"])
    )
    mine = [r for r in caplog.records if job["id"] in r.getMessage()]
    assert [r.levelno for r in mine if file["id"] in r.getMessage()] == [logging.INFO]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.exc_info]


async def test_a_tiny_job_finishes_beside_a_huge_one_and_cancel_leaves_no_cpu_busy(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, big_pdf: bytes
) -> None:
    huge = await upload(api, headers, project, "huge.pdf", big_pdf, "application/pdf")
    tiny = await upload(api, headers, project, "tiny.txt", b"a tiny document", "text/plain")
    big = await create_job(api, headers, project, "parse", {"source_document_id": huge["id"]})
    await wait_status(api, headers, project, big["id"], {"running"})
    await eventually(_probe, bool)
    began = time.monotonic()
    small = await create_job(api, headers, project, "parse", {"source_document_id": tiny["id"]})
    done = await wait_status(api, headers, project, small["id"], TERMINAL)
    assert done["status"] == "succeeded"
    assert time.monotonic() - began <= TINY_SECONDS
    assert (await get_job(api, headers, project, big["id"]))["status"] == "running"

    answer = await api.post(f"/v1/projects/{project}/jobs/{big['id']}/cancel", headers=headers)
    assert answer.status_code == 202
    done = await wait_status(api, headers, project, big["id"], TERMINAL)
    assert done["status"] == "cancelled"
    processes = _parse_processes()
    before = _cpu(processes)
    await asyncio.sleep(IDLE_WINDOW)  # a measuring window, not a wait for state
    assert _cpu(processes) - before <= IDLE_CPU_SECONDS


async def _probe() -> list[psutil.Process]:
    return await asyncio.to_thread(_parse_processes)


JUST_UNDER_PARAGRAPHS = 190_000  # DOCKET_MAX_PARAGRAPHS is 200,000
JUST_UNDER_WORDS = 51  # 190,000 x 262 characters: 49.8M, DOCKET_MAX_TEXT_CHARS is 50M
JUST_UNDER_DEADLINE = 600.0


@pytest.fixture
async def roomy_api(
    settings: Settings, pool: asyncpg.Pool, client: Client, worker: Worker
) -> AsyncIterator[httpx.AsyncClient]:
    """The same worker, with the default upload limit rather than the suite's 4 MB."""
    roomy = settings.model_copy(update={"max_upload_bytes": Settings().max_upload_bytes})
    app = create_app(roomy, AppState(roomy, pool, client, FileStorage(roomy.storage_dir)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://docket.test") as http:
        yield http


@pytest.mark.slow
@pytest.mark.timeout(JUST_UNDER_DEADLINE + 120)  # the suite's 120 s covers setup and the test
async def test_a_document_just_under_the_limits_succeeds_and_its_result_reads_back(
    roomy_api: httpx.AsyncClient, headers: dict[str, str], project: str, tmp_path: Path
) -> None:
    """The issue's result that was too large for one row: ~20k chunks and ~100 MB of JSON,
    stored as rows in batches and read back whole by the GET."""
    api = roomy_api
    path = corpus.text_paragraphs(tmp_path / "big.txt", JUST_UNDER_PARAGRAPHS, JUST_UNDER_WORDS)
    file = await upload(api, headers, project, "big.txt", path.read_bytes(), "text/plain")
    job = await create_job(api, headers, project, "parse", {"source_document_id": file["id"]})
    done = await wait_status(api, headers, project, job["id"], TERMINAL, JUST_UNDER_DEADLINE)
    assert done["status"] == "succeeded", done.get("error")
    result_id = done["result"]["parse_result_id"]
    got = await api.get(f"/v1/projects/{project}/parse/{result_id}/result", headers=headers)
    assert got.status_code == 200
    chunks = got.json()["chunks"]
    assert len(chunks) == done["result"]["chunk_count"] > 10_000
    assert chunks[0]["content"].startswith("word") and chunks[-1]["content"].endswith("word")
