"""Worker wiring (a composition root, imported lazily by the CLI): registers the workflows
and the activities bound to one pool, and shuts down gracefully on SIGTERM/SIGINT/SIGHUP."""

import asyncio
import contextlib
import logging
import signal
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.batches import BatchActivities
from activities.cancels import CancelBoard
from activities.chunk import ChunkActivities
from activities.jobs import JobActivities
from activities.parse import ParseActivities
from activities.parse_pool import ParsePool
from activities.vector_store import VectorStoreActivities
from activities.webhooks import WebhookActivities
from core.metrics import metrics_server
from core.settings import Settings
from core.storage import open_storage
from core.tracing import tracer_provider
from db.notify import Channel, Listener
from db.pool import create_pool, require_database_url
from db.transitions import cancel_marked
from docket.health import heartbeat
from docket.reconciler import WebhookDispatcher, reconcile_forever
from docket.supervise import STOP_SIGNALS
from docket.telemetry import connect_worker
from workflows.registry import Registry, default_registry
from workflows.webhook import WebhookDeliveryWorkflow

log = logging.getLogger(__name__)

WORKER_SERVICE = "docket-worker"  # its spans' service name unless OTEL_SERVICE_NAME says
# Modules the workflow sandbox shares instead of re-importing per run (see below).
PASSTHROUGH_MODULES = ("workflows", "activities", "core", "docket")


def build_worker(
    client: Client,
    settings: Settings,
    activities: list[Any],
    task_queue: str | None = None,
    registry: Registry | None = None,
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=[*(registry or default_registry()).workflows(), WebhookDeliveryWorkflow],
        activities=activities,
        max_concurrent_activities=settings.max_concurrent_activities,
        # The throttle bounds how long a cancel waits for the next heartbeat (see Settings).
        max_heartbeat_throttle_interval=settings.heartbeat_throttle,
        default_heartbeat_throttle_interval=settings.heartbeat_throttle,
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_graceful_shutdown_seconds),
        workflow_runner=SandboxedWorkflowRunner(
            # Our workflow modules are deterministic and keep no global state, so the
            # sandbox may share them instead of re-importing them for every workflow run
            # (that re-import dominated the CPU of a large batch).
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
        ),
    )


def job_activities(
    pool: Any,
    settings: Settings,
    board: CancelBoard | None = None,
    parser: ParsePool | None = None,
) -> list[Any]:
    """Every activity the kernel's workflows call, bound to one pool; work activities watch
    `board` for cancels that arrive through Postgres; documents parse in `parser`'s
    subprocesses."""
    storage = open_storage(settings)
    every = settings.heartbeat_throttle
    board = board or CancelBoard()
    parser = parser or ParsePool.from_settings(settings)
    return [
        *JobActivities(pool).all(),
        *ParseActivities(pool, storage, every, board, parser).all(),
        *ChunkActivities(pool, every, board).all(),
        *BatchActivities(pool).all(),
        *VectorStoreActivities(pool, settings, board).all(),
        *WebhookActivities(pool, settings).all(),
    ]


def cancel_listener(pool: Any, settings: Settings, board: CancelBoard) -> Listener:
    """The worker's LISTEN connection for cancels. After a (re)connect it re-reads the
    cancel marks of the jobs this worker is running: a notification missed while the
    connection was down costs a round trip, never a lost cancel."""

    async def catch_up() -> None:
        for job_id in await cancel_marked(pool, board.running()):
            board.cancel(job_id)

    dsn = require_database_url(settings)
    return Listener(dsn, {Channel.CANCEL: board.cancel}, on_connect=catch_up)


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Poll until SIGTERM/SIGINT/SIGHUP (or until `stop` is set, for tests), then shut down
    gracefully. A fatal worker error (e.g. an unknown namespace) is raised, so the process
    exits non-zero and its supervisor restarts it."""
    pool = await create_pool(settings)
    traces = tracer_provider(WORKER_SERVICE)
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    parser: ParsePool | None = None
    try:
        client = await connect_worker(settings, traces)
        board = CancelBoard()
        parser = ParsePool.from_settings(settings)
        worker = build_worker(client, settings, job_activities(pool, settings, board, parser))
        if stop is None:
            stop = asyncio.Event()
            for sig in STOP_SIGNALS:  # a hangup drains like a deploy's SIGTERM
                loop.add_signal_handler(sig, stop.set)
                handled.append(sig)
        health_file = settings.worker_health_path
        # The heartbeat block is inside the worker's: on shutdown the probe fails at once,
        # before the (up to graceful-timeout long) wait for in-flight activities.
        docket_port = settings.worker_metrics_port if settings.metrics_enabled else None
        with metrics_server(docket_port, settings.metrics_host):
            async with worker, heartbeat(health_file, lambda: worker.is_running):
                log.info(
                    "worker polling task queue %s (health file %s)",
                    settings.task_queue,
                    health_file,
                )
                reconciler = asyncio.create_task(
                    reconcile_forever(pool, client, settings, default_registry())
                )
                listener = asyncio.create_task(cancel_listener(pool, settings, board).run())
                dispatcher = asyncio.create_task(WebhookDispatcher(pool, client, settings).run())
                try:
                    await stop.wait()
                finally:
                    for task in (reconciler, listener, dispatcher):
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                log.info(
                    "worker shutting down (graceful timeout %ss)",
                    settings.worker_graceful_shutdown_seconds,
                )
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
        if parser is not None:
            await parser.reaped()  # killed or finished parse processes, gone before we go
            parser.close()
        await pool.close()
        if traces is not None:
            traces.shutdown()  # flushes the spans still batched
