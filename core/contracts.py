"""Workflow and activity contracts: plain dataclasses shared by `workflows/` and `activities/`.

Kept separate from the wire schemas in `api/schemas.py`: these are what Temporal serialises
into event history, so they stay small (ids, not documents) and change only compatibly.
"""

from dataclasses import dataclass

from core.enums import JobStatus

PARSE_ERROR_TYPE = "ParseError"
"""ApplicationError type of a document that cannot be parsed: fails the job, never retried."""
STORAGE_ERROR_TYPE = "StorageError"
"""ApplicationError type of a stored file that could not be read: retried, with a bound."""


@dataclass(frozen=True)
class JobInput:
    """The input of a single-job workflow (parse, chunk): the job's id; its parameters live
    on the job row."""

    job_id: str
    # From Settings at start time: workflows must not read the environment themselves.
    heartbeat_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class JobRef:
    job_id: str


@dataclass(frozen=True)
class CancelJobInput:
    job_id: str
    reason: str | None = None


@dataclass(frozen=True)
class FailJobInput:
    job_id: str
    error: str


@dataclass(frozen=True)
class ResultOutcome:
    """What a result-producing activity (parse, rechunk) reports back: `succeeded` once its
    result is stored; False when the job left `running` meanwhile (nothing stored)."""

    succeeded: bool
    parse_result_id: str | None = None
    page_count: int = 0
    chunk_count: int = 0
    # The work stopped on a cancel that reached it through Postgres, and the job is settled
    # `cancelled` already; Temporal's own cancel of the workflow is on its way.
    cancelled: bool = False


@dataclass(frozen=True)
class BatchInput:
    """A batch_parse job. The documents and parameters live in Postgres (child rows and
    the batch row), so this input stays tiny however large the batch is."""

    job_id: str
    heartbeat_timeout_seconds: float = 10.0
    max_concurrency: int = 100
    # Children started per workflow run before continue-as-new keeps history bounded.
    children_per_run: int = 500
    # Carried across continue-as-new: children are started in id order after this one.
    after_child_id: str = ""
    started: bool = False
    # Carried across continue-as-new: children a previous run started that may still run.
    in_flight: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChildPageRequest:
    batch_id: str
    after_child_id: str
    limit: int


@dataclass(frozen=True)
class OpenChildrenRequest:
    """Which of these children of the batch are not yet terminal; with `wait_seconds`,
    polled that long at most until none is."""

    batch_id: str
    child_ids: list[str]
    wait_seconds: float = 0.0


@dataclass(frozen=True)
class IndexChildRequest:
    """A batch's parse child that ended: give it indexing child `child_id` if it succeeded
    and the batch indexes into a vector store."""

    batch_id: str
    parse_child_id: str
    child_id: str


@dataclass(frozen=True)
class FinishBatchInput:
    job_id: str
    cancelled: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class BatchOutcome:
    status: JobStatus
    total: int
    succeeded: int
    failed: int
    cancelled: int
    # False when the batch had already been settled (by the API or the reconciler).
    moved: bool = True


@dataclass(frozen=True)
class WebhookDeliveryInput:
    """One webhook delivery (workflow id = delivery id = the `webhook-id` header). The
    schedule comes from Settings at start time: workflows must not read the environment."""

    delivery_id: str
    attempt_timeout_seconds: float
    first_retry_seconds: float
    longest_retry_seconds: float
    maximum_attempts: int


# Each wait of the backoff doubles the last, up to the longest wait.
WEBHOOK_BACKOFF = 2.0


def attempts_within(first_seconds: float, longest_seconds: float, window_seconds: float) -> int:
    """How many attempts exponential backoff (first wait, doubling up to the longest) makes
    before its waits add up to `window_seconds`: the bound of a delivery's retries."""
    attempts, waited, wait = 1, 0.0, first_seconds
    while waited < window_seconds:
        waited += wait
        wait = min(wait * WEBHOOK_BACKOFF, longest_seconds)
        attempts += 1
    return attempts
