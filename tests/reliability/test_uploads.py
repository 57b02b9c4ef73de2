"""Uploads: clear 4xx for bad names and sizes, nothing written outside the storage root,
and nothing left behind by an upload that fails half-way."""

import io
from pathlib import Path

import asyncpg
import httpx
import pytest

from core.storage import FileStorage, UploadTooLarge
from tests.helpers import upload


def stray_files(root: Path) -> list[Path]:
    staging = root / "staging"
    return list(staging.iterdir()) if staging.exists() else []


def raw_multipart(filename: bytes) -> tuple[bytes, str]:
    """httpx escapes control characters in filenames; a hostile client need not."""
    boundary = "docketboundary"
    body = (
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\n'
        + b"Content-Type: text/plain\r\n\r\nx\r\n"
        + f"--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("name", [b"a\x00b.txt", b"bell\x07.txt", b"tab\there.txt"])
async def test_control_characters_in_names_are_422(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    name: bytes,
    pool: asyncpg.Pool,
) -> None:
    body, content_type = raw_multipart(name)
    response = await api.post(
        f"/v1/projects/{project}/files",
        content=body,
        headers={**headers, "content-type": content_type},
    )
    assert response.status_code == 422, response.text
    assert await pool.fetchval("SELECT count(*) FROM files WHERE project_id = $1", project) == 0


async def test_long_names_are_kept_up_to_the_limit(
    api: httpx.AsyncClient, headers: dict[str, str], project: str
) -> None:
    long_name = "d/" * 200 + "x" * 600 + ".txt"  # 1,004 characters
    body = await upload(api, headers, project, long_name, b"x", "text/plain")
    assert body["filename"] == long_name
    too_long = "y" * 1100 + ".txt"
    response = await api.post(
        f"/v1/projects/{project}/files",
        files={"file": (too_long, b"x", "text/plain")},
        headers=headers,
    )
    assert response.status_code == 422


async def test_hostile_names_never_leave_the_storage_root(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    data_dir: Path,
    pool: asyncpg.Pool,
) -> None:
    root = data_dir / "files"
    for name in [
        "../../../../tmp/docket-escape.txt",
        "/etc/docket-escape.txt",
        "..\\..\\docket-escape.txt",
    ]:
        body = await upload(api, headers, project, name, b"escape attempt", "text/plain")
        assert ".." not in body["filename"] and not body["filename"].startswith("/")
        assert (root / "blobs" / body["storage_key"][:2] / body["storage_key"]).exists()
    escapes = [
        Path("/tmp/docket-escape.txt"),
        Path("/etc/docket-escape.txt"),
        data_dir / "docket-escape.txt",
    ]
    assert not any(path.exists() for path in escapes)


async def test_rejected_uploads_leave_nothing(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, data_dir: Path
) -> None:
    too_big = b"z" * (5 * 1024 * 1024)
    # No Content-Length: the early check cannot see the size, the storage cut-off must.
    response = await api.post(
        f"/v1/projects/{project}/files",
        files={"file": ("big.txt", io.BytesIO(too_big), "text/plain")},
        headers=headers,
    )
    assert response.status_code == 413
    assert stray_files(data_dir / "files") == []


class BrokenStream(io.RawIOBase):
    """A client that disconnects half-way through its upload."""

    def __init__(self) -> None:
        self.sent = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.sent >= 3:
            raise ConnectionResetError("client went away")
        self.sent += 1
        return b"partial" * 1000


def test_interrupted_copy_leaves_nothing(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path)
    with pytest.raises(ConnectionResetError):
        storage.save(BrokenStream(), max_bytes=10**9)  # type: ignore[arg-type]
    with pytest.raises(UploadTooLarge):
        storage.save(io.BytesIO(b"x" * 100), max_bytes=10)
    assert stray_files(tmp_path) == []
    assert not (tmp_path / "blobs").exists()
