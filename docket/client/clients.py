"""`Docket` (blocking) and `AsyncDocket`: the same resources over two transports."""

from types import TracebackType
from typing import Generic, Self

import httpx

from docket.client.binding import Mode
from docket.client.config import DEFAULT_TIMEOUT_SECONDS, ClientConfig
from docket.client.resources import Files, Jobs, Parse, Projects, Results, VectorStores
from docket.client.transport import AsyncTransport, SyncTransport


class _Client(Generic[Mode]):
    """Arguments left out come from DOCKET_API_URL, DOCKET_API_KEY and DOCKET_ACCOUNT_ID,
    else from the dev stack's credentials.json. `http` replaces the httpx client."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        account_id: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        http: httpx.Client | httpx.AsyncClient | None = None,
    ) -> None:
        config = ClientConfig.resolve(base_url, api_key, account_id, timeout)
        transport = self._connect(config, http)
        self.transport: Mode = transport
        self.config = config
        self.projects: Projects[Mode] = Projects(transport)
        self.files: Files[Mode] = Files(transport)
        self.parse: Parse[Mode] = Parse(transport)
        self.results: Results[Mode] = Results(transport)
        self.jobs: Jobs[Mode] = Jobs(transport)
        self.vector_stores: VectorStores[Mode] = VectorStores(transport)

    def _connect(self, config: ClientConfig, http: httpx.Client | httpx.AsyncClient | None) -> Mode:
        raise NotImplementedError


class Docket(_Client[SyncTransport]):
    """Blocking client: `with Docket() as docket: docket.jobs.get(project_id, job_id)`."""

    def _connect(
        self, config: ClientConfig, http: httpx.Client | httpx.AsyncClient | None
    ) -> SyncTransport:
        assert http is None or isinstance(http, httpx.Client)
        return SyncTransport(config, http)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncDocket(_Client[AsyncTransport]):
    """The same resources as `Docket`, awaited (`async for` over the list methods)."""

    def _connect(
        self, config: ClientConfig, http: httpx.Client | httpx.AsyncClient | None
    ) -> AsyncTransport:
        assert http is None or isinstance(http, httpx.AsyncClient)
        return AsyncTransport(config, http)

    async def close(self) -> None:
        await self.transport.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
