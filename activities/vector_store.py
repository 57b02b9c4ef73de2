"""VectorStoreActivities: index one parse result into a store (one child of a
`vector_store` job), and settle children that stop.

Chunks are embedded and staged in pages (`vector_store_page_size`), each through the fence
(db/vector_chunks.py), with heartbeats flowing meanwhile: a cancel reaches the activity
within a heartbeat interval, its staged rows are deleted and the child is `cancelled`; the
last child of a cancelled job to stop settles the job `cancelled` as well.
A retried attempt (a worker crashed) resumes after the pages already staged; a page
written twice lands on the same unique key, never as a duplicate.
"""

import asyncio
import json
from typing import Any

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.batches import BatchActivities
from activities.cancels import CancelBoard, StoppedByCancel, watched
from activities.heartbeat import heartbeating
from core.contracts import (
    CancelJobInput,
    FailJobInput,
    FinishBatchInput,
    JobRef,
    ResultOutcome,
)
from core.embedding import Embedder, Embedders
from core.enums import JobStatus
from core.params import VectorStoreParameters
from core.settings import Settings
from db import vector_chunks
from db.transitions import Transition, transition
from db.vector_chunks import IndexItem, Page

CANCELLED_REASON = {"reason": "vector store job cancelled"}


class VectorStoreActivities:
    def __init__(
        self, pool: asyncpg.Pool, settings: Settings, board: CancelBoard | None = None
    ) -> None:
        self.pool = pool
        self.board = board or CancelBoard()
        self.heartbeat_every = settings.heartbeat_throttle
        self.page_size = settings.vector_store_page_size
        self.embedders = Embedders(settings)
        self.batches = BatchActivities(pool)

    @activity.defn
    async def index_result(self, ref: JobRef) -> ResultOutcome:
        item = await vector_chunks.index_item(self.pool, ref.job_id)
        if item is None or item.stopping or item.store_id is None:
            return ResultOutcome(succeeded=False)
        if item.status is JobStatus.PENDING:
            if not await transition(self.pool, ref.job_id, Transition(JobStatus.RUNNING)):
                return ResultOutcome(succeeded=False)
        elif item.status is not JobStatus.RUNNING:
            return ResultOutcome(succeeded=False)
        if item.result_id is None or item.chunks_json is None:
            raise ApplicationError("the parse result no longer exists", non_retryable=True)
        assert item.engine and item.embedding_model and item.dimensions  # with the store
        embedder = self.embedders.get(item.engine, item.embedding_model, item.dimensions)
        async with heartbeating(self.heartbeat_every):
            try:
                return await watched(
                    self.board, ref.job_id, self._index(ref.job_id, item, embedder)
                )
            except StoppedByCancel:
                # The job's cancel came through Postgres: the indexing has stopped.
                await self._settle(ref.job_id, Transition(JobStatus.CANCELLED, CANCELLED_REASON))
                return ResultOutcome(succeeded=False, cancelled=True)
            except asyncio.CancelledError:
                if not activity.is_worker_shutdown():  # a shutdown is retried elsewhere
                    cancelled = Transition(JobStatus.CANCELLED, CANCELLED_REASON)
                    await asyncio.shield(self._settle(ref.job_id, cancelled))
                raise

    async def _index(self, child_id: str, item: IndexItem, embedder: Embedder) -> ResultOutcome:
        """Pages are embedded one ahead: the next page is embedded (on the model's thread)
        while this one is written, so the model never waits for Postgres."""
        assert item.store_id and item.result_id and item.chunks_json and item.dimensions
        chunks: list[dict[str, Any]] = await asyncio.to_thread(json.loads, item.chunks_json)
        metadata = VectorStoreParameters.model_validate(item.parameters).metadata
        starts = range(item.staged, len(chunks), self.page_size)

        def embedded(start: int) -> asyncio.Task[Page]:
            part = chunks[start : start + self.page_size]
            return asyncio.ensure_future(self._page(item, metadata, start, part, embedder))

        ahead = embedded(starts[0]) if starts else None
        try:
            for start in starts:
                assert ahead is not None
                page = await ahead
                following = start + self.page_size
                ahead = embedded(following) if following < len(chunks) else None
                async with self.pool.acquire() as conn:
                    staged = await vector_chunks.stage_page(conn, child_id, page)
                if not staged:
                    return await self._refused(child_id)
        finally:
            if ahead is not None:  # stopped early: the page embedded ahead is dropped
                ahead.cancel()
                ahead.add_done_callback(lambda task: task.cancelled() or task.exception())
        result = {
            "parse_result_id": item.result_id,
            "vector_store_id": item.store_id,
            "chunk_count": len(chunks),
        }
        async with self.pool.acquire() as conn:
            done = await vector_chunks.publish(
                conn, child_id, item.store_id, item.result_id, len(chunks), result
            )
        if not done:
            return await self._refused(child_id)
        return ResultOutcome(True, item.result_id, chunk_count=len(chunks))

    async def _page(
        self,
        item: IndexItem,
        metadata: dict[str, Any],
        start: int,
        part: list[dict[str, Any]],
        embedder: Embedder,
    ) -> Page:
        assert item.store_id and item.result_id and item.dimensions
        contents = [str(chunk.get("content", "")) for chunk in part]
        vectors = await embedder.embed(contents)
        wrong = next((len(v) for v in vectors if len(v) != item.dimensions), None)
        if wrong is not None:
            raise ApplicationError(
                f"the model answered {wrong} dimensions; the store has {item.dimensions}",
                non_retryable=True,
            )
        if len(vectors) != len(contents):
            raise ApplicationError(
                f"the model answered {len(vectors)} vectors for {len(contents)} chunks",
                non_retryable=True,
            )
        return Page(
            store_id=item.store_id,
            result_id=item.result_id,
            file_id=item.file_id or "",
            metadata=metadata,
            dimensions=item.dimensions,
            first_index=start,
            contents=contents,
            blocks_json=[json.dumps(chunk.get("blocks", [])) for chunk in part],
            vectors=vectors,
        )

    async def _refused(self, child_id: str) -> ResultOutcome:
        """The fence refused a write: the job is being cancelled (or its store deleted).
        What was staged goes, and the child is settled `cancelled` if still running."""
        await self._settle(child_id, Transition(JobStatus.CANCELLED, CANCELLED_REASON))
        return ResultOutcome(succeeded=False)

    async def _settle(self, child_id: str, change: Transition) -> bool:
        """Settle the child; the last one to stop of a cancelled job settles the job too (its
        workflow then finds it settled: one cancel, whichever writes it first)."""
        async with self.pool.acquire() as conn:
            moved, stopped_parent = await vector_chunks.settle_child(conn, child_id, change)
        if stopped_parent is not None:
            await self.batches.finish_batch(FinishBatchInput(stopped_parent))
        return moved

    @activity.defn
    async def fail_result(self, inp: FailJobInput) -> bool:
        """A child whose indexing failed (retries exhausted): `failed`, nothing left staged."""
        return await self._settle(inp.job_id, Transition(JobStatus.FAILED, error=inp.error))

    @activity.defn
    async def cancel_open_children(self, inp: CancelJobInput) -> int:
        """A cancelled job's children still pending or running → `cancelled`."""
        async with self.pool.acquire() as conn:
            return await vector_chunks.cancel_open_children(conn, inp.job_id, inp.reason)

    def all(self) -> list[Any]:
        return [self.index_result, self.fail_result, self.cancel_open_children]
