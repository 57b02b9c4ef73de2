"""ParseActivities: the parse step of a parse job, holding the pool and the storage."""

import asyncio
import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import ValidationError
from temporalio import activity

from activities.cancels import CancelBoard, StoppedByCancel, watched
from activities.heartbeat import heartbeating
from activities.jobs import settle_cancelled
from activities.parse_pool import ParsePool
from activities.parse_run import threaded_parse
from activities.parsing import ENGINE_NAME, ParseError
from activities.results import document_failure, storage_failure, store_result
from core.contracts import JobRef, ResultOutcome
from core.enums import FileStatus, JobOperationType, JobStatus
from core.ids import IdPrefix, new_id
from core.metrics import docket_metrics
from core.params import DEFAULT_OCR_MODE, ChunkingOptions, ParseParameters
from core.storage import BlobMissing, Storage, StorageUnavailable
from db import results

log = logging.getLogger(__name__)


class ParseActivities:
    def __init__(
        self,
        pool: asyncpg.Pool,
        storage: Storage,
        heartbeat_every: timedelta,
        board: CancelBoard | None = None,
        parser: ParsePool | None = None,  # None: parse on this process's parse thread
    ):
        self.pool = pool
        self.storage = storage
        self.heartbeat_every = heartbeat_every
        self.board = board or CancelBoard()
        self.parser = parser

    @activity.defn
    async def parse_document(self, ref: JobRef) -> ResultOutcome:
        item = await results.work_item(self.pool, ref.job_id)
        if item is None or item.status is not JobStatus.RUNNING:
            return ResultOutcome(succeeded=False)
        missing = item.storage_key is None or item.mime_type is None
        if missing or item.file_status is FileStatus.DELETED:
            raise document_failure(f"source document {item.source_id} is missing or was deleted")
        assert item.storage_key is not None and item.mime_type is not None
        try:
            async with self.storage.local_copy(item.storage_key) as path:
                return await self._parse(ref, item, path)
        except BlobMissing as err:
            raise document_failure(
                f"the content of source document {item.source_id} is missing"
            ) from err
        except StorageUnavailable as err:
            # Perhaps transient (a shared volume, NFS, an object store's outage): retried a
            # bounded number of times, then the job fails with this message.
            raise storage_failure(
                f"could not read the stored file of source document {item.source_id}: {err.reason}"
            ) from err

    async def _parse(self, ref: JobRef, item: results.WorkItem, path: Path) -> ResultOutcome:
        assert item.mime_type is not None
        began = time.monotonic()
        async with heartbeating(self.heartbeat_every):
            try:
                async with threaded_parse(
                    path,
                    item.mime_type,
                    lambda: chunking_of(item.parameters),
                    self.parser,
                    ocr_mode=ocr_of(item.parameters),
                ) as parse:
                    parsed = await watched(self.board, ref.job_id, parse.run())
            except ParseError as err:
                # Expected: one line, no traceback (document_failure is benign for the SDK).
                log.info("job %s file %s failed: %s", ref.job_id, item.source_id, err)
                raise document_failure(f"cannot parse {item.filename}: {err}") from None
            except StoppedByCancel:
                # A cancel that came through Postgres: the parse has stopped.
                await settle_cancelled(self.pool, ref.job_id)
                return ResultOutcome(succeeded=False, cancelled=True)
            document = results.ParsedDocument(
                result_id=new_id(IdPrefix.PARSE_RESULT),
                engine=ENGINE_NAME,
                page_count=parsed.page_count,
                chunks=parsed.chunks,
                chunks_json=parsed.chunks_json,
                pages_json=parsed.pages_json,
                parse_ms=int((time.monotonic() - began) * 1000),
            )
            outcome = await store_result(self.pool, ref.job_id, document)
            if outcome.succeeded:
                size = (await asyncio.to_thread(path.stat)).st_size
                docket_metrics().parse_bytes.labels(JobOperationType.PARSE).inc(size)
            return outcome

    def all(self) -> list[Any]:
        return [self.parse_document]


def ocr_of(parameters: dict[str, Any]) -> str:
    """The job's `advanced_options.ocr`; a row that does not validate fails later, in
    `chunking_of`, with the reason."""
    try:
        return ParseParameters.model_validate(parameters).ocr_mode
    except ValidationError:
        return DEFAULT_OCR_MODE


def chunking_of(parameters: dict[str, Any]) -> ChunkingOptions:
    """The job's chunking options, validated again (they were validated at the API's edge;
    rows written by older versions may still carry options the engine rejects: the job then
    fails with the reason, and is not retried)."""
    try:
        return ParseParameters.model_validate(parameters).chunking_options
    except ValidationError as err:
        raise document_failure(f"invalid parse parameters: {err}") from err
