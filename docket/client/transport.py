"""The two transports: each runs a plan's primitive operations over its httpx client
(blocking or async); everything else is in the plans (calls.py)."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

import httpx
from httpx_sse import EventSource, ServerSentEvent
from pydantic import BaseModel

from docket.client.calls import (
    Call,
    NextEvent,
    Op,
    OpenStream,
    Paged,
    Plan,
    Runner,
    Send,
    Sleep,
    perform,
)
from docket.client.config import ClientConfig

T = TypeVar("T")
Item = TypeVar("Item", bound=BaseModel)

SSE = "text/event-stream"


def stream_args(op: OpenStream, timeout: httpx.Timeout) -> dict[str, Any]:
    headers = {"Accept": SSE, "Cache-Control": "no-cache"}
    if op.last_event_id is not None:
        headers["Last-Event-ID"] = op.last_event_id
    # The read timeout bounds the wait for the next event (keep-alives arrive every 15 s).
    bounded = httpx.Timeout(
        connect=timeout.connect, read=op.idle_timeout, write=timeout.write, pool=timeout.pool
    )
    return {"headers": headers, "timeout": bounded}


class Transport:
    """What both transports share: the configuration and how a Call becomes a request."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config

    def client_args(self) -> dict[str, Any]:
        return {
            "base_url": self.config.base_url,
            "headers": self.config.headers(),
            "timeout": self.config.timeout,
        }

    @staticmethod
    def request(http: httpx.Client | httpx.AsyncClient, call: Call[Any]) -> httpx.Request:
        return http.build_request(
            call.method,
            call.path,
            params=call.params,
            json=call.json,
            files=call.files,
            headers=call.headers,
        )


class SyncTransport(Transport):
    def __init__(self, config: ClientConfig, http: httpx.Client | None = None) -> None:
        super().__init__(config)
        self.http = http or httpx.Client(**self.client_args())
        self._stream = contextlib.ExitStack()
        self._events: Iterator[ServerSentEvent] = iter(())

    def close(self) -> None:
        self._stream.close()
        self.http.close()

    def run(self, plan: Plan[T]) -> T:
        runner = Runner(plan)
        try:
            while (op := runner.next_op()) is not None:
                try:
                    runner.value = self._do(op)
                except httpx.TransportError as err:
                    runner.error = err
        finally:
            self._stream.close()
        return runner.result()

    def perform(self, call: Call[T]) -> T:
        return self.run(perform(call))

    def iterate(self, paged: Paged[Item]) -> Iterator[Item]:
        call: Call[Any] | None = paged.first
        while call is not None:
            page = self.perform(call)
            yield from page.items
            call = paged.after(page)

    def _do(self, op: Op) -> Any:
        if isinstance(op, Send):
            return self.http.send(self.request(self.http, op.call))
        if isinstance(op, Sleep):
            time.sleep(op.seconds)
            return None
        if isinstance(op, OpenStream):
            self._stream.close()
            args = stream_args(op, self.http.timeout)
            response = self._stream.enter_context(self.http.stream("GET", op.path, **args))
            if response.is_success:
                self._events = EventSource(response).iter_sse()
            else:
                response.read()
            return response
        assert isinstance(op, NextEvent)
        return next(self._events, None)


class AsyncTransport(Transport):
    def __init__(self, config: ClientConfig, http: httpx.AsyncClient | None = None) -> None:
        super().__init__(config)
        self.http = http or httpx.AsyncClient(**self.client_args())
        self._stream = contextlib.AsyncExitStack()
        self._events: AsyncIterator[ServerSentEvent] | None = None

    async def close(self) -> None:
        await self._stream.aclose()
        await self.http.aclose()

    async def run(self, plan: Plan[T]) -> T:
        runner = Runner(plan)
        try:
            while (op := runner.next_op()) is not None:
                try:
                    runner.value = await self._do(op)
                except httpx.TransportError as err:
                    runner.error = err
        finally:
            await self._stream.aclose()
        return runner.result()

    async def perform(self, call: Call[T]) -> T:
        return await self.run(perform(call))

    async def iterate(self, paged: Paged[Item]) -> AsyncIterator[Item]:
        call: Call[Any] | None = paged.first
        while call is not None:
            page = await self.perform(call)
            for item in page.items:
                yield item
            call = paged.after(page)

    async def _do(self, op: Op) -> Any:
        if isinstance(op, Send):
            return await self.http.send(self.request(self.http, op.call))
        if isinstance(op, Sleep):
            await asyncio.sleep(op.seconds)
            return None
        if isinstance(op, OpenStream):
            await self._stream.aclose()
            args = stream_args(op, self.http.timeout)
            response = await self._stream.enter_async_context(
                self.http.stream("GET", op.path, **args)
            )
            if response.is_success:
                self._events = EventSource(response).aiter_sse()
            else:
                await response.aread()
            return response
        assert isinstance(op, NextEvent) and self._events is not None
        return await anext(self._events, None)
