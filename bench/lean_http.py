"""A minimal HTTP/1.1 keep-alive client for the timed requests of latency benchmarks.

httpx costs about 1.2 ms of client-side Python per request on the 2-core bench machine, as
much as the API's own work for a cheap read, so timing requests with it would charge the
client's cost to Docket. This client writes the request bytes and reads the response by
Content-Length (which Docket's responses always carry) over one connection, and nothing
more: it is for measuring, not a general client.
"""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode, urlsplit


class LeanHttp:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        head: str,
        address: tuple[str, int],
    ):
        self.reader, self.writer, self.head, self.address = reader, writer, head, address

    async def _reconnect_if_closed(self) -> None:
        """uvicorn closes a keep-alive connection idle for 5 s (e.g. while a benchmark loads
        data or times its baseline): open a new one rather than fail on it."""
        if self.reader.at_eof():
            self.writer.close()
            self.reader, self.writer = await asyncio.open_connection(*self.address)

    async def request(
        self, method: str, path: str, params: dict[str, str] | None = None, body: Any = None
    ) -> tuple[int, bytes]:
        """(status, body). `body` is sent as JSON."""
        target = f"{path}?{urlencode(params)}" if params else path
        payload = b"" if body is None else json.dumps(body).encode()
        extra = "content-type: application/json\r\n" if body is not None else ""
        await self._reconnect_if_closed()
        self.writer.write(
            f"{method} {target} HTTP/1.1\r\n{self.head}{extra}"
            f"content-length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines if ": " in line)
        content = await self.reader.readexactly(int(headers["content-length"]))
        return int(status_line.split()[1]), content

    async def ok(
        self, method: str, path: str, params: dict[str, str] | None = None, body: Any = None
    ) -> bytes:
        """The body of a successful answer, undecoded: what timed probes call, so that the
        client's JSON decoding (~0.2 ms for a page of 50 jobs) is not charged to Docket —
        the raw SQL baselines do not decode the JSON Postgres renders either."""
        status, content = await self.request(method, path, params, body)
        if status >= 400:
            raise RuntimeError(f"{method} {path}: {status} {content[:200]!r}")
        return content

    async def json(
        self, method: str, path: str, params: dict[str, str] | None = None, body: Any = None
    ) -> Any:
        return json.loads(await self.ok(method, path, params, body))


@contextlib.asynccontextmanager
async def lean_http(base_url: str, credentials: dict[str, str]) -> AsyncIterator[LeanHttp]:
    url = urlsplit(base_url)
    assert url.hostname is not None and url.port is not None
    address = (url.hostname, url.port)
    reader, writer = await asyncio.open_connection(*address)
    head = (
        f"host: {url.netloc}\r\nx-api-key: {credentials['api_key']}\r\n"
        f"x-selected-account-id: {credentials['account_id']}\r\n"
    )
    http = LeanHttp(reader, writer, head, address)
    try:
        yield http
    finally:
        http.writer.close()
        with contextlib.suppress(ConnectionError):
            await http.writer.wait_closed()


class LeanPool:
    """Lean connections for concurrent callers: each call borrows one for its request."""

    def __init__(self, connections: list[LeanHttp]) -> None:
        self.idle: asyncio.Queue[LeanHttp] = asyncio.Queue()
        for connection in connections:
            self.idle.put_nowait(connection)

    async def json(self, method: str, path: str, body: Any = None) -> Any:
        connection = await self.idle.get()
        try:
            return await connection.json(method, path, body=body)
        finally:
            self.idle.put_nowait(connection)


@contextlib.asynccontextmanager
async def lean_pool(
    base_url: str, credentials: dict[str, str], size: int
) -> AsyncIterator[LeanPool]:
    async with contextlib.AsyncExitStack() as stack:
        connections = [
            await stack.enter_async_context(lean_http(base_url, credentials)) for _ in range(size)
        ]
        yield LeanPool(connections)
