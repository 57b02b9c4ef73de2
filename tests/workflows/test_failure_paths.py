"""Failures recorded in Temporal carry no absolute paths of this machine: a failing parse's
workflow history, fetched through the Temporal client, names no file by where it lives
(the checkout, the virtualenv, the storage root, the temp dir), while its stack traces
still say which module and line failed."""

import errno
import json
import sys
import tempfile
import traceback
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import temporalio.api.failure.v1
from temporalio.client import Client, WorkflowFailureError
from temporalio.converter import PayloadConverter

import docket.worker
from activities.cancels import CancelBoard
from api.app import create_app
from api.deps import AppState
from core.failures import ScrubbingFailureConverter, data_converter, scrub
from core.settings import Settings
from core.storage import FileStorage
from docket.worker import build_worker, job_activities
from tests.helpers import create_job, upload, wait_status

ROOT = Path(__file__).resolve().parents[2]
# The whole retry of a storage failure: WORK_RETRY's waits of 1, 2 and 4 s, and the parses.
RETRIED_WITHIN = 60
TERMINAL = {"succeeded", "failed", "cancelled"}


class RefusingStorage(FileStorage):
    """The local store, but a blob in `refused` cannot be opened: an OSError naming the
    blob's absolute path, as the file system raises it."""

    refused: set[str]

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.refused = set()

    def _readable(self, key: str) -> Path:
        if key in self.refused:
            raise PermissionError(errno.EACCES, "Permission denied", str(self.path_of(key)))
        return super()._readable(key)


@pytest.fixture(scope="module")
def tuned(settings: Settings) -> Settings:
    return settings.model_copy(update={"task_queue": f"failure-paths-{uuid.uuid4().hex}"})


@pytest.fixture(scope="module")
def storage(tuned: Settings) -> RefusingStorage:
    return RefusingStorage(tuned.storage_dir)


@pytest.fixture(scope="module")
def scrubbing_client(client: Client) -> Client:
    """The suite's client with the converter every Docket process uses (core/temporal.py)."""
    config = client.config()
    config["data_converter"] = data_converter()
    return Client(**config)


@pytest.fixture(scope="module")
async def worker(
    scrubbing_client: Client, tuned: Settings, pool: asyncpg.Pool, storage: RefusingStorage
) -> AsyncIterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(docket.worker, "open_storage", lambda _: storage)
        activities = job_activities(pool, tuned, CancelBoard())
    async with build_worker(scrubbing_client, tuned, activities):
        yield


@pytest.fixture(scope="module")
async def paths_api(
    tuned: Settings, pool: asyncpg.Pool, client: Client, storage: RefusingStorage, worker: None
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(tuned, AppState(tuned, pool, client, storage))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://docket.test") as http:
        yield http


def machine_paths(settings: Settings) -> list[str]:
    """Where this machine keeps things, as a history must not name them."""
    return sorted(
        {
            "/work/",
            str(ROOT),
            sys.prefix,
            sys.base_prefix,
            str(settings.storage_dir),
            str(settings.data_dir),
            tempfile.gettempdir() + "/",
        }
    )


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


async def recorded_history(client: Client, job_id: str) -> str:
    """Every string of the workflow's history (event names, messages, stack traces...) as
    Temporal serves it, one per line."""
    handle = client.get_workflow_handle(job_id)
    with pytest.raises(WorkflowFailureError):  # the row is failed; the workflow ends so too
        await handle.result()
    history = await handle.fetch_history()
    return "\n".join(strings(json.loads(history.to_json())))


async def parse_fails(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, file_id: str
) -> dict[str, Any]:
    job = await create_job(api, headers, project, "parse", {"source_document_id": file_id})
    done = await wait_status(api, headers, project, job["id"], TERMINAL, within=RETRIED_WITHIN)
    assert done["status"] == "failed", done
    return done


async def test_a_parse_error_is_recorded_without_paths(
    paths_api: httpx.AsyncClient, client: Client, headers: dict[str, str], tuned: Settings
) -> None:
    project = await new_project(paths_api, headers)
    pdf = b"%PDF-1.4 garbage"
    file = await upload(paths_api, headers, project, "broken.pdf", pdf, "application/pdf")
    done = await parse_fails(paths_api, headers, project, file["id"])
    assert done["error"].startswith("cannot parse broken.pdf")
    recorded = await recorded_history(client, done["id"])
    assert "activityTaskFailedEventAttributes" in recorded
    assert "workflowExecutionFailedEventAttributes" in recorded
    for path in machine_paths(tuned):
        assert path not in recorded, path
    # The stack traces are kept, relative to the import roots: the module and line that
    # failed, in the activity (Docket's and the SDK's frames) and in the workflow.
    assert 'File "activities/parse.py", line' in recorded
    assert 'File "temporalio/' in recorded
    assert 'File "workflows/job.py", line' in recorded


async def test_an_os_error_naming_the_stored_file_is_recorded_without_it(
    paths_api: httpx.AsyncClient,
    client: Client,
    headers: dict[str, str],
    tuned: Settings,
    storage: RefusingStorage,
) -> None:
    project = await new_project(paths_api, headers)
    content = uuid.uuid4().hex.encode()
    file = await upload(paths_api, headers, project, "locked.txt", content, "text/plain")
    key = file["storage_key"]
    storage.refused.add(key)
    done = await parse_fails(paths_api, headers, project, file["id"])
    # What the job says names the file by its key, not by where the store keeps it.
    assert done["error"] == f"[Errno 13] Permission denied: '…/{key}'", done["error"]
    recorded = await recorded_history(client, done["id"])
    assert f"…/{key}" in recorded
    for path in [*machine_paths(tuned), str(storage.path_of(key))]:
        assert path not in recorded, path
    assert str(storage.path_of(key)).startswith(str(tuned.storage_dir))  # the test's premise


async def new_project(api: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await api.post("/v1/projects", json={"name": "paths"}, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def raised(error: BaseException) -> BaseException:
    """`error` with a traceback, as an exception caught in an activity has one."""
    try:
        raise error
    except BaseException as caught:
        return caught


def test_scrubbing_relativises_import_roots_and_redacts_the_rest() -> None:
    tmp = tempfile.gettempdir()
    assert scrub(f'File "{ROOT}/activities/parse.py", line 9') == (
        'File "activities/parse.py", line 9'
    )
    assert scrub(f"cannot open '{tmp}/docket-blob-x1'") == "cannot open '…/docket-blob-x1'"
    assert scrub(f"file://{tmp}/store/blobs/ab") == "file://…/ab"
    # Not paths of this machine: URLs, routes, relative paths.
    for text in ("http://127.0.0.1:8000/v1/projects/p", "GET /v1/projects/p", "a/b/c.pdf"):
        assert scrub(text) == text


def test_every_cause_in_the_chain_is_scrubbed() -> None:
    inner = OSError(errno.EIO, "Input/output error", f"{tempfile.gettempdir()}/x/y")
    outer = raised(RuntimeError(f"reading {ROOT}/core/storage.py failed"))
    outer.__cause__ = inner
    failure = temporalio.api.failure.v1.Failure()
    ScrubbingFailureConverter().to_failure(outer, PayloadConverter.default, failure)
    assert failure.message == "reading core/storage.py failed"
    assert failure.cause.message == "[Errno 5] Input/output error: '…/y'"
    assert "test_failure_paths.py" in failure.stack_trace
    assert str(ROOT) not in failure.stack_trace
    assert str(ROOT) in "".join(traceback.format_tb(outer.__traceback__))  # the premise
