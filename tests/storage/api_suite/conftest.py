"""The API suite's tests collected here run against the S3 backend: `api` is the app on
the S3 store with its worker (tests/storage/conftest.py), so every upload, download URL and
parse of theirs goes through moto."""

from collections.abc import AsyncIterator

import httpx
import pytest


@pytest.fixture(scope="session")
async def api(s3_api: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    yield s3_api
