"""A test operation for the kernel: a workflow on `run_job` whose work activity heartbeats
until it is cancelled (or told to finish). Kept in a module of its own, importing only the
kernel, because the workflow sandbox re-imports the module of every workflow it runs."""

import asyncio
from typing import Any

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from core.contracts import JobInput, JobRef, ResultOutcome
    from workflows.job import JobOutcome, run_job

HEARTBEAT_SECONDS = 0.05


class ProbeActivities:
    """Works until cancelled; `finish` lets it end (without a result row: it has none)."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.saw_cancel = False

    @activity.defn
    async def probe_work(self, ref: JobRef) -> ResultOutcome:
        self.started.set()
        try:
            while True:
                activity.heartbeat()
                await asyncio.sleep(HEARTBEAT_SECONDS)
        except asyncio.CancelledError:
            self.saw_cancel = True
            raise

    def all(self) -> list[Any]:
        return [self.probe_work]


@workflow.defn
class ProbeWorkflow:
    @workflow.run
    async def run(self, inp: JobInput) -> JobOutcome:
        return await run_job(inp, ProbeActivities.probe_work, "probe")
