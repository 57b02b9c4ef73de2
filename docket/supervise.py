"""Supervision of the embedded servers under `docket dev`.

A server that dies is started again on its port and data dir (so running workflows finish,
and the API and the worker reconnect by themselves; they answer 503 meanwhile), after a
back-off that doubles from `dev_restart_backoff_seconds` up to
`dev_restart_backoff_max_seconds`. A server that has served `dev_restart_stable_seconds`
since its restart starts counting afresh; one that is still dead after `dev_restart_limit`
attempts makes `check()` give up, and `docket dev` stops everything and exits non-zero.
"""

import logging
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.settings import Settings
from docket.embedded.process import _Server

log = logging.getLogger(__name__)

# What stops a docket process gracefully: Ctrl-C, a deploy or `kill`, a terminal hangup.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def exit_status(code: int) -> int:
    """A shell-style status for a process that should not have exited: never 0."""
    return 128 - code if code < 0 else code or 1


@dataclass
class _Watched:
    server: _Server
    attempts: int = 0  # restarts since the server last served for the stable period
    restart_at: float | None = None  # set while the server is dead: when to try again
    up_since: float = field(default_factory=time.monotonic)
    last_code: int = 0


class Supervisor:
    """Call `check()` periodically; it restarts dead servers and says when to give up."""

    def __init__(self, settings: Settings, stopping: Callable[[], bool]) -> None:
        self.settings = settings
        self.stopping = stopping  # a stop was requested: abandon a restart under way
        self.watched: list[_Watched] = []

    def watch(self, server: _Server | None) -> None:
        if server is not None:
            self.watched.append(_Watched(server))

    def _backoff(self, attempt: int) -> float:
        first = self.settings.dev_restart_backoff_seconds
        return float(min(first * 2 ** (attempt - 1), self.settings.dev_restart_backoff_max_seconds))

    def check(self) -> int | None:
        """One round. Returns None while everything is up or being restarted, or the exit
        status for `docket dev` once a server has used up its restart attempts."""
        for watched in self.watched:
            if (gave_up := self._check(watched)) is not None:
                return gave_up
        return None

    def _check(self, watched: _Watched) -> int | None:
        now = time.monotonic()
        if watched.restart_at is not None:
            if now < watched.restart_at or self.stopping():
                return None
            return self._restart(watched)
        code = watched.server.poll()
        if code is None:
            if now - watched.up_since >= self.settings.dev_restart_stable_seconds:
                watched.attempts = 0
            return None
        watched.last_code = code
        return self._schedule(watched, f"died (exit code {code})")

    def _schedule(self, watched: _Watched, what: str) -> int | None:
        name, limit = watched.server.name, self.settings.dev_restart_limit
        if watched.attempts >= limit:
            log.error(
                "%s %s; giving up after %d restart attempts: stopping the dev stack",
                name,
                what,
                limit,
            )
            return exit_status(watched.last_code)
        watched.attempts += 1
        delay = self._backoff(watched.attempts)
        log.error(
            "%s %s; restart attempt %d of %d in %.1fs", name, what, watched.attempts, limit, delay
        )
        watched.restart_at = time.monotonic() + delay
        return None

    def _restart(self, watched: _Watched) -> int | None:
        began = time.monotonic()
        try:
            endpoint = watched.server.restart(abort=self.stopping)
        except RuntimeError as exc:
            if self.stopping():
                return None
            log.debug("%s restart failed: %s", watched.server.name, exc)
            return self._schedule(watched, f"failed to restart ({str(exc).splitlines()[0]})")
        watched.restart_at, watched.up_since = None, time.monotonic()
        log.warning(
            "%s restarted on %s in %.1fs (attempt %d of %d)",
            watched.server.name,
            endpoint,
            watched.up_since - began,
            watched.attempts,
            self.settings.dev_restart_limit,
        )
        return None


def stop_children(children: "dict[str, subprocess.Popen[bytes]]", grace: float) -> None:
    """SIGTERM every child at once, wait up to `grace` seconds for all of them to exit (the
    worker drains its activities meanwhile), then SIGKILL any still running."""
    for proc in children.values():
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + grace
    for name, proc in children.items():
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0fs; killing it", name, grace)
            proc.kill()
            proc.wait()
