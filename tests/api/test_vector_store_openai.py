"""The optional engine: an OpenAI-compatible embeddings endpoint, here a small local HTTP
server started by the test that speaks that protocol (POST /embeddings)."""

import hashlib
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client

from api.app import create_app
from api.deps import AppState
from core.settings import Settings
from core.storage import FileStorage
from docket.worker import build_worker, job_activities
from tests.helpers import wait_status
from tests.vector_helpers import TOPICS, add_results, chunk, create_store, insert_result, search

DIMS = 16
KEY = "sk-test-key"


def bag_of_words(text: str) -> list[float]:
    """A deterministic embedding: each word hashed into one of DIMS buckets."""
    vector = [0.0] * DIMS
    for word in text.lower().split():
        vector[hashlib.sha256(word.strip(".,'").encode()).digest()[0] % DIMS] += 1.0
    return vector


class Endpoint(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        data = [
            {"object": "embedding", "index": i, "embedding": bag_of_words(text)}
            for i, text in enumerate(body["input"])
        ]
        answer = json.dumps({"object": "list", "data": data, "model": body["model"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet


@pytest.fixture
def endpoint() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    handler = type("Handler", (Endpoint,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1", seen
    server.shutdown()
    thread.join()
    server.server_close()


@pytest.fixture
async def openai_api(
    settings: Settings, pool: asyncpg.Pool, client: Client, endpoint: tuple[str, Any]
) -> AsyncIterator[httpx.AsyncClient]:
    tuned = settings.model_copy(
        update={
            "task_queue": f"openai-{uuid.uuid4().hex}",
            "embeddings_base_url": endpoint[0],
            "embeddings_api_key": SecretStr(KEY),
        }
    )
    worker = build_worker(client, tuned, job_activities(pool, tuned))
    state = AppState(tuned, pool, client, FileStorage(tuned.storage_dir))
    transport = httpx.ASGITransport(app=create_app(tuned, state))
    async with worker, httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


async def test_openai_compatible_engine(
    openai_api: httpx.AsyncClient,
    headers: dict[str, str],
    pool: asyncpg.Pool,
    endpoint: tuple[str, list[dict[str, Any]]],
) -> None:
    created = await openai_api.post("/v1/projects", json={"name": "p"}, headers=headers)
    project = created.json()["id"]
    store = await create_store(
        openai_api, headers, project, engine="openai", embedding_model="test-embed"
    )
    assert (store["engine"], store["embedding_model"], store["dimensions"]) == (
        "openai",
        "test-embed",
        DIMS,
    )
    default = await create_store(openai_api, headers, project, "wheel")
    assert default["engine"] == "docket"  # the wheel model stays the default

    result = await insert_result(pool, project, [chunk(text) for text in TOPICS.values()])
    job = await add_results(openai_api, headers, project, store["id"], [result])
    done = await wait_status(openai_api, headers, project, job["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded", done
    found = await search(
        openai_api,
        headers,
        project,
        store["id"],
        query="the doctor and the patient",
        query_type="semantic",
    )
    assert found.status_code == 200, found.text
    assert found.json()["chunks"][0]["content"] == TOPICS["medicine"]

    seen = endpoint[1]
    assert {call["path"] for call in seen} == {"/v1/embeddings"}
    assert {call["auth"] for call in seen} == {f"Bearer {KEY}"}
    assert {call["model"] for call in seen} == {"test-embed"}
    assert any(TOPICS["bakery"] in call["input"] for call in seen)  # the indexing call
