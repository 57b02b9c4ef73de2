"""File storage faults get answers of their own, never "database unavailable": a full disk
during an upload is a 507 that stores nothing; a blob gone from storage is a 404."""

import errno
import os
import types
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

import core.storage
from core.settings import Settings
from core.storage import FileStorage
from tests.helpers import upload

CONTENT = b"x" * (3 * core.storage.COPY_CHUNK)  # several chunks: the disk fills mid-file


class FillingFile:
    """A staging file on a disk that fills up: the first chunk is written for real, then
    every write fails with `error` (as a write(2) on a full file system does)."""

    def __init__(self, real: Any, error: int) -> None:
        self.real = real
        self.error = error
        self.written = 0

    def write(self, data: bytes) -> int:
        if self.written:
            raise OSError(self.error, os.strerror(self.error))
        self.written += self.real.write(data)
        self.real.flush()
        return self.written

    def __enter__(self) -> "FillingFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.real.close()


def fill_disk(monkeypatch: pytest.MonkeyPatch, error: int) -> list[FillingFile]:
    """Swap the storage module's `os` for one whose fdopen hands out FillingFiles (the
    real `os` module, used by every other thread, is untouched)."""
    opened: list[FillingFile] = []

    def fdopen(fd: int, mode: str) -> FillingFile:
        opened.append(FillingFile(os.fdopen(fd, mode), error))
        return opened[-1]

    fake = types.SimpleNamespace(**{name: getattr(os, name) for name in dir(os)})
    fake.fdopen = fdopen
    monkeypatch.setattr(core.storage, "os", fake)
    return opened


def tree(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


async def upload_big(api: httpx.AsyncClient, headers: dict[str, str], project: str) -> Any:
    return await api.post(
        f"/v1/projects/{project}/files",
        files={"file": ("big.bin", CONTENT + uuid.uuid4().bytes, "application/octet-stream")},
        headers=headers,
    )


async def test_a_full_disk_on_upload_is_507_and_leaves_nothing(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = tree(settings.storage_dir)
    opened = fill_disk(monkeypatch, errno.ENOSPC)
    response = await upload_big(api, headers, project)
    assert response.status_code == 507, response.text
    assert response.json()["detail"] == (
        "the file storage has no space left (No space left on device); nothing was stored"
    )
    assert len(opened) == 1 and opened[0].written == core.storage.COPY_CHUNK  # half-written
    assert tree(settings.storage_dir) == before  # the partial staging file is gone
    assert await pool.fetchval("SELECT count(*) FROM files WHERE project_id = $1", project) == 0
    monkeypatch.undo()
    assert (await upload_big(api, headers, project)).status_code == 200  # space is back


async def test_another_io_error_on_upload_is_not_a_database_outage(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = tree(settings.storage_dir)
    fill_disk(monkeypatch, errno.EIO)
    response = await upload_big(api, headers, project)
    assert response.status_code == 503, response.text
    assert "database" not in response.text
    assert response.json() == {
        "detail": "an I/O operation of the service failed (Input/output error); retry shortly"
    }
    assert tree(settings.storage_dir) == before


async def test_signed_download_of_a_file_whose_blob_is_gone_is_404(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, settings: Settings
) -> None:
    content = f"unique {uuid.uuid4()}".encode()  # a blob no other file shares
    file = await upload(api, headers, project, "gone.txt", content, "text/plain")
    link = await api.get(f"/v1/projects/{project}/files/{file['id']}/download-url", headers=headers)
    url = link.json()["url"]
    assert (await api.get(url)).content == content
    key = file["storage_key"]
    FileStorage(settings.storage_dir).path_of(key).unlink()
    response = await api.get(url)
    assert response.status_code == 404
    assert response.json() == {
        "detail": f"the content of file {file['id']} is missing from storage"
    }
