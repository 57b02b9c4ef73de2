"""Docket's Python SDK: `Docket` (blocking) and `AsyncDocket` on httpx, typed with the
service's own wire models.

    from docket.client import Docket

    with Docket() as docket:  # DOCKET_API_URL/KEY/ACCOUNT_ID, else `docket dev`'s credentials
        project = docket.projects.create("reports")
        file = docket.files.upload(project.id, "report.pdf")
        job = docket.jobs.wait(docket.parse.create(project.id, file.id), timeout=60)
        result = docket.results.get(project.id, job.result["parse_result_id"])
"""

from api.schemas import (
    BatchParseProgress,
    FileEntity,
    JobEntity,
    JobHistoryEvent,
    ParseResult,
    ParseResultSummary,
    ProjectEntity,
)
from api.vector_schemas import SearchResponse, VectorStoreEntity
from docket.client.clients import AsyncDocket, Docket
from docket.client.config import ClientConfig, MissingCredentials
from docket.client.errors import (
    BadRequest,
    Conflict,
    DocketError,
    Forbidden,
    InsufficientStorage,
    NotFound,
    PayloadTooLarge,
    ServerError,
    Unauthorized,
    Unavailable,
    ValidationFailed,
    WaitTimeout,
)
from docket.client.waiting import JobEvent

__all__ = [
    "AsyncDocket",
    "BadRequest",
    "BatchParseProgress",
    "ClientConfig",
    "Conflict",
    "Docket",
    "DocketError",
    "FileEntity",
    "Forbidden",
    "InsufficientStorage",
    "JobEntity",
    "JobEvent",
    "JobHistoryEvent",
    "MissingCredentials",
    "NotFound",
    "ParseResult",
    "ParseResultSummary",
    "PayloadTooLarge",
    "ProjectEntity",
    "SearchResponse",
    "ServerError",
    "Unauthorized",
    "Unavailable",
    "ValidationFailed",
    "VectorStoreEntity",
    "WaitTimeout",
]
