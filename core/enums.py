"""Job enums from the Dex contract, with the allowed status transitions kept next to them."""

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

# The job state machine (design.md). Postgres enforces it: every transition is a
# conditional UPDATE whose WHERE clause lists exactly these source states.
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


def sources_of(target: JobStatus) -> list[str]:
    """The states a job may be in for a transition to `target` to be allowed."""
    return [str(s) for s, targets in ALLOWED_TRANSITIONS.items() if target in targets]


class ProjectStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class FileStatus(StrEnum):
    UPLOADING = "uploading"
    UPLOADED = "uploaded"
    FAILED = "failed"
    DELETED = "deleted"


class HistoryStatus(StrEnum):
    """Free-form in the contract; these are the values Docket writes."""

    CREATED = "created"
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCEL_REQUESTED = "cancel_requested"
    CANCELLED = "cancelled"
