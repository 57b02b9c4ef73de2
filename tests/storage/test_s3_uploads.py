"""Uploads to the S3 backend: content-addressed, streamed in parts, the 413 limit kept, and
nothing left in the store (object or multipart upload) by one that fails half way."""

import hashlib
import io
import os
from typing import Any

import httpx
import pytest

from core.settings import MIB
from core.storage import UploadTooLarge
from core.storage_s3 import S3Storage
from tests.helpers import upload
from tests.storage.conftest import PART, SINGLE_PUT_MAX
from tests.storage.s3_server import Relay, keys, uploads_in_progress

pytestmark = pytest.mark.s3


async def test_a_small_upload_is_stored_under_its_digest_and_deduplicated(
    s3_api: httpx.AsyncClient, headers: dict[str, str], s3_project: str, s3: Any
) -> None:
    content = b"%PDF-1.4 not really " + os.urandom(16)
    first = await upload(s3_api, headers, s3_project, "a/report.pdf", content)
    second = await upload(s3_api, headers, s3_project, "copy.pdf", content)
    key = hashlib.sha256(content).hexdigest()
    assert first["storage_key"] == second["storage_key"] == key
    assert first["mime_type"] == "application/pdf"  # detected from the streamed head
    # Listed by its own digest: the bucket is shared by the session's tests, and another
    # test's blob may share the two-hex-digit fan-out folder (1 in 256 per blob).
    assert keys(s3, f"blobs/{key[:2]}/{key}") == [f"uploads/blobs/{key[:2]}/{key}"]
    assert keys(s3, "staging/") == []


def _part_requests(caplog: pytest.LogCaptureFixture) -> int:
    """How many part uploads moto's access log shows."""
    return sum("partNumber=" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    ("size", "parts"),
    [
        pytest.param(SINGLE_PUT_MAX, 0, id="more than a part, not more than one PUT"),
        pytest.param(12 * MIB, 3, id="over the single-PUT size: 5 MiB parts"),
    ],
)
async def test_an_upload_goes_up_in_one_put_or_in_parts_by_its_size(
    s3_api: httpx.AsyncClient,
    headers: dict[str, str],
    s3_project: str,
    s3: Any,
    caplog: pytest.LogCaptureFixture,
    size: int,
    parts: int,
) -> None:
    content = os.urandom(size)
    file = await upload(s3_api, headers, s3_project, "big.bin", content)
    key = hashlib.sha256(content).hexdigest()
    assert file["storage_key"] == key and file["size_bytes"] == len(content)
    stored = s3.get_object(Bucket="docket-test", Key=f"uploads/blobs/{key[:2]}/{key}")
    assert stored["Body"].read() == content
    assert _part_requests(caplog) == parts
    assert keys(s3, "staging/") == [] and uploads_in_progress(s3) == []


async def test_an_upload_over_the_limit_is_413_and_leaves_nothing(
    s3_api: httpx.AsyncClient, headers: dict[str, str], s3_project: str, s3: Any
) -> None:
    response = await s3_api.post(
        f"/v1/projects/{s3_project}/files",
        files={"file": ("huge.bin", os.urandom(16 * MIB + 1024), "application/octet-stream")},
        headers=headers,
    )
    assert response.status_code == 413, response.text
    assert response.json()["detail"] == f"upload exceeds the limit of {16 * MIB} bytes"
    assert keys(s3, "staging/") == [] and uploads_in_progress(s3) == []


class BreakingSource(io.RawIOBase):
    """An upload whose bytes stop coming after `good` bytes (a client gone, a spool file
    unreadable): it notes the multipart uploads in progress at that moment, then raises."""

    def __init__(self, s3: Any, good: int) -> None:
        self.s3 = s3
        self.left = good
        self.in_progress_when_broken: list[str] | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            self.in_progress_when_broken = uploads_in_progress(self.s3)
            raise ConnectionAbortedError("the client went away")
        chunk = os.urandom(min(size, self.left))
        self.left -= len(chunk)
        return chunk


async def test_an_interrupted_upload_aborts_its_multipart_upload(
    s3_storage: S3Storage, s3: Any
) -> None:
    source = BreakingSource(s3, good=3 * PART)
    with pytest.raises(Exception, match="the client went away"):
        await s3_storage.store(source, 16 * MIB)  # type: ignore[arg-type]
    assert source.in_progress_when_broken  # parts were up: a real multipart upload...
    assert uploads_in_progress(s3) == []  # ...and it was aborted
    assert keys(s3, "staging/") == []


async def test_the_limit_cuts_a_multipart_upload_and_aborts_it(
    s3_storage: S3Storage, s3: Any
) -> None:
    with pytest.raises(UploadTooLarge):
        await s3_storage.store(io.BytesIO(os.urandom(12 * MIB)), 11 * MIB)
    assert uploads_in_progress(s3) == [] and keys(s3, "staging/") == []


async def test_an_upload_while_the_store_is_down_is_503_and_then_works(
    s3_api: httpx.AsyncClient, headers: dict[str, str], s3_project: str, store_up: Relay
) -> None:
    store_up.take_down()
    response = await s3_api.post(
        f"/v1/projects/{s3_project}/files",
        files={"file": ("down.txt", b"while down", "text/plain")},
        headers=headers,
    )
    assert response.status_code == 503, response.text
    assert response.json()["detail"].startswith("the file storage is unavailable: ")
    assert store_up.refused > 0
    store_up.bring_up()
    assert (await upload(s3_api, headers, s3_project, "up.txt", b"while up"))["size_bytes"] == 8
