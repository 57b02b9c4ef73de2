"""ParseWorkflow: one parse job. Workflow id = job id.

Postgres is the arbiter of the job's status; this workflow only asks activities to move
it. The status writes are single short statements, so they run as local activities: no
task-queue round trip through the server, which halves the server work per job (the
server, not the worker, limits how many jobs a batch can push through).

Cancellation: the parse activity heartbeats, so a cancel reaches it at its next heartbeat;
we wait for it to acknowledge (WAIT_CANCELLATION_COMPLETED) so that `cancelled`
in Postgres means the work has really stopped, then record `cancelled` and re-raise so the
execution ends CANCELED in Temporal too.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from core.contracts import (
        ActivityName,
        CancelJobInput,
        FailJobInput,
        JobRef,
        ParseInput,
        ParseOutcome,
    )
    from workflows.policies import (
        DB_ACTIVITY_TIMEOUT,
        DB_RETRY,
        PARSE_RETRY,
        PARSE_TIMEOUT,
    )


class ParseOutcomeKind:
    SUCCEEDED = "succeeded"
    NOT_STARTED = "not_started"  # cancelled (or finished) before it could start
    SUPERSEDED = "superseded"  # the job left `running` while we parsed; nothing stored


@workflow.defn
class ParseWorkflow:
    @workflow.run
    async def run(self, inp: ParseInput) -> str:
        ref = JobRef(inp.job_id)
        try:
            started: bool = await workflow.execute_local_activity(
                ActivityName.START_JOB,
                ref,
                start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
                retry_policy=DB_RETRY,
                result_type=bool,
            )
            if not started:
                return ParseOutcomeKind.NOT_STARTED
            outcome: ParseOutcome = await workflow.execute_activity(
                ActivityName.PARSE_DOCUMENT,
                ref,
                start_to_close_timeout=PARSE_TIMEOUT,
                heartbeat_timeout=timedelta(seconds=inp.heartbeat_timeout_seconds),
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                retry_policy=PARSE_RETRY,
                result_type=ParseOutcome,
            )
        except BaseException as err:
            if is_cancelled_exception(err):
                await self._record_cancelled(inp.job_id)
                raise
            if isinstance(err, ActivityError):
                await self._record_failed(inp.job_id, _failure_message(err))
                raise ApplicationError(_failure_message(err), non_retryable=True) from err
            raise
        return ParseOutcomeKind.SUCCEEDED if outcome.succeeded else ParseOutcomeKind.SUPERSEDED

    async def _record_cancelled(self, job_id: str) -> None:
        await workflow.execute_local_activity(
            ActivityName.CANCEL_JOB,
            CancelJobInput(job_id=job_id, reason=workflow.cancellation_reason() or None),
            start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
            retry_policy=DB_RETRY,
        )

    async def _record_failed(self, job_id: str, error: str) -> None:
        await workflow.execute_local_activity(
            ActivityName.FAIL_JOB,
            FailJobInput(job_id=job_id, error=error),
            start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
            retry_policy=DB_RETRY,
        )


def _failure_message(err: ActivityError) -> str:
    cause = err.cause
    if isinstance(cause, ApplicationError):
        return cause.message
    return f"parse activity failed: {cause or err}"
