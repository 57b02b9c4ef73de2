"""Workflow and activity contracts: plain dataclasses shared by `workflows/` and `activities/`.

Kept separate from the wire schemas in `api/schemas.py`: these are what Temporal serialises
into event history, so they stay small (ids, not documents) and change only compatibly.
"""

from dataclasses import dataclass
from enum import StrEnum


class ActivityName(StrEnum):
    """Activity names are fixed strings so that workflow tests can mock them by name."""

    START_JOB = "start_job"
    PARSE_DOCUMENT = "parse_document"
    CANCEL_JOB = "cancel_job"
    FAIL_JOB = "fail_job"


PARSE_ERROR_TYPE = "ParseError"
"""ApplicationError type of a document that cannot be parsed: fails the job, never retried."""


@dataclass(frozen=True)
class ParseInput:
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
class ParseOutcome:
    """What the parse activity reports back: the job is `succeeded` once this exists."""

    succeeded: bool
    parse_result_id: str | None = None
    page_count: int = 0
    chunk_count: int = 0
