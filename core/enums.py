"""Job enums from the Dex contract, with the allowed status transitions kept next to them."""

from dataclasses import dataclass
from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIALLY_SUCCEEDED = "partially_succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


class JobOperationType(StrEnum):
    PARSE = "parse"
    BATCH_PARSE = "batch_parse"
    EXTRACT = "extract"
    RESEARCH = "research"
    VECTOR_STORE = "vector_store"
    CHUNK = "chunk"
    SUMMARIZATION = "summarization"
    CREATE_INDEX = "create_index"
    UPDATE_INDEX = "update_index"


TERMINAL_STATUSES: frozenset[JobStatus] = frozenset(
    {
        JobStatus.SUCCEEDED,
        JobStatus.PARTIALLY_SUCCEEDED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
    }
)
NON_TERMINAL_STATUSES: frozenset[JobStatus] = frozenset(JobStatus) - TERMINAL_STATUSES


class HistoryStatus(StrEnum):
    """Free-form in the contract; these are the values Docket writes."""

    CREATED = "created"
    STARTED = "started"
    COMPLETED = "completed"
    SUCCEEDED = "succeeded"
    PARTIALLY_SUCCEEDED = "partially_succeeded"
    FAILED = "failed"
    CANCEL_REQUESTED = "cancel_requested"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Step:
    """The history event a transition appends: its step name and status."""

    name: str
    status: HistoryStatus


# The job state machine (design.md), as data. Postgres enforces it: every guarded statement
# in db/ takes its source states from this table (`sources_of`), never from a literal.
ALLOWED_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset(
        {
            JobStatus.SUCCEEDED,
            JobStatus.PARTIALLY_SUCCEEDED,
            JobStatus.FAILED,
            JobStatus.CANCELLED,
        }
    ),
    **{status: frozenset() for status in TERMINAL_STATUSES},
}
# Per target status: the history event its transition appends.
STEP_OF: dict[JobStatus, Step] = {
    JobStatus.RUNNING: Step("Job started", HistoryStatus.STARTED),
    JobStatus.SUCCEEDED: Step("Job succeeded", HistoryStatus.SUCCEEDED),
    JobStatus.PARTIALLY_SUCCEEDED: Step(
        "Job partially succeeded", HistoryStatus.PARTIALLY_SUCCEEDED
    ),
    JobStatus.FAILED: Step("Job failed", HistoryStatus.FAILED),
    JobStatus.CANCELLED: Step("Job cancelled", HistoryStatus.CANCELLED),
}
# A cancel request is a mark, not a transition: accepted only while the job is working. A
# pending job is cancelled outright instead (it never starts).
CANCEL_REQUEST_FROM: frozenset[JobStatus] = frozenset({JobStatus.RUNNING})
CANCEL_REQUESTED_STEP = Step("Cancel requested", HistoryStatus.CANCEL_REQUESTED)
CREATED_STEP = Step("Job created", HistoryStatus.CREATED)


def sources_of(target: JobStatus, only: frozenset[JobStatus] | None = None) -> list[str]:
    """The states a job may be in for a transition to `target` to be allowed, narrowed to
    `only` when a caller acts on one source state (e.g. cancelling a job still pending)."""
    allowed = [s for s, targets in ALLOWED_TRANSITIONS.items() if target in targets]
    if only is not None:
        if not only <= set(allowed):
            raise ValueError(f"{sorted(only)} → {target} is not in the state machine")
        allowed = [s for s in allowed if s in only]
    return sorted(str(s) for s in allowed)


def status_values(statuses: frozenset[JobStatus]) -> list[str]:
    """Statuses as the text[] a guarded statement takes."""
    return sorted(str(s) for s in statuses)


class ProjectStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class FileStatus(StrEnum):
    UPLOADING = "uploading"
    UPLOADED = "uploaded"
    FAILED = "failed"
    DELETED = "deleted"
