"""Parse subprocesses: every document parses in a process of its own, contained and killable.

Why processes: a hostile document can take any amount of memory or CPU inside one C call
(an XML parse, a pdfium page), where no flag is looked at. In a process of its own it runs
under an address-space limit (RLIMIT_AS, set in the child), a wall-time limit, and is killed
on a cancel it does not honour within a short grace. Crashes stay in that process.

Why a fresh process per document rather than long-lived workers: no state (pdfium's last
error, fragmented heaps, a limit half reached) carries from one document to the next, and
killing one never disturbs another. The processes come from a forkserver that imported the
engine once, so starting one costs milliseconds. At most `slots` run at once; documents
wait their turn in arrival order, so a tiny job runs beside a huge one on another slot.
A process about to OCR also waits for one of `ocr_concurrency` places (parsing/ocr_gate.py).

Why not a library pool: concurrent.futures cannot stop one task; pebble can, but only by
SIGTERM then SIGKILL seconds later, without per-task pids (for RSS/CPU accounting) or a
channel for a cooperative stop and progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import functools
import importlib.machinery
import logging
import multiprocessing
import multiprocessing.forkserver
import resource
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from activities.parse_config import PoolConfig
from activities.parse_run import DocumentParse, Parsed
from activities.parsing import ChunkingOptions, ParseError, ocr_gate
from activities.parsing.limits import MIB, LimitExceeded
from activities.parsing.types import OcrOptions
from core.settings import Settings

log = logging.getLogger(__name__)

_CONTEXT = "forkserver"  # never fork the worker itself: it runs threads (Temporal's core)
_PRELOAD = ["activities.parse_preload"]  # the engine and tokenizer, loaded once
_MAIN_STANDIN = "docket.__main__"  # a main module name children do not re-import
_KIB = 1024  # ru_maxrss and VmHWM are in KiB on Linux
# How often the parent samples the child's address space: a child that dies by a signal
# with its peak this close to RLIMIT_AS hit the memory limit inside C code (a failed
# malloc there aborts or segfaults rather than raising MemoryError).
_SAMPLE_SECONDS = 0.02
_NEAR_LIMIT = 0.9


class ParseCrashed(RuntimeError):
    """The parse process died (a signal, a C-level abort): worth a bounded retry, unlike a
    document over a limit."""


class _OptionsRejected(Exception):
    """The job's options failed in the parent; raised in the child once pages were read."""


def _given(options: ChunkingOptions | None) -> ChunkingOptions:
    if options is None:
        raise _OptionsRejected
    return options


def _main_not_rerun() -> None:
    """A forkserver child re-runs a spec-less `__main__` by path: for a console script
    (`docket worker`, the image's entrypoint) that is the whole CLI's import, per document.
    Children skip a main named `….__main__` (as under `python -m docket`)."""
    main = sys.modules["__main__"]
    if getattr(main, "__spec__", None) is None and getattr(main, "__file__", None):
        main.__spec__ = importlib.machinery.ModuleSpec(_MAIN_STANDIN, None)


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _KIB


def _child(
    conn: Connection, gate: Connection, flag: Any, job: tuple[Any, ...], memory: int
) -> None:
    """The parse process: parse one document, report progress and the outcome, exit.
    A parent that stopped listening (a cancel, a timeout) closed the pipe: nothing to say."""
    with contextlib.suppress(BrokenPipeError, EOFError):
        _parse_and_report(conn, gate, flag, job, memory)


def _parse_and_report(
    conn: Connection, gate: Connection, flag: Any, job: tuple[Any, ...], memory_bytes: int
) -> None:
    path, mime_type, options, limits, ocr = job
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    try:
        opts = functools.partial(_given, options)
        ocr = dataclasses.replace(ocr, gate=functools.partial(ocr_gate.ask, conn, gate))
        parse = DocumentParse(path, mime_type, opts, limits, lambda: bool(flag.value), ocr)
        while (parsed := parse.step()) is None:
            if parse.stopped:
                conn.send(("cancelled", _peak_rss()))
                return
            conn.send(("pages", len(parse.pages)))
        conn.send(("done", parsed._replace(peak_rss_bytes=_peak_rss())))
    except _OptionsRejected:
        conn.send(("options", _peak_rss()))
    except (ParseError, ValueError, TypeError, OSError) as exc:
        conn.send(("error", exc, _peak_rss()))
    except MemoryError:
        conn.send(("memory", None, _peak_rss()))


def _status_kib(pid: int | None, key: str) -> int:
    """A KiB figure of a live process's /proc status (VmHWM: peak RSS; VmPeak: peak address
    space), 0 if unknown."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    return 0


class ParsePool:
    """Parse documents in subprocesses, `slots` at a time (see the module docstring)."""

    def __init__(self, config: PoolConfig) -> None:
        self.config = config
        _main_not_rerun()
        self._context: Any = multiprocessing.get_context(_CONTEXT)
        self._context.set_forkserver_preload(_PRELOAD)
        # Started now, in the background: its first start (imports, tokenizer) takes seconds
        # that the first document should not wait for.
        threading.Thread(target=multiprocessing.forkserver.ensure_running, daemon=True).start()
        self._slots: asyncio.Semaphore | None = None  # made in the event loop that uses it
        self._ocr: ocr_gate.OcrPlaces | None = None  # the same
        self.last_peak_rss_bytes = 0  # of the last finished parse process (tests, bench)
        self._reaping: set[asyncio.Task[None]] = set()  # exits still being waited for

    def close(self) -> None:
        """Stop the forkserver now (it would exit once this process has gone, but a stack
        that checks for leftovers, or a supervisor, should not see it linger). The standard
        library has no public call for it; `_stop` is what its own tests use."""
        with contextlib.suppress(OSError, ChildProcessError, AttributeError):
            multiprocessing.forkserver._forkserver._stop()  # type: ignore[attr-defined]

    @classmethod
    def from_settings(cls, settings: Settings) -> ParsePool:
        return cls(PoolConfig.from_settings(settings))

    def _memory_error(self) -> LimitExceeded:
        mb = self.config.memory_bytes // MIB
        return LimitExceeded(
            f"parsing the document needed more than {mb:,} MB of memory; the limit is "
            f"{mb:,} MB (DOCKET_MAX_PARSE_MEMORY_MB)"
        )

    async def parse(
        self,
        path: Path,
        mime_type: str,
        options: Callable[[], ChunkingOptions],
        on_pages: Callable[[int], None] = lambda pages: None,
        on_start: Callable[[int], None] = lambda pid: None,
        ocr_mode: str = "auto",
    ) -> Parsed:
        """Parse in a subprocess once a slot is free (its OCR once an OCR place is). Raises
        ParseError (LimitExceeded for a limit, memory and wall time included), ValueError/
        TypeError for bad options, ParseCrashed when the process dies; a cancel stops (or
        kills) the process."""
        rejected: Exception | None = None
        try:
            given: ChunkingOptions | None = options()
        except Exception as exc:  # whatever the caller's options raise, raised as it is -
            # but only once the document was read, as in-process: a document that cannot
            # be read fails for that first.
            given, rejected = None, exc
        if self._slots is None or self._ocr is None:
            self._slots = asyncio.Semaphore(self.config.slots)
            self._ocr = ocr_gate.OcrPlaces(self.config.ocr_concurrency)
        async with self._slots:
            receive, send = self._context.Pipe(duplex=False)
            gate_receive, gate = self._context.Pipe(duplex=False)
            flag = self._context.RawValue(ctypes.c_bool, False)
            ocr = OcrOptions(mode=ocr_mode, render_dpi=self.config.ocr_render_dpi)
            job = (Path(path), mime_type, given, self.config.limits, ocr)
            args = (send, gate_receive, flag, job, self.config.memory_bytes)
            process = self._context.Process(target=_child, args=args, daemon=True)
            self.last_peak_rss_bytes = 0
            await asyncio.to_thread(process.start)
            send.close()  # the child holds its own ends; EOF here means it is gone
            gate_receive.close()
            on_start(process.pid or 0)
            try:
                async with self._ocr.for_document(gate) as grant:
                    return await self._outcome(process, receive, on_pages, grant)
            except _OptionsRejected:
                assert rejected is not None
                raise rejected from None
            except asyncio.CancelledError:
                flag.value = True
                if self.config.cancel_grace_seconds > 0:
                    await asyncio.to_thread(process.join, self.config.cancel_grace_seconds)
                raise
            finally:
                if process.is_alive():
                    # A process already exiting has no VmHWM left: keep what it reported.
                    hwm = _status_kib(process.pid, "VmHWM:") * _KIB
                    self.last_peak_rss_bytes = max(self.last_peak_rss_bytes, hwm)
                    process.kill()
                self._reap_later(process, receive, gate)

    async def _outcome(
        self,
        process: Any,
        receive: Connection,
        on_pages: Callable[[int], None],
        grant: Callable[[], Awaitable[None]],
    ) -> Parsed:
        deadline = time.monotonic() + self.config.wall_seconds
        peak = rss = 0  # sampled, for a process that dies without reporting them
        while True:
            pending = asyncio.ensure_future(asyncio.to_thread(receive.recv))
            # Retrieved here so a receive left behind by a cancel or timeout (it ends with
            # EOFError once the process is killed) is not reported as never retrieved.
            pending.add_done_callback(lambda done: done.cancelled() or done.exception())
            while not pending.done():
                await asyncio.wait({pending}, timeout=_SAMPLE_SECONDS)
                peak = max(peak, _status_kib(process.pid, "VmPeak:") * _KIB)
                rss = max(rss, _status_kib(process.pid, "VmHWM:") * _KIB)
                if not pending.done() and time.monotonic() > deadline:
                    raise self._wall_error()
            try:
                message = pending.result()
            except EOFError:
                self.last_peak_rss_bytes = rss
                await asyncio.to_thread(process.join)
                if peak >= self.config.memory_bytes * _NEAR_LIMIT:
                    raise self._memory_error() from None  # a C allocation failed: it crashed
                raise ParseCrashed(
                    f"the parse process crashed (exit code {process.exitcode})"
                ) from None
            kind = message[0]
            if kind == ocr_gate.ASK:  # time spent waiting for an OCR place is not parse time
                waited = time.monotonic()
                await grant()
                deadline += time.monotonic() - waited
                continue
            if kind == "pages":
                on_pages(message[1])
                continue
            if kind == "done":
                self.last_peak_rss_bytes = message[1].peak_rss_bytes
                return message[1]  # type: ignore[no-any-return]
            self.last_peak_rss_bytes = message[-1]
            if kind == "memory":
                raise self._memory_error()
            if kind == "options":
                raise _OptionsRejected
            if kind == "error":
                raise message[1]
            raise ParseCrashed(f"the parse process stopped unexpectedly ({kind})")

    def _reap_later(self, process: Any, *ends: Connection) -> None:
        """Wait for the process's exit off the caller's path. It has exited or been sent
        SIGKILL, so it runs no more of the parse; what is left (the kernel freeing a big
        document's memory, the forkserver reaping it) took 6-15 ms of every cancel."""

        async def reap() -> None:
            await asyncio.to_thread(process.join)
            for end in ends:
                end.close()
            process.close()

        task = asyncio.get_running_loop().create_task(reap())
        self._reaping.add(task)  # a strong reference until it is done
        task.add_done_callback(self._reaping.discard)

    async def reaped(self) -> None:
        """Until every parse process that has finished is gone (tests, shutdown)."""
        while self._reaping:
            await asyncio.gather(*self._reaping)

    def _wall_error(self) -> LimitExceeded:
        seconds = self.config.wall_seconds
        return LimitExceeded(
            f"parsing the document took longer than {seconds:,.0f} s; the limit is "
            f"{seconds:,.0f} s (DOCKET_MAX_PARSE_SECONDS)"
        )
