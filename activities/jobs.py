"""JobActivities: status transitions and the parse step, holding the pool and storage."""

import functools
import logging
import time
from datetime import timedelta
from typing import Any

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import heartbeating
from activities.parse_run import threaded_parse
from activities.parsing import ENGINE_NAME, ChunkingOptions, ParseError
from core.contracts import (
    PARSE_ERROR_TYPE,
    ActivityName,
    CancelJobInput,
    FailJobInput,
    JobRef,
    ParseOutcome,
)
from core.enums import HistoryStatus, JobStatus
from core.ids import IdPrefix, new_id
from core.storage import FileStorage
from db import jobs, results
from db.jobs import Transition

log = logging.getLogger(__name__)


def parse_failure(message: str) -> ApplicationError:
    """A document that cannot be parsed: the job fails, and retrying would not help."""
    return ApplicationError(message, type=PARSE_ERROR_TYPE, non_retryable=True)


def chunking_options(parameters: dict[str, Any]) -> ChunkingOptions:
    given = parameters.get("chunking_options") or {}
    return ChunkingOptions(**{k: v for k, v in given.items() if v is not None})


class JobActivities:
    def __init__(self, pool: asyncpg.Pool, storage: FileStorage, heartbeat_every: timedelta):
        self.pool = pool
        self.storage = storage
        self.heartbeat_every = heartbeat_every

    @activity.defn(name=ActivityName.START_JOB)
    async def start_job(self, ref: JobRef) -> bool:
        """pending → running. True if the job is running (also on a retry after we already
        moved it); False if it was cancelled or finished before it could start."""
        attempt = activity.info().attempt
        moved = await jobs.transition(
            self.pool,
            ref.job_id,
            Transition(
                JobStatus.RUNNING, "Job started", HistoryStatus.STARTED, {"attempt": attempt}
            ),
        )
        return moved or await jobs.status_unscoped(self.pool, ref.job_id) is JobStatus.RUNNING

    @activity.defn(name=ActivityName.PARSE_DOCUMENT)
    async def parse_document(self, ref: JobRef) -> ParseOutcome:
        item = await results.work_item(self.pool, ref.job_id)
        if item is None or item.status != JobStatus.RUNNING:
            return ParseOutcome(succeeded=False)
        if item.storage_key is None or item.mime_type is None or item.file_status == "deleted":
            raise parse_failure(f"source document {item.source_id} is missing or was deleted")
        path = self.storage.path_of(item.storage_key)
        if not path.exists():
            raise parse_failure(f"the content of source document {item.source_id} is missing")
        began = time.monotonic()
        async with heartbeating(self.heartbeat_every):
            try:
                options = functools.partial(chunking_options, item.parameters)
                async with threaded_parse(path, item.mime_type, options) as parse:
                    parsed = await parse.run()
            except (ParseError, ValueError, TypeError) as err:
                # ValueError/TypeError: parameters the engine rejects (the API validates
                # them first, but rows written by older versions may still carry them).
                raise parse_failure(f"cannot parse {item.filename}: {err}") from err
            document = results.ParsedDocument(
                result_id=new_id(IdPrefix.PARSE_RESULT),
                engine=ENGINE_NAME,
                page_count=parsed.page_count,
                chunks=parsed.chunks,
                chunks_json=parsed.chunks_json,
                parse_ms=int((time.monotonic() - began) * 1000),
            )
            stored = await results.store_and_succeed(self.pool, ref.job_id, document)
        if not stored:
            # Either the job left `running` meanwhile (nothing to do), or the API accepted a
            # cancel (202) just before the result: the fence refused it, and the job ends
            # cancelled here, as promised, whether or not the workflow's cancel follows.
            settled = await self.cancel_job(CancelJobInput(job_id=ref.job_id))
            log.info(
                "job %s %s while parsing; result discarded",
                ref.job_id,
                "cancelled" if settled else "left running",
            )
            return ParseOutcome(succeeded=False)
        return ParseOutcome(
            succeeded=True,
            parse_result_id=document.result_id,
            page_count=document.page_count,
            chunk_count=len(document.chunks),
        )

    @activity.defn(name=ActivityName.CANCEL_JOB)
    async def cancel_job(self, inp: CancelJobInput) -> bool:
        reason = inp.reason or await jobs.cancel_reason(self.pool, inp.job_id)
        return await jobs.transition(
            self.pool,
            inp.job_id,
            Transition(
                JobStatus.CANCELLED, "Job cancelled", HistoryStatus.CANCELLED, {"reason": reason}
            ),
        )

    @activity.defn(name=ActivityName.FAIL_JOB)
    async def fail_job(self, inp: FailJobInput) -> bool:
        return await jobs.transition(
            self.pool,
            inp.job_id,
            Transition(JobStatus.FAILED, "Job failed", HistoryStatus.FAILED, error=inp.error),
        )

    def all(self) -> list[Any]:
        """The bound activity methods, for `Worker(activities=...)`."""
        return [self.start_job, self.parse_document, self.cancel_job, self.fail_job]
