"""Client-side starter for the kernel's workflows (workflow id = job id).

Used by the API when a job is created and by the reconciler for jobs whose start was lost.
Not imported by workflow code: starting is I/O.

A start by the API also sets Docket's search attributes (`SEARCH_ATTRIBUTES`: registered by
`docket dev` and by `docket temporal setup`), so `temporal workflow list --query
"DocketProjectId='proj_…'"` and the UI find a project's workflows, and a static summary the
UI shows. The reconciler's rare restart of a lost start sets neither (it knows no tenancy).
"""

import logging
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from core.enums import JobOperationType
from core.settings import Settings
from workflows.registry import Operation, Registry

log = logging.getLogger(__name__)

# A second start of the same job (a client retry, the reconciler) attaches to the running
# execution instead of failing or starting a twin.
SAME_JOB = WorkflowIDConflictPolicy.USE_EXISTING

PROJECT_ID = SearchAttributeKey.for_keyword("DocketProjectId")
ACCOUNT_ID = SearchAttributeKey.for_keyword("DocketAccountId")
OPERATION = SearchAttributeKey.for_keyword("DocketOperation")
SEARCH_ATTRIBUTES = (PROJECT_ID, ACCOUNT_ID, OPERATION)


@dataclass(frozen=True)
class Visibility:
    """Who the job belongs to, and the one-line summary shown in the Temporal UI."""

    project_id: str
    account_id: str
    summary: str


def summary_of(operation: JobOperationType, body: dict[str, object]) -> str:
    """The operation and its input: the document, or how many documents for a batch."""
    many = body.get("source_document_ids")
    if isinstance(many, list):
        return f"{operation.value} of {len(many)} documents"
    one = body.get("source_document_id") or body.get("parse_result_id")
    return f"{operation.value} of {one}" if one else operation.value


async def start_job(
    client: Client,
    settings: Settings,
    registry: Registry,
    job_id: str,
    operation: JobOperationType,
    visibility: Visibility | None = None,
) -> None:
    entry = registry[operation]
    attributes = None
    if visibility is not None:
        attributes = TypedSearchAttributes(
            [
                SearchAttributePair(PROJECT_ID, visibility.project_id),
                SearchAttributePair(ACCOUNT_ID, visibility.account_id),
                SearchAttributePair(OPERATION, operation.value),
            ]
        )
    summary = visibility.summary if visibility else None
    try:
        await _start(client, settings, entry, job_id, attributes, summary)
    except RPCError as err:
        if attributes is None or not unregistered_attributes(err):
            raise
        # A cluster where `docket temporal setup` has not run yet: the job still starts,
        # only without the attributes that make it searchable (said once per start).
        log.warning(
            "search attributes not registered on Temporal (%s); run `docket temporal "
            "setup`. Starting job %s without them",
            err.message,
            job_id,
        )
        await _start(client, settings, entry, job_id, None, summary)


def unregistered_attributes(err: RPCError) -> bool:
    return (
        err.status == RPCStatusCode.INVALID_ARGUMENT
        and "search attribute" in str(err.message).lower()
    )


async def _start(
    client: Client,
    settings: Settings,
    entry: Operation,
    job_id: str,
    attributes: TypedSearchAttributes | None,
    summary: str | None,
) -> None:
    await client.start_workflow(
        entry.run,
        entry.make_input(settings, job_id),
        id=job_id,
        task_queue=settings.task_queue,
        id_conflict_policy=SAME_JOB,
        search_attributes=attributes,
        static_summary=summary,
    )
