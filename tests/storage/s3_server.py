"""A real S3-protocol server for the tests: moto's stand-alone server (PyPI `moto[server]`,
a Werkzeug app speaking the S3 REST API, objects in memory), on loopback, reached through a
TCP relay the test can take down (every connection then reset at once) and bring back up,
so an outage is seen by the client exactly as a store that stopped answering.

What moto does not emulate (so these tests do not prove it): pre-signed URL expiry (an
expired URL is still served: the tests check the expiry the URL carries instead),
S3's consistency and throttling (503 SlowDown), server-side encryption and bucket policies,
and lifecycle rules (AbortIncompleteMultipartUpload).
"""

import asyncio
import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from moto.server import ThreadedMotoServer

from core.storage_s3 import LOCAL_COPY_PREFIX

log = logging.getLogger(__name__)

BUCKET = "docket-test"
PREFIX = "uploads"
RELAY_CHUNK = 64 * 1024
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "docket-test",
    "AWS_SECRET_ACCESS_KEY": "docket-test-secret",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's server on a free loopback port; yields its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(RELAY_CHUNK):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(ConnectionError, OSError):
        writer.close()


@dataclass
class Relay:
    """127.0.0.1:<port> → the target; `down` resets every connection (new and open)."""

    target_host: str
    target_port: int
    up: bool = True
    refused: int = 0  # connections reset while down
    server: asyncio.Server | None = None
    open: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def endpoint(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    def take_down(self) -> None:
        self.up = False
        for writer in list(self.open):
            writer.transport.abort()

    def bring_up(self) -> None:
        self.up = True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            self.refused += 1
            writer.transport.abort()
            return
        self.open.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self.open.discard(writer)

    async def close(self) -> None:
        assert self.server is not None
        self.take_down()
        self.server.close()
        await self.server.wait_closed()


def keys(s3: Any, under: str) -> list[str]:
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/{under}")
    return [item["Key"] for item in listing.get("Contents", [])]


def uploads_in_progress(s3: Any) -> list[str]:
    return [item["Key"] for item in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])]


def local_copies() -> set[str]:
    """The S3 backend's temporary local copies left in the temp dir."""
    root = tempfile.gettempdir()
    return {name for name in os.listdir(root) if name.startswith(LOCAL_COPY_PREFIX)}
