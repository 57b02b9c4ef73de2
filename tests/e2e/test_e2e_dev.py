"""`docket dev` end to end, as a user runs it: a real `python -m docket dev` subprocess on
fresh data, the HTTP API driven from outside with the generated credentials, then SIGINT and
a check that nothing is left running."""

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from docket.embedded import find_free_port
from tests.helpers import eventually, upload, wait_status

pytestmark = pytest.mark.timeout(120)
STARTUP_TIMEOUT = 60.0
EXIT_TIMEOUT = 60.0
MARKDOWN = b"# Field notes\n\nDocket parses markdown end to end.\n\n- first point\n- second point\n"
CANCEL_PATH = "/v1/projects/{project_id}/jobs/{job_id}/cancel"


def _dev_env(data_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    """The caller's environment minus anything pointing at external servers or another stack."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DOCKET_", "TEMPORAL_")) and key != "DATABASE_URL"
    }
    env.update({f"DOCKET_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    return {**env, "DOCKET_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}


def _tail(path: Path, lines: int = 60) -> str:
    text = path.read_text(errors="replace") if path.exists() else "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _leftovers(data_dir: Path, session: int) -> dict[int, str]:
    """Live processes of the `docket dev` run (pid: command line): in its session (so its
    children, whatever their command line), or with its data dir on their command line."""
    found = {}
    for proc in psutil.process_iter(["cmdline", "status"]):
        with contextlib.suppress(psutil.Error, OSError):
            if proc.info["status"] == psutil.STATUS_ZOMBIE or proc.pid == os.getpid():
                continue
            cmdline = " ".join(proc.info["cmdline"] or [])
            if str(data_dir) in cmdline or os.getsid(proc.pid) == session:
                found[proc.pid] = cmdline
    return found


async def _kill_everything(proc: "subprocess.Popen[bytes]", data_dir: Path) -> None:
    """After a failure: SIGTERM the process group (`docket dev` then stops its servers), and
    SIGKILL the group and any straggler as a last resort."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        await asyncio.to_thread(proc.wait, 20)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    for pid in _leftovers(data_dir, proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()


def _accepts_connections(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _read_credentials(path: Path) -> dict[str, str] | None:
    """credentials.json once `docket dev` has written it (atomically: never half a file)."""
    with contextlib.suppress(FileNotFoundError):
        creds: dict[str, str] = json.loads(path.read_text())
        return creds
    return None


def _start_dev(env: dict[str, str], cwd: Path, log_path: Path) -> "subprocess.Popen[bytes]":
    with log_path.open("wb") as log_file:  # the child keeps its own copy of the fd
        return subprocess.Popen(
            [sys.executable, "-m", "docket", "dev"],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killpg() reaches every child
        )


async def _wait_ready(proc: "subprocess.Popen[bytes]", credentials: Path) -> dict[str, str]:
    async def probe() -> dict[str, str] | None:
        if (code := proc.poll()) is not None:
            raise AssertionError(f"`docket dev` exited with code {code} during startup")
        if (creds := _read_credentials(credentials)) is None:
            return None
        with contextlib.suppress(httpx.TransportError):
            async with httpx.AsyncClient(timeout=2) as http:
                if (await http.get(f"{creds['api_url']}/healthz")).status_code == 200:
                    return creds
        return None

    creds = await eventually(probe, lambda found: found is not None, STARTUP_TIMEOUT)
    assert creds is not None
    return creds


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


def _private_dir() -> Path:
    """Not under tmp_path when root: the Postgres account must traverse every ancestor, and
    each new pytest session (a colleague's, say) resets /tmp/pytest-of-root to 0700."""
    return Path(tempfile.mkdtemp(prefix="docket-e2e-")).resolve()


async def test_docket_dev_serves_a_parse_and_stops_cleanly(tmp_path: Path) -> None:
    data_root = _private_dir() if os.geteuid() == 0 else tmp_path
    data_dir = data_root / "data"
    ports: dict[str, int] = {}
    while len(set(ports.values())) < 4:  # four distinct OS-chosen ports, none a default one
        ports = {name: find_free_port(0) for name in ("api", "postgres", "temporal", "temporal_ui")}
    log_path = tmp_path / "docket-dev.log"
    proc = _start_dev(_dev_env(data_dir, ports), tmp_path, log_path)
    try:
        try:
            creds = await _wait_ready(proc, data_dir / "credentials.json")
            assert creds["api_url"] == f"http://127.0.0.1:{ports['api']}", creds
            await _use_the_api(creds)
            assert await _stop(proc) == 0
            left = _leftovers(data_dir, proc.pid)
            assert not left, f"left running after `docket dev` exited: {left}"
            assert not _accepts_connections(ports["api"]), "the API port still accepts connections"
        except Exception as exc:
            tail = _tail(log_path)
            raise AssertionError(
                f"{exc}\ndata: {data_dir}\n--- tail of {log_path} ---\n{tail}"
            ) from exc
        if data_root != tmp_path:  # kept after a failure, for its server logs
            shutil.rmtree(data_root, ignore_errors=True)
    finally:
        if proc.poll() is None or _leftovers(data_dir, proc.pid):
            await _kill_everything(proc, data_dir)
        proc.wait()
