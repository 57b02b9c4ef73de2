"""Typed application state (owned by the lifespan) and the `Annotated` dependencies that
hand its parts to the routers."""

from dataclasses import dataclass, field
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from temporalio.client import Client

from core.settings import Settings
from core.storage import Storage
from db.events import EventHub
from workflows.registry import Registry, default_registry


@dataclass
class AppState:
    settings: Settings
    pool: asyncpg.Pool
    temporal: Client
    storage: Storage
    # The job kernel's operations: what create, cancel and the reconciler can run.
    registry: Registry = field(default_factory=default_registry)


# The getters are async on purpose: FastAPI runs plain `def` dependencies in a thread
# pool, a hop per dependency per request that showed up in profiles of cheap requests. Each
# reads the request itself rather than depending on a shared state getter: FastAPI's
# dependency solving costs tens of microseconds per node, paid on every request.
def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.docket
    return state


async def get_pool(request: Request) -> asyncpg.Pool:
    return state_of(request).pool


async def get_temporal(request: Request) -> Client:
    return state_of(request).temporal


async def get_settings(request: Request) -> Settings:
    return state_of(request).settings


async def get_storage(request: Request) -> Storage:
    return state_of(request).storage


async def get_registry(request: Request) -> Registry:
    return state_of(request).registry


PoolDep = Annotated[asyncpg.Pool, Depends(get_pool)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
StorageDep = Annotated[Storage, Depends(get_storage)]
RegistryDep = Annotated[Registry, Depends(get_registry)]


async def get_events(request: Request) -> EventHub | None:
    """The process's event hub (the lifespan starts it, see api/app.py); None in an app
    served without its lifespan (an in-process test transport)."""
    hub: EventHub | None = getattr(request.app.state, "events", None)
    return hub


EventsDep = Annotated[EventHub | None, Depends(get_events)]
