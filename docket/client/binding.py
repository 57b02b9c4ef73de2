"""Resources are written once: a method builds a Call (or a Plan, or a Paged list) and
these descriptors bind it to the transport of the client it is read from, so
`Docket().jobs.get(...)` returns a JobEntity and `AsyncDocket().jobs.get(...)` an
awaitable of one, both typed for mypy."""

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from pydantic import BaseModel

from docket.client.calls import Call, Paged, Plan
from docket.client.transport import AsyncTransport, SyncTransport

P = ParamSpec("P")
T = TypeVar("T")
Item = TypeVar("Item", bound=BaseModel)
Mode = TypeVar("Mode", SyncTransport, AsyncTransport)


class Resource(Generic[Mode]):
    def __init__(self, transport: Mode) -> None:
        self._transport: Mode = transport


SyncResource = Resource[SyncTransport]
AsyncResource = Resource[AsyncTransport]


class _Method:
    """Binds a resource method to the transport of the client it is read from."""

    def __init__(self, build: Callable[..., Any]) -> None:
        self.build = build
        self.__doc__ = build.__doc__

    def __get__(self, obj: Resource[Any] | None, owner: type[Any]) -> Any:
        if obj is None:
            return self
        transport = obj._transport

        def bound(*args: Any, **kwargs: Any) -> Any:
            return self.send(transport, self.build(obj, *args, **kwargs))

        return bound

    @staticmethod
    def send(transport: SyncTransport | AsyncTransport, built: Any) -> Any:
        raise NotImplementedError


class endpoint(_Method, Generic[P, T]):
    """A method that builds one Call (sent with retries per its idempotence) or a Plan."""

    def __init__(self, build: Callable[Concatenate[Any, P], Call[T] | Plan[T]]) -> None:
        super().__init__(build)

    if TYPE_CHECKING:

        @overload
        def __get__(self, obj: None, owner: type[Any]) -> "endpoint[P, T]": ...
        @overload
        def __get__(self, obj: SyncResource, owner: type[Any]) -> Callable[P, T]: ...
        @overload
        def __get__(self, obj: AsyncResource, owner: type[Any]) -> Callable[P, Awaitable[T]]: ...
        def __get__(self, obj: Any, owner: type[Any]) -> Any: ...  # _Method's, at run time

    @staticmethod
    def send(transport: SyncTransport | AsyncTransport, built: Any) -> Any:
        return transport.perform(built) if isinstance(built, Call) else transport.run(built)


class listing(_Method, Generic[P, Item]):
    """A list method: every item of every page, fetched page by page as it is iterated."""

    def __init__(self, build: Callable[Concatenate[Any, P], Paged[Item]]) -> None:
        super().__init__(build)

    if TYPE_CHECKING:

        @overload
        def __get__(self, obj: None, owner: type[Any]) -> "listing[P, Item]": ...
        @overload
        def __get__(self, obj: SyncResource, owner: type[Any]) -> Callable[P, Iterator[Item]]: ...
        @overload
        def __get__(
            self, obj: AsyncResource, owner: type[Any]
        ) -> Callable[P, AsyncIterator[Item]]: ...
        def __get__(self, obj: Any, owner: type[Any]) -> Any: ...  # _Method's, at run time

    @staticmethod
    def send(transport: SyncTransport | AsyncTransport, built: Any) -> Any:
        return transport.iterate(built)
