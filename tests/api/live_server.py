"""The API app served over real HTTP (uvicorn, in the test's event loop), for what an
in-process ASGI transport cannot show: streamed responses, a lifespan that owns the event
listener. And a small SSE reader for the tests."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from api.app import create_app
from api.deps import AppState
from db.events import EventHub
from docket.embedded import find_free_port
from tests.helpers import eventually

HOST = "127.0.0.1"


@dataclass
class Live:
    url: str
    hub: EventHub


@contextlib.asynccontextmanager
async def serve(app: Any, lifespan: str = "on") -> AsyncIterator[str]:
    """`app` on a free local port until the block ends; its base URL."""
    port = find_free_port(0, HOST)
    server = uvicorn.Server(
        # No log_config/log_level: uvicorn would set its loggers' levels and cut them off
        # the root for the rest of the session (tests/deploy/test_logs.py checks them).
        uvicorn.Config(app, host=HOST, port=port, lifespan=lifespan, log_config=None)
    )
    serving = asyncio.create_task(server.serve())
    await eventually(lambda: asyncio.sleep(0, server.started or serving.done()), bool)
    if serving.done():
        serving.result()  # it failed to start: say why
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        await serving


@contextlib.asynccontextmanager
async def live_api(state: AppState) -> AsyncIterator[Live]:
    app = create_app(state.settings, state)
    async with serve(app) as url:
        hub: EventHub = app.state.events
        await asyncio.wait_for(hub.listener.connected.wait(), timeout=30)
        yield Live(url, hub)


Answer = int | None  # a status code; None holds the request until `release` is set


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A webhook receiver (an ASGI app): records every request and answers each with the
    next code of `script` (then `default`); a 3xx points elsewhere, which must not be
    followed."""

    def __init__(self, script: list[Answer] | None = None, default: int = 200) -> None:
        self.script, self.default = list(script or []), default
        self.received: list[Received] = []
        self.release = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.received.append(Received(scope["path"], headers, body))
        code = self.script.pop(0) if self.script else self.default
        if code is None:
            await self.release.wait()
            code = self.default
        extra = [(b"location", b"/elsewhere")] if 300 <= code < 400 else []
        await send({"type": "http.response.start", "status": code, "headers": extra})
        await send({"type": "http.response.body", "body": b"ok"})


@dataclass(frozen=True)
class Event:
    id: int
    event: str
    data: Any


class SSEReader:
    """Reads messages (and keep-alive comments) from an open event stream."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()
        self.comments: list[str] = []

    async def next(self, within: float = 30.0) -> Event | None:
        """The next message, or None when the server closed the stream."""
        fields: dict[str, str] = {}
        while True:
            try:
                line = await asyncio.wait_for(anext(self.lines), within)
            except StopAsyncIteration:
                return None
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
            elif line:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
            elif fields:
                return Event(int(fields["id"]), fields["event"], json.loads(fields["data"]))

    async def until_end(self, within: float = 30.0) -> list[Event]:
        events = []
        while (event := await self.next(within)) is not None:
            events.append(event)
        return events
