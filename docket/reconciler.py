"""The convergence loop: Postgres and Temporal never disagree for long.

Every worker runs it. Each round takes the non-terminal jobs older than
`reconcile_after_seconds`, least recently checked first (`reconcile_batch` of them, skipping
rows another worker's loop holds), asks Temporal for each job's workflow (workflow id = job
id; `describe` is strongly consistent) and settles the difference:

- workflow running: nothing;
- workflow missing, job pending or a running top-level job: start it (USE_EXISTING; the
  start activity is a conditional transition, so nothing runs twice);
- workflow missing, job a running child of a batch: `failed` (its batch cannot adopt it);
- workflow missing or closed, and a cancel was accepted (202): `cancelled`;
- workflow closed as cancelled: `cancelled`; closed otherwise (terminated, timed out,
  failed, completed without settling the row): `failed`, with the cause as the error.
Every settlement takes the job's non-terminal children with it, in the same statement.

So every non-terminal job is looked at within ceil(non-terminal jobs / reconcile_batch)
rounds of `reconcile_every_seconds`, and no job stays non-terminal forever, whatever an
operator or a fault did to its workflow.

(A composition root like docket/worker.py: it wires the data layer to the workflow
starters, so it imports from the layers above the core.)
"""

import asyncio
import contextlib
import logging
from collections import Counter
from enum import StrEnum

import asyncpg
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from core.contracts import WebhookDeliveryInput, attempts_within
from core.enums import JobStatus
from core.metrics import docket_metrics
from core.settings import Settings
from db import convergence, webhooks
from db.convergence import Unsettled
from db.notify import Channel, Listener
from db.pool import require_database_url
from db.transitions import cancel_reason
from workflows.client import start_job
from workflows.registry import Registry
from workflows.webhook import WebhookDeliveryWorkflow

log = logging.getLogger(__name__)

# Describe calls in flight at once: enough to hide the round trip, few enough not to load
# the frontend.
DESCRIBE_CONCURRENCY = 32

CLOSED_BECAUSE = {
    WorkflowExecutionStatus.TERMINATED: "the job's workflow was terminated",
    WorkflowExecutionStatus.TIMED_OUT: "the job's workflow timed out",
    WorkflowExecutionStatus.FAILED: "the job's workflow failed",
    WorkflowExecutionStatus.COMPLETED: "the job's workflow completed without settling the job",
    WorkflowExecutionStatus.CANCELED: "the job's workflow was cancelled",
}
LOST_CHILD = "its workflow was lost (Temporal no longer knows it); parse the document again"
LOST = "its workflow was lost (Temporal no longer knows it)"
# Webhook deliveries started per statement of the dispatcher: a page, then the next.
DISPATCH_PAGE = 100


class Action(StrEnum):
    NOTHING = "nothing"
    STARTED = "started"
    SETTLED = "settled"


class Convergence:
    def __init__(
        self, pool: asyncpg.Pool, client: Client, settings: Settings, registry: Registry
    ) -> None:
        self.pool, self.client, self.settings, self.registry = pool, client, settings, registry
        self._slots = asyncio.Semaphore(DESCRIBE_CONCURRENCY)

    async def round(self) -> Counter[Action]:
        page = await convergence.next_to_check(
            self.pool, self.settings.reconcile_after_seconds, self.settings.reconcile_batch
        )
        actions = Counter(await asyncio.gather(*(self._check(job) for job in page)))
        for action, times in actions.items():
            docket_metrics().reconciler.labels(action).inc(times)
        return actions

    async def _workflow_status(self, job_id: str) -> WorkflowExecutionStatus | None:
        async with self._slots:
            try:
                described = await self.client.get_workflow_handle(job_id).describe()
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    return None
                raise
        return described.status

    async def _check(self, job: Unsettled) -> Action:
        status = await self._workflow_status(job.job_id)
        if status == WorkflowExecutionStatus.RUNNING:
            return Action.NOTHING
        if status is None and not job.cancel_requested:
            if job.parent_job_id is not None:
                return await self._settle(job, LOST_CHILD)
            await start_job(self.client, self.settings, self.registry, job.job_id, job.operation)
            log.warning("convergence started the workflow of %s job %s", job.status, job.job_id)
            return Action.STARTED
        return await self._settle(job, LOST if status is None else CLOSED_BECAUSE[status], status)

    async def _settle(
        self, job: Unsettled, cause: str, status: WorkflowExecutionStatus | None = None
    ) -> Action:
        cancelled = job.cancel_requested or status == WorkflowExecutionStatus.CANCELED
        reason = await cancel_reason(self.pool, job.job_id) if cancelled else None
        if await convergence.settle(self.pool, job.job_id, cancelled, reason, cause):
            outcome = JobStatus.CANCELLED if cancelled else JobStatus.FAILED
            log.warning("convergence settled job %s %s: %s", job.job_id, outcome, cause)
            return Action.SETTLED
        return Action.NOTHING  # it settled itself meanwhile


async def reconcile_once(
    pool: asyncpg.Pool, client: Client, settings: Settings, registry: Registry
) -> int:
    """One round; returns how many jobs it started or settled."""
    actions = await Convergence(pool, client, settings, registry).round()
    return actions[Action.STARTED] + actions[Action.SETTLED]


async def reconcile_forever(
    pool: asyncpg.Pool, client: Client, settings: Settings, registry: Registry
) -> None:
    loop = Convergence(pool, client, settings, registry)
    while True:
        try:
            await loop.round()
        except Exception:
            # An outage of Postgres or Temporal: try again next round, never die.
            log.exception("convergence round failed")
        await asyncio.sleep(settings.reconcile_every_seconds)


class WebhookDispatcher:
    """Starts one delivery workflow per webhook delivery the outbox holds (workflow id =
    delivery id, so a second start — another worker's, a retried sweep's — is harmless).
    Woken by the outbox's NOTIFY; a sweep every `webhook_sweep_seconds` (and one after every
    reconnect of its listener) starts anything a missed notification left behind."""

    def __init__(self, pool: asyncpg.Pool, client: Client, settings: Settings) -> None:
        self.pool, self.client, self.settings = pool, client, settings
        self.wake = asyncio.Event()
        self.listener = Listener(
            require_database_url(settings),
            {Channel.WEBHOOK: lambda _: self.wake.set()},
            on_connect=self._sweep_now,
        )
        self.maximum_attempts = attempts_within(
            settings.webhook_retry_first_seconds,
            settings.webhook_retry_longest_seconds,
            settings.webhook_retry_window_seconds,
        )

    async def _sweep_now(self) -> None:
        self.wake.set()

    def _input(self, delivery_id: str) -> WebhookDeliveryInput:
        return WebhookDeliveryInput(
            delivery_id=delivery_id,
            attempt_timeout_seconds=self.settings.webhook_timeout_seconds,
            first_retry_seconds=self.settings.webhook_retry_first_seconds,
            longest_retry_seconds=self.settings.webhook_retry_longest_seconds,
            maximum_attempts=self.maximum_attempts,
        )

    async def _start(self, delivery_id: str) -> None:
        with contextlib.suppress(WorkflowAlreadyStartedError):  # started (and ended) before
            await self.client.start_workflow(
                WebhookDeliveryWorkflow.run,
                self._input(delivery_id),
                id=delivery_id,
                task_queue=self.settings.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                # The dispatcher runs in a worker of this task queue: it may take the first
                # workflow task itself (no round trip through the queue) where the server
                # allows eager starts; otherwise this is an ordinary start.
                request_eager_start=True,
            )

    async def dispatch_once(self) -> int:
        """Start the deliveries not started yet (a page of them); how many."""
        due = await webhooks.undispatched(self.pool, DISPATCH_PAGE)
        await asyncio.gather(*(self._start(delivery_id) for delivery_id in due))
        await webhooks.mark_dispatched(self.pool, due)
        return len(due)

    async def run(self) -> None:
        listening = asyncio.create_task(self.listener.run())
        try:
            while True:
                self.wake.clear()
                try:
                    while await self.dispatch_once() == DISPATCH_PAGE:
                        pass
                except Exception:
                    log.exception("webhook dispatch failed; retrying at the next sweep")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.settings.webhook_sweep_seconds)
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
