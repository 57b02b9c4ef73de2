"""The fan-out loop of executions started before workflows/fanout.py's PATCH, kept so that
they replay and finish on this code: it drains its window before each continue-as-new
(children started with ParentClosePolicy.REQUEST_CANCEL, awaited to their close). Remove it
(and deprecate the patch) once no such execution is open.
"""

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.batches import BatchActivities
    from activities.jobs import JobActivities
    from core.contracts import BatchInput, BatchOutcome, ChildPageRequest, FinishBatchInput, JobRef
    from workflows.local import db

# Ids fetched per activity call, as the legacy loop did.
CHILD_PAGE = 500

Hook = Callable[[str, str | None], Awaitable[object]]


async def start_pending(
    inp: BatchInput, slot: Callable[[], Awaitable[None]], spawn: Callable[[str], None]
) -> str | None:
    """Start every pending child in id order after `inp.after_child_id`, each once `slot()`
    returns. Returns the last child id if the run should continue as new, None once no
    pending child is left. Shared by both loops: the commands are the same."""
    after, started = inp.after_child_id, 0
    while True:
        if started >= inp.children_per_run or workflow.info().is_continue_as_new_suggested():
            return after
        limit = min(CHILD_PAGE, inp.children_per_run - started)
        page = await db(
            BatchActivities.next_pending_children, ChildPageRequest(inp.job_id, after, limit)
        )
        if not page:
            return None
        for child_id in page:
            await slot()
            spawn(child_id)
            started += 1
        after = page[-1]


class LegacyFanOut:
    def __init__(
        self, inp: BatchInput, execute: Callable[[str], Awaitable[object]], window: int
    ) -> None:
        self.inp, self.execute, self.window = inp, execute, window
        self.in_flight: dict[str, asyncio.Task[None]] = {}

    async def run(self, before_cancel: Hook, after_drain: Hook) -> BatchOutcome | None:
        inp = self.inp
        try:
            if not inp.started and not await db(JobActivities.start_job, JobRef(inp.job_id)):
                return None
            after = await self._start_children()
            await self._drain()
            if after is not None:
                workflow.continue_as_new(
                    dataclasses.replace(inp, after_child_id=after, started=True)
                )
            return await db(BatchActivities.finish_batch, FinishBatchInput(inp.job_id))
        except BaseException as err:
            if is_cancelled_exception(err):
                reason = workflow.cancellation_reason() or None
                await before_cancel(inp.job_id, reason)
                for task in self.in_flight.values():
                    task.cancel()
                await self._drain()
                await after_drain(inp.job_id, reason)
                await db(
                    BatchActivities.finish_batch,
                    FinishBatchInput(inp.job_id, cancelled=True, reason=reason),
                )
            raise

    async def _start_children(self) -> str | None:
        async def slot() -> None:
            await workflow.wait_condition(lambda: len(self.in_flight) < self.window)

        def spawn(child_id: str) -> None:
            self.in_flight[child_id] = asyncio.create_task(self._run_child(child_id))

        return await start_pending(self.inp, slot, spawn)

    async def _run_child(self, child_id: str) -> None:
        try:
            await self.execute(child_id)
        except (ChildWorkflowError, asyncio.CancelledError):
            pass
        finally:
            del self.in_flight[child_id]

    async def _drain(self) -> None:
        await workflow.wait_condition(lambda: not self.in_flight)
