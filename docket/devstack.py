"""`docket dev`: Postgres, Temporal, the worker and the API on one machine, with no setup.

`DevStack` owns the processes (reusable by tests and the bench); the `dev` command
(docket/cli.py) adds signal handling and the banner. Everything lives under
`settings.data_dir`. Every process runs in a session of its own, so a terminal's Ctrl-C or
hangup reaches `docket dev` alone, which stops the API and the worker first (the worker
drains), then Temporal, then Postgres; while it runs, it restarts a server that dies
(docket/supervise.py).
"""

import contextlib
import http.client
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from pydantic import SecretStr

from core.settings import Settings
from docket.embedded import (
    EmbeddedPostgres,
    TemporalDevServer,
    find_free_port,
    reclaim_orphan,
    record_owner,
)
from docket.supervise import Supervisor, exit_status, stop_children
from docket.telemetry import dev_metrics

log = logging.getLogger(__name__)

HEALTH_TIMEOUT = 60.0
POLL_SECONDS = 0.25  # how soon a stop request or a dead process is noticed
# Beyond the worker's graceful shutdown timeout: closing its pool, the API's drain.
STOP_MARGIN_SECONDS = 5.0
CHILDREN = ("worker", "api")


class StartupError(RuntimeError):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _write_private(path: Path, text: str) -> None:
    """Write a secret readable by the owner only; atomically, so no reader sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    tmp.chmod(0o600)  # O_CREAT's mode does not apply to a leftover file
    os.replace(tmp, path)


def _client_host(bind_host: str) -> str:
    """Where a local client reaches a server bound to `bind_host`."""
    if bind_host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if bind_host == "::":
        return "[::1]"
    return f"[{bind_host}]" if ":" in bind_host else bind_host


class DevStack:
    """start() brings everything up and returns once the API answers /healthz; wait() blocks
    until request_stop() or a process dies; stop() takes everything down (idempotent)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self.credentials_path = self.data_dir / "credentials.json"
        self.postgres: EmbeddedPostgres | None = None
        self.temporal: TemporalDevServer | None = None
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.env: dict[str, str] = {}
        self.api_url = ""
        self.metrics_urls: dict[str, str] = {}
        self.credentials: dict[str, str] = {}
        self.stop_signal: int | None = None
        self.stop_requested = False

    def request_stop(self, signum: int = signal.SIGTERM, frame: object = None) -> None:
        """Usable as a signal handler: only sets flags, which the waiting loops poll. (Not a
        threading.Event: set() from a handler can deadlock on the lock wait() holds.)"""
        self.stop_signal = self.stop_signal or signum
        self.stop_requested = True

    def _sleep(self, seconds: float) -> bool:
        """Sleep up to `seconds`, less if a stop is requested; returns stop_requested."""
        deadline = time.monotonic() + seconds
        while not self.stop_requested and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.stop_requested

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Processes of a run that was killed hard (SIGKILL) outlive it and hold its ports.
        for name in CHILDREN:
            reclaim_orphan(self._owner_file(name), f"-m docket {name} ", f"docket {name}")
        database_url = self.settings.database_url or self._start_postgres()
        temporal_address = self.settings.temporal_address or self._start_temporal()
        host = self.settings.api_host
        port = find_free_port(self.settings.api_port, host)
        self.api_url = f"http://{_client_host(host)}:{port}"
        self.env = {
            # Receivers of a dev stack run on this machine (unless told otherwise).
            "DOCKET_WEBHOOKS_ALLOW_PRIVATE": "true",
            **os.environ,
            **settings_env(self.settings),
            "DATABASE_URL": database_url,
            "TEMPORAL_ADDRESS": temporal_address,
            "TEMPORAL_NAMESPACE": self.settings.temporal_namespace,
            "DOCKET_DATA_DIR": str(self.data_dir),
            "DOCKET_SECRET_KEY": self._secret_key(),
            "DOCKET_API_HOST": host,
            "DOCKET_API_PORT": str(port),
            "DOCKET_LOG_LEVEL": self.settings.log_level,  # may come from a CLI flag
            **self._metrics_env(),
        }
        self._run_docket("migrate")
        self.credentials = self._credentials()
        for name in CHILDREN:
            self._check_stop()
            cmd = [sys.executable, "-m", "docket", name]
            self.children[name] = subprocess.Popen(
                cmd, env=self.env, stdin=subprocess.DEVNULL, start_new_session=True
            )
            record_owner(self._owner_file(name), self.children[name].pid)
        self._wait_healthy()

    def _metrics_env(self) -> dict[str, str]:
        env, self.metrics_urls = dev_metrics(self.settings, self.api_url, _client_host)
        return env

    def _owner_file(self, child: str) -> Path:
        return self.data_dir / f"{child}.owner"

    def _start_postgres(self) -> str:
        self.postgres = EmbeddedPostgres(self.data_dir / "postgres", 0)
        self.postgres.reclaim()  # before choosing ports: an orphan may hold the preferred one
        self.postgres.port = find_free_port(self.settings.postgres_port)
        return self.postgres.start()

    def _start_temporal(self) -> str:
        namespace = self.settings.temporal_namespace
        self.temporal = TemporalDevServer(self.data_dir / "temporal", 0, 0, namespace)
        self.temporal.reclaim()
        self.temporal.port = find_free_port(self.settings.temporal_port)
        self.temporal.ui_port = find_free_port(self.settings.temporal_ui_port)
        return self.temporal.start()

    def _secret_key(self) -> str:
        if self.settings.secret_key is not None:
            return self.settings.secret_key.get_secret_value()
        path = self.data_dir / "secret_key"
        with contextlib.suppress(FileNotFoundError):
            if secret := path.read_text().strip():
                return secret  # kept across runs: download URLs already handed out stay valid
        secret = secrets.token_urlsafe(32)
        _write_private(path, secret + "\n")
        return secret

    def _run_docket(self, *args: str) -> str:
        """Run a one-shot `python -m docket ...` to completion; returns its stdout."""
        self._check_stop()
        cmd = [sys.executable, "-m", "docket", *args]
        done = subprocess.run(cmd, env=self.env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise StartupError(f"`docket {' '.join(args)}` failed", exit_status(done.returncode))
        return done.stdout.decode()

    def _credentials(self) -> dict[str, str]:
        stored: dict[str, str] = {}
        with contextlib.suppress(OSError, ValueError):
            stored = json.loads(self.credentials_path.read_text())
        fresh_cluster = self.postgres is not None and self.postgres.initialized
        if fresh_cluster and stored:
            log.info("new database cluster: the key in %s is void", self.credentials_path)
        if not stored.get("account_id") or not stored.get("api_key") or fresh_cluster:
            output = self._run_docket("keys", "create", "--account", "dev", "--json")
            try:
                stored = json.loads(output.strip().splitlines()[-1])
            except (ValueError, IndexError) as exc:
                raise StartupError(f"unexpected `docket keys create` output: {output!r}") from exc
        creds = {key: stored[key] for key in ("account_id", "api_key")}
        creds = {"api_url": self.api_url, **creds}
        _write_private(self.credentials_path, json.dumps(creds, indent=2) + "\n")
        return creds

    def _dead(self, servers: bool = True) -> tuple[str, int] | None:
        """The first process of the stack (children, then servers) that has exited, with its
        exit code."""
        for name, proc in self.children.items():
            if (code := proc.poll()) is not None:
                return name, code
        for server in (self.temporal, self.postgres) if servers else ():
            if server is not None and (code := server.poll()) is not None:
                return server.name, code
        return None

    def _check_stop(self) -> None:
        if self.stop_requested:
            raise StartupError("interrupted", 0)

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while not api_healthy(self.api_url):
            self._check_stop()
            if dead := self._dead():
                raise StartupError(f"{dead[0]} exited with code {dead[1]}", exit_status(dead[1]))
            if time.monotonic() > deadline:
                raise StartupError(f"{self.api_url}/healthz not OK after {HEALTH_TIMEOUT:.0f}s")
            time.sleep(0.2)

    def wait(self) -> int:
        """Block until request_stop() (returns 0), the API or the worker exits, or a server
        stays dead beyond its restart attempts (returns a non-zero status). A server that dies
        is restarted meanwhile (docket/supervise.py)."""
        supervisor = Supervisor(self.settings, lambda: self.stop_requested)
        supervisor.watch(self.postgres)
        supervisor.watch(self.temporal)
        while not self._sleep(POLL_SECONDS):
            if (status := supervisor.check()) is not None:
                return status
            if dead := self._dead(servers=False):
                log.error("%s exited with code %s; stopping the dev stack", *dead)
                return exit_status(dead[1])
        log.info("received %s; stopping", signal.Signals(self.stop_signal or signal.SIGTERM).name)
        return 0

    def stop(self) -> None:
        """Stop the API and the worker (the worker drains its activities), then Temporal,
        then Postgres, each only once the ones before it have exited. Idempotent."""
        if self.children:
            log.info("stopping the API and the worker")
            grace = self.settings.worker_graceful_shutdown_seconds + STOP_MARGIN_SECONDS
            stop_children(self.children, grace)
        for name in self.children:
            self._owner_file(name).unlink(missing_ok=True)
        self.children.clear()
        for server in (self.temporal, self.postgres):
            if server is not None:
                if server.pid is not None and server.poll() is None:
                    log.info("stopping %s", server.name)
                server.stop()
        log.info("dev stack stopped")

    def banner(self) -> str:
        external = f"(external Temporal at {self.env.get('TEMPORAL_ADDRESS')})"
        ui = self.temporal.ui_url if self.temporal else external
        return (
            "\nDocket dev stack is up\n"
            f"  API:          {self.api_url}\n"
            f"  API docs:     {self.api_url}/docs\n"
            f"  Temporal UI:  {ui}\n"
            + "".join(f"  Metrics ({name}): {url}\n" for name, url in self.metrics_urls.items())
            + f"  Account:      {self.credentials['account_id']}\n"
            f"  API key:      {self.credentials['api_key']}\n"
            f"  Credentials:  {self.credentials_path}\n"
            "Press Ctrl-C to stop.\n\n"
        )


def api_healthy(api_url: str) -> bool:
    """Whether the API at `api_url` (http://host:port) answers its health check."""
    host, _, port = api_url.removeprefix("http://").rpartition(":")
    conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=2)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings `docket dev` was given (by flag, object or environment) as the `DOCKET_*`
    variables its children read, so that a worker or API it starts runs with the same ones."""
    given = settings.model_dump(mode="json", include=settings.model_fields_set)
    env: dict[str, str] = {}
    for name, value in given.items():
        secret = getattr(settings, name)
        if isinstance(secret, SecretStr):
            value = secret.get_secret_value()  # the dump masks it
        if value is not None:
            env[f"DOCKET_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env
