"""A real `python -m docket dev` for tests, started as a user starts it: its own session (so
a signal to its process group is what a terminal's Ctrl-C or hangup delivers), fresh data,
four distinct free ports, and a clean environment. `DevProcess` finds the pids of the
processes it runs (from their owner files), and `running_dev` leaves nothing running, whatever
the test did: SIGTERM to the group, then SIGKILL to whatever of the run is still alive.
"""

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from docket.embedded import find_free_port
from tests.helpers import create_job, eventually, upload

STARTUP_TIMEOUT = 60.0
PORTS = ("api", "postgres", "temporal", "temporal_ui")
# Where each process of the stack records "<pid> <owner pid>", relative to the data dir.
OWNER_FILES = {
    "api": "api.owner",
    "worker": "worker.owner",
    "temporal": "temporal/temporal.owner",
    "postgres": "postgres.owner",
}


# Processes of a stopped stack must be gone within this (they exit on their own).
LEFTOVER_DEADLINE = 5.0


def dev_env(data_dir: Path, ports: dict[str, int], **settings: str) -> dict[str, str]:
    """The caller's environment minus anything pointing at external servers or another stack,
    plus `settings` (environment variables)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DOCKET_", "TEMPORAL_")) and key != "DATABASE_URL"
    }
    env.update({f"DOCKET_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    return {**env, "DOCKET_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", **settings}


def free_ports() -> dict[str, int]:
    """Four distinct OS-chosen ports, none a default one."""
    ports: dict[str, int] = {}
    while len(set(ports.values())) < len(PORTS):
        ports = {name: find_free_port(0) for name in PORTS}
    return ports


def private_dir() -> Path:
    """Not under tmp_path: the Postgres account (when root) must traverse every ancestor,
    and each new pytest session (a colleague's, say) resets /tmp/pytest-of-root to 0700."""
    return Path(tempfile.mkdtemp(prefix="docket-dev-test-")).resolve()


def tail(path: Path, lines: int = 60) -> str:
    text = path.read_text(errors="replace") if path.exists() else "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def read_credentials(path: Path) -> dict[str, str] | None:
    """credentials.json once `docket dev` has written it (atomically: never half a file)."""
    with contextlib.suppress(FileNotFoundError):
        creds: dict[str, str] = json.loads(path.read_text())
        return creds
    return None


def alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie has exited)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class DevProcess:
    """One `docket dev` run on a private data dir."""

    def __init__(self, root: Path, **settings: str) -> None:
        self.root, self.data_dir = root, root / "data"
        self.ports = free_ports()
        self.log_path = root / "docket-dev.log"
        self.env = dev_env(self.data_dir, self.ports, **settings)
        with self.log_path.open("wb") as log_file:  # the child keeps its own copy of the fd
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "docket", "dev"],
                env=self.env,
                cwd=root,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, as in a terminal
            )

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.ports['temporal']}"

    @property
    def postgres_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.ports['postgres']}/docket"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pid(self, name: str) -> int:
        """The pid of one process of the stack (api, worker, temporal, postgres)."""
        return int((self.data_dir / OWNER_FILES[name]).read_text().split()[0])

    async def wait_ready(self) -> dict[str, str]:
        """Until the API answers /healthz; the credentials."""

        async def probe() -> dict[str, str] | None:
            if (code := self.proc.poll()) is not None:
                raise AssertionError(f"`docket dev` exited with code {code} during startup")
            if (creds := read_credentials(self.data_dir / "credentials.json")) is None:
                return None
            with contextlib.suppress(httpx.TransportError):
                async with httpx.AsyncClient(timeout=2) as http:
                    if (await http.get(f"{creds['api_url']}/healthz")).status_code == 200:
                        return creds
            return None

        creds = await eventually(probe, lambda found: found is not None, STARTUP_TIMEOUT)
        assert creds is not None
        return creds

    def signal_group(self, sig: int) -> None:
        """What a terminal does on Ctrl-C (SIGINT) or hangup (SIGHUP)."""
        os.killpg(self.proc.pid, sig)

    async def wait_exit(self, within: float) -> int:
        async def exit_code() -> int | None:
            return self.proc.poll()

        code = await eventually(exit_code, lambda code: code is not None, within)
        assert code is not None
        return code

    def leftovers(self) -> dict[int, str]:
        """Live processes of the run (pid: command line): in its session, with its data dir
        on their command line, or in their environment (the API and the worker)."""
        found = {}
        for proc in psutil.process_iter(["cmdline", "status"]):
            with contextlib.suppress(psutil.Error, OSError):
                if proc.info["status"] == psutil.STATUS_ZOMBIE or proc.pid == os.getpid():
                    continue
                cmdline = " ".join(proc.info["cmdline"] or [])
                ours = str(self.data_dir) in cmdline or os.getsid(proc.pid) == self.proc.pid
                if ours or proc.environ().get("DOCKET_DATA_DIR") == str(self.data_dir):
                    found[proc.pid] = cmdline
        return found

    async def assert_nothing_left(self, within: float = LEFTOVER_DEADLINE) -> None:
        """Every process of the run ends: a grandchild (the parse forkserver) exits once its
        parent has, a moment after `docket dev` returns, so this polls with a deadline."""
        await eventually(
            lambda: asyncio.sleep(0, self.leftovers()), lambda found: not found, within
        )

    async def kill_everything(self) -> None:
        """After a failure: SIGTERM the process group (`docket dev` then stops its servers),
        and SIGKILL the group and any straggler as a last resort."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(self.proc.wait, 20)
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        for pid in self.leftovers():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait()


@contextlib.asynccontextmanager
async def running_dev(tmp_path: Path, **settings: str) -> AsyncIterator[DevProcess]:
    """A `docket dev` run; a failure inside gets the tail of its log. Its data is removed
    afterwards unless the test failed (then its server logs are kept, and named)."""
    root = private_dir() if os.geteuid() == 0 else tmp_path
    dev = DevProcess(root, **settings)
    try:
        yield dev
    except Exception as exc:
        raise AssertionError(
            f"{exc}\ndata: {dev.data_dir}\n--- tail of {dev.log_path} ---\n{tail(dev.log_path)}"
        ) from exc
    finally:
        if dev.proc.poll() is None or dev.leftovers():
            await dev.kill_everything()
        dev.proc.wait()
    if root != tmp_path:
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class DevApi:
    http: httpx.AsyncClient
    headers: dict[str, str]
    project: str

    async def parse(self, name: str, content: bytes) -> str:
        """Upload a PDF and start a parse job of it; the job id."""
        file = await upload(self.http, self.headers, self.project, name, content, "application/pdf")
        job = await create_job(
            self.http, self.headers, self.project, "parse", {"source_document_id": file["id"]}
        )
        return str(job["id"])


@contextlib.asynccontextmanager
async def dev_api(creds: dict[str, str]) -> AsyncIterator[DevApi]:
    """An HTTP client on the run's API, its credentials' headers, and a new project."""
    headers = {"x-api-key": creds["api_key"], "x-selected-account-id": creds["account_id"]}
    async with httpx.AsyncClient(base_url=creds["api_url"], timeout=30) as http:
        created = await http.post("/v1/projects", json={"name": "dev-test"}, headers=headers)
        assert created.status_code == 200, created.text
        yield DevApi(http, headers, str(created.json()["id"]))


async def exit_times(pids: dict[str, int], within: float) -> dict[str, float]:
    """Poll until every process in `pids` has exited; when each was first seen gone
    (time.monotonic())."""
    gone: dict[str, float] = {}

    async def probe() -> dict[str, float]:
        now = time.monotonic()
        for name, pid in pids.items():
            if name not in gone and not alive(pid):
                gone[name] = now
        return gone

    return await eventually(probe, lambda found: len(found) == len(pids), within)
