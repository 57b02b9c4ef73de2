"""File storage: one interface (`Storage`), two backends chosen by DOCKET_STORAGE_URL.

`FileStorage` (here; unset or `file://PATH`) keeps content-addressed blobs in a directory;
`S3Storage` (core/storage_s3.py; `s3://bucket/prefix`) keeps them in any S3-compatible
store. Both name a blob by the sha256 of its bytes, computed while the upload streams.

Local blobs are named by their sha256, so a user-supplied filename never becomes a path: names
with `..`, absolute paths or NUL bytes cannot escape the storage root. Uploads are written
to a temporary file and renamed into place only when complete, so a failed or oversized
upload leaves nothing behind. A full disk is reported as `StorageFull`, not as a bare
OSError (which the API would otherwise not tell apart from any other I/O failure).
"""

import asyncio
import contextlib
import errno
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import unquote, urlsplit

from core.settings import Settings

COPY_CHUNK = 1024 * 1024
HEAD_BYTES = 8192
_KEY = re.compile(r"^[0-9a-f]{64}$")
# The errors of a file system with no room left: out of blocks or inodes, or over quota.
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class UploadTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"upload exceeds the limit of {limit} bytes")
        self.limit = limit


class StorageFull(Exception):
    def __init__(self, cause: OSError) -> None:
        super().__init__(
            f"the file storage has no space left ({cause.strerror}); nothing was stored"
        )


class BlobMissing(Exception):
    """No blob under that key (deleted by an operator, or a store emptied)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no stored blob {key}")
        self.key = key


class StorageUnavailable(Exception):
    """The store could not be reached or read (perhaps transient: an outage, a shared
    volume's I/O error); `reason` says what failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the file storage is unavailable: {reason}")
        self.reason = reason


def check_key(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


@dataclass(frozen=True)
class StoredBlob:
    key: str
    size: int
    head: bytes  # the first bytes, for type detection


class Tally:
    """The sha256, size and first bytes of an upload as its chunks go by; raises
    UploadTooLarge as soon as it passes `max_bytes`. Every backend stores through one."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes, self.size, self.head = max_bytes, 0, b""
        self._digest = hashlib.sha256()

    def add(self, chunk: bytes) -> bytes:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise UploadTooLarge(self.max_bytes)
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]
        self._digest.update(chunk)
        return chunk

    def blob(self) -> StoredBlob:
        return StoredBlob(key=self._digest.hexdigest(), size=self.size, head=self.head)


class Storage(Protocol):
    """What the API and the workers need of a file store."""

    async def store(self, source: BinaryIO, max_bytes: int) -> StoredBlob:
        """Stream `source` into the store under the digest of its bytes; raises
        UploadTooLarge, StorageFull or StorageUnavailable, and then leaves nothing behind."""
        ...

    async def exists(self, key: str) -> bool: ...

    def local_copy(self, key: str) -> contextlib.AbstractAsyncContextManager[Path]:
        """A local path holding the blob's bytes while the context lasts (parsers read files
        by path); raises BlobMissing or StorageUnavailable on entry."""
        ...

    async def presign(self, key: str, expires_in_seconds: int) -> str | None:
        """The store's own pre-signed GET URL, or None where the API serves the bytes
        itself (then with a signed Docket URL)."""
        ...


class FileStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, key: str) -> Path:
        check_key(key)
        return self.root / "blobs" / key[:2] / key

    async def store(self, source: BinaryIO, max_bytes: int) -> StoredBlob:
        return await asyncio.to_thread(self.save, source, max_bytes)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path_of(key).is_file)

    @contextlib.asynccontextmanager
    async def local_copy(self, key: str) -> AsyncIterator[Path]:
        """The blob's own path: no copy."""
        yield await asyncio.to_thread(self._readable, key)

    def _readable(self, key: str) -> Path:
        path = self.path_of(key)
        if not path.exists():
            raise BlobMissing(key)
        try:
            with path.open("rb"):
                pass  # an unreadable blob (EACCES, EIO, ESTALE, a directory) fails here
        except OSError as err:
            raise StorageUnavailable(str(err.strerror or err)) from err
        return path

    async def presign(self, key: str, expires_in_seconds: int) -> str | None:
        return None

    def save(self, source: BinaryIO, max_bytes: int) -> StoredBlob:
        """Copy `source` into the store; raises UploadTooLarge or StorageFull. Blocking: run
        it in a thread."""
        try:
            return self._save(source, max_bytes)
        except OSError as err:
            if err.errno in NO_SPACE:
                raise StorageFull(err) from err
            raise

    def _save(self, source: BinaryIO, max_bytes: int) -> StoredBlob:
        staging = self.root / "staging"
        staging.mkdir(parents=True, exist_ok=True)
        tally = Tally(max_bytes)
        fd, tmp_name = tempfile.mkstemp(dir=staging)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(COPY_CHUNK):
                    out.write(tally.add(chunk))
            blob = tally.blob()
            final = self.path_of(blob.key)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, final)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return blob


def open_storage(settings: Settings) -> Storage:
    """The backend DOCKET_STORAGE_URL names: unset = the data dir's files/, `file://PATH` = a
    directory, `s3://bucket/prefix` = an S3-compatible store."""
    url = settings.storage_url
    if not url:
        return FileStorage(settings.storage_dir)
    parts = urlsplit(url)
    if parts.scheme == "file":
        return FileStorage(Path(unquote(parts.netloc + parts.path)))
    if parts.scheme == "s3":
        from core.storage_s3 import S3Storage  # the S3 client only where it is used

        return S3Storage.from_settings(settings)
    raise ValueError(f"DOCKET_STORAGE_URL: unsupported scheme {parts.scheme!r} (file:// or s3://)")
