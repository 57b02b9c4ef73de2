"""`docket dev` end to end, as a user runs it: a real `python -m docket dev` subprocess on
fresh data, the HTTP API driven from outside with the generated credentials, then SIGINT and
a check that nothing is left running."""

import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.docket.devprocess import running_dev
from tests.helpers import eventually, upload, wait_status

pytestmark = pytest.mark.timeout(120)
EXIT_TIMEOUT = 60.0
MARKDOWN = b"# Field notes\n\nDocket parses markdown end to end.\n\n- first point\n- second point\n"
CANCEL_PATH = "/v1/projects/{project_id}/jobs/{job_id}/cancel"


def _accepts_connections(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def _use_the_api(creds: dict[str, str]) -> None:
    headers = {"x-api-key": creds["api_key"], "x-selected-account-id": creds["account_id"]}
    async with httpx.AsyncClient(base_url=creds["api_url"], headers=headers, timeout=10) as http:
        created = await http.post("/v1/projects", json={"name": "e2e"})
        assert created.status_code == 200, created.text
        project = created.json()["id"]

        file = await upload(http, headers, project, "notes.md", MARKDOWN, "text/markdown")
        assert file["size_bytes"] == len(MARKDOWN)
        parse = await http.post(
            f"/v1/projects/{project}/parse", json={"source_document_id": file["id"]}
        )
        assert parse.status_code == 200, parse.text
        job_id = parse.json()["id"]

        terminal = {"succeeded", "partially_succeeded", "failed", "cancelled"}
        job = await wait_status(http, headers, project, job_id, terminal)
        assert job["status"] == "succeeded", job
        history = [event["status"] for event in job["history"]]
        assert history == ["created", "started", "completed", "succeeded"], job

        result_id = job["result"]["parse_result_id"]
        result = await http.get(f"/v1/projects/{project}/parse/{result_id}/result")
        assert result.status_code == 200, result.text
        assert "Docket parses markdown end to end." in result.text, result.text
        assert "second point" in result.text, result.text

        listed = await http.get(f"/v1/projects/{project}/jobs", params={"status": "succeeded"})
        assert listed.status_code == 200, listed.text
        items: list[dict[str, Any]] = listed.json()["items"]
        assert job_id in [item["id"] for item in items], items
        assert {item["status"] for item in items} == {"succeeded"}, items

        cancel = await http.post(f"/v1/projects/{project}/jobs/{job_id}/cancel")
        assert cancel.status_code == 400, cancel.text

        openapi = await http.get("/openapi.json")
        assert openapi.status_code == 200, openapi.text
        assert CANCEL_PATH in openapi.json()["paths"]


async def _stop(proc: "subprocess.Popen[bytes]") -> int:
    # What Ctrl-C sends; to `docket dev` alone (a terminal signals the whole foreground group),
    # so its own shutdown path must stop the worker, the API and the servers.
    proc.send_signal(signal.SIGINT)

    async def exit_code() -> int | None:
        return proc.poll()

    code = await eventually(exit_code, lambda code: code is not None, EXIT_TIMEOUT)
    assert code is not None
    return code


async def test_docket_dev_serves_a_parse_and_stops_cleanly(tmp_path: Path) -> None:
    async with running_dev(tmp_path) as dev:
        creds = await dev.wait_ready()
        assert creds["api_url"] == f"http://127.0.0.1:{dev.ports['api']}", creds
        await _use_the_api(creds)
        assert await _stop(dev.proc) == 0
        left = dev.leftovers()
        assert not left, f"left running after `docket dev` exited: {left}"
        assert not _accepts_connections(dev.ports["api"]), "the API port still accepts connections"
