"""Client-side starter for the kernel's workflows (workflow id = job id).

Used by the API when a job is created and by the reconciler for jobs whose start was lost.
Not imported by workflow code: starting is I/O.
"""

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from core.enums import JobOperationType
from core.settings import Settings
from workflows.registry import Registry

# A second start of the same job (a client retry, the reconciler) attaches to the running
# execution instead of failing or starting a twin.
SAME_JOB = WorkflowIDConflictPolicy.USE_EXISTING


async def start_job(
    client: Client,
    settings: Settings,
    registry: Registry,
    job_id: str,
    operation: JobOperationType,
) -> None:
    entry = registry[operation]
    await client.start_workflow(
        entry.run,
        entry.make_input(settings, job_id),
        id=job_id,
        task_queue=settings.task_queue,
        id_conflict_policy=SAME_JOB,
    )
