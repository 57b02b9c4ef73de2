"""`S3Storage`: the `Storage` interface on any S3-compatible object store, through obstore
(Python bindings of the Rust `object_store` crate used by Arrow/DataFusion: async, typed,
streaming multipart uploads that abort on failure, pre-signed URLs, bounded retries).

A seekable upload (the API's spooled file) is hashed first, then written once, straight to
`blobs/<xx>/<sha256>` (skipped when those bytes are already stored): in one PUT up to
`s3_single_put_max_bytes` (by default what the parts of a multipart upload hold in flight,
so never more memory than those), in parts of `s3_part_bytes` beyond. A stream that can be
read only once goes to `staging/<random>` while its sha256 is computed, then is renamed
(server-side copy + delete) to `blobs/<xx>/<sha256>`, so the same bytes always end under the
same key. A failure half way (over the size limit, the source broken, the store gone) aborts
the multipart upload, so nothing is left in the store.
"""

import asyncio
import contextlib
import io
import logging
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import BaseError, NotFoundError
from obstore.store import S3Store

from core.settings import Settings
from core.storage import (
    COPY_CHUNK,
    BlobMissing,
    StorageUnavailable,
    StoredBlob,
    Tally,
    check_key,
)

log = logging.getLogger(__name__)

# What a failing store raises: obstore's own errors, and the OSError family (refused or
# reset connections, time-outs) that its client surfaces as such.
STORE_ERRORS = (BaseError, OSError)
# A missing object: obstore raises the builtin FileNotFoundError (its NotFoundError where
# the error does not map onto an OSError).
NOT_FOUND = (FileNotFoundError, NotFoundError)
# Temporary local copies for the parsers; the prefix names them in a listing of /tmp.
LOCAL_COPY_PREFIX = "docket-blob-"


# obstore's messages carry the store's whole XML answer and a debug dump: the first line
# (what failed, where, how) is what a job's error and a 503 show.
SUMMARY_CHARS = 300


def summary(err: BaseException) -> str:
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return first[:SUMMARY_CHARS]


def _tally_all(source: BinaryIO, max_bytes: int) -> StoredBlob:
    tally = Tally(max_bytes)
    while chunk := source.read(COPY_CHUNK):
        tally.add(chunk)
    return tally.blob()


def _read_whole(source: BinaryIO, max_bytes: int) -> tuple[StoredBlob, bytes]:
    """A small upload's bytes (one buffer) and their digest."""
    whole = source.read()
    tally = Tally(max_bytes)
    tally.add(whole)
    return tally.blob(), whole


async def _chunks_of(source: BinaryIO) -> AsyncIterator[bytes]:
    while chunk := await asyncio.to_thread(source.read, COPY_CHUNK):
        yield chunk


def blob_path(key: str) -> str:
    return f"blobs/{check_key(key)[:2]}/{key}"


class S3Storage:
    def __init__(
        self,
        store: S3Store,
        part_bytes: int,
        concurrency: int,
        single_put_max_bytes: int | None = None,
    ) -> None:
        self.bucket = store
        self.part_bytes = part_bytes
        self.concurrency = concurrency
        # Unset: what a multipart upload of this store holds in flight anyway (its parts
        # in parallel), so one PUT never takes more memory than the parts would.
        self.single_put_max_bytes = (
            part_bytes * concurrency if single_put_max_bytes is None else single_put_max_bytes
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> "S3Storage":
        assert settings.storage_url is not None
        url = urlsplit(settings.storage_url)
        if not url.netloc:
            raise ValueError(f"DOCKET_STORAGE_URL {settings.storage_url!r} names no bucket")
        endpoint = settings.s3_endpoint_url
        store = S3Store(
            url.netloc,
            prefix=url.path.strip("/") or None,
            # Region, credentials and AWS_ENDPOINT_URL come from the AWS_* environment.
            config={
                **({"endpoint": endpoint} if endpoint else {}),
                "unsigned_payload": not settings.s3_sign_payload,
            },
            client_options={
                "allow_http": bool(endpoint and endpoint.startswith("http://")),
                "timeout": timedelta(seconds=settings.s3_request_timeout_seconds),
            },
            retry_config={
                "max_retries": settings.s3_max_retries,
                "retry_timeout": timedelta(seconds=settings.s3_retry_timeout_seconds),
            },
        )
        return cls(
            store,
            settings.s3_part_bytes,
            settings.s3_upload_concurrency,
            settings.s3_single_put_max_bytes,
        )

    async def store(self, source: BinaryIO, max_bytes: int) -> StoredBlob:
        if source.seekable():
            return await self._store_once(source, max_bytes)
        return await self._store_staged(source, max_bytes)

    async def _store_once(self, source: BinaryIO, max_bytes: int) -> StoredBlob:
        """A seekable upload (the API's spooled file): hashed first, then written once under
        its final key, or not at all when the store already holds those bytes. A rename is
        a server-side copy plus a delete: a second full write of every upload."""
        start = source.tell()
        size = source.seek(0, io.SEEK_END) - start
        source.seek(start)
        whole: bytes | None = None
        if size <= self.single_put_max_bytes:
            blob, whole = await asyncio.to_thread(_read_whole, source, max_bytes)
        else:
            blob = await asyncio.to_thread(_tally_all, source, max_bytes)
        try:
            if await self.exists(blob.key):
                return blob  # those bytes are stored already
            if whole is not None:
                await obstore.put_async(
                    self.bucket, blob_path(blob.key), whole, use_multipart=False
                )
            else:
                source.seek(start)
                await obstore.put_async(
                    self.bucket,
                    blob_path(blob.key),
                    _chunks_of(source),
                    chunk_size=self.part_bytes,
                    max_concurrency=self.concurrency,
                )
        except STORE_ERRORS as err:
            raise StorageUnavailable(summary(err)) from err
        return blob

    async def _store_staged(self, source: BinaryIO, max_bytes: int) -> StoredBlob:
        """A stream read once: written to a staging key while hashed, then renamed."""
        tally = Tally(max_bytes)

        async def chunks() -> AsyncIterator[bytes]:
            # Over the limit, Tally raises here: obstore aborts the multipart upload.
            while chunk := await asyncio.to_thread(source.read, COPY_CHUNK):
                yield tally.add(chunk)

        staging = f"staging/{uuid.uuid4().hex}"
        try:
            await obstore.put_async(
                self.bucket,
                staging,
                chunks(),
                chunk_size=self.part_bytes,
                max_concurrency=self.concurrency,
            )
            blob = tally.blob()
            await obstore.rename_async(self.bucket, staging, blob_path(blob.key))
        except STORE_ERRORS as err:
            await self._forget(staging)
            raise StorageUnavailable(summary(err)) from err
        return blob

    async def _forget(self, staging: str) -> None:
        """Drop a staging object that a failed rename may have left (a failed put leaves
        none: its multipart upload was aborted)."""
        with contextlib.suppress(*STORE_ERRORS):
            await obstore.delete_async(self.bucket, staging)

    async def exists(self, key: str) -> bool:
        try:
            await obstore.head_async(self.bucket, blob_path(key))
        except NOT_FOUND:
            return False
        except STORE_ERRORS as err:
            raise StorageUnavailable(summary(err)) from err
        return True

    @contextlib.asynccontextmanager
    async def local_copy(self, key: str) -> AsyncIterator[Path]:
        """The blob streamed into a temporary file, removed when the context ends."""
        fd, name = tempfile.mkstemp(prefix=LOCAL_COPY_PREFIX)
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                await self._download(key, out)
            yield path
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)

    async def _download(self, key: str, out: BinaryIO) -> None:
        try:
            result = await obstore.get_async(self.bucket, blob_path(key))
            async for chunk in result.stream(min_chunk_size=self.part_bytes):
                await asyncio.to_thread(out.write, chunk)
        except NOT_FOUND as err:
            raise BlobMissing(key) from err
        except STORE_ERRORS as err:
            raise StorageUnavailable(summary(err)) from err

    async def presign(self, key: str, expires_in_seconds: int) -> str | None:
        try:
            return await obstore.sign_async(
                self.bucket, "GET", blob_path(key), timedelta(seconds=expires_in_seconds)
            )
        except STORE_ERRORS as err:
            raise StorageUnavailable(summary(err)) from err
