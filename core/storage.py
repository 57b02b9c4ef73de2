"""Content-addressed file storage under the data dir.

Blobs are named by their sha256, so a user-supplied filename never becomes a path: names
with `..`, absolute paths or NUL bytes cannot escape the storage root. Uploads are written
to a temporary file and renamed into place only when complete, so a failed or oversized
upload leaves nothing behind. A full disk is reported as `StorageFull`, not as a bare
OSError (which the API would otherwise not tell apart from any other I/O failure).
"""

import errno
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

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


@dataclass(frozen=True)
class StoredBlob:
    key: str
    size: int
    head: bytes  # the first bytes, for type detection


class FileStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / "blobs" / key[:2] / key

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
        digest = hashlib.sha256()
        head = b""
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=staging)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(COPY_CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise UploadTooLarge(max_bytes)
                    if len(head) < HEAD_BYTES:
                        head += chunk[: HEAD_BYTES - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
            key = digest.hexdigest()
            final = self.path_of(key)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, final)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return StoredBlob(key=key, size=size, head=head)
