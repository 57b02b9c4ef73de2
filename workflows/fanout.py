"""The fan-out every job with children runs (batch_parse, vector_store): one child workflow
per child row (workflow id = child job id), at most `window` in flight, across as many
continue-as-new runs as the history needs.

- The window stays full across continue-as-new: children are started with
  ParentClosePolicy.ABANDON, so they outlive the run that started them, and a run hands the
  ids of its children still in flight to the next one (`BatchInput.in_flight`, at most
  about a window of ids). The next run counts them in its window and learns that they ended
  from their rows in Postgres (polled every CARRIED_POLL, less often while nothing ends).
  One child that never ends takes one slot, never the batch.
- Cancel never relies on ParentClosePolicy: pending children are cancelled in Postgres at
  once (they never start), every child in flight, this run's and the carried ones, gets
  Temporal's cancel by workflow id (the API's cancel already marked them and told their
  workers through NOTIFY; those still working get it first), and the job is settled
  `cancelled` as soon as Postgres says every child has stopped (each child records its
  own `cancelled` once its work stopped): not after each child's workflow has closed too,
  which takes a workflow task of each of them.
Progress is not tracked here: Postgres counts it from the children's rows.

Executions started before this version keep the old loop (`workflow.patched`), which
drained the window before each continue-as-new: workflows/fanout_legacy.py.
"""

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError, FailureError, is_cancelled_exception
from temporalio.workflow import ChildWorkflowHandle

with workflow.unsafe.imports_passed_through():
    from activities.batches import BatchActivities
    from activities.jobs import JobActivities
    from core.contracts import (
        BatchInput,
        BatchOutcome,
        FinishBatchInput,
        JobRef,
        OpenChildrenRequest,
    )
    from workflows.fanout_legacy import LegacyFanOut, start_pending
    from workflows.local import db

# The versioning marker of this fan-out (absent from histories of the legacy loop).
PATCH = "fanout-window-across-continue-as-new"
# The marker of one poll timer that outlives each wait for a slot (absent from histories
# whose waits each started a timer and cancelled it once a child ended first).
STEADY_POLL_PATCH = "fanout-one-poll-timer-for-carried"
# How stale the window's view of carried children may get: one indexed read of at most a
# window of ids per poll, while a straggler keeps only its own slot.
CARRIED_POLL = timedelta(seconds=1)
# While polls find nothing ended, the interval doubles up to this: a straggler of hours
# costs a few hundred polls in the history, not tens of thousands.
CARRIED_POLL_MAX = timedelta(seconds=30)
# How long one call of the local activity that waits for cancelled children to stop polls
# Postgres before it answers (well under DB_ACTIVITY_TIMEOUT); the workflow calls again.
SETTLE_WAIT_SECONDS = 5.0
# A timer that ends the workflow task carrying the children's cancels: as short as can be.
CANCEL_FLUSH = timedelta(milliseconds=1)
# External cancels issued per workflow task: well under Temporal's 2,000 pending cancel
# requests per execution.
CANCEL_CHUNK = 500

StartChild = Callable[[str], Awaitable[ChildWorkflowHandle[Any, Any]]]
Hook = Callable[[str, str | None], Awaitable[object]]


async def _nothing(job_id: str, reason: str | None) -> None:
    """No extra step."""


@dataclass(frozen=True)
class Spec:
    """What differs between jobs with children. `start`: starts one child workflow (id =
    child job id, ParentClosePolicy.ABANDON); `legacy_start`: the same as the legacy loop
    ran it; `window`: children in flight at most; `after_drain`: an extra step of a cancel once
    every child stopped (`legacy_before_cancel`: the legacy loop's, before it cancelled)."""

    start: StartChild
    legacy_start: Callable[[str], Awaitable[object]]
    window: int
    legacy_before_cancel: Hook = _nothing
    after_drain: Hook = _nothing
    # A child to run in the slot of one that ended (a batch's indexing of a parse result):
    # `follow` answers its id (None: nothing follows), `start_follow` starts it.
    follow: Callable[[str], Awaitable[str | None]] | None = None
    start_follow: StartChild | None = None


async def run_fan_out(inp: BatchInput, spec: Spec) -> BatchOutcome | None:
    """The whole life of a job with children (one run of it): start, fan out, finish."""
    if not workflow.patched(PATCH):
        return await LegacyFanOut(inp, spec.legacy_start, spec.window).run(
            spec.legacy_before_cancel, spec.after_drain
        )
    return await FanOut(inp, spec).run()


class FanOut:
    def __init__(self, inp: BatchInput, spec: Spec) -> None:
        self.inp, self.spec = inp, spec
        # This run's slots, by child id: a task ends when its child's workflow (and the
        # one that follows it) closed; `current` names the workflow in flight in each.
        self.running: dict[str, asyncio.Task[None]] = {}
        self.current: dict[str, str] = {}
        self.started: set[str] = set()  # workflows whose start is confirmed
        # Children the previous runs started and left in flight: known ended from Postgres.
        self.carried: set[str] = set(inp.in_flight)
        self.polled = workflow.now()
        self.poll_every = CARRIED_POLL
        self.cancelling = False
        # One timer at a time says when to poll: a wait that ends because a child ended
        # leaves it running. Cancelling a timer per wait cost two history events per child
        # and trips the time-skipping test server (temporalio/sdk-java#3088).
        self.steady_poll = workflow.patched(STEADY_POLL_PATCH)
        self.poll_due = False
        self.poll_timer: asyncio.Task[None] | None = None

    async def run(self) -> BatchOutcome | None:
        inp = self.inp
        try:
            if not inp.started and not await db(JobActivities.start_job, JobRef(inp.job_id)):
                return None  # cancelled before it started: the API settled every child
            after = await self._start_children()
            if after is not None:
                # A child whose start is not yet confirmed might never start once this
                # run has closed: hand over only started ones.
                await workflow.wait_condition(self._all_started)
                in_flight = tuple(sorted({*self.current.values(), *self.carried}))
                workflow.continue_as_new(
                    dataclasses.replace(
                        inp, after_child_id=after, started=True, in_flight=in_flight
                    )
                )
            await self._until(lambda: not self.running and not self.carried)
            return await db(BatchActivities.finish_batch, FinishBatchInput(inp.job_id))
        except BaseException as err:
            if is_cancelled_exception(err):
                await self._cancel_everything()
            raise

    async def _start_children(self) -> str | None:
        async def slot() -> None:
            await self._until(lambda: len(self.running) + len(self.carried) < self.spec.window)

        def spawn(child_id: str) -> None:
            self.running[child_id] = asyncio.create_task(self._slot(child_id, first=True))

        return await start_pending(self.inp, slot, spawn)

    def _all_started(self) -> bool:
        return all(self.current.get(slot) in self.started for slot in self.running)

    async def _slot(self, child_id: str, first: bool) -> None:
        """Run the child (unless an earlier run did: `first` False), then what follows it."""
        try:
            if first:
                await self._run(child_id, child_id, self.spec.start)
            if self.spec.follow and self.spec.start_follow and not self.cancelling:
                self.current[child_id] = child_id  # not started: no continue-as-new now
                follower = await self.spec.follow(child_id)
                if follower is not None:
                    await self._run(child_id, follower, self.spec.start_follow)
        finally:
            del self.running[child_id]
            self.current.pop(child_id, None)

    async def _run(self, slot: str, workflow_id: str, start: StartChild) -> None:
        self.current[slot] = workflow_id
        try:
            handle = await start(workflow_id)
            self.started.add(workflow_id)
            await handle
        except (ChildWorkflowError, asyncio.CancelledError):
            pass  # the child's own row already says failed or cancelled
        finally:
            self.started.discard(workflow_id)

    async def _until(self, done: Callable[[], bool]) -> None:
        """Wait for `done`, which the ends of this run's children and of carried ones (read
        from Postgres at most every CARRIED_POLL) make true."""
        if not self.steady_poll:
            return await self._until_timer_per_wait(done)
        while not done():
            if not self.carried:
                await workflow.wait_condition(done)
                return
            if self.poll_due:
                await self._poll_carried()
                continue
            if self.poll_timer is None:
                self.poll_timer = asyncio.create_task(self._poll_after())
            await workflow.wait_condition(lambda: done() or self.poll_due)

    async def _poll_after(self) -> None:
        delay = self.polled + self.poll_every - workflow.now()
        if delay > timedelta(0):
            await workflow.sleep(delay)
        self.poll_due, self.poll_timer = True, None

    async def _until_timer_per_wait(self, done: Callable[[], bool]) -> None:
        """`_until` as executions recorded before STEADY_POLL_PATCH ran it."""
        while not done():
            if self.carried and workflow.now() - self.polled >= self.poll_every:
                await self._poll_carried()
                continue
            if not self.carried:
                await workflow.wait_condition(done)
                return
            with contextlib.suppress(asyncio.TimeoutError):
                await workflow.wait_condition(done, timeout=self.poll_every)

    async def _poll_carried(self) -> None:
        request = OpenChildrenRequest(self.inp.job_id, sorted(self.carried))
        still_open = set(await db(BatchActivities.open_children, request))
        ended, self.carried = self.carried - still_open, self.carried & still_open
        self.polled, self.poll_due = workflow.now(), False
        slower = min(self.poll_every * 2, CARRIED_POLL_MAX)
        self.poll_every = CARRIED_POLL if ended else slower
        if self.spec.follow is not None:
            for child_id in sorted(ended):  # in the slot it leaves
                self.running[child_id] = asyncio.create_task(self._slot(child_id, first=False))

    async def _cancel_everything(self) -> None:
        self.cancelling = True  # nothing follows a child any more
        job_id = self.inp.job_id
        reason = workflow.cancellation_reason() or None
        await db(BatchActivities.cancel_pending_children, JobRef(job_id))
        in_flight = sorted({*self.current.values(), *self.carried})
        # First the children still working (their rows open): a few, where the window holds
        # many whose rows the API's cancel already settled (they end on their own).
        request = OpenChildrenRequest(job_id, in_flight)
        waiting = await db(BatchActivities.open_children, request)
        sending = asyncio.create_task(_cancel_children(waiting))
        if waiting:  # the cancels leave with this workflow task (a local activity holds it)
            await workflow.sleep(CANCEL_FLUSH)
        # Each child records `cancelled` once its work has stopped (most already have: the
        # API's cancel told their workers through NOTIFY), or its own outcome if it ended
        # first; one whose workflow closed without a word is left to after_drain and
        # finish_batch, which settle every child still open.
        first = set(waiting)
        while waiting:
            request = OpenChildrenRequest(job_id, waiting, wait_seconds=SETTLE_WAIT_SECONDS)
            still_open = await db(BatchActivities.open_children, request)
            tracked = {*self.current.values(), *self.carried}
            waiting = [c for c in still_open if c in tracked]
        await self.spec.after_drain(job_id, reason)
        await db(
            BatchActivities.finish_batch, FinishBatchInput(job_id, cancelled=True, reason=reason)
        )
        # Settled: every child's work has stopped. Their workflows close as Temporal's
        # cancel reaches them (the others' too, now); it is recorded before this run closes.
        await sending
        await _cancel_children([c for c in in_flight if c not in first])


async def _cancel_children(child_ids: list[str]) -> None:
    for chunk in _chunks(child_ids, CANCEL_CHUNK):
        await asyncio.gather(*(_cancel_child(child_id) for child_id in chunk))


async def _cancel_child(child_id: str) -> None:
    with contextlib.suppress(FailureError):  # it closed meanwhile or never started
        await workflow.get_external_workflow_handle(child_id).cancel()


def _chunks(ids: list[str], size: int) -> Iterable[list[str]]:
    return (ids[n : n + size] for n in range(0, len(ids), size))
