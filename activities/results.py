"""Storing a parse result through the fence, shared by every result-producing activity."""

import logging

import asyncpg
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.jobs import settle_cancelled
from core.contracts import PARSE_ERROR_TYPE, STORAGE_ERROR_TYPE, ResultOutcome
from core.enums import JobStatus
from core.metrics import docket_metrics
from db import jobs, results
from db.pool import Conn

log = logging.getLogger(__name__)


def document_failure(message: str) -> ApplicationError:
    """A document (or result) that cannot be processed: the job fails, and retrying would
    not help. Benign: an expected outcome, which the SDK logs at DEBUG, not as a traceback."""
    return ApplicationError(
        message,
        type=PARSE_ERROR_TYPE,
        non_retryable=True,
        category=ApplicationErrorCategory.BENIGN,
    )


def storage_failure(message: str) -> ApplicationError:
    """The stored file could not be read: retried (WORK_RETRY bounds it), then the job
    fails with this message."""
    return ApplicationError(message, type=STORAGE_ERROR_TYPE)


async def store_result(conn: Conn, job_id: str, document: results.ParsedDocument) -> ResultOutcome:
    """Store the result and finish the job in one fenced transaction. A result Postgres
    cannot hold (a value over one of its size limits, SQLSTATE class 54) fails the job:
    storing it again would fail the same way. Other database errors are retried (bounded
    by the activity's retry policy)."""
    try:
        stored = await results.store_and_succeed(conn, job_id, document)
    except asyncpg.ProgramLimitExceededError as err:
        log.info("job %s result too large to store: %s", job_id, err)
        raise document_failure(f"the result is too large to store: {err}") from None
    if not stored:
        # Either the job left `running` meanwhile (nothing to do), or the API accepted a
        # cancel (202) just before the result: the fence refused it, and the job ends
        # cancelled here, as promised, whether or not the workflow's cancel follows.
        settled = await settle_cancelled(conn, job_id)
        log.info(
            "job %s %s while working; result discarded",
            job_id,
            "cancelled" if settled else "left running",
        )
        return ResultOutcome(succeeded=False)
    timing = await jobs.timing(conn, job_id)
    docket_metrics().job_moved(JobStatus.SUCCEEDED, timing)
    docket_metrics().result_stored(timing, document.page_count, document.parse_ms)
    return ResultOutcome(
        succeeded=True,
        parse_result_id=document.result_id,
        page_count=document.page_count,
        chunk_count=len(document.chunks),
    )
