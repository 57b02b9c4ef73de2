"""Client-side starters for the workflows of this package (workflow id = job id).

Used by the API when a job is created and by the reconciler for jobs whose start was lost.
Not imported by workflow code: starting is I/O.
"""

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from core.contracts import BatchInput, ParseInput
from core.enums import JobOperationType
from core.settings import Settings
from workflows.batch import BatchParseWorkflow
from workflows.parse import ParseWorkflow

# A second start of the same job (a client retry, the reconciler) attaches to the running
# execution instead of failing or starting a twin.
SAME_JOB = WorkflowIDConflictPolicy.USE_EXISTING


async def start_parse(client: Client, settings: Settings, job_id: str) -> None:
    await client.start_workflow(
        ParseWorkflow.run,
        ParseInput(job_id=job_id, heartbeat_timeout_seconds=settings.heartbeat_timeout_seconds),
        id=job_id,
        task_queue=settings.task_queue,
        id_conflict_policy=SAME_JOB,
    )


async def start_batch(client: Client, settings: Settings, job_id: str) -> None:
    await client.start_workflow(
        BatchParseWorkflow.run,
        BatchInput(
            job_id=job_id,
            heartbeat_timeout_seconds=settings.heartbeat_timeout_seconds,
            max_concurrency=settings.batch_max_concurrency,
            children_per_run=settings.batch_children_per_run,
        ),
        id=job_id,
        task_queue=settings.task_queue,
        id_conflict_policy=SAME_JOB,
    )


STARTERS = {JobOperationType.PARSE: start_parse, JobOperationType.BATCH_PARSE: start_batch}


async def start_job(
    client: Client, settings: Settings, job_id: str, operation: JobOperationType
) -> None:
    await STARTERS[operation](client, settings, job_id)
