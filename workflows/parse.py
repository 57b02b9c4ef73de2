"""ParseWorkflow: one parse job (workflow id = job id). Its life is `run_job`'s."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.parse import ParseActivities
    from core.contracts import JobInput
    from workflows.job import JobOutcome, run_job


@workflow.defn
class ParseWorkflow:
    @workflow.run
    async def run(self, inp: JobInput) -> JobOutcome:
        return await run_job(inp, ParseActivities.parse_document, "parse")
