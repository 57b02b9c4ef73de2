"""ChunkWorkflow: one chunk (rechunk) job: re-chunk the stored pages of a parse result into
a new parse result, never re-parsing the document. Its life is `run_job`'s."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.chunk import ChunkActivities
    from core.contracts import JobInput
    from workflows.job import JobOutcome, run_job


@workflow.defn
class ChunkWorkflow:
    @workflow.run
    async def run(self, inp: JobInput) -> JobOutcome:
        return await run_job(inp, ChunkActivities.rechunk, "rechunk")
